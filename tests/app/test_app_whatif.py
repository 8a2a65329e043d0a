"""What-if logic (riskcalc.report._whatif): pure, leaves the input alone, changes only what asked."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

import riskcalc
from riskcalc import awakening
from riskcalc.demo import demo_bundle
from riskcalc.history import InfectionEpisode, Pathogen, PatientHistory, Severity
from riskcalc.report import (
    HYPOTHETICAL_ASSESSMENT_LAG_DAYS,
    HypotheticalInfection,
    WhatIf,
    apply_what_if,
    describe_what_if,
    what_if_as_of,
)

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def repeated() -> PatientHistory:
    return riskcalc.read_history(demo_bundle("repeated-infections"))


@pytest.fixture(scope="module")
def hospitalised() -> PatientHistory:
    return riskcalc.read_history(demo_bundle("hospitalised-flu"))


def test_empty_what_if_is_identity(repeated: PatientHistory) -> None:
    assert WhatIf().is_empty
    assert apply_what_if(repeated, WhatIf()) == repeated


def test_disabling_removes_only_that_episode(repeated: PatientHistory) -> None:
    out = apply_what_if(repeated, WhatIf(disabled_episodes=frozenset({1})))
    assert len(out.infections) == len(repeated.infections) - 1
    assert repeated.infections[1] not in out.infections
    assert out.cancers == repeated.cancers and out.vaccinations == repeated.vaccinations
    assert len(repeated.infections) == 4  # input unchanged


def test_disabling_every_episode_gives_the_background_score(repeated: PatientHistory) -> None:
    n = len(repeated.infections)
    out = apply_what_if(repeated, WhatIf(disabled_episodes=frozenset(range(n))))
    result = awakening.score(out, as_of=AS_OF)
    assert result.score == pytest.approx(result.background)


def test_blockade_lowers_the_awakening_score(hospitalised: PatientHistory) -> None:
    before = awakening.score(hospitalised, as_of=AS_OF).score
    out = apply_what_if(hospitalised, WhatIf(blockade_episodes=frozenset({0})))
    assert out.infections[0].il6_blockade
    assert awakening.score(out, as_of=AS_OF).score < before


def test_severity_override_drops_measured_il6(hospitalised: PatientHistory) -> None:
    assert hospitalised.infections[0].il6_peak_pg_ml is not None
    out = apply_what_if(hospitalised, WhatIf(severity_overrides={0: Severity.CRITICAL}))
    assert out.infections[0].severity is Severity.CRITICAL
    assert out.infections[0].il6_peak_pg_ml is None
    same = apply_what_if(hospitalised, WhatIf(severity_overrides={0: Severity.HOSPITALISED}))
    assert same.infections[0] == hospitalised.infections[0]


def test_more_severe_raises_the_score(repeated: PatientHistory) -> None:
    before = awakening.score(repeated, as_of=AS_OF).score
    out = apply_what_if(repeated, WhatIf(severity_overrides={3: Severity.CRITICAL}))
    assert awakening.score(out, as_of=AS_OF).score > before


def test_hypothetical_infection_is_inserted_in_order_without_sources(
    repeated: PatientHistory,
) -> None:
    extra = HypotheticalInfection(
        onset=dt.date(2027, 1, 10), pathogen=Pathogen.INFLUENZA, severity=Severity.HOSPITALISED
    )
    out = apply_what_if(repeated, WhatIf(hypothetical_infection=extra))
    assert len(out.infections) == 5
    assert [e.onset for e in out.infections] == sorted(e.onset for e in out.infections)
    added = out.infections[-1]
    assert added.onset == extra.onset and added.sources == () and added.end > added.onset
    assert out.basis == repeated.basis
    later = what_if_as_of(AS_OF, WhatIf(hypothetical_infection=extra))
    assert later == extra.onset + dt.timedelta(days=HYPOTHETICAL_ASSESSMENT_LAG_DAYS)
    assert awakening.score(out, as_of=later).score > awakening.score(repeated, as_of=later).score


def test_as_of_never_moves_earlier() -> None:
    past = HypotheticalInfection(
        onset=dt.date(2020, 1, 1), pathogen=Pathogen.RSV, severity=Severity.MILD
    )
    assert what_if_as_of(AS_OF, WhatIf(hypothetical_infection=past)) == AS_OF
    assert what_if_as_of(AS_OF, WhatIf()) == AS_OF


def test_bad_index_is_a_config_error(repeated: PatientHistory) -> None:
    with pytest.raises(riskcalc.ConfigError) as info:
        apply_what_if(repeated, WhatIf(disabled_episodes=frozenset({4})))
    assert info.value.code == "config.invalid"


def test_descriptions_label_blockade_as_mouse_evidence(repeated: PatientHistory) -> None:
    lines = describe_what_if(
        repeated,
        WhatIf(
            disabled_episodes=frozenset({0}),
            severity_overrides={1: Severity.HOSPITALISED},
            blockade_episodes=frozenset({2}),
        ),
    )
    assert len(lines) == 3
    assert "mouse-model" in lines[2]
    assert not any("start" in line.lower() and "treat" in line.lower() for line in lines)


_episode = st.builds(
    InfectionEpisode,
    pathogen=st.sampled_from(list(Pathogen)),
    onset=st.dates(dt.date(2016, 1, 1), dt.date(2026, 1, 1)),
    end=st.just(dt.date(2026, 2, 1)),
    severity=st.sampled_from(list(Severity)),
)


@given(
    episodes=st.lists(_episode, max_size=5),
    data=st.data(),
)
def test_properties(episodes: list[InfectionEpisode], data: st.DataObject) -> None:
    episodes.sort(key=lambda e: (e.onset, e.end))
    history = PatientHistory(
        patient_id="p", at_risk_start=dt.date(2015, 1, 1), infections=tuple(episodes)
    )
    n = len(episodes)
    idx = st.sets(st.integers(0, n - 1)) if n else st.just(set())
    disabled = data.draw(idx)
    blocked = data.draw(idx)
    what_if = WhatIf(disabled_episodes=frozenset(disabled), blockade_episodes=frozenset(blocked))
    out = apply_what_if(history, what_if)
    assert len(out.infections) == n - len(disabled)
    kept = [(i, e) for i, e in enumerate(episodes) if i not in disabled]
    for (i, original), new in zip(kept, out.infections, strict=True):
        assert new.onset == original.onset and new.severity == original.severity
        assert new.il6_blockade == (original.il6_blockade or i in blocked)
    # switching episodes off never raises the awakening score (carry-over on, human preset)
    off = apply_what_if(history, WhatIf(disabled_episodes=frozenset(disabled)))
    recorded = awakening.score(history, as_of=AS_OF).score
    assert awakening.score(off, as_of=AS_OF).score <= recorded + 1e-9
