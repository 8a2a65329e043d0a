"""Quality targets on a fresh simulated cohort (seed not used in training), default horizon."""

from __future__ import annotations

import pytest

from riskcalc.model import DEFAULT_HORIZON_MONTHS, evaluate, load_model
from riskcalc.model.build_default import quality_summary, simulated_cohort

pytestmark = pytest.mark.slow

FRESH_SEED = 31337  # neither the training seed nor the model card's check seed


def test_default_model_meets_quality_targets() -> None:
    model = load_model()
    assert model.info.trained_on_simulated_data
    cohort = simulated_cohort(60_000, FRESH_SEED)
    report = evaluate(model, cohort, horizon_months=DEFAULT_HORIZON_MONTHS, seed=2)
    q = quality_summary(report.metrics)
    assert 0.9 <= q["calibration_slope"] <= 1.1, q
    assert abs(q["calibration_intercept"]) <= 0.01, q
    assert q["ici"] <= 0.02, q
    assert q["auroc_difference_ci"][0] > 0, q
