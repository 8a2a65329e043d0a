"""riskcalc: relapse-risk estimates for cancer survivors from FHIR records of infections.

Research use only (see :data:`RESEARCH_USE_STATEMENT`). The public surface is what ``__all__``
lists; everything else is private and may change.

>>> import riskcalc
>>> riskcalc.RESEARCH_USE_STATEMENT.startswith("Research use only")
True
"""

from __future__ import annotations

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.config import Limits
from riskcalc.errors import (
    ConfigError,
    DataQualityWarning,
    ExtrapolationWarning,
    InputError,
    Issue,
    ModelError,
    RemoteError,
    RiskCalcError,
    RiskCalcWarning,
)
from riskcalc.fhir import read_histories, read_history
from riskcalc.history import InfectionEpisode, PatientHistory, ReadFailure
from riskcalc.report import RiskReport, assess, score_cohort

__all__ = [
    "RESEARCH_USE_STATEMENT",
    "ConfigError",
    "DataQualityWarning",
    "ExtrapolationWarning",
    "InfectionEpisode",
    "InputError",
    "Issue",
    "Limits",
    "ModelError",
    "PatientHistory",
    "ReadFailure",
    "RemoteError",
    "RiskCalcError",
    "RiskCalcWarning",
    "RiskReport",
    "__version__",
    "assess",
    "read_histories",
    "read_history",
    "score_cohort",
]
