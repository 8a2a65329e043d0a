"""The fitted model compiled to flat numpy arrays: the same numbers as scikit-learn, without its cost.

Why: an assessment predicts a handful of rows, and scikit-learn's fixed cost per call (input
validation, feature-name checks, the imputer, one Cython call per tree) came to about 80 ms per
``assess``, against a few hundred microseconds for the arithmetic: 4 horizons × 5 calibrated
members × 150 trees of at most 4 leaves (docs/performance.md). Compiled, every tree of every
member of every horizon is walked at once, a few vectorised steps deep.

Exactness: each step mirrors scikit-learn's own code, so the outputs are equal, not close
(``tests/model/test_compiled.py`` compares with ``==``):

- ``SimpleImputer(add_indicator=True)``: NaN replaced by the fitted statistic, then the
  missing-indicator columns (0/1) appended;
- ``HistGradientBoostingClassifier.decision_function``: from the baseline, each tree's leaf value
  added in order (float64); at a split ``x <= num_threshold`` goes left (the imputer leaves no
  NaN, so ``missing_go_to_left`` never applies);
- ``CalibratedClassifierCV``: each member's calibrator maps the score (``decision_function``, or
  for a recalibrated model the inner ensemble's probability) to a probability; isotonic
  calibrators clip to their fitted range and interpolate with their own fitted function.

Anything else (categorical splits, more than two classes, other pipeline steps or calibrators)
raises :class:`Unsupported`; the model then predicts through scikit-learn as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import Pipeline

Floats = npt.NDArray[np.float64]

#: Rows × trees walked per chunk: bounds the working arrays (~10 arrays of this many elements).
_CHUNK_ELEMENTS = 1 << 20


class Unsupported(Exception):
    """The fitted model uses something the compiled predictor does not reproduce exactly."""


@dataclass(frozen=True)
class _Forests:
    """Boosted pipelines: imputers and trees in flat arrays, walked together.

    Pipeline ``p`` reads its imputed copy of the features from columns ``p*F .. p*F+F-1`` of the
    wide input and its missing indicators from the block after all imputed copies; its trees are
    ``p*L .. p*L+L-1`` (padded with a zero leaf up to ``L``, the most trees of any pipeline).
    Nodes are numbered so that an internal node's children are ``first_child`` (left) and
    ``first_child + 1`` (right); a leaf is its own first child with a threshold of +inf, so that
    the walk stays on it.
    """

    n_features: int
    statistics: Floats  # (P, F) imputation values
    indicator_columns: npt.NDArray[np.intp]  # (I,) input feature of each indicator column
    baseline: Floats  # (P,)
    roots: npt.NDArray[np.intp]  # (P * L,)
    feature: npt.NDArray[np.intp]  # per node: column of the wide input
    threshold: Floats
    first_child: npt.NDArray[np.intp]
    value: Floats
    depth: int
    trees_per_pipeline: int

    @property
    def n_pipelines(self) -> int:
        return len(self.baseline)

    def raw_scores(self, x: Floats) -> Floats:
        """``decision_function`` of every pipeline, shape (n, P)."""
        rows_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, len(self.roots)))
        parts = [
            self._raw_chunk(x[start : start + rows_per_chunk])
            for start in range(0, len(x), rows_per_chunk)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_pipelines))

    def _raw_chunk(self, x: Floats) -> Floats:
        n = len(x)
        missing = np.isnan(x)
        imputed = np.where(missing[:, None, :], self.statistics[None, :, :], x[:, None, :])
        wide = np.concatenate(
            [imputed.reshape(n, -1), missing[:, self.indicator_columns].astype(np.float64)], axis=1
        )
        flat = wide.ravel()
        offset = (np.arange(n) * wide.shape[1])[:, None]
        node = np.broadcast_to(self.roots, (n, len(self.roots)))
        for _ in range(self.depth):
            # imputation left no NaN (no statistic is NaN, see _check_pipeline), so a split's
            # missing-value direction never applies and "not x <= threshold" is "x > threshold"
            go_right = flat[offset + self.feature[node]] > self.threshold[node]
            node = self.first_child[node] + go_right
        leaves = self.value[node].reshape(n, self.n_pipelines, self.trees_per_pipeline)
        # scikit-learn starts from the baseline and adds the trees one by one, in order; a
        # running (sequential) sum gives the same float64 result bit for bit
        terms = np.concatenate(
            [np.broadcast_to(self.baseline[None, :, None], (n, self.n_pipelines, 1)), leaves],
            axis=2,
        )
        return np.add.accumulate(terms, axis=2)[:, :, -1]


def _calibrator(calibrator: Any) -> Callable[[Floats], Floats]:
    """The calibrator's ``predict`` without scikit-learn's input checks."""
    if isinstance(calibrator, _SigmoidCalibration):
        a, b = float(calibrator.a_), float(calibrator.b_)
        return lambda t: np.asarray(expit(-(a * t + b)), dtype=np.float64)
    if (
        isinstance(calibrator, IsotonicRegression)
        and calibrator.out_of_bounds == "clip"
        and calibrator.X_thresholds_.dtype == np.float64  # else scikit-learn casts the scores
    ):
        low, high, f = calibrator.X_min_, calibrator.X_max_, calibrator.f_
        return lambda t: np.asarray(f(np.clip(t, low, high)), dtype=np.float64)
    raise Unsupported(f"calibrator {type(calibrator).__name__}")


@dataclass(frozen=True)
class _Member:
    """One calibrated member: where its score comes from, and its calibrator."""

    source: int | CompiledClassifier  # a pipeline's column of the raw scores, or an ensemble
    calibrate: Callable[[Floats], Floats]

    def probability(self, raw: Floats) -> Floats:
        score = (
            raw[:, self.source] if isinstance(self.source, int) else self.source.probability(raw)
        )
        p = self.calibrate(score)
        p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0
        return p


@dataclass(frozen=True)
class CompiledClassifier:
    """A compiled ``CalibratedClassifierCV``: its members' probabilities from the raw scores."""

    members: tuple[_Member, ...]

    def member_probabilities(self, raw: Floats) -> Floats:
        """Each member's probability of the event, shape (n, members)."""
        return np.column_stack([m.probability(raw) for m in self.members])

    def probability(self, raw: Floats) -> Floats:
        """The ensemble's probability, summed in scikit-learn's order."""
        total = np.zeros(len(raw))
        for m in self.members:
            total += m.probability(raw)
        total /= len(self.members)
        return total

    @property
    def inner(self) -> CompiledClassifier | None:
        """The original ensemble inside a recalibrated one, if this is one."""
        if len(self.members) == 1 and isinstance(self.members[0].source, CompiledClassifier):
            return self.members[0].source
        return None


