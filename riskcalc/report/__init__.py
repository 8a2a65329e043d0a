"""Assessment: :func:`assess` one patient or :func:`score_cohort` many, into :class:`RiskReport`
and its renderings (FHIR RiskAssessment via ``RiskReport.to_fhir()``, text, score rows)."""

from riskcalc.report._assess import (
    assess,
    assess_histories,
    counterfactual_histories,
    not_applicable_reason,
    risk_curve,
)
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
from riskcalc.report._score import (
    ERROR_COLUMNS,
    SCORE_COLUMNS,
    Reconciliation,
    errors_path_for,
    report_row,
    score_chunk,
    score_cohort,
    write_results,
)
from riskcalc.report._text import render_text

__all__ = [
    "ERROR_COLUMNS",
    "SCORE_COLUMNS",
    "AwakeningSummary",
    "Counterfactual",
    "Driver",
    "EpisodeContribution",
    "ModelInfo",
    "Reconciliation",
    "ReportStatus",
    "RiskEstimate",
    "RiskReport",
    "assess",
    "assess_histories",
    "counterfactual_histories",
    "errors_path_for",
    "not_applicable_reason",
    "render_text",
    "report_row",
    "risk_curve",
    "score_chunk",
    "score_cohort",
    "write_results",
]
