"""CDS Hooks cards from a :class:`~riskcalc.report.RiskReport`: rendering only, no risk logic.

Three kinds of card, all ``info`` or ``warning`` (never ``critical``: a research tool does not
interrupt a clinician):

- **estimate** (report ``ok``): summary "Relapse risk 12% (8–17%) at 24 months — research use";
  indicator ``warning`` from the configured probability threshold, else ``info``; the detail
  gives the interval, the exploratory awakening index and the infections behind it, the main
  drivers, data-quality notes, the model and its version, and the research-use statement.
- **not applicable**: ``info``, the reason, no number.
- **data problem** (the record could not be read): ``info``, the error's code and message, no
  number.

Cards describe; they never direct. No wording asks anyone to start, give or prescribe anything
(a test checks the rendered text).
"""

from __future__ import annotations

import uuid

from riskcalc._meta import RESEARCH_USE_STATEMENT
from riskcalc.errors import RiskCalcError
from riskcalc.report import ModelInfo, ReportStatus, RiskReport
from riskcalc.report.views import interval_text, percent
from riskcalc.service._schema import Card, Coding, Indicator, Link, Source
from riskcalc.service._settings import ServiceSettings

SUMMARY_MAX_CHARS = 140
MAX_DRIVERS = 3
MAX_EPISODES = 5
MAX_WARNINGS = 5

#: SNOMED CT 225338004 |Risk assessment (procedure)|: the card's topic.
TOPIC = Coding(system="http://snomed.info/sct", code="225338004", display="Risk assessment")

_PATHOGEN_LABEL = {
    "covid19": "COVID-19",
    "influenza": "Influenza",
    "rsv": "RSV",
    "other_viral": "Other viral respiratory infection",
}


