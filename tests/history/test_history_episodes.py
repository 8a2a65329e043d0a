"""Episode merging: order-independent and idempotent (hypothesis), plus the rules by example."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from riskcalc.history import InfectionEpisode, Pathogen, Severity
from riskcalc.history._dates import Bound, check_plausible, parse_fhir_date
from riskcalc.history._episodes import Attachment, AttachmentKind, build_episodes, merge_episodes

BASE = dt.date(2020, 1, 1)


@st.composite
def episodes(draw: st.DrawFn) -> InfectionEpisode:
    start = draw(st.integers(0, 200))
    length = draw(st.integers(0, 20))
    return InfectionEpisode(
        pathogen=draw(st.sampled_from(list(Pathogen))),
        onset=BASE + dt.timedelta(days=start),
        end=BASE + dt.timedelta(days=start + length),
        severity=draw(st.sampled_from(list(Severity))),
        il6_peak_pg_ml=draw(st.none() | st.floats(0, 1000, allow_nan=False)),
        il6_blockade=draw(st.booleans()),
        corticosteroids=draw(st.booleans()),
        sources=(f"Condition/{draw(st.integers(0, 50))}",),
    )


@st.composite
def attachments(draw: st.DrawFn) -> Attachment:
    start = draw(st.integers(0, 220))
    return Attachment(
        start=BASE + dt.timedelta(days=start),
        end=BASE + dt.timedelta(days=start + draw(st.integers(0, 10))),
        sources=(f"Encounter/{draw(st.integers(0, 50))}",),
        kind=draw(
            st.sampled_from(
                [AttachmentKind.CONDITION, AttachmentKind.OBSERVATION, AttachmentKind.OVERLAP]
            )
        ),
        pathogen=draw(st.none() | st.sampled_from(list(Pathogen))),
        standalone=draw(st.none() | st.just(Pathogen.OTHER_VIRAL)),
        severity=draw(st.none() | st.sampled_from(list(Severity))),
        il6_pg_ml=draw(st.none() | st.floats(0, 1000, allow_nan=False)),
        il6_blockade=draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(episodes(), max_size=25), st.randoms(use_true_random=False))
def test_merge_is_order_independent_and_idempotent(eps: list[InfectionEpisode], rnd) -> None:
    merged = merge_episodes(eps)
    shuffled = list(eps)
    rnd.shuffle(shuffled)
    assert merge_episodes(shuffled) == merged
    assert merge_episodes(merged) == merged
    # every source survives, and same-pathogen episodes left apart are more than the window apart
    assert {s for e in eps for s in e.sources} == {s for e in merged for s in e.sources}
    for a in merged:
        for b in merged:
            if a is not b and a.pathogen is b.pathogen and a.onset <= b.onset:
                assert (b.onset - a.end).days > 14


@settings(max_examples=200, deadline=None)
@given(
    st.lists(episodes(), max_size=15),
    st.lists(attachments(), max_size=15),
    st.randoms(use_true_random=False),
)
def test_build_is_order_independent_and_idempotent(eps, atts, rnd) -> None:
    built = build_episodes(eps, atts)
    e2, a2 = list(eps), list(atts)
    rnd.shuffle(e2)
    rnd.shuffle(a2)
    assert build_episodes(e2, a2) == built
    assert merge_episodes(built) == built


def _ep(pathogen: Pathogen, onset: int, end: int, src: str) -> InfectionEpisode:
    return InfectionEpisode(
        pathogen=pathogen,
        onset=BASE + dt.timedelta(onset),
        end=BASE + dt.timedelta(end),
        severity=Severity.MILD,
        sources=(src,),
    )


def test_window_rule_by_example() -> None:
    a = _ep(Pathogen.COVID19, 0, 5, "Condition/a")
    b = _ep(Pathogen.COVID19, 19, 19, "Observation/b")  # 14 days after a's end: same illness
    c = _ep(Pathogen.COVID19, 34, 34, "Observation/c")  # 15 days after b: a new one
    d = _ep(Pathogen.INFLUENZA, 2, 2, "Observation/d")  # another pathogen: its own episode
    merged = merge_episodes([c, d, b, a])
    assert [(e.pathogen, e.onset, e.end) for e in merged] == [
        (Pathogen.COVID19, BASE, BASE + dt.timedelta(19)),
        (Pathogen.INFLUENZA, BASE + dt.timedelta(2), BASE + dt.timedelta(2)),
        (Pathogen.COVID19, BASE + dt.timedelta(34), BASE + dt.timedelta(34)),
    ]


def test_suspected_alone_is_not_an_episode_and_joins_confirmed() -> None:
    suspected = Attachment(
        start=BASE, end=BASE, sources=("Condition/s",), pathogen=Pathogen.COVID19
    )
    assert build_episodes([], [suspected]) == ()
    [e] = build_episodes([_ep(Pathogen.COVID19, 1, 9, "Condition/c")], [suspected])
    assert e.onset == BASE and e.sources == ("Condition/c", "Condition/s")
    viral = Attachment(
        start=BASE, end=BASE, sources=("Condition/v",), standalone=Pathogen.OTHER_VIRAL
    )
    assert [x.pathogen for x in build_episodes([], [viral])] == [Pathogen.OTHER_VIRAL]


def test_overlap_attachments_raise_severity_only_when_overlapping() -> None:
    icu = Attachment(
        start=BASE + dt.timedelta(3),
        end=BASE + dt.timedelta(4),
        sources=("Procedure/v",),
        kind=AttachmentKind.OVERLAP,
        severity=Severity.CRITICAL,
    )
    late = Attachment(
        start=BASE + dt.timedelta(12),
        end=BASE + dt.timedelta(12),
        sources=("Encounter/x",),
        kind=AttachmentKind.OVERLAP,
        severity=Severity.HOSPITALISED,
    )
    [e] = build_episodes([_ep(Pathogen.RSV, 0, 5, "Condition/r")], [icu, late])
    assert e.severity is Severity.CRITICAL and "Encounter/x" not in e.sources


def test_dates() -> None:
    assert parse_fhir_date("2020", Bound.END).date == dt.date(2020, 12, 31)
    assert parse_fhir_date("2020-02", Bound.END).date == dt.date(2020, 2, 29)
    assert parse_fhir_date("2020-02-03T23:59:00-05:00").partial is False
    assert check_plausible(dt.date(2027, 1, 1), birth_date=None, today=dt.date(2026, 1, 1))
