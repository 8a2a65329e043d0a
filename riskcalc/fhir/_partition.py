"""A cohort folder in pieces: the reader's semantics, split so that the pieces can run anywhere.

:func:`riskcalc.fhir.read_histories` reads a folder as units: every JSON file is a unit, and all
NDJSON files together are one unit (the *pool*: a Bulk Data export spreads one patient over one
file per resource type). This module gives the same results in pieces that fit in a worker:

1. :func:`plan_folder` lists the files (the reader's order) and cuts every plain NDJSON file into
   byte ranges that end on line ends (:class:`FileChunk`).
2. :func:`partition_chunk` parses one range and hash-partitions its resources by patient id (the
   id a ``subject``/``patient``/``beneficiary`` reference names; a Patient by its own id) into
   :class:`Piece` objects, and returns what the pool needs globally (:class:`ChunkSummary`: line
   counts, bad lines (a line nested too deep among them: the depth limit applies to each line,
   so a range checks its own), unresolved references, shared Medications).
3. :func:`pool_context` combines the summaries: files that failed, line offsets,
   unit-level issues; :func:`others_in_partition` finds references to patients not in the input.
4. :func:`partition_histories` gathers one partition's pieces and builds its histories with the
   reader's own grouping and extraction.

Identical results hold when every patient reference can be resolved from its text (the case of
every Bulk Data export: ids are FHIR ids, no ``fullUrl``). A pool where resolution would need a
global alias table (a Patient without an id, an id that is not a FHIR id, an embedded Bundle whose
Patient ``fullUrl`` names another id) is flagged by :attr:`ChunkSummary.exceptional` and the caller
reads the pool in one piece with :func:`pool_histories`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from riskcalc.config import DEFAULT_LIMITS, Limits
from riskcalc.errors import InputError, Issue
from riskcalc.fhir import _check_size, _failure
from riskcalc.fhir._extract import extract
from riskcalc.fhir._group import (
    _PATIENT_URL,
    _REF_KEYS,
    PATIENT_TYPES,
    SHARED_TYPES,
    Item,
    PatientGroup,
    _assign,
    _flatten,
    _patients,
    _summaries,
    group,
    patient_key,
)
from riskcalc.fhir._source import (
    _BOM,
    Unit,
    _files,
    _kind,
    ndjson_lines,
    parse_ndjson,
    read_bytes,
    read_joined,
)
from riskcalc.history import PatientHistory, ReadFailure

__all__ = [
    "ChunkSummary",
    "FileChunk",
    "FolderPlan",
    "Piece",
    "PoolContext",
    "history_from_resources",
    "json_files_histories",
    "others_in_partition",
    "partition_chunk",
    "partition_histories",
    "partition_of",
    "plan_folder",
    "pool_context",
    "pool_histories",
    "route_key",
]

#: Default size of one NDJSON byte range read by one task, bytes.
CHUNK_BYTES = 32 * 1024 * 1024

Result = PatientHistory | ReadFailure


# --- routing -------------------------------------------------------------------------------------


def route_key(ref: str) -> str | None:
    """The patient id a reference names by its text alone, as the reader resolves it.

    >>> route_key("Patient/123"), route_key("urn:uuid:ab-1"), route_key("Group/9")
    ('123', 'ab-1', None)
    """
    m = _PATIENT_URL.search(ref)
    if m:
        return m.group(1)
    if ref.startswith("urn:uuid:"):
        return ref[len("urn:uuid:") :]
    return None


def partition_of(patient_id: str, n_partitions: int) -> int:
    """Partition of a patient id: CRC-32 of its UTF-8 bytes modulo ``n_partitions``.

    Stable across processes and machines (Python's ``hash`` of a str is salted per process).
    """
    return zlib.crc32(patient_id.encode("utf-8")) % n_partitions


def _routable_patient(pid: Any, full_url: str | None) -> bool:
    """True if every alias the reader gives this Patient resolves to it by its text alone."""
    if not isinstance(pid, str) or not pid:
        return False
    if route_key(f"Patient/{pid}") != pid or route_key(f"urn:uuid:{pid}") != pid:
        return False
    return full_url is None or route_key(full_url) == pid


# --- planning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileChunk:
    """A byte range of one NDJSON file, ending on a line end (``stop=None``: to the end).

    ``whole`` ranges are compressed files, read and decompressed in one piece.
    """

    chunk_id: int
    file_index: int
    path: str
    start: int
    stop: int | None
    whole: bool
    is_log: bool


@dataclass(frozen=True)
class FolderPlan:
    """The reader's order of a source, cut into work.

    ``order`` lists, in the reader's output order, ``("json", paths)`` for a JSON unit (one
    file, or several read as one: :meth:`joined`),
    ``("ndjson", file_index)`` for an NDJSON file (whose failure, if any, is yielded there) and
    ``("pool", None)`` last when there are NDJSON files.
    """

    pool_label: str
    order: tuple[tuple[str, Any], ...]
    ndjson_files: tuple[str, ...]
    chunks: tuple[FileChunk, ...]
    #: Files refused before reading (too large), by file index.
    failures: dict[int, ReadFailure] = field(default_factory=dict)
    #: True for a single-file source: a failure raises instead of being yielded.
    single_file: bool = False
    ndjson_bytes: int = 0

    def json_files(self) -> list[str]:
        """The JSON files, in the reader's order."""
        return [p for kind, paths in self.order if kind == "json" for p in paths]

    def joined(self, sets: Sequence[tuple[str, ...]]) -> FolderPlan:
        """This plan with each set of JSON files read as one unit, in the place of its first
        file (the order ``read_histories(whole_records=True)`` reads them in)."""
        set_of = {p: paths for paths in sets for p in paths}
        order: list[tuple[str, Any]] = []
        for kind, value in self.order:
            together = set_of.get(value[0]) if kind == "json" else None
            if together is None:
                order.append((kind, value))
            elif together[0] == value[0]:
                order.append((kind, together))
        return dataclasses.replace(self, order=tuple(order))


