"""The fitted model compiled to flat numpy arrays: the same numbers as scikit-learn, without its cost.

Why: an assessment predicts a handful of rows, and scikit-learn's fixed cost per call (input
validation, feature-name checks, the imputer, one Cython call per tree) came to about 80 ms per
``assess``, against a few hundred microseconds for the arithmetic: 4 horizons × 5 calibrated
members × 150 trees of at most 4 leaves (docs/performance.md). Compiled, every tree of every
member of the horizons a prediction needs is evaluated at once: all of a tree's splits are tested
together, and their answers, read as the bits of a number, index a table of the leaf each
combination of answers reaches (a tree of 4 leaves has 3 splits, so 8 entries).

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

Anything else (categorical splits, more than two classes, other pipeline steps or calibrators,
trees of more than :data:`MAX_SPLITS` splits) raises :class:`Unsupported`; the model then predicts
through scikit-learn as before.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit

if TYPE_CHECKING:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

# scikit-learn is imported where a fitted model is compiled: a model read with its compiled
# arrays predicts without importing it (1.2 s; docs/performance.md).

Floats = npt.NDArray[np.float64]

#: Rows × tree splits evaluated per chunk: bounds the working arrays (a few of this many elements).
_CHUNK_ELEMENTS = 1 << 20

#: Most splits of a tree the compiled predictor takes (its leaf table has 2**splits entries per
#: tree); riskcalc's estimator grows trees of 4 leaves, i.e. 3 splits.
MAX_SPLITS = 8


class Unsupported(Exception):
    """The fitted model uses something the compiled predictor does not reproduce exactly."""


@dataclass(frozen=True)
class _Trees:
    """One boosted pipeline, its imputer folded into its trees' splits.

    Split ``s`` of tree ``t`` asks of input feature ``feature[s, t]``: ``x > threshold[s, t]``,
    or ``if_missing[s, t]`` when ``x`` is NaN. That is the question scikit-learn asks of the
    imputed input: the imputed value of a missing feature is the fitted statistic, so the answer
    is fixed when the pipeline is compiled; a missing indicator is 1.0 when the feature is missing
    and 0.0 otherwise, so it asks ``x > +inf`` (never) or, missing, ``1.0 > threshold``. Splits
    are numbered breadth-first; with the answers as the bits of ``code`` (split ``s`` is bit
    ``s``), ``leaf_value[t, code]`` is the value of the leaf the tree's walk reaches. Unused
    splits ask feature 0 against +inf: always no, and the table ignores them.
    """

    baseline: float
    feature: npt.NDArray[np.intp]  # (S, T)
    threshold: Floats  # (S, T)
    if_missing: npt.NDArray[np.bool_]  # (S, T)
    leaf_value: Floats  # (T, 2**S)


@dataclass(frozen=True)
class _Forests:
    """Boosted pipelines evaluated together (:class:`_Trees` laid out for one vectorised pass).

    Trees are numbered ``u = t * P + p``: tree ``t`` of pipeline ``p``, where ``t = 0`` is the
    pipeline's baseline (a tree without splits whose every leaf is the baseline) and pipelines
    with fewer trees are padded with zero trees at the end. The splits of all trees ask only a
    few distinct questions (453 for the 4530 splits of the default model's 12 and 24 months):
    each question is asked once, and split ``s`` of tree ``u`` reads the answer to question
    ``split_question[s * U + u]``.
    """

    question_feature: npt.NDArray[np.intp]  # (Q,)
    question_threshold: Floats  # (Q, 1)
    question_if_missing: npt.NDArray[np.bool_]  # (Q, 1)
    split_question: npt.NDArray[np.intp]  # (S * U,)
    leaf_value: Floats  # (U * 2**S,)
    leaf_offset: npt.NDArray[np.intp]  # (U, 1): start of each tree's table in leaf_value
    n_splits: int
    n_pipelines: int

    @classmethod
    def of(cls, pipelines: Sequence[_Trees]) -> _Forests:
        """Lay pipelines out side by side (pipeline ``p`` is the ``p``-th given)."""
        n_p = len(pipelines)
        n_s = pipelines[0].feature.shape[0] if pipelines else 1
        depth = 1 + max((len(t.leaf_value) for t in pipelines), default=0)
        feature = np.zeros((n_s, depth, n_p), np.intp)
        threshold = np.full((n_s, depth, n_p), np.inf)
        if_missing = np.zeros((n_s, depth, n_p), bool)
        table = np.zeros((depth, n_p, 1 << n_s))
        for p, trees in enumerate(pipelines):
            end = 1 + len(trees.leaf_value)
            feature[:, 1:end, p] = trees.feature
            threshold[:, 1:end, p] = trees.threshold
            if_missing[:, 1:end, p] = trees.if_missing
            table[0, p] = trees.baseline
            table[1:end, p] = trees.leaf_value
        splits = np.stack([feature.ravel(), threshold.ravel(), if_missing.ravel()])
        questions, split_question = np.unique(splits, axis=1, return_inverse=True)
        return cls(
            question_feature=questions[0].astype(np.intp),
            question_threshold=questions[1].reshape(-1, 1),
            question_if_missing=questions[2].astype(bool).reshape(-1, 1),
            split_question=split_question.astype(np.intp).ravel(),
            leaf_value=table.ravel(),
            leaf_offset=(np.arange(depth * n_p, dtype=np.intp) << n_s)[:, None],
            n_splits=n_s,
            n_pipelines=n_p,
        )

    def raw_scores(self, x: Floats) -> Floats:
        """``decision_function`` of every pipeline, shape (n, P)."""
        rows_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, len(self.split_question)))
        parts = [
            self._raw_chunk(x[start : start + rows_per_chunk])
            for start in range(0, len(x), rows_per_chunk)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_pipelines))

    def _raw_chunk(self, x: Floats) -> Floats:
        # Patients along the last axis, distinct questions asked once, answers combined by byte
        # additions: the 8 rows of an assessment cost 35 µs for the 1510 trees of 12 and 24
        # months, against 110 µs for each horizon's walk down its trees, rows first.
        n = len(x)
        values = x.T.take(self.question_feature, axis=0)
        answers = (values > self.question_threshold) | (np.isnan(values) & self.question_if_missing)
        bits = answers.take(self.split_question, axis=0).view(np.uint8)
        bits = bits.reshape(self.n_splits, -1, n)
        code = bits[0].copy()
        for s in range(1, self.n_splits):
            code += bits[s] * np.uint8(1 << s)
        leaves = self.leaf_value.take(np.repeat(self.leaf_offset, n, axis=1) + code)
        leaves = leaves.reshape(-1, self.n_pipelines * n)
        # scikit-learn starts from the baseline (tree 0 here) and adds the trees one by one, in
        # order: numpy reduces the leading axis the same way, row by row, except over a single
        # column, which it sums pairwise; accumulate is sequential always, but 6x slower here
        total: Floats = (
            np.add.reduce(leaves, axis=0)
            if leaves.shape[1] > 1
            else np.add.accumulate(leaves, axis=0)[-1]
        )
        return total.reshape(self.n_pipelines, n).T


def _calibrator(calibrator: Any) -> Callable[[Floats], Floats]:
    """The calibrator's ``predict`` without scikit-learn's input checks."""
    from sklearn.calibration import _SigmoidCalibration
    from sklearn.isotonic import IsotonicRegression

    if isinstance(calibrator, _SigmoidCalibration):
        return _Sigmoid(float(calibrator.a_), float(calibrator.b_))
    if (
        isinstance(calibrator, IsotonicRegression)
        and calibrator.out_of_bounds == "clip"
        and calibrator.X_thresholds_.dtype == np.float64  # else scikit-learn casts the scores
    ):
        return _Isotonic(
            np.asarray(calibrator.X_thresholds_, dtype=np.float64),
            np.asarray(calibrator.y_thresholds_, dtype=np.float64),
            float(calibrator.X_min_),
            float(calibrator.X_max_),
        )
    raise Unsupported(f"calibrator {type(calibrator).__name__}")


@dataclass(frozen=True, eq=False)
class _Isotonic:
    """Isotonic calibration, as scikit-learn's ``IsotonicRegression.predict`` (``out_of_bounds
    ="clip"``): the score clipped to the fitted range, then the fitted function, which
    scikit-learn builds from the thresholds (``_build_f``, also when a file is loaded) and is
    built here the same way: one threshold, a constant; more, ``interp1d`` linear."""

    x: Floats
    y: Floats
    low: float
    high: float

    def __call__(self, t: Floats) -> Floats:
        clipped = np.clip(t, self.low, self.high)
        if len(self.y) == 1:
            return np.asarray(self.y.repeat(clipped.shape), dtype=np.float64)
        return np.asarray(self._interpolate(clipped), dtype=np.float64)

    @functools.cached_property
    def _interpolate(self) -> Callable[[Floats], Floats]:
        from scipy.interpolate import interp1d

        f: Callable[[Floats], Floats] = interp1d(self.x, self.y, kind="linear", bounds_error=False)
        return f


@dataclass(frozen=True)
class _Sigmoid:
    """Platt scaling, as scikit-learn's ``_SigmoidCalibration.predict``."""

    a: float
    b: float

    def __call__(self, t: Floats) -> Floats:
        return _platt_scale(t, self.a, self.b)


