"""Mechanistic cumulative-awakening model: how infections' IL-6 surges awaken dormant cancer cells.

A small deterministic model (DESIGN.md §5; equations, parameters and limitations in
``docs/science/awakening.md``). Each respiratory infection adds an IL-6 pulse; the signal moves
cells from a dormant pool ``D`` to an awakened pool ``A`` at a rate saturating in IL-6 and expands
``A`` while inflammation lasts; afterwards awakened cells slowly return to dormancy, and a small
background escape runs all the time. The model is solved event by event (exact between episodes)
and vectorised across patients with numpy.

The score is exploratory and hypothesis-driven (mouse experiments, observational cohorts): it is
research software and recommends no treatment (:data:`riskcalc.RESEARCH_USE_STATEMENT`).

>>> import datetime as dt
>>> from riskcalc.history import InfectionEpisode, PatientHistory
>>> flu = InfectionEpisode(pathogen="influenza", onset=dt.date(2021, 1, 1),
...                        end=dt.date(2021, 1, 7), severity="mild")
>>> h = PatientHistory(patient_id="p", at_risk_start=dt.date(2021, 1, 1), infections=(flu,))
>>> round(score(h, as_of=dt.date(2021, 4, 1)).score - score(h, as_of=dt.date(2021, 4, 1)).background, 6)
1.0
"""

from __future__ import annotations

from riskcalc.awakening._api import (
    ArrayScores,
    AwakeningBatch,
    AwakeningResult,
    EpisodeContribution,
    SensitivityRow,
    Trajectory,
    hazard_scale,
    score,
    score_arrays,
    score_each,
    score_many,
    sensitivity,
    trajectory,
)
from riskcalc.awakening._docs import parameter_table_markdown
from riskcalc.awakening._params import (
    PATHOGEN_CODES,
    SEVERITY_CODES,
    AwakeningParams,
    Confidence,
    Parameter,
    Preset,
    load_params,
    parameters_version,
)
from riskcalc.awakening._units import il6_to_pg_ml, il6_unit_known

__all__ = [
    "PATHOGEN_CODES",
    "SEVERITY_CODES",
    "ArrayScores",
    "AwakeningBatch",
    "AwakeningParams",
    "AwakeningResult",
    "Confidence",
    "EpisodeContribution",
    "Parameter",
    "Preset",
    "SensitivityRow",
    "Trajectory",
    "hazard_scale",
    "il6_to_pg_ml",
    "il6_unit_known",
    "load_params",
    "parameter_table_markdown",
    "parameters_version",
    "score",
    "score_arrays",
    "score_each",
    "score_many",
    "sensitivity",
    "trajectory",
]
