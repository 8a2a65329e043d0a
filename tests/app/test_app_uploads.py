"""AppTest: opening uploaded FHIR files (one patient, several, broken) on the patient page."""

from __future__ import annotations

import bz2
import json
from pathlib import Path

from app_helpers import (
    SYNTHEA,
    _app,
    _charts,
    _run,
    _texts,
)
from streamlit.testing.v1 import AppTest


def _upload(at: AppTest, name: str, data: bytes, mime: str = "application/json") -> AppTest:
    at.sidebar.radio(key="source").set_value("Upload a FHIR file")
    _run(at)
    at.sidebar.file_uploader(key="upload").set_value((name, data, mime))
    return _run(at)


def test_upload_a_synthea_bundle(fixtures: Path) -> None:
    data = bz2.decompress((fixtures / SYNTHEA).read_bytes())
    at = _upload(_app(), "patient.json", data)
    text = _texts(at)
    assert "Patient ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7" in text
    assert any("Infection timeline" in s for s in _charts(at))


def test_upload_broken_json_shows_the_error_code(fixtures: Path) -> None:
    data = (fixtures / "invalid" / "bad-json-close-1.json").read_bytes()
    at = _upload(_app(), "bad.json", data)
    assert any("input.json_syntax" in e.value for e in at.error)
    assert not _charts(at)


def test_upload_with_several_patients_offers_a_choice(fixtures: Path) -> None:
    folder = fixtures / "smart-bulk-10"
    data = b"".join(
        (folder / f"{t}.000.ndjson").read_bytes() for t in ("Patient", "Condition", "Immunization")
    )
    at = _upload(_app(), "cohort.ndjson", data, "application/x-ndjson")
    pick = at.sidebar.selectbox(key="patient_pick")
    ids = [
        json.loads(line)["id"] for line in (folder / "Patient.000.ndjson").read_text().splitlines()
    ]
    assert sorted(pick.options) == sorted(ids)
    pick.set_value(ids[3])
    _run(at)
    assert f"Patient {ids[3]}" in _texts(at)


def test_upload_errors_name_the_uploaded_file() -> None:
    # QA: "the input holds no Patient resource (at <bytes>)"
    no_patient = (
        b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        b'{"resourceType": "Condition", "id": "c", "code": {"text": "x"}}}]}'
    )
    at = _upload(_app(), "ward-7.json", no_patient)
    (error,) = [e.value for e in at.error]
    assert "input.no_patient" in error
    assert r"(at ward\-7\.json)" in error  # Markdown-escaped, as every quoted input
    assert "bytes" not in error
