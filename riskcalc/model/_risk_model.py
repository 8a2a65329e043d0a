"""The fitted risk model: calibrated classifiers by horizon, their intervals and their metadata."""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from riskcalc.errors import ConfigError
from riskcalc.features import FEATURE_NAMES, INFECTION_FEATURES
from riskcalc.model._compiled import CompiledModel, Unsupported, compile_model
from riskcalc.model._estimator import (
    INTERVAL_LEVEL,
    INTERVAL_METHOD,
    Prediction,
    interval,
    logit_spread,
    member_probabilities,
)
from riskcalc.report import ModelInfo

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.calibration import CalibratedClassifierCV

FORMAT_VERSION = "1"
COMPARISON_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n not in INFECTION_FEATURES
)


@dataclass(frozen=True)
class FeatureBounds:
    """The training ranges as arrays, to check a feature row in a few numpy calls.

    The features of the schema whose range is known (``low`` not NaN), in the order of the
    ranges given: name, column in schema order, and training ``low`` and ``high``.
    """

    names: tuple[str, ...]
    columns: npt.NDArray[np.intp]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]

    @classmethod
    def of(cls, ranges: Mapping[str, tuple[float, float]]) -> FeatureBounds:
        known = [
            (name, FEATURE_NAMES.index(name), low, high)
            for name, (low, high) in ranges.items()
            if name in FEATURE_NAMES and not math.isnan(low)
        ]
        return cls(
            names=tuple(k[0] for k in known),
            columns=np.array([k[1] for k in known], dtype=np.intp),
            low=np.array([k[2] for k in known], dtype=np.float64),
            high=np.array([k[3] for k in known], dtype=np.float64),
        )

    def outside(self, row: npt.NDArray[np.float64]) -> list[tuple[str, float, float, float]]:
        """(name, value, low, high) of each feature of ``row`` outside its range, NaN skipped."""
        values = row[self.columns]
        flagged = np.flatnonzero(~((self.low <= values) & (values <= self.high))).tolist()
        found = [
            (self.names[j], float(values[j]), float(self.low[j]), float(self.high[j]))
            for j in flagged
        ]
        return [f for f in found if not math.isnan(f[1])]


class CompiledClassifiers(Mapping[int, "CalibratedClassifierCV"]):
    """Classifiers by horizon, each read when first asked for, and their compiled form, ready:
    what a model loaded from an artifact with ``compiled.npz`` holds as :attr:`RiskModel.models`.

    Predicting needs only the compiled form; the classifiers are read when something needs
    scikit-learn itself (recalibration, saving). The two travel together, so a model given other
    classifiers (``dataclasses.replace(model, models=...)``) is compiled from those.
    """

    def __init__(
        self,
        read: Callable[[int], CalibratedClassifierCV],
        horizons: Iterable[int],
        compiled: CompiledModel,
    ) -> None:
        self.compiled = compiled
        self._read_one = read
        self._horizons = tuple(horizons)
        self._read: dict[int, CalibratedClassifierCV] = {}

    def __getitem__(self, horizon: int) -> CalibratedClassifierCV:
        if horizon not in self._horizons:
            raise KeyError(horizon)
        if horizon not in self._read:
            self._read[horizon] = self._read_one(horizon)
        return self._read[horizon]

    def __contains__(self, horizon: object) -> bool:
        return horizon in self._horizons  # Mapping's own would read the classifier

    def __iter__(self) -> Iterator[int]:
        return iter(self._horizons)

    def __len__(self) -> int:
        return len(self._horizons)


