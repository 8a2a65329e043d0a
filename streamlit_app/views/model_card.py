"""Model card: intended use, data, metrics, calibration and decision-curve figures (as trained)."""

from __future__ import annotations

import json

import common
import pandas as pd
import streamlit as st

from riskcalc.model import default_model_dir

FIGURES = {
    "calibration": "Calibration: predicted vs observed risk on the held-out split",
    "decision_curve": "Decision curve: net benefit against treat-all and treat-none",
    "roc": "ROC curve",
}


def _scalar_metrics(metrics: dict[str, object]) -> pd.DataFrame:
    rows = [
        {"metric": k, "value": v}
        for k, v in metrics.items()
        if isinstance(v, int | float | str) and not isinstance(v, bool)
    ]
    return pd.DataFrame(rows, columns=["metric", "value"]).astype({"value": str})


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
    ):
        if card.get(key):
            st.markdown(f"**{title}.** {card[key]}")
    folder = default_model_dir() / "figures"
    cols = st.columns(2)
    for i, (name, caption) in enumerate(FIGURES.items()):
        path = folder / f"{name}.png"
        if path.is_file():
            cols[i % 2].image(str(path), caption=caption, width="stretch")
    metrics = card.get("metrics")
    if isinstance(metrics, dict):
        with st.expander("Metrics (held-out split)", expanded=True):
            st.dataframe(_scalar_metrics(metrics), hide_index=True)
    with st.expander("Full model card (JSON)"):
        st.code(json.dumps(card, indent=1, default=str)[:200_000], language="json")


main()
