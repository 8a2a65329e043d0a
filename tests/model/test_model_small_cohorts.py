"""Cohorts too small to train, recalibrate or evaluate: typed errors with the counts, never a
library error or warning; evaluations with few events report no intervals, with a warning; the
calibration curve stays inside the range of the predictions."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from riskcalc.cli import main
from riskcalc.errors import ModelError
from riskcalc.model import (
    LabelledCohort,
    RiskModel,
    evaluate,
    load_model,
    read_cohort,
    recalibrate_model,
    train_model,
)
from riskcalc.model._card import build_card, card_markdown
from riskcalc.model._estimator import MIN_EVENTS_PER_CLASS
from riskcalc.model._evaluate import MIN_EVENTS_FOR_INTERVALS
from riskcalc.model._labels import Status
from riskcalc.model._oracle import oracle_cohort


@pytest.fixture(scope="module")
def model() -> RiskModel:
    return load_model()  # the shipped model: 12, 24, 36 and 60 months


@pytest.fixture(autouse=True)
def no_library_warnings() -> Iterator[None]:
    """Any warning (scikit-learn's UndefinedMetricWarning, UserWarning, numpy's RuntimeWarning)
    fails the test: what they said must come out as a typed error or a report's warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _with_events(n_patients: int, events: int, *, seed: int = 4) -> LabelledCohort:
    """Oracle features, every patient followed 10 years without event except ``events`` patients
    with a relapse at 100 days: exactly ``events`` known events at every horizon."""
    base = oracle_cohort(n_patients, seed=seed, horizons_months=(12, 24))
    time = np.full(len(base), 3650.0)
    status = np.full(len(base), int(Status.CENSORED))
    time[:events], status[:events] = 100.0, int(Status.EVENT)
    return dataclasses.replace(base, time_days=time, status=status, true_risk={})


def _empty() -> LabelledCohort:
    return _with_events(10, 0).subset(np.arange(0))


def test_evaluating_an_empty_cohort_is_a_typed_error(model: RiskModel) -> None:
    with pytest.raises(ModelError) as err:
        evaluate(model, _empty(), n_boot=5)
    assert err.value.code == "model.evaluation_failed"
    assert "0 event(s) and 0 non-event(s)" in err.value.message
    assert "at least 1 of each" in err.value.message


def test_evaluating_without_events_is_a_typed_error(model: RiskModel) -> None:
    with pytest.raises(ModelError) as err:
        evaluate(model, _with_events(50, 0), n_boot=5)
    assert err.value.code == "model.evaluation_failed"
    assert "0 event(s) and 50 non-event(s)" in err.value.message


@pytest.mark.parametrize("name", ["smart-bulk-10", "synthea-blaze"])
def test_real_fixtures_too_small_to_evaluate_say_why(
    model: RiskModel, fixtures: Path, name: str
) -> None:
    cohort = read_cohort(fixtures / name, seed=0)
    with pytest.raises(ModelError) as err:
        evaluate(model, cohort, n_boot=5)
    assert err.value.code == "model.evaluation_failed"
    assert "eligible patient-index-date rows" in err.value.message
    assert "no_at_risk_start" in err.value.message  # the exclusions by reason


@pytest.mark.parametrize("name", ["smart-bulk-10", "synthea-blaze"])
def test_real_fixtures_too_small_to_train_or_recalibrate(
    model: RiskModel, fixtures: Path, name: str
) -> None:
    cohort = read_cohort(fixtures / name, seed=0)
    for attempt in (
        lambda: train_model(cohort, trained_on="t", simulated=False, n_boot=5),
        lambda: recalibrate_model(model, cohort),
    ):
        with pytest.raises(ModelError) as err:
            attempt()
        assert err.value.code == "model.training_failed"
        assert f"at least {MIN_EVENTS_PER_CLASS} of each" in err.value.message


def test_training_an_empty_cohort_is_a_typed_error() -> None:
    with pytest.raises(ModelError) as err:
        train_model(_empty(), trained_on="t", simulated=True, n_boot=5)
    assert err.value.code == "model.training_failed"
    assert "0 eligible patient-index-date rows" in err.value.message


