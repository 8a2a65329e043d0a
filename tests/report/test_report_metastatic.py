"""Metastatic disease before the assessment puts a patient outside the model's population.

The model estimates a *first* metastatic relapse of a survivor of non-metastatic cancer: a
metastasis dated before the at-risk start, one without a date, or a cancer staged IV at diagnosis
must each make the assessment "not applicable" and exclude the patient from training labels,
never be dropped silently (an mCODE fixture with an undated lung metastasis was assessed as an
ordinary survivor at 4.6 %).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import riskcalc
from riskcalc.history import Cancer, CancerSite, OutcomeKind, PatientHistory
from riskcalc.model._labels import Exclusion, follow_up
from riskcalc.report import ReportStatus
from riskcalc.report.views import basis_rows

TODAY = dt.date(2026, 11, 30)
AS_OF = dt.date(2024, 1, 1)
PAT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-05-01"}
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _condition(rid: str, system: str, code: str, **dates: Any) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": rid,
        "clinicalStatus": {"coding": [{"system": _CLINICAL, "code": "active"}]},
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        **dates,
    }


#: Breast cancer in 2015, in remission (abated) from 2016.
CANCER = _condition(
    "k1",
    "http://hl7.org/fhir/sid/icd-10-cm",
    "C50.912",
    onsetDateTime="2015-06-01",
    abatementDateTime="2016-03-01",
)


def _lung_metastasis(**dates: Any) -> dict[str, Any]:
    return _condition("m1", "http://snomed.info/sct", "94391008", **dates)


def _read(*resources: dict[str, Any]) -> PatientHistory:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in (PAT, *resources)],
    }
    return riskcalc.read_history(bundle, today=TODAY)


def test_survivor_without_metastasis_is_scored() -> None:
    history = _read(CANCER)
    report = riskcalc.assess(history, as_of=AS_OF)
    assert report.status is ReportStatus.OK
    assert follow_up(history, AS_OF) not in (
        Exclusion.NOT_IN_REMISSION,
        Exclusion.METASTATIC_DISEASE,
    )


def test_metastasis_before_the_at_risk_start_is_kept_and_stops_the_assessment() -> None:
    history = _read(CANCER, _lung_metastasis(onsetDateTime="2015-09-01"))
    assert history.at_risk_start == dt.date(2016, 3, 1)
    kinds = {(o.kind, o.date) for o in history.outcomes}
    assert (OutcomeKind.METASTATIC_RELAPSE, dt.date(2015, 9, 1)) in kinds
    assert (OutcomeKind.LUNG_METASTASIS, dt.date(2015, 9, 1)) in kinds
    assert "Condition/m1" in history.basis
    report = riskcalc.assess(history, as_of=AS_OF)
    assert report.status is ReportStatus.NOT_APPLICABLE
    assert report.risk is None
    assert report.not_applicable_reason is not None
    assert "metastatic disease already recorded on 2015-09-01" in report.not_applicable_reason
    assert follow_up(history, AS_OF) == Exclusion.METASTATIC_DISEASE


def test_undated_metastasis_is_warned_kept_and_stops_the_assessment() -> None:
    history = _read(CANCER, _lung_metastasis())
    assert history.undated_metastases == ("Condition/m1",)
    assert not history.outcomes
    [warning] = [w for w in history.warnings if w.code == "metastasis.undated"]
    assert warning.source == "Condition/m1"
    assert "Condition/m1" in history.basis
    report = riskcalc.assess(history, as_of=AS_OF)
    assert report.status is ReportStatus.NOT_APPLICABLE
    assert report.not_applicable_reason is not None
    assert "without a date (Condition/m1)" in report.not_applicable_reason
    assert "metastasis.undated" in {w.code for w in report.warnings}
    assert "Condition/m1" in report.basis
    [row] = [r for r in basis_rows(history, as_of=AS_OF) if r.reference == "Condition/m1"]
    assert row.used_as == "metastasis" and row.date is None
    assert follow_up(history, AS_OF) == Exclusion.METASTATIC_DISEASE


def test_metastasis_after_the_assessment_date_does_not_count_yet() -> None:
    history = _read(CANCER, _lung_metastasis(onsetDateTime="2025-02-01"))
    assert riskcalc.assess(history, as_of=AS_OF).status is ReportStatus.OK


@pytest.mark.parametrize(("stage", "applicable"), [("IV", False), ("IIIB", True), (None, True)])
def test_stage_iv_at_diagnosis_is_outside_the_population(
    stage: str | None, applicable: bool
) -> None:
    cancer = Cancer(
        site=CancerSite.BREAST,
        codes=(),
        onset=dt.date(2015, 6, 1),
        abatement=dt.date(2016, 3, 1),
        stage=stage,
    )
    history = PatientHistory(
        patient_id="p1",
        birth_date=dt.date(1960, 5, 1),
        sex="female",
        at_risk_start=dt.date(2016, 3, 1),
        last_contact=dt.date(2026, 1, 1),
        cancers=(cancer,),
    )
    report = riskcalc.assess(history, as_of=AS_OF)
    assert (report.status is ReportStatus.OK) is applicable
    if not applicable:
        assert report.not_applicable_reason is not None
        assert "stage IV at diagnosis" in report.not_applicable_reason
    assert (follow_up(history, AS_OF) == Exclusion.METASTATIC_DISEASE) is not applicable


def test_mcode_fixture_with_an_undated_lung_metastasis(fixtures: Path) -> None:
    """eom_patient_1: stage IV breast cancer, an active lung metastasis with no date."""
    history = riskcalc.read_history(fixtures / "mcode" / "eom_patient_1.json", today=TODAY)
    assert history.undated_metastases == ("Condition/conditionId-2",)
    report = riskcalc.assess(history, as_of=dt.date(2026, 1, 1))
    assert report.status is ReportStatus.NOT_APPLICABLE
    assert report.not_applicable_reason is not None
    assert "Condition/conditionId-2" in report.not_applicable_reason
    assert report.model.version