def _platt_scale(t: Floats, a: float | Floats, b: float | Floats) -> Floats:
    return np.asarray(expit(-(a * t + b)), dtype=np.float64)


def _round_to_one(p: Floats) -> Floats:
    """scikit-learn's correction of probabilities a rounding error above 1 (in place)."""
    p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0
    return p


@dataclass(frozen=True)
class _Member:
    """One calibrated member: where its score comes from, and its calibrator."""

    source: int | CompiledClassifier  # a pipeline's column of the raw scores, or an ensemble
    calibrate: Callable[[Floats], Floats]

    def probability(self, raw: Floats) -> Floats:
        score = (
            raw[:, self.source] if isinstance(self.source, int) else self.source.probability(raw)
        )
        return _round_to_one(self.calibrate(score))


@dataclass(frozen=True)
class CompiledClassifier:
    """A compiled ``CalibratedClassifierCV``: its members' probabilities from the raw scores."""

    members: tuple[_Member, ...]

    def member_probabilities(self, raw: Floats) -> Floats:
        """Each member's probability of the event, shape (n, members)."""
        if self._platt is not None:
            # every member at once: the same operations on each element as member by member,
            # in one pass instead of one per member (18 -> 5 µs for 5 members on 8 rows)
            sources, a, b = self._platt
            return _round_to_one(_platt_scale(raw[:, sources], a, b))
        return np.column_stack([m.probability(raw) for m in self.members])

    def member_probabilities_and_inner(self, raw: Floats) -> tuple[Floats, Floats | None]:
        """:meth:`member_probabilities`, and those of the original in a recalibration (if one)."""
        inner = self.inner
        return self.member_probabilities(raw), (
            None if inner is None else inner.member_probabilities(raw)
        )

    @functools.cached_property
    def _platt(self) -> tuple[npt.NDArray[np.intp], Floats, Floats] | None:
        """Pipeline, ``a`` and ``b`` of each member if every member is a sigmoid of a pipeline."""
        if not all(
            isinstance(m.source, int) and isinstance(m.calibrate, _Sigmoid) for m in self.members
        ):
            return None
        sigmoids = [m.calibrate for m in self.members if isinstance(m.calibrate, _Sigmoid)]
        return (
            np.array([m.source for m in self.members], np.intp),
            np.array([c.a for c in sigmoids]),
            np.array([c.b for c in sigmoids]),
        )

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
    """Every horizon's classifier, compiled.

    A prediction at a horizon reads that horizon and every shorter one (the risk is a running
    maximum over them): ``up_to[h]`` lays the pipelines of all horizons up to ``h`` side by side,
    in ascending order, so that one pass evaluates them all (12 and 24 months on 8 rows: 32 µs,
    against 22 µs for each alone).
    """

    horizons: dict[int, CompiledHorizon]
    up_to: dict[int, _Forests]
    #: What the forests were laid out from: each horizon's pipelines, in the order its
    #: classifier's members number them (what :func:`to_arrays` writes).
    trees: dict[int, tuple[_Trees, ...]]

    def member_probabilities(
        self, x: Floats, horizon: int
    ) -> list[tuple[int, Floats, Floats | None]]:
        """(horizon, member probabilities, inner ones or None) of each horizon up to ``horizon``.

        As :meth:`CompiledClassifier.member_probabilities_and_inner` of each horizon, ascending.
        """
        raw = self.up_to[horizon].raw_scores(np.ascontiguousarray(x, dtype=np.float64))
        horizons = sorted(h for h in self.horizons if h <= horizon)
        platt = self._platt_up_to.get(horizon)
        if platt is not None:
            # every horizon's members in one pass, as CompiledClassifier does one horizon's
            sources, a, b, columns = platt
            members = _round_to_one(_platt_scale(raw[:, sources], a, b))
            return [(h, members[:, c], None) for h, c in zip(horizons, columns, strict=True)]
        out = []
        start = 0
        for h in horizons:
            part = self.horizons[h]
            stop = start + part.forests.n_pipelines
            out.append((h, *part.classifier.member_probabilities_and_inner(raw[:, start:stop])))
            start = stop
        return out

    @functools.cached_property
    def _platt_up_to(self) -> dict[int, tuple[npt.NDArray[np.intp], Floats, Floats, list[slice]]]:
        """Per horizon whose classifiers, and those of every shorter horizon, are all sigmoids of
        pipelines: each member's column of ``up_to``'s raw scores, ``a``, ``b``, and the columns
        of each horizon's members."""
        out = {}
        for horizon in self.up_to:
            parts = [self.horizons[h] for h in sorted(self.horizons) if h <= horizon]
            platts = [p.classifier._platt for p in parts if p.classifier._platt is not None]
            if len(platts) < len(parts):
                continue
            sources, a, b, columns = [], [], [], []
            first_pipeline = first_member = 0
            for part, platt in zip(parts, platts, strict=True):
                sources.append(platt[0] + first_pipeline)
                a.append(platt[1])
                b.append(platt[2])
                columns.append(slice(first_member, first_member + len(platt[0])))
                first_pipeline += part.forests.n_pipelines
                first_member += len(platt[0])
            out[horizon] = (np.concatenate(sources), np.concatenate(a), np.concatenate(b), columns)
        return out


