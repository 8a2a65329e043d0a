"""The evaluation report of a model on any labelled cohort (internal or external validation).

Every measure is IPC-weighted at the horizon (:mod:`riskcalc.model._metrics`). Figures are PNG
files drawn with matplotlib's Agg backend; the numbers go to ``metrics.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.model import _metrics as m
from riskcalc.model._cohort import LabelledCohort
from riskcalc.model._estimator import coverage
from riskcalc.model._risk_model import RiskModel

Array = npt.NDArray[np.float64]
DCA_THRESHOLDS = np.round(np.arange(0.01, 0.31, 0.01), 2)
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<50", 0.0, 50.0),
    ("50-64", 50.0, 65.0),
    ("65-74", 65.0, 75.0),
    (">=75", 75.0, 200.0),
)
CURVE_GRID = np.linspace(0.005, 0.5, 60)


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics (plain data, the content of ``metrics.json``) and the figures written, if any."""

    metrics: dict[str, Any]
    figures: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> str:
        from riskcalc.model._artifact import clean_json

        return json.dumps(clean_json(self.metrics), indent=2, allow_nan=False)


def _ci(values: tuple[float, float]) -> list[float]:
    return [values[0], values[1]]


def _calibration(y: Array, p: Array, w: Array) -> dict[str, float]:
    return {
        "calibration_intercept": m.calibration_intercept(y, p, w),
        "calibration_intercept_logit": m.calibration_intercept_logit(y, p, w),
        "calibration_slope": m.calibration_slope(y, p, w),
        "ici": m.ici(y, p, w),
        "mean_predicted": float(np.average(p, weights=w)),
        "observed": float(np.average(y, weights=w)),
    }


def _subgroup(y: Array, p: Array, w: Array, mask: npt.NDArray[np.bool_]) -> dict[str, Any]:
    n = int(mask.sum())
    out: dict[str, Any] = {"n": n, "events": int(y[mask].sum())}
    if n == 0 or w[mask].sum() == 0:
        return out
    pred = float(np.average(p[mask], weights=w[mask]))
    obs = float(np.average(y[mask], weights=w[mask]))
    out.update(
        mean_predicted=pred,
        observed=obs,
        calibration_intercept=pred - obs,
        observed_expected_ratio=obs / pred if pred > 0 else None,
    )
    if 0 < y[mask].sum() < n and y[mask].sum() >= 20:
        out["calibration_slope"] = m.calibration_slope(y[mask], p[mask], w[mask])
    return out


