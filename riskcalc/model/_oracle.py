"""An oracle cohort: simulated histories whose true risk at the index date is known exactly.

The project's simulator (``riskcalc.cohort``) records true event times but not each patient's true
risk at an index date (its future is stochastic at the cell level). Checking the coverage of a
per-patient interval needs the true risk itself, so this small generator draws histories whose
target hazard after the index date is an explicit function of the record up to that date:

``lambda = lambda_site_stage * exp(0.03 (age - 65) + sum_e beta(severity_e) * decay(t - t_e))``

with infection effects that decay with a 3-year half-life, a Gompertz-like competing death hazard
``mu``, and uniform censoring. The true risk at ``H`` is the cumulative incidence of the target,
``lambda / (lambda + mu) * (1 - exp(-(lambda + mu) H))``. Rates are illustrative (assumptions), of
the order of late distant relapse after breast cancer (1-3 %/year).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from riskcalc.features import feature_frame
from riskcalc.history import (
    AtRiskBasis,
    Cancer,
    CancerSite,
    InfectionEpisode,
    Outcome,
    OutcomeKind,
    Pathogen,
    PatientHistory,
    Severity,
)
from riskcalc.model._cohort import LabelledCohort
from riskcalc.model._labels import DAYS_PER_MONTH, Status

_SITES = (CancerSite.BREAST, CancerSite.COLORECTAL, CancerSite.LUNG, CancerSite.PROSTATE)
_SITE_P = (0.55, 0.2, 0.1, 0.15)
_SITE_RATE = (0.015, 0.02, 0.04, 0.01)  # per year, stage I
_STAGE_HR = (1.0, 1.8, 3.2)
_SEVERITY_LOG_HR = {Severity.MILD: 0.15, Severity.HOSPITALISED: 0.5, Severity.CRITICAL: 0.8}
_PATHOGENS = (Pathogen.COVID19, Pathogen.INFLUENZA, Pathogen.RSV, Pathogen.OTHER_VIRAL)
_EFFECT_HALF_LIFE_Y = 3.0


def oracle_cohort(
    n: int, *, seed: int, horizons_months: tuple[int, ...] = (12, 24, 36, 60)
) -> LabelledCohort:
    """``n`` simulated patients at their index dates, with follow-up and true risks by horizon."""
    rng = np.random.default_rng(seed)
    histories: list[PatientHistory] = []
    index_dates: list[dt.date] = []
    times = np.empty(n)
    status = np.empty(n, dtype=np.int64)
    lam = np.empty(n)
    mu = np.empty(n)
    for i in range(n):
        h, index, lam[i], mu[i] = _patient(rng, i)
        t_event = rng.exponential(1 / lam[i]) * 365.25
        t_death = rng.exponential(1 / mu[i]) * 365.25
        t_cens = rng.uniform(30, 365.25 * 7)
        t = min(t_event, t_death, t_cens)
        st = Status.CENSORED if t == t_cens else Status.EVENT if t == t_event else Status.COMPETING
        day = index + dt.timedelta(days=max(1, round(t)))
        outcomes: tuple[Outcome, ...] = ()
        if st is Status.EVENT:
            outcomes = (Outcome(kind=OutcomeKind.METASTATIC_RELAPSE, date=day),)
        elif st is Status.COMPETING:
            outcomes = (Outcome(kind=OutcomeKind.DEATH, date=day),)
        histories.append(h.model_copy(update={"last_contact": day, "outcomes": outcomes}))
        index_dates.append(index)
        times[i], status[i] = float((day - index).days), int(st)
    total = lam + mu
    true_risk = {
        hm: lam / total * (1 - np.exp(-total * hm * DAYS_PER_MONTH / 365.25))
        for hm in horizons_months
    }
    return LabelledCohort(
        features=feature_frame(histories, index_dates),
        time_days=times,
        status=status,
        patient_ids=np.asarray([h.patient_id for h in histories], dtype=np.str_),
        index_dates=tuple(index_dates),
        true_risk=true_risk,
    )


def _patient(rng: np.random.Generator, i: int) -> tuple[PatientHistory, dt.date, float, float]:
    site_i = int(rng.choice(len(_SITES), p=_SITE_P))
    stage_i = int(rng.choice(3, p=(0.45, 0.37, 0.18)))
    female = bool(rng.random() < (0.99 if site_i == 0 else 0.0 if site_i == 3 else 0.5))
    start = dt.date(2005, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 15)))
    age_at_start = float(np.clip(rng.normal(62, 11), 30, 90))
    birth = start - dt.timedelta(days=int(age_at_start * 365.25))
    index = start + dt.timedelta(days=int(rng.uniform(0.5, 6.0) * 365.25))
    years = (index - start).days / 365.25
    age = (index - birth).days / 365.25
    n_inf = int(rng.poisson(0.35 * years))
    episodes = []
    log_hr = 0.0
    for _ in range(n_inf):
        onset = start + dt.timedelta(days=int(rng.uniform(0, (index - start).days)))
        p_sev = 0.05 + 0.004 * max(0.0, age - 50)
        u = rng.random()
        sev = (
            Severity.CRITICAL
            if u < p_sev / 3
            else Severity.HOSPITALISED
            if u < p_sev
            else Severity.MILD
        )
        pathogen = _PATHOGENS[int(rng.choice(4, p=(0.35, 0.35, 0.1, 0.2)))]
        episodes.append(
            InfectionEpisode(
                pathogen=pathogen, onset=onset, end=onset + dt.timedelta(days=10), severity=sev
            )
        )
        since = (index - onset).days / 365.25
        log_hr += _SEVERITY_LOG_HR[sev] * 0.5 ** (since / _EFFECT_HALF_LIFE_Y)
    lam = (
        _SITE_RATE[site_i] * _STAGE_HR[stage_i] * np.exp(0.02 * (age - 65) + log_hr - 0.08 * years)
    )
    mu = 0.008 * np.exp(0.09 * (age - 65))
    history = PatientHistory(
        patient_id=f"oracle-{i}",
        birth_date=birth,
        sex="female" if female else "male",
        at_risk_start=start,
        at_risk_start_basis=AtRiskBasis.ABATEMENT,
        last_contact=index,
        cancers=(
            Cancer(
                site=_SITES[site_i],
                codes=("oracle|1",),
                onset=start - dt.timedelta(days=200),
                abatement=start,
                stage=("I", "II", "III")[stage_i],
            ),
        ),
        infections=tuple(sorted(episodes, key=lambda e: e.onset)),
    )
    return history, index, float(lam), float(mu)