def compile_model(
    models: dict[int, CalibratedClassifierCV], feature_names: Sequence[str]
) -> CompiledModel:
    """Compile each horizon's ``CalibratedClassifierCV``; raises :class:`Unsupported` if unable."""
    names = tuple(feature_names)
    pipelines: dict[int, list[Pipeline]] = {h: [] for h in models}
    classifiers = {h: _compile_classifier(clf, pipelines[h], names) for h, clf in models.items()}
    n_splits = _n_splits([p for group in pipelines.values() for p in group])
    trees = {h: tuple(_compile_trees(p, n_splits) for p in group) for h, group in pipelines.items()}
    return _assemble(classifiers, trees)


def _assemble(
    classifiers: dict[int, CompiledClassifier], trees: dict[int, tuple[_Trees, ...]]
) -> CompiledModel:
    """Lay each horizon's trees out as forests, alone and with every shorter horizon's."""
    horizons = {h: CompiledHorizon(_Forests.of(trees[h]), classifiers[h]) for h in classifiers}
    up_to = {
        h: _Forests.of([t for g in sorted(trees) if g <= h for t in trees[g]]) for h in classifiers
    }
    return CompiledModel(horizons, up_to, trees)


def _compile_classifier(
    clf: CalibratedClassifierCV, pipelines: list[Pipeline], names: tuple[str, ...]
) -> CompiledClassifier:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline

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
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer

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


