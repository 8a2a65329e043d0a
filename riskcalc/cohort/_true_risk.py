"""Each simulated patient's true risk at an index date, by Monte Carlo re-simulation.

The simulator's truth is stochastic at the cell level, so a patient's *true risk* of the target
(metastatic relapse, or cancer death, which only follows a relapse) within ``H`` after an index
date ``t`` is defined as the probability under the simulator's own law, given

- everything fixed about the patient up to ``t``: site, stage, sex, birth date, at-risk start and
  **every** infection episode before ``t`` with its true IL-6 exposure and treatment (recorded or
  not: a reference slightly richer than the clinical record the model sees), and
- being in remission and alive at ``t``,

marginalising over what the simulator draws and nobody can observe: the count and location of
dormant cells, their awakening, establishment, burst and growth (re-drawn from the prior and kept
only when no relapse occurred by ``t``: rejection sampling on remission at ``t``), and the future
after ``t``: new infection seasons and waves (calendar-dependent attack rates, severity,
exposure, fatality), and death from other causes (Gompertz, conditional on being alive at ``t``).
Vaccination in the re-simulated future is re-drawn too.

The estimate is the share of accepted replicates with a relapse in ``(t, t + H]`` no later than
death; its Monte Carlo standard error is ``sqrt(r (1 - r) / accepted)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from riskcalc.cohort import _infections as inf
from riskcalc.cohort._engine import NEVER, Baseline, Episodes, _episodes, _truth
from riskcalc.cohort._infections import RawEpisodes, VaccineDraws, age_at
from riskcalc.cohort._params import (
    GOMPERTZ_B,
    GOMPERTZ_Q65_FEMALE,
    GOMPERTZ_Q65_MALE,
    SITES,
    STAGES,
    YEAR_DAYS,
    TruthParams,
)
from riskcalc.cohort._records import SimPatient

DAYS_PER_MONTH = 365.25 / 12.0
#: Replicates per batch (bounds memory: a batch holds a few million cell-episode pairs).
BATCH_REPLICATES = 200_000


def true_risk(
    patients: Sequence[SimPatient],
    index_days: Sequence[int],
    horizons_months: Sequence[int],
    *,
    replicates: int,
    seed: int,
    params: TruthParams | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Monte Carlo true risk of the target within each horizon after each patient's index day.

    Parameters
    ----------
    patients
        Simulated patients (:func:`riskcalc.cohort.iter_patients`).
    index_days
        Index date of each patient, days since 1970-01-01; the patient must be alive and in
        remission then.
    horizons_months
        Horizons ``H`` (months of 365.25/12 days, as the model's labels).
    replicates
        Re-simulations per patient (before rejection of those relapsed by the index date).
    seed
        Seed of the re-simulation.
    params
        Ground-truth knobs (the simulator's defaults when None; must be those of the cohort).

    Returns
    -------
    risk, accepted
        ``risk[i, j]`` the estimate for patient ``i`` and horizon ``j``; ``accepted[i]`` the
        replicates kept (in remission at the index date), for the Monte Carlo error.
    """
    truth_params = params or TruthParams()
    horizons_days = np.asarray([h * DAYS_PER_MONTH for h in horizons_months])
    rng = np.random.default_rng(seed)
    n = len(patients)
    risk = np.zeros((n, len(horizons_days)))
    accepted = np.zeros(n, dtype=np.int64)
    per_batch = max(1, BATCH_REPLICATES // max(1, replicates))
    for lo in range(0, n, per_batch):
        hi = min(n, lo + per_batch)
        r, a = _batch(
            list(patients[lo:hi]),
            np.asarray(index_days[lo:hi], dtype=np.int64),
            horizons_days,
            replicates,
            rng,
            truth_params,
        )
        risk[lo:hi], accepted[lo:hi] = r, a
    return risk, accepted


def _batch(
    patients: list[SimPatient],
    index_days: NDArray[np.int64],
    horizons_days: NDArray[np.float64],
    reps: int,
    rng: np.random.Generator,
    params: TruthParams,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    k = len(patients)
    owner = np.repeat(np.arange(k), reps)
    m = owner.size

    def per_patient(values: list[float] | list[int] | list[bool]) -> NDArray[np.generic]:
        return np.asarray(values)[owner]

    site = per_patient([SITES.index(p.site) for p in patients]).astype(np.int64)
    stage = per_patient([STAGES.index(p.stage) for p in patients]).astype(np.int64)
    female = per_patient([p.female for p in patients]).astype(bool)
    birth = per_patient([p.birth_day for p in patients]).astype(np.int64)
    risk_start = per_patient([p.at_risk_start_day for p in patients]).astype(np.int64)
    index = index_days[owner]
    last_day = index + int(np.ceil(horizons_days.max())) + 1
    zeros_i = np.zeros(m, dtype=np.int64)
    base = Baseline(
        site, female, stage, zeros_i.astype(bool), zeros_i.astype(bool), risk_start,
        risk_start, birth, zeros_i, zeros_i,
    )  # fmt: skip

    # the future: new seasons and waves after the index date, re-drawn per replicate
    start = index + 1
    throwaway = VaccineDraws([], [], [], [])
    raw = inf._concat(
        [
            inf.influenza_seasons(rng, birth, start, last_day, throwaway),
            inf.rsv_seasons(rng, birth, start, last_day, throwaway),
            inf.covid_waves(rng, birth, start, last_day, throwaway),
        ]
    )
    future = _episodes(rng, raw, birth)
    past = _past_episodes(patients, index_days, reps)
    eps = _merge(past, future)
    truth = _truth(rng, base, eps, params)
    relapse = np.minimum(truth.lung_met, truth.other_met)
    in_remission = relapse > index

    # deaths after the index date: other causes (Gompertz, conditional on being alive at the
    # index date: the residual life of a Gompertz hazard h(t) e^{b s}) and fatal infections
    age = age_at(birth, index)
    h0 = np.where(female, GOMPERTZ_Q65_FEMALE, GOMPERTZ_Q65_MALE) * np.exp(
        GOMPERTZ_B * (age - 65.0)
    )
    other = index + (np.log1p(rng.exponential(1.0, m) * GOMPERTZ_B / h0) / GOMPERTZ_B) * YEAR_DAYS
    inf_death = np.full(m, float(NEVER))
    fatal = eps.fatal & (eps.end > index[eps.raw.pidx])
    np.minimum.at(inf_death, eps.raw.pidx[fatal], eps.end[fatal].astype(np.float64))
    death = np.minimum(other, inf_death)

    since = (relapse - index).astype(np.float64)
    hit = (in_remission & (relapse <= death))[:, None] & (since[:, None] <= horizons_days[None, :])
    accepted = np.bincount(owner, weights=in_remission, minlength=k)
    risk = (
        np.column_stack(
            [np.bincount(owner, weights=hit[:, j], minlength=k) for j in range(hit.shape[1])]
        )
        / np.maximum(accepted, 1)[:, None]
    )
    return risk, accepted.astype(np.int64)


def _past_episodes(
    patients: list[SimPatient], index_days: NDArray[np.int64], reps: int
) -> Episodes:
    """Every true episode with onset on or before the index date, repeated for each replicate."""
    rows: list[tuple[int, int, int, float, bool, bool, bool, int]] = []
    for i, (p, t) in enumerate(zip(patients, index_days, strict=True)):
        for e in p.episodes:
            if e.onset_day <= t:
                rows.append(
                    (i, int(e.pathogen), e.onset_day, e.il6_exposure_pg_day_ml,
                     e.corticosteroids, e.il6_blockade, e.fatal, e.end_day)
                )  # fmt: skip
    per = np.asarray([r[0] for r in rows], dtype=np.int64)
    # replicate j of patient i is row i * reps + j
    pidx = (per[:, None] * reps + np.arange(reps)[None, :]).ravel()
    take = np.repeat(np.arange(len(rows)), reps)

    def col(j: int, dtype: type) -> NDArray[np.generic]:
        return np.asarray([r[j] for r in rows], dtype=dtype)[take]

    return _episodes_record(
        pidx,
        col(1, np.int64),
        col(2, np.int64),
        col(3, np.float64),
        col(4, bool),
        col(5, bool),
        col(6, bool),
        col(7, np.int64),
    )


def _episodes_record(
    pidx: NDArray[Any],
    pathogen: NDArray[Any],
    onset: NDArray[Any],
    exposure: NDArray[Any],
    dex: NDArray[Any],
    toc: NDArray[Any],
    fatal: NDArray[Any],
    end: NDArray[Any],
) -> Episodes:
    size = pidx.size
    f0 = np.zeros(size)
    b0 = np.zeros(size, dtype=bool)
    i0 = np.zeros(size, dtype=np.int64)
    raw = RawEpisodes(pidx, pathogen, onset, b0, f0 + 1.0)
    return Episodes(raw, i0, end, fatal, f0, f0, exposure, dex, toc, b0, b0, b0)


def _merge(a: Episodes, b: Episodes) -> Episodes:
    """Both sets of episodes, sorted by replicate then onset (as the truth step requires)."""
    pidx = np.concatenate([a.raw.pidx, b.raw.pidx])
    onset = np.concatenate([a.raw.onset, b.raw.onset])
    order = np.lexsort((onset, pidx))

    def cat(x: NDArray[np.generic], y: NDArray[np.generic]) -> NDArray[np.generic]:
        return np.concatenate([x, y])[order]

    return _episodes_record(
        pidx[order],
        cat(a.raw.pathogen, b.raw.pathogen),
        onset[order],
        cat(a.exposure, b.exposure),
        cat(a.dexamethasone, b.dexamethasone),
        cat(a.tocilizumab, b.tocilizumab),
        cat(a.fatal, b.fatal),
        cat(a.end, b.end),
    )
