"""Index dates, outcomes after them, and inverse-probability-of-censoring weights.

The target (DESIGN.md §6): metastatic relapse or cancer death within ``H`` months after the index
date, for patients in remission at that date. Death from other causes is a competing event: it
ends the risk of the target for good, so it is a *known* non-event. A patient whose follow-up
ends before ``H`` without either event has an unknown label; instead of dropping such patients
(biased upwards) or counting them as event-free (biased downwards), the patients whose status at
``H`` is known are re-weighted by the inverse of the probability of still being under follow-up
(inverse-probability-of-censoring weights, IPCW; Kaplan-Meier estimate of the censoring
distribution, time measured from the index date). The weighted event rate then estimates the
cumulative incidence of the target at ``H`` without bias when censoring is independent of the
outcome (Robins & Rotnitzky 1992; Graf et al. 1999, Stat Med 18:2529).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from riskcalc.features import metastatic_disease
from riskcalc.history import METASTATIC_OUTCOMES, OutcomeKind, PatientHistory

DAYS_PER_MONTH = 365.25 / 12.0

#: Outcomes that make up the target.
TARGET_OUTCOMES = METASTATIC_OUTCOMES | {OutcomeKind.CANCER_DEATH}

#: Index dates are drawn no earlier than this after the at-risk start (months): the first months
#: after the end of treatment are a different clinical setting (residual disease, follow-up scans).
MIN_MONTHS_AFTER_AT_RISK_START = 6.0


class Status(IntEnum):
    """How follow-up after the index date ended."""

    CENSORED = 0
    EVENT = 1
    COMPETING = 2


class Exclusion(IntEnum):
    NONE = 0
    NO_AT_RISK_START = 1
    TOO_RECENT = 2
    NOT_IN_REMISSION = 3
    DIED_BEFORE_INDEX = 4
    NOT_UNDER_FOLLOW_UP = 5
    #: metastatic disease by the index date that is not a dated relapse after remission: a
    #: metastasis before the at-risk start or without a date, or stage IV at diagnosis
    #: (riskcalc.features.metastatic_disease)
    METASTATIC_DISEASE = 6


@dataclass(frozen=True)
class FollowUp:
    """Follow-up of one patient after one index date."""

    time_days: float
    status: Status


def horizon_days(horizon_months: int) -> float:
    """Horizon in days (365.25 / 12 days per month)."""
    return horizon_months * DAYS_PER_MONTH


def _unit_uniform(seed: int, patient_id: str, draw: int) -> float:
    """A uniform(0, 1) number fixed by (seed, patient id, draw): independent of cohort order."""
    digest = hashlib.blake2b(f"{seed}|{patient_id}|{draw}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def study_end(histories: Iterable[PatientHistory]) -> dt.date | None:
    """The data cut-off of a cohort: the latest ``last_contact`` of any patient."""
    ends = [h.last_contact for h in histories if h.last_contact is not None]
    return max(ends) if ends else None


def draw_index_date(
    history: PatientHistory, *, seed: int, cohort_end: dt.date, draw: int = 0
) -> dt.date | None:
    """The index-date policy: a seeded uniform date in the patient's eligible window.

    The window runs from the at-risk start + 6 months to the cohort's data cut-off
    (``cohort_end``), and does not depend on the patient's own follow-up or outcomes, so choosing
    it looks nothing up in the future. Returns None when the window is empty.
    """
    if history.at_risk_start is None:
        return None
    first = history.at_risk_start + dt.timedelta(
        days=round(MIN_MONTHS_AFTER_AT_RISK_START * DAYS_PER_MONTH)
    )
    span = (cohort_end - first).days
    if span < 0:
        return None
    return first + dt.timedelta(
        days=int(_unit_uniform(seed, history.patient_id, draw) * (span + 1))
    )


def follow_up(history: PatientHistory, index_date: dt.date) -> FollowUp | Exclusion:
    """Follow-up after ``index_date``, or why the patient is not in the risk set at that date."""
    target = [o.date for o in history.outcomes if o.kind in TARGET_OUTCOMES]
    start = history.at_risk_start
    if any(d <= index_date and (start is None or d > start) for d in target):
        return Exclusion.NOT_IN_REMISSION
    if metastatic_disease(history, index_date) is not None:
        return Exclusion.METASTATIC_DISEASE
    deaths = [o.date for o in history.outcomes if o.kind is OutcomeKind.DEATH]
    if history.deceased_date is not None:
        deaths.append(history.deceased_date)
    if any(d <= index_date for d in deaths):
        return Exclusion.DIED_BEFORE_INDEX
    if history.last_contact is None or history.last_contact <= index_date:
        return Exclusion.NOT_UNDER_FOLLOW_UP
    if target:
        event = min(target)
        if not deaths or event <= min(deaths):
            return FollowUp(float((event - index_date).days), Status.EVENT)
    if deaths:
        return FollowUp(float((min(deaths) - index_date).days), Status.COMPETING)
    return FollowUp(float((history.last_contact - index_date).days), Status.CENSORED)


@dataclass
class RiskSet:
    """The patients in the risk set at their index dates, with follow-up, and the exclusions."""

    histories: list[PatientHistory] = field(default_factory=list)
    index_dates: list[dt.date] = field(default_factory=list)
    time_days: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    #: The data cut-off the index dates were drawn up to (None if no patient had a contact).
    end: dt.date | None = None

    def add(self, history: PatientHistory, index_date: dt.date | None) -> None:
        if index_date is None:
            reason = (
                Exclusion.NO_AT_RISK_START
                if history.at_risk_start is None
                else Exclusion.TOO_RECENT
            )
            self.excluded[reason.name.lower()] += 1
            return
        result = follow_up(history, index_date)
        if isinstance(result, Exclusion):
            self.excluded[result.name.lower()] += 1
            return
        self.histories.append(history)
        self.index_dates.append(index_date)
        self.time_days.append(result.time_days)
        self.status.append(int(result.status))


def post_infection_index_dates(
    history: PatientHistory, *, days_after_end: int, cohort_end: dt.date
) -> list[dt.date]:
    """Index dates ``days_after_end`` days after the end of each recorded infection episode.

    Only dates in the patient's eligible window (at-risk start + 6 months to the data cut-off)
    are kept; each date uses only the record up to it (no look-ahead). Duplicates are dropped.
    """
    if history.at_risk_start is None:
        return []
    first = history.at_risk_start + dt.timedelta(
        days=round(MIN_MONTHS_AFTER_AT_RISK_START * DAYS_PER_MONTH)
    )
    dates = {e.end + dt.timedelta(days=days_after_end) for e in history.infections}
    return sorted(d for d in dates if first <= d <= cohort_end)


def build_risk_set(
    histories: Sequence[PatientHistory],
    *,
    seed: int,
    cohort_end: dt.date | None = None,
    index_dates_per_patient: int = 1,
    post_infection_days: int | None = None,
) -> RiskSet:
    """Apply the index-date policy to a cohort (see :func:`draw_index_date`).

    With ``post_infection_days``, each patient also gets an index date that many days after the
    end of each recorded infection episode (:func:`post_infection_index_dates`): the setting in
    which the model is meant to be used (a survivor seen after an infection). Exclusions are
    counted per candidate index date.
    """
    end = cohort_end if cohort_end is not None else study_end(histories)
    risk_set = RiskSet(end=end)
    for history in histories:
        for draw in range(index_dates_per_patient):
            index = (
                None
                if end is None
                else draw_index_date(history, seed=seed, cohort_end=end, draw=draw)
            )
            risk_set.add(history, index)
        if post_infection_days is not None and end is not None:
            for index in post_infection_index_dates(
                history, days_after_end=post_infection_days, cohort_end=end
            ):
                risk_set.add(history, index)
    return risk_set


def km_censoring_survival(
    time_days: npt.ArrayLike, status: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Kaplan-Meier estimate of the censoring survival function G(t) = P(C > t).

    Censoring is the "event" here; target and competing events end follow-up without censoring.
    At tied times, events are taken to happen before censoring (the usual convention).

    Returns
    -------
    times, survival
        Sorted distinct censoring times and G just after each of them (a right-continuous step
        function, 1 before the first time).
    """
    t = np.asarray(time_days, dtype=np.float64)
    s = np.asarray(status)
    order = np.argsort(t, kind="stable")
    t, censored = t[order], (s[order] == Status.CENSORED)
    uniq, first = np.unique(t, return_index=True)
    n_at_risk = len(t) - first
    cens_counts = np.add.reduceat(censored.astype(np.float64), first) if len(t) else np.empty(0)
    factors = 1.0 - cens_counts / n_at_risk
    surv = np.cumprod(factors)
    keep = cens_counts > 0
    return uniq[keep], np.asarray(surv[keep], dtype=np.float64)


