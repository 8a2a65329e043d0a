"""FHIR out: a :class:`RiskReport` as an R4 ``RiskAssessment``, validated with the R4B model.

Mapping (docs/integrators/riskassessment.md):

- ``status`` ``final``; ``subject`` the patient; ``occurrenceDateTime`` the assessment date;
  ``method`` the model id and version (text says it was trained on simulated data);
  ``basis`` every resource that fed the history.
- ``prediction[0]``: metastatic relapse or cancer death, ``probabilityDecimal`` on the 0–1 scale
  (ras-2 is ambiguous between 0–1 and 0–100; riskcalc uses 0–1), ``whenPeriod`` from the
  assessment date to the horizon, and the interval as the extension
  :data:`INTERVAL_EXTENSION` (``valueRange``, 0–1).
- ``prediction[1]``: the exploratory awakening index: ``relativeRisk`` = its hazard multiplier,
  the score itself in the extension :data:`AWAKENING_EXTENSION` and in ``rationale``.
- A not-applicable report has no prediction; its reason is the first ``note``.
- ``note`` always carries the research-use statement and the data-quality warnings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.riskassessment import RiskAssessment
from pydantic import ValidationError

from riskcalc.fhir._group import FHIR_ID

if TYPE_CHECKING:
    from riskcalc.report import RiskReport

BASE_URL = "https://riskcalc.example.org/fhir"
INTERVAL_EXTENSION = f"{BASE_URL}/StructureDefinition/probability-interval"
AWAKENING_EXTENSION = f"{BASE_URL}/StructureDefinition/awakening-score"
MODEL_SYSTEM = f"{BASE_URL}/CodeSystem/riskcalc-model"
RESEARCH_TAG = {
    "system": f"{BASE_URL}/CodeSystem/riskcalc-tags",
    "code": "research-use-only",
    "display": "Research use only; not a medical device",
}
OUTCOME = {
    "coding": [
        {
            "system": "http://snomed.info/sct",
            "code": "128462008",
            "display": "Secondary malignant neoplastic disease (disorder)",
        }
    ],
    "text": "Metastatic relapse or cancer death",
}
_NAMESPACE = uuid.UUID("6f1c1bde-6c0c-4bb4-9d0a-6c9a7d1f0b42")


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _reference(ref: str) -> dict[str, str]:
    return {"reference": ref}


def _subject(patient_id: str) -> dict[str, str]:
    """A reference to the Patient; by display only when the patient has no FHIR id (the reader
    named it by its fullUrl or place in the input: ``patient.no_id``), which no server could
    resolve."""
    if FHIR_ID.fullmatch(patient_id):
        return _reference(f"Patient/{patient_id}")
    return {"display": f"the patient read as {patient_id!r}: the input gave it no valid FHIR id"}


def _predictions(report: RiskReport) -> list[dict[str, Any]]:
    predictions: list[dict[str, Any]] = []
    if report.risk is not None:
        risk = report.risk
        predictions.append(
            {
                "extension": [
                    {
                        "url": INTERVAL_EXTENSION,
                        "valueRange": {
                            "low": {"value": round(risk.interval_low, 4)},
                            "high": {"value": round(risk.interval_high, 4)},
                        },
                    }
                ],
                "outcome": OUTCOME,
                "probabilityDecimal": round(risk.probability, 4),
                "whenPeriod": {
                    "start": report.as_of.isoformat(),
                    "end": _add_months(report.as_of, risk.horizon_months).isoformat(),
                },
                "rationale": (
                    f"Calibrated probability within {risk.horizon_months} months; "
                    f"{round(risk.interval_level * 100)}% interval "
                    f"{risk.interval_low:.1%}–{risk.interval_high:.1%} ({risk.interval_method})."
                ),
            }
        )
    if report.awakening is not None and report.risk is not None:
        awakening = report.awakening
        predictions.append(
            {
                "extension": [
                    {"url": AWAKENING_EXTENSION, "valueDecimal": round(awakening.score, 4)}
                ],
                "outcome": {"text": "Cumulative awakening of dormant cancer cells (exploratory)"},
                "relativeRisk": round(awakening.hazard_multiplier, 4),
                "rationale": (
                    f"Exploratory mechanistic index, not a calibrated risk: awakening score "
                    f"{awakening.score:.2f} (1.0 = one typical mild infection) from "
                    f"{len(awakening.contributions)} infection episode(s); relativeRisk is the "
                    "hazard multiplier it implies under the model's assumptions."
                ),
            }
        )
    return predictions


def _notes(report: RiskReport) -> list[dict[str, str]]:
    notes = []
    if report.not_applicable_reason:
        notes.append({"text": f"Not applicable: {report.not_applicable_reason}"})
    notes.append({"text": report.research_use_statement})
    notes.extend({"text": f"Data quality ({w.code}): {w.message}"} for w in report.warnings)
    return notes


def risk_assessment(report: RiskReport) -> dict[str, Any]:
    """The report as a FHIR R4 ``RiskAssessment`` (JSON-ready dict), validated before return."""
    model = report.model
    key = f"{report.patient_id}|{report.as_of.isoformat()}|{model.model_id}|{model.version}"
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": str(uuid.uuid5(_NAMESPACE, key)),
        "meta": {"tag": [RESEARCH_TAG]},
        "status": "final",
        "subject": _subject(report.patient_id),
        "occurrenceDateTime": report.as_of.isoformat(),
        "code": {"text": "Risk of metastatic relapse after respiratory viral infections"},
        "method": {
            "coding": [{"system": MODEL_SYSTEM, "code": model.model_id, "version": model.version}],
            "text": f"riskcalc {report.riskcalc_version}, model {model.model_id} "
            f"{model.version}; trained on {model.trained_on}",
        },
        "basis": [_reference(ref) for ref in report.basis],
        "prediction": _predictions(report),
        "note": _notes(report),
    }
    resource = {k: v for k, v in resource.items() if v != []}
    try:
        validated = RiskAssessment.model_validate(resource)
    except ValidationError as exc:  # a bug in the mapping, never the caller's input
        raise AssertionError(f"RiskAssessment mapping produced invalid FHIR: {exc}") from exc
    out: dict[str, Any] = validated.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out
