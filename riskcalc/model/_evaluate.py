"""The evaluation report of a model on any labelled cohort (internal or external validation).

Every measure is IPC-weighted at the horizon (:mod:`riskcalc.model._metrics`). Figures are PNG
files drawn with matplotlib's Agg backend; the numbers go to ``metrics.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.model import _metrics as m
from riskcalc.model._cohort import LabelledCohort
from riskcalc.model._estimator import MIN_EVENTS_PER_CLASS, coverage, require_outcomes
from riskcalc.model._labels import HorizonLabels
from riskcalc.model._risk_model import RiskModel

Array = npt.NDArray[np.float64]
DCA_THRESHOLDS = np.round(np.arange(0.01, 0.31, 0.01), 2)
AGE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("<50", 0.0, 50.0),
    ("50-64", 50.0, 65.0),
    ("65-74", 65.0, 75.0),
    (">=75", 75.0, 200.0),
)
#: Fewest known events, and non-events, at the evaluated horizon for any evaluation: with no
#: event or no non-event discrimination is undefined (``model.evaluation_failed``).
MIN_EVENTS_TO_EVALUATE = 1
#: Fewest known events, and non-events, for confidence intervals, the flexible calibration curve
#: and the ICI (the training minimum): below it a percentile bootstrap collapses (with one event
#: QA got AUROC 1.000 [1.000, 1.000]) and a 5-knot spline has more parameters than events; they
#: are then NaN (None in JSON) with an ``evaluation.few_events`` warning.
MIN_EVENTS_FOR_INTERVALS = MIN_EVENTS_PER_CLASS
_NAN_CI = [float("nan"), float("nan")]


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics (plain data, the content of ``metrics.json``) and the figures written, if any."""

    metrics: dict[str, Any]
    figures: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> str:
        from riskcalc.model._artifact import clean_json

        return json.dumps(clean_json(self.metrics), indent=2, allow_nan=False)


@dataclass(frozen=True)
class _Sample:
    """The rows with known status at one horizon: label, prediction, IPC weight, patient code."""

    y: Array
    p: Array
    w: Array
    groups: npt.NDArray[np.intp] | None

    @classmethod
    def of(cls, cohort: LabelledCohort, labels: HorizonLabels, probability: Array) -> _Sample:
        known = labels.known
        # several index dates per patient: bootstrap whole patients (cluster bootstrap)
        codes = np.unique(cohort.patient_ids[known], return_inverse=True)[1]
        n = int(known.sum())
        return cls(
            y=labels.label[known].astype(np.float64),
            p=probability[known],
            w=labels.weight[known],
            groups=codes if len(np.unique(codes)) < n else None,
        )

    @property
    def events(self) -> int:
        return int(self.y.sum())

    @property
    def non_events(self) -> int:
        return len(self.y) - self.events

    def has(self, minimum: int) -> bool:
        """At least ``minimum`` events and ``minimum`` non-events."""
        return self.events >= minimum and self.non_events >= minimum

    def ci(
        self, stat: Callable[[npt.NDArray[np.intp]], float], n_boot: int, seed: int
    ) -> list[float]:
        """Cluster-bootstrap 95 % CI of ``stat(rows)``; NaN below the minimum of events."""
        if not self.has(MIN_EVENTS_FOR_INTERVALS):
            return list(_NAN_CI)
        low, high = m.bootstrap_ci(stat, len(self.y), reps=n_boot, seed=seed, groups=self.groups)
        return [low, high]


def _few_events(horizon: int, sample: _Sample) -> dict[str, str] | None:
    """The ``evaluation.few_events`` warning for a horizon, or None when it has enough events."""
    from riskcalc.errors import Issue

    if sample.has(MIN_EVENTS_FOR_INTERVALS):
        return None
    counts = (
        f"{sample.events} event(s) and {sample.non_events} non-event(s) with known status at "
        f"{horizon} months"
    )
    if not sample.has(MIN_EVENTS_TO_EVALUATE):
        what = "no performance measure is estimated at this horizon"
    else:
        what = (
            f"fewer than {MIN_EVENTS_FOR_INTERVALS} of each, so the 95 % CIs, the flexible "
            "calibration curve and the ICI are not estimated (None) and the point estimates "
            "are unreliable"
        )
    issue = Issue(
        code="evaluation.few_events", message=f"{counts}: {what}", source=f"{horizon} months"
    )
    return issue.model_dump(mode="json")


