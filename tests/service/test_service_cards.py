"""Card rendering from RiskReport objects: summary, indicator, detail, no directives."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from service_helpers import make_report

from riskcalc._meta import RESEARCH_USE_STATEMENT
from riskcalc.errors import InputError
from riskcalc.report import ReportStatus
from riskcalc.service import LinkType, ServiceSettings, data_problem_card, render_card
from riskcalc.service._cards import percent

SETTINGS = ServiceSettings(dev_no_auth=True, app_url="https://app.example.org/riskcalc")
DIRECTIVE = re.compile(
    r"\b(start|starting|give|giving|prescribe|prescribing|administer|initiate|begin|"
    r"should receive|must receive|recommend(ed|s)?)\b",
    re.IGNORECASE,
)


def _text(card: object) -> str:
    data = card.model_dump(mode="json", exclude_none=True)  # type: ignore[attr-defined]
    # The research-use statement says the tool does *not* recommend treatment: leave it out.
    return " ".join(str(v) for v in _walk(data)).replace(RESEARCH_USE_STATEMENT, "")


def _walk(node: object) -> list[object]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in _walk(v)]
    if isinstance(node, list | tuple):
        return [x for v in node for x in _walk(v)]
    return [node]


def test_summary_example() -> None:
    card = render_card(make_report(probability=0.12, low=0.08, high=0.17), SETTINGS)
    assert card.summary == "Relapse risk 12% (8–17%) at 24 months — research use"


def test_detail_holds_awakening_drivers_warnings_model_and_statement() -> None:
    card = render_card(make_report(), SETTINGS)
    detail = card.detail or ""
    assert "Awakening index" in detail and "2.40" in detail
    assert "COVID-19, 2020-03-12, hospitalised" in detail
    assert (
        "Hospitalised COVID-19 episodes (1): raises the estimate by 4.2 percentage points" in detail
    )
    assert "date.partial" in detail
    assert "relapse-hgb version 0.1.0" in detail and "simulated data" in detail
    assert RESEARCH_USE_STATEMENT in detail
    assert card.source.label == "riskcalc model relapse-hgb 0.1.0"
    assert card.source.topic is not None and card.source.topic.code == "225338004"
    (link,) = card.links
    assert link.type == "absolute" and link.url == SETTINGS.app_url


def test_smart_link_and_no_link_without_app_url() -> None:
    smart = ServiceSettings(
        dev_no_auth=True, app_url="https://app/launch", link_type=LinkType.SMART
    )
    assert render_card(make_report(), smart).links[0].type == "smart"
    assert render_card(make_report(), ServiceSettings(dev_no_auth=True)).links == ()


@pytest.mark.parametrize(
    ("probability", "threshold", "indicator"),
    [(0.12, 0.20, "info"), (0.20, 0.20, "warning"), (0.35, 0.20, "warning"), (0.35, 0.5, "info")],
)
def test_indicator_by_threshold(probability: float, threshold: float, indicator: str) -> None:
    settings = ServiceSettings(dev_no_auth=True, warning_at_probability=threshold)
    report = make_report(probability=probability, low=probability / 2, high=probability)
    assert render_card(report, settings).indicator.value == indicator


def test_not_applicable_card_has_reason_and_no_number() -> None:
    report = make_report(
        status=ReportStatus.NOT_APPLICABLE, reason="no cancer in remission was found in the record"
    )
    card = render_card(report, SETTINGS)
    assert card.indicator.value == "info"
    assert "not applicable" in card.summary
    assert "no cancer in remission" in (card.detail or "")
    assert not re.search(r"\d\s*%", card.summary + (card.detail or ""))
    assert RESEARCH_USE_STATEMENT in (card.detail or "")


def test_data_problem_card_has_no_number() -> None:
    error = InputError("input.no_patient", "the input holds no Patient resource")
    card = data_problem_card(error, SETTINGS)
    assert card.indicator.value == "info"
    assert "input.no_patient" in (card.detail or "")
    assert not re.search(r"\d\s*%", card.summary + (card.detail or ""))
    assert RESEARCH_USE_STATEMENT in (card.detail or "")
    assert not DIRECTIVE.search(_text(card))


@pytest.mark.parametrize(
    ("p", "text"), [(0.0, "<1%"), (0.004, "<1%"), (0.005, "1%"), (0.5, "50%"), (0.996, ">99%")]
)
def test_percent(p: float, text: str) -> None:
    assert percent(p) == text


@given(
    p=st.floats(0, 1),
    spread=st.floats(0, 1),
    horizon=st.integers(1, 10_000),
    threshold=st.floats(0.01, 1),
)
def test_any_report_renders_a_short_summary_and_never_a_directive(
    p: float, spread: float, horizon: int, threshold: float
) -> None:
    low, high = max(0.0, p - spread), min(1.0, p + spread)
    report = make_report(probability=p, low=low, high=high, horizon_months=horizon)
    settings = ServiceSettings(dev_no_auth=True, warning_at_probability=threshold)
    card = render_card(report, settings)
    assert len(card.summary) <= 140
    assert f"at {horizon} months" in card.summary and "research use" in card.summary
    assert card.indicator.value in {"info", "warning"}  # never critical
    assert not DIRECTIVE.search(_text(card)), _text(card)
    assert RESEARCH_USE_STATEMENT in (card.detail or "")
