"""Altair charts of rows the library computed. Drawing only.

Colours are mid-luminance hues that read on both light and dark backgrounds; text colours are
left to Streamlit's theme (never hard-coded), so axes and labels follow light and dark mode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict

import altair as alt
import pandas as pd

from riskcalc.report._views import LANES, IconCounts, TimelineRow, icon_grid

PATHOGEN_COLOURS = {
    "COVID-19": "#e45756",
    "Influenza": "#4c78a8",
    "RSV": "#54a24b",
    "Other viral respiratory infection": "#b279a2",
}
SEVERITY_SIZE = {"mild": 90, "hospitalised": 260, "critical": 520}
RECORDED = "Recorded"
HYPOTHETICAL = "Hypothetical (what-if)"
SERIES_COLOURS = alt.Scale(domain=[RECORDED, HYPOTHETICAL], range=["#4c78a8", "#f58518"])
ICON_SHADES = alt.Scale(
    domain=["certain", "likely", "possible", "free"],
    range=["#c0392b", "#e8756a", "#f2b8b0", "#8c8c8c"],
)
ICON_LABELS = {
    "certain": "relapse, even at the low end",
    "likely": "relapse, at the best estimate",
    "possible": "relapse, only at the high end",
    "free": "no relapse",
}
# A person: head and body, in Vega's [-1, 1] shape space.
PERSON = (
    "M0,-1 A0.28,0.28 0 1,1 0,-0.44 A0.28,0.28 0 1,1 0,-1 Z "
    "M-0.5,-0.36 L0.5,-0.36 L0.5,0.3 L0.3,0.3 L0.3,1 L-0.3,1 L-0.3,0.3 L-0.5,0.3 Z"
)


def timeline_chart(
    rows: Sequence[TimelineRow],
    trajectory: pd.DataFrame,
    *,
    start: dt.date,
    end: dt.date,
) -> alt.VConcatChart:
    """The infection timeline above the awakening trajectory, on one shared date axis.

    ``trajectory`` has columns ``date``, ``score``, ``background`` and ``series``
    (recorded / hypothetical).
    """
    domain = [pd.Timestamp(start).isoformat(), pd.Timestamp(end).isoformat()]
    x_scale = alt.Scale(domain=domain)
    frame = pd.DataFrame([asdict(r) for r in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=[f for f in TimelineRow.__dataclass_fields__])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    lane_y = alt.Y("lane:N", sort=list(LANES), title=None, scale=alt.Scale(domain=list(LANES)))
    x = alt.X("start:T", scale=x_scale, title=None)
    tooltip = [
        alt.Tooltip("label:N", title="Record"),
        alt.Tooltip("start:T", title="From"),
        alt.Tooltip("end:T", title="To"),
        alt.Tooltip("detail:N", title="Detail"),
    ]
    base = alt.Chart(frame)
    spans = (
        base.transform_filter(alt.FieldOneOfPredicate("lane", ["Cancer", "Treatment"]))
        .mark_bar(height=12, opacity=0.55, color="#8c8c8c", cornerRadius=3)
        .encode(x=x, x2="end:T", y=lane_y, tooltip=tooltip)
    )
    infections = (
        base.transform_filter(alt.datum.lane == "Infection")
        .mark_point(filled=True, opacity=0.9, stroke="#8c8c8c", strokeWidth=0.5)
        .encode(
            x=x,
            y=lane_y,
            color=alt.Color(
                "category:N",
                title="Pathogen",
                scale=alt.Scale(
                    domain=list(PATHOGEN_COLOURS), range=list(PATHOGEN_COLOURS.values())
                ),
            ),
            size=alt.Size(
                "severity:N",
                title="Severity",
                scale=alt.Scale(domain=list(SEVERITY_SIZE), range=list(SEVERITY_SIZE.values())),
            ),
            shape=alt.Shape(
                "kind:N",
                title="Episode",
                scale=alt.Scale(domain=["recorded", "hypothetical"], range=["circle", "diamond"]),
            ),
            tooltip=tooltip,
        )
        .transform_calculate(kind="datum.hypothetical ? 'hypothetical' : 'recorded'")
    )
    il6 = (
        base.transform_filter(alt.datum.lane == "IL-6 measured")
        .mark_text(fontSize=11, fontWeight="bold", color="#e8a33d")
        .encode(x=x, y=lane_y, text="label:N", tooltip=tooltip)
    )
    vaccines = (
        base.transform_filter(alt.datum.lane == "Vaccination")
        .mark_tick(thickness=2, size=14)
        .encode(
            x=x,
            y=lane_y,
            color=alt.Color(
                "category:N",
                scale=alt.Scale(
                    domain=list(PATHOGEN_COLOURS), range=list(PATHOGEN_COLOURS.values())
                ),
                legend=None,
            ),
            tooltip=tooltip,
        )
    )
    top = alt.layer(spans, infections, il6, vaccines).properties(
        height=190, title="Infection timeline"
    )
    traj = trajectory.copy()
    traj["date"] = pd.to_datetime(traj["date"])
    line = (
        alt.Chart(traj)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("date:T", scale=x_scale, title="Date"),
            y=alt.Y("score:Q", title="Awakening score"),
            color=alt.Color("series:N", scale=SERIES_COLOURS, title=None),
            strokeDash=alt.StrokeDash(
                "series:N",
                scale=alt.Scale(domain=[RECORDED, HYPOTHETICAL], range=[[1, 0], [6, 3]]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("date:T"),
                alt.Tooltip("score:Q", format=".2f"),
                alt.Tooltip("series:N"),
            ],
        )
    )
    background = (
        alt.Chart(traj[traj["series"] == RECORDED])
        .mark_line(strokeDash=[2, 2], color="#8c8c8c")
        .encode(x=alt.X("date:T", scale=x_scale), y="background:Q")
    )
    bottom = alt.layer(background, line).properties(
        height=200,
        title="Cumulative awakening score (exploratory; dotted: without any infection)",
    )
    return (
        alt.vconcat(top, bottom, spacing=8)
        .resolve_scale(x="shared", color="independent", size="independent")
        .configure_view(strokeWidth=0)
    )


def icon_array_chart(counts: IconCounts) -> alt.Chart:
    """100 people like this patient, coloured by whether they relapse (fuzzy at the interval)."""
    frame = pd.DataFrame(icon_grid(counts), columns=["column", "row", "shade"])
    frame["meaning"] = frame["shade"].map(ICON_LABELS)
    return (
        alt.Chart(frame)
        .mark_point(shape=PERSON, filled=True, size=230, opacity=1)
        .encode(
            x=alt.X("column:O", axis=None),
            y=alt.Y("row:O", axis=None),
            color=alt.Color(
                "shade:N",
                scale=ICON_SHADES,
                legend=alt.Legend(
                    title=None,
                    orient="bottom",
                    columns=2,
                    labelExpr=(
                        "{'certain': 'relapse even at the low end', 'likely': "
                        "'relapse at the best estimate', 'possible': 'relapse only at the "
                        "high end', 'free': 'no relapse'}[datum.label]"
                    ),
                ),
            ),
            tooltip=[alt.Tooltip("meaning:N", title="This person")],
        )
        .properties(height=260)
        .configure_view(strokeWidth=0)
    )


def risk_curve_chart(curve: pd.DataFrame, horizon_months: int) -> alt.LayerChart:
    """Risk over time: probability with its interval at every horizon the model knows.

    ``curve`` has columns ``horizon_months``, ``probability``, ``low``, ``high``, ``series``.
    """
    data = curve.copy()
    for col in ("probability", "low", "high"):
        data[col] = data[col] * 100
    x = alt.X("horizon_months:Q", title="Months after the assessment date")
    band = (
        alt.Chart(data)
        .mark_area(opacity=0.22)
        .encode(
            x=x,
            y=alt.Y("low:Q", title="Risk (%)"),
            y2="high:Q",
            color=alt.Color("series:N", scale=SERIES_COLOURS, title=None),
        )
    )
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y="probability:Q",
            color=alt.Color("series:N", scale=SERIES_COLOURS, title=None),
            tooltip=[
                alt.Tooltip("series:N"),
                alt.Tooltip("horizon_months:Q", title="Months"),
                alt.Tooltip("probability:Q", title="Risk %", format=".1f"),
                alt.Tooltip("low:Q", title="Low %", format=".1f"),
                alt.Tooltip("high:Q", title="High %", format=".1f"),
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"h": [horizon_months]}))
        .mark_rule(strokeDash=[4, 4], color="#8c8c8c")
        .encode(x="h:Q")
    )
    return alt.layer(band, line, rule).properties(height=260, title="Risk over time")


def contributions_chart(frame: pd.DataFrame) -> alt.Chart:
    """What each infection episode added to the awakening score (columns episode, contribution,
    series, il6, il6_source)."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("episode:N", sort=None, title=None),
            x=alt.X("contribution:Q", title="Added to the awakening score (score units)"),
            color=alt.Color("series:N", scale=SERIES_COLOURS, title=None),
            yOffset="series:N",
            tooltip=[
                alt.Tooltip("episode:N"),
                alt.Tooltip("contribution:Q", format=".2f"),
                alt.Tooltip("il6:Q", title="IL-6 peak used (pg/mL)", format=".0f"),
                alt.Tooltip("il6_source:N", title="IL-6 peak"),
            ],
        )
        .properties(height=alt.Step(18))
    )


