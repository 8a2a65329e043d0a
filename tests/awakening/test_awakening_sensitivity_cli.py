"""Sensitivity (tornado) rows, and the ``riskcalc awakening`` command on a real Synthea patient."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from awakening_builders import days, episode, history

from riskcalc import RESEARCH_USE_STATEMENT, read_history
from riskcalc import awakening as aw
from riskcalc.cli import main
from riskcalc.cli._awakening import as_dict, as_text
from riskcalc.history import Pathogen, Severity


def test_sensitivity_rows_bracket_the_baseline_and_are_sorted() -> None:
    h = history(episode(days(300), "covid19", "hospitalised"), episode(days(900)))
    rows = aw.sensitivity(h, as_of=days(1000))
    base = aw.score(h, as_of=days(1000)).score
    assert rows and all(r.baseline_score == base for r in rows)
    assert [r.swing for r in rows] == sorted((r.swing for r in rows), reverse=True)
    by_name = {r.parameter: r for r in rows}
    # faster awakening and expansion raise the score; longer re-dormancy half-life keeps more awake
    for name in ("awakening_rate_per_day", "expansion_rate_per_day", "redormancy_half_life_days"):
        r = by_name[name]
        assert r.score_low < base < r.score_high, name
    # a default the history does not use moves nothing
    assert by_name["il6_peak_pg_ml.non_covid.critical"].swing == 0.0
    # calibration parameters do not change the score and are not listed
    assert "hazard_target_hr" not in by_name
    # each row equals a direct score with that parameter changed, in baseline units
    r = by_name["il6_peak_pg_ml.covid19.hospitalised"]
    varied = aw.load_params().with_value(r.parameter, r.high_value)
    direct = aw.score(h, as_of=days(1000), params=varied)
    baseline = aw.score(h, as_of=days(1000))
    unit = baseline.awakened_burden / baseline.score  # reference burden of the baseline
    assert r.score_high == pytest.approx(direct.awakened_burden / unit, rel=1e-12)


def test_measured_il6_moves_away_from_the_default_rows() -> None:
    measured = history(episode(days(300), "covid19", "hospitalised", il6=120.0))
    rows = {r.parameter: r for r in aw.sensitivity(measured, as_of=days(400))}
    assert rows["il6_peak_pg_ml.covid19.hospitalised"].swing == 0.0


def test_text_and_json_renderings_carry_versions_and_statement() -> None:
    h = history(episode(days(30), Pathogen.COVID19, Severity.CRITICAL, il6=250.0, steroids=True))
    r = aw.score(h, as_of=days(400))
    text = as_text(h, r, aw.sensitivity(h, as_of=days(400)))
    assert RESEARCH_USE_STATEMENT in text and r.parameters_version in text
    assert "250 pg/mL (measured)" in text
    data = as_dict(h, r)
    assert data["research_use_statement"] == RESEARCH_USE_STATEMENT
    assert data["score"] == pytest.approx(r.score, abs=1e-6)
    assert len(data["contributions"]) == 1
    json.dumps(data)


@pytest.fixture(scope="module")
def covid_patient(fixtures: Path) -> Path:
    (path,) = sorted((fixtures / "synthea-blaze").glob("ad0b4b7a-*.json.bz2"))
    return path


def test_real_fixture_one_hospitalised_covid_episode(covid_patient: Path) -> None:
    h = read_history(covid_patient)
    r = aw.score(h, as_of=dt.date(2021, 1, 1))
    (c,) = r.contributions
    assert c.pathogen is Pathogen.COVID19 and c.onset.year == 2020 and c.onset.month == 3
    assert c.il6_assumed and c.contribution > 1.0
    assert r.score == pytest.approx(r.background + c.contribution, rel=1e-12)
    assert r.hazard_multiplier > 1.0
    before = aw.score(h, as_of=dt.date(2020, 2, 1))
    assert before.score == before.background and before.contributions == ()


def test_cli_text_and_json(covid_patient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["awakening", str(covid_patient), "--as-of", "2021-01-01"]) == 0
    out = capsys.readouterr().out
    assert "covid19, hospitalised" in out and RESEARCH_USE_STATEMENT in out
    assert main(["awakening", str(covid_patient), "--as-of", "2021-01-01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    on = data["score"]
    assert data["risk_model_not_applicable"] is None
    assert data["preset"] == "human" and data["carry_over"] is True
    assert (
        main(
            [
                "awakening",
                str(covid_patient),
                "--as-of",
                "2021-01-01",
                "--json",
                "--preset",
                "mouse",
                "--no-carry-over",
                "--sensitivity",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["preset"] == "mouse" and data["carry_over"] is False and data["sensitivity"]
    assert on > 0


def test_cli_shows_the_records_warnings_and_when_the_risk_model_does_not_apply(
    fixtures: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A patient without cancer gets a score (the index is mechanistic), but the output says
    the risk model does not apply and carries the reader's warnings (cancer.none)."""
    (path,) = sorted((fixtures / "synthea-blaze").glob("085e81c0-*.json.bz2"))
    history = read_history(path)
    assert "cancer.none" in {w.code for w in history.warnings}
    assert main(["awakening", str(path), "--as-of", "2026-01-01"]) == 0
    out = capsys.readouterr().out
    assert "the risk model does not apply to this patient on 2026-01-01: no cancer" in out
    assert "note [cancer.none]" in out
    assert main(["awakening", str(path), "--as-of", "2026-01-01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["risk_model_not_applicable"].startswith("no cancer diagnosis")
    codes = [i["code"] for i in data["issues"]]
    assert "cancer.none" in codes and len(codes) >= len(history.warnings)


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["awakening", str(tmp_path / "missing.json"), "--as-of", "2021-01-01"]) == 3
    assert "input.not_found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["awakening", "x.json", "--as-of", "2021-13-01"])
    assert exc.value.code == 2
