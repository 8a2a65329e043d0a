"""A patient whose record spans several files of a folder is read as one record by
``read_history``: Bundle pages that each carry the Patient, and pages that only refer to it.
A cohort read (``read_histories``) gives each patient once: a later file holding a patient
already read is an ``input.patient_repeated`` failure, not a second, partial patient."""

from __future__ import annotations

import bz2
import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riskcalc
from riskcalc.errors import InputError

TODAY = dt.date(2026, 11, 30)
AD0 = "ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7"


@pytest.fixture(scope="module")
def bundle(fixtures: Path) -> dict[str, Any]:
    data = bz2.decompress((fixtures / "synthea-blaze" / f"{AD0}.json.bz2").read_bytes())
    value: dict[str, Any] = orjson.loads(data)
    return value


def _split(
    bundle: dict[str, Any],
    folder: Path,
    *,
    patient_in_second: bool = True,
    extra_in_second: tuple[Any, ...] = (),
) -> tuple[Path, Path]:
    """The bundle written as two files: the Patient and the first half of the other entries,
    then the second half (with the Patient too, if asked)."""
    entries = bundle["entry"]
    patient = [e for e in entries if e["resource"]["resourceType"] == "Patient"]
    rest = [e for e in entries if e["resource"]["resourceType"] != "Patient"]
    half = len(rest) // 2
    first, second = folder / "a.json", folder / "b.json"
    first.write_bytes(orjson.dumps({**bundle, "entry": patient + rest[:half]}))
    tail = (patient if patient_in_second else []) + rest[half:] + list(extra_in_second)
    second.write_bytes(orjson.dumps({**bundle, "entry": tail}))
    return first, second


def _whole(bundle: dict[str, Any]) -> riskcalc.PatientHistory:
    return riskcalc.read_history(orjson.dumps(bundle), today=TODAY)


def _without_warnings(h: riskcalc.PatientHistory) -> dict[str, Any]:
    return h.model_dump(exclude={"warnings"})