def drivers_chart(frame: pd.DataFrame) -> alt.Chart:
    """Each input's effect on the probability (columns label, effect_pp, direction)."""
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=None, title=None),
            x=alt.X("effect_pp:Q", title="Change in risk, percentage points"),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(domain=["raises", "lowers"], range=["#e45756", "#54a24b"]),
                title="This input",
            ),
            tooltip=["label:N", alt.Tooltip("effect_pp:Q", format="+.2f"), "value:N"],
        )
        .properties(height=alt.Step(22))
    )


def tornado_chart(frame: pd.DataFrame, baseline: float) -> alt.LayerChart:
    """Sensitivity of the awakening score to each parameter across its plausible range."""
    bars = (
        alt.Chart(frame)
        .mark_bar(color="#4c78a8", opacity=0.8)
        .encode(
            y=alt.Y("parameter:N", sort=None, title=None),
            x=alt.X("score_min:Q", title="Awakening score"),
            x2="score_max:Q",
            tooltip=[
                "parameter:N",
                "unit:N",
                "confidence:N",
                alt.Tooltip("low_value:Q", title="low value"),
                alt.Tooltip("high_value:Q", title="high value"),
                alt.Tooltip("score_low:Q", format=".2f"),
                alt.Tooltip("score_high:Q", format=".2f"),
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"b": [baseline]}))
        .mark_rule(strokeDash=[4, 4], color="#8c8c8c")
        .encode(x="b:Q")
    )
    return alt.layer(bars, rule).properties(height=alt.Step(20))


def distribution_chart(frame: pd.DataFrame) -> alt.Chart:
    """Histogram of the cohort's risk (column probability, 0-1)."""
    data = frame.assign(percent=frame["probability"] * 100)
    return (
        alt.Chart(data)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("percent:Q", bin=alt.Bin(maxbins=30), title="Risk (%)"),
            y=alt.Y("count():Q", title="Patients"),
        )
        .properties(height=240, title="Distribution of risk")
    )
