"""Features of one patient at an index date, and feature tables for cohorts.

Pure functions: the index date is an argument, nothing reads a clock, a file or a global state.
Only records dated on or before the index date are used (no look-ahead); infection episodes count
from the at-risk (remission) start, the time from which dormant cells are assumed (DESIGN.md §4-5).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from riskcalc.errors import ConfigError
from riskcalc.features._schema import (
    _TREATMENTS_USED,
    FEATURE_NAMES,
    RECENCY_WINDOWS,
    infection_feature_name,
)
from riskcalc.history import (
    METASTATIC_OUTCOMES,
    Cancer,
    CancerSite,
    Pathogen,
    PatientHistory,
    Severity,
    VaccineKind,
)

if TYPE_CHECKING:
    import pandas as pd

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0

_ROMAN = (("IV", 4.0), ("III", 3.0), ("II", 2.0), ("I", 1.0))
_STAGE_PREFIX = re.compile(r"^(?:STAGE\s*)?(0|IV|III|II|I|[1-4])(?:[A-C]\d?)?\b", re.IGNORECASE)
_TNM = re.compile(r"T(?P<t>[0-4X]|IS)[A-D]?\d?.*?N(?P<n>[0-3X])[A-D]?.*?M(?P<m>[01X])", re.I)
# Feature names looked up, not formatted, per record (an assessment computes the features of
# four histories; formatting the names cost a third of it).
_INFECTION_NAME = {
    (pathogen, severity, window): infection_feature_name(pathogen, severity, window)
    for pathogen in Pathogen
    for severity in Severity
    for window, _, _ in RECENCY_WINDOWS
}
_SITE_FEATURES = tuple((site, f"site_{site.value}") for site in CancerSite)
_TREATMENT_FEATURES = tuple((kind, f"tx_{kind.value}") for kind in _TREATMENTS_USED)


def stage_group(stage: str | None) -> float:
    """Stage group 0-4 from a recorded stage, NaN when absent or unreadable.

    >>> stage_group("IIIA"), stage_group("Stage II"), stage_group("T2N1M0"), stage_group(None)
    (3.0, 2.0, 2.0, nan)
    """
    if not stage:
        return math.nan
    text = stage.strip().upper()
    match = _STAGE_PREFIX.match(text)
    if match:
        token = match.group(1)
        if token == "0":
            return 0.0
        if token.isdigit():
            return float(token)
        return dict(_ROMAN)[token]
    tnm = _TNM.search(text.replace(" ", ""))
    if tnm is None:
        return math.nan
    t, n, m = tnm.group("t"), tnm.group("n"), tnm.group("m")
    if m == "1":
        return 4.0
    if n in ("2", "3"):
        return 3.0
    if n == "1" or t in ("3", "4"):
        return 2.0
    if t == "IS":
        return 0.0
    return 1.0


def index_cancer(history: PatientHistory, index_date: dt.date) -> Cancer | None:
    """The cancer the assessment is about: the latest diagnosed on or before the index date.

    Undated cancers rank before dated ones; with no dated cancer the first recorded one is used.
    """
    best: Cancer | None = None
    best_key = dt.date.min
    for cancer in history.cancers:
        onset = cancer.onset
        if onset is not None and onset > index_date:
            continue
        key = onset or dt.date.min
        if best is None or key >= best_key:
            best, best_key = cancer, key
    return best


def metastatic_disease(history: PatientHistory, as_of: dt.date) -> str | None:
    """Why the record shows metastatic disease on or before ``as_of``, or None if it does not.

    The model estimates a *first* metastatic relapse of a survivor of non-metastatic cancer
    (DESIGN.md §6): a patient with a metastasis dated on or before ``as_of`` (before the at-risk
    start too), with a metastasis recorded without a date, or whose cancer was stage IV at
    diagnosis is outside that population, for an assessment and for a training label alike.

    >>> from riskcalc.history import Cancer, CancerSite
    >>> h = PatientHistory(patient_id="p", cancers=(Cancer(site=CancerSite.BREAST, codes=(),
    ...     onset=dt.date(2019, 1, 1), stage="IV"),))
    >>> metastatic_disease(h, dt.date(2024, 1, 1))
    'breast cancer stage IV at diagnosis (metastatic disease)'
    """
    dated = [o for o in history.outcomes if o.kind in METASTATIC_OUTCOMES and o.date <= as_of]
    if dated:
        first = min(dated, key=operator.attrgetter("date"))
        return f"metastatic disease already recorded on {first.date.isoformat()}"
    if history.undated_metastases:
        return f"metastatic disease recorded without a date ({history.undated_metastases[0]})"
    cancer = index_cancer(history, as_of)
    if cancer is not None and stage_group(cancer.stage) == 4.0:
        return f"{cancer.site.value} cancer stage {cancer.stage} at diagnosis (metastatic disease)"
    return None


def _demographic_and_cancer(
    history: PatientHistory, index_date: dt.date, out: dict[str, float]
) -> None:
    age = history.age_years(index_date)
    out["age_years"] = math.nan if age is None else age
    sex = history.sex.lower()
    out["sex_female"] = 1.0 if sex == "female" else 0.0 if sex == "male" else math.nan
    cancer = index_cancer(history, index_date)
    index_site = None if cancer is None else cancer.site
    for site, name in _SITE_FEATURES:
        out[name] = 1.0 if site is index_site else 0.0
    out["stage_group"] = math.nan if cancer is None else stage_group(cancer.stage)
    start = history.at_risk_start
    out["years_since_at_risk_start"] = (
        math.nan
        if start is None or start > index_date
        else (index_date - start).days / DAYS_PER_YEAR
    )
    out["n_primary_cancers"] = float(
        sum(1 for c in history.cancers if c.onset is None or c.onset <= index_date)
    )
    started = {t.kind for t in history.treatments if t.start is None or t.start <= index_date}
    for kind, name in _TREATMENT_FEATURES:
        out[name] = 1.0 if kind in started else 0.0


def _infections(history: PatientHistory, index_date: dt.date, out: dict[str, float]) -> None:
    counts = dict.fromkeys(_INFECTION_NAME.values(), 0.0)
    start = history.at_risk_start
    total = blockade = steroids = 0
    last_onset: dt.date | None = None
    il6_max = math.nan
    for ep in history.infections:
        if ep.onset > index_date or (start is not None and ep.onset < start):
            continue
        months_before = (index_date - ep.onset).days / DAYS_PER_MONTH
        for window, low, high in RECENCY_WINDOWS:
            if low < months_before <= high:
                counts[_INFECTION_NAME[ep.pathogen, ep.severity, window]] += 1.0
                break
        total += 1
        blockade += ep.il6_blockade
        steroids += ep.corticosteroids
        if last_onset is None or ep.onset > last_onset:
            last_onset = ep.onset
        if ep.il6_peak_pg_ml is not None and not ep.il6_peak_pg_ml <= il6_max:
            il6_max = float(ep.il6_peak_pg_ml)
    out.update(counts)
    out["inf_total_count"] = float(total)
    out["years_since_last_infection"] = (
        math.nan if last_onset is None else (index_date - last_onset).days / DAYS_PER_YEAR
    )
    out["il6_peak_max_pg_ml"] = il6_max
    out["inf_il6_blockade_count"] = float(blockade)
    out["inf_corticosteroid_count"] = float(steroids)


def _vaccinations(history: PatientHistory, index_date: dt.date, out: dict[str, float]) -> None:
    year_ago = index_date - dt.timedelta(days=365)
    flu_12m = covid = covid_12m = rsv = 0
    for vac in history.vaccinations:
        if vac.date > index_date:
            continue
        recent = vac.date > year_ago
        if vac.vaccine is VaccineKind.INFLUENZA:
            flu_12m += recent
        elif vac.vaccine is VaccineKind.COVID19:
            covid += 1
            covid_12m += recent
        elif vac.vaccine is VaccineKind.RSV:
            rsv += 1
    out["vacc_influenza_12m_count"] = float(flu_12m)
    out["vacc_covid19_count"] = float(covid)
    out["vacc_covid19_12m_count"] = float(covid_12m)
    out["vacc_rsv_count"] = float(rsv)


def record_features(history: PatientHistory, *, index_date: dt.date) -> dict[str, float]:
    """Every feature except the awakening score (the part computed record by record)."""
    out: dict[str, float] = {}
    _demographic_and_cancer(history, index_date, out)
    _infections(history, index_date, out)
    _vaccinations(history, index_date, out)
    return out


def _record_rows(
    histories: Sequence[PatientHistory], index_dates: Sequence[dt.date]
) -> list[tuple[float, ...]]:
    """:func:`record_features` of each pair, values in ``_RECORD_NAMES`` order.

    Histories that differ only in their infections, sharing their other records (the same
    objects, as ``model_copy(update={"infections": ...})`` leaves them: an assessment's
    hypotheticals), share the features of those records: computed once per call (a history's
    features 6.9 -> 2.4 µs). The key holds the ids of live objects only, so it cannot be reused.
    """
    others: dict[tuple[object, ...], dict[str, float]] = {}
    rows = []
    for history, day in zip(histories, index_dates, strict=True):
        key = (
            id(history.cancers),
            id(history.treatments),
            id(history.vaccinations),
            history.birth_date,
            history.sex,
            history.at_risk_start,
            day,
        )
        shared = others.get(key)
        if shared is None:
            shared = others[key] = {}
            _demographic_and_cancer(history, day, shared)
            _vaccinations(history, day, shared)
        row = dict(shared)
        _infections(history, day, row)
        rows.append(_RECORD_VALUES(row))
    return rows


def _awakening_scores(
    histories: Sequence[PatientHistory], index_dates: Sequence[dt.date]
) -> np.ndarray:
    from riskcalc import awakening

    batch = awakening.score_many(histories, as_of=index_dates)
    return np.asarray(batch.score, dtype=np.float64)


def compute_features(history: PatientHistory, *, index_date: dt.date) -> dict[str, float]:
    """The features of one patient at an index date, keyed and ordered as :data:`SCHEMA`.

    Parameters
    ----------
    history
        The patient's record.
    index_date
        The date the prediction is made at (the assessment's ``as_of``); only records dated on or
        before it are used.

    Returns
    -------
    dict[str, float]
        One float per feature of :data:`~riskcalc.features.SCHEMA`, in schema order; NaN only
        where the feature's missing policy is ``native_nan``.
    """
    from riskcalc import awakening

    if not isinstance(index_date, dt.date):
        raise ConfigError("config.invalid", f"index_date must be a date, got {index_date!r}")
    values = record_features(history, index_date=index_date)
    values["awakening_score"] = float(awakening.score(history, as_of=index_date).score)
    return {name: values[name] for name in FEATURE_NAMES}


def feature_matrix(
    histories: Sequence[PatientHistory],
    index_dates: Sequence[dt.date],
    *,
    awakening_scores: Sequence[float] | None = None,
) -> npt.NDArray[np.float64]:
    """The features of many (history, index date) pairs as a float64 array, columns as the schema.

    The array behind :func:`feature_frame`, without pandas: what scoring uses (a row per patient,
    columns in :data:`~riskcalc.features.FEATURE_NAMES` order). The awakening score is computed
    for all rows at once through ``riskcalc.awakening.score_many``, unless ``awakening_scores``
    gives it: the scores of the same pairs, for a caller that solved the awakening model already
    (an assessment needs its per-episode results too, and one solve costs ~0.1 ms).
    """
    if len(histories) != len(index_dates):
        raise ConfigError(
            "config.invalid",
            f"features need one index date per history: got {len(histories)} histories "
            f"and {len(index_dates)} dates",
        )
    out = np.empty((len(histories), len(FEATURE_NAMES)), dtype=np.float64)
    if histories:  # one assignment for all rows: each costs 4.7 µs, of one row or many
        out[:, _RECORD_COLUMNS] = _record_rows(histories, index_dates)
    if awakening_scores is not None:
        if len(awakening_scores) != len(histories):
            raise ConfigError(
                "config.invalid",
                f"features need one awakening score per history: got {len(histories)} "
                f"histories and {len(awakening_scores)} scores",
            )
        out[:, _AWAKENING_COLUMN] = awakening_scores
    elif histories:
        out[:, _AWAKENING_COLUMN] = _awakening_scores(histories, index_dates)
    return out


def feature_frame(
    histories: Sequence[PatientHistory], index_dates: Sequence[dt.date]
) -> pd.DataFrame:
    """The feature table of a cohort: one row per (history, index date), columns as the schema.

    Parameters
    ----------
    histories
        Patients' records.
    index_dates
        One index date per history (the same patient may appear several times with different
        index dates).

    Returns
    -------
    pandas.DataFrame
        float64 columns in schema order (:func:`feature_matrix`), index ``patient_id``.
    """
    import pandas as pd  # here, not at the top: `import riskcalc` should not load pandas (0.2 s)

    return pd.DataFrame(
        feature_matrix(histories, index_dates),
        columns=list(FEATURE_NAMES),
        index=pd.Index([h.patient_id for h in histories], name="patient_id"),
    )


_AWAKENING_COLUMN = FEATURE_NAMES.index("awakening_score")
_RECORD_NAMES = tuple(n for n in FEATURE_NAMES if n != "awakening_score")
_RECORD_COLUMNS = [FEATURE_NAMES.index(n) for n in _RECORD_NAMES]
_RECORD_VALUES = operator.itemgetter(*_RECORD_NAMES)
