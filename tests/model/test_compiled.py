"""The compiled predictor gives scikit-learn's numbers exactly (``==``, not ``isclose``)."""

from __future__ import annotations

import copy
import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from riskcalc.features import FEATURE_NAMES
from riskcalc.model import RiskModel, load_model
from riskcalc.model._compiled import (
    MAX_SPLITS,
    CompiledModel,
    Unsupported,
    compile_model,
    from_arrays,
    to_arrays,
)
from riskcalc.model._estimator import (
    fit_calibrated,
    interval,
    logit_spread,
    make_pipeline,
    member_probabilities,
    recalibrate,
)
from riskcalc.model._risk_model import CompiledClassifiers


def _random_features(n: int, seed: int, model: RiskModel | None = None) -> pd.DataFrame:
    """Rows spread over (and a little past) the training range, 10% missing."""
    rng = np.random.default_rng(seed)
    if model is None:
        low, high = np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES))
    else:
        ranges = np.array([model.feature_ranges[n] for n in FEATURE_NAMES])
        low, high = np.nan_to_num(ranges[:, 0]), np.nan_to_num(ranges[:, 1], nan=1.0)
    x = low - 0.1 * (high - low) + rng.random((n, len(FEATURE_NAMES))) * 1.2 * (high - low)
    # some features take few values (flags, counts): ties with split thresholds must match too
    x[:, ::3] = np.round(x[:, ::3])
    x[rng.random(x.shape) < 0.1] = np.nan
    return pd.DataFrame(x, columns=list(FEATURE_NAMES))


@functools.cache
def _small_classifier(method: str, seed: int = 0) -> tuple[CalibratedClassifierCV, pd.DataFrame]:
    """A small calibrated classifier of the real estimator, fitted once per test session."""
    x = _random_features(2500, seed)
    rng = np.random.default_rng(seed + 1)
    signal = np.nan_to_num(x.iloc[:, 0].to_numpy()) - np.nan_to_num(x.iloc[:, 5].to_numpy())
    label = (rng.random(len(x)) < 1 / (1 + np.exp(2 - 2 * signal))).astype(np.int8)
    return fit_calibrated(x, label, np.ones(len(x)), seed=seed, method=method), x


def test_default_model_members_equal_scikit_learn() -> None:
    model = load_model()
    shipped = model.compiled()  # the artifact's compiled.npz
    assert isinstance(model.models, CompiledClassifiers) and shipped is model.models.compiled
    compiled = compile_model(dict(model.models), FEATURE_NAMES)
    x = _random_features(3000, seed=7, model=model)
    for horizon, clf in model.models.items():
        expected = member_probabilities(clf, x)
        for c in (compiled, shipped):
            part = c.horizons[horizon]
            raw = part.raw_scores(x.to_numpy())
            assert np.array_equal(part.classifier.member_probabilities(raw), expected)


def _members(compiled: CompiledModel, x: pd.DataFrame) -> list[np.ndarray]:
    return [
        m
        for h in compiled.horizons
        for _, members, inner in compiled.member_probabilities(x.to_numpy(), h)
        for m in (members, inner)
        if m is not None
    ]


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_the_array_form_reads_back_the_same_model(method: str) -> None:
    clf, x = _small_classifier(method)
    label = (np.random.default_rng(4).random(len(x)) < 0.3).astype(np.int8)
    recalibrated = recalibrate(clf, x, label, np.ones(len(x)), method=method)
    compiled = compile_model({12: clf, 24: recalibrated}, FEATURE_NAMES)
    arrays = to_arrays(compiled)
    assert all(a.dtype != object for a in arrays.values())  # np.load(allow_pickle=False) reads it
    again = from_arrays(arrays, len(FEATURE_NAMES))
    fresh = _random_features(2000, seed=12)
    for a, b in zip(_members(compiled, fresh), _members(again, fresh), strict=True):
        assert np.array_equal(a, b)


def test_the_array_form_refuses_arrays_that_do_not_fit() -> None:
    clf, _ = _small_classifier("sigmoid")
    arrays = to_arrays(compile_model({24: clf}, FEATURE_NAMES))
    with pytest.raises(ValueError, match="fit together"):
        from_arrays(arrays, n_features=3)  # the trees ask of features past the third
    key = next(k for k in arrays if k.endswith("/leaf_value"))
    with pytest.raises(ValueError, match="fit together"):
        from_arrays({**arrays, key: arrays[key][:, :2]}, len(FEATURE_NAMES))
    with pytest.raises(KeyError):
        from_arrays({k: v for k, v in arrays.items() if k != key}, len(FEATURE_NAMES))


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_methods_and_recalibration_equal_scikit_learn(method: str) -> None:
    clf, x = _small_classifier(method)
    rng = np.random.default_rng(3)
    label = (rng.random(len(x)) < 0.3).astype(np.int8)
    recalibrated = recalibrate(clf, x, label, np.ones(len(x)), method=method)
    compiled = compile_model({12: clf, 24: recalibrated}, FEATURE_NAMES)
    fresh = _random_features(2000, seed=11)
    plain = compiled.horizons[12]
    assert np.array_equal(
        plain.classifier.member_probabilities(plain.raw_scores(fresh.to_numpy())),
        member_probabilities(clf, fresh),
    )
    raw = compiled.horizons[24].raw_scores(fresh.to_numpy())
    outer = compiled.horizons[24].classifier
    assert outer.inner is not None
    assert np.array_equal(outer.probability(raw), recalibrated.predict_proba(fresh)[:, 1])
    assert np.array_equal(outer.inner.probability(raw), clf.predict_proba(fresh)[:, 1])