def evaluate(
    model: RiskModel,
    cohort: LabelledCohort,
    *,
    horizon_months: int | None = None,
    out_dir: str | Path | None = None,
    n_boot: int = 200,
    seed: int = 0,
) -> EvaluationReport:
    """Evaluate ``model`` on a labelled cohort at one horizon.

    Parameters
    ----------
    model
        The model.
    cohort
        Labelled cohort (:func:`riskcalc.model.prepare_cohort` or :func:`read_cohort`).
    horizon_months
        Default: the model's default horizon.
    out_dir
        If given, ``metrics.json`` and ``figures/*.png`` are written there.
    n_boot
        Bootstrap replicates for the confidence intervals.
    seed
        Seed of the bootstrap.

    Returns
    -------
    EvaluationReport
        ``metrics`` holds at least n, events, auroc (+ CI), brier, calibration_intercept,
        calibration_slope, ici, net benefit, subgroups and the comparisons.
    """
    horizon = model._horizon(horizon_months)
    labels = cohort.labels(horizon)
    known = labels.known
    pred = model.predict(cohort.features, horizon_months=horizon)
    y = labels.label[known].astype(np.float64)
    w = labels.weight[known]
    p = pred.probability[known]
    n = len(y)
    rows_all = np.arange(n)
    # several index dates per patient: bootstrap whole patients (cluster bootstrap)
    ids = cohort.patient_ids[known]
    codes = np.unique(ids, return_inverse=True)[1]
    groups = codes if len(np.unique(codes)) < n else None

    metrics: dict[str, Any] = {
        "model_id": model.info.model_id,
        "model_version": model.info.version,
        "trained_on": model.info.trained_on,
        "riskcalc_version": __version__,
        "research_use_statement": RESEARCH_USE_STATEMENT,
        "horizon_months": horizon,
        "n": len(cohort),
        "n_known_status": n,
        "events": int(y.sum()),
        "excluded": dict(cohort.excluded),
        "censoring": "IPCW (Kaplan-Meier of censoring from the index date); other-cause death "
        "is a competing event, counted as a known non-event",
        "observed_risk_ipcw": float(np.average(y, weights=w)),
    }
    metrics["auroc"] = m.auroc(y, p, w)
    metrics["auroc_ci"] = _ci(
        m.bootstrap_ci(
            lambda r: m.auroc(y[r], p[r], w[r]), n, reps=n_boot, seed=seed, groups=groups
        )
    )
    metrics["brier"] = m.brier(y, p, w)
    metrics.update(_calibration(y, p, w))
    metrics["calibration_slope_ci"] = _ci(
        m.bootstrap_ci(
            lambda r: m.calibration_slope(y[r], p[r], w[r]),
            n,
            reps=n_boot,
            seed=seed,
            groups=groups,
        )
    )
    metrics["calibration_intercept_definition"] = (
        "mean predicted minus IPCW observed risk, probability scale (positive = over-estimation); "
        "calibration_intercept_logit is the logistic offset-model intercept"
    )
    metrics["decision_curve"] = {
        "thresholds": DCA_THRESHOLDS.tolist(),
        "net_benefit_model": m.net_benefit(y, p, w, DCA_THRESHOLDS).tolist(),
        "net_benefit_all": m.net_benefit_all(y, w, DCA_THRESHOLDS).tolist(),
        "net_benefit_none": [0.0] * len(DCA_THRESHOLDS),
    }
    metrics["subgroups"] = _subgroups(cohort, known, y, p, w)
    metrics["extrapolation"], metrics["warnings"] = _extrapolation(model, cohort)
    metrics["comparisons"] = _comparisons(
        model, cohort, known, y, p, w, n_boot, seed, horizon, groups
    )
    metrics["interval"] = {
        "level": pred.level,
        "method": pred.method,
        "median_width": float(np.median(pred.high - pred.low)),
    }
    if horizon in cohort.true_risk:
        truth = cohort.true_risk[horizon]
        ok = np.isfinite(truth)
        metrics["interval"]["coverage_of_true_risk"] = coverage(pred.low, pred.high, truth)
        metrics["interval"]["n_with_true_risk"] = int(ok.sum())
        metrics["mean_abs_error_vs_true_risk"] = (
            float(np.mean(np.abs(pred.probability[ok] - truth[ok]))) if ok.any() else float("nan")
        )
    curve = _curve_with_ci(y, p, w, rows_all, n_boot, seed)
    metrics["calibration_curve"] = curve
    figures: dict[str, Path] = {}
    if out_dir is not None:
        from riskcalc.model._figures import write_figures

        out = Path(out_dir)
        figures = write_figures(out / "figures", y, p, w, metrics)
        from riskcalc.model._artifact import clean_json

        (out / "metrics.json").write_text(
            json.dumps(clean_json(metrics), indent=2, allow_nan=False) + "\n"
        )
    return EvaluationReport(metrics=metrics, figures=figures)


def _curve_with_ci(
    y: Array, p: Array, w: Array, rows: npt.NDArray[np.intp], n_boot: int, seed: int
) -> dict[str, list[float]]:
    grid = CURVE_GRID[max(float(np.quantile(p, 0.995)), 0.02) >= CURVE_GRID]
    est = m.calibration_curve_fn(y, p, w)(grid)
    rng = np.random.default_rng(seed + 1)
    boots = []
    for _ in range(min(n_boot, 100)):
        r = rng.integers(0, len(rows), len(rows))
        if 0 < y[r].sum() < len(r):
            boots.append(m.calibration_curve_fn(y[r], p[r], w[r])(grid))
    arr = np.asarray(boots)
    return {
        "predicted": grid.tolist(),
        "observed": est.tolist(),
        "observed_low": np.quantile(arr, 0.025, axis=0).tolist(),
        "observed_high": np.quantile(arr, 0.975, axis=0).tolist(),
    }


