"""Post-infection index dates and the patient-cluster bootstrap."""

from __future__ import annotations

import datetime as dt

import numpy as np

from riskcalc.history import (
    AtRiskBasis,
    Cancer,
    CancerSite,
    InfectionEpisode,
    Pathogen,
    PatientHistory,
    Severity,
)
from riskcalc.model import _metrics as m
from riskcalc.model._labels import build_risk_set, post_infection_index_dates


def _history(pid: str, infections: tuple[InfectionEpisode, ...] = ()) -> PatientHistory:
    return PatientHistory(
        patient_id=pid,
        birth_date=dt.date(1960, 1, 1),
        sex="female",
        at_risk_start=dt.date(2010, 1, 1),
        at_risk_start_basis=AtRiskBasis.ABATEMENT,
        last_contact=dt.date(2024, 1, 1),
        cancers=(Cancer(site=CancerSite.BREAST, codes=("x|1",), onset=dt.date(2009, 1, 1)),),
        infections=infections,
    )


def _episode(onset: dt.date, days: int = 10) -> InfectionEpisode:
    return InfectionEpisode(
        pathogen=Pathogen.COVID19,
        onset=onset,
        end=onset + dt.timedelta(days=days),
        severity=Severity.HOSPITALISED,
    )


def test_post_infection_dates_follow_each_episode_inside_the_window() -> None:
    early = _episode(dt.date(2010, 2, 1))  # before at-risk start + 6 months: no index date
    mid = _episode(dt.date(2020, 12, 1))
    late = _episode(dt.date(2023, 12, 20))  # end + 30 days after the data cut-off
    h = _history("p", (early, mid, late))
    dates = post_infection_index_dates(h, days_after_end=30, cohort_end=dt.date(2024, 1, 1))
    assert dates == [mid.end + dt.timedelta(days=30)]
    rs = build_risk_set([h], seed=1, cohort_end=dt.date(2024, 1, 1), post_infection_days=30)
    assert len(rs.index_dates) == 2 and mid.end + dt.timedelta(days=30) in rs.index_dates
    assert len(build_risk_set([h], seed=1, cohort_end=dt.date(2024, 1, 1)).index_dates) == 1


def test_cluster_bootstrap_is_wider_when_rows_repeat_patients() -> None:
    rng = np.random.default_rng(0)
    patient_value = rng.normal(size=300)
    values = np.repeat(patient_value, 5)  # five identical rows per patient
    groups = np.repeat(np.arange(300), 5)

    def mean(r: np.ndarray) -> float:  # type: ignore[type-arg]
        return float(values[r].mean())

    naive = m.bootstrap_ci(mean, len(values), reps=300, seed=1)
    cluster = m.bootstrap_ci(mean, len(values), reps=300, seed=1, groups=groups)
    width_naive, width_cluster = naive[1] - naive[0], cluster[1] - cluster[0]
    # the honest width is that of 300 independent values: sqrt(5) times the row bootstrap's
    assert 1.8 < width_cluster / width_naive < 2.8
