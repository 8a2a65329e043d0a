"""The simulator's Monte Carlo true risk (the reference for interval coverage)."""

from __future__ import annotations

import numpy as np
import pytest

from riskcalc.cohort import TruthParams, iter_patients
from riskcalc.cohort._true_risk import true_risk
from riskcalc.model.build_default import simulated_cohort, with_true_risk


@pytest.fixture(scope="module")
def sample() -> tuple[list, list[int]]:  # type: ignore[type-arg]
    from riskcalc.cohort import to_history
    from riskcalc.cohort._params import day
    from riskcalc.model._labels import build_risk_set

    patients = list(iter_patients(400, 5))
    by_id = {p.patient_id: p for p in patients}
    risk_set = build_risk_set([to_history(p) for p in patients], seed=7)
    chosen = [by_id[h.patient_id] for h in risk_set.histories]
    days = [day(d.year, d.month, d.day) for d in risk_set.index_dates]
    return chosen, days


def test_deterministic_and_monotone_in_horizon(sample: tuple[list, list[int]]) -> None:  # type: ignore[type-arg]
    patients, days = sample
    a, acc = true_risk(patients, days, (12, 24, 60), replicates=200, seed=3)
    b, _ = true_risk(patients, days, (12, 24, 60), replicates=200, seed=3)
    assert np.array_equal(a, b)
    assert np.all(np.diff(a, axis=1) >= 0)
    assert np.all((a >= 0) & (a <= 1))
    assert np.all(acc > 0.5 * 200)  # most replicates are in remission at the index date


def test_no_dormant_cells_awaken_means_no_risk(sample: tuple[list, list[int]]) -> None:  # type: ignore[type-arg]
    patients, days = sample
    inert = TruthParams(escape_half_life_years=1e9, awakening_max_probability=0.0)
    risk, _ = true_risk(patients, days, (24,), replicates=50, seed=1, params=inert)
    assert risk.max() == 0.0


def test_mean_true_risk_matches_observed_incidence() -> None:
    kept: dict = {}  # type: ignore[type-arg]
    cohort = simulated_cohort(6000, 424242, keep_patients=kept, keep_every=1)
    cohort = with_true_risk(cohort, kept, max_rows=len(cohort), replicates=150, seed=2,
                            horizons_months=(24,))  # fmt: skip
    labels = cohort.labels(24)
    k = labels.known
    y, w = labels.label[k].astype(float), labels.weight[k]
    observed = float(np.average(y, weights=w))
    se = float(np.sqrt(observed * (1 - observed) / k.sum()) * np.sqrt(np.mean(w**2)))
    mean_truth = float(np.nanmean(cohort.true_risk[24]))
    assert abs(mean_truth - observed) < 3.5 * se + 0.002, (mean_truth, observed, se)