def _extrapolation(
    model: RiskModel, cohort: LabelledCohort
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Rows with inputs outside the training ranges, per feature, and one warning per feature.

    Warnings are ``assess.extrapolation`` issues (riskcalc.errors), as plain data.
    """
    from riskcalc.errors import Issue

    outside_any = np.zeros(len(cohort), dtype=bool)
    by_feature: dict[str, int] = {}
    warnings: list[dict[str, str]] = []
    for name, (low, high) in model.feature_ranges.items():
        if name not in cohort.features.columns or not (np.isfinite(low) and np.isfinite(high)):
            continue
        col = cohort.features[name].to_numpy(dtype=np.float64)
        out = np.isfinite(col) & ((col < low) | (col > high))
        if out.any():
            by_feature[name] = int(out.sum())
            outside_any |= out
            issue = Issue(
                code="assess.extrapolation",
                message=f"{int(out.sum())} of {len(col)} rows have {name} outside the training "
                f"range [{low:.4g}, {high:.4g}]; their estimates are extrapolations",
                source=name,
            )
            warnings.append(issue.model_dump(mode="json"))
    summary = {"rows_outside_training_range": int(outside_any.sum()), "by_feature": by_feature}
    return summary, warnings


def _subgroups(
    cohort: LabelledCohort,
    known: npt.NDArray[np.bool_],
    y: Array,
    p: Array,
    w: Array,
) -> dict[str, dict[str, Any]]:
    feats = cohort.features.loc[known]
    age = feats["age_years"].to_numpy()
    out: dict[str, dict[str, Any]] = {"age_band": {}, "cancer_site": {}}
    for name, low, high in AGE_BANDS:
        out["age_band"][name] = _subgroup(y, p, w, (age >= low) & (age < high))
    for col in [c for c in feats.columns if c.startswith("site_")]:
        mask = feats[col].to_numpy() == 1.0
        if mask.any():
            out["cancer_site"][col.removeprefix("site_")] = _subgroup(y, p, w, mask)
    return out


def _comparisons(
    model: RiskModel,
    cohort: LabelledCohort,
    known: npt.NDArray[np.bool_],
    y: Array,
    p: Array,
    w: Array,
    n_boot: int,
    seed: int,
    horizon: int,
    groups: npt.NDArray[np.intp] | None = None,
) -> dict[str, Any]:
    n = len(y)
    out: dict[str, Any] = {}
    score = cohort.features["awakening_score"].to_numpy(dtype=np.float64)[known]
    out["awakening_score_alone"] = {
        "auroc": m.auroc(y, score, w),
        "auroc_ci": _ci(
            m.bootstrap_ci(
                lambda r: m.auroc(y[r], score[r], w[r]), n, reps=n_boot, seed=seed, groups=groups
            )
        ),
        "note": "ranking by the raw mechanistic score, no calibration",
    }
    if model.has_comparison and horizon == model.default_horizon_months:
        q = model.predict_comparison(cohort.features)[known]
        diff = m.auroc(y, p, w) - m.auroc(y, q, w)
        out["without_infection_features"] = {
            "auroc": m.auroc(y, q, w),
            "brier": m.brier(y, q, w),
            "auroc_difference": diff,
            "auroc_difference_ci": _ci(
                m.bootstrap_ci(
                    lambda r: m.auroc(y[r], p[r], w[r]) - m.auroc(y[r], q[r], w[r]),
                    n,
                    reps=n_boot,
                    seed=seed,
                    groups=groups,
                )
            ),
            "note": "same estimator retrained without infection, blockade and awakening features; "
            "paired bootstrap of the AUROC difference (patients resampled when a patient has "
            "several index dates)",
        }
    return out