def _boundaries(path: Path, size: int, chunk_bytes: int) -> list[tuple[int, int | None]]:
    """Byte ranges of about ``chunk_bytes`` that start after a newline."""
    starts = [0]
    with path.open("rb") as fh:
        pos = chunk_bytes
        while pos < size:
            fh.seek(pos - 1)
            fh.readline()  # to the end of the line holding byte pos - 1
            nxt = fh.tell()
            if nxt >= size:
                break
            if nxt > starts[-1]:
                starts.append(nxt)
            pos = max(nxt, starts[-1]) + chunk_bytes
    return [(s, e) for s, e in zip(starts, [*starts[1:], None], strict=True)]


def plan_folder(
    source: str | Path,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    limits: Limits = DEFAULT_LIMITS,
) -> FolderPlan:
    """Plan the reading of a folder (or one ``.json``/``.ndjson`` file) in the reader's order.

    Parameters
    ----------
    source
        A folder of FHIR files or one file, as :func:`riskcalc.fhir.read_histories` takes it.
    chunk_bytes
        Target size of an NDJSON byte range, bytes; compressed files are one range each.
    limits
        The reader's limits; a plain file above ``limits.max_bytes`` fails without being read.

    Raises
    ------
    InputError
        ``input.not_found`` / ``input.unsupported_source`` for a missing or unsupported file.
    """
    path = Path(source)
    if path.is_dir():
        files, pool_label, single = _files(path), str(path), False
    elif not path.exists():
        raise InputError("input.not_found", f"{path} does not exist", location=str(path))
    elif _kind(path) is None:
        raise InputError(
            "input.unsupported_source",
            f"{path.name}: expected .json or .ndjson, optionally .gz or .bz2",
            location=str(path),
        )
    else:
        files, pool_label, single = [path], str(path), True
    order: list[tuple[str, Any]] = []
    ndjson: list[str] = []
    chunks: list[FileChunk] = []
    failures: dict[int, ReadFailure] = {}
    total = 0
    for p in files:
        if _kind(p) != "ndjson":
            order.append(("json", (str(p),)))
            continue
        index = len(ndjson)
        ndjson.append(str(p))
        order.append(("ndjson", index))
        name = p.name.lower()
        is_log = name.startswith("log.ndjson") if single else name.startswith("log.")
        if name.endswith((".gz", ".bz2")):
            chunks.append(FileChunk(len(chunks), index, str(p), 0, None, True, is_log))
            total += p.stat().st_size
            continue
        size = p.stat().st_size
        if size > limits.max_bytes:
            try:
                read_bytes(p, limits)  # raises the reader's own input.too_large error
            except InputError as exc:
                if single:
                    raise
                failures[index] = _failure(exc, None)
                continue
        total += size
        for start, stop in _boundaries(p, size, chunk_bytes):
            chunks.append(FileChunk(len(chunks), index, str(p), start, stop, False, is_log))
    if ndjson:
        order.append(("pool", None))
    return FolderPlan(
        pool_label=pool_label,
        order=tuple(order),
        ndjson_files=tuple(ndjson),
        chunks=tuple(chunks),
        failures=failures,
        single_file=single,
        ndjson_bytes=total,
    )


