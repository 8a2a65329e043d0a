"""The FHIR reader on the real fixtures and on small hand-made inputs."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
from pathlib import Path

import orjson
import pytest

import riskcalc
from riskcalc.config import Limits
from riskcalc.errors import InputError
from riskcalc.history import (
    AtRiskBasis,
    CancerSite,
    OutcomeKind,
    Pathogen,
    PatientHistory,
    ReadFailure,
    Severity,
    TreatmentKind,
)

TODAY = dt.date(2026, 11, 30)
AD0 = "ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7"


@pytest.fixture(scope="module")
def ad0(fixtures: Path) -> PatientHistory:
    return riskcalc.read_history(fixtures / "synthea-blaze" / f"{AD0}.json.bz2", today=TODAY)


def test_ad0_demographics_and_cancer(ad0: PatientHistory) -> None:
    assert ad0.patient_id == AD0
    assert ad0.sex == "male"
    assert ad0.birth_date == dt.date(1962, 10, 3)
    [cancer] = ad0.cancers
    assert cancer.site is CancerSite.COLORECTAL
    assert cancer.onset == dt.date(2013, 11, 22)
    assert cancer.abatement == dt.date(2015, 4, 30)
    assert ad0.at_risk_start == dt.date(2015, 4, 30)
    assert ad0.at_risk_start_basis is AtRiskBasis.ABATEMENT


def test_ad0_one_hospitalised_covid_episode_absorbing_its_records(
    ad0: PatientHistory, fixtures: Path
) -> None:
    [episode] = ad0.infections
    assert episode.pathogen is Pathogen.COVID19
    assert episode.onset == dt.date(2020, 3, 8)
    assert episode.severity is Severity.HOSPITALISED
    bundle = orjson.loads(
        bz2.decompress((fixtures / "synthea-blaze" / f"{AD0}.json.bz2").read_bytes())
    )
    by_code: dict[str, list[str]] = {}
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] in ("Condition", "Observation"):
            code = r["code"]["coding"][0]["code"]
            by_code.setdefault(code, []).append(f"{r['resourceType']}/{r['id']}")
    # suspected COVID-19, COVID-19, pneumonia, and the positive PCR (the first 94531-1)
    for code in ("840544004", "840539006", "233604007"):
        assert set(by_code[code]) <= set(episode.sources), code
    positive = [
        f"Observation/{e['resource']['id']}"
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == "94531-1"
        and e["resource"]["valueCodeableConcept"]["coding"][0]["code"] == "260373001"
    ]
    assert positive and set(positive) <= set(episode.sources)
    # acute viral pharyngitis (2018) is not counted
    assert not set(by_code["195662009"]) & set(ad0.basis)


def test_ad0_json_has_stable_keys(ad0: PatientHistory) -> None:
    data = ad0.model_dump(mode="json")
    for key in (
        "patient_id",
        "birth_date",
        "sex",
        "at_risk_start",
        "at_risk_start_basis",
        "cancers",
        "infections",
        "vaccinations",
        "treatments",
        "outcomes",
        "warnings",
    ):
        assert key in data
    assert set(data["infections"][0]) >= {
        "pathogen",
        "onset",
        "end",
        "severity",
        "il6_peak_pg_ml",
        "il6_blockade",
        "corticosteroids",
        "sources",
    }
    assert data["birth_date"] == "1962-10-03"


def test_breast_cancer_patient(fixtures: Path) -> None:
    h = riskcalc.read_history(
        fixtures / "synthea-blaze" / "dd92a3e7-d1db-c15a-f8fe-e3847b7f07b1.json.bz2", today=TODAY
    )
    [cancer] = h.cancers
    assert cancer.site is CancerSite.BREAST
    assert cancer.onset == dt.date(2014, 12, 6)
    assert cancer.stage == "IIA"  # 'Stage 2A' is the more specific of the two stage results
    # 'Response to cancer treatment: Improving' on 2015-02-16 is the first remission evidence
    assert h.at_risk_start == dt.date(2015, 2, 16)
    assert h.at_risk_start_basis is AtRiskBasis.DISEASE_STATUS
    kinds = {t.kind for t in h.treatments}
    assert {
        TreatmentKind.SURGERY,
        TreatmentKind.RADIOTHERAPY,
        TreatmentKind.ENDOCRINE,
        TreatmentKind.CDK46_INHIBITOR,
    } <= kinds
    radio = [t for t in h.treatments if t.kind is TreatmentKind.RADIOTHERAPY]
    assert len(radio) == 1 and radio[0].start == dt.date(2014, 12, 25)  # daily sessions: one course
    assert h.infections == ()


def test_il6_peak_and_critical_covid(fixtures: Path) -> None:
    h = riskcalc.read_history(
        fixtures / "synthea-blaze" / "9fe7994a-5fec-874c-8452-e45786bcfb0a.json.bz2", today=TODAY
    )
    [episode] = h.infections
    # four IL-6 results 4.9069, 4.5987, 5.7584, 5.5284 pg/mL (2020-03-03..09)
    assert episode.il6_peak_pg_ml == pytest.approx(5.7584)
    critical = riskcalc.read_history(
        fixtures / "synthea-blaze" / "9478e08e-4573-88e1-7ea2-1b757771da8b.json.bz2", today=TODAY
    )
    assert [e.severity for e in critical.infections] == [Severity.CRITICAL]


def test_bulk_export_one_history_per_patient(fixtures: Path) -> None:
    folder = fixtures / "smart-bulk-10"
    patients = {
        orjson.loads(line)["id"]
        for line in (folder / "Patient.000.ndjson").read_bytes().splitlines()
    }
    results = list(riskcalc.read_histories(folder, today=TODAY))
    assert all(isinstance(r, PatientHistory) for r in results)
    # the '10-patients' sample holds 13 Patient resources (deceased relatives included)
    assert len(results) == len(patients) == 13
    assert {r.patient_id for r in results if isinstance(r, PatientHistory)} == patients
    # log.ndjson is an export log, not an error
    for r in results:
        assert isinstance(r, PatientHistory)
        assert not [w for w in r.warnings if w.code == "ndjson.bad_line"]
    busiest = next(
        r
        for r in results
        if isinstance(r, PatientHistory) and r.patient_id == "79a66c97-6131-3213-f3c9-4606946ab056"
    )
    assert busiest.deceased_date == dt.date(1994, 11, 11)
    assert OutcomeKind.DEATH in {o.kind for o in busiest.outcomes}


def test_bad_json_raises_with_code_and_location(fixtures: Path) -> None:
    with pytest.raises(InputError) as info:
        riskcalc.read_history(fixtures / "invalid" / "bad-json-close-1.json")
    assert info.value.code == "input.json_syntax"
    assert info.value.location and info.value.location.endswith(":15:11")


RAYMOND = "nimbus/synthea-covid/Raymond398_Ziemann98_6aea0b29-c091-8809-bf10-f926c27e1bb7.json"


def test_a_record_saved_as_latin_1_is_refused_at_its_first_accented_byte(
    fixtures: Path, tmp_path: Path
) -> None:
    text = (fixtures / RAYMOND).read_text(encoding="utf-8")
    first = next(i for i, ch in enumerate(text) if ord(ch) > 0x7F)  # an "é" (line 206)
    line = text.count("\n", 0, first) + 1
    column = first - text.rfind("\n", 0, first)  # Latin-1: one byte a character
    path = tmp_path / "latin1.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError) as info:
        riskcalc.read_history(path)
    assert info.value.code == "input.encoding"
    assert info.value.location == f"{path}:{line}:{column}"
    assert f"line {line}, byte {column} of the line is 0x{ord(text[first]):02x}" in str(info.value)


def test_a_record_saved_as_utf_16_is_refused_with_the_reason(
    fixtures: Path, tmp_path: Path
) -> None:
    path = tmp_path / "utf16.json"
    path.write_bytes((fixtures / RAYMOND).read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(InputError) as info:
        riskcalc.read_history(path)
    assert info.value.code == "input.encoding"
    assert info.value.location == f"{path}:1:1"
    assert "byte order mark of UTF-16" in str(info.value)


def test_an_ndjson_line_not_in_utf_8_is_a_bad_line_that_names_its_byte(tmp_path: Path) -> None:
    good = b'{"resourceType":"Patient","id":"a"}'
    bad = '{"resourceType":"Patient","id":"b","name":[{"family":"Müller"}]}'.encode("latin-1")
    (tmp_path / "Patient.ndjson").write_bytes(good + b"\n" + bad + b"\n")
    [history] = riskcalc.read_histories(tmp_path, today=TODAY)
    assert isinstance(history, PatientHistory) and history.patient_id == "a"
    [warning] = [w for w in history.warnings if w.code == "ndjson.bad_line"]
    byte = bad.index(b"\xfc") + 1
    assert (
        warning.message == f"not UTF-8 text: byte {byte} of the line is 0xfc (invalid start byte)"
    )
    assert warning.source == f"{tmp_path / 'Patient.ndjson'}:2"


def test_folder_with_bad_file_yields_failure_and_goes_on(fixtures: Path) -> None:
    results = list(riskcalc.read_histories(fixtures / "invalid", today=TODAY))
    failures = [r for r in results if isinstance(r, ReadFailure)]
    # the Observation-only file is reported, not dropped (issue 11)
    assert sorted(f.code for f in failures) == ["input.json_syntax"] * 3 + ["input.no_patient"]
    assert [r.patient_id for r in results if isinstance(r, PatientHistory)] == [
        "patient-baby-example"
    ]


def test_batch_response_bundle(fixtures: Path) -> None:
    h = riskcalc.read_history(fixtures / "nimbus" / "anonymized" / "untitled text 38.json")
    assert h.patient_id
    assert h.birth_date is not None


def test_message_bundles_have_a_patient_and_no_conditions(fixtures: Path) -> None:
    for path in sorted((fixtures / "nimbus" / "hl7v2-messages").glob("*.json")):
        h = riskcalc.read_history(path, today=TODAY)
        assert h.cancers == () and h.infections == ()


def _bundle(*resources: dict, kind: str = "collection") -> dict:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


PAT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-05-01"}


def _covid(rid: str, onset: str, subject: str = "urn:uuid:p1", **extra: object) -> dict:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "resolved",
                }
            ]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "840539006"}]},
        "subject": {"reference": subject},
        "onsetDateTime": onset,
        **extra,
    }


def test_reference_forms_and_other_patient() -> None:
    p2 = {"resourceType": "Patient", "id": "p2"}
    bundle = _bundle(
        PAT,
        p2,
        _covid("c1", "2020-01-01", "Patient/p1"),
        _covid("c2", "2020-06-01", "https://ehr.example/fhir/Patient/p1/_history/3"),
        _covid("c3", "2021-01-01", "urn:uuid:p2"),
        _covid("c4", "2021-06-01", "Patient/nobody"),
    )
    h1 = riskcalc.read_history(bundle, patient_id="p1", today=TODAY)
    assert [e.onset for e in h1.infections] == [dt.date(2020, 1, 1), dt.date(2020, 6, 1)]
    assert "resource.other_patient" in {w.code for w in h1.warnings}
    h2 = riskcalc.read_history(bundle, patient_id="p2", today=TODAY)
    assert [e.sources for e in h2.infections] == [("Condition/c3",)]
    with pytest.raises(InputError) as info:
        riskcalc.read_history(bundle)
    assert info.value.code == "input.several_patients"
    with pytest.raises(InputError) as info:
        riskcalc.read_history(bundle, patient_id="p9")
    assert info.value.code == "input.patient_not_found"


def test_refuted_entered_in_error_invalid_and_dates() -> None:
    refuted = _covid("c1", "2020-01-01", verificationStatus={"coding": [{"code": "refuted"}]})
    eie = {
        **_covid("c2", "2020-05-01"),
        "verificationStatus": {"coding": [{"code": "entered-in-error"}]},
    }
    invalid = {**_covid("c3", "2020-09-01"), "clinicalStatus": "resolved"}
    future = _covid("c4", "2030-01-01")
    partial = _covid("c5", "2021-03")
    h = riskcalc.read_history(_bundle(PAT, refuted, eie, invalid, future, partial), today=TODAY)
    codes = [w.code for w in h.warnings]
    assert codes.count("resource.entered_in_error") == 2
    assert "resource.skipped_invalid" in codes
    assert "date.invalid" in codes and "date.partial" in codes
    assert [(e.onset, e.sources) for e in h.infections] == [
        (dt.date(2021, 3, 1), ("Condition/c5",))
    ]


def test_positive_test_alone_is_an_episode_negative_is_not() -> None:
    def obs(rid: str, day: str, result: str) -> dict:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "92142-9"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": day,
            "valueCodeableConcept": {
                "coding": [{"system": "http://snomed.info/sct", "code": result}]
            },
        }

    h = riskcalc.read_history(
        _bundle(PAT, obs("o1", "2019-01-10", "10828004"), obs("o2", "2019-06-10", "260385009")),
        today=TODAY,
    )
    assert [(e.pathogen, e.onset) for e in h.infections] == [
        (Pathogen.INFLUENZA, dt.date(2019, 1, 10))
    ]


def test_il6_units_and_medication_overlap() -> None:
    def il6(rid: str, day: str, value: float, unit: str) -> dict:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "26881-3"}]},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": day,
            "valueQuantity": {
                "value": value,
                "unit": unit,
                "system": "http://unitsofmeasure.org",
                "code": unit,
            },
        }

    toci = {
        "resourceType": "MedicationAdministration",
        "id": "m1",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "612865"}]
        },
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2020-04-03",
    }
    cond = _covid("c1", "2020-04-01", abatementDateTime="2020-04-12")
    h = riskcalc.read_history(
        _bundle(
            PAT,
            cond,
            il6("o1", "2020-04-02", 0.08, "ng/mL"),
            il6("o2", "2020-04-05", 60, "ng/L"),
            il6("o3", "2020-04-06", 1, "mmol/L"),
            toci,
        ),
        today=TODAY,
    )
    [e] = h.infections
    assert e.il6_peak_pg_ml == pytest.approx(80.0)
    assert e.il6_blockade is True and e.corticosteroids is False
    assert "il6.unit_unknown" in {w.code for w in h.warnings}


def _breast_cancer(status: str, **dates: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": "k1",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": status,
                }
            ]
        },
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C50.912"}]},
        "subject": {"reference": "Patient/p1"},
        **dates,
    }


def test_active_cancer_default_rule() -> None:
    cancer = _breast_cancer("active", onsetDateTime="2015-06-01")
    h = riskcalc.read_history(_bundle(PAT, cancer), today=TODAY)
    assert h.cancers[0].site is CancerSite.BREAST
    assert h.at_risk_start == dt.date(2016, 5, 31)
    assert h.at_risk_start_basis is AtRiskBasis.ACTIVE_DEFAULT
    assert "cancer.active_without_end" in {w.code for w in h.warnings}


@pytest.mark.parametrize(
    ("value", "remission"),
    [
        ("281900007", True),  # no abnormality detected: no evidence of disease
        ("268910001", True),  # improved
        ("359746009", False),  # stable: the disease is still there
        ("709137006", False),  # undetermined
    ],
)
def test_only_a_disease_status_of_remission_starts_the_at_risk_time(
    value: str, remission: bool
) -> None:
    """An mCODE CancerDiseaseStatus starts the at-risk time only when it says the disease
    improved or is gone; a stable or undetermined one leaves the other rules to decide."""
    status = {
        "resourceType": "Observation",
        "id": "s1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2016-01-10",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": value}]},
    }
    cancer = _breast_cancer("active", onsetDateTime="2015-06-01")
    h = riskcalc.read_history(_bundle(PAT, cancer, status), today=TODAY)
    if remission:
        assert (h.at_risk_start, h.at_risk_start_basis) == (
            dt.date(2016, 1, 10),
            AtRiskBasis.DISEASE_STATUS,
        )
    else:
        assert (h.at_risk_start, h.at_risk_start_basis) == (
            dt.date(2016, 5, 31),
            AtRiskBasis.ACTIVE_DEFAULT,
        )


def test_sources_kinds(tmp_path: Path) -> None:
    bundle = _bundle(PAT, _covid("c1", "2020-01-01"), kind="batch-response")
    data = orjson.dumps(bundle)
    for source in (
        data,
        data.decode(),
        bundle,
    ):
        assert riskcalc.read_history(source, today=TODAY).patient_id == "p1"
    gz = tmp_path / "b.json.gz"
    gz.write_bytes(gzip.compress(data))
    assert riskcalc.read_history(str(gz), today=TODAY).infections
    nd = tmp_path / "x.ndjson.bz2"
    nd.write_bytes(
        bz2.compress(b"\n".join(orjson.dumps(r) for r in (PAT, _covid("c1", "2020-01-01"))))
    )
    assert riskcalc.read_history(nd, today=TODAY).infections
    with pytest.raises(InputError) as info:
        riskcalc.read_history(tmp_path / "missing.json")
    assert info.value.code == "input.not_found"
    broken = tmp_path / "c.json.gz"
    broken.write_bytes(gzip.compress(data)[:30])
    with pytest.raises(InputError) as info:
        riskcalc.read_history(broken)
    assert info.value.code == "input.decompression"


def test_limits() -> None:
    data = orjson.dumps(_bundle(PAT, _covid("c1", "2020-01-01")))
    with pytest.raises(InputError) as info:
        riskcalc.read_history(data, limits=Limits(max_bytes=100))
    assert info.value.code == "input.too_large"
    with pytest.raises(InputError) as info:
        riskcalc.read_history(data, limits=Limits(max_depth=4))
    assert info.value.code == "input.too_deep"
    deep = b'{"resourceType": "Patient", "id": "p", "x": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    with pytest.raises(InputError) as info:
        riskcalc.read_history(deep)
    assert info.value.code == "input.too_deep"
    with pytest.raises(InputError) as info:
        riskcalc.read_history(data, limits=Limits(max_resources_per_patient=1))
    assert info.value.code == "input.too_many_resources"
    [failure] = riskcalc.read_histories(data, limits=Limits(max_resources_per_patient=1))
    assert isinstance(failure, ReadFailure) and failure.code == "input.too_many_resources"


def test_recognised_records_without_a_date_are_warned_not_dropped_silently() -> None:
    """An infection, a virus test, a treatment, a medication and a vaccination that cannot be
    placed in time each leave a ``record.undated`` warning naming the resource."""
    subject = {"reference": "Patient/p1"}
    influenza = _covid("flu1", "2021-01-05")
    del influenza["onsetDateTime"]
    influenza["code"] = {"coding": [{"system": "http://snomed.info/sct", "code": "6142004"}]}
    undated = [
        influenza,
        {
            "resourceType": "Observation",
            "id": "t1",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "94500-6"}]},
            "subject": subject,
            "valueCodeableConcept": {
                "coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]
            },
        },
        {
            "resourceType": "Procedure",
            "id": "x1",
            "status": "completed",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "367336001"}]},
            "subject": subject,
        },
        {
            "resourceType": "MedicationRequest",
            "id": "r1",
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": {
                "coding": [
                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "10324"}
                ]
            },
            "subject": subject,
        },
        {
            "resourceType": "Immunization",
            "id": "v1",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "88"}]},
            "patient": subject,
            "occurrenceString": "last winter",
        },
        {
            "resourceType": "Immunization",
            "id": "v2",
            "status": "completed",
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]},
            "patient": subject,
            "occurrenceDateTime": "2099-01-01",  # valid FHIR, in the future
        },
    ]
    h = riskcalc.read_history(_bundle(PAT, *undated), today=TODAY)
    assert not h.infections and not h.tests and not h.treatments and not h.vaccinations
    warned = {w.source: w.message for w in h.warnings if w.code == "record.undated"}
    assert set(warned) == {
        "Condition/flu1",
        "Observation/t1",
        "Procedure/x1",
        "MedicationRequest/r1",
        "Immunization/v1",
        "Immunization/v2",
    }
    # the vaccinations' own warnings reach the history too (they were lost before)
    assert ("date.invalid", "Immunization/v2") in {(w.code, w.source) for w in h.warnings}
    assert "(influenza)" in warned["Condition/flu1"]
    assert "(covid19 test)" in warned["Observation/t1"]
    assert "(chemotherapy)" in warned["Procedure/x1"]
    assert "(endocrine)" in warned["MedicationRequest/r1"]
    assert "(influenza vaccine)" in warned["Immunization/v1"]


@pytest.mark.parametrize(
    ("status", "warned"), [("recurrence", True), ("relapse", True), ("remission", False)]
)
def test_a_cancer_that_has_come_back_is_warned(status: str, warned: bool) -> None:
    cancer = _breast_cancer(status, onsetDateTime="2015-06-01", abatementDateTime="2016-03-01")
    h = riskcalc.read_history(_bundle(PAT, cancer), today=TODAY)
    sources = [w.source for w in h.warnings if w.code == "cancer.returned_status"]
    assert sources == (["Condition/k1"] if warned else [])
    report = riskcalc.assess(h, as_of="2024-01-01")
    assert ("cancer.returned_status" in {w.code for w in report.warnings}) is warned


@pytest.mark.parametrize(
    ("encounter", "severity"),
    [
        (
            {
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                }
            },
            Severity.MILD,
        ),
        (
            {
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                }
            },
            Severity.HOSPITALISED,
        ),
        (
            {"location": [{"location": {"display": "Medical intensive care unit"}}]},
            Severity.CRITICAL,
        ),
        (
            {
                "location": [
                    {"location": {"display": "Ward 4"}},
                    {"physicalType": {"text": "ICU bed"}},
                ]
            },
            Severity.CRITICAL,
        ),
        (
            {"location": [{"physicalType": {"coding": [{"display": "Pediatric ICU"}]}}]},
            Severity.CRITICAL,
        ),
        (
            {"location": [{"location": {"display": "ICUville clinic"}}, "junk", {"location": 3}]},
            None,
        ),
        ({"location": [{"location": {"display": 7}, "physicalType": {"text": ["ICU"]}}]}, None),
    ],
)
def test_encounter_severity_from_class_and_location(
    encounter: dict[str, object], severity: Severity | None
) -> None:
    from riskcalc.fhir._extract import _encounter_severity

    assert _encounter_severity(encounter) is severity


@pytest.mark.parametrize(
    ("patient", "full_url", "named"),
    [
        ({"resourceType": "Patient"}, None, "(no id) entry[0]"),
        ({"resourceType": "Patient", "id": ""}, None, "(no id) entry[0]"),
        ({"resourceType": "Patient", "id": 5}, None, "(no id) entry[0]"),
        ({"resourceType": "Patient"}, "urn:uuid:4f1c", "urn:uuid:4f1c"),
    ],
)
def test_a_patient_without_an_id_is_warned_and_never_referenced(
    patient: dict[str, object], full_url: str | None, named: str
) -> None:
    """The reader names such a patient (fullUrl, or its place in the input), says so with
    patient.no_id, and the RiskAssessment names it by display only: a made-up
    ``Patient/patient-0`` written back to an EHR would point at nobody, or at someone else."""
    entry: dict[str, object] = {"resource": patient}
    if full_url:
        entry["fullUrl"] = full_url
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [entry]}
    history = riskcalc.read_history(bundle, today=TODAY)
    assert history.patient_id.startswith(named)
    [issue] = [w for w in history.warnings if w.code == "patient.no_id"]
    assert repr(history.patient_id) in issue.message
    subject = riskcalc.assess(history, as_of=TODAY).to_fhir()["subject"]
    assert "reference" not in subject and history.patient_id in subject["display"]


def test_a_patient_id_that_is_not_a_fhir_id_is_not_a_reference() -> None:
    history = riskcalc.read_history({"resourceType": "Patient", "id": "../../etc"}, today=TODAY)
    assert "resource.skipped_invalid" in {w.code for w in history.warnings}
    subject = riskcalc.assess(history, as_of=TODAY).to_fhir()["subject"]
    assert subject == {
        "display": "the patient read as '../../etc': the input gave it no valid FHIR id"
    }
    valid = riskcalc.read_history({"resourceType": "Patient", "id": "p-1.a"}, today=TODAY)
    assert riskcalc.assess(valid, as_of=TODAY).to_fhir()["subject"] == {
        "reference": "Patient/p-1.a"
    }


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed_bytes_read_as_their_file_does(fixtures: Path, compress: object) -> None:
    """An uploaded .json.gz or .json.bz2 arrives as bytes: its magic bytes tell it apart."""
    path = fixtures / "synthea-blaze" / f"{AD0}.json.bz2"
    plain = bz2.decompress(path.read_bytes())
    packed = compress(plain)  # type: ignore[operator]
    expected = riskcalc.read_history(plain, today=TODAY)
    assert riskcalc.read_history(packed, today=TODAY) == expected
    [history] = riskcalc.read_histories(packed, today=TODAY)
    assert history == expected


@pytest.mark.parametrize(
    "data", [gzip.compress(b'{"resourceType": "Patient"}')[:-9], b"BZh91AY&SY"]
)
def test_corrupt_compressed_bytes_are_a_decompression_error(data: bytes) -> None:
    with pytest.raises(InputError) as caught:
        riskcalc.read_history(data, label="upload.json.gz")
    assert caught.value.code == "input.decompression"
    assert caught.value.location == "upload.json.gz"


def test_a_label_names_an_in_memory_source_in_messages() -> None:
    with pytest.raises(InputError, match=r"at upload\.json") as caught:
        riskcalc.read_history(
            b'{"resourceType": "Bundle", "type": "collection"}', label="upload.json"
        )
    assert caught.value.code == "input.no_patient"
    with pytest.raises(InputError) as caught:
        riskcalc.read_history(b'{"resourceType": ', label="upload.json")
    assert caught.value.code == "input.json_syntax"
    assert caught.value.location is not None and caught.value.location.startswith("upload.json:")
    history = riskcalc.read_history({"resourceType": "Patient"}, label="upload.json", today=TODAY)
    assert history.patient_id == "(no id) upload.json"
