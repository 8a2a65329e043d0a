"""Assessment (``riskcalc.report.views`` holds the data front ends draw): :func:`assess` one patient or :func:`score_cohort` many, into :class:`RiskReport`
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
from riskcalc.report._whatif import (
    HYPOTHETICAL_ASSESSMENT_LAG_DAYS,
    HypotheticalInfection,
    WhatIf,
    apply_what_if,
    describe_what_if,
    hypothetical_episode,
    what_if_as_of,
)

__all__ = [
    "ERROR_COLUMNS",
    "HYPOTHETICAL_ASSESSMENT_LAG_DAYS",
    "SCORE_COLUMNS",
    "AwakeningSummary",
    "Counterfactual",
    "Driver",
    "EpisodeContribution",
    "HypotheticalInfection",
    "ModelInfo",
    "Reconciliation",
    "ReportStatus",
    "RiskEstimate",
    "RiskReport",
    "WhatIf",
    "apply_what_if",
    "assess",
    "assess_histories",
    "counterfactual_histories",
    "describe_what_if",
    "errors_path_for",
    "hypothetical_episode",
    "not_applicable_reason",
    "render_text",
    "report_row",
    "risk_curve",
    "score_chunk",
    "score_cohort",
    "what_if_as_of",
    "write_results",
]
