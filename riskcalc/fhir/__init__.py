"""FHIR in: bytes, files and folders to validated resources to :class:`PatientHistory`.

The only package that imports fhir.resources. FHIR R4 data is validated with the R4B models
(fhir.resources has no R4 subpackage; the differences do not touch the resources used here), and
only the resources whose content feeds the history are validated. See docs/fhir-input.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskcalc.config import DEFAULT_LIMITS, Limits, as_date, checked_limits
from riskcalc.errors import ConfigError, InputError, Issue
from riskcalc.fhir._extract import extract
from riskcalc.fhir._group import (
    PATIENT_TYPES,
    Grouping,
    Item,
    PatientGroup,
    _patient_refs,
    flatten,
    group,
    issue_key,
)
from riskcalc.fhir._records import split_records
from riskcalc.fhir._source import Unit, gc_paused, iter_units, join_units, kept_from_collector
from riskcalc.history import PatientHistory, ReadFailure

__all__ = ["PatientLedger", "Source", "read_histories", "read_history"]

Source = str | bytes | Path | dict[str, Any]


def _check_size(g: PatientGroup, limits: Limits) -> None:
    if len(g.items) + 1 > limits.max_resources_per_patient:
        raise InputError(
            "input.too_many_resources",
            f"Patient/{g.patient_id} has {len(g.items) + 1} resources; the limit is "
            f"{limits.max_resources_per_patient}",
            resource_id=f"Patient/{g.patient_id}",
        )


def _histories(
    unit: Unit, limits: Limits, today: dt.date
) -> Iterator[tuple[Grouping, PatientGroup, PatientHistory | ReadFailure | InputError]]:
    """Each patient's history (or error) of a unit; for a unit without a Patient that holds
    patient data, its one ``input.no_patient`` failure (with an empty placeholder group)."""
    grouping = group(unit)
    failure = no_patient_failure(unit, grouping)
    if failure is not None:
        yield grouping, PatientGroup("", Item({}, unit.label, None)), failure
        return
    yield from _grouped_histories(grouping, limits, today)


def _grouped_histories(
    grouping: Grouping, limits: Limits, today: dt.date
) -> Iterator[tuple[Grouping, PatientGroup, PatientHistory | InputError]]:
    """Each patient's history, or the InputError that stopped it, of a grouped unit."""
    for pid in sorted(grouping.patients):
        g = grouping.patients[pid]
        try:
            _check_size(g, limits)
            yield (
                grouping,
                g,
                extract(g, shared=grouping.shared, unit_issues=grouping.issues, today=today),
            )
        except InputError as exc:
            yield grouping, g, exc


def read_history(
    source: Source,
    *,
    patient_id: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    today: dt.date | None = None,
    label: str | None = None,
) -> PatientHistory:
    """Read one patient's history.

    Parameters
    ----------
    source
        A path (``.json``, ``.ndjson``, either optionally ``.gz``/``.bz2``, or a folder of them),
        bytes (JSON or NDJSON, optionally gzip or bzip2 data), JSON text (a ``str`` that is not
        JSON is taken as a path) or a dict.
    patient_id
        The patient to read; required when the source holds several patients.
    limits
        Byte, depth and resources-per-patient limits.
    today
        Dates after this are refused as in the future (default: today's date); for tests.
    label
        The name of an in-memory source (bytes, text, dict) in locations and messages, e.g. an
        uploaded file's name; default ``<bytes>``, ``<text>`` or ``<dict>``.

    Raises
    ------
    InputError
        ``input.json_syntax``, ``input.not_found``, ``input.no_patient``,
        ``input.patient_not_found``, ``input.several_patients``, limits …; a folder file that
        cannot be read fails the whole call.
    """
    # The collector is paused for the whole read, and the parsed JSON freed before it resumes:
    # the tree holds no cycles, and a collection after the parse would walk every container of
    # it once more for nothing (DESIGN.md §10; docs/performance.md).
    checked = checked_limits(limits)
    day = dt.date.today() if today is None else as_date(today, "today")
    _check_text(patient_id=patient_id, label=label)
    with gc_paused():
        return _read_history(source, patient_id, checked, day, label)


def _check_text(**arguments: object) -> None:
    """ConfigError for an argument that should be text (or None) and is not."""
    for name, value in arguments.items():
        if value is not None and not isinstance(value, str):
            raise ConfigError("config.invalid", f"{name} must be text, got {type(value).__name__}")


