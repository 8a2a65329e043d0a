"""The properties every input must satisfy: a result or a RiskCalcError, nothing else.

Shared by the fast property tests (tests/robustness/test_robustness_fuzz.py, small budget) and the
long fuzz run (tests/test_fuzz.py, ``make fuzz``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
from robustness_strategies import TODAY

import riskcalc
from riskcalc.errors import ERROR_CODES, WARNING_CODES, RiskCalcError
from riskcalc.history import PatientHistory, ReadFailure


def check_history(h: PatientHistory) -> None:
    """A history is registered, finite and round-trips through its JSON."""
    assert {w.code for w in h.warnings} <= set(WARNING_CODES), h.warnings
    for e in h.infections:
        assert e.il6_peak_pg_ml is None or math.isfinite(e.il6_peak_pg_ml)
        assert e.onset <= e.end
    text = h.model_dump_json()
    orjson.loads(text)  # strict JSON: a NaN or Infinity token would raise
    assert PatientHistory.model_validate_json(text) == h
    if h.at_risk_start is not None and h.birth_date is not None:
        assert h.at_risk_start >= h.birth_date


def check_failure(f: ReadFailure) -> None:
    assert f.code in ERROR_CODES, f
    assert f.message
    assert {w.code for w in f.warnings} <= set(WARNING_CODES)


def check_error(exc: RiskCalcError) -> None:
    assert exc.code in ERROR_CODES, exc
    assert exc.message


def read_everything(source: Any) -> list[PatientHistory | ReadFailure]:
    """read_history and read_histories on one source: only RiskCalcErrors may escape.

    Returns what read_histories yielded ([] when it raised).
    """
    try:
        check_history(riskcalc.read_history(source, today=TODAY))
    except RiskCalcError as exc:
        check_error(exc)
    try:
        out = list(riskcalc.read_histories(source, today=TODAY))
    except RiskCalcError as exc:
        check_error(exc)
        return []
    for item in out:
        if isinstance(item, PatientHistory):
            check_history(item)
        else:
            check_failure(item)
    return out


def patients_in(bundle: dict[str, Any]) -> set[str]:
    """String ids of the Patients a well-formed Bundle's entries hold."""
    entries = bundle.get("entry")
    found: set[str] = set()
    if not isinstance(entries, list):
        return found
    for e in entries:
        r = e.get("resource") if isinstance(e, dict) else None
        if isinstance(r, dict) and r.get("resourceType") == "Patient":
            rid = r.get("id")
            if isinstance(rid, str) and rid:
                found.add(rid)
    return found


def check_bundle(bundle: dict[str, Any]) -> None:
    """The dict and its bytes read alike; every Patient with an id gives a record."""
    out = read_everything(bundle)
    ids = patients_in(bundle)
    got = {x.patient_id for x in out if isinstance(x, PatientHistory)}
    assert ids <= got, (ids, got)
    if not got and ids == set():
        # nothing silently dropped: a Bundle with patient data but no Patient is reported
        assert all(isinstance(x, ReadFailure) for x in out)
    raw = orjson.dumps(bundle, option=orjson.OPT_NON_STR_KEYS)
    if not _has_float_noise(bundle):
        # the same input as bytes gives the same records (labels in messages differ)
        assert _summary(read_everything(raw)) == _summary(out)


def _summary(out: list[PatientHistory | ReadFailure]) -> list[Any]:
    return [
        x.model_copy(update={"warnings": tuple(w.code for w in x.warnings)})
        if isinstance(x, PatientHistory)
        else (x.patient_id, x.code)
        for x in out
    ]


def _has_float_noise(value: Any) -> bool:
    """orjson writes NaN/Infinity as null, so bytes and dict may then legitimately differ."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_float_noise(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float_noise(v) for v in value)
    return False


def mutate(data: bytes, position: int, kind: int, junk: bytes) -> bytes:
    """Truncate, delete a byte, insert junk, or flip a byte at ``position`` (mod length)."""
    if not data:
        return junk
    i = position % len(data)
    if kind == 0:
        return data[:i]
    if kind == 1:
        return data[:i] + data[i + 1 :]
    if kind == 2:
        return data[:i] + junk + data[i:]
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]


def check_assess(source: Any, model: Any) -> None:
    """assess: a RiskReport whose JSON is finite, or a RiskCalcError."""
    try:
        report = riskcalc.assess(source, as_of=TODAY, model=model)
    except RiskCalcError as exc:
        check_error(exc)
        return
    orjson.loads(report.model_dump_json())  # strict JSON: no NaN or Infinity token
    json.dumps(report.to_fhir(), allow_nan=False)  # a NaN/inf float would raise ValueError
