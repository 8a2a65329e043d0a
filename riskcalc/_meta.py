"""Facts about the package that every output carries."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("riskcalc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

RESEARCH_USE_STATEMENT = (
    "Research use only. Not a medical device and not validated in a patient cohort: the risk model "
    "is trained on simulated data and the awakening score is an exploratory, hypothesis-driven "
    "index based on mouse experiments and observational cohorts. It does not recommend any "
    "treatment; decisions rest with the clinician."
)