# --- stage 1: one byte range to partitions -------------------------------------------------------


class Piece:
    """One partition's share of one range: its resources in file order, and what needs a
    global view.

    Packed for the shuffle (:meth:`pack`): the resources' JSON texts joined by newlines (compact
    JSON has none, an NDJSON line neither) and their line numbers in an array. Moving a piece
    between workers is then a copy of two buffers; as a list of one tuple per resource, the
    pieces of 20,000 patients took 0.8 s to move, both workers idle meanwhile.
    """

    def __init__(self, chunk_id: int) -> None:
        self.chunk_id = chunk_id
        self.texts = b""
        self.lines: np.ndarray[Any, np.dtype[np.int64]] = np.zeros(0, dtype=np.int64)
        #: (location suffix, fullUrl) of the resources that came out of a Bundle, by position.
        self.origins: dict[int, tuple[str, str | None]] = {}
        self.patient_ids: list[str] = []
        #: Resources per referenced patient id (to find references to patients not in the input).
        self.referenced: dict[str, int] = {}
        self._texts: list[bytes] = []
        self._lines: list[int] = []

    def add(self, line_no: int, location: str, full_url: str | None, text: bytes) -> None:
        if location or full_url is not None:
            self.origins[len(self._texts)] = (location, full_url)
        self._texts.append(text)
        self._lines.append(line_no)

    def pack(self) -> None:
        """Join what :meth:`add` collected (once, when the range is routed)."""
        self.texts = b"\n".join(self._texts)
        self.lines = np.asarray(self._lines, dtype=np.int64)
        self._texts, self._lines = [], []

    def __len__(self) -> int:
        return len(self.lines)

    def resources(self) -> Iterator[tuple[int, str, str | None, bytes]]:
        """(line in the range, location suffix, fullUrl, JSON text) of each resource, in order."""
        if not len(self.lines):
            return
        origins = self.origins
        for k, (line, text) in enumerate(
            zip(self.lines.tolist(), self.texts.split(b"\n"), strict=True)
        ):
            location, full_url = origins.get(k, ("", None))
            yield line, location, full_url, text


@dataclass
class ChunkSummary:
    """What one range contributes to the pool as a whole (small)."""

    chunk_id: int
    file_index: int
    n_newlines: int = 0
    failure: ReadFailure | None = None
    #: (line in chunk, location suffix, code, message) of unit-level issues.
    issues: list[tuple[int, str, str, str]] = field(default_factory=list)
    n_unresolved: int = 0
    first_unresolved: list[str] = field(default_factory=list)
    #: Medications, for ``medicationReference``: (line, index, fullUrl, resource).
    shared: list[tuple[int, int, str | None, dict[str, Any]]] = field(default_factory=list)
    #: Why the pool cannot be partitioned (see the module docstring), or None.
    exceptional: str | None = None
    n_resources: int = 0
    n_patients: int = 0
    n_bytes: int = 0


def _read_range(chunk: FileChunk, limits: Limits, base: str | None) -> bytes:
    if chunk.whole:
        return read_bytes(Path(chunk.path), limits, base=base)
    with open(chunk.path if base is None else Path(base, chunk.path), "rb") as fh:
        fh.seek(chunk.start)
        return fh.read() if chunk.stop is None else fh.read(chunk.stop - chunk.start)


