"""Invariants of the awakening score (hypothesis): the properties listed in issue 3."""

from __future__ import annotations

import datetime as dt

from awakening_builders import START, days, episode, history
from hypothesis import given, settings
from hypothesis import strategies as st

from riskcalc import awakening as aw
from riskcalc.history import InfectionEpisode, Pathogen, Severity

SEVERITIES = [Severity.MILD, Severity.HOSPITALISED, Severity.CRITICAL]
presets = st.sampled_from(["human", "mouse"])
il6 = st.one_of(st.none(), st.floats(min_value=0.0, max_value=5000.0, allow_nan=False))


@st.composite
def episodes(draw: st.DrawFn) -> InfectionEpisode:
    return episode(
        days(draw(st.integers(min_value=-200, max_value=20 * 365))),
        draw(st.sampled_from(list(Pathogen))),
        draw(st.sampled_from(SEVERITIES)),
        il6=draw(il6),
        blockade=draw(st.booleans()),
        steroids=draw(st.booleans()),
    )


histories = st.lists(episodes(), max_size=6)
as_of_days = st.integers(min_value=0, max_value=40 * 365)


def total(eps: list[InfectionEpisode], as_of: int, preset: str) -> float:
    return aw.score(history(*eps), as_of=days(as_of), preset=preset).score


def at_least(new: float, old: float) -> bool:
    # Exact in exact arithmetic; a zero-signal episode splits one slow step in two, which may
    # differ from the unsplit step in the last bits.
    return new >= old * (1 - 1e-12)


@settings(max_examples=150, deadline=None)
@given(as_of=as_of_days, preset=presets)
def test_no_episodes_gives_only_background(as_of: int, preset: str) -> None:
    r = aw.score(history(), as_of=days(as_of), preset=preset)
    assert r.score == r.background and r.hazard_multiplier == 1.0 and r.contributions == ()


@settings(max_examples=150, deadline=None)
@given(eps=histories, extra=episodes(), as_of=as_of_days, preset=presets)
def test_adding_an_episode_never_lowers_the_score(
    eps: list[InfectionEpisode], extra: InfectionEpisode, as_of: int, preset: str
) -> None:
    assert at_least(total([*eps, extra], as_of, preset), total(eps, as_of, preset))


@settings(max_examples=150, deadline=None)
@given(eps=histories, e=episodes(), as_of=as_of_days, preset=presets, data=st.data())
def test_higher_severity_never_lowers_the_score(
    eps: list[InfectionEpisode], e: InfectionEpisode, as_of: int, preset: str, data: st.DataObject
) -> None:
    worse = data.draw(st.sampled_from([s for s in SEVERITIES if s.rank >= e.severity.rank]))
    assert at_least(
        total([*eps, e.model_copy(update={"severity": worse})], as_of, preset),
        total([*eps, e], as_of, preset),
    )


@settings(max_examples=150, deadline=None)
@given(
    eps=histories,
    e=episodes(),
    low=st.floats(0.0, 3000.0),
    extra=st.floats(0.0, 3000.0),
    as_of=as_of_days,
    preset=presets,
)
def test_higher_measured_il6_never_lowers_the_score(
    eps: list[InfectionEpisode],
    e: InfectionEpisode,
    low: float,
    extra: float,
    as_of: int,
    preset: str,
) -> None:
    a = e.model_copy(update={"il6_peak_pg_ml": low})
    b = e.model_copy(update={"il6_peak_pg_ml": low + extra})
    assert at_least(total([*eps, b], as_of, preset), total([*eps, a], as_of, preset))


@settings(max_examples=150, deadline=None)
@given(eps=histories, e=episodes(), as_of=as_of_days, preset=presets)
def test_blockade_never_raises_the_score(
    eps: list[InfectionEpisode], e: InfectionEpisode, as_of: int, preset: str
) -> None:
    blocked = e.model_copy(update={"il6_blockade": True})
    unblocked = e.model_copy(update={"il6_blockade": False})
    assert at_least(total([*eps, unblocked], as_of, preset), total([*eps, blocked], as_of, preset))


@settings(max_examples=150, deadline=None)
@given(eps=histories, as_of=as_of_days, preset=presets, carry=st.booleans())
def test_contributions_sum_to_the_total(
    eps: list[InfectionEpisode], as_of: int, preset: str, carry: bool
) -> None:
    r = aw.score(history(*eps), as_of=days(as_of), preset=preset, carry_over=carry)
    excess = r.score - r.background
    assert abs(sum(c.contribution for c in r.contributions) - excess) <= 1e-9 * max(1.0, r.score)
    if carry:
        assert all(c.contribution >= -1e-12 * max(1.0, r.score) for c in r.contributions)
    assert r.hazard_multiplier >= 1.0


@settings(max_examples=150, deadline=None)
@given(eps=histories, as_of=as_of_days, preset=presets, carry=st.booleans(), data=st.data())
def test_input_order_does_not_matter(
    eps: list[InfectionEpisode], as_of: int, preset: str, carry: bool, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(eps))
    a = aw.score(history(*eps), as_of=days(as_of), preset=preset, carry_over=carry)
    b = aw.score(history(*shuffled), as_of=days(as_of), preset=preset, carry_over=carry)
    assert a.score == b.score and a.hazard_multiplier == b.hazard_multiplier
    key = lambda c: (c.onset, c.pathogen, c.severity, c.il6_peak_pg_ml, c.contribution)  # noqa: E731
    assert sorted(map(key, a.contributions)) == sorted(map(key, b.contributions))


@settings(max_examples=150, deadline=None)
@given(
    eps=histories,
    e=episodes(),
    value=st.floats(0.0, 5000.0),
    as_of=as_of_days,
    preset=presets,
)
def test_same_il6_in_pg_per_ml_and_ng_per_l_gives_the_same_score(
    eps: list[InfectionEpisode], e: InfectionEpisode, value: float, as_of: int, preset: str
) -> None:
    in_pg = e.model_copy(update={"il6_peak_pg_ml": aw.il6_to_pg_ml(value, "pg/mL")})
    in_ng = e.model_copy(update={"il6_peak_pg_ml": aw.il6_to_pg_ml(value, "ng/L")})
    assert total([*eps, in_pg], as_of, preset) == total([*eps, in_ng], as_of, preset)
    in_ng_ml = e.model_copy(update={"il6_peak_pg_ml": aw.il6_to_pg_ml(value / 1000, "ng/mL")})
    assert abs(total([*eps, in_ng_ml], as_of, preset) - total([*eps, in_pg], as_of, preset)) <= (
        1e-9 * max(1.0, total([*eps, in_pg], as_of, preset))
    )


def test_start_date_is_a_date() -> None:
    assert isinstance(START, dt.date)
