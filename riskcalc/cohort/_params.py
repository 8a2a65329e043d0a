"""Parameters of the synthetic cohort: published rates (cited) and stated assumptions.

Every number is documented, with its source or the word *assumption*, in
``docs/science/cohort.md``. Tables are module constants; the few knobs that set the size of the
infection effect (and were tuned so that the two human analyses are reproduced) live in
:class:`TruthParams`, so that tests and calibration runs can vary them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from riskcalc.history import CancerSite

EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def day(year: int, month: int, dom: int) -> int:
    """Days since 1970-01-01 of a calendar date (the simulator's time axis)."""
    return dt.date(year, month, dom).toordinal() - EPOCH_ORDINAL


def to_date(days: int) -> dt.date:
    """Inverse of :func:`day`."""
    return dt.date.fromordinal(int(days) + EPOCH_ORDINAL)


YEAR_DAYS = 365.25
COHORT_START = day(2005, 1, 1)
COHORT_END = day(2025, 12, 31)
AT_RISK_LAST = day(2024, 12, 31)

# Sites of the cohort and their shares. Assumption: a survivorship-clinic mix with breast the
# majority (breast is ~30% of UK cancer survivors, Macmillan 2022; enriched here on purpose).
SITES: tuple[CancerSite, ...] = (
    CancerSite.BREAST,
    CancerSite.COLORECTAL,
    CancerSite.LUNG,
    CancerSite.PROSTATE,
    CancerSite.MELANOMA,
)
SITE_SHARE = (0.55, 0.14, 0.08, 0.14, 0.09)
# Share female by site (CRUK incidence statistics 2017-19: colorectal 44% F, lung 48% F,
# melanoma 50% F; breast ~99% F; prostate 0%).
SITE_FEMALE = (0.99, 0.44, 0.48, 0.0, 0.50)
# Mean age at diagnosis, years (SEER Cancer Stat Facts median age at diagnosis: breast 63,
# colorectal 66, lung 71, prostate 67, melanoma 66), sd 11 (assumption), clipped to 30-90.
SITE_AGE_MEAN = (62.0, 66.0, 70.0, 67.0, 62.0)
AGE_SD = 11.0
# Stage I/II/III among survivors treated with curative intent (assumption shaped on SEER
# localized/regional shares; stage IV excluded since these are survivors in remission).
SITE_STAGE_P = (
    (0.45, 0.38, 0.17),
    (0.30, 0.35, 0.35),
    (0.55, 0.25, 0.20),
    (0.50, 0.35, 0.15),
    (0.60, 0.28, 0.12),
)
STAGES = ("I", "II", "III")
# Breast receptor status: HR+ ~80%, HER2+ ~15% (SEER subtype shares: HR+/HER2- 68%, HR+/HER2+ 10%,
# HR-/HER2+ 4%, TNBC 10%, unknown 8%).
BREAST_ER_POS = 0.80
BREAST_HER2_POS = 0.15
# Mean dormant DCC count (dormant units: single DCCs or growth-restricted micrometastases) by
# site and stage (assumption, tuned so that late distant relapse of breast cancer is ~1-2%/year
# as in Pan et al., NEJM 2017;377:1836). Negative binomial with dispersion DCC_NB_K.
SITE_DCC_MEAN = (
    (0.7, 1.6, 3.2),
    (0.6, 1.4, 2.8),
    (1.2, 2.2, 3.6),
    (0.5, 1.0, 2.0),
    (0.6, 1.5, 3.0),
)
DCC_NB_K = 0.6
# Share of a patient's dormant DCCs that reside in the lung (assumption from the usual sites of
# metastasis: breast lung in ~20-30%, colorectal mostly liver, prostate mostly bone).
SITE_LUNG_SHARE = (0.28, 0.20, 0.35, 0.10, 0.35)
# Median survival after metastatic relapse, years (assumption from SEER distant-stage survival:
# breast ~2.5, colorectal ~2, lung ~1, prostate ~3, melanoma ~1.5), lognormal sigma 0.7.
SITE_DEATH_DELAY_Y = (2.5, 2.0, 1.0, 3.0, 1.5)
DEATH_DELAY_SIGMA = 0.7

# Loss to follow-up, per year (assumption: EHR-style attrition).
LTFU_PER_YEAR = 0.03
# Background mortality: Gompertz hazard q65 * exp(b (age - 65)); q65 from ONS National Life
# Tables UK 2017-19 (men 0.0117, women 0.0076), b = 0.095/year (ONS, mortality doubling ~7.3 y).
GOMPERTZ_Q65_MALE = 0.0117
GOMPERTZ_Q65_FEMALE = 0.0076
GOMPERTZ_B = 0.095


@dataclass(frozen=True)
class TruthParams:
    """Knobs of the cell-level ground truth (all assumptions; see docs/science/cohort.md).

    Attributes
    ----------
    escape_half_life_years
        Background escape half-life of one dormant unit, years (Willis et al. 2010: 12-69 y).
    establishment_probability
        Chance that an awakened cell founds a growing clone (the rest are cleared).
    awakening_max_probability
        Largest per-cell awakening probability from one infection (lung-resident cells).
    exposure_half_pg_day_ml
        IL-6 exposure (excess area under the curve, pg/mL x day) giving half the maximum.
    hill_coefficient
        Steepness of the saturating (Hill) exposure-response curve.
    systemic_ratio
        Per-cell awakening probability of non-lung cells relative to lung-resident cells.
    burst_fold_low, burst_fold_high
        Fold expansion of an infection-awakened lung cell within two weeks (Chia et al. 2025
        as reported: 100-1,000-fold), log-uniform.
    systemic_burst_fold_low, systemic_burst_fold_high
        Fold expansion of an infection-awakened cell outside the lung (assumption: a tenth).
    doubling_days_median, doubling_sigma
        Doubling time of a growing clone, days (lognormal); pulmonary metastases of human
        cancers double in 11-164 days (Collins et al. 1956).
    dormant_size_max_cells
        Largest dormant unit, cells (a 0.4 mm micrometastasis ~ 3e4 cells; Willis 2010).
    detection_cells
        Lesion size at clinical detection (~1 cm^3 ~ 1e9 cells; Del Monte 2009).
    infection_clone_death_delay_factor
        Multiplier on the survival after relapse when the first detected clone was woken by an
        infection (assumption: IL-6 pushes cells into a hybrid, rapidly growing state; evidence.md
        §1.3, secondary sources).
    infection_clone_doubling_factor
        Multiplier on the doubling time of a clone woken by an infection (same assumption).
    dexamethasone_factor, tocilizumab_factor
        Multipliers on the IL-6 exposure under dexamethasone / IL-6 blockade.
    """

    escape_half_life_years: float = 30.0
    establishment_probability: float = 0.4
    awakening_max_probability: float = 0.15
    exposure_half_pg_day_ml: float = 200.0
    systemic_ratio: float = 4.0
    hill_coefficient: float = 2.0
    burst_fold_low: float = 100.0
    burst_fold_high: float = 1000.0
    systemic_burst_fold_low: float = 10.0
    systemic_burst_fold_high: float = 100.0
    doubling_days_median: float = 30.0
    doubling_sigma: float = 0.35
    dormant_size_max_cells: float = 3.0e4
    detection_cells: float = 1.0e9
    infection_clone_death_delay_factor: float = 0.15
    infection_clone_doubling_factor: float = 0.6
    dexamethasone_factor: float = 0.6
    tocilizumab_factor: float = 0.2
