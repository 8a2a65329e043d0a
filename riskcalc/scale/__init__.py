"""Cohorts past one machine: the reader and the scorer on Dask (DESIGN.md §8, issue 9).

The per-patient functions are pure, so the Dask engine only decides where they run: NDJSON files
are read in byte ranges whose resources are hash-partitioned by patient id; each partition builds
and scores its patients; JSON (Bundle) files are read whole, a batch per task. The output is the
in-process engine's output row for row, bit for bit, in the same order (the reader's order:
files in sorted path order, patients sorted by id within a unit, the NDJSON pool last). See
``docs/researchers/dask.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskcalc.config import DEFAULT_LIMITS, Limits, as_date, checked_limits
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.scale._cluster import Scheduler, check_scheduler, dask_client
from riskcalc.scale._engine import Tuning, keep_results, plan_source, run_ordered

if TYPE_CHECKING:
    from riskcalc.fhir import Source
    from riskcalc.model import RiskModel
    from riskcalc.report import Reconciliation

__all__ = [
    "Scheduler",
    "Tuning",
    "check_scheduler",
    "dask_client",
    "histories_dask",
    "score_cohort_dask",
]

Row = dict[str, Any]


def _score_entries(
    results: list[PatientHistory | ReadFailure],
    *,
    as_of: dt.date,
    horizon_months: int | None,
    model: RiskModel,
) -> list[tuple[Row | None, list[Row]]]:
    """(score row or None, error rows) per read result, in input order: a history's score row,
    a failure's error row. The error rows that belong to no result (the input lines the reader
    skipped, :func:`riskcalc.report.score_chunk`) go with the first result of their chunk, so
    that there is one output per input and nothing is lost."""
    from riskcalc.report._score import CHUNK_PATIENTS, chunked, score_chunk

    out: list[tuple[Row | None, list[Row]]] = []
    for chunk in chunked(results, CHUNK_PATIENTS):
        rows, errors = score_chunk(chunk, as_of=as_of, horizon_months=horizon_months, model=model)
        row_iter, error_iter = iter(rows), iter(errors)
        start = len(out)
        for item in chunk:
            if isinstance(item, PatientHistory):
                out.append((next(row_iter), []))
            else:
                out.append((None, [next(error_iter)]))
        if chunk:
            out[start][1].extend(error_iter)  # the skipped lines, after the failures' rows
    return out


def _rechunk(
    units: Iterable[list[tuple[Row | None, list[Row]]]], size: int
) -> Iterator[tuple[list[Row], list[Row]]]:
    """The in-process engine's chunks: ``size`` read results each, whatever the unit bounds."""
    rows: list[Row] = []
    errors: list[Row] = []
    n = 0
    for unit in units:
        for row, item_errors in unit:
            if row is not None:
                rows.append(row)
            errors.extend(item_errors)
            n += 1
            if n == size:
                yield rows, errors
                rows, errors, n = [], [], 0
    if n:
        yield rows, errors


