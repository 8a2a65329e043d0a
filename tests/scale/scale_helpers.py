"""Cohorts and a synchronous stand-in for a Dask client, for the Dask engine's tests.

Imported by conftest.py (fixtures) and by the test modules (helpers): tests/ is not a package."""

from __future__ import annotations

import bz2
import datetime as dt
from pathlib import Path
from typing import Any

import orjson

TODAY = dt.date(2026, 11, 1)


class _Done:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value

    def release(self) -> None:
        pass

    def add_done_callback(self, callback: Any) -> None:
        callback(self)  # done from the start


class SyncClient:
    """Runs every task at once in this process: the engine's logic without a cluster."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def _resolve(self, arg: Any) -> Any:
        if isinstance(arg, _Done):
            return arg.value
        if isinstance(arg, list):
            return [self._resolve(a) for a in arg]
        return arg

    def submit(self, func: Any, *args: Any, key: str, **_: Any) -> _Done:
        assert key not in self.keys, f"key {key} submitted twice"
        self.keys.append(key)
        return _Done(func(*(self._resolve(a) for a in args)))

    def gather(self, futures: list[_Done]) -> list[Any]:
        return [f.value for f in futures]

    def scheduler_info(self) -> dict[str, Any]:
        return {"workers": {"w1": {}, "w2": {}}}

    def run(self, func: Any, *args: Any, **_: Any) -> dict[str, Any]:
        """``func(*args)`` "on every worker": here, once per worker name."""
        return {w: func(*args) for w in self.scheduler_info()["workers"]}


def _lines(*resources: Any) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in resources)


def _condition(cid: str, ref: dict[str, Any], code: str = "254637007") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
        "onsetDateTime": "2019-03-01",
        **ref,
    }


def make_edge_folder(tmp_path: Path, fixtures: Path) -> Path:
    """A folder with what makes grouping across files hard, and a Bundle beside the NDJSON.

    BOM, bad lines, a duplicate Patient, references as ``Patient/x``, ``urn:uuid:x``, absolute
    URLs with ``_history``, to a patient not in the input, none at all, a reference chain
    (``subject`` to a Group, ``patient`` to a Patient), a shared Medication, an export log, a
    line too deep (and unbalanced lines that would be only if counted across lines), and a
    Synthea Bundle.
    """
    root = tmp_path / "cohort"
    root.mkdir()
    patients = [
        {
            "resourceType": "Patient",
            "id": f"p{i}",
            "gender": "female",
            "birthDate": "1950-01-0" + str(i),
        }
        for i in range(1, 7)
    ]
    (root / "Patient.ndjson").write_bytes(
        b"\xef\xbb\xbf"
        + _lines(*patients[:3])
        + b"{not json\n\n"
        + b'{"no": "resourceType"}\n'
        + _lines(*patients[3:], {**patients[1], "gender": "male"})
    )
    conditions = [
        _condition("c1", {"subject": {"reference": "Patient/p1"}}),
        _condition("c2", {"subject": {"reference": "urn:uuid:p2"}}),
        _condition("c3", {"subject": {"reference": "http://x.org/fhir/Patient/p3/_history/2"}}),
        _condition("c4", {"subject": {"reference": "Patient/ghost"}}),
        _condition("c5", {"subject": {"reference": "Patient/ghost2"}}),
        _condition("c6", {}),
        _condition(
            "c7",
            {"subject": {"reference": "Group/g"}, "patient": {"reference": "Patient/p4"}},
        ),
        _condition("c1", {"subject": {"reference": "Patient/p1"}}),  # duplicate
        *[
            _condition(f"d{i}", {"subject": {"reference": f"Patient/p{1 + i % 6}"}})
            for i in range(40)
        ],
    ]
    (root / "Condition.ndjson").write_bytes(_lines(*conditions))
    (root / "Medication.ndjson").write_bytes(
        _lines({"resourceType": "Medication", "id": "m1", "code": {"text": "anastrozole"}})
    )
    (root / "MedicationRequest.ndjson").write_bytes(
        _lines(
            *[
                {
                    "resourceType": "MedicationRequest",
                    "id": f"mr{i}",
                    "status": "active",
                    "intent": "order",
                    "medicationReference": {"reference": "Medication/m1"},
                    "subject": {"reference": f"Patient/p{i}"},
                    "authoredOn": "2020-01-01",
                }
                for i in range(1, 5)
            ]
        )
    )
    (root / "log.ndjson").write_bytes(_lines({"type": "export", "ok": True}))
    # unbalanced lines (40 and 30 open brackets: deeper than 64 only if counted across lines,
    # which the depth limit is not) and one line really too deep (70)
    (root / "deep.ndjson").write_bytes(
        b"[" * 40
        + b"\n"
        + _lines(*[_condition(f"z{i}", {}) for i in range(30)])
        + b"[" * 30
        + b"\n"
        + b"[" * 70
        + b"]" * 70
        + b"\n"
    )
    bundle = next(
        p for p in sorted((fixtures / "synthea-blaze").glob("*.json.bz2")) if p.name[0] != "0"
    )
    (root / "a-bundle.json").write_bytes(bz2.decompress(bundle.read_bytes()))
    return root


def with_split_records(folder: Path, fixtures: Path) -> Path:
    """``folder`` with real records split over JSON files beside its own: the HL7 v2 message
    Bundles (two patients over several messages) and the mCODE documents (one patient in
    three)."""
    import shutil

    for name in ("nimbus/hl7v2-messages", "mcode"):
        shutil.copytree(fixtures / name, folder / name.replace("/", "-"))
    return folder


def bundle_of_patient(patient_id: str | None) -> bytes:
    """A Bundle of one Patient (None: a Patient without an id, named by its place)."""
    patient: dict[str, Any] = {"resourceType": "Patient", "birthDate": "1950-01-01"}
    if patient_id is not None:
        patient["id"] = patient_id
    return orjson.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    )


def tile_bulk(src: Path, out: Path, copies: int, *, skip: tuple[str, ...] = ()) -> Path:
    """``copies`` copies of a Bulk Data export's patients under new ids (``<id>-<k>``)."""
    out.mkdir(parents=True, exist_ok=True)
    ids = [
        orjson.loads(line)["id"]
        for line in (src / "Patient.000.ndjson").read_bytes().splitlines()
        if line.strip()
    ]
    for path in sorted(src.glob("*.ndjson")):
        if path.name.startswith(skip):
            continue
        data = path.read_bytes()
        with (out / path.name).open("wb") as fh:
            for k in range(copies):
                chunk = data
                for pid in ids:
                    chunk = chunk.replace(pid.encode(), f"{pid}-{k}".encode())
                fh.write(chunk if chunk.endswith(b"\n") else chunk + b"\n")
    return out
