"""Cohort scoring: every patient of a source ends as a scored row, a not-applicable row or an
error row, written atomically (a killed run leaves the previous output or none, never half).

The rows come from :func:`~riskcalc.report._assess.assess_histories`, the same core as a single
assessment, so cohort and single-patient numbers agree. Engines (in-process here, Dask in
:mod:`riskcalc.scale`) only decide where the chunks run.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc._output import new_temp_file, writing
from riskcalc.errors import ConfigError, InputError, Issue
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.report._assess import assess_histories
from riskcalc.report._model import ReportStatus, RiskReport

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from riskcalc.fhir import Source
    from riskcalc.model import RiskModel

#: Columns of the scores file, in order, with their Arrow types (Parquet output).
SCORE_TYPES: dict[str, str] = {
    "patient_id": "string",
    "status": "string",
    "probability": "float64",
    "interval_low": "float64",
    "interval_high": "float64",
    "horizon_months": "int64",
    "awakening_score": "float64",
    "hazard_multiplier": "float64",
    "n_infections": "int64",
    "not_applicable_reason": "string",
    "n_warnings": "int64",
    "as_of": "string",
    "model_id": "string",
    "model_version": "string",
    "riskcalc_version": "string",
}
SCORE_COLUMNS: tuple[str, ...] = tuple(SCORE_TYPES)
#: Columns of the errors file, in order (all text).
ERROR_COLUMNS: tuple[str, ...] = ("patient_id", "code", "message", "location", "resource_id")
ERROR_TYPES: dict[str, str] = dict.fromkeys(ERROR_COLUMNS, "string")
#: Key-value metadata of both Parquet files (a CSV has no place for it).
PARQUET_METADATA: dict[str, str] = {
    "riskcalc_version": __version__,
    "research_use": RESEARCH_USE_STATEMENT,
}
#: Input lines the reader skipped: on every history read from the export, but no patient's.
#: :func:`score_chunk` adds them to its error rows (no patient, this code), so that they travel
#: with the chunk whatever engine runs it; :func:`write_results` writes each once and counts
#: them apart from the patients that failed.
_SKIPPED_CODE = "ndjson.bad_line"
_MORE = re.compile(r"^(\d+) more ")

CHUNK_PATIENTS = 256

Row = dict[str, Any]


@dataclass(frozen=True)
class Reconciliation:
    """Every patient read is accounted for: ``read == scored + not_applicable + failed``.

    ``skipped_lines`` counts the input lines the reader could not read (``ndjson.bad_line``):
    they belong to no patient read, each is a row of the errors file, and any of them may have
    held a patient's record or part of one.
    """

    read: int
    scored: int
    not_applicable: int
    failed: int
    skipped_lines: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.scored + self.not_applicable + self.failed

    def __str__(self) -> str:
        text = (
            f"read {self.read} = scored {self.scored} + not applicable {self.not_applicable} "
            f"+ failed {self.failed}"
        )
        if self.skipped_lines:
            text += (
                f"; {self.skipped_lines} input line(s) could not be read and are lost "
                "(ndjson.bad_line, listed in the errors file)"
            )
        return text


def report_row(report: RiskReport) -> Row:
    """One scores-file row from a report."""
    risk, wake = report.risk, report.awakening
    return {
        "patient_id": report.patient_id,
        "status": report.status.value,
        "probability": risk.probability if risk else None,
        "interval_low": risk.interval_low if risk else None,
        "interval_high": risk.interval_high if risk else None,
        "horizon_months": risk.horizon_months if risk else None,
        "awakening_score": wake.score if wake else None,
        "hazard_multiplier": wake.hazard_multiplier if wake else None,
        "n_infections": len(wake.contributions) if wake else None,
        "not_applicable_reason": report.not_applicable_reason,
        "n_warnings": len(report.warnings),
        "as_of": report.as_of.isoformat(),
        "model_id": report.model.model_id,
        "model_version": report.model.version,
        "riskcalc_version": report.riskcalc_version,
    }


def failure_row(failure: ReadFailure) -> Row:
    return {name: getattr(failure, name) for name in ERROR_COLUMNS}


def skipped_line_rows(items: Sequence[PatientHistory | ReadFailure]) -> list[Row]:
    """One error row (no patient) per input line skipped by the reader, found on ``items``."""
    found: dict[tuple[str, str | None], Issue] = {}
    for item in items:
        for issue in item.warnings:
            if issue.code == _SKIPPED_CODE:
                found.setdefault((issue.message, issue.source), issue)
    return [
        {
            "patient_id": None,
            "code": issue.code,
            "message": issue.message,
            "location": issue.source,
            "resource_id": None,
        }
        for issue in found.values()
    ]


def _lines_of(row: Row) -> int:
    """Input lines an error row of :func:`skipped_line_rows` stands for: one, or the count of
    the reader's closing "N more 'ndjson.bad_line' issue(s) not listed"."""
    more = _MORE.match(row["message"]) if row["location"] is None else None
    return int(more.group(1)) if more else 1


