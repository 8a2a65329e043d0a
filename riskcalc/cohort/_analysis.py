"""The two human analyses of the Nature 2025 paper (Chia et al.), re-run on any cohort of histories.

Both work on :class:`~riskcalc.history.PatientHistory` only (what the FHIR reader extracts), never on
the simulator's ground truth.

UK-Biobank-style (odds ratio)
    Cancer survivors at least 5 years from their first cancer diagnosis who were tested for
    SARS-CoV-2 in 2020; exposed = a positive test (or a confirmed COVID-19 episode) in 2020, index
    date its first; unexposed = tested, all negative, index date the first test. Excluded: dead or
    with a recorded metastatic relapse before the index date. Outcome: cancer death after the index
    date up to :data:`UKB_FOLLOW_UP_END`. Odds ratio by Mantel-Haenszel over sex x 5-year age-band
    strata (the matching variables), 95% CI by the Robins-Breslow-Greenland variance.

Flatiron-style (hazard ratio)
    Breast cancer patients at risk (in remission, no metastatic relapse recorded) on or after
    2020-03-01; entry = the later of that date and the at-risk start; exit = first lung metastasis
    (event), death, last contact, or 52 months after 2020-03-01. COVID-19 (first confirmed episode or
    positive test) is a time-varying exposure. Cox proportional hazards with (start, stop] counting
    -process data on the calendar time scale (Breslow ties), 95% Wald CI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from riskcalc.history import METASTATIC_OUTCOMES, CancerSite, OutcomeKind, Pathogen, PatientHistory

UKB_TEST_YEAR = 2020
UKB_MIN_YEARS_FROM_DIAGNOSIS = 5.0
UKB_FOLLOW_UP_END = dt.date(2025, 12, 31)
UKB_FALLBACK_INDEX = dt.date(2020, 3, 1)
FLATIRON_START = dt.date(2020, 3, 1)
FLATIRON_END = dt.date(2024, 7, 1)  # 52 months of follow-up (evidence.md row 9)
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A ratio estimate with its 95% confidence interval, sample size and number of events."""

    estimate: float
    ci_low: float
    ci_high: float
    n: int
    events: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "estimate": round(self.estimate, 4),
            "ci_low": round(self.ci_low, 4),
            "ci_high": round(self.ci_high, 4),
            "n": self.n,
            "events": self.events,
        }


@dataclass(frozen=True)
class UkbRow:
    stratum: tuple[str, int]
    exposed: bool
    event: bool


@dataclass(frozen=True)
class FlatironRows:
    """Counting-process rows of one patient: (start, stop] in days since 2020-03-01."""

    start: tuple[int, ...]
    stop: tuple[int, ...]
    covid: tuple[int, ...]
    event: tuple[int, ...]


def _first_relapse(h: PatientHistory) -> dt.date | None:
    dates = [o.date for o in h.outcomes if o.kind in METASTATIC_OUTCOMES]
    return min(dates) if dates else None


def _covid_positive_dates(h: PatientHistory) -> list[dt.date]:
    dates = [e.onset for e in h.infections if e.pathogen is Pathogen.COVID19]
    dates += [t.date for t in h.tests if t.pathogen is Pathogen.COVID19 and t.positive]
    return dates


def ukb_row(h: PatientHistory, *, require_test: bool = True) -> UkbRow | None:
    """The patient's row in the UK-Biobank-style analysis, or None if not eligible.

    With ``require_test=False`` (fallback for readers that do not report negative tests) the
    unexposed are all eligible survivors without a positive in 2020, indexed on 2020-03-01.
    """
    onsets = [c.onset for c in h.cancers if c.onset is not None]
    if not onsets:
        return None
    positives = [d for d in _covid_positive_dates(h) if d.year == UKB_TEST_YEAR]
    tested = [
        t.date for t in h.tests if t.pathogen is Pathogen.COVID19 and t.date.year == UKB_TEST_YEAR
    ]
    if positives:
        exposed, index = True, min(positives)
    elif tested:
        exposed, index = False, min(tested)
    elif not require_test:
        exposed, index = False, UKB_FALLBACK_INDEX
    else:
        return None
    if (index - min(onsets)).days / 365.25 < UKB_MIN_YEARS_FROM_DIAGNOSIS:
        return None
    if h.deceased_date is not None and h.deceased_date < index:
        return None
    relapse = _first_relapse(h)
    if relapse is not None and relapse <= index:
        return None
    age = h.age_years(index)
    band = -1 if age is None else int(min(age, 85.0) // 5)
    event = any(
        o.kind is OutcomeKind.CANCER_DEATH and index <= o.date <= UKB_FOLLOW_UP_END
        for o in h.outcomes
    )
    return UkbRow((h.sex, band), exposed, event)


def mantel_haenszel_or(rows: Iterable[UkbRow]) -> Estimate:
    """Mantel-Haenszel odds ratio over strata, with the Robins-Breslow-Greenland 95% CI."""
    table: dict[tuple[str, int], list[int]] = {}
    n = events = 0
    for row in rows:
        cell = table.setdefault(row.stratum, [0, 0, 0, 0])  # a, b, c, d
        cell[(0 if row.exposed else 2) + (0 if row.event else 1)] += 1
        n += 1
        events += int(row.event)
    sum_r = sum_s = sum_pr = sum_ps_qr = sum_qs = 0.0
    for a, b, c, d in table.values():
        t = a + b + c + d
        if t == 0:
            continue
        r, s = a * d / t, b * c / t
        p, q = (a + d) / t, (b + c) / t
        sum_r += r
        sum_s += s
        sum_pr += p * r
        sum_ps_qr += p * s + q * r
        sum_qs += q * s
    if sum_r == 0 or sum_s == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), n, events)
    odds_ratio = sum_r / sum_s
    var = sum_pr / (2 * sum_r**2) + sum_ps_qr / (2 * sum_r * sum_s) + sum_qs / (2 * sum_s**2)
    se = float(np.sqrt(var))
    log_or = float(np.log(odds_ratio))
    return Estimate(
        odds_ratio, float(np.exp(log_or - Z95 * se)), float(np.exp(log_or + Z95 * se)), n, events
    )


