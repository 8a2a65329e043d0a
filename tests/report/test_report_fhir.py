"""RiskReport → FHIR R4 RiskAssessment: valid against the R4B model, 0–1 scale, basis, notes."""

from __future__ import annotations

import datetime as dt

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from riskcalc import RESEARCH_USE_STATEMENT
from riskcalc.errors import Issue
from riskcalc.fhir._riskassessment import AWAKENING_EXTENSION, INTERVAL_EXTENSION
from riskcalc.report import (
    AwakeningSummary,
    ModelInfo,
    ReportStatus,
    RiskEstimate,
    RiskReport,
    render_text,
)

MODEL = ModelInfo(
    model_id="riskcalc-default",
    version="2026.11",
    trained_on="simulated cohort (seed 1)",
    trained_on_simulated_data=True,
)


def _ok_report() -> RiskReport:
    return RiskReport(
        patient_id="p-1",
        as_of=dt.date(2024, 1, 31),
        status=ReportStatus.OK,
        risk=RiskEstimate(
            probability=0.1234567,
            interval_low=0.08,
            interval_high=0.17,
            interval_method="bootstrap",
            horizon_months=24,
        ),
        awakening=AwakeningSummary(
            score=2.5, background=0.2, hazard_multiplier=1.6, preset="human", carry_over=True
        ),
        warnings=(Issue(code="date.partial", message="onset 2020-03 widened"),),
        basis=("Condition/c1", "Observation/o1"),
        model=MODEL,
    )


def test_ok_report_is_valid_r4_riskassessment() -> None:
    resource = _ok_report().to_fhir()
    RiskAssessment.model_validate(resource)  # raises if invalid
    assert resource["status"] == "final"
    assert resource["subject"] == {"reference": "Patient/p-1"}
    assert resource["occurrenceDateTime"] == "2024-01-31"
    assert [b["reference"] for b in resource["basis"]] == ["Condition/c1", "Observation/o1"]
    risk, wake = resource["prediction"]
    assert risk["probabilityDecimal"] == pytest.approx(0.1235)
    assert 0 <= risk["probabilityDecimal"] <= 1
    # 24 months after 2024-01-31 is clamped to the end of January 2026
    assert risk["whenPeriod"] == {"start": "2024-01-31", "end": "2026-01-31"}
    interval = next(e for e in risk["extension"] if e["url"] == INTERVAL_EXTENSION)
    assert interval["valueRange"]["low"]["value"] == pytest.approx(0.08)
    assert wake["relativeRisk"] == pytest.approx(1.6)
    assert next(e for e in wake["extension"] if e["url"] == AWAKENING_EXTENSION)[
        "valueDecimal"
    ] == pytest.approx(2.5)
    notes = [n["text"] for n in resource["note"]]
    assert RESEARCH_USE_STATEMENT in notes
    assert any("date.partial" in n for n in notes)
    assert resource["method"]["coding"][0]["version"] == "2026.11"


def test_not_applicable_report_has_no_prediction_and_gives_reason() -> None:
    report = RiskReport(
        patient_id="p-2",
        as_of=dt.date(2024, 2, 29),
        status=ReportStatus.NOT_APPLICABLE,
        not_applicable_reason="no cancer diagnosis in the record",
        model=MODEL,
    )
    resource = report.to_fhir()
    RiskAssessment.model_validate(resource)
    assert "prediction" not in resource
    assert resource["note"][0]["text"].startswith("Not applicable: no cancer")


def test_id_is_deterministic_and_specific() -> None:
    a = _ok_report().to_fhir()
    b = _ok_report().to_fhir()
    other = _ok_report().model_copy(update={"patient_id": "p-9"}).to_fhir()
    assert a["id"] == b["id"] != other["id"]


def test_text_names_risk_model_and_statement() -> None:
    text = render_text(_ok_report())
    assert "12.3%" in text and "24 months" in text
    assert "riskcalc-default 2026.11" in text
    assert text.rstrip().endswith(RESEARCH_USE_STATEMENT)
