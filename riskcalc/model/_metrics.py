"""Performance measures for censored binary outcomes at a horizon (all IPC-weighted).

Every function takes the label ``y`` (0/1), the predicted probability ``p`` and the IPC weight
``w`` of the rows whose status at the horizon is known (:mod:`riskcalc.model._labels`); weighted
means then estimate what the full cohort, uncensored, would show.

Definitions (Van Calster et al. 2016, J Clin Epidemiol 74:167; Austin & Steyerberg 2019, Stat Med
38:4051 for the ICI; Vickers & Elkin 2006, Med Decis Making 26:565 for net benefit):

- ``calibration_intercept``: calibration-in-the-large on the probability scale, weighted mean
  predicted minus weighted observed event rate (positive = over-estimation).
- ``calibration_intercept_logit``: the intercept of ``logit P(y) = a + logit p`` (offset model).
- ``calibration_slope``: ``b`` in ``logit P(y) = a + b logit p``.
- ``ici``: weighted mean of ``|p - s(p)|`` where ``s`` is the flexible calibration curve, a
  logistic regression of ``y`` on a natural-cubic-like B-spline of ``logit p`` (4 interior knots at
  quantiles).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import SplineTransformer

Array = npt.NDArray[np.float64]
_EPS = 1e-6


def _lp(p: Array) -> Array:
    return np.asarray(logit(np.clip(p, _EPS, 1 - _EPS)), dtype=np.float64)


def auroc(y: Array, p: Array, w: Array) -> float:
    """Weighted area under the ROC curve."""
    return float(roc_auc_score(y, p, sample_weight=w))


def brier(y: Array, p: Array, w: Array) -> float:
    """Weighted Brier score."""
    return float(np.average((y - p) ** 2, weights=w))


def _weighted_logistic(
    x: Array,
    y: Array,
    w: Array,
    *,
    offset: Array | None = None,
    iters: int = 50,
    ridge: float = 1e-10,
) -> Array:
    """Newton-Raphson for a weighted logistic regression with design ``x`` (n, k)."""
    beta = np.zeros(x.shape[1])
    off = np.zeros(len(y)) if offset is None else offset
    for _ in range(iters):
        mu = expit(x @ beta + off)
        grad = x.T @ (w * (y - mu))
        hess = (x * (w * mu * (1 - mu))[:, None]).T @ x
        step = np.linalg.solve(hess + ridge * np.eye(len(beta)), grad - ridge * beta)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def calibration_intercept(y: Array, p: Array, w: Array) -> float:
    """Mean predicted minus observed (probability scale, weighted)."""
    return float(np.average(p, weights=w) - np.average(y, weights=w))


def calibration_intercept_logit(y: Array, p: Array, w: Array) -> float:
    """``a`` in ``logit P(y) = a + logit p``."""
    return float(_weighted_logistic(np.ones((len(y), 1)), y, w, offset=_lp(p))[0])


def calibration_slope(y: Array, p: Array, w: Array) -> float:
    """``b`` in ``logit P(y) = a + b logit p``."""
    x = np.column_stack([np.ones(len(y)), _lp(p)])
    return float(_weighted_logistic(x, y, w)[1])


def calibration_curve_fn(y: Array, p: Array, w: Array) -> Callable[[Array], Array]:
    """The flexible calibration curve ``s(p)`` (spline logistic regression on ``logit p``)."""
    lp = _lp(p)[:, None]
    spline = SplineTransformer(n_knots=5, degree=3, knots="quantile", extrapolation="linear")
    basis = spline.fit_transform(lp)
    beta = _weighted_logistic(basis, y, w, ridge=1e-6)

    def curve(q: Array) -> Array:
        return np.asarray(expit(spline.transform(_lp(np.asarray(q))[:, None]) @ beta))

    return curve


def curve_grid(
    p: Array, *, points: int = 50, range_quantiles: tuple[float, float] = (0.01, 0.99)
) -> Array:
    """Where to draw the calibration curve: inside the range of the predictions only.

    ``points`` values evenly spaced on the logit scale (denser where the risks are small)
    between the ``range_quantiles`` (1st and 99th percentiles) of the predictions: beyond them the
    spline only extrapolates a handful of rows. One point when the predictions are all equal.
    """
    low, high = (float(q) for q in np.quantile(np.clip(p, _EPS, 1 - _EPS), range_quantiles))
    if high - low < 1e-12:
        return np.array([low])
    return np.asarray(expit(np.linspace(logit(low), logit(high), points)), dtype=np.float64)


def ici(y: Array, p: Array, w: Array) -> float:
    """Integrated calibration index: weighted mean ``|p - s(p)|``."""
    curve = calibration_curve_fn(y, p, w)
    return float(np.average(np.abs(p - curve(p)), weights=w))


def net_benefit(y: Array, p: Array, w: Array, thresholds: Array) -> Array:
    """Net benefit of acting when ``p >= t``, for each threshold ``t``: TP/n - FP/n * t/(1-t)."""
    total = w.sum()
    out = np.empty(len(thresholds))
    for i, t in enumerate(thresholds):
        act = p >= t
        tp = np.sum(w * act * y) / total
        fp = np.sum(w * act * (1 - y)) / total
        out[i] = tp - fp * t / (1 - t)
    return out


def net_benefit_all(y: Array, w: Array, thresholds: Array) -> Array:
    """Net benefit of acting for everyone."""
    prev = float(np.average(y, weights=w))
    return np.asarray(prev - (1 - prev) * thresholds / (1 - thresholds), dtype=np.float64)


def bootstrap_rows(
    n: int, *, reps: int, seed: int, groups: npt.NDArray[np.intp] | None = None
) -> Iterator[npt.NDArray[np.intp]]:
    """``reps`` bootstrap resamples of ``n`` rows (row positions).

    With ``groups`` (a cluster code per row, e.g. the patient when a patient has several index
    dates), whole clusters are resampled (cluster bootstrap), so that what is computed from them
    accounts for the correlation of a patient's rows.
    """
    rng = np.random.default_rng(seed)
    if groups is not None:
        order = np.argsort(groups, kind="stable")
        codes, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    for _ in range(reps):
        if groups is None:
            yield rng.integers(0, n, n)
        else:
            drawn = rng.integers(0, len(codes), len(codes))
            sizes = counts[drawn]
            offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            yield order[np.repeat(starts[drawn], sizes) + offsets]


def bootstrap_ci(
    stat: Callable[[npt.NDArray[np.intp]], float],
    n: int,
    *,
    reps: int,
    seed: int,
    level: float = 0.95,
    groups: npt.NDArray[np.intp] | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(rows)`` over row resamples (:func:`bootstrap_rows`;
    with ``groups``, a cluster bootstrap). Resamples where ``stat`` is undefined (one class only)
    are skipped; NaN when none is left.
    """
    values = []
    for rows in bootstrap_rows(n, reps=reps, seed=seed, groups=groups):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            try:
                values.append(stat(rows))
            except ValueError:  # a resample with one class only
                continue
    arr = np.asarray(values)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(arr, alpha)), float(np.quantile(arr, 1 - alpha))
