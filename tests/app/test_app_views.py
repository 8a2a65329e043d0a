"""View data (riskcalc.report.views): what the app draws, computed and tested in the library."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import riskcalc
from riskcalc.demo import demo_bundle, list_demo_patients
from riskcalc.history import Pathogen, Severity
from riskcalc.report import HypotheticalInfection, WhatIf, apply_what_if
from riskcalc.report.views import (
    LANES,
    basis_rows,
    icon_counts,
    icon_grid,
    interval_text,
    out_of_100_text,
    percent,
    score_cohort_table,
    timeline_rows,
)

AS_OF = dt.date(2026, 6, 1)


def test_percent_rounds_half_up_and_caps_the_ends() -> None:
    assert percent(0.0) == "<1%"
    assert percent(0.0049) == "<1%"
    assert percent(0.005) == "1%"
    assert percent(0.125) == "13%"
    assert percent(0.994) == "99%"
    assert percent(0.996) == ">99%"
    assert interval_text(0.08, 0.17) == "8–17%"


_prob = st.floats(0, 1, allow_nan=False)


@given(_prob, _prob, _prob)
def test_icon_counts_are_consistent(a: float, b: float, c: float) -> None:
    low, p, high = sorted((a, b, c))
    counts = icon_counts(p, low, high)
    assert counts.certain + counts.likely + counts.possible + counts.free == 100
    assert min(counts.certain, counts.likely, counts.possible, counts.free) >= 0
    assert counts.events == int(p * 100 + 0.5)
    assert counts.certain == int(low * 100 + 0.5)
    grid = icon_grid(counts)
    assert len(grid) == 100 and len({(x, y) for x, y, _ in grid}) == 100
    assert sum(shade == "certain" for *_, shade in grid) == counts.certain
    text = out_of_100_text(counts, 24)
    assert f"about {counts.events} would" in text and "24 months" in text


def test_out_of_100_text_is_plain_language_and_not_directive() -> None:
    text = out_of_100_text(icon_counts(0.12, 0.08, 0.17), 24)
    assert "about 12 would" in text and "as low as 8" in text and "as high as 17" in text
    for word in ("should", "recommend", "start", "must"):
        assert word not in text.lower()


@pytest.mark.parametrize("name", [p.name for p in list_demo_patients()])
def test_timeline_and_basis_cover_the_record(name: str) -> None:
    history = riskcalc.read_history(demo_bundle(name))
    rows = timeline_rows(history, as_of=AS_OF)
    assert {r.lane for r in rows} <= set(LANES)
    infections = [r for r in rows if r.lane == "Infection"]
    assert [r.episode for r in infections] == list(range(len(history.infections)))
    measured = [e for e in history.infections if e.il6_peak_pg_ml is not None]
    assert len([r for r in rows if r.lane == "IL-6 measured"]) == len(measured)
    assert len([r for r in rows if r.lane == "Vaccination"]) == len(history.vaccinations)
    tests = [(r.start, r.detail) for r in rows if r.lane == "Virus test"]
    assert tests == [(t.date, "positive" if t.positive else "negative") for t in history.tests]
    assert all(r.start <= r.end for r in rows)
    assert not any(r.hypothetical for r in rows)
    basis = basis_rows(history)
    assert {b.reference for b in basis} == set(history.basis)
    for day in (AS_OF, *(e.onset for e in history.infections)):
        shown_then = {b.reference for b in basis_rows(history, as_of=day)}
        assert shown_then == set(history.basis_until(day))
    assert all(b.resource_type == b.reference.split("/")[0] for b in basis)
    dated = [b.date for b in basis if b.date is not None]
    assert dated == sorted(dated)


def test_hospitalised_flu_timeline_shows_the_il6_peak() -> None:
    history = riskcalc.read_history(demo_bundle("hospitalised-flu"))
    (il6,) = [r for r in timeline_rows(history, as_of=AS_OF) if r.lane == "IL-6 measured"]
    assert il6.il6_pg_ml == pytest.approx(210.0) and il6.label == "210 pg/mL"


def test_hypothetical_episode_is_flagged_on_the_timeline() -> None:
    history = riskcalc.read_history(demo_bundle("mild-covid"))
    extra = HypotheticalInfection(
        onset=dt.date(2027, 1, 1), pathogen=Pathogen.RSV, severity=Severity.CRITICAL
    )
    shown = apply_what_if(history, WhatIf(hypothetical_infection=extra))
    rows = [r for r in timeline_rows(shown, as_of=AS_OF) if r.lane == "Infection"]
    assert [r.hypothetical for r in rows] == [False, True]
    assert "hypothetical" in rows[1].detail
    # the hypothetical episode is not a record: the basis is unchanged
    assert {b.reference for b in basis_rows(shown)} == set(history.basis)


def _default_model() -> object:
    from riskcalc.model import load_model

    try:
        return load_model()
    except riskcalc.RiskCalcError:
        pytest.skip("no default model in models/default yet")


def test_score_cohort_table_accounts_for_every_patient(fixtures: Path) -> None:
    from riskcalc.report import SCORE_COLUMNS, score_cohort

    model = _default_model()
    source = fixtures / "mcode"
    progress: list[tuple[int, int]] = []
    table = score_cohort_table(
        source,
        as_of=AS_OF,
        model=model,
        on_progress=lambda d, t: progress.append((d, t)),
        chunk_patients=2,
    )
    rec = table.reconciliation
    assert rec.balanced
    assert rec.read == len(table.scores) + len(table.errors)
    assert list(table.scores.columns) == list(SCORE_COLUMNS)
    assert progress[0][0] == 0 and progress[-1] == (rec.read, rec.read)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    # the same rows as the CLI's streaming scorer
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores.csv"
        cli = score_cohort(source, out, as_of=AS_OF, model=model)  # type: ignore[arg-type]
        assert (cli.read, cli.scored, cli.failed) == (rec.read, rec.scored, rec.failed)
        import pandas as pd

        streamed = pd.read_csv(out)
    assert sorted(streamed["patient_id"]) == sorted(table.scores["patient_id"])
