"""Model card (Mitchell et al. 2019; TRIPOD+AI items) and ONC HTI-1 source attributes."""

from __future__ import annotations

import math
from typing import Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.features import INFECTION_FEATURES, SCHEMA
from riskcalc.model._estimator import MIN_EVENTS_ISOTONIC
from riskcalc.model._evaluate import HORIZON_METRICS

INTENDED_USE = (
    "Research on whether a cancer survivor's record of respiratory viral infections (COVID-19, "
    "influenza, RSV) carries information about the risk of metastatic relapse or cancer death "
    "within a stated horizon, for adults in remission after curative treatment. Users: "
    "researchers, and clinicians exploring the hypothesis alongside their own judgement."
)
OUT_OF_SCOPE = (
    "Any clinical decision without independent review; patients with active or metastatic "
    "disease at the index date; children; cancers other than those in the training data; "
    "deciding on or withholding any treatment (including IL-6 blockade, which is a mouse-model "
    "finding, not clinical evidence); screening or triage; any use as a medical device."
)
LIMITATIONS = (
    "Trained and evaluated on simulated data only: performance on real patients is unknown. "
    "The infection effect in the simulator is an assumption tuned to two observational "
    "studies (UK Biobank OR 1.85; Flatiron HR 1.44) and to mouse experiments. Censoring is "
    "handled by IPCW with a censoring distribution that does not depend on covariates. Coded "
    "infections miss untested illnesses. The per-patient interval's coverage was measured "
    "against the simulator's own true risk (Monte Carlo re-simulation given each patient's "
    "complete past) and holds only for data like it. The quality figures are for the index-date "
    "policy of the training data (for the default model: routine dates plus dates 30 days "
    "after recorded infections); other settings may differ."
)

# TRIPOD+AI (Collins et al., BMJ 2024;385:e078378) items and where the card answers them, by the
# checklist's own numbers (1 to 27c; docs/researchers/tripod-ai.md has every item).
TRIPOD_AI_MAP = {
    "3b intended use and users": "intended_use",
    "3c health inequalities": "metrics.subgroups",
    "5a/5b data sources and dates": "training_data",
    "6a-c setting, eligibility, treatments": "training_data.index_date_policy",
    "7 data preparation": "training_data.excluded",
    "8a outcome and horizon": "outcome",
    "9a/9b predictors and their timing": "features",
    "10 sample size": "training_data",
    "11 missing data": "features[].missing",
    "12a-c data use, model building, internal validation (censoring, calibration)": "method",
    "12e performance measures: discrimination, calibration, clinical utility": "metrics",
    "14 fairness": "metrics.subgroups",
    "15 model output: a probability per horizon with its interval": "interval",
    "18e/18f, 22 data, code and model availability": "availability",
    "23a performance with confidence intervals, by horizon and subgroup": "metrics, "
    "metrics_by_horizon, metrics.subgroups",
    "24 model updating": "update_history",
    "26 limitations": "limitations",
}


#: What the card's metrics were computed on.
EVALUATED_ON_HELD_OUT = "held-out split of the training cohort"
EVALUATED_ON_LOCAL = (
    "local cohort, after recalibration: riskcalc recalibrate evaluates on the half of the "
    "local cohort it did not recalibrate on"
)
_CARD_METRICS = (
    "n",
    *HORIZON_METRICS,
    "minimum_events_for_intervals",
    "comparisons",
    "subgroups",
    "horizon_months",
    "warnings",
)


