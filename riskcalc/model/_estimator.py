"""The estimator: a scikit-learn Pipeline calibrated with CalibratedClassifierCV, one per horizon.

Pipeline: median imputation with missing-indicator columns, then a histogram gradient-boosting
classifier (log-loss), fitted with the IPC weights of :mod:`riskcalc.model._labels` as sample
weights on the patients whose status at the horizon is known. ``CalibratedClassifierCV`` with
5-fold cross-fitting (``ensemble=True``) then maps the scores to probabilities (isotonic when the
cohort has enough events, else sigmoid) and keeps one calibrated member per fold.

Per-patient interval (the "cross-fit spread" method): the 5 members are fitted on 80% subsets,
so their spread around the ensemble mean is a grouped (delete-20%) jackknife estimate of the
sampling variance of the estimate: ``var = (K-1)/K * sum_k (logit p_k - mean)^2`` on the logit
scale. The interval is ``expit(logit p ± z * c * sd)``; the scale ``c`` (>= 1) widens it for the
model's bias, which a variance estimate does not see. ``c`` is chosen on simulated data with known
true risks so that coverage is nominal, and its measured coverage is reported in the model card.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit, ndtri
from threadpoolctl import threadpool_limits

from riskcalc.errors import ModelError

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

# scikit-learn is imported by the functions that fit (1.2 s): predicting with a loaded model
# needs only the interval below and the compiled arrays (docs/performance.md).

N_FOLDS = 5
INTERVAL_LEVEL = 0.9
INTERVAL_METHOD = (
    "cross-fit spread: grouped-jackknife SD of the 5 cross-fitted calibrated members on the logit "
    "scale, widened by a scale fitted on simulated data with known risks (docs/researchers/model.md)"
)
#: Fewest known events for isotonic calibration; below it, sigmoid: isotonic over-fits small data
#: and, on the default cohort (~1000 events), left a calibration slope of 1.25.
MIN_EVENTS_ISOTONIC = 5000
#: Fewest known events, and known non-events, at a horizon to train, recalibrate, or estimate
#: confidence intervals and the flexible calibration curve: two per cross-fitting fold, so that
#: every stratified fold holds both classes.
MIN_EVENTS_PER_CLASS = 2 * N_FOLDS
_EPS = 1e-6


def known_outcomes(label: npt.NDArray[np.int8], weight: npt.NDArray[np.float64]) -> tuple[int, int]:
    """Events and non-events among the rows whose status at the horizon is known (weight > 0)."""
    keep = np.asarray(weight) > 0
    events = int(np.asarray(label)[keep].sum())
    return events, int(keep.sum()) - events


def require_outcomes(
    label: npt.NDArray[np.int8],
    weight: npt.NDArray[np.float64],
    *,
    purpose: str,
    minimum: int = MIN_EVENTS_PER_CLASS,
    code: str = "model.training_failed",
    context: str | None = None,
) -> None:
    """Raise unless at least ``minimum`` known events and ``minimum`` known non-events are present.

    The one check behind training, recalibration and evaluation (each with its ``minimum`` and
    ``code``). The message says what was found and what is needed; ``context`` describes the
    rows (:meth:`LabelledCohort.eligibility`), else their number is given.

    Raises
    ------
    ModelError
        ``code`` (default ``model.training_failed``).
    """
    events, non_events = known_outcomes(label, weight)
    if events >= minimum and non_events >= minimum:
        return
    rows = context or f"{len(label)} rows"
    raise ModelError(
        code,
        f"too few known outcomes to {purpose}: {events} event(s) and {non_events} non-event(s) "
        f"with known status at the horizon, in {rows}; at least {minimum} of each is needed. "
        "Use a larger cohort, a longer follow-up or another horizon",
    )


def min_samples_leaf(n_rows: int | None) -> int:
    """Rows per leaf: 1000, or 2 % of the fitting rows (at least 20) for smaller cohorts."""
    return 1000 if n_rows is None else int(min(1000, max(20, n_rows // 50)))


def make_pipeline(seed: int, n_rows: int | None = None) -> Pipeline:
    """The uncalibrated pipeline (imputation + gradient boosting).

    Small, heavily regularised trees (4 leaves, >= 1000 rows per leaf (see
    :func:`min_samples_leaf`), L2 10, learning rate 0.04,
    150 iterations): with 8 leaves of >= 100 rows the cross-fitted members over-fitted, each
    member's calibration slope on new data was ~1.15 and the ensemble's 1.09 (held-out) to 1.19
    (fresh cohort); measured in docs/researchers/model.md.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    return Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            (
                "boost",
                HistGradientBoostingClassifier(
                    learning_rate=0.04,
                    max_iter=150,
                    max_leaf_nodes=4,
                    min_samples_leaf=min_samples_leaf(n_rows),
                    l2_regularization=10.0,
                    early_stopping=False,
                    random_state=seed,
                ),
            ),
        ]
    )