def _read_history(
    source: Source, patient_id: str | None, limits: Limits, today: dt.date, label: str | None
) -> PatientHistory:
    # A patient's record may span files (a folder of Bundle pages, a Bundle per encounter):
    # every unit that holds the Patient or refers to it is kept, and those are read together,
    # as one unit, once all are seen (as read_histories(whole_records=True) reads them).
    kept: list[tuple[Unit, Grouping]] = []
    ids: list[str] = []  # distinct, in the order met
    labels: list[str] = []
    for unit in iter_units(source, limits, label=label):
        if isinstance(unit, InputError):
            raise unit
        labels.append(unit.label)
        grouping = group(unit)
        new = [p for p in sorted(grouping.patients) if p not in ids]
        ids.extend(new if patient_id is None else [p for p in new if p == patient_id])
        if patient_id is None and len(ids) > 1:
            continue  # an error below: nothing more is kept
        wanted = grouping.patients.keys() | grouping.elsewhere.keys()
        if patient_id in wanted or (patient_id is None and wanted):
            kept.append((unit, grouping))
    if patient_id is None and len(ids) > 1:
        raise InputError(
            "input.several_patients",
            f"the input holds {len(ids)} patients ({', '.join(ids[:3])}{', …' if len(ids) > 3 else ''}); "
            "pass patient_id",
        )
    if not ids:
        if patient_id is not None:
            raise InputError(
                "input.patient_not_found",
                f"Patient/{patient_id} is not in the input",
                resource_id=f"Patient/{patient_id}",
            )
        raise InputError(
            "input.no_patient",
            "the input holds no Patient resource",
            location=", ".join(labels[:3]) or None,
        )
    pid = ids[0]
    parts = [(u, gr) for u, gr in kept if pid in gr.patients or pid in gr.elsewhere]
    grouping = parts[0][1] if len(parts) == 1 else group(join_units([u for u, _ in parts]))
    g = grouping.patients[pid]
    _check_size(g, limits)
    return extract(g, shared=grouping.shared, unit_issues=grouping.issues, today=today)


def read_histories(
    source: Source,
    *,
    limits: Limits = DEFAULT_LIMITS,
    today: dt.date | None = None,
    whole_records: bool = False,
    label: str | None = None,
) -> Iterator[PatientHistory | ReadFailure]:
    """Read every patient in a source, one history (or failure record) per patient.

    A patient that cannot be read (e.g. too many resources) comes out as a :class:`ReadFailure`
    and the iteration goes on. For a folder, a file that cannot be read at all (bad JSON,
    corrupt archive) is a ReadFailure with ``patient_id=None`` and the other files go on. For a
    single file, bytes, text or dict that cannot be read the first ``next()`` raises
    :class:`InputError`. Patients come in sorted order within a file; files in sorted path order
    (a folder's NDJSON export last). A file, text, dict or NDJSON export that holds patient
    data (clinical resources or issues) but no Patient yields one ReadFailure ``input.no_patient`` (location: the file; its issues on
    ``warnings``); one with nothing in it at all yields nothing. Each patient comes out once: a
    file (or the NDJSON export) holding a patient that an earlier file held gives a ReadFailure
    ``input.patient_repeated`` instead of a second history (see :class:`PatientLedger`);
    :func:`read_history` with ``patient_id``, or ``whole_records``, reads such a record whole.

    ``whole_records=True`` reads a folder's records split over JSON files whole: the files that
    share a patient are read as one unit, in the place of the first of them (a first pass over
    the JSON files finds them, at 60-70 % of the cost of the read; see
    :mod:`riskcalc.fhir._records`). The NDJSON export stays its own unit. ``label`` names an
    in-memory source as :func:`read_history` takes it.
    """
    limits = checked_limits(limits)
    today = dt.date.today() if today is None else as_date(today, "today")
    _check_text(label=label)
    ledger = PatientLedger()
    join = split_records if whole_records else None
    for unit in iter_units(source, limits, join=join, label=label):
        for out in unit_results(unit, limits, today):
            yield ledger.repeated(out.patient_id, unit_label(unit)) or out


def unit_results(
    unit: Unit | InputError, limits: Limits, today: dt.date
) -> Iterator[PatientHistory | ReadFailure]:
    """The results of one unit of a cohort read, before the ledger: each patient's history or
    failure; a unit that could not be read is one failure with ``patient_id=None``."""
    if isinstance(unit, InputError):
        yield _failure(unit, None)
        return
    with kept_from_collector():
        for _, g, result in _histories(unit, limits, today):
            yield _failure(result, g.patient_id) if isinstance(result, InputError) else result


def unit_label(unit: Unit | InputError) -> str:
    """What the ledger names a unit by (a unit that could not be read: where it failed)."""
    return unit.label if isinstance(unit, Unit) else unit.location or ""