def _splits(nodes: Any) -> list[int]:
    """A tree's internal nodes, breadth-first (scikit-learn node ids)."""
    order, internal = [0], []
    for node in order:  # grows while it is walked: breadth-first
        if not nodes["is_leaf"][node]:
            internal.append(node)
            order += [int(nodes["left"][node]), int(nodes["right"][node])]
    return internal


def _n_splits(pipelines: Sequence[Pipeline]) -> int:
    """The most splits of any tree of the pipelines (at least 1)."""
    most = max(
        (len(_splits(p.nodes)) for pipeline in pipelines for (p,) in pipeline[-1]._predictors),
        default=0,
    )
    if most > MAX_SPLITS:
        raise Unsupported(f"trees of {most} splits (at most {MAX_SPLITS})")
    return max(1, most)


def _compile_trees(pipeline: Pipeline, n_splits: int) -> _Trees:
    """One pipeline's imputer and trees as questions and leaf tables (see :class:`_Trees`)."""
    imputer, booster = pipeline[0], pipeline[-1]
    statistics = np.asarray(imputer.statistics_, dtype=np.float64)
    n_features = len(statistics)
    indicators = [] if imputer.indicator_ is None else list(imputer.indicator_.features_)
    n_trees = len(booster._predictors)
    feature = np.zeros((n_splits, n_trees), np.intp)
    threshold = np.full((n_splits, n_trees), np.inf)
    if_missing = np.zeros((n_splits, n_trees), bool)
    table = np.zeros((n_trees, 1 << n_splits))
    for t, (predictor,) in enumerate(booster._predictors):
        nodes = predictor.nodes
        internal = _splits(nodes)
        for s, node in enumerate(internal):
            column, limit = int(nodes["feature_idx"][node]), float(nodes["num_threshold"][node])
            if column < n_features:  # an imputed feature
                feature[s, t], threshold[s, t] = column, limit
                if_missing[s, t] = statistics[column] > limit
            elif limit < 0.0:  # an indicator split that a present feature passes: never seen
                raise Unsupported("missing-indicator split below 0")
            else:
                feature[s, t] = indicators[column - n_features]
                if_missing[s, t] = limit < 1.0
        table[t] = _leaf_table(nodes, internal, n_splits)
    return _Trees(
        baseline=float(booster._baseline_prediction[0, 0]),
        feature=feature,
        threshold=threshold,
        if_missing=if_missing,
        leaf_value=table,
    )