def partition_chunk(
    chunk: FileChunk,
    n_partitions: int,
    *,
    limits: Limits = DEFAULT_LIMITS,
    base: str | None = None,
) -> tuple[ChunkSummary, list[Piece]]:
    """Parse one NDJSON range and split its resources into ``n_partitions`` pieces.

    A line is parsed as :func:`riskcalc.fhir._source.parse_ndjson` does; a resource goes to the
    partition of the patient it belongs to (:func:`route_key` of its first patient reference that
    names one; a Patient by its id); Medications go to the summary (every partition needs them);
    a patient-type resource that names no patient is counted as unresolved.

    Memory: the range's bytes (about ``chunk_bytes``) three times (the bytes, their lines, the
    packed pieces), plus one parsed line at a time. ``base``: the folder a relative path is
    relative to (:func:`riskcalc.fhir._source.read_bytes`).
    """
    summary = ChunkSummary(chunk.chunk_id, chunk.file_index)
    pieces = [Piece(chunk.chunk_id) for _ in range(n_partitions)]
    try:
        data = _read_range(chunk, limits, base)
    except InputError as exc:
        summary.failure = _failure(exc, None)
        return summary, pieces
    if chunk.start == 0 and data.startswith(_BOM):
        data = data[len(_BOM) :]
    summary.n_bytes = len(data)
    summary.n_newlines = data.count(b"\n")
    router = _Router(summary, pieces)
    for line_no, line, read in ndjson_lines(data, limits.max_depth, is_log=chunk.is_log):
        if isinstance(read, str):
            summary.issues.append((line_no, "", "ndjson.bad_line", read))
        else:
            router.line(line_no, line, read)
    for piece in pieces:
        piece.pack()
    summary.n_unresolved = len(router.unresolved)
    summary.first_unresolved = heapq.nsmallest(3, router.unresolved)
    return summary, pieces


class _Router:
    """Stage 1's routing of one range, line by line, into its summary and pieces.

    The hot loop of stage 1 (every resource of the cohort passes here once): a plain resource
    line is routed without the Items that opening a Bundle needs, and each patient id's
    partition is computed once per range.
    """

    def __init__(self, summary: ChunkSummary, pieces: list[Piece]) -> None:
        self.summary, self.pieces = summary, pieces
        self.unresolved: list[str] = []
        self._partition: dict[str, Piece] = {}

    def _piece(self, patient_id: str) -> Piece:
        piece = self._partition.get(patient_id)
        if piece is None:
            piece = self._partition[patient_id] = self.pieces[
                partition_of(patient_id, len(self.pieces))
            ]
        return piece

    def line(self, line_no: int, line: bytes, value: dict[str, Any]) -> None:
        """Route the resource ``value`` read from ``line`` (a Bundle: each of its entries)."""
        summary = self.summary
        if value["resourceType"] != "Bundle":
            self.resource(line_no, 0, "", None, value, line)
            return
        for index, x in enumerate(_flatten(value, "", None)):
            if isinstance(x, Issue):
                summary.issues.append((line_no, x.source or "", x.code, x.message))
            else:
                raw = orjson.dumps(x.resource)
                self.resource(line_no, index, x.location, x.full_url, x.resource, raw)

    def resource(
        self,
        line_no: int,
        index: int,
        location: str,
        full_url: str | None,
        resource: dict[str, Any],
        raw: bytes,
    ) -> None:
        summary = self.summary
        summary.n_resources += 1
        rtype = resource["resourceType"]
        if rtype == "Patient":
            pid = resource.get("id")
            if not isinstance(pid, str) or not _routable_patient(pid, full_url):
                summary.exceptional = (
                    f"Patient {pid!r} (fullUrl {full_url!r}) cannot be resolved by id alone"
                )
                return
            piece = self._piece(pid)
            piece.add(line_no, location, full_url, raw)
            piece.patient_ids.append(pid)
            summary.n_patients += 1
            return
        if rtype in SHARED_TYPES:
            summary.shared.append((line_no, index, full_url, resource))
            return
        target = None
        for key in _REF_KEYS:  # _patient_refs and route_key, inlined
            ref = resource.get(key)
            if isinstance(ref, dict) and isinstance(text := ref.get("reference"), str):
                target = route_key(text)
                if target is not None:
                    break
        if target is None:
            if rtype in PATIENT_TYPES:
                rid = resource.get("id")
                self.unresolved.append(f"{rtype}/{rid if isinstance(rid, str) and rid else '?'}")
            return
        piece = self._piece(target)
        piece.add(line_no, location, full_url, raw)
        piece.referenced[target] = piece.referenced.get(target, 0) + 1


# --- between the stages: the pool as a whole ----------------------------------------------------


@dataclass(frozen=True)
class PoolContext:
    """What every partition of the pool needs: the same for all of them."""

    label: str
    #: chunk id -> (file path, number of the chunk's first line minus one); failed files absent.
    chunks: dict[int, tuple[str, int]]
    #: File index -> failure, for NDJSON files that fail as a whole (size, depth, decompression).
    failures: dict[int, ReadFailure]
    issues: tuple[Issue, ...]
    shared: dict[str, dict[str, Any]]
    n_unresolved: int
    first_unresolved: tuple[str, ...]
    exceptional: str | None
    n_patients: int = 0


