"""The Dask graph: read ranges, shuffle by patient, build (and score) histories per partition.

Every task is a pure function of its inputs, so a task lost with its worker is simply run again
(Dask keeps the lineage of every future held here) and its result replaces, never adds to, the
lost one: patients are neither lost nor duplicated. The driver holds futures and small
summaries; it gathers results one unit at a time, in the reader's order, so the output is the
in-process engine's output, row for row.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import math
import operator
import os
import queue
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from riskcalc.config import DEFAULT_LIMITS, Limits
from riskcalc.errors import InputError
from riskcalc.fhir import PatientLedger
from riskcalc.fhir._partition import (
    CHUNK_BYTES,
    ChunkSummary,
    FileChunk,
    FolderPlan,
    Others,
    Piece,
    PoolContext,
    json_files_histories,
    others_in_partition,
    partition_chunk,
    partition_histories,
    plan_folder,
    pool_context,
    pool_histories,
    unit_issues,
)
from riskcalc.fhir._records import FileIndex, index_files, joined_files
from riskcalc.fhir._source import gc_paused
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.scale._paths import SourcePath

T = TypeVar("T")
P = ParamSpec("P")
Result = PatientHistory | ReadFailure
#: Applied on the workers to a unit's results, one output per input, in order.
Finish = Callable[..., list[Any]]

#: Raw NDJSON bytes aimed at per partition: its parsed resources take about 5-10 times this.
PARTITION_BYTES = 32 * 1024 * 1024
#: Bytes of JSON files read by one task (Bundles are read whole, one unit each).
JSON_BATCH_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Tuning:
    """Sizes of the work; the defaults keep a worker under about 1 GB (docs/researchers/dask.md).

    Attributes
    ----------
    chunk_bytes
        NDJSON bytes read by one stage-1 task, bytes.
    n_partitions
        Patient partitions; default ``max(2 × workers, NDJSON bytes / partition_bytes)``, rounded
        up to a multiple of the workers.
    partition_bytes
        NDJSON bytes aimed at per partition when ``n_partitions`` is not given, bytes.
    json_batch_bytes
        JSON (Bundle) file bytes read by one task, bytes.
    """

    chunk_bytes: int = CHUNK_BYTES
    n_partitions: int | None = None
    partition_bytes: int = PARTITION_BYTES
    json_batch_bytes: int = JSON_BATCH_BYTES


# --- task bodies (run on workers) ----------------------------------------------------------------


def _collector_paused(task: Callable[P, T]) -> Callable[P, T]:
    """Run a task body with the cyclic garbage collector paused (restored when it returns).

    A task builds a partition's whole parsed JSON and its histories, none of it cyclic; with the
    collector on, every growth of the heap by a quarter set off a full collection over all of
    it: one partition of 3,400 patients took 2.29 s to read with it and 1.25 s without, and the
    workers ran at half the in-process speed per patient (docs/performance.md). Reference
    counting still frees everything; a task's lifetime bounds what waits for the collector.
    """

    @functools.wraps(task)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with gc_paused():
            return task(*args, **kwargs)

    return run


def _to_driver(task: Callable[P, Any]) -> Callable[P, bytes]:
    """Return a task's result pickled whole, as one buffer, for the driver to :func:`_received`.

    Dask sends a list result element by element: gathering the score rows of 7,000 patients
    (a list of tuples) took 0.32-0.52 s, and the same rows pickled as one buffer 0.02-0.03 s,
    so the driver waited about 1 s for the 6 partitions' outputs of a 20,000-patient cohort
    after the last of them was done, both workers idle (docs/performance.md).
    """

    @functools.wraps(task)
    def run(*args: P.args, **kwargs: P.kwargs) -> bytes:
        from distributed.protocol import pickle

        blob: bytes = pickle.dumps(task(*args, **kwargs))  # type: ignore[no-untyped-call]
        return blob

    return run


def _received(blob: bytes) -> Any:
    """The result of a :func:`_to_driver` task, on the driver, the collector paused: with it on,
    unpickling the histories of 5,000 patients took 0.70 s, 0.17 s without."""
    from distributed.protocol import pickle

    with gc_paused():
        return pickle.loads(blob)  # type: ignore[no-untyped-call]


def _identity(value: T) -> T:
    return value


def _pick(value: Sequence[Any], index: int) -> Any:
    return value[index]


def _pieces_of(result: tuple[ChunkSummary, list[Piece]], index: int) -> Piece:
    return result[1][index]


def _summary_of(result: tuple[ChunkSummary, list[Piece]]) -> ChunkSummary:
    return result[0]


@_collector_paused
@_to_driver
def _json_task(
    units: Sequence[tuple[str, ...]],
    where: SourcePath,
    today: dt.date,
    limits: Limits,
    single: bool,
    finish: Finish,
    finish_kwargs: dict[str, Any],
) -> list[tuple[str | None, str, Any]]:
    labelled = json_files_histories(
        units, today=today, limits=limits, single=single, base=where.base
    )
    done = _finished([r for _, r in labelled], finish, finish_kwargs)
    return [(pid, label, d) for (label, _), (pid, d) in zip(labelled, done, strict=True)]


@_collector_paused
@_to_driver
def _index_task(paths: Sequence[str], where: SourcePath, limits: Limits) -> list[FileIndex]:
    return index_files(paths, limits, base=where.base)


@_collector_paused
def _read_task(
    chunk: FileChunk, where: SourcePath, n_partitions: int, limits: Limits
) -> tuple[ChunkSummary, list[Piece]]:
    return partition_chunk(chunk, n_partitions, limits=limits, base=where.base)


def _others_task(context: PoolContext, *pieces: Piece) -> Others:
    return others_in_partition(pieces, context)


@_collector_paused
@_to_driver
def _partition_task(
    context: PoolContext,
    issues: Sequence[Any],
    today: dt.date,
    limits: Limits,
    finish: Finish,
    finish_kwargs: dict[str, Any],
    *pieces: Piece,
) -> list[tuple[str, Any]]:
    results = partition_histories(pieces, context, issues, today=today, limits=limits)
    # a partition's patients all have ids: "" only types the merge key, never met
    return [(pid or "", d) for pid, d in _finished(results, finish, finish_kwargs)]


@_collector_paused
@_to_driver
def _pool_task(
    plan: FolderPlan,
    where: SourcePath,
    failed: Sequence[int],
    today: dt.date,
    limits: Limits,
    finish: Finish,
    finish_kwargs: dict[str, Any],
) -> list[tuple[str | None, Any]]:
    return _finished(
        pool_histories(plan, failed, today=today, limits=limits, base=where.base),
        finish,
        finish_kwargs,
    )


def _finished(
    results: list[Result], finish: Finish, finish_kwargs: dict[str, Any]
) -> list[tuple[str | None, Any]]:
    """``finish`` of the results, each output with its patient's id: what the driver's
    :class:`~riskcalc.fhir.PatientLedger` reads, and the partitions' merge key."""
    done = finish(results, **finish_kwargs)
    return [(r.patient_id, d) for r, d in zip(results, done, strict=True)]