def score_chunk(
    items: Sequence[PatientHistory | ReadFailure],
    *,
    as_of: dt.date,
    horizon_months: int | None,
    model: RiskModel,
) -> tuple[list[Row], list[Row]]:
    """Score rows and error rows for one chunk of read results (pure apart from the model).

    The error rows are one per failure, in order, then one per input line the reader skipped
    (:func:`skipped_line_rows`; every chunk of an export repeats them, :class:`SkippedLines`
    keeps each once).
    """
    histories = [h for h in items if isinstance(h, PatientHistory)]
    errors = [failure_row(f) for f in items if isinstance(f, ReadFailure)]
    reports = assess_histories(
        histories, as_of=as_of, horizon_months=horizon_months, model=model, detail=False
    )
    return [report_row(r) for r in reports], errors + skipped_line_rows(items)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _TableWriter:
    """Streams rows to a .csv or .parquet file (the format follows the suffix)."""

    def __init__(self, path: Path, types: dict[str, str], target: Path) -> None:
        self._pq: pq.ParquetWriter | None = None
        self._handle: IO[str] | None = None
        self._target = target  # what errors name: the temporary path means nothing to a user
        with writing(target):
            if path.suffix == ".parquet":
                import pyarrow as pa  # here: `import riskcalc` should not load pyarrow
                import pyarrow.parquet as pq

                self._table = pa.Table
                self._schema = pa.schema(
                    [(name, getattr(pa, kind)()) for name, kind in types.items()],
                    metadata=PARQUET_METADATA,
                )
                self._pq = pq.ParquetWriter(path, self._schema)
            else:
                self._handle = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115
                self._csv = csv.DictWriter(self._handle, fieldnames=list(types))
                self._csv.writeheader()

    def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        with writing(self._target):
            if self._pq is not None:
                self._pq.write_table(self._table.from_pylist(rows, schema=self._schema))
            else:
                self._csv.writerows(rows)

    def close(self) -> None:
        with writing(self._target):
            if self._pq is not None:
                self._pq.close()
            if self._handle is not None:
                self._handle.close()


def errors_path_for(out: Path) -> Path:
    """Where the errors file of a scores file goes: ``scores.csv`` → ``scores.errors.csv``."""
    return out.with_name(f"{out.stem}.errors{out.suffix}")