@dataclass
class RiskModel:
    """Calibrated probabilities of metastatic relapse or cancer death within a horizon.

    Attributes
    ----------
    models
        One ``CalibratedClassifierCV`` per horizon (months); from an artifact with compiled
        arrays, a :class:`CompiledClassifiers` that reads each when first asked for.
    default_horizon_months
        The horizon used when none is asked for.
    interval_scale
        Scale ``c`` of the interval per horizon (see :mod:`riskcalc.model._estimator`).
    feature_ranges
        Training ``(min, max)`` per feature, for extrapolation warnings.
    info
        Model id, version, training data, SHA-256 of the artifact's manifest once saved/loaded.
    card
        The model card (plain data).
    comparison
        The same estimator trained without infection features at the default horizon (for the
        evaluation report's comparison), if kept; see :meth:`comparison_model`.
    comparison_loader
        Reads :attr:`comparison` when first needed (a model loaded from an artifact).
    """

    models: Mapping[int, CalibratedClassifierCV]
    default_horizon_months: int
    interval_scale: Mapping[int, float]
    feature_ranges: Mapping[str, tuple[float, float]]
    info: ModelInfo
    card: dict[str, Any] = field(default_factory=dict)
    comparison: CalibratedClassifierCV | None = None
    training: dict[str, Any] = field(default_factory=dict)
    interval_level: float = INTERVAL_LEVEL
    comparison_loader: Callable[[], CalibratedClassifierCV] | None = field(
        default=None, repr=False, compare=False
    )
    _compiled: CompiledModel | None = field(default=None, init=False, repr=False, compare=False)
    _compile_tried: bool = field(default=False, init=False, repr=False, compare=False)
    _bounds: tuple[Mapping[str, tuple[float, float]], FeatureBounds] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def feature_bounds(self) -> FeatureBounds:
        """:attr:`feature_ranges` as arrays (:class:`FeatureBounds`), built on first use."""
        if self._bounds is None or self._bounds[0] is not self.feature_ranges:
            self._bounds = (self.feature_ranges, FeatureBounds.of(self.feature_ranges))
        return self._bounds[1]

    def compiled(self) -> CompiledModel | None:
        """The classifiers as flat arrays (:mod:`riskcalc.model._compiled`), built on first use.

        ``None`` when the fitted model holds something the compiled predictor cannot reproduce
        exactly; prediction then goes through scikit-learn.
        """
        if isinstance(self.models, CompiledClassifiers):
            return self.models.compiled
        if not self._compile_tried:
            self._compile_tried = True
            try:
                self._compiled = compile_model(dict(self.models), FEATURE_NAMES)
            except Unsupported:
                self._compiled = None
        return self._compiled

    @property
    def has_comparison(self) -> bool:
        """True if the model keeps a comparison model (read or not yet read)."""
        return self.comparison is not None or self.comparison_loader is not None

    def comparison_model(self) -> CalibratedClassifierCV | None:
        """:attr:`comparison`, read by :attr:`comparison_loader` on first use."""
        if self.comparison is None and self.comparison_loader is not None:
            self.comparison = self.comparison_loader()
        return self.comparison

    @property
    def horizons_months(self) -> tuple[int, ...]:
        """The horizons the model predicts at, ascending."""
        return tuple(sorted(self.models))

    def _horizon(self, horizon_months: int | None) -> int:
        if horizon_months is not None and (
            not isinstance(horizon_months, numbers.Integral) or isinstance(horizon_months, bool)
        ):
            raise ConfigError(
                "config.invalid",
                f"horizon_months must be a whole number of months, got {horizon_months!r} "
                f"({type(horizon_months).__name__}); choose one of {list(self.horizons_months)}",
            )
        horizon = self.default_horizon_months if horizon_months is None else int(horizon_months)
        if horizon not in self.models:
            raise ConfigError(
                "config.invalid",
                f"horizon_months={horizon} is not one the model was trained for; "
                f"choose one of {list(self.horizons_months)}",
            )
        return horizon

    def predict(self, features: pd.DataFrame, *, horizon_months: int | None = None) -> Prediction:
        """Calibrated probability and interval for each row of a feature table.

        Parameters
        ----------
        features
            Table with every column of the feature schema (extra columns are ignored).
        horizon_months
            One of :attr:`horizons_months`; default :attr:`default_horizon_months`.

        Notes
        -----
        The probability and both bounds are running maxima over the model's horizons up to
        ``horizon_months`` (risk is cumulative, so it cannot fall with a longer horizon).
        """
        x = select_features(features, FEATURE_NAMES).to_numpy()
        return self.predict_matrix(x, horizon_months=horizon_months)

    def predict_matrix(
        self, x: npt.NDArray[np.float64], *, horizon_months: int | None = None
    ) -> Prediction:
        """:meth:`predict` on a float64 array whose columns are the schema's, in schema order.

        What scoring uses (:func:`riskcalc.features.feature_matrix` makes the array): no table,
        no column look-up.
        """
        horizon = self._horizon(horizon_months)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(FEATURE_NAMES):
            raise ConfigError(
                "config.invalid",
                f"a feature matrix has {len(FEATURE_NAMES)} columns in schema order; got shape "
                f"{x.shape}",
            )
        horizons = [h for h in self.horizons_months if h <= horizon]
        compiled = self.compiled()
        if compiled is not None:
            members = compiled.member_probabilities(x, horizon)
        else:
            # One OpenMP thread: tree prediction on the few rows of an assessment is dominated by
            # thread start-up (measured 2.0 s vs 0.22 s per assess on 2 cores; results
            # identical), and cohorts are parallel across processes, not threads.
            import pandas as pd

            frame = pd.DataFrame(x, columns=list(FEATURE_NAMES))
            with threadpool_limits(1, user_api="openmp"):
                members = [(h, *_sklearn_members(self.models[h], frame)) for h in horizons]
        prob, sd = _spreads(members)
        low, high = interval(
            prob,
            sd,
            scale=np.array([[self.interval_scale.get(h, 1.0)] for h in horizons]),
            level=self.interval_level,
        )
        # Risk within a longer horizon can never be lower than within a shorter one: each horizon
        # has its own classifier, so the reported probability (and each interval bound) is the
        # running maximum over the model's horizons up to the one asked for.
        highest = functools.partial(np.maximum.reduce, axis=0, initial=0.0)
        return Prediction(
            probability=highest(prob),
            low=highest(low),
            high=highest(high),
            level=self.interval_level,
            method=INTERVAL_METHOD,
            horizon_months=horizon,
        )

    def predict_comparison(self, features: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Probabilities of the model without infection features (default horizon)."""
        comparison = self.comparison_model()
        if comparison is None:
            raise ConfigError("config.invalid", "this model artifact has no comparison model")
        x = select_features(features, COMPARISON_FEATURES)
        return np.asarray(comparison.predict_proba(x)[:, 1], dtype=np.float64)


def select_features(features: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """The columns ``names`` of a feature table as float64, in that order."""
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise ConfigError(
            "config.invalid",
            f"the feature table lacks {len(missing)} column(s) of the schema: {missing[:5]}; "
            "build it with riskcalc.features.feature_frame or compute_features",
        )
    return features.loc[:, list(names)].astype(np.float64)


def feature_ranges(features: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Training ``(min, max)`` of each schema feature (NaN ignored)."""
    out: dict[str, tuple[float, float]] = {}
    for name in FEATURE_NAMES:
        col = features[name].to_numpy(dtype=np.float64)
        finite = col[np.isfinite(col)]
        out[name] = (
            (float(finite.min()), float(finite.max())) if finite.size else (float("nan"),) * 2
        )
    return out


def _spreads(
    members: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64] | None]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each horizon's own probability and logit SD, shape (horizons, n).

    Horizons whose member arrays have one shape (every model trained here) in one pass: on the
    rows of an assessment, 9.5 µs for 12 and 24 months together, 7.3 µs for each alone.
    """
    shapes = {(m.shape, None if inner is None else inner.shape) for _, m, inner in members}
    if len(shapes) > 1:  # each horizon apart
        parts = [_spreads([one]) for one in members]
        return np.concatenate([p for p, _ in parts]), np.concatenate([sd for _, sd in parts])
    prob, sd = logit_spread(np.stack([m for _, m, _ in members]))
    inners = [inner for *_, inner in members if inner is not None]
    if inners:  # recalibrated: the spread comes from the original's members
        _, sd = logit_spread(np.stack(inners))
    return prob, sd


def _sklearn_members(
    clf: CalibratedClassifierCV, x: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Member probabilities, and those of the original inside a recalibration (if one)."""
    inner = _recalibrated_inner(clf)
    return member_probabilities(clf, x), (None if inner is None else member_probabilities(inner, x))


def _recalibrated_inner(clf: CalibratedClassifierCV) -> CalibratedClassifierCV | None:
    """The original model inside a ``CalibratedClassifierCV(FrozenEstimator(model))``, if any."""
    from sklearn.calibration import CalibratedClassifierCV

    members = clf.calibrated_classifiers_
    if len(members) != 1:
        return None
    inner = getattr(members[0].estimator, "estimator", None)
    return inner if isinstance(inner, CalibratedClassifierCV) else None