def score_cohort_dask(
    source: Source,
    out: str | Path,
    *,
    as_of: dt.date,
    horizon_months: int | None = None,
    model: RiskModel | None = None,
    scheduler: Scheduler = None,
    on_progress: Callable[[int], object] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    tuning: Tuning | None = None,
    whole_records: bool = False,
) -> Reconciliation:
    """Score every patient of a cohort on Dask; the same files as :func:`score_cohort`.

    Parameters
    ----------
    source
        A folder (Bulk Data NDJSON export, Bundles, or both) or one .json/.ndjson file; other
        sources (bytes, dicts) are read by the in-process engine, they fit in memory anyway.
    out
        The scores file, ``.csv`` or ``.parquet``; the errors file goes beside it
        (:func:`~riskcalc.report.errors_path_for`). Both are written atomically by this process.
    as_of
        Assessment date.
    horizon_months
        Prediction horizon, months (default: the model's default).
    model
        A loaded model (default: :func:`riskcalc.model.load_model`); shipped to every worker.
    scheduler
        A Dask scheduler address (``tcp://host:8786``), a ``distributed.Client``, or None for a
        LocalCluster with one single-threaded worker process per core.
    on_progress
        Called with the number of patients scored (or failed) as each part of the cohort comes
        back from the cluster: a batch of JSON files, a partition of the NDJSON export. The
        export's rows are written once every partition is back (they are merged by patient id),
        so a bar fed by it moves while the cluster works rather than at the end.
    limits
        The reader's limits.
    tuning
        Sizes of the work (:class:`Tuning`); the defaults suit workers of 2 GB or more.
    whole_records
        Read records split over a folder's JSON files whole, as
        ``read_histories(whole_records=True)`` does (the files are indexed on the workers first).

    Returns
    -------
    Reconciliation
        ``read = scored + not applicable + failed``, as the in-process engine counts it.

    Raises
    ------
    ConfigError
        ``config.invalid``, before any cluster is started: the output suffix is not
        .csv/.parquet; ``as_of``, ``horizon_months`` (one of the model's horizons), ``model``
        or ``limits`` are not what the scorer takes; ``scheduler`` is not an address.
    InputError
        ``input.not_found`` for a source that does not exist, before any cluster is started,
        or that a worker cannot read (every worker must see it at the same path); for a
        single-file source that cannot be read, what the in-process engine raises.
    RemoteError
        ``remote.scheduler_unreachable``: nothing answers at the scheduler's address.

    Notes
    -----
    A relative ``source`` is read by the workers at its absolute path (they run in their own
    working directory); warnings and error rows name it as given, as the in-process engine
    does. A source without any FHIR file is written without starting a cluster.
    """
    from riskcalc.report._score import (
        CHUNK_PATIENTS,
        check_output_path,
        score_chunk,
        score_cohort,
        write_results,
    )

    out = check_output_path(Path(out))
    if not isinstance(source, str | Path):
        return score_cohort(
            source,
            out,
            as_of=as_of,
            horizon_months=horizon_months,
            model=model,
            on_progress=on_progress,
            whole_records=whole_records,
        )
    if model is None:
        from riskcalc.model import load_model

        model = load_model()
    # the scorer's own checks of its arguments, on no patient: a wrong horizon is refused here,
    # not by the first partition task on a cluster started for nothing
    score_chunk([], as_of=as_of, horizon_months=horizon_months, model=model)
    limits = checked_limits(limits)
    tuning = tuning or Tuning()
    scheduler = check_scheduler(scheduler)
    planned = plan_source(source, tuning=tuning, limits=limits)
    if planned.empty:
        return write_results([], out)
    today = dt.date.today()
    with dask_client(scheduler) as client:
        units = run_ordered(
            client,
            planned,
            finish=_score_entries,
            finish_kwargs={"as_of": as_of, "horizon_months": horizon_months, "model": model},
            today=today,
            limits=limits,
            tuning=tuning,
            whole_records=whole_records,
            on_received=on_progress,
        )
        return write_results(_rechunk(units, CHUNK_PATIENTS), out)


def histories_dask(
    source: Source,
    *,
    scheduler: Scheduler = None,
    limits: Limits = DEFAULT_LIMITS,
    today: dt.date | None = None,
    tuning: Tuning | None = None,
    whole_records: bool = False,
) -> Iterator[PatientHistory | ReadFailure]:
    """Every patient's history (or failure), built on Dask, as :func:`read_histories` yields them.

    The same records in the same order as ``read_histories(source, whole_records=…)``; for
    ``riskcalc train --engine dask``. The reading is spread over the cluster; the histories come back to this
    process (a few kB each), partition by partition. Other sources than a path are read
    in-process. The arguments, and the source's existence, are checked at the first ``next()``
    before any cluster is started; a source without any FHIR file yields nothing without one.
    Raises what :func:`score_cohort_dask` raises, but for the scoring arguments.
    """
    from riskcalc.fhir import read_histories

    day = dt.date.today() if today is None else as_date(today, "today")
    if not isinstance(source, str | Path):
        yield from read_histories(source, limits=limits, today=day, whole_records=whole_records)
        return
    limits = checked_limits(limits)
    tuning = tuning or Tuning()
    scheduler = check_scheduler(scheduler)
    planned = plan_source(source, tuning=tuning, limits=limits)
    if planned.empty:
        return
    with dask_client(scheduler) as client:
        for unit in run_ordered(
            client,
            planned,
            finish=keep_results,
            finish_kwargs={},
            today=day,
            limits=limits,
            tuning=tuning,
            whole_records=whole_records,
        ):
            yield from unit