@contextmanager
def atomic_outputs(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """Temporary files beside ``paths``, renamed over them only if the block completes.

    The files get the mode a new file gets under the umask. Raises
    :class:`~riskcalc.errors.ConfigError` ``config.output_unwritable`` if a file cannot be
    created or renamed there.
    """
    temps: list[Path] = []
    try:
        for path in paths:
            with writing(path):
                path.parent.mkdir(parents=True, exist_ok=True)
                temps.append(new_temp_file(path))
        yield tuple(temps)
        for temp, path in zip(temps, paths, strict=True):
            with writing(path):
                os.replace(temp, path)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def check_output_path(out: Path) -> Path:
    if out.suffix not in {".csv", ".parquet"}:
        raise ConfigError(
            "config.invalid", f"the output must end in .csv or .parquet, got {out.name!r}"
        )
    return out


ChunkResults = Iterable[tuple[list[Row], list[Row]]]


class SkippedLines:
    """Sorts a run's error rows: the patients and files that failed, and the input lines the
    reader skipped (:func:`skipped_line_rows`, repeated by every chunk of the export), each of
    those kept once and counted in :attr:`lines`."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str | None]] = set()
        self.lines = 0

    def sort(self, error_rows: list[Row]) -> tuple[list[Row], list[Row]]:
        """(failures, skipped-line rows not seen before in the run) of ``error_rows``."""
        failures: list[Row] = []
        fresh: list[Row] = []
        for row in error_rows:
            if row["code"] != _SKIPPED_CODE or row["patient_id"] is not None:
                failures.append(row)
                continue
            key = (row["message"], row["location"])
            if key not in self._seen:
                self._seen.add(key)
                self.lines += _lines_of(row)
                fresh.append(row)
        return failures, fresh


def write_results(
    results: ChunkResults,
    out: Path,
    *,
    on_progress: Callable[[int], object] | None = None,
) -> Reconciliation:
    """Write chunks of (score rows, error rows) atomically to ``out`` and its errors file.

    The input lines the reader skipped (error rows of :func:`skipped_line_rows`, which every
    chunk of the export repeats) are written once each to the errors file, without a patient,
    and counted in :attr:`Reconciliation.skipped_lines`, not as failed patients.

    Raises
    ------
    InputError
        ``input.no_patient`` when the chunks hold no row at all (nothing is written).
    ConfigError
        ``config.invalid`` for a suffix other than .csv/.parquet; ``config.output_unwritable``
        when the files cannot be written there.
    """
    out = check_output_path(Path(out))
    errors_out = errors_path_for(out)
    scored = not_applicable = failed = 0
    skipped = SkippedLines()
    with atomic_outputs(out, errors_out) as (tmp_scores, tmp_errors), ExitStack() as files:
        scores = _TableWriter(tmp_scores, SCORE_TYPES, out)
        files.callback(scores.close)
        errors = _TableWriter(tmp_errors, ERROR_TYPES, errors_out)
        files.callback(errors.close)
        for rows, error_rows in results:
            failures, lines = skipped.sort(error_rows)
            scores.write(rows)
            errors.write(failures + lines)
            ok = sum(r["status"] == ReportStatus.OK.value for r in rows)
            scored += ok
            not_applicable += len(rows) - ok
            failed += len(failures)
            if on_progress is not None:
                on_progress(len(rows) + len(failures))
        if scored + not_applicable + failed == 0:
            raise InputError(
                "input.no_patient",
                f"the input holds no patient (no Patient resource, and nothing that failed to "
                f"read): {out} not written",
            )
    return Reconciliation(
        read=scored + not_applicable + failed,
        scored=scored,
        not_applicable=not_applicable,
        failed=failed,
        skipped_lines=skipped.lines,
    )


def score_cohort(
    source: Source,
    out: str | Path,
    *,
    as_of: dt.date,
    horizon_months: int | None = None,
    model: RiskModel | None = None,
    on_progress: Callable[[int], object] | None = None,
    whole_records: bool = False,
) -> Reconciliation:
    """Score every patient of ``source`` in-process, streaming in chunks of bounded size.

    Writes ``out`` (.csv or .parquet) with :data:`SCORE_COLUMNS` and, beside it,
    ``<name>.errors.<suffix>`` with :data:`ERROR_COLUMNS`, both atomically (a Parquet file also
    carries the riskcalc version and the research-use statement in its key-value metadata,
    ``riskcalc_version`` and ``research_use``). The
    errors file has a row per patient or file that could not be read, and one, without a
    patient, per input line skipped (``ndjson.bad_line``). ``whole_records``: read records
    split over a folder's JSON files whole (:func:`riskcalc.read_histories`).

    Raises
    ------
    InputError
        ``input.no_patient`` when the source holds no patient (nothing is written); as
        :func:`riskcalc.read_histories` for a single file that cannot be read.
    ConfigError
        As :func:`write_results`.
    """
    from riskcalc.fhir import read_histories
    from riskcalc.model import load_model

    loaded = model or load_model()
    results = (
        score_chunk(chunk, as_of=as_of, horizon_months=horizon_months, model=loaded)
        for chunk in chunked(read_histories(source, whole_records=whole_records), CHUNK_PATIENTS)
    )
    return write_results(results, Path(out), on_progress=on_progress)