def _fit(text: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _source(model: ModelInfo, settings: ServiceSettings) -> Source:
    return Source(
        label=_fit(f"riskcalc model {model.model_id} {model.version}", 100),
        url=settings.app_url,
        topic=TOPIC,
    )


def _links(settings: ServiceSettings) -> tuple[Link, ...]:
    if not settings.app_url:
        return ()
    return (
        Link(
            label="Open the full riskcalc view (research use)",
            url=settings.app_url,
            type=settings.link_type.value,
        ),
    )


def _model_lines(model: ModelInfo, riskcalc_version: str) -> list[str]:
    simulated = " (simulated data)" if model.trained_on_simulated_data else ""
    return [
        f"*Model:* {model.model_id} version {model.version}, trained on {model.trained_on}"
        f"{simulated}; riskcalc {riskcalc_version}.",
        "",
        f"*{RESEARCH_USE_STATEMENT}*",
    ]


def summary_text(report: RiskReport) -> str:
    """The card summary (at most 140 characters)."""
    if report.status is ReportStatus.OK and report.risk is not None:
        r = report.risk
        return _fit(
            f"Relapse risk {percent(r.probability)} "
            f"({interval_text(r.interval_low, r.interval_high)}) "
            f"at {r.horizon_months} months — research use"
        )
    return "Relapse risk not estimated: not applicable to this patient — research use"


def _awakening_lines(report: RiskReport) -> list[str]:
    a = report.awakening
    if a is None:
        return []
    lines = [
        f"**Awakening index (exploratory, {a.preset} preset):** {a.score:.2f} "
        "(1.0 = the effect of one typical mild infection); "
        f"hazard multiplier ×{a.hazard_multiplier:.2f}"
        f"{'' if a.carry_over else '; carry-over between infections off'}.",
    ]
    top = sorted(a.contributions, key=lambda c: c.contribution, reverse=True)[:MAX_EPISODES]
    if top:
        lines.append("")
        lines.append("Infections that contributed most:")
        for c in top:
            il6 = (
                "IL-6 peak not measured, assumed for the severity"
                if c.il6_assumed or c.il6_peak_pg_ml is None
                else f"IL-6 peak {c.il6_peak_pg_ml:.0f} pg/mL"
            )
            label = _PATHOGEN_LABEL.get(c.pathogen.value, c.pathogen.value)
            lines.append(
                f"- {label}, {c.onset.isoformat()}, {c.severity.value}: "
                f"+{c.contribution:.2f} ({il6})"
            )
    return [*lines, ""]


def _driver_lines(report: RiskReport) -> list[str]:
    top = sorted(report.drivers, key=lambda d: abs(d.effect_pp), reverse=True)[:MAX_DRIVERS]
    if not top:
        return []
    lines = ["**Main drivers** (change in the estimate when the input is at its reference):"]
    for d in top:
        value = (
            ""
            if d.value is None
            else f" ({d.value:g})"
            if isinstance(d.value, float)
            else f" ({d.value})"
        )
        lines.append(
            f"- {d.label}{value}: {d.direction} the estimate by "
            f"{abs(d.effect_pp):.1f} percentage points"
        )
    return [*lines, ""]


def _warning_lines(report: RiskReport) -> list[str]:
    if not report.warnings:
        return []
    lines = ["**Data-quality notes:**"]
    lines += [f"- {w.message} ({w.code})" for w in report.warnings[:MAX_WARNINGS]]
    if len(report.warnings) > MAX_WARNINGS:
        lines.append(f"- … and {len(report.warnings) - MAX_WARNINGS} more in the full view")
    return [*lines, ""]


def detail_markdown(report: RiskReport) -> str:
    """The card detail (GitHub-flavoured Markdown)."""
    lines: list[str] = []
    if report.status is ReportStatus.OK and report.risk is not None:
        r = report.risk
        lines += [
            f"**Estimated probability of metastatic relapse or cancer death within "
            f"{r.horizon_months} months: {percent(r.probability)}** "
            f"({r.interval_level:.0%} interval {interval_text(r.interval_low, r.interval_high)}; "
            f"{r.interval_method}). Assessed as of "
            f"{report.as_of.isoformat()}.",
            "",
        ]
        lines += _awakening_lines(report)
        lines += _driver_lines(report)
    else:
        reason = report.not_applicable_reason or "the model does not apply to this record"
        lines += [f"**No estimate:** {reason}", ""]
    lines += _warning_lines(report)
    lines += _model_lines(report.model, report.riskcalc_version)
    return "\n".join(lines)


def render_card(report: RiskReport, settings: ServiceSettings) -> Card:
    """The card for one report (see the module docstring for the three kinds)."""
    indicator = Indicator.INFO
    if (
        report.status is ReportStatus.OK
        and report.risk is not None
        and report.risk.probability >= settings.warning_at_probability
    ):
        indicator = Indicator.WARNING
    return Card(
        uuid=str(uuid.uuid4()),
        summary=summary_text(report),
        indicator=indicator,
        source=_source(report.model, settings),
        detail=detail_markdown(report),
        links=_links(settings),
    )


def data_problem_card(
    error: RiskCalcError, settings: ServiceSettings, *, model: ModelInfo | None = None
) -> Card:
    """An ``info`` card, without any number, saying why the record could not be assessed."""
    from riskcalc._meta import __version__

    where = f" (at {error.location})" if error.location else ""
    detail = [
        f"**No estimate:** the patient's record could not be read for the risk model: "
        f"{error.message}{where} [`{error.code}`].",
        "",
    ]
    if model is not None:
        detail += _model_lines(model, __version__)
        source = _source(model, settings)
    else:
        detail += [f"*riskcalc {__version__}.*", "", f"*{RESEARCH_USE_STATEMENT}*"]
        source = Source(label=f"riskcalc {__version__}", url=settings.app_url, topic=TOPIC)
    return Card(
        uuid=str(uuid.uuid4()),
        summary="Relapse risk not estimated: the record could not be read — research use",
        indicator=Indicator.INFO,
        source=source,
        detail="\n".join(detail),
        links=_links(settings),
    )
