"""The generator: one chunk of patients from a seed, vectorised over patients.

The ground truth is stochastic and cell-level: every patient carries a count of dormant DCCs, each
cell awakens at a random time (a background escape hazard, plus a chance at every infection that
rises with the episode's IL-6 exposure), an awakened cell founds a clone with some probability,
the clone grows with a random doubling time (after an expansion burst when an infection woke it in
the lung), and relapse is the first clone to reach the detection size. The deterministic awakening
score of ``riskcalc.awakening`` is not used anywhere here.

A chunk's random stream is ``default_rng([seed, chunk_index])``: the same seed and chunk size give
the same patients whatever else runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskcalc.cohort import _infections as inf
from riskcalc.cohort._infections import BoolA, FloatA, IntA, RawEpisodes, VaccineDraws, age_at
from riskcalc.cohort._params import (
    AGE_SD,
    AT_RISK_LAST,
    BREAST_ER_POS,
    BREAST_HER2_POS,
    COHORT_END,
    COHORT_START,
    DCC_NB_K,
    DEATH_DELAY_SIGMA,
    GOMPERTZ_B,
    GOMPERTZ_Q65_FEMALE,
    GOMPERTZ_Q65_MALE,
    LTFU_PER_YEAR,
    SITE_AGE_MEAN,
    SITE_DCC_MEAN,
    SITE_DEATH_DELAY_Y,
    SITE_FEMALE,
    SITE_LUNG_SHARE,
    SITE_SHARE,
    SITE_STAGE_P,
    SITES,
    STAGES,
    YEAR_DAYS,
    TruthParams,
    day,
)
from riskcalc.cohort._records import (
    Path,
    Sev,
    SimEpisode,
    SimPatient,
    SimTest,
    SimTreatment,
    SimVaccination,
)
from riskcalc.cohort._treatments import treatment_plan
from riskcalc.history import VaccineKind

NEVER = np.iinfo(np.int32).max


@dataclass
class Baseline:
    """Patient-level arrays of a chunk."""

    site: IntA
    female: BoolA
    stage: IntA
    er: BoolA
    her2: BoolA
    risk_start: IntA
    diagnosis: IntA
    birth: IntA
    ltfu: IntA
    other_death: IntA


def _baseline(rng: np.random.Generator, n: int) -> Baseline:
    site = rng.choice(len(SITES), size=n, p=np.array(SITE_SHARE))
    female = rng.random(n) < np.array(SITE_FEMALE)[site]
    age_dx = np.clip(rng.normal(np.array(SITE_AGE_MEAN)[site], AGE_SD), 30.0, 90.0)
    cum = np.cumsum(np.array(SITE_STAGE_P), axis=1)[site]
    stage = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, 2)
    er = (site == 0) & (rng.random(n) < BREAST_ER_POS)
    her2 = (site == 0) & (rng.random(n) < BREAST_HER2_POS)
    risk_start = rng.integers(COHORT_START, AT_RISK_LAST + 1, size=n)
    # Primary treatment (surgery, chemotherapy, radiotherapy) takes 1-9 months before remission.
    treat_days = rng.integers(30, 270, size=n)
    diagnosis = risk_start - treat_days
    birth = diagnosis - np.round(age_dx * YEAR_DAYS).astype(np.int64)
    ltfu = risk_start + (rng.exponential(1.0 / LTFU_PER_YEAR, n) * YEAR_DAYS).astype(np.int64)
    age0 = age_at(birth, risk_start)
    q65 = np.where(female, GOMPERTZ_Q65_FEMALE, GOMPERTZ_Q65_MALE)
    h0 = q65 * np.exp(GOMPERTZ_B * (age0 - 65.0))
    t_death = np.log1p(rng.exponential(1.0, n) * GOMPERTZ_B / h0) / GOMPERTZ_B
    other_death = risk_start + (t_death * YEAR_DAYS).astype(np.int64)
    return Baseline(site, female, stage, er, her2, risk_start, diagnosis, birth, ltfu, other_death)


@dataclass
class Episodes:
    """Episodes of a chunk after severity, treatment and recording were drawn (sorted)."""

    raw: RawEpisodes
    severity: IntA
    end: IntA
    fatal: BoolA
    il6_peak: FloatA
    il6_measured: FloatA  # NaN when not measured
    exposure: FloatA
    dexamethasone: BoolA
    tocilizumab: BoolA
    ventilated: BoolA
    recorded: BoolA
    tested: BoolA


def _pick(table: tuple[tuple[float, ...], ...], path: IntA, sev: IntA) -> FloatA:
    return np.asarray(np.array(table)[path, sev], dtype=np.float64)


def _severity(rng: np.random.Generator, raw: RawEpisodes, birth: IntA) -> IntA:
    path = raw.pathogen
    age = age_at(birth[raw.pidx], raw.onset)
    p_hosp = inf.hospitalisation_probability(path, age) * raw.variant_severity
    p_hosp = np.where(raw.protected, p_hosp * np.array(inf.VACCINE_HOSP_FACTOR)[path], p_hosp)
    hosp = rng.random(path.size) < np.minimum(p_hosp, 0.9)
    crit = hosp & (rng.random(path.size) < np.array(inf.CRITICAL_GIVEN_HOSP)[path])
    return hosp.astype(np.int64) + crit.astype(np.int64)


def _episodes(rng: np.random.Generator, raw: RawEpisodes, birth: IntA) -> Episodes:
    order = np.lexsort((raw.onset, raw.pidx))
    raw = RawEpisodes(*(a[order] for a in vars(raw).values()))
    m = raw.pidx.size
    path, onset = raw.pathogen, raw.onset
    sev = _severity(rng, raw, birth)
    bounds = np.array(inf.DURATION_DAYS)[path, sev]
    end = onset + rng.integers(bounds[:, 0], bounds[:, 1] + 1)
    age = age_at(birth[raw.pidx], onset)
    p_die = np.where(
        sev == 2,
        np.array(inf.DEATH_GIVEN_CRITICAL)[path],
        np.where(sev == 1, np.array(inf.DEATH_GIVEN_HOSP)[path], 0.0),
    )
    p_die = np.minimum(p_die * np.where(age >= 80, 1.5, 1.0), 0.9)
    fatal = rng.random(m) < p_die
    peak = _pick(inf.IL6_MEDIAN_PG_ML, path, sev) * np.exp(
        rng.normal(0.0, 1.0, m) * np.array(inf.IL6_SIGMA)[path]
    )
    peak = np.where(fatal, peak * inf.IL6_FATAL_FACTOR, peak)
    covid_hosp = (path == int(Path.COVID19)) & (sev >= 1)
    p_dex = np.where(
        covid_hosp & (onset >= inf.DEXAMETHASONE_FROM),
        np.where(sev == 2, 0.85, 0.6),
        np.where((path == int(Path.INFLUENZA)) & (sev >= 1), np.where(sev == 2, 0.3, 0.15), 0.0),
    )
    dex = rng.random(m) < p_dex
    p_toc = np.where(
        covid_hosp & (onset >= inf.TOCILIZUMAB_FROM), np.where(sev == 2, 0.35, 0.08), 0
    )
    toc = rng.random(m) < p_toc
    excess = np.maximum(peak - inf.IL6_BASELINE_PG_ML, 0.0)
    exposure = 0.5 * excess * (end - onset + 1)
    measured_share = _pick(inf.IL6_MEASURED_SHARE, path, sev)
    measured = rng.random(m) < measured_share
    il6_measured = np.where(measured, np.round(peak * np.exp(rng.normal(0.0, 0.25, m)), 1), np.nan)
    recorded, tested = _recording(rng, path, sev, onset)
    ventilated = (sev == 2) & (rng.random(m) < 0.6)
    return Episodes(
        raw, sev, end, fatal, peak, il6_measured, exposure, dex, toc, ventilated, recorded, tested
    )


def _recording(rng: np.random.Generator, path: IntA, sev: IntA, onset: IntA) -> tuple[BoolA, BoolA]:
    """Whether a clinic recorded the episode, and whether a positive test is on file."""
    m = path.size
    p_mild_covid = np.select(
        [onset < inf.COMMUNITY_TESTING_FROM, onset < inf.FREE_TESTING_END], [0.15, 0.6], 0.3
    )
    p_mild = np.select(
        [path == int(Path.COVID19), path == int(Path.INFLUENZA)], [p_mild_covid, 0.3], 0.1
    )
    recorded = (sev >= 1) | (rng.random(m) < p_mild)
    p_test = np.select(
        [path == int(Path.COVID19), sev >= 1], [np.where(sev >= 1, 0.99, 0.95), 0.85], 0.5
    )
    tested = recorded & (rng.random(m) < p_test)
    return recorded, tested


@dataclass
class Truth:
    """Cell-level truth of a chunk."""

    dormant_lung: IntA
    dormant_other: IntA
    lung_met: IntA  # NEVER if none
    other_met: IntA
    first_by_infection: BoolA
    awakened_lung_per_episode: IntA
    awakened_other_per_episode: IntA


def _truth(rng: np.random.Generator, base: Baseline, eps: Episodes, params: TruthParams) -> Truth:
    n = base.site.size
    mean = np.array(SITE_DCC_MEAN)[base.site, base.stage]
    count = rng.poisson(rng.gamma(DCC_NB_K, mean / DCC_NB_K))
    lung = rng.binomial(count, np.array(SITE_LUNG_SHARE)[base.site])
    cell_pidx = np.repeat(np.arange(n), count)
    c = cell_pidx.size
    rank = np.arange(c) - np.repeat(np.cumsum(count) - count, count)
    cell_lung = rank < lung[cell_pidx]
    rate_per_day = np.log(2.0) / (params.escape_half_life_years * YEAR_DAYS)
    awake = base.risk_start[cell_pidx] + rng.exponential(1.0 / rate_per_day, c)
    cause = np.full(c, -1, dtype=np.int64)

    # Pair every cell with every episode of its patient (episodes are sorted by patient).
    first_ep = np.searchsorted(eps.raw.pidx, np.arange(n), side="left")
    n_ep = np.searchsorted(eps.raw.pidx, np.arange(n), side="right") - first_ep
    per_cell = n_ep[cell_pidx]
    pair_cell = np.repeat(np.arange(c), per_cell)
    offsets = np.arange(pair_cell.size) - np.repeat(np.cumsum(per_cell) - per_cell, per_cell)
    pair_ep = first_ep[cell_pidx][pair_cell] + offsets
    factor = np.where(eps.dexamethasone, params.dexamethasone_factor, 1.0) * np.where(
        eps.tocilizumab, params.tocilizumab_factor, 1.0
    )
    e = eps.exposure * factor
    ratio = (e / params.exposure_half_pg_day_ml) ** params.hill_coefficient
    p_lung = params.awakening_max_probability * ratio / (1.0 + ratio)
    p_pair = np.where(
        cell_lung[pair_cell], p_lung[pair_ep], params.systemic_ratio * p_lung[pair_ep]
    )
    hit = rng.random(pair_cell.size) < p_pair
    hit_cells, first_hit = np.unique(pair_cell[hit], return_index=True)
    hit_ep = pair_ep[hit][first_hit]
    hit_day = eps.raw.onset[hit_ep] + 3.0  # proliferation within ~3 days (evidence.md row 1)
    earlier = hit_day < awake[hit_cells]
    awake[hit_cells[earlier]] = hit_day[earlier]
    cause[hit_cells[earlier]] = hit_ep[earlier]

    established = rng.random(c) < params.establishment_probability
    size0 = np.exp(rng.uniform(0.0, np.log(params.dormant_size_max_cells), c))
    u = rng.random(c)
    lung_burst = params.burst_fold_low * (params.burst_fold_high / params.burst_fold_low) ** u
    sys_burst = (
        params.systemic_burst_fold_low
        * (params.systemic_burst_fold_high / params.systemic_burst_fold_low) ** u
    )
    burst = np.where(cause >= 0, np.where(cell_lung, lung_burst, sys_burst), 1.0)
    doubling = params.doubling_days_median * np.exp(rng.normal(0.0, params.doubling_sigma, c))
    doubling = np.where(cause >= 0, doubling * params.infection_clone_doubling_factor, doubling)
    grow = doubling * np.log2(params.detection_cells / (size0 * burst))
    detect = np.where(established, awake + grow, np.inf)
    detect = np.minimum(detect, float(NEVER)).astype(np.int64)

    lung_met = np.full(n, NEVER, dtype=np.int64)
    other_met = np.full(n, NEVER, dtype=np.int64)
    np.minimum.at(lung_met, cell_pidx[cell_lung], detect[cell_lung])
    np.minimum.at(other_met, cell_pidx[~cell_lung], detect[~cell_lung])
    first_cause = np.full(n, NEVER, dtype=np.int64)
    first_inf = np.zeros(n, dtype=bool)
    order = np.lexsort((detect, cell_pidx))
    firsts = order[np.unique(cell_pidx[order], return_index=True)[1]]
    first_cause[cell_pidx[firsts]] = detect[firsts]
    first_inf[cell_pidx[firsts]] = (cause[firsts] >= 0) & established[firsts]

    m = eps.raw.pidx.size
    aw_lung = np.bincount(cause[(cause >= 0) & cell_lung], minlength=m)[:m]
    aw_other = np.bincount(cause[(cause >= 0) & ~cell_lung], minlength=m)[:m]
    return Truth(lung, count - lung, lung_met, other_met, first_inf, aw_lung, aw_other)


@dataclass
class Tests:
    pidx: IntA
    pathogen: IntA
    day: IntA
    positive: BoolA


def _negative_tests(rng: np.random.Generator, start: IntA, stop: IntA) -> Tests:
    """Negative virus tests outside episodes (SARS-CoV-2 mass testing; some influenza tests)."""
    n = start.size
    windows = (
        (Path.COVID19, inf.COVID_TESTING_FROM, day(2021, 1, 1), 0.5),
        (Path.COVID19, day(2021, 1, 1), inf.FREE_TESTING_END, 0.9),
        (Path.COVID19, inf.FREE_TESTING_END, COHORT_END, 0.35),
        (Path.INFLUENZA, COHORT_START, COHORT_END, 0.4),
    )
    pidx, path, days = [], [], []
    for pathogen, w0, w1, mean in windows:
        k = rng.poisson(mean, n)
        p = np.repeat(np.arange(n), k)
        d = rng.integers(w0, w1, size=p.size)
        ok = (d >= start[p]) & (d < stop[p])
        pidx.append(p[ok])
        days.append(d[ok])
        path.append(np.full(int(ok.sum()), int(pathogen)))
    p_all = np.concatenate(pidx)
    return Tests(p_all, np.concatenate(path), np.concatenate(days), np.zeros(p_all.size, bool))


def simulate_chunk(
    seed: int, chunk_index: int, first_index: int, n: int, params: TruthParams
) -> list[SimPatient]:
    """Simulate ``n`` patients (indices ``first_index`` ...) from ``(seed, chunk_index)``."""
    rng = np.random.default_rng([seed, chunk_index])
    base = _baseline(rng, n)
    stop0 = np.minimum.reduce([np.full(n, COHORT_END + 1), base.ltfu, base.other_death])
    vaccines = VaccineDraws([], [], [], [])
    raw = inf._concat(
        [
            inf.influenza_seasons(rng, base.birth, base.risk_start, stop0, vaccines),
            inf.rsv_seasons(rng, base.birth, base.risk_start, stop0, vaccines),
            inf.covid_waves(rng, base.birth, base.risk_start, stop0, vaccines),
        ]
    )
    eps = _episodes(rng, raw, base.birth)
    truth = _truth(rng, base, eps, params)
    # Deaths: other causes, a fatal infection (end of the episode), or cancer after relapse.
    inf_death = np.full(n, NEVER, dtype=np.int64)
    np.minimum.at(inf_death, eps.raw.pidx[eps.fatal], eps.end[eps.fatal])
    relapse = np.minimum(truth.lung_met, truth.other_met)
    delay = np.array(SITE_DEATH_DELAY_Y)[base.site] * np.exp(rng.normal(0, DEATH_DELAY_SIGMA, n))
    delay = np.where(
        truth.first_by_infection, delay * params.infection_clone_death_delay_factor, delay
    )
    cancer_death = np.where(relapse < NEVER, relapse + (delay * YEAR_DAYS).astype(np.int64), NEVER)
    death = np.minimum.reduce([base.other_death, inf_death, cancer_death])
    cause = np.select(
        [death == cancer_death, death == inf_death], [2, 1], default=0
    )  # 0 other, 1 infection, 2 cancer
    stop = np.minimum.reduce([np.full(n, COHORT_END + 1), base.ltfu, death + 1])
    tests = _negative_tests(rng, base.risk_start, stop)
    noise = rng.integers(0, 2**31 - 1, size=n)
    visit_jitter = rng.integers(-30, 31, size=(n, 22))
    visit_keep = rng.random((n, 22)) < 0.85
    treatments = treatment_plan(rng, base)
    return _assemble(
        seed,
        first_index,
        base,
        eps,
        truth,
        tests,
        vaccines,
        death,
        cause,
        stop,
        noise,
        visit_jitter,
        visit_keep,
        treatments,
        rng.random(n) < 0.85,
    )


def _group(pidx: IntA, n: int) -> tuple[IntA, IntA]:
    order = np.argsort(pidx, kind="stable")
    bounds = np.searchsorted(pidx[order], np.arange(n + 1))
    return order, bounds


def _assemble(
    seed: int,
    first_index: int,
    base: Baseline,
    eps: Episodes,
    truth: Truth,
    tests: Tests,
    vaccines: VaccineDraws,
    death: IntA,
    cause: IntA,
    stop: IntA,
    noise: IntA,
    visit_jitter: NDArray[np.int64],
    visit_keep: BoolA,
    treatments: list[tuple[SimTreatment, ...]],
    abatement: BoolA,
) -> list[SimPatient]:
    n = base.site.size
    ep_bounds = np.searchsorted(eps.raw.pidx, np.arange(n + 1))
    t_order, t_bounds = _group(tests.pidx, n)
    v_pidx = np.concatenate(vaccines.pidx) if vaccines.pidx else np.zeros(0, np.int64)
    v_days = np.concatenate(vaccines.days) if vaccines.days else np.zeros(0, np.int64)
    v_kind = np.concatenate(
        [np.full(p.size, k) for p, k in zip(vaccines.pidx, vaccines.kind, strict=True)]
    )
    v_cvx = np.concatenate(vaccines.cvx)
    v_order = np.lexsort((v_days, v_pidx))
    v_bounds = np.searchsorted(v_pidx[v_order], np.arange(n + 1))
    kinds = {
        "influenza": VaccineKind.INFLUENZA,
        "covid19": VaccineKind.COVID19,
        "rsv": VaccineKind.RSV,
    }
    out = []
    for i in range(n):
        last = int(stop[i]) - 1
        episodes = tuple(
            _episode(eps, truth, j, last)
            for j in range(ep_bounds[i], ep_bounds[i + 1])
            if eps.raw.onset[j] <= last
        )
        sim_tests = tuple(
            sorted(
                (
                    SimTest(Path(int(tests.pathogen[j])), int(tests.day[j]), False)
                    for j in t_order[t_bounds[i] : t_bounds[i + 1]]
                ),
                key=lambda t: (t.day, int(t.pathogen)),
            )
        )
        vaccs = tuple(
            SimVaccination(kinds[str(v_kind[j])], int(v_days[j]), str(v_cvx[j]))
            for j in v_order[v_bounds[i] : v_bounds[i + 1]]
            if v_days[j] <= last
        )
        start = int(base.risk_start[i])
        visits = tuple(
            sorted(
                {
                    start + 365 * (k + 1) + int(visit_jitter[i, k])
                    for k in range(22)
                    if visit_keep[i, k] and start + 365 * (k + 1) + int(visit_jitter[i, k]) < last
                }
                | {last}
            )
        )
        dead = bool(death[i] <= last)
        lm = int(truth.lung_met[i])
        om = int(truth.other_met[i])
        rel = min(lm, om)
        out.append(
            SimPatient(
                index=first_index + i,
                patient_id=f"sim{seed}-{first_index + i:07d}",
                female=bool(base.female[i]),
                birth_day=int(base.birth[i]),
                site=SITES[int(base.site[i])],
                stage=STAGES[int(base.stage[i])],
                er_positive=bool(base.er[i]) if base.site[i] == 0 else None,
                her2_positive=bool(base.her2[i]) if base.site[i] == 0 else None,
                diagnosis_day=int(base.diagnosis[i]),
                at_risk_start_day=start,
                remission_as_abatement=bool(abatement[i]),
                treatments=treatments[i],
                episodes=episodes,
                tests=sim_tests,
                vaccinations=vaccs,
                visit_days=visits,
                last_contact_day=last,
                ltfu_day=int(base.ltfu[i]) if base.ltfu[i] <= last and not dead else None,
                death_day=int(death[i]) if dead else None,
                death_cause=("other", "infection", "cancer")[int(cause[i])] if dead else None,
                dormant_lung=int(truth.dormant_lung[i]),
                dormant_other=int(truth.dormant_other[i]),
                relapse_day=rel if rel < NEVER else None,
                lung_met_day=lm if lm < NEVER else None,
                other_met_day=om if om < NEVER else None,
                first_relapse_lung=bool(rel < NEVER and lm <= om),
                relapse_by_infection=bool(truth.first_by_infection[i]),
                noise=int(noise[i]),
            )
        )
    return out


def _episode(eps: Episodes, truth: Truth, j: int, last: int) -> SimEpisode:
    """One episode; its recorded end is clipped to the last contact (lost or died during it)."""
    measured = float(eps.il6_measured[j])
    return SimEpisode(
        pathogen=Path(int(eps.raw.pathogen[j])),
        onset_day=int(eps.raw.onset[j]),
        end_day=min(int(eps.end[j]), last),
        severity=Sev(int(eps.severity[j])),
        il6_true_peak_pg_ml=round(float(eps.il6_peak[j]), 2),
        il6_exposure_pg_day_ml=round(float(eps.exposure[j]), 1),
        il6_measured_pg_ml=None if np.isnan(measured) else measured,
        il6_blockade=bool(eps.tocilizumab[j]),
        corticosteroids=bool(eps.dexamethasone[j]),
        recorded=bool(eps.recorded[j]),
        tested=bool(eps.tested[j]),
        ventilated=bool(eps.ventilated[j]),
        fatal=bool(eps.fatal[j]),
        awakened_lung=int(truth.awakened_lung_per_episode[j]),
        awakened_other=int(truth.awakened_other_per_episode[j]),
    )
