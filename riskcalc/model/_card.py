"""Model card (Mitchell et al. 2019; TRIPOD+AI items) and ONC HTI-1 source attributes."""

from __future__ import annotations

from typing import Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.features import INFECTION_FEATURES, SCHEMA
from riskcalc.model._estimator import MIN_EVENTS_ISOTONIC

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
    "7 data preparation": "training_data.exclusions",
    "8a outcome and horizon": "outcome",
    "9a/9b predictors and their timing": "features",
    "10 sample size": "training_data",
    "11 missing data": "features[].missing",
    "12a-c data use, model building, internal validation (censoring, calibration)": "method",
    "12e performance measures: discrimination, calibration, clinical utility": "metrics",
    "14 fairness": "metrics.subgroups",
    "15 model output: a probability per horizon with its interval": "interval",
    "18e/18f, 22 data, code and model availability": "availability",
    "23a performance with confidence intervals, by subgroup": "metrics",
    "26 limitations": "limitations",
}


def build_card(
    *,
    info: dict[str, Any],
    training: dict[str, Any],
    metrics: dict[str, Any],
    horizons_months: tuple[int, ...],
    default_horizon_months: int,
    quality: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The model card as plain data (model_card.json); :func:`card_markdown` renders it."""
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
        "metrics": {
            k: metrics.get(k)
            for k in (
                "n",
                "events",
                "auroc",
                "auroc_ci",
                "brier",
                "calibration_intercept",
                "calibration_intercept_logit",
                "calibration_slope",
                "ici",
                "observed_risk_ipcw",
                "comparisons",
                "subgroups",
                "horizon_months",
            )
        },
        "quality_on_fresh_cohort": quality or {},
        "interval": metrics.get("interval", {}),
        "limitations": LIMITATIONS,
        "when_to_stop_using": "When a validation on real patients shows miscalibration that "
        "recalibration does not fix, or when a real-cohort model supersedes it.",
        "availability": "Code and artifact in the riskcalc repository (Apache-2.0); the training "
        "cohort is regenerated by `make model`.",
        "tripod_ai": TRIPOD_AI_MAP,
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list) and value and isinstance(value[0], float):
        return "[" + ", ".join(f"{v:.4f}" for v in value) + "]"
    return str(value)


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
    lines += ["", "## Metrics (held-out split of the training cohort)"]
    for k, v in card["metrics"].items():
        if k not in ("subgroups", "comparisons"):
            lines.append(f"- {k}: {_fmt(v)}")
    comp = card["metrics"].get("comparisons") or {}
    for name, values in comp.items():
        lines.append(
            f"- comparison {name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in values.items())
        )
    if card["quality_on_fresh_cohort"]:
        lines += ["", "## Quality on a fresh simulated cohort (seed not used in training)"]
        for k, v in card["quality_on_fresh_cohort"].items():
            lines.append(f"- {k}: {_fmt(v)}")
    lines += [
        "",
        "## Per-patient interval (held-out split)",
        "When the held-out rows carry true risks, the interval scale was fitted on them, so the "
        "coverage here is in-sample; the fresh-cohort coverage above is the honest figure.",
    ]
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
            "validity": {k: metrics.get(k) for k in ("auroc", "auroc_ci", "brier")},
            "calibration": {
                k: metrics.get(k) for k in ("calibration_intercept", "calibration_slope", "ici")
            },
            "fairness": metrics.get("subgroups"),
        },
        "ongoing_maintenance": {
            "update_process": "retrain (`riskcalc train`) or recalibrate (`riskcalc recalibrate`)",
            "monitoring": "re-run `riskcalc evaluate` on local data; stop if miscalibrated",
            "update_history": [d["version"]],
        },
    }
