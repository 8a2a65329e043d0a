"""View data (riskcalc.report.views): what the app draws, computed and tested in the library."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import riskcalc
from riskcalc.demo import demo_bundle, list_demo_patients
from riskcalc.history import Cancer, CancerSite, Pathogen, PatientHistory, Severity
from riskcalc.report import Driver, HypotheticalInfection, WhatIf, apply_what_if
from riskcalc.report.views import (
    LANES,
    TIMELINE_PAD_FRACTION,
    awakening_unavailable_reason,
    basis_rows,
    completed_years,
    driver_value_text,
    header_parts,
    icon_counts,
    icon_grid,
    interval_text,
    out_of_100_text,
    percent,
    record_end,
    score_cohort_table,
    timeline_rows,
    timeline_rows_in,
    timeline_window,
    used_episodes,
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
    assert "24 months" in text
    if 1 <= counts.events <= 99:
        assert f"about {counts.events} would" in text
    # "0" would read as no risk where percent() shows "<1%"; "100" where it shows ">99%"
    assert " 0 " not in text and "as low as 0" not in text and "100 would" not in text


def test_out_of_100_text_says_less_than_1_where_the_interval_reaches_0() -> None:
    # QA: "90% interval <1–9%" beside "could be as low as 0 or as high as 9"
    assert interval_text(0.004, 0.09) == "<1–9%"
    text = out_of_100_text(icon_counts(0.02, 0.004, 0.09), 24)
    assert "could be less than 1 or as high as 9" in text
    assert "as low as 0" not in text
    text = out_of_100_text(icon_counts(0.003, 0.001, 0.004), 24)
    assert "less than 1 would have" in text and "stays less than 1" in text
    text = out_of_100_text(icon_counts(0.97, 0.9, 0.998), 24)
    assert "as low as 90 or more than 99" in text


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


def test_completed_years_counts_birthdays_passed() -> None:
    born = dt.date(1968, 5, 12)
    assert completed_years(born, dt.date(2026, 12, 7)) == 58  # QA saw the rounded 59
    assert completed_years(born, dt.date(2026, 5, 11)) == 57
    assert completed_years(born, dt.date(2026, 5, 12)) == 58
    assert completed_years(dt.date(2000, 2, 29), dt.date(2001, 2, 28)) == 0


@given(st.dates(dt.date(1900, 1, 1), dt.date(2030, 1, 1)), st.integers(0, 40000))
def test_completed_years_matches_the_calendar(born: dt.date, days: int) -> None:
    on = born + dt.timedelta(days=days)
    years = completed_years(born, on)
    assert years >= 0
    assert (born.year + years, born.month, born.day) <= (on.year, on.month, on.day)
    assert (born.year + years + 1, born.month, born.day) > (on.year, on.month, on.day)


def test_header_counts_only_episodes_up_to_the_assessment_date() -> None:
    history = riskcalc.read_history(demo_bundle("repeated-infections"))
    day = dt.date(2022, 1, 1)
    assert used_episodes(history, as_of=day) == (0, 1)
    assert used_episodes(history, as_of=AS_OF) == (0, 1, 2, 3)
    parts = header_parts(history, as_of=day)
    assert parts[-1] == "2 infection episode(s) (and 2 dated after the assessment date, not used)"
    assert header_parts(history, as_of=AS_OF)[-1] == "4 infection episode(s)"


def test_header_of_a_living_patient_gives_completed_years() -> None:
    history = riskcalc.read_history(demo_bundle("no-infection"))
    assert history.birth_date == dt.date(1968, 5, 12)
    assert header_parts(history, as_of=dt.date(2026, 12, 7))[0] == "female, 58 years"


@pytest.fixture(scope="module")
def deceased(fixtures: Path) -> PatientHistory:
    """Synthea patient c4bf405e: prostate cancer 2003, died 2005-05-28 aged 62."""
    return riskcalc.read_history(next((fixtures / "synthea-blaze").glob("c4bf405e*.json.bz2")))


def test_header_of_a_deceased_patient_gives_death_and_age_at_death(
    deceased: PatientHistory,
) -> None:
    assert deceased.deceased_date == dt.date(2005, 5, 28)
    assert header_parts(deceased, as_of=AS_OF)[0] == "male, died on 2005-05-28 aged 62"
    # assessed before the death, the later death is not used
    assert header_parts(deceased, as_of=dt.date(2004, 1, 1))[0] == "male, 60 years"


def test_charts_of_a_deceased_patient_stop_at_death(deceased: PatientHistory) -> None:
    death = dt.date(2005, 5, 28)
    assert record_end(deceased, AS_OF) == death
    assert record_end(deceased, dt.date(2004, 1, 1)) == dt.date(2004, 1, 1)
    window = timeline_window(deceased, as_of=AS_OF)
    assert window.end == death and window.axis_end < dt.date(2006, 1, 1)
    rows = timeline_rows_in(deceased, window)
    assert rows and all(r.start <= r.end <= death for r in rows)
    cancer = next(r for r in rows if r.lane == "Cancer")
    assert cancer.end == death  # not abated: ran to the death, not to 2026
    assert awakening_unavailable_reason(deceased, as_of=AS_OF) is None


def _no_cancer_histories(fixtures: Path) -> list[PatientHistory]:
    return [
        riskcalc.read_history(next((fixtures / "nimbus" / folder).glob(f"{name}_*.json")))
        for folder, name in (("synthea-covid", "Bibi254"), ("anonymized", "Les282"))
    ]


def test_no_awakening_index_without_cancer(fixtures: Path) -> None:
    for history in _no_cancer_histories(fixtures):
        assert not history.cancers and history.at_risk_start is None
        reason = awakening_unavailable_reason(history, as_of=AS_OF)
        assert reason is not None and reason.startswith("no cancer in the record")
        # the timeline still has a window: from the first record
        window = timeline_window(history, as_of=AS_OF)
        dated = [d for d, _ in history.dated_sources() if d is not None]
        first = min(dated + [t.date for t in history.tests])
        assert window.start == first - dt.timedelta(days=180) and window.end == AS_OF
    undated = PatientHistory(
        patient_id="p", cancers=(Cancer(site=CancerSite.BREAST, codes=("s|c",)),)
    )
    reason = awakening_unavailable_reason(undated, as_of=AS_OF)
    assert reason is not None and reason.startswith("no remission date")


def test_no_awakening_trajectory_before_the_at_risk_start() -> None:
    history = riskcalc.read_history(demo_bundle("repeated-infections"))
    assert history.at_risk_start == dt.date(2017, 4, 10)
    reason = awakening_unavailable_reason(history, as_of=dt.date(2017, 1, 1))
    assert reason == (
        "not in remission at 2017-01-01 (at-risk start 2017-04-10): there is no awakening "
        "trajectory before the at-risk start"
    )
    assert awakening_unavailable_reason(history, as_of=dt.date(2017, 4, 10)) is None
    dead_early = history.model_copy(update={"deceased_date": dt.date(2017, 2, 1)})
    reason = awakening_unavailable_reason(dead_early, as_of=AS_OF)
    assert reason is not None and reason.startswith("the patient died on 2017-02-01, before")


@pytest.mark.parametrize("name", [p.name for p in list_demo_patients()])
@pytest.mark.parametrize(
    "day",
    [dt.date(2010, 1, 1), dt.date(2016, 6, 1), dt.date(2017, 1, 1), dt.date(2022, 1, 1), AS_OF],
)
def test_timeline_window_holds_what_it_draws(name: str, day: dt.date) -> None:
    """Before the first record, before the at-risk start or after it: a window from left to
    right, nothing dated after the assessment date, and room after the last date drawn."""
    history = riskcalc.read_history(demo_bundle(name))
    window = timeline_window(history, as_of=day)
    assert window.start < window.end < window.axis_end
    span = (window.end - window.start).days
    assert (window.axis_end - window.end).days >= TIMELINE_PAD_FRACTION * span
    rows = timeline_rows_in(history, window)
    assert all(r.start <= r.end <= day and r.end >= window.start for r in rows)
    dated = [e.onset for e in history.infections if window.start <= e.onset <= day]
    assert sorted(r.start for r in rows if r.lane == "Infection") == sorted(dated)


def test_timeline_window_makes_room_for_a_hypothetical_infection() -> None:
    # QA: the diamond of an infection 28 days before the (moved) assessment date sat half
    # outside the chart
    history = riskcalc.read_history(demo_bundle("mild-covid"))
    onset = AS_OF + dt.timedelta(days=90)
    extra = HypotheticalInfection(onset=onset, pathogen=Pathogen.RSV, severity=Severity.CRITICAL)
    shown = apply_what_if(history, WhatIf(hypothetical_infection=extra))
    day = onset + dt.timedelta(days=28)
    window = timeline_window(shown, as_of=day)
    (diamond,) = [r for r in timeline_rows_in(shown, window) if r.hypothetical]
    span = (window.axis_end - window.start).days
    # the largest marker (critical: 520 px², a radius of 13 px) is under 2% of a plot 700 px
    # wide; ask for 3%
    assert (window.axis_end - diamond.start).days >= 0.03 * span


def test_driver_values_are_read_as_clinicians_read_them() -> None:
    def text(feature: str, value: float | str | None) -> str:
        d = Driver(feature=feature, label="x", value=value, effect_pp=0.1, direction="raises")
        return driver_value_text(d)

    assert text("awakening_score", 1.810445564404221) == "1.81"  # QA saw all the digits
    assert text("tx_surgery", 1.0) == "yes" and text("sex_female", 0.0) == "no"
    assert text("inf_total_count", 3.0) == "3" and text("stage_group", 2.0) == "2"
    assert text("age_years", 58.5671) == "58.6 years"
    assert text("il6_peak_max_pg_ml", 210.4) == "210 pg/mL"
    assert text("unknown_feature", 0.123456) == "0.12"
    assert text("age_years", None) == "not recorded"


def test_score_cohort_table_names_an_uploaded_file_in_failures() -> None:
    model = _default_model()
    no_patient = (
        b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": '
        b'{"resourceType": "Condition", "id": "c", "code": {"text": "x"}}}]}'
    )
    table = score_cohort_table(no_patient, as_of=AS_OF, model=model, label="ward-7.json")  # type: ignore[arg-type]
    assert table.reconciliation.failed == 1
    assert "ward-7.json" in " ".join(str(v) for v in table.errors.iloc[0].tolist())
    assert "<bytes>" not in " ".join(str(v) for v in table.errors.iloc[0].tolist())


def test_score_cohort_table_lists_each_skipped_line_once(tmp_path: Path) -> None:
    """An export with a broken line: the line is an error row of its own, once, whatever the
    chunks; it is counted as a lost line, not as a patient that failed; the table and the
    CLI's scorer agree."""
    import orjson

    from riskcalc.report import score_cohort

    export = tmp_path / "export"
    export.mkdir()
    patients = [
        orjson.dumps({"resourceType": "Patient", "id": f"p{i}", "birthDate": "1960-01-01"})
        for i in range(5)
    ]
    (export / "Patient.ndjson").write_bytes(b"\n".join([*patients, b'{"resourceType": "Pat']))
    model = _default_model()
    table = score_cohort_table(export, as_of=AS_OF, model=model, chunk_patients=2)
    rec = table.reconciliation
    assert (rec.read, rec.failed, rec.skipped_lines) == (5, 0, 1) and rec.balanced
    [lost] = table.errors.to_dict("records")
    assert lost["code"] == "ndjson.bad_line" and lost["location"].endswith("Patient.ndjson:6")
    cli = score_cohort(export, tmp_path / "scores.csv", as_of=AS_OF, model=model)
    assert cli == rec