def _step_left(
    times: npt.NDArray[np.float64], surv: npt.NDArray[np.float64], at: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """G(at-): the step function's value just before ``at``."""
    idx = np.searchsorted(times, at, side="left") - 1
    return np.where(idx >= 0, surv[np.clip(idx, 0, None)] if len(surv) else 1.0, 1.0)


def followable_rows(
    index_dates: Sequence[dt.date], data_cutoff: dt.date | None, horizon_months: int
) -> npt.NDArray[np.bool_]:
    """Rows whose index date lies at least ``horizon_months`` before the data cut-off: those
    whose outcome at the horizon could be known whatever it is (all rows when the cut-off is
    not known).

    Why (positivity): censoring at the cut-off is administrative, so its time is fixed by the
    index date, and with it by calendar time. A row indexed 2 years before the cut-off has a
    known 5-year status only if its event came within 2 years; kept, such rows would all be
    events, and the features of recent years (COVID-19 vaccinations, say) would look like
    causes of relapse at long horizons: the Kaplan-Meier weights correct the censoring on
    average over the cohort, not within the recent years. The default model's 60-month model
    gave a vaccinated patient 41 % (vaccination +39 points) before this (docs/researchers/
    model.md).

    >>> rows = followable_rows([dt.date(2019, 1, 1), dt.date(2022, 1, 1)], dt.date(2025, 1, 1), 60)
    >>> rows.tolist()
    [True, False]
    >>> followable_rows([dt.date(2019, 1, 1), dt.date(2022, 1, 1)], dt.date(2025, 1, 1), 24).tolist()
    [True, True]
    """
    if data_cutoff is None:
        return np.ones(len(index_dates), dtype=bool)
    latest = data_cutoff - dt.timedelta(days=horizon_days(horizon_months))
    return np.fromiter((d <= latest for d in index_dates), dtype=bool, count=len(index_dates))


@dataclass(frozen=True)
class HorizonLabels:
    """Labels at one horizon with their IPC weights.

    ``known`` rows have status known at the horizon; ``weight`` is 0 for the others, so that
    weighted means over all rows estimate cumulative incidences.
    """

    horizon_months: int
    label: npt.NDArray[np.int8]
    known: npt.NDArray[np.bool_]
    weight: npt.NDArray[np.float64]

    @property
    def weighted_event_rate(self) -> float:
        """IPCW estimate of the cumulative incidence of the target at the horizon."""
        return float(np.sum(self.weight * self.label) / np.sum(self.weight))


def ipcw_labels(
    time_days: npt.ArrayLike,
    status: npt.ArrayLike,
    *,
    horizon_months: int,
    max_weight: float = 20.0,
    followable: npt.ArrayLike | None = None,
) -> HorizonLabels:
    """Binary labels at a horizon and their inverse-probability-of-censoring weights.

    Parameters
    ----------
    time_days, status
        Follow-up time from the index date (days) and how it ended (:class:`Status`).
    horizon_months
        The horizon ``H``.
    max_weight
        Upper bound of a weight (stabilises estimates when G is small late in follow-up).
    followable
        Rows whose index date lies at least ``H`` before the data cut-off
        (:func:`followable_rows`); default all. The others take no part: their status at ``H``
        could only be known if the event came early, so their known rows would be events alone.

    Returns
    -------
    HorizonLabels
        ``label = 1`` for a target event at or before ``H``; known = event or competing death at or
        before ``H``, or follow-up reaching ``H``; weight = 1 / G(min(T, H)-) for known rows, scaled
        to average 1 over known rows, else 0. Rows that are not followable are neither known nor
        labelled, and G is estimated on the followable rows.
    """
    t = np.asarray(time_days, dtype=np.float64)
    s = np.asarray(status, dtype=np.int64)
    h = horizon_days(horizon_months)
    rows = np.ones(len(t), dtype=bool) if followable is None else np.asarray(followable, bool)
    label = ((s == Status.EVENT) & (t <= h) & rows).astype(np.int8)
    known = ((t >= h) | ((s != Status.CENSORED) & (t <= h))) & rows
    times, surv = km_censoring_survival(t[rows], s[rows])
    g = _step_left(times, surv, np.minimum(t, h))
    weight = np.where(known, 1.0 / np.maximum(g, 1.0 / max_weight), 0.0)
    if known.any():
        weight = weight / weight[known].mean()
    return HorizonLabels(horizon_months, label, known, weight)