def build_card(
    *,
    info: dict[str, Any],
    training: dict[str, Any],
    metrics: dict[str, Any],
    horizons_months: tuple[int, ...],
    default_horizon_months: int,
    quality: dict[str, Any] | None = None,
    evaluated_on: str | None = None,
    update_history: list[str] | None = None,
) -> dict[str, Any]:
    """The model card as plain data (model_card.json); :func:`card_markdown` renders it.

    ``evaluated_on`` says what ``metrics`` were computed on (default: the held-out split of the
    training cohort, or the local cohort for a recalibrated model); ``update_history`` lists the
    versions from the first trained to this one (default: this version alone).
    """
    if evaluated_on is None:
        recalibrated = "recalibrated_on" in training
        evaluated_on = EVALUATED_ON_LOCAL if recalibrated else EVALUATED_ON_HELD_OUT
    return {
        "model_details": {
            **info,
            "riskcalc_version": __version__,
            "estimator": "scikit-learn Pipeline (median imputation with missing indicators + "
            "HistGradientBoostingClassifier, IPC-weighted) in CalibratedClassifierCV (5-fold, "
            "ensemble), one per horizon",
            "horizons_months": list(horizons_months),
            "default_horizon_months": default_horizon_months,
        },
        "research_use_statement": RESEARCH_USE_STATEMENT,
        "intended_use": INTENDED_USE,
        "out_of_scope_use": OUT_OF_SCOPE,
        "outcome": "Metastatic relapse (incl. lung metastasis) or cancer death within the horizon "
        "after the index date; other-cause death is a competing event.",
        "method": {
            "censoring": "inverse-probability-of-censoring weights (Kaplan-Meier of censoring)",
            "calibration": f"CalibratedClassifierCV, isotonic (>= {MIN_EVENTS_ISOTONIC} known "
            "events) or sigmoid",
            "recalibration": "riskcalc recalibrate: CalibratedClassifierCV(FrozenEstimator(model)), "
            "sigmoid",
        },
        "features": [s.to_dict() for s in SCHEMA],
        "infection_features": list(INFECTION_FEATURES),
        "training_data": training,
        "evaluated_on": evaluated_on,
        "metrics": {k: metrics.get(k) for k in _CARD_METRICS},
        "metrics_by_horizon": metrics.get("by_horizon", {}),
        "comparison_horizon_months": default_horizon_months,
        "quality_on_fresh_cohort": quality or {},
        "interval": metrics.get("interval", {}),
        "limitations": LIMITATIONS,
        "when_to_stop_using": "When a validation on real patients shows miscalibration that "
        "recalibration does not fix, or when a real-cohort model supersedes it.",
        "availability": "Code and artifact in the riskcalc repository (Apache-2.0); the training "
        "cohort is regenerated by `make model`.",
        "update_history": list(update_history or [info["version"]]),
        "tripod_ai": TRIPOD_AI_MAP,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else NOT_ESTIMATED
    if isinstance(value, list) and value and all(v is None or isinstance(v, float) for v in value):
        if not any(isinstance(v, float) and math.isfinite(v) for v in value):
            return NOT_ESTIMATED
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


#: How the card shows a measure that was not estimated (NaN in memory, None in JSON).
NOT_ESTIMATED = "not estimated"
_BY_HORIZON_COLUMNS = (
    ("n known", "n_known_status"),
    ("events", "events"),
    ("AUROC", "auroc"),
    ("AUROC 95% CI", "auroc_ci"),
    ("slope", "calibration_slope"),
    ("slope 95% CI", "calibration_slope_ci"),
    ("mean pred. - observed", "calibration_intercept"),
    ("ICI", "ici"),
    ("Brier", "brier"),
)


def _by_horizon_lines(card: dict[str, Any]) -> list[str]:
    """The metrics at every horizon as a Markdown table (cards written before it: none)."""
    rows = card.get("metrics_by_horizon") or {}
    if not rows:
        return []
    lines = [
        "",
        "## Metrics by horizon (same data)",
        "Discrimination and calibration of the probability reported at each horizon. The "
        f"comparison model is at {card.get('comparison_horizon_months')} months only.",
        "",
        "| horizon (months) | " + " | ".join(head for head, _ in _BY_HORIZON_COLUMNS) + " |",
        "|---" * (len(_BY_HORIZON_COLUMNS) + 1) + "|",
    ]
    for horizon, values in rows.items():
        cells = [_fmt(values.get(key)) for _, key in _BY_HORIZON_COLUMNS]
        lines.append(f"| {horizon} | " + " | ".join(cells) + " |")
    return lines


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as Markdown (model_card.md)."""
    d = card["model_details"]
    lines = [
        f"# Model card: {d['model_id']} {d['version']}",
        "",
        f"> {card['research_use_statement']}",
        "",
        f"**Trained on:** {d['trained_on']}",
        "",
        f"**Estimator:** {d['estimator']}. Horizons {d['horizons_months']} months; default "
        f"{d['default_horizon_months']}.",
        "",
        "## Intended use",
        card["intended_use"],
        "",
        "## Out-of-scope use (do not use for)",
        card["out_of_scope_use"],
        "",
        "## Outcome",
        card["outcome"],
        "",
        "## Data",
    ]
    for k, v in card["training_data"].items():
        lines.append(f"- {k}: {_fmt(v)}")
    lines += ["", f"## Metrics ({card.get('evaluated_on', EVALUATED_ON_HELD_OUT)})"]
    for k, v in card["metrics"].items():
        if k not in ("subgroups", "comparisons", "warnings"):
            lines.append(f"- {k}: {_fmt(v)}")
    comp = card["metrics"].get("comparisons") or {}
    for name, values in comp.items():
        lines.append(
            f"- comparison {name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in values.items())
        )
    for issue in card["metrics"].get("warnings") or []:
        lines.append(f"- warning [{issue['code']}] {issue['message']}")
    lines += _by_horizon_lines(card)
    if card["quality_on_fresh_cohort"]:
        lines += ["", "## Quality on a fresh simulated cohort (seed not used in training)"]
        for k, v in card["quality_on_fresh_cohort"].items():
            lines.append(f"- {k}: {_fmt(v)}")
    if card.get("evaluated_on", EVALUATED_ON_HELD_OUT) == EVALUATED_ON_HELD_OUT:
        lines += [
            "",
            "## Per-patient interval (held-out split)",
            "When the held-out rows carry true risks, the interval scale was fitted on them, so "
            "the coverage here is in-sample; the fresh-cohort coverage above is the honest figure.",
        ]
    else:
        lines += ["", f"## Per-patient interval ({card['evaluated_on']})"]
    for k, v in card["interval"].items():
        lines.append(f"- {k}: {_fmt(v)}")
    lines += [
        "",
        "## Limitations",
        card["limitations"],
        "",
        "## When to stop using",
        card["when_to_stop_using"],
        "",
        "## TRIPOD+AI items",
    ]
    for item, where in card["tripod_ai"].items():
        lines.append(f"- {item}: `{where}`")
    if "update_history" in card:
        lines += ["", "## Update history", " → ".join(card["update_history"])]
    lines += ["", "Subgroup calibration: see `metrics.json` (`subgroups`) and `figures/`.", ""]
    return "\n".join(lines)


def hti1_source_attributes(card: dict[str, Any]) -> dict[str, Any]:
    """ONC HTI-1 §170.315(b)(11) source attributes of a predictive DSI, from the model card."""
    d = card["model_details"]
    metrics = card["metrics"]
    training = card["training_data"]
    return {
        "regulation": "45 CFR 170.315(b)(11) (ONC HTI-1, 2023): predictive decision support "
        "intervention source attributes",
        "details_and_output": {
            "name": d["model_id"],
            "version": d["version"],
            "developer": "riskcalc contributors",
            "output": f"Probability of metastatic relapse or cancer death within "
            f"{d['horizons_months']} months, with an interval",
            "funding_source": "not applicable (research software)",
        },
        "purpose": {
            "intended_use": card["intended_use"],
            "intended_patient_population": "Adult cancer survivors in remission",
            "intended_users": "Researchers; clinicians as a research aid",
            "decision_making_role": "informs; never directs treatment",
        },
        "cautioned_out_of_scope_use": {
            "out_of_scope": card["out_of_scope_use"],
            "known_risks_and_limitations": card["limitations"],
            "research_use_statement": card["research_use_statement"],
        },
        "development_details": {
            "input_features": [f["name"] for f in card["features"]],
            "training_data": d["trained_on"],
            "trained_on_simulated_data": d["trained_on_simulated_data"],
            "training_data_description": training,
            "fairness_approaches": "subgroup calibration by age band and cancer site reported",
            "external_validation": "none on real patients",
        },
        "quantitative_measures": {
            "evaluated_on": card.get("evaluated_on", EVALUATED_ON_HELD_OUT),
            "validity": {k: metrics.get(k) for k in ("auroc", "auroc_ci", "brier")},
            "calibration": {
                k: metrics.get(k)
                for k in (
                    "calibration_intercept",
                    "calibration_slope",
                    "calibration_slope_ci",
                    "ici",
                )
            },
            "by_horizon": card.get("metrics_by_horizon", {}),
            "fairness": metrics.get("subgroups"),
        },
        "ongoing_maintenance": {
            "update_process": "retrain (`riskcalc train`) or recalibrate (`riskcalc recalibrate`)",
            "monitoring": "re-run `riskcalc evaluate` on local data; stop if miscalibrated",
            "update_history": list(card.get("update_history") or [d["version"]]),
        },
    }
