"""Assessment results: :class:`RiskReport` and its renderings (FHIR RiskAssessment, text)."""

from riskcalc.report._model import (
    AwakeningSummary,
    Counterfactual,
    Driver,
    EpisodeContribution,
    ModelInfo,
    ReportStatus,
    RiskEstimate,
    RiskReport,
)

__all__ = [
    "AwakeningSummary",
    "Counterfactual",
    "Driver",
    "EpisodeContribution",
    "ModelInfo",
    "ReportStatus",
    "RiskEstimate",
    "RiskReport",
]