def fit_calibrated(
    features: pd.DataFrame,
    label: npt.NDArray[np.int8],
    weight: npt.NDArray[np.float64],
    *,
    seed: int,
    groups: npt.NDArray[np.str_] | None = None,
    method: str | None = None,
    purpose: str = "train",
    context: str | None = None,
) -> CalibratedClassifierCV:
    """Fit one horizon's calibrated classifier on the rows with positive weight.

    Parameters
    ----------
    features
        Feature table (schema columns).
    label, weight
        Labels at the horizon and IPC weights (0 = status unknown; those rows are skipped).
    seed
        Random seed of the folds and the booster.
    groups
        Patient ids, when a patient has several index dates (folds then split by patient).
    method
        "isotonic" or "sigmoid"; default by the number of known events.
    purpose, context
        What the fit is for and on what rows, in words, for the error message
        (``"train at 24 months"``; see :func:`require_outcomes`).

    Raises
    ------
    ModelError
        ``model.training_failed`` with fewer than :data:`MIN_EVENTS_PER_CLASS` known events or
        known non-events (:func:`require_outcomes`).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    require_outcomes(label, weight, purpose=purpose, context=context)
    keep = weight > 0
    x, y, w = features.loc[keep], np.asarray(label)[keep], np.asarray(weight)[keep]
    events = int(y.sum())
    chosen = method or ("isotonic" if events >= MIN_EVENTS_ISOTONIC else "sigmoid")
    if groups is not None:
        splits = list(GroupKFold(n_splits=N_FOLDS).split(x, y, np.asarray(groups)[keep]))
    else:
        splits = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed).split(x, y))
    model = CalibratedClassifierCV(
        make_pipeline(seed, n_rows=len(y) * (N_FOLDS - 1) // N_FOLDS),
        method=chosen,
        cv=splits,
        ensemble=True,
    )
    # one OpenMP thread: on a shared or busy machine, HistGradientBoosting's spinning threads
    # slow fitting down tenfold, while on an idle 2-core machine one thread costs under 2x
    with threadpool_limits(limits=1, user_api="openmp"), warnings.catch_warnings():
        # the weights reach the booster through the Pipeline's routed `boost__sample_weight`
        warnings.filterwarnings("ignore", message="Since Pipeline does not appear")
        model.fit(x, y, sample_weight=w, boost__sample_weight=w)
    # the splits hold numpy index arrays: drop them so that the artifact holds only the model
    model.cv = N_FOLDS
    return model


def recalibrate(
    model: CalibratedClassifierCV,
    features: pd.DataFrame,
    label: npt.NDArray[np.int8],
    weight: npt.NDArray[np.float64],
    *,
    method: str = "sigmoid",
    purpose: str = "recalibrate",
) -> CalibratedClassifierCV:
    """Recalibrate a fitted model on a local cohort (``FrozenEstimator``: the model is not refit).

    The calibrator is cross-fitted over 5 stratified folds, so the cohort needs the same known
    events and non-events as training (:func:`require_outcomes`, ``model.training_failed``).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    require_outcomes(label, weight, purpose=purpose)
    keep = weight > 0
    new = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    with warnings.catch_warnings():
        # the frozen model is not refit, so that the weights serve only the calibrator is intended
        warnings.filterwarnings("ignore", message="Since FrozenEstimator does not appear")
        new.fit(features.loc[keep], np.asarray(label)[keep], sample_weight=np.asarray(weight)[keep])
    return new


