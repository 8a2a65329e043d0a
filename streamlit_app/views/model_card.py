"""Model card: intended use, data, metrics, calibration and decision-curve figures (as trained)."""

from __future__ import annotations

import json
import math
from typing import Any

import common
import pandas as pd
import streamlit as st

from riskcalc.model import default_model_dir

FIGURES = {
    "calibration": "Calibration: predicted vs observed risk on the held-out split",
    "decision_curve": "Decision curve: net benefit against treat-all and treat-none",
    "roc": "ROC curve",
}


HEADLINE = {
    "n": "Patients in the held-out split",
    "events": "Events in the held-out split",
    "auroc": "AUROC (discrimination)",
    "brier": "Brier score",
    "calibration_intercept_logit": "Calibration intercept (logit; 0 is ideal)",
    "calibration_slope": "Calibration slope (1 is ideal)",
    "ici": "Integrated calibration index",
}


def _headline(metrics: dict[str, Any]) -> pd.DataFrame:
    """The card's headline metrics as they are (with the AUROC's CI where the card has it)."""
    rows = []
    for key, label in HEADLINE.items():
        value = metrics.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        ci = metrics.get(f"{key}_ci")
        if isinstance(ci, list) and len(ci) == 2:
            if all(isinstance(x, int | float) and math.isfinite(x) for x in ci):
                text += f" (95% CI {ci[0]:.3g}–{ci[1]:.3g})"
            else:  # fewer events than an interval needs: the card says so in its warnings
                text += " (95% CI not estimated)"
        rows.append({"metric": label, "value": text})
    return pd.DataFrame(rows, columns=["metric", "value"])


def main() -> None:
    st.subheader("Model card")
    model, error = common.model_or_error()
    if model is None:
        if error is not None:
            common.show_error(error, "The model card cannot be shown")
        return
    card = model.card
    info = model.info
    st.markdown(
        f"**{info.model_id} {info.version}** · trained on {info.trained_on} · "
        f"horizons {', '.join(str(h) for h in model.horizons_months)} months "
        f"(default {model.default_horizon_months}) · SHA-256 `{(info.sha256 or '')[:16]}…`"
    )
    if info.trained_on_simulated_data:
        st.warning(
            "Trained and evaluated on **simulated** data: performance on real patients is unknown."
        )
    for key, title in (
        ("intended_use", "Intended use"),
        ("out_of_scope_use", "Out of scope"),
        ("outcome", "Outcome"),
        ("limitations", "Limitations"),
        ("when_to_stop_using", "When to stop using it"),
    ):
        if card.get(key):
            st.markdown(f"**{title}.** {card[key]}")
    folder = default_model_dir() / "figures"
    st.markdown("**Calibration and decision curves** (held-out split)")
    cols = st.columns(2)
    for i, (name, caption) in enumerate(FIGURES.items()):
        path = folder / f"{name}.png"
        if path.is_file():
            cols[i % 2].image(str(path), caption=caption, width="stretch")
    metrics = card.get("metrics")
    if isinstance(metrics, dict):
        st.markdown("**Performance on the held-out split** (simulated patients)")
        st.dataframe(_headline(metrics), hide_index=True)
    interval = card.get("interval")
    if isinstance(interval, dict) and interval.get("method"):
        st.markdown(
            f"**Uncertainty.** {round(float(interval.get('level', 0.9)) * 100)}% interval: "
            f"{interval['method']}"
        )
    with st.expander("Full model card (JSON)"):
        st.code(json.dumps(card, indent=1, default=str)[:200_000], language="json")


main()