def _performance(sample: _Sample, n_boot: int, seed: int) -> dict[str, Any]:
    """Discrimination, overall performance and calibration with their CIs at one horizon.

    Observed and mean predicted risk, Brier score and calibration-in-the-large need known rows
    only; AUROC, the logit intercept and the slope are NaN without an event or a non-event; the
    CIs and the ICI are NaN below :data:`MIN_EVENTS_FOR_INTERVALS`.
    """
    y, p, w = sample.y, sample.p, sample.w
    out: dict[str, Any] = {"n_known_status": len(y), "events": sample.events}
    nan = float("nan")
    if len(y) and w.sum() > 0:
        out["observed_risk_ipcw"] = float(np.average(y, weights=w))
        out["mean_predicted"] = float(np.average(p, weights=w))
        out["observed"] = out["observed_risk_ipcw"]
        out["brier"] = m.brier(y, p, w)
        out["calibration_intercept"] = m.calibration_intercept(y, p, w)
    if not sample.has(MIN_EVENTS_TO_EVALUATE):
        keys = ("auroc", "calibration_intercept_logit", "calibration_slope", "ici")
        return {
            **out,
            **dict.fromkeys(keys, nan),
            "auroc_ci": list(_NAN_CI),
            "calibration_slope_ci": list(_NAN_CI),
        }
    enough = sample.has(MIN_EVENTS_FOR_INTERVALS)
    out.update(
        auroc=m.auroc(y, p, w),
        auroc_ci=sample.ci(lambda r: m.auroc(y[r], p[r], w[r]), n_boot, seed),
        calibration_intercept_logit=m.calibration_intercept_logit(y, p, w),
        calibration_slope=m.calibration_slope(y, p, w),
        calibration_slope_ci=sample.ci(
            lambda r: m.calibration_slope(y[r], p[r], w[r]), n_boot, seed
        ),
        ici=m.ici(y, p, w) if enough else nan,
    )
    return out


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
    """Evaluate ``model`` on a labelled cohort: in full at one horizon, and at every horizon.

    Parameters
    ----------
    model
        The model.
    cohort
        Labelled cohort (:func:`riskcalc.model.prepare_cohort` or :func:`read_cohort`).
    horizon_months
        The horizon of the full report. Default: the model's default horizon.
    out_dir
        If given, ``metrics.json`` and ``figures/*.png`` are written there: never a model
        artifact's folder or one inside it (``config.invalid``); a place that cannot be written
        is ``config.output_unwritable``.
    n_boot
        Bootstrap replicates for the confidence intervals.
    seed
        Seed of the bootstrap.

    Returns
    -------
    EvaluationReport
        ``metrics`` holds n, events, auroc (+ CI), brier, calibration_intercept,
        calibration_slope (+ CI), ici, the calibration curve, net benefit, subgroups and the
        comparisons at ``horizon_months``; ``by_horizon`` the discrimination and calibration
        (with CIs) at each of the model's horizons; ``warnings`` the inputs outside the training
        ranges and the horizons with too few events (``evaluation.few_events``).

    Raises
    ------
    ModelError
        ``model.evaluation_failed`` when the cohort has no event or no non-event with known
        status at ``horizon_months`` (:data:`MIN_EVENTS_TO_EVALUATE`); fewer than
        :data:`MIN_EVENTS_FOR_INTERVALS` give a report without CIs, curve and ICI, and a warning.
    """
    horizon = model._horizon(horizon_months)
    labels = cohort.labels(horizon)
    require_outcomes(
        labels.label,
        labels.weight,
        purpose=f"evaluate the model at {horizon} months",
        minimum=MIN_EVENTS_TO_EVALUATE,
        code="model.evaluation_failed",
        context=cohort.eligibility(),
    )
    known = labels.known
    pred = model.predict(cohort.features, horizon_months=horizon)
    sample = _Sample.of(cohort, labels, pred.probability)
    y, p, w = sample.y, sample.p, sample.w

    metrics: dict[str, Any] = {
        "model_id": model.info.model_id,
        "model_version": model.info.version,
        "trained_on": model.info.trained_on,
        "riskcalc_version": __version__,
        "research_use_statement": RESEARCH_USE_STATEMENT,
        "horizon_months": horizon,
        "n": len(cohort),
        "excluded": dict(cohort.excluded),
        "censoring": "IPCW (Kaplan-Meier of censoring from the index date); other-cause death "
        "is a competing event, counted as a known non-event",
        "minimum_events_for_intervals": MIN_EVENTS_FOR_INTERVALS,
    }
    metrics.update(_performance(sample, n_boot, seed))
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
    metrics["by_horizon"], few = _by_horizon(model, cohort, horizon, sample, metrics, n_boot, seed)
    metrics["warnings"] += few
    metrics["comparisons"] = _comparisons(model, cohort, known, sample, n_boot, seed, horizon)
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
    metrics["calibration_curve"] = _curve_with_ci(sample, n_boot, seed)
    figures: dict[str, Path] = {}
    if out_dir is not None:
        from riskcalc._output import writing
        from riskcalc.model._artifact import check_report_folder, clean_json
        from riskcalc.model._figures import write_figures

        out = check_report_folder(out_dir)
        with writing(out):
            figures = write_figures(out / "figures", y, p, w, metrics)
            (out / "metrics.json").write_text(
                json.dumps(clean_json(metrics), indent=2, allow_nan=False) + "\n"
            )
    return EvaluationReport(metrics=metrics, figures=figures)