@dataclass(frozen=True)
class CompiledHorizon:
    """One horizon's classifier and the trees it reads (including a recalibrated one's inner)."""

    forests: _Forests
    classifier: CompiledClassifier

    def raw_scores(self, x: Floats) -> Floats:
        """Every pipeline's score for each row of ``x`` (schema features, float64)."""
        return self.forests.raw_scores(np.ascontiguousarray(x, dtype=np.float64))


@dataclass(frozen=True)
class CompiledModel:
    """Every horizon's classifier, compiled; a prediction walks only the horizons it needs."""

    horizons: dict[int, CompiledHorizon]


def compile_model(
    models: dict[int, CalibratedClassifierCV], feature_names: Sequence[str]
) -> CompiledModel:
    """Compile each horizon's ``CalibratedClassifierCV``; raises :class:`Unsupported` if unable."""
    out = {}
    for horizon, clf in models.items():
        pipelines: list[Pipeline] = []
        classifier = _compile_classifier(clf, pipelines, tuple(feature_names))
        out[horizon] = CompiledHorizon(_flatten(pipelines, len(feature_names)), classifier)
    return CompiledModel(out)


def _compile_classifier(
    clf: CalibratedClassifierCV, pipelines: list[Pipeline], names: tuple[str, ...]
) -> CompiledClassifier:
    members = []
    for member in clf.calibrated_classifiers_:
        if list(member.classes) != [0, 1] or len(member.calibrators) != 1:
            raise Unsupported("not a binary 0/1 classifier")
        estimator = member.estimator
        source: int | CompiledClassifier
        if isinstance(estimator, FrozenEstimator) and isinstance(
            estimator.estimator, CalibratedClassifierCV
        ):
            source = _compile_classifier(estimator.estimator, pipelines, names)
        elif isinstance(estimator, Pipeline):
            _check_pipeline(estimator, names)
            source = len(pipelines)
            pipelines.append(estimator)
        else:
            raise Unsupported(f"estimator {type(estimator).__name__}")
        members.append(_Member(source, _calibrator(member.calibrators[0])))
    return CompiledClassifier(tuple(members))


