"""The fitted risk model: calibrated classifiers by horizon, their intervals and their metadata."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from threadpoolctl import threadpool_limits

from riskcalc.errors import ConfigError
from riskcalc.features import FEATURE_NAMES, INFECTION_FEATURES
from riskcalc.model._compiled import (
    CompiledHorizon,
    CompiledModel,
    Unsupported,
    compile_model,
)
from riskcalc.model._estimator import (
    INTERVAL_LEVEL,
    INTERVAL_METHOD,
    Prediction,
    interval,
    logit_spread,
    member_probabilities,
)
from riskcalc.report import ModelInfo

FORMAT_VERSION = "1"
COMPARISON_FEATURES: tuple[str, ...] = tuple(
    n for n in FEATURE_NAMES if n not in INFECTION_FEATURES
)


@dataclass
class RiskModel:
    """Calibrated probabilities of metastatic relapse or cancer death within a horizon.

    Attributes
    ----------
    models
        One ``CalibratedClassifierCV`` per horizon (months).
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
        evaluation report's comparison), if kept.
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
    _compiled: CompiledModel | None = field(default=None, init=False, repr=False, compare=False)
    _compile_tried: bool = field(default=False, init=False, repr=False, compare=False)

    def compiled(self) -> CompiledModel | None:
        """The classifiers as flat arrays (:mod:`riskcalc.model._compiled`), built on first use.

        ``None`` when the fitted model holds something the compiled predictor cannot reproduce
        exactly; prediction then goes through scikit-learn.
        """
        if not self._compile_tried:
            self._compile_tried = True
            try:
                self._compiled = compile_model(dict(self.models), FEATURE_NAMES)
            except Unsupported:
                self._compiled = None
        return self._compiled

    @property
    def horizons_months(self) -> tuple[int, ...]:
        """The horizons the model predicts at, ascending."""
        return tuple(sorted(self.models))

    def _horizon(self, horizon_months: int | None) -> int:
        horizon = self.default_horizon_months if horizon_months is None else horizon_months
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
        compiled = self.compiled()
        frame = None if compiled is not None else pd.DataFrame(x, columns=list(FEATURE_NAMES))
        # Risk within a longer horizon can never be lower than within a shorter one: each horizon
        # has its own classifier, so the reported probability (and each interval bound) is the
        # running maximum over the model's horizons up to the one asked for.
        prob = low = high = np.zeros(len(x))
        # One OpenMP thread (scikit-learn path only): tree prediction on the few rows of an
        # assessment is dominated by thread start-up (measured 2.0 s vs 0.22 s per assess on 2
        # cores; results identical), and cohorts are parallel across processes, not threads.
        with threadpool_limits(1, user_api="openmp") if compiled is None else nullcontext():
            for h in (h for h in self.horizons_months if h <= horizon):
                if compiled is not None:
                    members, inner = _compiled_members(compiled.horizons[h], x)
                else:
                    members, inner = _sklearn_members(self.models[h], frame)
                p_h, low_h, high_h = self._interval(members, inner, h)
                prob, low, high = (
                    np.maximum(prob, p_h),
                    np.maximum(low, low_h),
                    np.maximum(high, high_h),
                )
        return Prediction(
            probability=prob,
            low=low,
            high=high,
            level=self.interval_level,
            method=INTERVAL_METHOD,
            horizon_months=horizon,
        )

    def _interval(
        self,
        members: npt.NDArray[np.float64],
        inner: npt.NDArray[np.float64] | None,
        horizon: int,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """One horizon's own probability and interval, no monotonicity across horizons."""
        prob, sd = logit_spread(members)
        if inner is not None:  # recalibrated: the spread comes from the original's members
            _, sd = logit_spread(inner)
        low, high = interval(
            prob, sd, scale=self.interval_scale.get(horizon, 1.0), level=self.interval_level
        )
        return prob, low, high

    def predict_comparison(self, features: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Probabilities of the model without infection features (default horizon)."""
        if self.comparison is None:
            raise ConfigError("config.invalid", "this model artifact has no comparison model")
        x = select_features(features, COMPARISON_FEATURES)
        return np.asarray(self.comparison.predict_proba(x)[:, 1], dtype=np.float64)


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


def _compiled_members(
    horizon: CompiledHorizon, x: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """Member probabilities, and those of the original inside a recalibration (if one)."""
    raw = horizon.raw_scores(x)
    clf = horizon.classifier
    inner = clf.inner
    return clf.member_probabilities(raw), (
        None if inner is None else inner.member_probabilities(raw)
    )


def _sklearn_members(
    clf: CalibratedClassifierCV, x: pd.DataFrame | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    """:func:`_compiled_members` through scikit-learn."""
    assert x is not None
    inner = _recalibrated_inner(clf)
    return member_probabilities(clf, x), (None if inner is None else member_probabilities(inner, x))


def _recalibrated_inner(clf: CalibratedClassifierCV) -> CalibratedClassifierCV | None:
    """The original model inside a ``CalibratedClassifierCV(FrozenEstimator(model))``, if any."""
    members = clf.calibrated_classifiers_
    if len(members) != 1:
        return None
    inner = getattr(members[0].estimator, "estimator", None)
    return inner if isinstance(inner, CalibratedClassifierCV) else None
