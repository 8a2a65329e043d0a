"""Researchers: score a cohort (upload, or a path on the server), table, distribution, CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import charts
import common
import streamlit as st

from riskcalc import InputError, RiskCalcError
from riskcalc.report.views import CohortTable, score_cohort_table

UPLOAD = "Upload a file"
SERVER = "A path on the server"


def _source() -> tuple[bytes | Path | None, str | None]:
    """The cohort's source, and the uploaded file's name (for messages) if it is one."""
    kind = st.radio("Cohort from", [UPLOAD, SERVER], key="cohort_source", horizontal=True)
    if kind == UPLOAD:
        uploaded = st.file_uploader(
            "Bundles or Bulk Data NDJSON (.json, .ndjson, .gz, .bz2)",
            type=common.UPLOAD_TYPES,
            key="cohort_upload",
            max_upload_size=common.MAX_UPLOAD_MB,
        )
        st.caption(f"Kept in memory only; up to {common.MAX_UPLOAD_MB} MB.")
        if uploaded is None:
            return None, None
        data = uploaded.getvalue()
        if common.upload_too_large(data):
            common.show_error(
                InputError(
                    "input.too_large",
                    f"the file is {len(data) / 1e6:.1f} MB; the app accepts up to "
                    f"{common.MAX_UPLOAD_MB} MB (use `riskcalc score` for larger cohorts)",
                ),
                "The cohort could not be read",
            )
            return None, None
        return data, uploaded.name
    text = st.text_input(
        "Path on the server (a file, or a folder of Bundles / an NDJSON export)",
        key="cohort_path",
    )
    return (Path(text) if text.strip() else None), None


def _show(table: CohortTable) -> None:
    rec = table.reconciliation
    a, b, c, d = st.columns(4)
    a.metric("Patients read", rec.read)
    b.metric("Scored", rec.scored)
    c.metric("Not applicable", rec.not_applicable)
    d.metric("Could not be read", rec.failed)
    scores = table.scores
    scored = scores[scores["status"] == "ok"]
    if not scored.empty:
        st.altair_chart(charts.distribution_chart(scored), width="stretch", height=300)
    st.markdown("**Scores** (click a column header to sort)")
    st.dataframe(
        scores,
        hide_index=True,
        width="stretch",
        column_config={
            "probability": st.column_config.NumberColumn("probability", format="percent"),
            "interval_low": st.column_config.NumberColumn("interval_low", format="percent"),
            "interval_high": st.column_config.NumberColumn("interval_high", format="percent"),
        },
    )
    st.download_button(
        "Download scores (CSV)",
        scores.to_csv(index=False).encode(),
        file_name="riskcalc-scores.csv",
        mime="text/csv",
        key="download_scores",
    )
    if not table.errors.empty:
        st.markdown("**Patients or files that could not be read**")
        st.dataframe(table.errors, hide_index=True, width="stretch")
        st.download_button(
            "Download errors (CSV)",
            table.errors.to_csv(index=False).encode(),
            file_name="riskcalc-scores.errors.csv",
            mime="text/csv",
            key="download_errors",
        )


def main() -> None:
    st.subheader("Score a cohort")
    model, error = common.model_or_error()
    if model is None:
        if error is not None:
            common.show_error(error, "No cohort can be scored")
        return
    source, label = _source()
    left, right = st.columns(2)
    as_of = left.date_input("Assessment date", value=dt.date.today(), key="cohort_as_of")
    horizons = list(model.horizons_months)
    horizon = right.selectbox(
        "Horizon (months)",
        horizons,
        index=horizons.index(model.default_horizon_months),
        key="cohort_horizon",
    )
    clicked = st.button(
        "Score the cohort", type="primary", disabled=source is None, key="cohort_run"
    )
    if clicked and source is not None:
        bar = st.progress(0.0, text="Reading the cohort…")

        def progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"{done} of {total} patients scored")

        try:
            st.session_state["cohort_table"] = score_cohort_table(
                source,
                as_of=as_of,
                horizon_months=horizon,
                model=model,
                on_progress=progress,
                label=label,
            )
        except RiskCalcError as exc:
            st.session_state.pop("cohort_table", None)
            common.show_error(exc, "The cohort could not be scored")
    table = st.session_state.get("cohort_table")
    if isinstance(table, CohortTable):
        _show(table)
    st.caption(
        "Every row carries the model id and version. For cohorts larger than a session can hold, "
        "use `riskcalc score` (streams to CSV/Parquet) or the Dask engine."
    )


main()