def _check_pipeline(pipeline: Pipeline, names: tuple[str, ...]) -> None:
    steps = [step for _, step in pipeline.steps]
    if len(steps) != 2:
        raise Unsupported("pipeline is not imputer + booster")
    imputer, booster = steps
    if not (
        isinstance(imputer, SimpleImputer)
        and isinstance(booster, HistGradientBoostingClassifier)
        and imputer.keep_empty_features
        and (imputer.indicator_ is None or imputer.indicator_.features == "missing-only")
        and tuple(getattr(imputer, "feature_names_in_", ())) == names
        and booster._preprocessor is None
        and booster.n_trees_per_iteration_ == 1
        and list(booster.classes_) == [0, 1]
        and np.isnan(imputer.missing_values)
        and not np.isnan(np.asarray(imputer.statistics_, dtype=np.float64)).any()
    ):
        raise Unsupported("pipeline settings")
    if any(node_set.nodes["is_categorical"].any() for (node_set,) in booster._predictors):
        raise Unsupported("categorical splits")


def _flatten(pipelines: list[Pipeline], n_features: int) -> _Forests:
    """All pipelines' imputers and trees as flat arrays (see :class:`_Forests`)."""
    p_count = len(pipelines)
    per_pipeline = max((len(p[-1]._predictors) for p in pipelines), default=0)
    statistics = np.zeros((p_count, n_features))
    indicators: list[npt.NDArray[np.intp]] = []
    for p, pipeline in enumerate(pipelines):
        statistics[p] = np.asarray(pipeline[0].statistics_, dtype=np.float64)
        ind = pipeline[0].indicator_
        indicators.append(
            np.zeros(0, np.intp) if ind is None else np.asarray(ind.features_, np.intp)
        )
    indicator_start = np.cumsum([0, *(len(i) for i in indicators)])
    # node 0: the zero leaf that pads pipelines with fewer trees
    columns: dict[str, list[Any]] = {
        "feature": [0],
        "threshold": [np.inf],
        "first_child": [0],
        "value": [0.0],
    }
    roots = np.zeros(p_count * per_pipeline, np.intp)
    depth = 0
    for p, pipeline in enumerate(pipelines):
        for t, (predictor,) in enumerate(pipeline[-1]._predictors):
            roots[p * per_pipeline + t] = len(columns["value"])
            _append_tree(predictor.nodes, columns, p, p_count, n_features, indicator_start[p])
            depth = max(depth, int(predictor.nodes["depth"].max()))
    return _Forests(
        n_features=n_features,
        statistics=statistics,
        indicator_columns=np.concatenate(indicators) if indicators else np.zeros(0, np.intp),
        baseline=np.array([float(p[-1]._baseline_prediction[0, 0]) for p in pipelines]),
        roots=roots,
        feature=np.array(columns["feature"], np.intp),
        threshold=np.array(columns["threshold"], np.float64),
        first_child=np.array(columns["first_child"], np.intp),
        value=np.array(columns["value"], np.float64),
        depth=depth,
        trees_per_pipeline=per_pipeline,
    )


def _append_tree(
    nodes: Any,
    columns: dict[str, list[Any]],
    pipeline: int,
    n_pipelines: int,
    n_features: int,
    indicator_start: int,
) -> None:
    """Append one tree, renumbered breadth-first so that siblings are adjacent."""
    start = len(columns["value"])
    order = [0]  # scikit-learn node ids in the new order
    for old in order:  # grows while it is walked: breadth-first
        if not nodes["is_leaf"][old]:
            order += [int(nodes["left"][old]), int(nodes["right"][old])]
    new_id = {old: start + i for i, old in enumerate(order)}
    for old in order:
        node = nodes[old]
        if node["is_leaf"]:
            columns["feature"].append(0)
            columns["threshold"].append(np.inf)
            columns["first_child"].append(new_id[old])
        else:
            column = int(node["feature_idx"])
            columns["feature"].append(
                pipeline * n_features + column
                if column < n_features
                else n_pipelines * n_features + indicator_start + column - n_features
            )
            columns["threshold"].append(float(node["num_threshold"]))
            columns["first_child"].append(new_id[int(node["left"])])
            assert new_id[int(node["right"])] == new_id[int(node["left"])] + 1
        columns["value"].append(float(node["value"]))