def pool_context(plan: FolderPlan, summaries: Sequence[ChunkSummary]) -> PoolContext:
    """Combine the range summaries (in chunk order) as the reader sees the pool.

    Files are refused as wholes the way the reader refuses them (a decompression or size
    error); their lines count for nothing.
    """
    by_file: dict[int, list[ChunkSummary]] = {}
    for s in sorted(summaries, key=lambda s: s.chunk_id):
        by_file.setdefault(s.file_index, []).append(s)
    failures = dict(plan.failures)
    for index, parts in by_file.items():
        failed = next((s.failure for s in parts if s.failure is not None), None)
        if failed is not None:
            failures[index] = failed
    chunks: dict[int, tuple[str, int]] = {}
    issues: list[Issue] = []
    shared: dict[str, dict[str, Any]] = {}
    unresolved: list[str] = []
    n_unresolved = 0
    n_patients = 0
    exceptional = None
    for index in sorted(by_file):
        if index in failures:
            continue
        offset = 0
        for s in by_file[index]:
            label = plan.ndjson_files[index]
            chunks[s.chunk_id] = (label, offset)
            issues.extend(
                Issue(code=code, message=message, source=f"{label}:{offset + line}{suffix}")
                for line, suffix, code, message in s.issues
            )
            for _, _, full_url, resource in s.shared:
                rid = resource.get("id")
                for key in (full_url, f"{resource['resourceType']}/{rid}" if rid else None):
                    if key:
                        shared.setdefault(key, resource)
            n_unresolved += s.n_unresolved
            unresolved.extend(s.first_unresolved)
            exceptional = exceptional or s.exceptional
            n_patients += s.n_patients
            offset += s.n_newlines
    return PoolContext(
        label=plan.pool_label,
        chunks=chunks,
        failures=failures,
        issues=tuple(issues),
        shared=shared,
        n_unresolved=n_unresolved,
        first_unresolved=tuple(heapq.nsmallest(3, unresolved)),
        exceptional=exceptional,
        n_patients=n_patients,
    )


@dataclass(frozen=True)
class Others:
    """References to patients not in the input, in one partition (or summed over all)."""

    n_resources: int = 0
    n_patients: int = 0
    first_ids: tuple[str, ...] = ()

    def __add__(self, other: Others) -> Others:
        return Others(
            self.n_resources + other.n_resources,
            self.n_patients + other.n_patients,
            tuple(heapq.nsmallest(3, (*self.first_ids, *other.first_ids))),
        )


def others_in_partition(pieces: Iterable[Piece], context: PoolContext) -> Others:
    """Resources of one partition whose patient is not in the pool (cheap: no JSON parsing).

    ``pieces`` are the partition's pieces of every range; pieces of failed files are skipped
    by the caller or here (their chunk is not in ``context.chunks``).
    """
    ids: set[str] = set()
    counts: dict[str, int] = {}
    for piece in pieces:
        if not len(piece) or piece.chunk_id not in context.chunks:
            continue
        ids.update(piece.patient_ids)
        for pid, n in piece.referenced.items():
            counts[pid] = counts.get(pid, 0) + n
    others = {pid: n for pid, n in counts.items() if pid not in ids}
    return Others(sum(others.values()), len(others), tuple(heapq.nsmallest(3, others)))


def unit_issues(context: PoolContext, others: Others) -> list[Issue]:
    """The pool's unit-level issues, worded by the reader's own ``_summaries``."""
    # _summaries only uses sum/len/three smallest of its inputs: rebuild inputs with those.
    pad = "\U0010ffff"
    other_counts = {k: 1 for k in others.first_ids}
    if others.n_patients > len(others.first_ids):
        other_counts[pad] = 1
    if other_counts:
        first = min(other_counts)
        other_counts[first] += others.n_resources - sum(other_counts.values())
    unresolved = list(context.first_unresolved)
    if unresolved:
        unresolved += [unresolved[-1]] * (context.n_unresolved - len(unresolved))
    return [*context.issues, *_summaries(other_counts, unresolved, context.label)]


# --- stage 2: one partition to histories ---------------------------------------------------------


