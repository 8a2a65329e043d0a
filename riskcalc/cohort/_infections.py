"""Respiratory infection seasons, vaccination and severity (published rates; see the docs).

Everything here is vectorised over the patients of one chunk: a season draws one Bernoulli per
patient. Rates are per symptomatic episode unless said otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskcalc.cohort._params import YEAR_DAYS, day
from riskcalc.cohort._records import Path

FloatA = NDArray[np.float64]
IntA = NDArray[np.int64]
BoolA = NDArray[np.bool_]

# --- influenza ------------------------------------------------------------------------------
# Symptomatic attack rate per season: 8.8% at 18-64 y, 3.9% at 65+ (Tokars et al., Clin Infect
# Dis 2018;66:1511). Season peak late January, sd 28 days (assumption from UKHSA surveillance).
FLU_ATTACK_UNDER65 = 0.088
FLU_ATTACK_65PLUS = 0.039
FLU_PEAK_SD_DAYS = 28.0
# 2020-21: influenza almost vanished under pandemic measures (Olsen et al., MMWR 2020;69:1305).
FLU_SEASON_FACTOR = {2021: 0.03}
# Vaccine uptake: 72% at 65+, 45% in under-65 clinical risk groups (PHE, Surveillance of influenza
# 2019-20); effectiveness ~40% against symptomatic illness (CDC VE network, 2004-2020 average).
FLU_UPTAKE_65PLUS = 0.72
FLU_UPTAKE_UNDER65 = 0.45
FLU_VE_INFECTION = 0.40
# --- RSV ------------------------------------------------------------------------------------
# Annual RSV illness 3-7% of older adults (Falsey et al., NEJM 2005;352:1749): 4% used; peak
# mid-December. Vaccine for 60+ from autumn 2023 (ACIP), uptake ~24% (CDC 2023-24), efficacy
# 82.6% against lower-respiratory disease (Papi et al., NEJM 2023;388:595).
RSV_ATTACK = 0.04
RSV_PEAK_SD_DAYS = 30.0
RSV_SEASON_FACTOR = {2021: 0.05}
RSV_VACCINE_FROM = day(2023, 10, 1)
RSV_UPTAKE_60PLUS = 0.24
RSV_VE_INFECTION = 0.5
# --- COVID-19 -------------------------------------------------------------------------------
# Waves (start, end, symptomatic attack rate, severity multiplier of the variant). Attack rates are
# assumptions shaped on ONS COVID-19 Infection Survey incidence; Omicron's lower severity: hazard
# of hospital admission 0.41 vs Delta (Nyberg et al., Lancet 2022;399:1303).
COVID_WAVES: tuple[tuple[int, int, float, float], ...] = (
    (day(2020, 3, 1), day(2020, 6, 15), 0.04, 1.0),
    (day(2020, 9, 15), day(2021, 2, 28), 0.09, 1.0),
    (day(2021, 6, 1), day(2021, 12, 10), 0.10, 1.0),
    (day(2021, 12, 10), day(2022, 4, 30), 0.28, 0.41),
    (day(2022, 6, 1), day(2022, 9, 15), 0.12, 0.35),
    (day(2022, 10, 1), day(2023, 1, 31), 0.08, 0.3),
    (day(2023, 7, 1), day(2023, 9, 30), 0.05, 0.3),
    (day(2023, 10, 1), day(2024, 1, 31), 0.07, 0.3),
    (day(2024, 7, 1), day(2024, 9, 30), 0.05, 0.3),
    (day(2024, 10, 1), day(2025, 1, 31), 0.07, 0.3),
    (day(2025, 7, 1), day(2025, 9, 30), 0.05, 0.3),
    (day(2025, 10, 1), day(2025, 12, 31), 0.05, 0.3),
)
# Vaccination: first doses from January 2021 by age band (UK JCVI priority order); uptake 92% at
# 60+, 82% below (UKHSA vaccine uptake reports 2021). VE against hospitalisation ~70% after
# waning (Andrews et al., NEJM 2022;386:1532); against symptomatic infection ~20% (assumption).
COVID_UPTAKE_60PLUS = 0.92
COVID_UPTAKE_UNDER60 = 0.82
COVID_VE_INFECTION = 0.20
# Boosters (day, minimum age, uptake among the vaccinated), UKHSA autumn/spring campaigns.
COVID_BOOSTERS: tuple[tuple[int, float, float, str], ...] = (
    (day(2021, 10, 1), 50.0, 0.85, "208"),
    (day(2022, 4, 1), 75.0, 0.75, "207"),
    (day(2022, 10, 1), 50.0, 0.65, "301"),
    (day(2023, 10, 1), 65.0, 0.60, "309"),
    (day(2024, 10, 1), 75.0, 0.55, "312"),
)
DEXAMETHASONE_FROM = day(2020, 6, 16)  # RECOVERY result announced (NEJM 2021;384:693)
TOCILIZUMAB_FROM = day(2021, 2, 11)  # RECOVERY tocilizumab result (Lancet 2021;397:1637)
COVID_TESTING_FROM = day(2020, 3, 1)
COMMUNITY_TESTING_FROM = day(2020, 6, 1)
FREE_TESTING_END = day(2022, 4, 1)

# --- severity (index by Path) ---------------------------------------------------------------
# P(hospitalised | symptomatic episode) by age, interpolated between knots. COVID-19 (unvaccinated,
# pre-Omicron): shaped on Salje et al., Science 2020;369:208 and Verity et al., Lancet Infect Dis
# 2020;20:669. Influenza: CDC burden estimates 2010-2020 (illness-to-hospitalisation by age). RSV:
# Falsey 2005 and Branche et al., Clin Infect Dis 2022;74:1004 (assumption in part).
HOSP_AGE_KNOTS = (
    ((40.0, 50.0, 60.0, 70.0, 80.0, 90.0), (0.02, 0.04, 0.07, 0.13, 0.25, 0.35)),
    ((40.0, 50.0, 65.0, 75.0, 85.0), (0.008, 0.012, 0.03, 0.06, 0.10)),
    ((40.0, 60.0, 70.0, 80.0), (0.005, 0.01, 0.03, 0.06)),
)
# Cancer survivors: influenza hospitalisation or death aHR 2.78 within 5 y (Carreira et al.,
# EClinicalMedicine 2020;29:100656); 1.5 used across all survivors (assumption).
SURVIVOR_SEVERITY_FACTOR = 1.5
VACCINE_HOSP_FACTOR = (0.3, 0.6, 0.2)  # COVID (Andrews 2022), flu (assumption), RSV (Papi 2023)
CRITICAL_GIVEN_HOSP = (
    0.18,
    0.15,
    0.12,
)  # ISARIC (Docherty, BMJ 2020;369:m1985) 17% ICU; others assumption
DEATH_GIVEN_CRITICAL = (0.40, 0.25, 0.25)  # ICNARC 2020 ~40%; others assumption
DEATH_GIVEN_HOSP = (0.12, 0.04, 0.05)  # ISARIC in-hospital (non-ICU share), assumption in part
# Episode duration, days, uniform (low, high) by [pathogen][severity] (assumption; COVID IL-6 falls
# by days 10-16 in survivors, evidence.md §3).
DURATION_DAYS = (
    ((6, 14), (8, 20), (14, 40)),
    ((4, 8), (6, 14), (12, 30)),
    ((5, 10), (6, 14), (10, 25)),
)
# True IL-6 peak, pg/mL: lognormal medians by [pathogen][severity] and sigma by pathogen.
# Influenza: non-severe 14.05, severe 569.14 (BioMed Res Int 2021, 9533044, Table 3). COVID-19:
# severe/critical 36.7 (Leisman et al., Lancet Respir Med 2020), non-severe ~ 36.7 - 19.55
# (Mulchandani 2020). Mild outpatient illness and RSV: assumptions.
IL6_MEDIAN_PG_ML = ((8.0, 17.0, 36.7), (8.0, 14.05, 569.14), (6.0, 14.0, 100.0))
IL6_SIGMA = (0.8, 1.2, 0.9)
IL6_BASELINE_PG_ML = 5.19  # healthy adults, Said et al., J Med Virol 2021
IL6_FATAL_FACTOR = 2.0  # deceased vs survivors +42 pg/mL in COVID (Jafrin 2022): assumption
IL6_MEASURED_SHARE = ((0.0, 0.35, 0.60), (0.0, 0.08, 0.25), (0.0, 0.08, 0.25))  # assumption


def age_at(birth_day: IntA, days: IntA) -> FloatA:
    """Age in years on given days."""
    return np.asarray((days - birth_day) / YEAR_DAYS, dtype=np.float64)


@dataclass
class RawEpisodes:
    """Episodes of a chunk as parallel arrays (before severity and truth)."""

    pidx: IntA
    pathogen: IntA
    onset: IntA
    protected: BoolA
    variant_severity: FloatA


def _concat(parts: list[RawEpisodes]) -> RawEpisodes:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return RawEpisodes(empty, empty, empty, np.zeros(0, bool), np.zeros(0))
    return RawEpisodes(
        np.concatenate([p.pidx for p in parts]),
        np.concatenate([p.pathogen for p in parts]),
        np.concatenate([p.onset for p in parts]),
        np.concatenate([p.protected for p in parts]),
        np.concatenate([p.variant_severity for p in parts]),
    )


def _keep(pidx: IntA, onset: IntA, start: IntA, stop: IntA, hit: BoolA) -> tuple[IntA, IntA, BoolA]:
    ok = hit & (onset >= start[pidx]) & (onset < stop[pidx])
    return pidx[ok], onset[ok], ok


@dataclass
class VaccineDraws:
    """Vaccination days of a chunk: (patient index, day, kind code, CVX)."""

    pidx: list[IntA]
    days: list[IntA]
    kind: list[str]
    cvx: list[NDArray[np.str_]]


def influenza_seasons(
    rng: np.random.Generator,
    birth: IntA,
    start: IntA,
    stop: IntA,
    vaccines: VaccineDraws,
) -> RawEpisodes:
    """Influenza episodes for each winter in 2005-2026, with seasonal vaccination."""
    n = birth.size
    idx = np.arange(n)
    parts = []
    for year in range(2005, 2027):
        vacc_day = day(year - 1, 10, 1) + rng.integers(0, 75, size=n)
        age_v = age_at(birth, vacc_day)
        uptake = np.where(age_v >= 65, FLU_UPTAKE_65PLUS, FLU_UPTAKE_UNDER65)
        vaccinated = rng.random(n) < uptake
        rec = vaccinated & (vacc_day >= start - 180) & (vacc_day < stop)
        cvx_pool = np.array(["141", "140", "150"] if year < 2017 else ["197", "150", "171", "205"])
        vaccines.pidx.append(idx[rec])
        vaccines.days.append(vacc_day[rec])
        vaccines.kind.append("influenza")
        vaccines.cvx.append(cvx_pool[rng.integers(0, cvx_pool.size, size=int(rec.sum()))])

        onset = (day(year, 1, 25) + rng.normal(0.0, FLU_PEAK_SD_DAYS, size=n)).astype(np.int64)
        age = age_at(birth, onset)
        attack = np.where(age >= 65, FLU_ATTACK_65PLUS, FLU_ATTACK_UNDER65)
        attack = attack * FLU_SEASON_FACTOR.get(year, 1.0)
        protected = vaccinated & (vacc_day + 14 <= onset)
        attack = np.where(protected, attack * (1 - FLU_VE_INFECTION), attack)
        p, o, ok = _keep(idx, onset, start, stop, rng.random(n) < attack)
        parts.append(
            RawEpisodes(p, np.full(p.size, int(Path.INFLUENZA)), o, protected[ok], np.ones(p.size))
        )
    return _concat(parts)


def rsv_seasons(
    rng: np.random.Generator,
    birth: IntA,
    start: IntA,
    stop: IntA,
    vaccines: VaccineDraws,
) -> RawEpisodes:
    """RSV episodes each winter, with RSV vaccination of the 60+ from autumn 2023."""
    n = birth.size
    idx = np.arange(n)
    vacc_day = RSV_VACCINE_FROM + rng.integers(0, 400, size=n)
    vaccinated = (age_at(birth, vacc_day) >= 60) & (rng.random(n) < RSV_UPTAKE_60PLUS)
    rec = vaccinated & (vacc_day >= start) & (vacc_day < stop)
    vaccines.pidx.append(idx[rec])
    vaccines.days.append(vacc_day[rec])
    vaccines.kind.append("rsv")
    cvx_pool = np.array(["303", "305", "306"])
    vaccines.cvx.append(cvx_pool[rng.integers(0, 3, size=int(rec.sum()))])
    parts = []
    for year in range(2005, 2026):
        onset = (day(year - 1, 12, 20) + rng.normal(0.0, RSV_PEAK_SD_DAYS, size=n)).astype(np.int64)
        protected = vaccinated & (vacc_day + 14 <= onset)
        attack = np.full(n, RSV_ATTACK * RSV_SEASON_FACTOR.get(year, 1.0))
        attack = np.where(protected, attack * (1 - RSV_VE_INFECTION), attack)
        p, o, ok = _keep(idx, onset, start, stop, rng.random(n) < attack)
        parts.append(
            RawEpisodes(p, np.full(p.size, int(Path.RSV)), o, protected[ok], np.ones(p.size))
        )
    return _concat(parts)


def _covid_first_dose(rng: np.random.Generator, birth: IntA) -> IntA:
    """First-dose day by age band (JCVI order), or a far-future day if never vaccinated."""
    n = birth.size
    age = age_at(birth, np.full(n, day(2021, 1, 1)))
    band_start = np.select(
        [age >= 80, age >= 70, age >= 60, age >= 50],
        [day(2021, 1, 5), day(2021, 2, 1), day(2021, 3, 1), day(2021, 4, 1)],
        default=day(2021, 5, 1),
    )
    first = band_start + rng.integers(0, 45, size=n)
    uptake = np.where(age >= 60, COVID_UPTAKE_60PLUS, COVID_UPTAKE_UNDER60)
    never = rng.random(n) >= uptake
    return np.where(never, np.iinfo(np.int32).max, first).astype(np.int64)


def _record_vaccine(
    vaccines: VaccineDraws, idx: IntA, days: IntA, ok: BoolA, cvx: NDArray[np.str_]
) -> None:
    vaccines.pidx.append(idx[ok])
    vaccines.days.append(days[ok])
    vaccines.kind.append("covid19")
    vaccines.cvx.append(cvx[ok])


def covid_waves(
    rng: np.random.Generator,
    birth: IntA,
    start: IntA,
    stop: IntA,
    vaccines: VaccineDraws,
) -> RawEpisodes:
    """COVID-19 episodes by wave from March 2020, with primary course and boosters."""
    n = birth.size
    idx = np.arange(n)
    first = _covid_first_dose(rng, birth)
    dosed = first < np.iinfo(np.int32).max
    brand = np.array(["208", "210", "207"])[rng.choice(3, size=n, p=np.array([0.55, 0.35, 0.10]))]
    for offset in (0, 77):
        days = first + offset + (rng.integers(0, 14, size=n) if offset else 0)
        _record_vaccine(vaccines, idx, days, dosed & (days >= start) & (days < stop), brand)
    for b_day, min_age, uptake, cvx in COVID_BOOSTERS:
        days = b_day + rng.integers(0, 90, size=n)
        got = dosed & (age_at(birth, days) >= min_age) & (rng.random(n) < uptake)
        _record_vaccine(vaccines, idx, days, got & (days >= start) & (days < stop), np.full(n, cvx))
    parts = []
    for w_start, w_end, attack_rate, variant in COVID_WAVES:
        onset = rng.triangular(w_start, (w_start + w_end) / 2, w_end, size=n).astype(np.int64)
        protected = first + 14 <= onset
        attack = np.where(protected, attack_rate * (1 - COVID_VE_INFECTION), attack_rate)
        p, o, ok = _keep(idx, onset, start, stop, rng.random(n) < attack)
        parts.append(
            RawEpisodes(
                p, np.full(p.size, int(Path.COVID19)), o, protected[ok], np.full(p.size, variant)
            )
        )
    return _concat(parts)


def hospitalisation_probability(pathogen: IntA, age: FloatA) -> FloatA:
    """P(hospitalised | symptomatic episode) by pathogen and age, before vaccination."""
    out = np.zeros(age.size)
    for code, (knots, values) in enumerate(HOSP_AGE_KNOTS):
        sel = pathogen == code
        out[sel] = np.interp(age[sel], knots, values)
    return out * SURVIVOR_SEVERITY_FACTOR
