"""A corpus of broken inputs, made here, each with its documented outcome (docs/robustness.md).

Every case ends in a history with the listed warning codes, or an InputError with the listed
code; in a cohort the bad part is reported and the rest goes on.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

import riskcalc
from riskcalc.config import Limits
from riskcalc.errors import InputError
from riskcalc.history import AtRiskBasis, PatientHistory, ReadFailure

TODAY = dt.date(2026, 11, 30)
SNOMED, LOINC = "http://snomed.info/sct", "http://loinc.org"


def patient(pid: str = "p1", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1960-01-01", **extra}


def cancer(pid: str = "p1", rid: str = "c1", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": SNOMED, "code": "254837009"}]},
        "onsetDateTime": "2015-01-01",
        "abatementDateTime": "2016-01-01",
        **extra,
    }


def covid(pid: str = "p1", rid: str = "v1", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": SNOMED, "code": "840539006"}]},
        "onsetDateTime": "2020-03-01",
        **extra,
    }


def il6(value: Any, unit: str = "pg/mL") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "il6",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "26881-3"}]},
        "effectiveDateTime": "2020-03-02",
        "valueQuantity": {"value": value, "unit": unit},
    }


def bundle(*resources: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def raw(value: Any) -> bytes:
    return orjson.dumps(value)


GOOD = raw(bundle(patient(), cancer()))

# (name, input bytes, expected error code or None, expected warning codes on the one history)
ERRORS: list[tuple[str, bytes, str]] = [
    ("truncated", GOOD[: len(GOOD) // 2], "input.json_syntax"),
    ("empty", b"", "input.json_syntax"),
    ("megabytes of whitespace", b" \n\t" * 1_000_000, "input.json_syntax"),
    ("NaN literal", GOOD.replace(b'"1960-01-01"', b"NaN"), "input.json_syntax"),
    ("Infinity literal", GOOD.replace(b'"1960-01-01"', b"Infinity"), "input.json_syntax"),
    (
        "number beyond double",
        raw(bundle(patient(), il6(1))).replace(b":1,", b":1e400,"),
        "input.json_syntax",
    ),
    ("integer of 400 digits", GOOD.replace(b'"1960-01-01"', b"1" * 400), "input.json_syntax"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "input.too_deep"),
    ("latin-1 bytes", GOOD.replace(b"1960", b"19\xe90"), "input.encoding"),
    ("UTF-16", GOOD.decode().encode("utf-16"), "input.encoding"),
    ("lone surrogate escape", GOOD.replace(b'"p1"', b'"\\ud800"', 1), "input.json_syntax"),
    ("top-level null", b"null", "input.not_fhir"),
    ("top-level number", b"42", "input.not_fhir"),
    ("top-level string", b'"Patient"', "input.not_fhir"),
    ("top-level array of resources", raw([patient()]), "input.not_fhir"),
    ("object without resourceType", raw({"id": "p1"}), "input.not_fhir"),
    ("resourceType not a string", raw({"resourceType": 5}), "input.not_fhir"),
    ("no patient", raw(bundle(cancer())), "input.no_patient"),
    (
        "entry not a list",
        raw({"resourceType": "Bundle", "entry": {"resource": patient()}}),
        "input.no_patient",
    ),
    ("two patients, no id asked", raw(bundle(patient(), patient("p2"))), "input.several_patients"),
]


@pytest.mark.parametrize(("name", "data", "code"), ERRORS, ids=[e[0] for e in ERRORS])
def test_broken_input_raises_its_code(name: str, data: bytes, code: str) -> None:
    with pytest.raises(InputError) as info:
        riskcalc.read_history(data, today=TODAY)
    assert info.value.code == code, info.value
    assert info.value.message


HISTORIES: list[tuple[str, Any, set[str]]] = [
    ("UTF-8 byte-order mark accepted", b"\xef\xbb\xbf" + GOOD, set()),
    # what open(path, encoding="utf-8").read() gives for a file written with a BOM
    ("text with a byte-order mark accepted", "\ufeff" + GOOD.decode(), set()),
    (
        "wrong type: Condition.code a string",
        bundle(patient(), cancer(code="cancer")),
        {"resource.skipped_invalid", "cancer.none"},
    ),
    (
        "wrong type: coding a string",
        bundle(patient(), cancer(code={"coding": "x"})),
        {"resource.skipped_invalid", "cancer.none"},
    ),
    (
        "wrong type: stage a string",
        bundle(patient(), cancer(stage="II")),
        {"resource.skipped_invalid", "cancer.none"},
    ),
    (
        "wrong type: onset a number",
        bundle(patient(), cancer(onsetDateTime=2015, abatementDateTime=None)),
        {"date.invalid", "cancer.no_onset"},
    ),
    (
        "wrong type: birthDate a list",
        bundle(patient(birthDate=["1960"]), cancer()),
        {"resource.skipped_invalid"},
    ),
    (
        "wrong type: subject a string",
        bundle(patient(), cancer(subject="Patient/p1")),
        {"resource.unresolved_subject", "cancer.none"},
    ),
    (
        "wrong type: reference a number",
        bundle(patient(), cancer(subject={"reference": 5})),
        {"resource.unresolved_subject", "cancer.none"},
    ),
    (
        "wrong type: Encounter.type a number (was a TypeError)",
        bundle(
            patient(),
            cancer(),
            covid(),
            {
                "resourceType": "Encounter",
                "id": "e",
                "status": "finished",
                "subject": {"reference": "Patient/p1"},
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "type": 5,
                "location": 7,
                "period": {"start": "2020-03-01"},
            },
        ),
        {"resource.skipped_invalid", "infection.unknown_severity"},
    ),
    (
        "wrong type: interpretation a number (was a TypeError)",
        bundle(
            patient(),
            cancer(),
            {
                "resourceType": "Observation",
                "id": "t",
                "status": "final",
                "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": LOINC, "code": "94500-6"}]},
                "effectiveDateTime": "2020-03-01",
                "interpretation": 5,
            },
        ),
        set(),
    ),
    (
        "wrong type: IL-6 value a string",
        bundle(patient(), cancer(), covid(), il6("12")),
        {"il6.value_invalid", "infection.unknown_severity"},
    ),
    (
        "IL-6 negative",
        bundle(patient(), cancer(), covid(), il6(-5)),
        {"il6.value_invalid", "infection.unknown_severity"},
    ),
    (
        "IL-6 overflows to infinity in pg/mL",
        bundle(patient(), cancer(), covid(), il6(1e308, "ng/mL")),
        {"il6.value_invalid", "infection.unknown_severity"},
    ),
    (
        "IL-6 unit unknown",
        bundle(patient(), cancer(), covid(), il6(5, "mg/dL")),
        {"il6.unit_unknown", "infection.unknown_severity"},
    ),
    (
        "unknown resourceType",
        bundle(
            patient(), cancer(), {"resourceType": "Foo", "subject": {"reference": "Patient/p1"}}
        ),
        {"resource.unknown_type"},
    ),
    (
        "missing resource ids",
        bundle(patient(), {**cancer(), "id": None}, {**covid(), "id": None}),
        {"infection.unknown_severity"},
    ),
    (
        "missing subject",
        bundle(patient(), {k: v for k, v in cancer().items() if k != "subject"}),
        {"resource.unresolved_subject", "cancer.none"},
    ),
    (
        "reference to another patient",
        bundle(patient(), cancer(), cancer("ghost", "c2")),
        {"resource.other_patient"},
    ),
    (
        "date malformed",
        bundle(patient(), cancer(abatementDateTime="2016-02-30")),
        {"resource.skipped_invalid", "cancer.none"},
    ),
    (
        "date in the future",
        bundle(patient(), cancer(abatementDateTime="2999-01-01")),
        {"date.invalid", "cancer.active_without_end"},
    ),
    (
        "date before birth",
        bundle(patient(), cancer(onsetDateTime="1950-01-01", abatementDateTime=None)),
        {"date.invalid", "cancer.no_onset"},
    ),
    ("partial date", bundle(patient(), cancer(abatementDateTime="2016")), {"date.partial"}),
    (
        "year 0",
        bundle(patient(), cancer(abatementDateTime="0000-01-01")),
        {"resource.skipped_invalid", "cancer.none"},
    ),
    ("duplicate resources", bundle(patient(), cancer(), cancer()), {"resource.duplicate"}),
    (
        "duplicate patient",
        bundle(patient(), patient(gender="male"), cancer()),
        {"resource.duplicate"},
    ),
    (
        "entry not an object",
        {
            **bundle(patient(), cancer()),
            "entry": [{"resource": patient()}, {"resource": cancer()}, "junk"],
        },
        {"resource.skipped_invalid"},
    ),
    (
        "entered in error",
        bundle(
            patient(),
            cancer(),
            covid(verificationStatus={"coding": [{"code": "entered-in-error"}]}),
        ),
        {"resource.entered_in_error"},
    ),
]


@pytest.mark.parametrize(("name", "source", "codes"), HISTORIES, ids=[h[0] for h in HISTORIES])
def test_broken_input_gives_history_with_warnings(name: str, source: Any, codes: set[str]) -> None:
    h = riskcalc.read_history(source, today=TODAY)
    assert {w.code for w in h.warnings} == codes
    assert all(w.message for w in h.warnings)
    # the same input through read_histories: the same one history
    assert list(riskcalc.read_histories(source, today=TODAY)) == [h]


def test_mcode_cancer_without_onset_is_warned_not_silent() -> None:
    h = riskcalc.read_history(
        bundle(patient(), cancer(onsetDateTime=None, abatementDateTime=None)), today=TODAY
    )
    assert h.at_risk_start_basis is AtRiskBasis.NONE
    [w] = [w for w in h.warnings if w.code == "cancer.no_onset"]
    assert w.source == "Condition/c1"


def test_malformed_date_does_not_hide_last_contact() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"text": "weight"},
    }
    h = riskcalc.read_history(
        bundle(
            patient(),
            cancer(),
            {**obs, "id": "o1", "effectiveDateTime": "2025-99-99"},
            {**obs, "id": "o2", "effectiveDateTime": "2024-05-01"},
        ),
        today=TODAY,
    )
    assert h.last_contact == dt.date(2024, 5, 1)


def test_il6_infinity_never_reaches_the_history() -> None:
    h = riskcalc.read_history(bundle(patient(), covid(), il6(1e308, "ng/mL")), today=TODAY)
    assert [e.il6_peak_pg_ml for e in h.infections] == [None]


def test_nan_in_a_dict_source_is_not_used() -> None:
    h = riskcalc.read_history(bundle(patient(), covid(), il6(float("nan"))), today=TODAY)
    assert [e.il6_peak_pg_ml for e in h.infections] == [None]
    assert "resource.skipped_invalid" in {w.code for w in h.warnings}


def test_resources_without_id_are_used_and_named_with_a_question_mark() -> None:
    h = riskcalc.read_history(bundle(patient(), {**cancer(), "id": None}), today=TODAY)
    assert h.cancers[0].sources == ("Condition/?",)


def test_bundle_mixing_two_patients_keeps_them_apart() -> None:
    src = bundle(patient(), patient("p2"), cancer(), covid("p2"))
    out = list(riskcalc.read_histories(src, today=TODAY))
    assert [h.patient_id for h in out if isinstance(h, PatientHistory)] == ["p1", "p2"]
    h1, h2 = out
    assert isinstance(h1, PatientHistory) and isinstance(h2, PatientHistory)
    assert h1.cancers and not h1.infections
    assert h2.infections and not h2.cancers
    assert riskcalc.read_history(src, patient_id="p2", today=TODAY) == h2


def test_no_patient_source_is_reported_with_its_warnings() -> None:
    src = bundle({k: v for k, v in cancer().items() if k != "subject"}, "junk")
    [f] = riskcalc.read_histories(src, today=TODAY)
    assert isinstance(f, ReadFailure)
    assert (f.code, f.patient_id, f.location) == ("input.no_patient", None, "<dict>")
    assert {w.code for w in f.warnings} == {
        "resource.unresolved_subject",
        "resource.skipped_invalid",
    }


def test_administrative_only_file_is_not_a_failure() -> None:
    src = bundle({"resourceType": "Organization", "id": "o"})
    assert list(riskcalc.read_histories(src, today=TODAY)) == []


# --- cohorts: the bad part is reported, the rest goes on -------------------------------------


def _ndjson(*values: Any) -> bytes:
    return b"".join(orjson.dumps(v) + b"\n" for v in values)


def test_ndjson_with_garbage_line_in_the_middle(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(
        _ndjson(patient("p1"), patient("p2"))
        + b'{"resourceType": "Patient", "id": "p3", \n'  # truncated line
        + b"\x00\xff garbage\n"
        + _ndjson(patient("p4"))
    )
    (folder / "Condition.ndjson").write_bytes(_ndjson(cancer("p1"), cancer("p4", "c4")))
    out = list(riskcalc.read_histories(folder, today=TODAY))
    histories = [h for h in out if isinstance(h, PatientHistory)]
    assert [h.patient_id for h in histories] == ["p1", "p2", "p4"]
    for h in histories:
        bad = sorted(w.source or "" for w in h.warnings if w.code == "ndjson.bad_line")
        assert bad == [f"{folder / 'Patient.ndjson'}:3", f"{folder / 'Patient.ndjson'}:4"]
    assert len(histories[0].cancers) == len(histories[2].cancers) == 1


def test_folder_of_bundles_with_every_kind_of_broken_file(tmp_path: Path) -> None:
    good = [bundle(patient(f"g{i}"), cancer(f"g{i}")) for i in range(3)]
    for i, b in enumerate(good):
        (tmp_path / f"good{i}.json").write_bytes(raw(b))
    (tmp_path / "truncated.json").write_bytes(GOOD[:50])
    (tmp_path / "empty.json").write_bytes(b"")
    latin1 = GOOD.replace(b"1960", b"19\xe90")
    (tmp_path / "latin1.json").write_bytes(latin1)
    accented = latin1.index(b"\xe9") + 1  # where the encoding error points
    (tmp_path / "null.json").write_bytes(b"null")
    (tmp_path / "nopatient.json").write_bytes(raw(bundle(cancer())))
    (tmp_path / "corrupt.json.gz").write_bytes(gzip.compress(GOOD)[:-12])
    (tmp_path / "notgzip.json.gz").write_bytes(GOOD)
    (tmp_path / "corrupt.json.bz2").write_bytes(bz2.compress(GOOD)[:20])
    (tmp_path / "deep.json").write_bytes(b"[" * 200 + b"]" * 200)
    (tmp_path / "two.json").write_bytes(raw(bundle(patient("t1"), patient("t2"))))
    out = list(riskcalc.read_histories(tmp_path, today=TODAY))
    failures = sorted(
        (Path(f.location or "").name, f.code) for f in out if isinstance(f, ReadFailure)
    )
    assert failures == [
        ("corrupt.json.bz2", "input.decompression"),
        ("corrupt.json.gz", "input.decompression"),
        ("deep.json", "input.too_deep"),
        ("empty.json:1:1", "input.json_syntax"),
        (f"latin1.json:1:{accented}", "input.encoding"),
        ("nopatient.json", "input.no_patient"),
        ("notgzip.json.gz", "input.decompression"),
        ("null.json", "input.not_fhir"),
        ("truncated.json:1:51", "input.json_syntax"),
    ]
    ids = [h.patient_id for h in out if isinstance(h, PatientHistory)]
    assert ids == ["g0", "g1", "g2", "t1", "t2"]


def test_patient_over_the_resource_limit_is_one_failure_and_the_rest_goes_on() -> None:
    src = bundle(patient("p1"), patient("p2"), *[cancer("p1", f"c{i}") for i in range(5)])
    out = list(
        riskcalc.read_histories(src, today=TODAY, limits=Limits(max_resources_per_patient=3))
    )
    assert [(type(x).__name__, x.patient_id) for x in out] == [
        ("ReadFailure", "p1"),
        ("PatientHistory", "p2"),
    ]
    assert isinstance(out[0], ReadFailure) and out[0].code == "input.too_many_resources"


def test_limits_refuse_before_parsing() -> None:
    with pytest.raises(InputError) as info:
        riskcalc.read_history(GOOD, limits=Limits(max_bytes=10), today=TODAY)
    assert info.value.code == "input.too_large"
    with pytest.raises(InputError) as info:
        riskcalc.read_history(bundle(patient()), limits=Limits(max_depth=2), today=TODAY)
    assert info.value.code == "input.too_deep"


def test_bundles_nested_past_the_recursion_limit_with_raised_limits() -> None:
    # was a RecursionError: Bundles in entries were opened recursively
    b: dict[str, Any] = patient()
    for _ in range(3000):
        b = {"resourceType": "Bundle", "entry": [{"resource": b}, "junk"]}
    h = riskcalc.read_history(b, limits=Limits(max_depth=100_000), today=TODAY)
    assert h.patient_id == "p1"
    skipped = [w for w in h.warnings if w.code == "resource.skipped_invalid"]
    assert len(skipped) == 51  # 50 listed, the other 2,950 counted in one
    assert any(w.message.startswith("2950 more") for w in skipped)


def test_nesting_past_the_parser_limit_is_too_deep_not_a_syntax_error() -> None:
    with pytest.raises(InputError) as info:
        riskcalc.read_history(b"[" * 2000 + b"]" * 2000, limits=Limits(max_depth=100_000))
    assert info.value.code == "input.too_deep"


def test_entries_keep_document_order() -> None:
    src = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": patient()},
            {"resource": {"resourceType": "Bundle", "entry": [{"resource": cancer(rid="a")}]}},
            {"resource": cancer(rid="a", onsetDateTime="2014-01-01")},
        ],
    }
    h = riskcalc.read_history(src, today=TODAY)
    # the first copy in document order (inside the nested Bundle) is the one kept
    assert h.cancers[0].onset == dt.date(2015, 1, 1)
    assert "resource.duplicate" in {w.code for w in h.warnings}


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("x" * 300, "input.not_found"),  # was OSError: file name too long
        (Path("x" * 300 + ".json"), "input.not_found"),
        ("abc\x00def", "input.not_found"),
        ("", "input.json_syntax"),  # was: the current directory read as a folder
        ("  \t ", "input.json_syntax"),
        (Path("/definitely/not/here.json"), "input.not_found"),
        (Path(__file__), "input.unsupported_source"),
        ([patient()], "input.unsupported_source"),
        (None, "input.unsupported_source"),
    ],
    ids=[
        "long name",
        "long path",
        "NUL",
        "empty str",
        "blank str",
        "missing",
        "py",
        "list",
        "None",
    ],
)
def test_odd_sources_raise_their_code(source: Any, code: str) -> None:
    with pytest.raises(InputError) as info:
        riskcalc.read_history(source, today=TODAY)
    assert info.value.code == code
    with pytest.raises(InputError):
        list(riskcalc.read_histories(source, today=TODAY))


def test_issue_amplification_is_capped_per_code(tmp_path: Path) -> None:
    # 2 MB of junk entries gave a million warnings on the history (50 s, 850 MB): now capped
    n = 200_000
    data = b'{"resourceType":"Bundle","entry":[{"resource":' + raw(patient()) + b"},"
    data += b",".join([b"1"] * n) + b"]}"
    h = riskcalc.read_history(data, today=TODAY)
    skipped = [w for w in h.warnings if w.code == "resource.skipped_invalid"]
    assert len(skipped) == 51
    assert any(str(n - 50) in w.message for w in skipped)
    # NDJSON: 500 garbage lines, two patients: each history lists 50 and counts the rest
    lines = _ndjson(patient("p1")) + b"bad line\n" * 500 + _ndjson(patient("p2"))
    (tmp_path / "Patient.ndjson").write_bytes(lines)
    out = list(riskcalc.read_histories(tmp_path, today=TODAY))
    assert [h.patient_id for h in out] == ["p1", "p2"]
    for h in out:
        assert isinstance(h, PatientHistory)
        bad = [w for w in h.warnings if w.code == "ndjson.bad_line"]
        assert len(bad) == 51
        assert sum(w.source is None for w in bad) == 1


def test_truncated_ndjson_lines_do_not_add_up_to_too_deep(tmp_path: Path) -> None:
    cut = raw(cancer())[:60]  # '{"resourceType":…,"subject":{"reference":' : depth 2
    lines = []
    for i in range(100):
        lines.append(raw(patient(f"p{i}")))
        if i < 40:
            lines.append(cut)
    (tmp_path / "Patient.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    out = list(riskcalc.read_histories(tmp_path, today=TODAY))
    assert sum(isinstance(h, PatientHistory) for h in out) == 100
    # each truncated line is its own bad line, not part of a file too deep
    bad = [w for w in out[0].warnings if w.code == "ndjson.bad_line"]
    assert len(bad) == 40 and all(w.message.startswith("not JSON") for w in bad)