@pytest.mark.parametrize("events", [0, 1, MIN_EVENTS_PER_CLASS - 1])
def test_recalibration_needs_the_events_training_needs(model: RiskModel, events: int) -> None:
    cohort = _with_events(200, events)
    for attempt in (
        lambda: train_model(cohort, horizons_months=(24,), trained_on="t", simulated=True),
        lambda: recalibrate_model(model, cohort),
    ):
        with pytest.raises(ModelError) as err:
            attempt()
        assert err.value.code == "model.training_failed"
        assert f"{events} event(s)" in err.value.message
        assert f"at least {MIN_EVENTS_PER_CLASS} of each" in err.value.message


def test_recalibration_with_enough_events_goes_ahead(model: RiskModel) -> None:
    new = recalibrate_model(model, _with_events(200, MIN_EVENTS_PER_CLASS))
    assert new.info.version.endswith("+recalibrated")


def test_few_events_give_no_interval_and_a_warning(model: RiskModel) -> None:
    metrics = evaluate(model, _with_events(60, 1), n_boot=50).metrics
    assert metrics["events"] == 1
    assert 0.0 <= metrics["auroc"] <= 1.0  # the point estimate stays
    for key in ("auroc_ci", "calibration_slope_ci"):
        assert all(np.isnan(v) for v in metrics[key]), key
    assert np.isnan(metrics["ici"]) and metrics["calibration_curve"]["predicted"] == []
    assert all(np.isnan(v) for v in metrics["comparisons"]["awakening_score_alone"]["auroc_ci"])
    few = [w for w in metrics["warnings"] if w["code"] == "evaluation.few_events"]
    assert {w["source"] for w in few} == {f"{h} months" for h in model.horizons_months}
    assert "1 event(s)" in few[0]["message"]
    card = build_card(
        info=model.info.model_dump(mode="json"),
        training={},
        metrics=metrics,
        horizons_months=model.horizons_months,
        default_horizon_months=model.default_horizon_months,
    )
    assert any(w["code"] == "evaluation.few_events" for w in card["metrics"]["warnings"])
    text = card_markdown(card)
    assert "auroc_ci: not estimated" in text and "[evaluation.few_events]" in text


def test_enough_events_give_intervals_and_no_warning(model: RiskModel) -> None:
    cohort = _with_events(300, MIN_EVENTS_FOR_INTERVALS)
    metrics = evaluate(model, cohort, n_boot=50).metrics
    low, high = metrics["auroc_ci"]
    assert low < high
    assert all(np.isfinite(metrics["calibration_slope_ci"]))
    assert not [w for w in metrics["warnings"] if w["code"] == "evaluation.few_events"]


def test_calibration_curve_stays_inside_the_predictions(model: RiskModel) -> None:
    cohort = oracle_cohort(3000, seed=3)
    metrics = evaluate(model, cohort, n_boot=20).metrics
    curve = metrics["calibration_curve"]
    p = model.predict(cohort.features).probability[cohort.labels(24).known]
    assert p.min() > 0.005  # the old fixed grid began at 0.005, below every prediction
    grid = np.asarray(curve["predicted"])
    low, high = np.quantile(p, [0.01, 0.99])
    assert grid[0] == pytest.approx(low) and grid[-1] == pytest.approx(high)
    assert len(grid) >= 30 and np.all(np.diff(grid) > 0)
    assert len(curve["observed"]) == len(curve["observed_low"]) == len(grid)


@pytest.mark.parametrize(
    ("command", "code", "status"),
    [
        (["evaluate", "default", "{fx}/smart-bulk-10", "--out", "{tmp}/e"], "evaluation", 4),
        (["evaluate", "default", "{fx}/synthea-blaze", "--out", "{tmp}/e"], "evaluation", 4),
        (["train", "{fx}/smart-bulk-10", "--out", "{tmp}/m"], "training", 4),
        (["recalibrate", "default", "{fx}/synthea-blaze", "--out", "{tmp}/r"], "training", 4),
    ],
)
def test_cli_reports_a_typed_error_and_no_library_warning(
    command: list[str],
    code: str,
    status: int,
    fixtures: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [a.format(fx=fixtures, tmp=tmp_path) for a in command]
    assert main(argv) == status
    err = capsys.readouterr().err
    assert f"[model.{code}_failed]" in err, err
    assert "internal error" not in err and "Warning" not in err