def keep_results(results: list[Result]) -> list[Result]:
    """The finish step of :func:`histories_dask`: the histories themselves."""
    return results


# --- the driver ----------------------------------------------------------------------------------


def _json_batches(
    units: Sequence[tuple[str, ...]], batch_bytes: int
) -> list[list[tuple[str, ...]]]:
    """Units cut into batches of about ``batch_bytes`` of files each (a unit is never cut)."""
    import os

    batches: list[list[tuple[str, ...]]] = []
    size = batch_bytes
    for unit in units:
        n = sum(os.path.getsize(p) for p in unit)
        if size + n > batch_bytes and (not batches or batches[-1]):
            batches.append([])
            size = 0
        batches[-1].append(unit)
        size += n
    return batches


class _Run:
    """One run on one client: submits everything, then yields results in the reader's order."""

    def __init__(
        self,
        client: Any,
        plan: FolderPlan,
        *,
        path: SourcePath,
        today: dt.date,
        limits: Limits,
        tuning: Tuning,
        finish: Finish,
        finish_kwargs: dict[str, Any],
        whole_records: bool = False,
        on_received: Callable[[int], object] | None = None,
    ) -> None:
        self.client, self.plan, self.today, self.limits = client, plan, today, limits
        self.path = path
        self.whole_records = whole_records
        self.on_received = on_received
        self.tuning, self.finish, self.finish_kwargs = tuning, finish, finish_kwargs
        self.token = uuid.uuid4().hex[:8]
        self._failures: dict[int, ReadFailure] = dict(plan.failures)
        #: The workers, in a fixed order: partition j and a copy of the finish arguments live
        #: on worker j mod n (see _home).
        self.workers: list[str] = sorted(client.scheduler_info().get("workers", {}))
        self.finish_args: dict[str | None, Any] = {}
        workers = max(1, len(self.workers))
        wanted = max(2 * workers, math.ceil(plan.ndjson_bytes / tuning.partition_bytes))
        # a multiple of the workers, so the last round of partitions keeps every worker busy
        # (5 partitions on 2 workers: in the third round one of them has nothing to do)
        self.n_partitions = tuning.n_partitions or -(-wanted // workers) * workers

    def key(self, name: str) -> str:
        return f"riskcalc-{name}-{self.token}"

    def submit(
        self,
        name: str,
        func: Callable[..., Any],
        *args: Any,
        worker: str | None = None,
        priority: int = 0,
    ) -> Any:
        """Submit a task; ``worker``: run it there if it can (elsewhere if that worker is gone);
        a higher ``priority`` runs before the tasks already waiting."""
        placement = {} if worker is None else {"workers": [worker], "allow_other_workers": True}
        return self.client.submit(
            func, *args, key=self.key(name), pure=False, retries=0, priority=priority, **placement
        )

    def _submit_finish_args(self) -> dict[str | None, Any]:
        """The finish arguments (the model: 1.4 MB pickled, its compiled arrays) as one task per
        worker, ahead of the reads waiting, so that each worker holds its own copy before stage 2.

        With one copy, the first partition task of the other worker waited 0.7 s for it (its
        holder pickling it on its event loop, the other unpickling it), both workers idle. The
        arguments are pickled once, here, as Dask would (pickle, or cloudpickle for what pickle
        cannot take), and sent once, as one task's bytes; each worker's copy is a task that
        fetches those bytes (a plain buffer: nothing to pickle) and unpickles them in the task's
        thread (:func:`_received`), while the worker's event loop, which would unpickle a task's
        own arguments, serves transfers. Copies are tasks, not scattered data: a copy lost with
        its worker is made again from its task.
        """
        from distributed.protocol import pickle

        blob: bytes = pickle.dumps(self.finish_kwargs)  # type: ignore[no-untyped-call]
        pickled = self.submit("finish-args-pickled", _identity, blob, priority=1)
        workers: list[str | None] = [*self.workers] or [None]
        return {
            w: self.submit(f"finish-args-{i}", _received, pickled, worker=w, priority=1)
            for i, w in enumerate(workers)
        }

    def _finish_args_for(self, worker: str | None) -> Any:
        """The copy of the finish arguments on ``worker`` (any copy for None)."""
        future = self.finish_args.get(worker)
        return future if future is not None else next(iter(self.finish_args.values()))

    def _home(self, j: int) -> str | None:
        """The worker partition ``j``'s tasks (or JSON batch ``j``) are placed on: round robin.

        Every range holds a piece of every partition, so where its inputs are says little; left
        to itself the scheduler gave one of 2 workers 4 of 6 partitions (the other sat idle for
        the last 2 s of a 13 s run). Its "others" task and its history task share the worker, so
        the pieces move once.
        """
        return self.workers[j % len(self.workers)] if self.workers else None

    def results(self) -> Iterator[list[Any]]:
        """Outputs of ``finish`` unit by unit (a list per JSON batch, failure or the pool)."""
        # Stage 1 first: the finish arguments (the model, 3.6 MB pickled at the time) queued
        # ahead of it held the first reads back by 0.9 s, both workers idle.
        stage1 = self._submit_stage1() if self.plan.ndjson_files else None
        self.finish_args = self._submit_finish_args()
        if self.whole_records and not self.plan.single_file:
            self.plan = self.plan.joined(self._split_records())
        json_futures = self._submit_json()
        pool = self._pool_after(stage1) if stage1 is not None else None
        # one output per patient, as the reader's own ledger gives (see PatientLedger): the
        # workers cannot know what another batch read, so the driver keeps it, in order
        ledger = PatientLedger()
        for kind, value in self._segments():
            if kind == "json":
                batch = json_futures[value].result()
                json_futures[value].release()
                self._count(len(batch))
                yield [self._once(ledger, pid, path, done) for pid, path, done in batch]
            elif kind == "failure":
                self._count(1)
                yield self.finish([value], **self.finish_kwargs)
            elif pool is not None:
                for tagged in pool():
                    yield [
                        self._once(ledger, pid, self.plan.pool_label, done) for pid, done in tagged
                    ]

    def _count(self, n_results: int) -> None:
        """Report results back on this process (``on_received``)."""
        if self.on_received is not None:
            self.on_received(n_results)

    def _once(self, ledger: PatientLedger, patient_id: str | None, label: str, done: Any) -> Any:
        """``done``, or the output of the failure that replaces a patient read before."""
        failure = ledger.repeated(patient_id, label)
        return done if failure is None else self.finish([failure], **self.finish_kwargs)[0]

    def _segments(self) -> Iterator[tuple[str, Any]]:
        batch = 0
        failures = self._failures
        previous_json = False
        for kind, value in self.plan.order:
            if kind == "json":
                if not previous_json:
                    yield "json", batch
                    batch += 1
                previous_json = True
                continue
            previous_json = False
            if kind == "ndjson" and value in failures:
                failure = failures[value]
                if self.plan.single_file:
                    raise InputError(
                        failure.code,
                        failure.message,
                        location=failure.location,
                        resource_id=failure.resource_id,
                    )
                yield "failure", failure
            elif kind == "pool":
                yield "pool", None

    def _split_records(self) -> list[tuple[str, ...]]:
        """The sets of JSON files that hold parts of one record: the first pass of
        ``read_histories(whole_records=True)``, its files indexed on the workers (this waits
        for it)."""
        files = [(p,) for p in self.plan.json_files()]
        batches = _json_batches(files, self.tuning.json_batch_bytes)
        futures = [
            self.submit(
                f"index-{i}",
                _index_task,
                [p for (p,) in b],
                self.path,
                self.limits,
                worker=self._home(i),
            )
            for i, b in enumerate(batches)
        ]
        indexes: list[list[FileIndex]] = _as_received(futures)
        return joined_files([i for batch in indexes for i in batch])

    def _submit_json(self) -> list[Any]:
        # consecutive JSON units form runs between NDJSON files; each run is cut into batches
        runs: list[list[tuple[str, ...]]] = [[]]
        for kind, value in self.plan.order:
            if kind == "json":
                runs[-1].append(value)
            elif runs[-1]:
                runs.append([])
        futures: list[_Concat] = []
        n = 0
        for run in (r for r in runs if r):
            batches = _json_batches(run, self.tuning.json_batch_bytes)
            parts = []
            for i, b in enumerate(batches):
                home = self._home(n)  # beside that worker's copy of the finish arguments
                n += 1
                parts.append(
                    self.submit(
                        f"json-{len(futures)}-{i}",
                        _json_task,
                        b,
                        self.path,
                        self.today,
                        self.limits,
                        self.plan.single_file,
                        self.finish,
                        self._finish_args_for(home),
                        worker=home,
                    )
                )
            futures.append(_Concat(parts))
        return futures  # indexed by run, matching _segments

    def _submit_stage1(self) -> tuple[list[Any], list[list[Any]]]:
        """Stage 1 (it must finish before anything of the pool can): summaries and pieces."""
        p = self.n_partitions
        stage1 = [
            self.submit(f"read-{c.chunk_id}", _read_task, c, self.path, p, self.limits)
            for c in self.plan.chunks
        ]
        summaries = [self.submit(f"summary-{i}", _summary_of, f) for i, f in enumerate(stage1)]
        pieces = [
            [self.submit(f"piece-{i}-{j}", _pieces_of, f, j) for j in range(p)]
            for i, f in enumerate(stage1)
        ]
        return summaries, pieces

    def _pool_after(
        self, stage1: tuple[list[Any], list[list[Any]]]
    ) -> Callable[[], Iterator[list[tuple[str | None, Any]]]]:
        """The pool context once stage 1 is done (this waits for it), stage 2 lazily."""
        summaries, pieces = stage1
        context = pool_context(self.plan, self.client.gather(summaries))
        self._failures = context.failures
        del summaries, stage1  # the pieces keep their lineage; the summaries are not needed
        return lambda: self._pool(context, pieces)

    def _pool(
        self, context: PoolContext, pieces: list[list[Any]]
    ) -> Iterator[list[tuple[str | None, Any]]]:
        """The pool's outputs, each with its patient id, in the reader's order."""
        if context.exceptional is not None or context.n_patients == 0:
            fut = self.submit(
                "pool-whole",
                _pool_task,
                self.plan,
                self.path,
                sorted(context.failures),
                self.today,
                self.limits,
                self.finish,
                self._finish_args_for(None),
            )
            yield _as_received([fut], on_each=lambda whole: self._count(len(whole)))[0]
            return
        p = self.n_partitions
        context_f = self.submit("context", _identity, context)
        columns = [[row[j] for row in pieces] for j in range(p)]
        homes = [self._home(j) for j in range(p)]
        others_f = [
            self.submit(f"others-{j}", _others_task, context_f, *columns[j], worker=homes[j])
            for j in range(p)
        ]
        others = sum(self.client.gather(others_f), Others())
        issues_f = self.submit("issues", _identity, unit_issues(context, others))
        parts = [
            self.submit(
                f"partition-{j}",
                _partition_task,
                context_f,
                issues_f,
                self.today,
                self.limits,
                self.finish,
                self._finish_args_for(homes[j]),
                *columns[j],
                worker=homes[j],
            )
            for j in range(p)
        ]
        del pieces, columns
        done = _as_received(parts, on_each=lambda part: self._count(len(part)))
        yield list(heapq.merge(*done, key=operator.itemgetter(0)))


def _as_received(futures: list[Any], on_each: Callable[[Any], object] | None = None) -> list[Any]:
    """The results of :func:`_to_driver` tasks, in the order of ``futures``, each fetched and
    unpickled as soon as it is done, while the others run; ``on_each`` is called with each
    result in the order they are done.

    Unpickling the histories of a 20,000-patient cohort took the driver 1.5-2.7 s, all of it
    after the last partition when the results were gathered together. Taken in the order of
    ``futures`` instead, they waited on the slowest first: a worker ran its partitions 3, 5
    then 1, and the driver, waiting for 1, took all but one at the end.
    """
    done: queue.SimpleQueue[int] = queue.SimpleQueue()
    for j, future in enumerate(futures):
        future.add_done_callback(lambda _, j=j: done.put(j))
    results: list[Any] = [None] * len(futures)
    for _ in futures:
        j = done.get()
        results[j] = _received(futures[j].result())
        futures[j].release()
        if on_each is not None:
            on_each(results[j])
    return results


class _Concat:
    """Several :func:`_to_driver` futures read as one list, in order."""

    def __init__(self, futures: list[Any]) -> None:
        self.futures = futures

    def result(self) -> list[Any]:
        return [x for part in _as_received(self.futures) for x in part]

    def release(self) -> None:
        self.futures = []


@dataclass(frozen=True)
class Planned:
    """A source planned on this process, before any cluster: its plan (the files named as the
    reader names them, from the path as given) and where the workers open them."""

    plan: FolderPlan
    path: SourcePath

    @property
    def empty(self) -> bool:
        """True if there is nothing to read (no FHIR file): no cluster is needed."""
        return not self.plan.order


def plan_source(
    source: str | Path, *, tuning: Tuning = Tuning(), limits: Limits = DEFAULT_LIMITS
) -> Planned:
    """Plan the reading of ``source`` on this process (it reads no data, only file sizes and
    line ends), so that a missing or unsupported source fails before a cluster is started.

    Raises
    ------
    InputError
        ``input.not_found`` / ``input.unsupported_source`` / ``input.too_large``, as
        :func:`read_histories` raises them.
    """
    plan = plan_folder(source, chunk_bytes=tuning.chunk_bytes, limits=limits)
    return Planned(plan, SourcePath.of(source))


def run_ordered(
    client: Any,
    planned: Planned,
    *,
    finish: Finish,
    finish_kwargs: dict[str, Any],
    today: dt.date,
    limits: Limits = DEFAULT_LIMITS,
    tuning: Tuning = Tuning(),
    whole_records: bool = False,
    on_received: Callable[[int], object] | None = None,
) -> Iterator[list[Any]]:
    """``finish`` applied to every read result of the planned source, in :func:`read_histories`
    order (with ``whole_records``, that of ``read_histories(source, whole_records=True)``).

    ``on_received`` is called with the number of results of each part of the work (a batch of
    JSON files, a partition of the NDJSON pool, a file refused whole) as it comes back to this
    process: the pool's partitions come back one by one but are yielded together, merged.

    Raises
    ------
    InputError
        ``input.not_found``: a worker cannot read the source, or a file of it (every worker
        must see the cohort at the same path as this process).
    """
    path = planned.path
    _check_workers_see(client, path)
    run = _Run(
        client,
        planned.plan,
        path=path,
        today=today,
        limits=limits,
        tuning=tuning,
        finish=finish,
        finish_kwargs=finish_kwargs,
        whole_records=whole_records,
        on_received=on_received,
    )
    return _file_errors_typed(run.results(), path)


#: What every worker must do with the cohort, said where one cannot.
_SHARED_PATH = (
    "every Dask worker must see the cohort at the same path as this process (a shared "
    "filesystem such as NFS or Lustre, or a volume mounted into every worker)"
)


def _check_workers_see(client: Any, path: SourcePath) -> None:
    """Refuse a run whose source a worker cannot read, before any work is submitted.

    Checks the workers present now; a file a worker cannot open later is
    :func:`_file_errors_typed`'s."""
    seen = client.run(os.access, path.absolute, os.R_OK)
    blind = sorted(worker for worker, ok in seen.items() if not ok)
    if blind:
        where = "" if path.given == path.absolute else f" ({path.absolute})"
        raise InputError(
            "input.not_found",
            f"{path.given}{where} cannot be read on the Dask worker(s) {', '.join(blind)}: "
            f"{_SHARED_PATH}",
            location=path.given,
        )


def _file_errors_typed(units: Iterator[list[Any]], path: SourcePath) -> Iterator[list[Any]]:
    """``units``, a file that a task could not open (re-raised here by Dask) as an
    ``input.not_found`` error naming it as given, not an internal error."""
    try:
        yield from units
    except OSError as exc:
        if exc.filename is None:  # not a file: a connection to the cluster lost, for one
            raise
        name = path.label(os.fsdecode(exc.filename))
        raise InputError(
            "input.not_found",
            f"cannot read {name} ({exc.strerror}) during the run: {_SHARED_PATH}, and the "
            "cohort must not change while it runs",
            location=name,
        ) from exc