def test_risk_model_predicts_the_same_compiled_or_not() -> None:
    model = load_model()
    assert model.compiled() is not None
    plain = dataclasses.replace(model, models=dict(model.models))
    plain._compile_tried = True  # as if compiling had failed: scikit-learn's path
    assert plain.compiled() is None
    x = _random_features(500, seed=5, model=model)
    for horizon in model.horizons_months:
        fast, slow = (m.predict(x, horizon_months=horizon) for m in (model, plain))
        assert np.array_equal(fast.probability, slow.probability)
        assert np.array_equal(fast.low, slow.low)
        assert np.array_equal(fast.high, slow.high)


def test_an_unsupported_pipeline_falls_back_to_scikit_learn() -> None:
    clf, x = copy.deepcopy(_small_classifier("sigmoid"))
    member = clf.calibrated_classifiers_[0]
    member.estimator = Pipeline([("scale", StandardScaler().fit(x)), *member.estimator.steps])
    with pytest.raises(Unsupported):
        compile_model({24: clf}, FEATURE_NAMES)


def test_many_rows_are_chunked_with_the_same_result() -> None:
    model = load_model()
    compiled = model.compiled()
    assert compiled is not None
    part = compiled.horizons[model.default_horizon_months]
    x = _random_features(3000, seed=9, model=model).to_numpy()
    whole = part.raw_scores(x)
    pieces = np.concatenate([part.raw_scores(x[i : i + 7]) for i in range(0, len(x), 7)])
    assert np.array_equal(whole, pieces)
    assert part.raw_scores(x[:0]).shape == (0, part.forests.n_pipelines)


def test_every_horizon_up_to_one_is_evaluated_in_one_pass() -> None:
    model = load_model()
    compiled = model.compiled()
    assert compiled is not None
    x = _random_features(300, seed=13, model=model).to_numpy()
    horizons = sorted(compiled.horizons)
    for h in horizons:
        alone = [compiled.horizons[g].raw_scores(x) for g in horizons if g <= h]
        assert np.array_equal(compiled.up_to[h].raw_scores(x), np.concatenate(alone, axis=1))
        together = compiled.member_probabilities(x, h)
        assert [g for g, *_ in together] == [g for g in horizons if g <= h]
        for (g, members, inner), raw in zip(together, alone, strict=True):
            classifier = compiled.horizons[g].classifier
            assert np.array_equal(members, classifier.member_probabilities(raw))
            assert inner is None


def test_one_pipeline_on_one_row_adds_its_trees_in_order() -> None:
    """A lone score is summed tree by tree too (numpy would sum a lone column pairwise)."""
    clf, _ = copy.deepcopy(_small_classifier("sigmoid"))
    clf.calibrated_classifiers_ = clf.calibrated_classifiers_[:1]
    part = compile_model({24: clf}, FEATURE_NAMES).horizons[24]
    assert part.forests.n_pipelines == 1
    pipeline = clf.calibrated_classifiers_[0].estimator
    rows = _random_features(40, seed=17)
    singles = [part.raw_scores(rows.iloc[[i]].to_numpy())[0, 0] for i in range(len(rows))]
    assert np.array_equal(singles, pipeline.decision_function(rows))


def test_trees_of_more_splits_than_a_table_holds_are_unsupported() -> None:
    clf, x = copy.deepcopy(_small_classifier("sigmoid"))
    label = (np.random.default_rng(5).random(len(x)) < 0.4).astype(np.int8)
    bigger = make_pipeline(0, n_rows=len(x)).set_params(
        boost__max_leaf_nodes=MAX_SPLITS + 2, boost__min_samples_leaf=5, boost__max_iter=3
    )
    clf.calibrated_classifiers_[0].estimator = bigger.fit(x, label)
    with pytest.raises(Unsupported, match="splits"):
        compile_model({24: clf}, FEATURE_NAMES)


def test_horizons_of_different_members_predict_as_each_horizon_alone() -> None:
    """A recalibrated horizon beside a plain one: each its own spread, then the running max."""
    clf, x = _small_classifier("sigmoid")
    label = (np.random.default_rng(3).random(len(x)) < 0.3).astype(np.int8)
    recalibrated = recalibrate(clf, x, label, np.ones(len(x)))
    model = dataclasses.replace(
        load_model(), models={12: clf, 24: recalibrated}, interval_scale={12: 2.0, 24: 3.0}
    )
    fresh = _random_features(300, seed=19)
    expected = []
    for h, inner in ((12, None), (24, clf)):
        prob, sd = logit_spread(member_probabilities(model.models[h], fresh))
        if inner is not None:
            _, sd = logit_spread(member_probabilities(inner, fresh))
        expected.append((prob, *interval(prob, sd, scale=model.interval_scale[h])))
    got = model.predict(fresh, horizon_months=24)
    assert model.compiled() is not None
    for value, (p12, p24) in zip(
        (got.probability, got.low, got.high), zip(*expected, strict=True), strict=True
    ):
        assert np.array_equal(value, np.maximum(p12, p24))