def flatiron_rows(h: PatientHistory) -> FlatironRows | None:
    """The patient's counting-process rows in the Flatiron-style analysis, or None."""
    if not any(c.site is CancerSite.BREAST for c in h.cancers) or h.at_risk_start is None:
        return None
    entry = max(h.at_risk_start, FLATIRON_START)
    ends = [FLATIRON_END]
    ends += [d for d in (h.last_contact, h.deceased_date) if d is not None]
    exit_ = min(ends)
    relapse = _first_relapse(h)
    if relapse is not None and relapse <= entry:
        return None
    lung = [o.date for o in h.outcomes if o.kind is OutcomeKind.LUNG_METASTASIS and o.date > entry]
    event = 0
    if lung and min(lung) <= exit_:
        exit_, event = min(lung), 1
    if exit_ <= entry:
        return None
    t0 = (entry - FLATIRON_START).days
    t1 = (exit_ - FLATIRON_START).days
    covid = [d for d in _covid_positive_dates(h) if d >= FLATIRON_START]
    tc = (min(covid) - FLATIRON_START).days if covid else None
    if tc is None or tc >= t1:
        return FlatironRows((t0,), (t1,), (0,), (event,))
    if tc <= t0:
        return FlatironRows((t0,), (t1,), (1,), (event,))
    return FlatironRows((t0, tc), (tc, t1), (0, 1), (0, event))


def cox_time_varying(
    start: NDArray[np.float64],
    stop: NDArray[np.float64],
    event: NDArray[np.bool_],
    x: NDArray[np.float64],
    *,
    max_iter: int = 50,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cox partial likelihood for (start, stop] data, Breslow ties; Newton-Raphson.

    Parameters
    ----------
    start, stop
        Interval bounds of each row (any time unit), shape (n,); the row is at risk at times t
        with start < t <= stop.
    event
        Whether the row ends with the event at ``stop``, shape (n,).
    x
        Covariates, shape (n, p).

    Returns
    -------
    beta, covariance
        Log hazard ratios, shape (p,), and their covariance (inverse information), shape (p, p).
    """
    times = np.unique(stop[event])
    d = np.bincount(np.searchsorted(times, stop[event]), minlength=times.size)
    xsum = np.zeros((times.size, x.shape[1]))
    np.add.at(xsum, np.searchsorted(times, stop[event]), x[event])
    by_stop = np.argsort(stop)
    by_start = np.argsort(start)
    stop_sorted, start_sorted = stop[by_stop], start[by_start]
    i_stop = np.searchsorted(stop_sorted, times, side="left")  # rows with stop >= t from here
    i_start = np.searchsorted(start_sorted, times, side="left")  # rows with start >= t from here
    beta = np.zeros(x.shape[1])
    info = np.eye(x.shape[1])
    for _ in range(max_iter):
        w = np.exp(x @ beta)
        wx = w[:, None] * x
        wxx = w[:, None, None] * x[:, :, None] * x[:, None, :]

        def risk(values: NDArray[np.float64]) -> NDArray[np.float64]:
            suffix_stop = np.cumsum(values[by_stop][::-1], axis=0)[::-1]
            suffix_start = np.cumsum(values[by_start][::-1], axis=0)[::-1]
            pad = np.zeros((1, *values.shape[1:]))
            a = np.concatenate([suffix_stop, pad])[i_stop]
            b = np.concatenate([suffix_start, pad])[i_start]
            return np.asarray(a - b, dtype=np.float64)

        s0, s1, s2 = risk(w), risk(wx), risk(wxx)
        mean = s1 / s0[:, None]
        grad = (xsum - d[:, None] * mean).sum(axis=0)
        info = (
            d[:, None, None] * (s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :])
        ).sum(axis=0)
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta, np.asarray(np.linalg.inv(info), dtype=np.float64)


def cox_hr(rows: Iterable[FlatironRows]) -> Estimate:
    """Hazard ratio of COVID-19 (time-varying) for lung metastasis, with its 95% Wald CI."""
    start: list[int] = []
    stop: list[int] = []
    covid: list[int] = []
    event: list[int] = []
    n = 0
    for r in rows:
        n += 1
        start += r.start
        stop += r.stop
        covid += r.covid
        event += r.event
    ev = np.array(event, dtype=bool)
    x = np.array(covid, dtype=np.float64)[:, None]
    exposed_events = int((x[ev, 0] == 1).sum())
    if exposed_events == 0 or exposed_events == int(ev.sum()):  # the MLE is infinite
        return Estimate(float("nan"), float("nan"), float("nan"), n, int(ev.sum()))
    beta, cov = cox_time_varying(
        np.array(start, dtype=np.float64), np.array(stop, dtype=np.float64), ev, x
    )
    se = float(np.sqrt(cov[0, 0]))
    b = float(beta[0])
    return Estimate(
        float(np.exp(b)), float(np.exp(b - Z95 * se)), float(np.exp(b + Z95 * se)), n, int(ev.sum())
    )