@dataclass
class PatientLedger:
    """Where each patient of a cohort read was first read from: one history per patient.

    ``read_histories`` reads each JSON file on its own (a folder of them may be larger than
    memory), so a patient whose Patient resource is in two files of one input (a record split
    over files, the same patient exported twice) would come out twice, each history holding
    part of the record, and be scored or trained on twice. The first one read stands; each
    later one is an ``input.patient_repeated`` failure naming both files, so nothing is lost
    silently and no patient counts twice (``whole_records=True`` reads JSON files that share a
    patient as one unit instead; the NDJSON export stays its own). The in-process reader and the Dask engine keep the
    ledger over their results in the same order, so both give the same records.

    >>> ledger = PatientLedger()
    >>> ledger.repeated("p1", "a.json") is None, ledger.repeated("p1", "a.json") is None
    (True, True)
    >>> ledger.repeated("p1", "b.json").code
    'input.patient_repeated'
    """

    first_read_from: dict[str, str] = field(default_factory=dict)

    def repeated(self, patient_id: str | None, label: str) -> ReadFailure | None:
        """The failure that replaces a result of ``patient_id`` read from the unit ``label``, if
        the patient was read from another unit before; None otherwise (and then noted)."""
        if not patient_id:
            return None
        first = self.first_read_from.setdefault(patient_id, label)
        if first == label:
            return None
        return ReadFailure(
            patient_id=patient_id,
            code="input.patient_repeated",
            message=(
                f"Patient/{patient_id} was read from {first} already, and {label} holds it too: "
                "this part of the record is not in the history read first, and is not read as a "
                "second patient; to read the record whole, use "
                f"read_history(source, patient_id={patient_id!r}), or read the cohort with "
                "whole_records=True (CLI: --whole-records)"
            ),
            location=label,
            resource_id=f"Patient/{patient_id}",
        )


def no_patient_failure(unit: Unit, grouping: Grouping) -> ReadFailure | None:
    """The failure record of a unit that holds patient data but no Patient, else None.

    Nothing read may be dropped silently: a unit without a Patient that holds a clinical
    resource (a type in ``PATIENT_TYPES`` or one with a patient reference) or any issue (skipped
    entries, bad NDJSON lines) is one failure, its issues on ``warnings``. A unit of
    administrative resources only (Synthea's hospital and practitioner Bundles: Organization,
    Location, Practitioner) or with nothing in it (an empty file, an export log) gives None.
    """
    if grouping.patients:
        return None
    types: dict[str, int] = {}
    clinical = False
    for x in flatten(unit):
        if not isinstance(x, Issue):
            rtype = str(x.resource["resourceType"])
            types[rtype] = types.get(rtype, 0) + 1
            clinical = clinical or rtype in PATIENT_TYPES or bool(_patient_refs(x.resource))
    if not clinical and not grouping.issues:
        return None
    held = ", ".join(f"{t} ×{n}" for t, n in sorted(types.items())[:5])
    more = ", …" if len(types) > 5 else ""
    what = f"{sum(types.values())} resource(s) ({held}{more})" if types else "no usable resource"
    return ReadFailure(
        patient_id=None,
        code="input.no_patient",
        message=f"{unit.label} holds {what} but no Patient resource, so no one can be assessed"
        + _elsewhere_hint(unit, grouping),
        location=unit.label,
        warnings=tuple(sorted(set(grouping.issues), key=issue_key)),
    )


def _elsewhere_hint(unit: Unit, grouping: Grouping) -> str:
    """For a Bundle whose resources refer to patients it does not hold: who, and how to read
    them with their record (read_histories reads each JSON file on its own; NDJSON files are
    pooled already, so a pool gets no hint)."""
    ids = sorted(grouping.elsewhere)
    bundle = len(unit.documents) == 1 and _is_bundle(unit.documents[0].value)
    if not ids or not bundle:
        return ""
    more = f" and {len(ids) - 1} other patient(s)" if len(ids) > 1 else ""
    return (
        f"; its resources refer to Patient/{ids[0]}{more}: if that record is split over "
        f"several files, read it whole with read_history(folder, patient_id={ids[0]!r}), or "
        "read the cohort with whole_records=True (CLI: --whole-records)"
    )


def _is_bundle(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "Bundle"


def _failure(exc: InputError, patient_id: str | None) -> ReadFailure:
    return ReadFailure(
        patient_id=patient_id,
        code=exc.code,
        message=exc.message,
        location=exc.location,
        resource_id=exc.resource_id,
    )
