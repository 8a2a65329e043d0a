"""IPCW labels: the weighted event rate is unbiased where dropping or counting as negative is not."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from riskcalc.history import (
    AtRiskBasis,
    Cancer,
    CancerSite,
    Outcome,
    OutcomeKind,
    PatientHistory,
)
from riskcalc.model._labels import (
    Status,
    build_risk_set,
    follow_up,
    followable_rows,
    horizon_days,
    ipcw_labels,
    km_censoring_survival,
)


def _simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """True event times (target and competing) and independent censoring, days."""
    rng = np.random.default_rng(seed)
    t_event = rng.exponential(365.25 * 8, n)
    t_compete = rng.exponential(365.25 * 20, n)
    t_cens = rng.uniform(0, 365.25 * 4, n)
    t_true = np.minimum(t_event, t_compete)
    true_status = np.where(t_event <= t_compete, Status.EVENT, Status.COMPETING)
    time = np.minimum(t_true, t_cens)
    status = np.where(t_cens < t_true, Status.CENSORED, true_status)
    return time, status, t_true, true_status


@pytest.mark.parametrize("horizon_months", [12, 24, 36])
def test_ipcw_event_rate_is_unbiased_naive_ones_are_not(horizon_months: int) -> None:
    h = horizon_days(horizon_months)
    ipcw, dropped, negative, truth = [], [], [], []
    for seed in range(20):
        time, status, t_true, true_status = _simulate(20_000, seed)
        labels = ipcw_labels(time, status, horizon_months=horizon_months)
        ipcw.append(labels.weighted_event_rate)
        dropped.append(labels.label[labels.known].mean())
        negative.append(labels.label.mean())
        truth.append(np.mean((true_status == Status.EVENT) & (t_true <= h)))
    truth_mean = float(np.mean(truth))
    se = float(np.std(np.array(ipcw) - np.array(truth)) / np.sqrt(len(truth)))
    assert abs(np.mean(ipcw) - truth_mean) < max(4 * se, 0.002)
    # dropping the censored over-states the risk; counting them as event-free under-states it
    assert np.mean(dropped) - truth_mean > 10 * se
    assert truth_mean - np.mean(negative) > 10 * se


def test_km_censoring_survival_matches_hand_computation() -> None:
    time = [1.0, 2.0, 2.0, 3.0, 4.0]
    status = [Status.CENSORED, Status.EVENT, Status.CENSORED, Status.CENSORED, Status.EVENT]
    times, surv = km_censoring_survival(time, status)
    assert times.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(surv, [4 / 5, 4 / 5 * (1 - 1 / 4), 4 / 5 * 3 / 4 * (1 - 1 / 2)])


def test_weights_zero_for_unknown_and_positive_for_known() -> None:
    time, status, _, _ = _simulate(5000, 1)
    labels = ipcw_labels(time, status, horizon_months=24)
    assert np.all(labels.weight[~labels.known] == 0)
    assert np.all(labels.weight[labels.known] > 0)
    assert labels.label[~labels.known].sum() == 0 or np.all(labels.known[labels.label == 1])


def _history(pid: str, **kw: object) -> PatientHistory:
    base: dict[str, object] = {
        "patient_id": pid,
        "birth_date": dt.date(1960, 1, 1),
        "sex": "female",
        "at_risk_start": dt.date(2010, 1, 1),
        "at_risk_start_basis": AtRiskBasis.ABATEMENT,
        "last_contact": dt.date(2024, 1, 1),
        "cancers": (Cancer(site=CancerSite.BREAST, codes=("x|1",), onset=dt.date(2009, 1, 1)),),
    }
    base.update(kw)
    return PatientHistory.model_validate(base)


def test_follow_up_and_exclusions() -> None:
    idx = dt.date(2015, 1, 1)
    relapse = Outcome(kind=OutcomeKind.METASTATIC_RELAPSE, date=dt.date(2016, 1, 1))
    early = Outcome(kind=OutcomeKind.METASTATIC_RELAPSE, date=dt.date(2014, 1, 1))
    death = Outcome(kind=OutcomeKind.DEATH, date=dt.date(2015, 6, 1))
    assert follow_up(_history("a", outcomes=(relapse,)), idx).status is Status.EVENT  # type: ignore[union-attr]
    assert follow_up(_history("b", outcomes=(early,)), idx).name == "NOT_IN_REMISSION"  # type: ignore[union-attr]
    fu = follow_up(_history("c", outcomes=(death,)), idx)
    assert fu.status is Status.COMPETING and fu.time_days == 151  # type: ignore[union-attr]
    fu = follow_up(_history("d"), idx)
    assert fu.status is Status.CENSORED  # type: ignore[union-attr]
    assert (
        follow_up(_history("e", last_contact=dt.date(2014, 1, 1)), idx).name
        == "NOT_UNDER_FOLLOW_UP"
    )  # type: ignore[union-attr]


def test_index_dates_are_seeded_inside_window_and_order_independent() -> None:
    hs = [_history(f"p{i}") for i in range(200)] + [_history("none", at_risk_start=None)]
    rs1 = build_risk_set(hs, seed=7)
    rs2 = build_risk_set(list(reversed(hs)), seed=7)
    assert dict(zip([h.patient_id for h in rs1.histories], rs1.index_dates, strict=True)) == dict(
        zip([h.patient_id for h in rs2.histories], rs2.index_dates, strict=True)
    )
    assert rs1.excluded["no_at_risk_start"] == 1
    assert all(dt.date(2010, 6, 1) <= d <= dt.date(2024, 1, 1) for d in rs1.index_dates)
    rs3 = build_risk_set(hs, seed=8)
    assert rs3.index_dates != rs1.index_dates


def test_rows_indexed_too_close_to_the_cut_off_are_not_labelled() -> None:
    """Positivity. Index dates spread over 2005-2025, censoring at the 2025 cut-off (administrative,
    so fixed by the index date), an event hazard that does not depend on the calendar. A feature
    of recent years (here: indexed after 2021, as a COVID-19 vaccination would be) then looks like
    a cause of relapse at 60 months if every row is labelled: the recent rows' known statuses are
    their early events alone. With the followable rows only, the recent rows take no part and the
    weighted event rate is the true cumulative incidence."""
    rng = np.random.default_rng(4)
    n = 40_000
    cutoff = dt.date(2025, 12, 31)
    first = dt.date(2005, 1, 1)
    index = [first + dt.timedelta(days=int(d)) for d in rng.integers(0, (cutoff - first).days, n)]
    event = rng.exponential(365.25 / 0.03, n)  # 3 % a year, whatever the calendar
    admin = np.array([(cutoff - d).days for d in index], dtype=np.float64)
    time = np.minimum(event, admin)
    status = np.where(event <= admin, Status.EVENT, Status.CENSORED)
    horizon = 60
    truth = 1 - np.exp(-0.03 * 5)
    recent = np.array([d >= dt.date(2021, 1, 1) for d in index])

    every_row = ipcw_labels(time, status, horizon_months=horizon)
    w, y = every_row.weight, every_row.label
    biased = float(np.sum(w[recent] * y[recent]) / np.sum(w[recent]))
    assert biased > 0.9  # the recent rows known at 60 months are nearly all events

    rows = followable_rows(index, cutoff, horizon)
    assert not rows[recent].any() and rows[~recent].mean() > 0.9
    followed = ipcw_labels(time, status, horizon_months=horizon, followable=rows)
    assert not followed.known[~rows].any() and not followed.label[~rows].any()
    assert followed.weighted_event_rate == pytest.approx(truth, abs=0.006)


def test_a_cohort_labels_only_its_followable_rows() -> None:
    import pandas as pd

    from riskcalc.model._cohort import LabelledCohort

    index = (dt.date(2015, 1, 1), dt.date(2024, 6, 1))
    cohort = LabelledCohort(
        features=pd.DataFrame({"x": [0.0, 1.0]}),
        time_days=np.array([4000.0, 100.0]),
        status=np.array([Status.CENSORED, Status.EVENT]),
        patient_ids=np.array(["a", "b"]),
        index_dates=index,
        data_cutoff=dt.date(2025, 12, 31),
    )
    assert cohort.labels(60).known.tolist() == [True, False]
    assert cohort.labels(12).known.tolist() == [True, True]
    assert cohort.subset(np.array([1])).labels(60).label.tolist() == [0]
    unknown_cutoff = dataclasses.replace(cohort, data_cutoff=None)
    assert unknown_cutoff.labels(60).label.tolist() == [0, 1]