#: The figures of one horizon: metrics.json's by_horizon, and the model card's headline.
HORIZON_METRICS = (
    "n_known_status",
    "events",
    "observed_risk_ipcw",
    "mean_predicted",
    "auroc",
    "auroc_ci",
    "brier",
    "calibration_intercept",
    "calibration_intercept_logit",
    "calibration_slope",
    "calibration_slope_ci",
    "ici",
)


def _by_horizon(
    model: RiskModel,
    cohort: LabelledCohort,
    horizon: int,
    sample: _Sample,
    metrics: dict[str, Any],
    n_boot: int,
    seed: int,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    """Discrimination and calibration with CIs at each of the model's horizons (TRIPOD+AI 23a),
    and an ``evaluation.few_events`` warning for each horizon with too few events.

    The horizon of the full report (``sample``, ``metrics``) repeats its numbers.
    """
    out: dict[str, dict[str, Any]] = {}
    warnings: list[dict[str, str]] = []
    for h in model.horizons_months:
        if h == horizon:
            hs, perf = sample, metrics
        else:
            prob = model.predict(cohort.features, horizon_months=h).probability
            hs = _Sample.of(cohort, cohort.labels(h), prob)
            perf = _performance(hs, n_boot, seed)
        out[str(h)] = {k: perf.get(k, float("nan")) for k in HORIZON_METRICS}
        if (warning := _few_events(h, hs)) is not None:
            warnings.append(warning)
    return out, warnings


def _curve_with_ci(sample: _Sample, n_boot: int, seed: int) -> dict[str, Any]:
    """The flexible calibration curve over the range of the predictions, with a 95 % band
    (cluster bootstrap); empty below :data:`MIN_EVENTS_FOR_INTERVALS` events."""
    y, p, w = sample.y, sample.p, sample.w
    if not sample.has(MIN_EVENTS_FOR_INTERVALS):
        return {
            "predicted": [],
            "observed": [],
            "observed_low": [],
            "observed_high": [],
            "note": f"not estimated: fewer than {MIN_EVENTS_FOR_INTERVALS} events or non-events "
            "with known status",
        }
    grid = m.curve_grid(p)
    est = m.calibration_curve_fn(y, p, w)(grid)
    boots = [
        m.calibration_curve_fn(y[r], p[r], w[r])(grid)
        for r in m.bootstrap_rows(
            len(y), reps=min(n_boot, 100), seed=seed + 1, groups=sample.groups
        )
        if 0 < y[r].sum() < len(r)
    ]
    arr = np.asarray(boots) if boots else np.full((1, len(grid)), np.nan)
    return {
        "predicted": grid.tolist(),
        "observed": est.tolist(),
        "observed_low": np.quantile(arr, 0.025, axis=0).tolist(),
        "observed_high": np.quantile(arr, 0.975, axis=0).tolist(),
        "range": "1st to 99th percentile of the predictions, 50 points evenly spaced on the "
        "logit scale",
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
    sample: _Sample,
    n_boot: int,
    seed: int,
    horizon: int,
) -> dict[str, Any]:
    y, p, w = sample.y, sample.p, sample.w
    out: dict[str, Any] = {}
    score = cohort.features["awakening_score"].to_numpy(dtype=np.float64)[known]
    out["awakening_score_alone"] = {
        "auroc": m.auroc(y, score, w),
        "auroc_ci": sample.ci(lambda r: m.auroc(y[r], score[r], w[r]), n_boot, seed),
        "note": "ranking by the raw mechanistic score, no calibration",
    }
    if model.has_comparison and horizon == model.default_horizon_months:
        q = model.predict_comparison(cohort.features)[known]
        diff = m.auroc(y, p, w) - m.auroc(y, q, w)
        out["without_infection_features"] = {
            "horizon_months": horizon,
            "auroc": m.auroc(y, q, w),
            "brier": m.brier(y, q, w),
            "auroc_difference": diff,
            "auroc_difference_ci": sample.ci(
                lambda r: m.auroc(y[r], p[r], w[r]) - m.auroc(y[r], q[r], w[r]), n_boot, seed
            ),
            "note": "same estimator retrained without infection, blockade and awakening features; "
            "paired bootstrap of the AUROC difference (patients resampled when a patient has "
            "several index dates); at the default horizon only",
        }
    return out