def member_probabilities(
    model: CalibratedClassifierCV, features: pd.DataFrame
) -> npt.NDArray[np.float64]:
    """Each calibrated member's probability of the event, shape (n, members)."""
    members = model.calibrated_classifiers_
    return np.column_stack([m.predict_proba(features)[:, 1] for m in members])


@dataclass(frozen=True)
class Prediction:
    """Calibrated probabilities of the target within ``horizon_months`` with their intervals.

    Attributes
    ----------
    probability, low, high
        Arrays of shape (n,), probabilities in [0, 1].
    level
        Nominal coverage of the interval.
    method
        How the interval was made.
    horizon_months
        The horizon.
    """

    probability: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    level: float
    method: str
    horizon_months: int


def logit_spread(
    members: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Ensemble probability and the grouped-jackknife SD of its logit, from member probabilities.

    The members are the last axis: shape (n, members), or (horizons, n, members) for several
    horizons at once (the same operations on each element).
    """
    # add.reduce / k is what np.mean and np.sum compute, without their Python layers (~3 µs a
    # call on a few rows), as _clip is np.clip's arithmetic
    k = members.shape[-1]
    prob = np.add.reduce(members, axis=-1) / k
    if k < 2:
        return prob, np.zeros_like(prob)
    z = logit(_clip(members))
    deviation = z - np.add.reduce(z, axis=-1, keepdims=True) / k
    sd = np.sqrt((k - 1) / k * np.add.reduce(deviation**2, axis=-1))
    return prob, sd


def _clip(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``np.clip(p, _EPS, 1 - _EPS)``: the same minimum of a maximum, NaN kept."""
    return np.minimum(np.maximum(p, _EPS), 1 - _EPS)


def interval(
    prob: npt.NDArray[np.float64],
    sd_logit: npt.NDArray[np.float64],
    *,
    scale: float | npt.NDArray[np.float64],
    level: float = INTERVAL_LEVEL,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``expit(logit p ± z * scale * sd)``: always contains ``p`` and stays in [0, 1].

    ``scale`` may be an array broadcast against ``prob`` (one scale per horizon of a stack).
    """
    z = _two_sided_z(level)
    centre = logit(_clip(prob))
    half = z * scale * sd_logit
    low = np.minimum(expit(centre - half), prob)
    high = np.maximum(expit(centre + half), prob)
    return low, high


@functools.lru_cache(maxsize=16)
def _two_sided_z(level: float) -> float:
    """The standard normal quantile of a two-sided ``level`` interval (1.645 for 0.9)."""
    # scipy.stats.norm.ppf is ndtri (its _ppf, with loc 0 and scale 1); scipy.stats costs 0.5 s
    return float(ndtri(0.5 + level / 2.0))


def fit_interval_scale(
    prob: npt.NDArray[np.float64],
    sd_logit: npt.NDArray[np.float64],
    true_risk: npt.NDArray[np.float64],
    *,
    level: float = INTERVAL_LEVEL,
) -> float:
    """The smallest scale (>= 1) whose interval covers ``level`` of the true risks (NaN skipped)."""
    ok = np.isfinite(true_risk)
    prob, sd_logit, true_risk = prob[ok], sd_logit[ok], true_risk[ok]
    centre = logit(np.clip(prob, _EPS, 1 - _EPS))
    target = logit(np.clip(true_risk, _EPS, 1 - _EPS))
    z = _two_sided_z(level)
    ratio = np.abs(target - centre) / np.maximum(z * sd_logit, 1e-12)
    return float(max(1.0, np.quantile(ratio, level)))


def coverage(
    low: npt.NDArray[np.float64], high: npt.NDArray[np.float64], true_risk: npt.NDArray[np.float64]
) -> float:
    """Share of true risks inside their intervals (rows with a NaN true risk are skipped)."""
    ok = np.isfinite(true_risk)
    inside = (true_risk[ok] >= low[ok]) & (true_risk[ok] <= high[ok])
    return float(np.mean(inside)) if ok.any() else float("nan")