def test_pages_that_each_carry_the_patient_read_as_one_record(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    first, _ = _split(bundle, tmp_path)
    whole = _whole(bundle)
    split = riskcalc.read_history(tmp_path, today=TODAY)
    assert whole.infections and whole.cancers  # the split runs through both
    assert _without_warnings(split) == _without_warnings(whole)
    (duplicate,) = [w for w in split.warnings if w.code == "resource.duplicate"]
    assert duplicate.message == f"Patient/{AD0} appears more than once; the first copy was kept"
    assert duplicate.source is not None and "b.json" in duplicate.source
    # each page alone is only part of the record
    alone = riskcalc.read_history(first, today=TODAY)
    assert _without_warnings(alone) != _without_warnings(whole)


def test_a_page_without_the_patient_is_mixed_into_its_record(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    _split(bundle, tmp_path, patient_in_second=False)  # b.json refers to it by urn:uuid
    whole = _whole(bundle)
    split = riskcalc.read_history(tmp_path, today=TODAY)
    assert _without_warnings(split) == _without_warnings(whole)
    assert {w.code for w in split.warnings} == {w.code for w in whole.warnings}
    assert "resource.other_patient" not in {w.code for w in split.warnings}
    # read file by file, the page without a Patient is a failure that names what it holds
    results = list(riskcalc.read_histories(tmp_path, today=TODAY))
    failures = [r for r in results if isinstance(r, riskcalc.ReadFailure)]
    assert [f.code for f in failures] == ["input.no_patient"]


def test_a_cohort_read_names_the_patient_of_a_page_without_it(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    """read_histories reads each JSON file on its own: the page without the Patient is a
    failure that says whose resources it holds and how to read that record whole."""
    _split(bundle, tmp_path, patient_in_second=False)
    history, failure = list(riskcalc.read_histories(tmp_path, today=TODAY))
    assert isinstance(history, riskcalc.PatientHistory) and isinstance(
        failure, riskcalc.ReadFailure
    )
    assert failure.code == "input.no_patient" and failure.location is not None
    assert failure.location.endswith("b.json")
    assert f"refer to Patient/{AD0}:" in failure.message
    assert f"read_history(folder, patient_id='{AD0}')" in failure.message
    whole = riskcalc.read_history(tmp_path, patient_id=AD0, today=TODAY)
    assert _without_warnings(whole) == _without_warnings(_whole(bundle))


def test_a_cohort_read_gives_a_patient_in_two_files_once(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    """Both pages carry the Patient: the first page's history, then a failure for the second
    that names both files and how to read the record whole; never two partial patients."""
    first, second = _split(bundle, tmp_path)
    history, failure = list(riskcalc.read_histories(tmp_path, today=TODAY))
    assert isinstance(history, riskcalc.PatientHistory)
    assert _without_warnings(history) == _without_warnings(
        riskcalc.read_history(first, today=TODAY)
    )
    assert isinstance(failure, riskcalc.ReadFailure)
    assert (failure.code, failure.patient_id) == ("input.patient_repeated", AD0)
    assert failure.location == str(second) and failure.resource_id == f"Patient/{AD0}"
    assert failure.message.startswith(
        f"Patient/{AD0} was read from {first} already, and {second} holds it too"
    )
    assert f"read_history(source, patient_id='{AD0}')" in failure.message
    # read as the failure says, the record is whole
    whole = riskcalc.read_history(tmp_path, patient_id=AD0, today=TODAY)
    assert _without_warnings(whole) == _without_warnings(_whole(bundle))


def test_a_patient_in_a_bundle_and_in_the_export_beside_it_is_read_once(
    tmp_path: Path,
) -> None:
    """The NDJSON export is read after the JSON files, as one unit: a patient it holds that a
    Bundle of the folder held already is a repeat; the export's other patients read as ever."""
    patient = {"resourceType": "Patient", "id": "q1", "birthDate": "1960-01-01"}
    other = {"resourceType": "Patient", "id": "q2", "birthDate": "1961-01-01"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    (tmp_path / "q1.json").write_bytes(orjson.dumps(bundle))
    (tmp_path / "Patient.ndjson").write_bytes(orjson.dumps(patient) + b"\n" + orjson.dumps(other))
    results = list(riskcalc.read_histories(tmp_path))
    got = [(r.patient_id, type(r).__name__) for r in results]
    assert got == [("q1", "PatientHistory"), ("q1", "ReadFailure"), ("q2", "PatientHistory")]
    repeat = results[1]
    assert isinstance(repeat, riskcalc.ReadFailure)
    assert repeat.code == "input.patient_repeated" and repeat.location == str(tmp_path)


def test_resources_of_a_patient_in_no_file_stay_counted(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    stranger = {
        "fullUrl": "urn:uuid:someone-else-condition",
        "resource": {
            "resourceType": "Condition",
            "id": "someone-else-condition",
            "code": {"text": "Asthma"},
            "subject": {"reference": "Patient/someone-else"},
        },
    }
    _split(bundle, tmp_path, patient_in_second=False, extra_in_second=(stranger,))
    split = riskcalc.read_history(tmp_path, today=TODAY)
    whole = _whole(bundle)
    assert _without_warnings(split) == _without_warnings(whole)
    (other,) = [w for w in split.warnings if w.code == "resource.other_patient"]
    assert other.message.startswith("1 resource(s) refer to patients not in this input")
    assert "Patient/someone-else" in other.message and AD0 not in other.message


def test_two_patients_are_counted_once_each(bundle: dict[str, Any], tmp_path: Path) -> None:
    _split(bundle, tmp_path)
    other = {"resourceType": "Patient", "id": "p2", "birthDate": "1950-01-01"}
    entry = {"fullUrl": "urn:uuid:p2", "resource": other}
    for name in ("c.json", "d.json"):  # the second patient in two files too
        (tmp_path / name).write_bytes(orjson.dumps({**bundle, "entry": [entry]}))
    with pytest.raises(InputError) as err:
        riskcalc.read_history(tmp_path, today=TODAY)
    assert err.value.code == "input.several_patients"
    assert err.value.message.startswith(f"the input holds 2 patients ({AD0}, p2)")
    chosen = riskcalc.read_history(tmp_path, patient_id=AD0, today=TODAY)
    whole = _whole(bundle)
    assert _without_warnings(chosen) == _without_warnings(whole)
    assert riskcalc.read_history(tmp_path, patient_id="p2", today=TODAY).patient_id == "p2"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_split_over_files_reads_as_the_whole_record(
    data: st.DataObject, bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Entries dealt out to 1-4 files at random, the Patient in a random non-empty set of them:
    the history is the one Bundle's, warnings aside."""
    folder = tmp_path_factory.mktemp("split")
    entries = bundle["entry"]
    n_files = data.draw(st.integers(1, 4), label="files")
    holders = data.draw(
        st.sets(st.integers(0, n_files - 1), min_size=1), label="files with the Patient"
    )
    files: list[list[Any]] = [[] for _ in range(n_files)]
    for entry in entries:
        if entry["resource"]["resourceType"] == "Patient":
            for k in sorted(holders):
                files[k].append(entry)
        else:
            files[data.draw(st.integers(0, n_files - 1))].append(entry)
    for k, part in enumerate(files):
        (folder / f"part{k}.json").write_bytes(orjson.dumps({**bundle, "entry": part}))
    split = riskcalc.read_history(folder, today=TODAY)
    assert _without_warnings(split) == _without_warnings(_whole(bundle))
    duplicates = [w for w in split.warnings if w.message.startswith(f"Patient/{AD0} appears")]
    assert len(duplicates) == len(holders) - 1


# --- whole_records: a cohort read that reads split records whole ----------------------------


def test_a_cohort_read_with_whole_records_reads_the_split_record_whole(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    """Both pages carry the Patient, and a third file holds another patient: one history of
    the whole record, in the place of its first file, and the other patient as ever."""
    _split(bundle, tmp_path)
    other = {"resourceType": "Patient", "id": "p2", "birthDate": "1950-01-01"}
    (tmp_path / "c.json").write_bytes(orjson.dumps(other))
    results = list(riskcalc.read_histories(tmp_path, today=TODAY, whole_records=True))
    assert [(r.patient_id, type(r).__name__) for r in results] == [
        (AD0, "PatientHistory"),
        ("p2", "PatientHistory"),
    ]
    whole = results[0]
    assert isinstance(whole, riskcalc.PatientHistory)
    assert _without_warnings(whole) == _without_warnings(_whole(bundle))
    # the same history as read_history of that patient, warnings included
    assert whole == riskcalc.read_history(tmp_path, patient_id=AD0, today=TODAY)


def test_whole_records_mixes_in_a_page_without_the_patient(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    """The second page only refers to the patient (by urn:uuid): it is no longer a failure of
    its own but part of the record."""
    _split(bundle, tmp_path, patient_in_second=False)
    (history,) = list(riskcalc.read_histories(tmp_path, today=TODAY, whole_records=True))
    assert isinstance(history, riskcalc.PatientHistory)
    assert _without_warnings(history) == _without_warnings(_whole(bundle))
    assert "resource.other_patient" not in {w.code for w in history.warnings}


def test_whole_records_links_files_through_shared_patients(tmp_path: Path) -> None:
    """a.json and b.json share p1, b.json and c.json share p2: one unit of three files, read
    in the place of a.json, before d.json; a file that only refers to a patient no file holds
    links nothing and stays a failure."""

    def bundle_of(*resources: dict[str, Any]) -> bytes:
        entries = [{"resource": r} for r in resources]
        return orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries})

    def patient(pid: str) -> dict[str, Any]:
        return {"resourceType": "Patient", "id": pid, "birthDate": "1960-01-01"}

    def condition(cid: str, pid: str) -> dict[str, Any]:
        return {
            "resourceType": "Condition",
            "id": cid,
            "code": {"text": "Asthma"},
            "subject": {"reference": f"Patient/{pid}"},
        }

    (tmp_path / "a.json").write_bytes(bundle_of(patient("p1")))
    (tmp_path / "b.json").write_bytes(bundle_of(condition("c1", "p1"), patient("p2")))
    (tmp_path / "c.json").write_bytes(bundle_of(condition("c2", "p2"), condition("c3", "p1")))
    (tmp_path / "d.json").write_bytes(bundle_of(patient("p0")))
    (tmp_path / "e.json").write_bytes(bundle_of(condition("c9", "nobody")))
    split = list(riskcalc.read_histories(tmp_path, today=TODAY))
    assert [(r.patient_id, type(r).__name__) for r in split] == [
        ("p1", "PatientHistory"),
        ("p2", "PatientHistory"),
        (None, "ReadFailure"),  # c.json: no Patient
        ("p0", "PatientHistory"),
        (None, "ReadFailure"),  # e.json
    ]
    whole = list(riskcalc.read_histories(tmp_path, today=TODAY, whole_records=True))
    assert [(r.patient_id, type(r).__name__) for r in whole] == [
        ("p1", "PatientHistory"),
        ("p2", "PatientHistory"),
        ("p0", "PatientHistory"),
        (None, "ReadFailure"),
    ]
    for r in whole[:2]:
        assert isinstance(r, riskcalc.PatientHistory)
        one = riskcalc.read_history(tmp_path, patient_id=r.patient_id, today=TODAY)
        # read_history(p2) reads b and c, the files that hold or name p2, so p1's resources
        # there are "not in this input"; the linked unit holds p1 too
        assert _without_warnings(r) == _without_warnings(one)
    p2 = whole[1]
    assert isinstance(p2, riskcalc.PatientHistory)
    assert "resource.other_patient" not in {w.code for w in p2.warnings}
    failure = whole[3]
    assert isinstance(failure, riskcalc.ReadFailure) and failure.code == "input.no_patient"
    assert failure.location == str(tmp_path / "e.json")


def test_whole_records_leaves_the_export_its_own_unit(tmp_path: Path) -> None:
    """The NDJSON export is one unit already; a patient both in a Bundle and in the export
    is still read once, the export's part a repeat that says how else to read it."""
    patient = {"resourceType": "Patient", "id": "q1", "birthDate": "1960-01-01"}
    (tmp_path / "q1.json").write_bytes(orjson.dumps(patient))
    (tmp_path / "Patient.ndjson").write_bytes(orjson.dumps(patient) + b"\n")
    results = list(riskcalc.read_histories(tmp_path, whole_records=True))
    assert [(r.patient_id, type(r).__name__) for r in results] == [
        ("q1", "PatientHistory"),
        ("q1", "ReadFailure"),
    ]
    repeat = results[1]
    assert isinstance(repeat, riskcalc.ReadFailure) and "whole_records=True" in repeat.message


def test_whole_records_reports_an_unreadable_file_and_reads_the_rest(
    bundle: dict[str, Any], tmp_path: Path
) -> None:
    """A file that cannot be read is its failure, in its place; the record of the others is
    read whole."""
    _split(bundle, tmp_path)
    (tmp_path / "a2.json").write_bytes(b'{"resourceType": "Bundle", "entry": [')
    results = list(riskcalc.read_histories(tmp_path, today=TODAY, whole_records=True))
    assert [(r.patient_id, type(r).__name__) for r in results] == [
        (AD0, "PatientHistory"),
        (None, "ReadFailure"),
    ]
    assert isinstance(results[1], riskcalc.ReadFailure)
    assert results[1].code == "input.json_syntax"
    assert _without_warnings(results[0]) == _without_warnings(_whole(bundle))


@pytest.mark.parametrize("folder", ["nimbus/hl7v2-messages", "mcode"])
def test_real_records_split_over_files_read_whole(fixtures: Path, folder: str) -> None:
    """Real folders whose records span files: one HL7 v2 message per Bundle, with two patients
    in several messages; an mCODE patient in three documents. Read with whole_records, every
    patient comes out once, as read_history of that patient reads it; without, the later
    parts are repeats."""
    source = fixtures / folder
    split = list(riskcalc.read_histories(source, today=TODAY))
    assert any(
        isinstance(r, riskcalc.ReadFailure) and r.code == "input.patient_repeated" for r in split
    )
    whole = list(riskcalc.read_histories(source, today=TODAY, whole_records=True))
    ids = [r.patient_id for r in whole if isinstance(r, riskcalc.PatientHistory)]
    assert len(ids) == len(set(ids)) == len({r.patient_id for r in split if r.patient_id})
    assert not [r for r in whole if isinstance(r, riskcalc.ReadFailure) and r.patient_id]
    for r in whole:
        if isinstance(r, riskcalc.PatientHistory):
            assert r == riskcalc.read_history(source, patient_id=r.patient_id, today=TODAY)