def _leaf_table(nodes: Any, internal: list[int], n_splits: int) -> list[float]:
    """The value of the leaf reached for every combination of answers (bit ``s``: split ``s``)."""
    is_leaf, left, right = (nodes[f].tolist() for f in ("is_leaf", "left", "right"))
    value = nodes["value"].tolist()
    split = {node: s for s, node in enumerate(internal)}
    out = []
    for code in range(1 << n_splits):
        node = 0
        while not is_leaf[node]:
            node = right[node] if code >> split[node] & 1 else left[node]
        out.append(float(value[node]))
    return out


# --- the array form: what an artifact stores beside its skops files -------------------------------

#: Version of the array form written by :func:`to_arrays`.
ARRAYS_FORMAT = 1
_STRUCTURE = "structure"
_TREE_ARRAYS = ("feature", "threshold", "if_missing", "leaf_value")


def to_arrays(model: CompiledModel) -> dict[str, npt.NDArray[Any]]:
    """The compiled model as named numpy arrays (``numpy.savez``; read back with
    ``allow_pickle=False``): every tree's arrays, every isotonic calibrator's thresholds, and one
    JSON text (``"structure"``) holding the rest: horizons, members, sigmoid parameters and
    baselines (floats in JSON round-trip exactly, as their shortest repr)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    isotonic: list[str] = []

    def calibrator(c: Callable[[Floats], Floats]) -> dict[str, Any]:
        if isinstance(c, _Sigmoid):
            return {"sigmoid": [c.a, c.b]}
        if isinstance(c, _Isotonic):
            key = f"isotonic/{len(isotonic)}"
            isotonic.append(key)
            arrays[f"{key}/x"], arrays[f"{key}/y"] = c.x, c.y
            return {"isotonic": [c.low, c.high, key]}
        raise Unsupported(f"calibrator {type(c).__name__}")  # not made by _calibrator

    def classifier(clf: CompiledClassifier) -> dict[str, Any]:
        return {
            "members": [
                {
                    "source": m.source if isinstance(m.source, int) else classifier(m.source),
                    "calibrator": calibrator(m.calibrate),
                }
                for m in clf.members
            ]
        }

    structure: dict[str, Any] = {"format": ARRAYS_FORMAT, "horizons": {}}
    for h in sorted(model.horizons):
        baselines = []
        for i, trees in enumerate(model.trees[h]):
            baselines.append(trees.baseline)
            for name in _TREE_ARRAYS:
                arrays[f"trees/{h}/{i}/{name}"] = getattr(trees, name)
        structure["horizons"][str(h)] = {
            "classifier": classifier(model.horizons[h].classifier),
            "baselines": baselines,
        }
    arrays[_STRUCTURE] = np.array(json.dumps(structure))
    return arrays


def from_arrays(arrays: Mapping[str, npt.NDArray[Any]], n_features: int) -> CompiledModel:
    """The compiled model :func:`to_arrays` wrote, for inputs of ``n_features`` columns; raises
    ``ValueError`` (or ``KeyError``) on arrays that are not one."""
    structure = json.loads(str(arrays[_STRUCTURE][()]))
    if structure.get("format") != ARRAYS_FORMAT:
        raise ValueError(f"compiled model format {structure.get('format')!r}")

    def calibrator(spec: dict[str, Any]) -> Callable[[Floats], Floats]:
        if "sigmoid" in spec:
            a, b = spec["sigmoid"]
            return _Sigmoid(float(a), float(b))
        low, high, key = spec["isotonic"]
        x, y = arrays[f"{key}/x"], arrays[f"{key}/y"]
        if x.dtype != np.float64 or y.dtype != np.float64 or x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"{key}: thresholds are not two float64 vectors of one length")
        return _Isotonic(x, y, float(low), float(high))

    def classifier(spec: dict[str, Any], n_pipelines: int) -> CompiledClassifier:
        members = []
        for m in spec["members"]:
            source = m["source"]
            if isinstance(source, dict):
                source = classifier(source, n_pipelines)
            elif not (isinstance(source, int) and 0 <= source < n_pipelines):
                raise ValueError(f"member source {source!r} is not one of {n_pipelines} pipelines")
            members.append(_Member(source, calibrator(m["calibrator"])))
        return CompiledClassifier(tuple(members))

    classifiers, trees = {}, {}
    for key, spec in structure["horizons"].items():
        h = int(key)
        trees[h] = tuple(
            _checked_trees(
                float(b), n_features, *(arrays[f"trees/{h}/{i}/{n}"] for n in _TREE_ARRAYS)
            )
            for i, b in enumerate(spec["baselines"])
        )
        classifiers[h] = classifier(spec["classifier"], len(trees[h]))
    if len({t.feature.shape[0] for group in trees.values() for t in group}) > 1:
        raise ValueError("trees of different split counts")
    return _assemble(classifiers, trees)


def _checked_trees(
    baseline: float,
    n_features: int,
    feature: npt.NDArray[Any],
    threshold: npt.NDArray[Any],
    if_missing: npt.NDArray[Any],
    leaf_value: npt.NDArray[Any],
) -> _Trees:
    n_splits, n_trees = feature.shape
    if not (
        feature.dtype == np.intp
        and threshold.dtype == np.float64
        and if_missing.dtype == np.bool_
        and leaf_value.dtype == np.float64
        and threshold.shape == if_missing.shape == (n_splits, n_trees)
        and leaf_value.shape == (n_trees, 1 << n_splits)
        and 1 <= n_splits <= MAX_SPLITS
        and (feature.size == 0 or 0 <= feature.min() <= feature.max() < n_features)
    ):
        raise ValueError("a pipeline's tree arrays do not fit together")
    return _Trees(baseline, feature, threshold, if_missing, leaf_value)
