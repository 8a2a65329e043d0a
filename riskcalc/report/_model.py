"""The result of one assessment: what every front end (CLI, FHIR, CDS Hooks, app) renders.

A :class:`RiskReport` either carries a number (``status == "ok"``) or says why it has none
(``status == "not_applicable"`` with ``not_applicable_reason``). Either way it names the model and
its version, the data the model was trained on, and the research-use statement.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.errors import Issue
from riskcalc.history import Pathogen, Severity


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportStatus(StrEnum):
    OK = "ok"
    NOT_APPLICABLE = "not_applicable"


class RiskEstimate(_Frozen):
    """Calibrated probability of metastatic relapse or cancer death within the horizon."""

    probability: float = Field(ge=0, le=1)
    interval_low: float = Field(ge=0, le=1)
    interval_high: float = Field(ge=0, le=1)
    interval_level: float = Field(0.9, gt=0, lt=1, description="Nominal coverage of the interval")
    interval_method: str = Field(description="How the interval was made (see docs)")
    horizon_months: int = Field(gt=0)


class EpisodeContribution(_Frozen):
    """What one infection episode added to the awakening score at ``as_of``."""

    pathogen: Pathogen
    onset: dt.date
    severity: Severity
    il6_peak_pg_ml: float | None
    il6_assumed: bool = Field(description="True when the IL-6 peak is the default for the class")
    contribution: float
    sources: tuple[str, ...] = ()


class AwakeningSummary(_Frozen):
    """The exploratory mechanistic index, shown apart from the calibrated risk."""

    score: float = Field(description="Cumulative awakening score; 1.0 = one typical mild infection")
    background: float
    hazard_multiplier: float
    preset: str
    carry_over: bool
    contributions: tuple[EpisodeContribution, ...] = ()


class Driver(_Frozen):
    """One input's effect on the probability: the change when it is set to its reference value."""

    feature: str
    label: str
    value: float | str | None
    effect_pp: float = Field(description="Change in probability, percentage points")
    direction: Literal["raises", "lowers"]


class Counterfactual(_Frozen):
    """A model-based hypothetical: the same patient with one thing changed. Not an observation."""

    name: Literal["no_infections", "latest_prevented", "latest_blockade"]
    label: str
    probability: float = Field(ge=0, le=1)
    delta_pp: float
    awakening_score: float
    hypothetical: Literal[True] = True


class ModelInfo(_Frozen):
    """Which model made a report, and what it was trained on.

    ``trained_on`` is a phrase that every front end puts inside its own sentence ("trained on
    …."), so a final full stop is dropped: the shipped model's description ends with one.

    >>> ModelInfo(model_id="m", version="1", trained_on="Simulated data only. ",
    ...           trained_on_simulated_data=True).trained_on
    'Simulated data only'
    """

    model_id: str
    version: str
    trained_on: str = Field(description="Description of the training data")
    trained_on_simulated_data: bool
    sha256: str | None = None

    @field_validator("trained_on")
    @classmethod
    def _phrase(cls, text: str) -> str:
        return text.strip().removesuffix(".").rstrip()


class RiskReport(_Frozen):
    patient_id: str
    as_of: dt.date
    status: ReportStatus
    not_applicable_reason: str | None = None
    risk: RiskEstimate | None = None
    awakening: AwakeningSummary | None = None
    drivers: tuple[Driver, ...] = ()
    counterfactuals: tuple[Counterfactual, ...] = ()
    warnings: tuple[Issue, ...] = ()
    basis: tuple[str, ...] = Field(
        (),
        description="ResourceType/id of every record used: those dated on or before as_of, "
        "and the undated",
    )
    model: ModelInfo
    riskcalc_version: str = __version__
    research_use_statement: str = RESEARCH_USE_STATEMENT

    def to_fhir(self) -> dict[str, Any]:
        """This report as a FHIR R4 ``RiskAssessment`` (a JSON-ready dict, validated)."""
        from riskcalc.fhir._riskassessment import risk_assessment

        return risk_assessment(self)
