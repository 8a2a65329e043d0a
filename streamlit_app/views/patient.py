"""Patient view: open a record, read the result, explore what-ifs. Draws what riskcalc returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import charts
import common
import pandas as pd
import smart_launch
import streamlit as st

import riskcalc
from riskcalc import InputError, PatientHistory, RiskCalcError, awakening
from riskcalc.demo import demo_bundle, list_demo_patients
from riskcalc.history import Pathogen, Severity
from riskcalc.model import RiskModel
from riskcalc.report import (
    HYPOTHETICAL_ASSESSMENT_LAG_DAYS,
    HypotheticalInfection,
    ReportStatus,
    RiskReport,
    WhatIf,
    apply_what_if,
    assess_histories,
    describe_what_if,
    risk_curve,
    what_if_as_of,
)
from riskcalc.report.views import (
    PATHOGEN_LABELS,
    TimelineWindow,
    awakening_unavailable_reason,
    basis_rows,
    counterfactual_rows,
    driver_rows,
    header_parts,
    icon_counts,
    interval_text,
    out_of_100_text,
    percent,
    record_end,
    timeline_rows_in,
    timeline_window,
    used_episodes,
)

DEMO = "Demo patient"
UPLOAD = "Upload a FHIR file"
SEVERITIES = [s.value for s in Severity]
PATHOGENS = [p.value for p in Pathogen]
#: The earliest assessment date the sidebar takes.
EARLIEST_AS_OF = dt.date(1900, 1, 1)


@st.cache_data(max_entries=8, show_spinner="Reading the record…")
def _read(data: bytes, patient_id: str | None, label: str | None) -> PatientHistory:
    """The history; ``label`` (an uploaded file's name) names the source in error messages."""
    return riskcalc.read_history(
        data, patient_id=patient_id, limits=common.UPLOAD_LIMITS, label=label
    )


@st.cache_data(max_entries=4, show_spinner="Listing the patients in the file…")
def _patient_ids(data: bytes, label: str | None) -> list[str]:
    return [
        h.patient_id
        for h in riskcalc.read_histories(data, limits=common.UPLOAD_LIMITS, label=label)
        if isinstance(h, PatientHistory)
    ]


def _open_patient() -> tuple[PatientHistory, str] | None:
    """Sidebar: pick a demo patient or upload a file; the history and a key for its widgets."""
    if smart_launch.handle_launch():
        return None
    st.sidebar.header("Open a patient")
    ehr = smart_launch.ehr_record()
    with_ehr = ehr is not None or smart_launch.configured()
    sources = [DEMO, UPLOAD] + ([smart_launch.SOURCE] if with_ehr else [])
    label: str | None = None
    source = st.sidebar.radio("Record from", sources, key="source", horizontal=True)
    if source == smart_launch.SOURCE:
        if ehr is None:
            smart_launch.standalone()
            return None
        st.sidebar.caption(
            f"Patient {ehr.patient_id}, read from {ehr.iss} with SMART on FHIR; kept in this "
            "session's memory only. To open another patient, launch again from the EHR (or "
            "reload this page and sign in again)."
        )
        data = ehr.data
    elif source == DEMO:
        patients = {p.name: p for p in list_demo_patients()}
        name = st.sidebar.selectbox(
            "Demo patient (synthetic)",
            list(patients),
            format_func=lambda n: patients[n].label,
            key="demo",
        )
        st.sidebar.caption(patients[name].description)
        data = demo_bundle(name)
    else:
        uploaded = st.sidebar.file_uploader(
            "FHIR R4 Bundle (.json) or Bulk Data NDJSON (.ndjson), optionally .gz/.bz2",
            type=common.UPLOAD_TYPES,
            key="upload",
            max_upload_size=common.MAX_UPLOAD_MB,
        )
        st.sidebar.caption(
            f"Kept in this session's memory only, never written to disk; up to "
            f"{common.MAX_UPLOAD_MB} MB."
        )
        if uploaded is None:
            st.info("Upload a patient's FHIR record in the sidebar, or pick a demo patient.")
            return None
        data = uploaded.getvalue()
        label = uploaded.name
        if common.upload_too_large(data):
            common.show_error(
                InputError(
                    "input.too_large",
                    f"the file is {len(data) / 1e6:.1f} MB; the app accepts up to "
                    f"{common.MAX_UPLOAD_MB} MB (use `riskcalc assess` for larger records)",
                ),
                "The record could not be opened",
            )
            return None
    patient_id: str | None = None
    try:
        try:
            history = _read(data, None, label)
        except InputError as exc:
            if exc.code != "input.several_patients":
                raise
            ids = _patient_ids(data, label)
            patient_id = st.sidebar.selectbox("Patient in this file", ids, key="patient_pick")
            history = _read(data, patient_id, label)
    except RiskCalcError as exc:
        common.show_error(exc, "The record could not be opened")
        return None
    return history, f"{common.digest(data)}:{patient_id or ''}"


def _what_if_controls(history: PatientHistory, pkey: str, as_of: dt.date) -> WhatIf:
    """Sidebar: switch episodes off, re-grade them, add blockade or a hypothetical infection.

    Only the episodes the assessment uses are offered: those up to the assessment date, which
    a hypothetical infection moves later (:func:`what_if_as_of`). Its controls come below the
    episodes but are read first, in a container filled afterwards.
    """
    st.sidebar.header("What-if (hypothetical)")
    st.sidebar.caption(
        "Changes here are model-based hypotheticals, not observations. IL-6 blockade as a way "
        "to prevent awakening is a mouse-model finding, not clinical evidence."
    )
    episodes_box = st.sidebar.container()
    hypothetical = _hypothetical_control(history, pkey, as_of)
    used_as_of = what_if_as_of(as_of, WhatIf(hypothetical_infection=hypothetical))
    with episodes_box:
        disabled, overrides, blockade = _episode_controls(history, pkey, used_as_of)
    return WhatIf(
        disabled_episodes=frozenset(disabled),
        severity_overrides=overrides,
        blockade_episodes=frozenset(blockade),
        hypothetical_infection=hypothetical,
    )


def _episode_controls(
    history: PatientHistory, pkey: str, as_of: dt.date
) -> tuple[set[int], dict[int, Severity], set[int]]:
    """The recorded episodes up to ``as_of``: happened, severity, IL-6 blockade (indexes into
    ``history.infections``, as :class:`WhatIf` takes them). Later ones are listed, not offered."""
    disabled: set[int] = set()
    overrides: dict[int, Severity] = {}
    blockade: set[int] = set()
    used = used_episodes(history, as_of=as_of)
    later = [e for i, e in enumerate(history.infections) if i not in used]
    if not used:
        st.caption("No infection episode in the record up to the assessment date.")
    else:
        with st.expander(f"Recorded episodes ({len(used)})", expanded=len(used) <= 4):
            for i in used:
                e = history.infections[i]
                name = PATHOGEN_LABELS[e.pathogen.value]
                st.markdown(f"**{name}**, {e.onset.isoformat()}")
                include = st.checkbox("Happened", value=True, key=f"{pkey}:on:{i}")
                if not include:
                    disabled.add(i)
                severity = st.selectbox(
                    "Severity",
                    SEVERITIES,
                    index=SEVERITIES.index(e.severity.value),
                    key=f"{pkey}:sev:{i}",
                    disabled=not include,
                    label_visibility="collapsed",
                )
                if severity != e.severity.value:
                    overrides[i] = Severity(severity)
                block = st.checkbox(
                    "Covered by IL-6 blockade",
                    value=e.il6_blockade,
                    key=f"{pkey}:blk:{i}",
                    disabled=not include or e.il6_blockade,
                    help="As if IL-6 blockade had covered this episode (mouse-model evidence only)",
                )
                if block and not e.il6_blockade:
                    blockade.add(i)
    if later:
        listed = ", ".join(
            f"{PATHOGEN_LABELS[e.pathogen.value]} {e.onset.isoformat()}" for e in later
        )
        st.caption(f"After the assessment date, not used: {listed}.")
    return disabled, overrides, blockade


def _hypothetical_control(
    history: PatientHistory, pkey: str, as_of: dt.date
) -> HypotheticalInfection | None:
    """Sidebar: a hypothetical infection after the assessment date (none after death)."""
    if history.deceased_date is not None and history.deceased_date <= as_of:
        st.sidebar.caption(
            f"The patient died on {history.deceased_date.isoformat()}: no later infection can "
            "be added."
        )
        return None
    if not st.sidebar.checkbox("Add a hypothetical future infection", key=f"{pkey}:add"):
        return None
    onset = st.sidebar.date_input(
        "Onset",
        value=as_of + dt.timedelta(days=90),
        min_value=as_of + dt.timedelta(days=1),
        key=f"{pkey}:add_date",
    )
    pathogen = st.sidebar.selectbox(
        "Pathogen",
        PATHOGENS,
        format_func=lambda p: PATHOGEN_LABELS[p],
        key=f"{pkey}:add_pathogen",
    )
    severity = st.sidebar.selectbox("Severity", SEVERITIES, key=f"{pkey}:add_severity")
    block = st.sidebar.checkbox("Covered by IL-6 blockade", key=f"{pkey}:add_blockade")
    return HypotheticalInfection(
        onset=onset,
        pathogen=Pathogen(pathogen),
        severity=Severity(severity),
        il6_blockade=block,
    )


def _header(history: PatientHistory, as_of: dt.date) -> None:
    st.subheader(f"Patient {history.patient_id}")
    st.markdown(
        " · ".join(header_parts(history, as_of=as_of))
        + f" · assessed as of **{as_of.isoformat()}**"
    )


def _risk_section(
    report: RiskReport | None,
    hypo_report: RiskReport | None,
    curves: pd.DataFrame,
    model_error: RiskCalcError | None,
) -> None:
    st.markdown("#### Calibrated risk of metastatic relapse or cancer death")
    if report is None:
        if model_error is not None:
            common.show_error(model_error, "No calibrated risk can be shown")
        return
    if report.status is ReportStatus.NOT_APPLICABLE or report.risk is None:
        st.warning(f"No estimate for this patient: {report.not_applicable_reason}")
        return
    risk = report.risk
    shown = hypo_report if hypo_report is not None and hypo_report.risk is not None else report
    assert shown.risk is not None
    level = round(risk.interval_level * 100)
    col_num, col_icons, col_curve = st.columns([1.1, 1.2, 1.5])
    with col_num:
        st.metric(
            f"Within {risk.horizon_months} months · recorded history",
            percent(risk.probability),
            help=f"{level}% interval; method: {risk.interval_method}",
        )
        st.caption(f"{level}% interval {interval_text(risk.interval_low, risk.interval_high)}")
        if hypo_report is not None:
            if hypo_report.risk is None:
                st.warning(f"Hypothetical: no estimate ({hypo_report.not_applicable_reason})")
            else:
                h = hypo_report.risk
                delta_pp = (h.probability - risk.probability) * 100
                changed = abs(delta_pp) >= 0.05
                st.metric(
                    "Hypothetical (what-if)",
                    percent(h.probability),
                    delta=f"{delta_pp:+.1f} percentage points" if changed else "no change",
                    delta_color="inverse" if changed else "off",
                )
                st.caption(f"{level}% interval {interval_text(h.interval_low, h.interval_high)}")
        counts = icon_counts(
            shown.risk.probability, shown.risk.interval_low, shown.risk.interval_high
        )
        st.markdown(out_of_100_text(counts, shown.risk.horizon_months))
    with col_icons:
        title = "hypothetical" if shown is hypo_report else "recorded history"
        st.markdown(f"**Out of 100 people like this patient** ({title})")
        st.altair_chart(charts.icon_array_chart(counts), width="stretch", height=charts.ICONS_PX)
    with col_curve:
        if not curves.empty:
            st.altair_chart(
                charts.risk_curve_chart(curves, risk.horizon_months),
                width="stretch",
                height=charts.CURVE_PX,
            )


def _contributions_frame(results: dict[str, awakening.AwakeningResult]) -> pd.DataFrame:
    rows = [
        {
            "episode": f"{c.onset.isoformat()} {PATHOGEN_LABELS[c.pathogen.value]} "
            f"({c.severity.value})",
            "contribution": c.contribution,
            "series": series,
            "il6": c.il6_peak_pg_ml,
            "il6_source": "assumed (class default)" if c.il6_assumed else "measured",
        }
        for series, result in results.items()
        for c in result.contributions
    ]
    return pd.DataFrame(rows, columns=["episode", "contribution", "series", "il6", "il6_source"])


def _awakening_metrics(results: dict[str, awakening.AwakeningResult], as_of: dt.date) -> None:
    """The score, background and multiplier of the recorded history, and of the hypothetical
    one during a what-if, each labelled as the risk figures are."""
    recorded = results[charts.RECORDED]
    a, b, c = st.columns(3)
    a.metric("Awakening score (exploratory) · recorded history", f"{recorded.score:.2f}")
    b.metric("Without any infection", f"{recorded.background:.2f}")
    c.metric(
        "Hazard multiplier (exploratory) · recorded history",
        f"×{recorded.hazard_multiplier:.2f}",
    )
    hypo = results.get(charts.HYPOTHETICAL)
    if hypo is not None:
        a, _, c = st.columns(3)
        a.metric(
            "Awakening score · hypothetical (what-if)",
            f"{hypo.score:.2f}",
            delta=_change(hypo.score - recorded.score, "{:+.2f}"),
            delta_color="inverse" if abs(hypo.score - recorded.score) >= 0.005 else "off",
        )
        change = hypo.hazard_multiplier - recorded.hazard_multiplier
        c.metric(
            "Hazard multiplier · hypothetical (what-if)",
            f"×{hypo.hazard_multiplier:.2f}",
            delta=_change(change, "{:+.2f}"),
            delta_color="inverse" if abs(change) >= 0.005 else "off",
        )
    died = (
        f" On {recorded.as_of.isoformat()}, the date of death: the index stops there."
        if recorded.as_of < as_of
        else ""
    )
    st.caption(
        "1.0 = the awakening one typical mild infection leaves 90 days after it. A hypothesis-"
        "driven index from mouse experiments and observational cohorts, shown apart from the "
        f"calibrated risk; not a validated human risk model.{died}"
    )


def _change(delta: float, form: str) -> str:
    return form.format(delta) if abs(delta) >= 0.005 else "no change"


def _trajectory_frame(results: dict[str, awakening.AwakeningResult]) -> pd.DataFrame:
    """Each result's course from the at-risk start to its date (the end of the record)."""
    frames = []
    for series, result in results.items():
        step = max(1, (result.as_of - result.at_risk_start).days // 400)
        t = result.trajectory(step_days=step)
        frames.append(
            pd.DataFrame(
                {
                    "date": pd.to_datetime(t.dates),
                    "score": t.score,
                    "background": t.background,
                    "series": series,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _timeline_tab(
    shown: PatientHistory,
    hypothetical: bool,
    as_of: dt.date,
    results: dict[str, awakening.AwakeningResult],
    unavailable: str | None,
) -> None:
    window: TimelineWindow = timeline_window(shown, as_of=as_of)
    if unavailable is not None:
        st.info(f"No awakening index: {unavailable}.")
    else:
        _awakening_metrics(results, as_of)
    st.altair_chart(
        charts.timeline_chart(
            timeline_rows_in(shown, window), start=window.start, end=window.axis_end
        ),
        width="stretch",
        height=charts.TIMELINE_PX,
    )
    if unavailable is None:
        st.altair_chart(
            charts.trajectory_chart(
                _trajectory_frame(results), start=window.start, end=window.axis_end
            ),
            width="stretch",
            height=charts.TRAJECTORY_PX,
        )
    died = (
        f"The record ends on {window.end.isoformat()}, the date of death. "
        if window.end < as_of
        else ""
    )
    st.caption(
        died
        + (
            "Timeline of the hypothetical record (hypothetical episodes are diamonds). "
            if hypothetical
            else ""
        )
        + "Point size is severity; orange numbers are measured IL-6 peaks (pg/mL); + and − "
        "are positive and negative virus tests; grey bars are the cancer and its treatments; "
        "ticks are vaccinations. Nothing dated after the assessment date is drawn."
    )


def _tabs(
    history: PatientHistory,
    shown: PatientHistory,
    hypothetical: bool,
    as_of: dt.date,
    report: RiskReport | None,
    results: dict[str, awakening.AwakeningResult],
    unavailable: str | None,
) -> None:
    tabs = st.tabs(
        [
            "Timeline & awakening",
            "Episode contributions",
            "Drivers",
            "Model hypotheticals",
            "Warnings",
            "Basis",
            "Sensitivity",
            "How to read this",
        ]
    )
    with tabs[0]:
        _timeline_tab(shown, hypothetical, as_of, results, unavailable)
    with tabs[1]:
        _contributions_tab(results, unavailable)
    with tabs[2]:
        _drivers_tab(report)
    with tabs[3]:
        _hypotheticals_tab(report)
    with tabs[4]:
        issues = list(report.warnings) if report is not None else list(history.warnings)
        if charts.RECORDED in results:
            issues += [i for i in results[charts.RECORDED].issues if i not in issues]
        if not issues:
            st.success("No data-quality warning.")
        else:
            st.dataframe(
                pd.DataFrame([i.model_dump() for i in issues]),
                hide_index=True,
                width="stretch",
                column_config={"code": "Code", "message": "Warning", "source": "Resource"},
            )
    with tabs[5]:
        _basis_tab(history, as_of)
    with tabs[6]:
        _sensitivity_tab(history, results, unavailable)
    with tabs[7]:
        _how_to_read(report)


def _contributions_tab(
    results: dict[str, awakening.AwakeningResult], unavailable: str | None
) -> None:
    if unavailable is not None:
        st.info(f"No awakening index: {unavailable}.")
        return
    frame = _contributions_frame(results)
    if frame.empty:
        st.info("No infection episode: the score is the background escape only.")
        return
    _chart_and_table(
        charts.contributions_chart(frame),
        frame,
        {
            "episode": "Episode",
            "contribution": st.column_config.NumberColumn(
                "Added to the awakening score (score units)", format="%.2f"
            ),
            "series": "Record",
            "il6": st.column_config.NumberColumn("IL-6 peak used (pg/mL)", format="%.0f"),
            "il6_source": "IL-6 peak",
        },
    )


def _chart_and_table(chart: Any, frame: pd.DataFrame, columns: dict[str, Any]) -> None:
    """A chart of one row per bar, then its numbers as a table with readable headers."""
    st.altair_chart(chart, width="stretch", height=charts.rows_px(len(frame)))
    st.dataframe(frame, hide_index=True, column_config=columns)


def _drivers_tab(report: RiskReport | None) -> None:
    if report is None or not report.drivers:
        st.info("No drivers: the calibrated model gave no estimate, or no input moves it.")
        return
    drivers = pd.DataFrame([asdict(r) for r in driver_rows(report.drivers)])
    st.markdown(
        "How much each recorded input moves this patient's risk: the change in percentage "
        "points if that input were absent (recorded history)."
    )
    _chart_and_table(
        charts.drivers_chart(drivers),
        drivers,
        {
            "label": "Input",
            "value": "Value",
            "effect_pp": st.column_config.NumberColumn(
                "Change in risk (percentage points)", format="%+.2f"
            ),
            "direction": "Effect on the risk",
        },
    )


def _hypotheticals_tab(report: RiskReport | None) -> None:
    st.markdown(
        "**Hypothetical** — the model's answer for the same patient with one thing changed. "
        "Not observations; IL-6 blockade is mouse-model evidence only and this is not a "
        "treatment recommendation."
    )
    if report is None or not report.counterfactuals:
        st.info("No model hypotheticals (no infection recorded, or no estimate).")
        return
    st.dataframe(
        pd.DataFrame([asdict(r) for r in counterfactual_rows(report.counterfactuals)]),
        hide_index=True,
        column_config={
            "label": "Hypothetical",
            "risk": "Risk",
            "delta_pp": st.column_config.NumberColumn(
                "Change in risk (percentage points)", format="%+.1f"
            ),
            "awakening_score": st.column_config.NumberColumn(
                "Awakening score (exploratory)", format="%.2f"
            ),
        },
    )


def _basis_tab(history: PatientHistory, as_of: dt.date) -> None:
    basis = pd.DataFrame([asdict(r) for r in basis_rows(history, as_of=as_of)])
    st.markdown(
        f"Every record the assessment as of {as_of.isoformat()} used "
        f"({len(history.basis_until(as_of))} resources: those dated on or before it, and the "
        "undated), with its date and what it was used as, so that the basis can be checked "
        "in the chart."
    )
    st.dataframe(
        basis,
        hide_index=True,
        width="stretch",
        column_config={
            "reference": "Resource",
            "resource_type": "Type",
            "used_as": "Used as",
            "date": st.column_config.DateColumn("Date of the record it fed"),
            "detail": "Detail",
        },
    )


def _sensitivity_tab(
    history: PatientHistory, results: dict[str, awakening.AwakeningResult], unavailable: str | None
) -> None:
    if unavailable is not None:
        st.info(f"No awakening index: {unavailable}.")
        return
    end = results[charts.RECORDED].as_of  # the end of the record: the date of death, if earlier
    swings = [r for r in awakening.sensitivity(history, as_of=end) if r.swing > 0]
    if not swings:
        return
    frame = pd.DataFrame([asdict(r) for r in swings])
    frame["score_min"] = frame[["score_low", "score_high"]].min(axis=1)
    frame["score_max"] = frame[["score_low", "score_high"]].max(axis=1)
    st.markdown(
        "How the awakening score (recorded history) moves when each uncertain parameter "
        "of the mechanistic model moves across its plausible range (dashed: baseline; "
        "parameters that do not move it are left out)."
    )
    st.altair_chart(
        charts.tornado_chart(frame, swings[0].baseline_score),
        width="stretch",
        height=charts.rows_px(len(frame)),
    )


def _how_to_read(report: RiskReport | None) -> None:
    method = report.risk.interval_method if report is not None and report.risk else "n/a"
    st.markdown(
        f"""
- **Calibrated risk**: the probability of a metastatic relapse or death from the cancer within
  the horizon, from a calibrated statistical model. The interval shows its uncertainty
  (method: {method}). The model card (Model card page) shows how it was trained and validated.
- **Out of 100**: the same number as people: dark icons relapse at the low end of the interval,
  mid icons at the best estimate, light icons only at the high end.
- **Awakening score**: an exploratory, mechanistic index of how much the recorded infections may
  have awakened dormant cancer cells (Chia et al., *Nature* 2025: mouse experiments; UK Biobank
  and Flatiron cohorts). It is not a validated human risk model.
- **What-if**: results of changed records are model-based hypotheticals, never observations. The
  app does not recommend any treatment; IL-6 blockade is a mouse-model finding.
- **Basis**: every record used, with its date, so the result can be reviewed independently.
"""
    )


def main() -> None:
    model, model_error = common.model_or_error()
    opened = _open_patient()
    if opened is None:
        return
    history, pkey = opened
    st.sidebar.header("Assessment")
    as_of = st.sidebar.date_input(
        "Assessment date",
        value=dt.date.today(),
        # Streamlit's default minimum is ten years back: too recent to review older records
        # (a death in 2005) or tests that need a date before a record.
        min_value=EARLIEST_AS_OF,
        max_value=dt.date.today(),
        key="as_of",
    )
    horizon: int | None = None
    if model is not None:
        horizons = list(model.horizons_months)
        horizon = st.sidebar.selectbox(
            "Horizon (months)",
            horizons,
            index=horizons.index(model.default_horizon_months),
            key="horizon",
        )
    what_if = _what_if_controls(history, pkey, as_of)
    used_as_of = what_if_as_of(as_of, what_if)
    _header(history, used_as_of)
    # The awakening index runs from the at-risk start to the end of the record (death stops it).
    unavailable = awakening_unavailable_reason(history, as_of=used_as_of)
    end = record_end(history, used_as_of)
    try:
        shown = apply_what_if(history, what_if)
        report, hypo_report, curves = _assess(history, shown, what_if, used_as_of, horizon, model)
        results: dict[str, awakening.AwakeningResult] = {}
        if unavailable is None:
            results[charts.RECORDED] = awakening.score(history, as_of=end)
            if not what_if.is_empty:
                results[charts.HYPOTHETICAL] = awakening.score(shown, as_of=end)
    except RiskCalcError as exc:
        common.show_error(exc, "The assessment failed")
        return
    if not what_if.is_empty:
        moved = (
            f" Both are assessed on {used_as_of.isoformat()}, {HYPOTHETICAL_ASSESSMENT_LAG_DAYS} "
            "days after the hypothetical infection."
            if used_as_of != as_of
            else ""
        )
        changes = "; ".join(describe_what_if(history, what_if))
        st.info(
            f"**Hypothetical (what-if)** — model-based, not an observation: {changes}.{moved}",
            icon=":material/science:",
        )
    _risk_section(report, hypo_report, curves, model_error)
    st.markdown("#### Infection history and the awakening index")
    _tabs(history, shown, not what_if.is_empty, used_as_of, report, results, unavailable)


@st.cache_data(max_entries=64, show_spinner="Assessing…")
def _assessed(
    history_json: str, as_of: dt.date, horizon: int | None, model_sha: str | None, detail: bool
) -> tuple[RiskReport, list[tuple[int, float, float, float]]]:
    """The report and the risk curve of one history (cached per history, date, horizon and
    model hash: the recorded result is not recomputed while only the what-if changes).
    ``detail`` adds drivers and the model's own hypotheticals (shown for the recorded history
    only)."""
    model, error = common.model_or_error()
    if model is None:
        raise error or RuntimeError("no model")
    history = PatientHistory.model_validate_json(history_json)
    (report,) = assess_histories(
        [history], as_of=as_of, horizon_months=horizon, model=model, detail=detail
    )
    return report, risk_curve(history, as_of=as_of, model=model)


def _assess(
    history: PatientHistory,
    shown: PatientHistory,
    what_if: WhatIf,
    as_of: dt.date,
    horizon: int | None,
    model: RiskModel | None,
) -> tuple[RiskReport | None, RiskReport | None, pd.DataFrame]:
    columns = ["horizon_months", "probability", "low", "high", "series"]
    if model is None:
        return None, None, pd.DataFrame(columns=columns)
    sha = model.info.sha256
    report, points = _assessed(history.model_dump_json(), as_of, horizon, sha, True)
    curve = [(*p, charts.RECORDED) for p in points]
    hypo_report = None
    if not what_if.is_empty:
        hypo_report, points = _assessed(shown.model_dump_json(), as_of, horizon, sha, False)
        curve += [(*p, charts.HYPOTHETICAL) for p in points]
    return report, hypo_report, pd.DataFrame(curve, columns=columns)


main()
