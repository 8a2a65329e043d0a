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

from riskcalc.report.views import LANES, IconCounts, TimelineRow, icon_grid

PATHOGEN_COLOURS = {
    "COVID-19": "#e45756",
    "Influenza": "#4c78a8",
    "RSV": "#54a24b",
    "Other viral": "#b279a2",
}
NEUTRAL = "#8c8c8c"  # mid grey: visible on light and dark backgrounds
SEVERITY_SIZE = {"mild": 90, "hospitalised": 260, "critical": 520}
RECORDED = "Recorded"
HYPOTHETICAL = "Hypothetical (what-if)"
SERIES_COLOURS = alt.Scale(domain=[RECORDED, HYPOTHETICAL], range=["#4c78a8", "#f58518"])
ICON_SHADES = alt.Scale(
    domain=["certain", "likely", "possible", "free"],
    range=["#c0392b", "#e8756a", "#f2b8b0", NEUTRAL],
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


#: Heights (px) the app passes to st.altair_chart: Streamlit's "content" height squeezes
#: layered charts with bottom legends.
TIMELINE_PX = 340
TRAJECTORY_PX = 300
ICONS_PX = 360
CURVE_PX = 360


def rows_px(n: int) -> int:
    """Height for a bar chart of ``n`` rows (with its axis and legend)."""
    return 90 + 26 * max(n, 1)


#: Width reserved for y-axis labels, px: the same in the timeline and the trajectory, so that
#: their plotting areas (and dates) line up one above the other.
Y_AXIS_PX = 110


def _x(field: str, start: dt.date, end: dt.date, title: str | None) -> alt.X:
    domain = [pd.Timestamp(start).isoformat(), pd.Timestamp(end).isoformat()]
    return alt.X(
        f"{field}:T",
        scale=alt.Scale(domain=domain),
        title=title,
        axis=alt.Axis(format="%Y", tickCount="year", labelOverlap=True),
    )


def timeline_chart(rows: Sequence[TimelineRow], *, start: dt.date, end: dt.date) -> alt.LayerChart:
    """The infection timeline: cancer, treatments, episodes, IL-6 peaks, virus tests (+ positive,
    − negative), vaccinations.

    Drawn on the same date axis and with the same axis width as :func:`trajectory_chart`, so
    the two line up when shown one above the other.
    """
    frame = pd.DataFrame([asdict(r) for r in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=list(TimelineRow.__dataclass_fields__))
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    lane_y = alt.Y(
        "lane:N",
        sort=list(LANES),
        title=None,
        scale=alt.Scale(domain=list(LANES)),
        axis=alt.Axis(minExtent=Y_AXIS_PX, maxExtent=Y_AXIS_PX),
    )
    x = _x("start", start, end, None)
    tooltip = [
        alt.Tooltip("label:N", title="Record"),
        alt.Tooltip("start:T", title="From"),
        alt.Tooltip("end:T", title="To"),
        alt.Tooltip("detail:N", title="Detail"),
    ]
    pathogen_scale = alt.Scale(domain=list(PATHOGEN_COLOURS), range=list(PATHOGEN_COLOURS.values()))
    base = alt.Chart(frame)
    is_span = alt.FieldOneOfPredicate("lane", ["Cancer", "Treatment"])
    spans = (
        base.transform_filter(is_span)
        .mark_bar(height=12, opacity=0.5, color=NEUTRAL, cornerRadius=3, clip=True)
        .encode(x=x, x2="end:T", y=lane_y, tooltip=tooltip)
    )
    span_starts = (
        base.transform_filter(is_span)
        .mark_tick(thickness=3, size=16, color=NEUTRAL, clip=True)
        .encode(x=x, y=lane_y, tooltip=tooltip)
    )
    infections = (
        base.transform_filter(alt.datum.lane == "Infection")
        .transform_calculate(kind="datum.hypothetical ? 'hypothetical' : 'recorded'")
        .mark_point(filled=True, opacity=0.9, clip=True)
        .encode(
            x=x,
            y=lane_y,
            color=alt.Color(
                "category:N",
                title="Pathogen",
                scale=pathogen_scale,
                legend=alt.Legend(orient="bottom"),
            ),
            size=alt.Size(
                "severity:N",
                title="Severity",
                scale=alt.Scale(domain=list(SEVERITY_SIZE), range=list(SEVERITY_SIZE.values())),
                legend=alt.Legend(
                    orient="bottom", symbolFillColor=NEUTRAL, symbolStrokeColor=NEUTRAL
                ),
            ),
            shape=alt.Shape(
                "kind:N",
                scale=alt.Scale(domain=["recorded", "hypothetical"], range=["circle", "diamond"]),
                legend=None,
            ),
            tooltip=tooltip,
        )
    )
    il6 = (
        base.transform_filter(alt.datum.lane == "IL-6 measured")
        .mark_text(fontSize=12, fontWeight="bold", color="#e8a33d", clip=True)
        .encode(x=x, y=lane_y, text="label:N", tooltip=tooltip)
    )
    tests = (
        base.transform_filter(alt.datum.lane == "Virus test")
        .transform_calculate(sign="datum.detail == 'positive' ? '+' : '\u2212'")
        .mark_text(fontSize=16, fontWeight="bold", clip=True)
        .encode(
            x=x,
            y=lane_y,
            text="sign:N",
            color=alt.Color("category:N", scale=pathogen_scale, legend=None),
            tooltip=tooltip,
        )
    )
    vaccines = (
        base.transform_filter(alt.datum.lane == "Vaccination")
        .mark_tick(thickness=2, size=14, clip=True)
        .encode(
            x=x,
            y=lane_y,
            color=alt.Color("category:N", scale=pathogen_scale, legend=None),
            tooltip=tooltip,
        )
    )
    return (
        alt.layer(spans, span_starts, infections, il6, tests, vaccines)
        .properties(height=230, title="Infection timeline")
        .configure_view(strokeWidth=0)
    )


def trajectory_chart(trajectory: pd.DataFrame, *, start: dt.date, end: dt.date) -> alt.LayerChart:
    """The cumulative awakening score over the same dates as :func:`timeline_chart`.

    ``trajectory`` has columns ``date``, ``score``, ``background`` and ``series``
    (recorded / hypothetical).
    """
    traj = trajectory.copy()
    traj["date"] = pd.to_datetime(traj["date"])
    x = _x("date", start, end, "Date")
    y_axis = alt.Axis(minExtent=Y_AXIS_PX, maxExtent=Y_AXIS_PX)
    line = (
        alt.Chart(traj)
        .mark_line(strokeWidth=2, clip=True)
        .encode(
            x=x,
            y=alt.Y("score:Q", title=None, axis=y_axis),
            color=alt.Color(
                "series:N", scale=SERIES_COLOURS, title=None, legend=alt.Legend(orient="bottom")
            ),
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
        .mark_line(strokeDash=[2, 2], color=NEUTRAL, clip=True)
        .encode(x=x, y=alt.Y("background:Q", axis=y_axis))
    )
    return (
        alt.layer(background, line)
        .properties(
            height=220,
            title="Cumulative awakening score (exploratory; dotted: without any infection)",
        )
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
                    columns=1,
                    labelLimit=400,
                    labelExpr=(
                        "{'certain': 'relapse even at the low end', 'likely': "
                        "'relapse at the best estimate', 'possible': 'relapse only at the "
                        "high end', 'free': 'no relapse'}[datum.label]"
                    ),
                ),
            ),
            tooltip=[alt.Tooltip("meaning:N", title="This person")],
        )
        .properties(height=250)
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
            color=alt.Color(
                "series:N", scale=SERIES_COLOURS, title=None, legend=alt.Legend(orient="bottom")
            ),
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
        .mark_rule(strokeDash=[4, 4], color=NEUTRAL)
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
            y=alt.Y("episode:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),
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
            y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),
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
            y=alt.Y("parameter:N", sort=None, title=None, axis=alt.Axis(labelLimit=320)),
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
        .mark_rule(strokeDash=[4, 4], color=NEUTRAL)
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