def partition_histories(
    pieces: Iterable[Piece],
    context: PoolContext,
    issues: Sequence[Issue],
    *,
    today: dt.date,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Result]:
    """Histories (or failures) of one partition's patients, sorted by patient id.

    ``pieces`` in chunk order; ``issues`` from :func:`unit_issues`. The same grouping
    (``_patients``/``_assign``) and extraction as the reader, so each history equals the one
    :func:`riskcalc.fhir.read_histories` builds.

    Memory: the partition's resources parsed (about 5–10 times their NDJSON bytes) plus the
    Medications of the pool.
    """
    items: list[Item] = []
    for piece in pieces:
        where = context.chunks.get(piece.chunk_id)
        if where is None:
            continue
        label, offset = where
        for line, suffix, full_url, raw in piece.resources():
            items.append(Item(orjson.loads(raw), f"{label}:{offset + line}{suffix}", full_url))
    resolver, patients = _patients(items)
    _assign(items, resolver, patients)
    return [
        _history_or_failure(patients[pid], context.shared, issues, today, limits)
        for pid in sorted(patients)
    ]


def _history_or_failure(
    g: PatientGroup,
    shared: dict[str, dict[str, Any]],
    issues: Sequence[Issue],
    today: dt.date,
    limits: Limits,
) -> Result:
    try:
        _check_size(g, limits)
        return extract(g, shared=shared, unit_issues=issues, today=today)
    except InputError as exc:
        return _failure(exc, g.patient_id)


def history_from_resources(
    patient: dict[str, Any],
    resources: Iterable[dict[str, Any]],
    *,
    today: dt.date,
    shared: dict[str, dict[str, Any]] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Result:
    """One patient's history from their Patient resource and their other resources (pure).

    ``resources`` are taken as belonging to the patient (no reference resolution); Medications
    referenced by ``medicationReference`` go in ``shared`` keyed ``Medication/<id>``. A patient
    over ``limits.max_resources_per_patient`` is a :class:`ReadFailure`.
    """
    item = Item(patient, f"Patient/{patient.get('id')}", None)
    pid, no_id = patient_key(item)
    group = PatientGroup(pid, item)
    if no_id is not None:
        group.issues.append(no_id)
    group.items = [Item(r, f"{r.get('resourceType')}/{r.get('id', '?')}", None) for r in resources]
    return _history_or_failure(group, shared or {}, (), today, limits)


# --- units read whole ----------------------------------------------------------------------------


def json_files_histories(
    units: Sequence[tuple[str, ...]],
    *,
    today: dt.date,
    limits: Limits = DEFAULT_LIMITS,
    single: bool = False,
    base: str | None = None,
) -> list[tuple[str, Result]]:
    """(unit label, history or failure) of JSON file units, in the reader's order.

    A unit is one JSON file, or the files of records split over them that
    ``read_histories(whole_records=True)`` reads as one (:func:`riskcalc.fhir._source.read_joined`).
    A file that cannot be read is one failure with ``patient_id=None``, as in a folder (raised
    for a single-file source). The label of each result is what the driver's
    :class:`riskcalc.fhir.PatientLedger` needs.
    """
    from riskcalc.fhir import unit_label, unit_results

    out: list[tuple[str, Result]] = []
    for paths in units:
        for unit in read_joined(paths, limits, base=base):
            if single and isinstance(unit, InputError):
                raise unit
            out.extend((unit_label(unit), r) for r in unit_results(unit, limits, today))
    return out


def pool_histories(
    plan: FolderPlan,
    failed: Iterable[int],
    *,
    today: dt.date,
    limits: Limits = DEFAULT_LIMITS,
    base: str | None = None,
) -> list[Result]:
    """The pool read in one piece, exactly as the reader does.

    For pools flagged exceptional, and pools without a Patient (the reader's ``input.no_patient``
    record needs the whole pool, and such a pool holds no cohort to spread). ``base`` as
    :func:`partition_chunk` takes it.
    """
    from riskcalc.fhir import _grouped_histories, no_patient_failure

    skip = set(failed)
    pool = Unit(plan.pool_label)
    for index, path in enumerate(plan.ndjson_files):
        if index in skip:
            continue
        p = Path(path)
        name = p.name.lower()
        is_log = name.startswith("log.ndjson") if plan.single_file else name.startswith("log.")
        parse_ndjson(read_bytes(p, limits, base=base), path, limits, pool, is_log=is_log)
    grouping = group(pool)
    failure = no_patient_failure(pool, grouping)
    if failure is not None:
        return [failure]
    return [
        _failure(r, g.patient_id) if isinstance(r, InputError) else r
        for _, g, r in _grouped_histories(grouping, limits, today)
    ]
