"""Records split over JSON files: which files of a folder hold parts of one patient's record.

A cohort read takes each JSON file as its own unit, so a record split over files (one Bundle
per HL7 v2 message or per encounter, Bundle pages, an mCODE record in three documents) comes
out in parts: the first file's part is the history, each later Patient is an
``input.patient_repeated`` failure, and a file that only refers to the patient is an
``input.no_patient`` failure. ``whole_records=True`` reads such files as one unit instead: a
first pass (:func:`index_file`) notes, per file, the patients it holds and the patients its
resources refer to; :func:`joined_files` links files that share a patient with a Patient
resource somewhere in the folder, and each linked set is read as one unit, its documents
together (:func:`riskcalc.fhir._source.read_joined`), so references resolve across the files
and the reader's own de-duplication keeps one copy of a resource exported twice.

The first pass parses and groups every JSON file once more: it cost 60-70 % of a whole read of
the Synthea folder (docs/performance.md), which is why it is asked for, not the default. The
NDJSON files of a folder are one unit (the pool) already and take no part in it; a patient in
both a JSON file and the pool is still an ``input.patient_repeated`` failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from riskcalc.config import Limits
from riskcalc.errors import InputError
from riskcalc.fhir._group import group
from riskcalc.fhir._source import json_file_unit

__all__ = ["FileIndex", "index_file", "index_files", "joined_files", "split_records"]


@dataclass(frozen=True)
class FileIndex:
    """The patients one JSON file holds (a Patient resource) and refers to without holding."""

    path: str
    patients: frozenset[str]
    refers_to: frozenset[str]


def index_file(path: str, limits: Limits, *, base: str | None = None) -> FileIndex | None:
    """The patients of one JSON file; None for a file that cannot be read (the read proper
    reports it, in its place). ``base``: the folder a relative path is relative to
    (:func:`riskcalc.fhir._source.read_bytes`)."""
    try:
        grouping = group(json_file_unit(path, limits, base=base))
    except InputError:
        return None
    return FileIndex(path, frozenset(grouping.patients), frozenset(grouping.elsewhere))


def index_files(
    paths: Iterable[str], limits: Limits, *, base: str | None = None
) -> list[FileIndex]:
    """:func:`index_file` of each path, the unreadable left out."""
    return [i for i in (index_file(p, limits, base=base) for p in paths) if i is not None]


def joined_files(indexes: Sequence[FileIndex]) -> list[tuple[str, ...]]:
    """The sets of two or more files that hold parts of one record, each in the order of
    ``indexes`` (the reader's), the sets in the order of their first file.

    Two files are linked when they hold or refer to the same patient and some file of the
    folder holds that patient's Patient resource; links are followed through (file a and b
    share a patient, b and c another: one set). Files that refer to a patient no file holds
    are not linked by it: there is no record to complete.

    >>> a = FileIndex("a.json", frozenset({"p1"}), frozenset())
    >>> b = FileIndex("b.json", frozenset(), frozenset({"p1", "p9"}))
    >>> c = FileIndex("c.json", frozenset({"p2"}), frozenset({"p9"}))
    >>> joined_files([a, b, c])
    [('a.json', 'b.json')]
    """
    held = {pid for i in indexes for pid in i.patients}
    parent = list(range(len(indexes)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    first_file: dict[str, int] = {}
    for n, index in enumerate(indexes):
        for pid in index.patients | (index.refers_to & held):
            a, b = root(first_file.setdefault(pid, n)), root(n)
            parent[max(a, b)] = min(a, b)
    sets: dict[int, list[str]] = {}
    for n, index in enumerate(indexes):
        sets.setdefault(root(n), []).append(index.path)
    return [tuple(paths) for _, paths in sorted(sets.items()) if len(paths) > 1]


def split_records(paths: list[str], limits: Limits) -> list[tuple[str, ...]]:
    """The sets of the JSON files ``paths`` that hold parts of one record (both passes' work
    in one process; the Dask engine spreads :func:`index_files` over its workers)."""
    return joined_files(index_files(paths, limits))
