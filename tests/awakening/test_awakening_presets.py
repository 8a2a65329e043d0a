"""The two presets pin what they claim: the mouse findings and the human cohort calibration.

Mouse fold changes are of the total DCC burden ``D + A`` (what HER2+ cell counts measure, Nature
Fig. 1) relative to the PBS counterfactual: the same mouse without infection, whose total stays 1.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from awakening_builders import days, episode, history

from riskcalc import awakening as aw
from riskcalc.awakening._core import DAYS_PER_MONTH, DAYS_PER_YEAR, derive

INFECTION = days(60)  # dissemination (at-risk start) 60 days before the infection


def _mouse(blockade: bool = False) -> aw.Trajectory:
    h = history(episode(INFECTION, "influenza", "mild", blockade=blockade))
    return aw.trajectory(
        h,
        start=INFECTION - dt.timedelta(days=1),
        end=INFECTION + dt.timedelta(days=300),
        step_days=1,
        preset="mouse",
    )


def _pbs() -> aw.Trajectory:
    return aw.trajectory(
        history(),
        start=INFECTION - dt.timedelta(days=1),
        end=INFECTION + dt.timedelta(days=300),
        step_days=1,
        preset="mouse",
    )


def _dpi(tr: aw.Trajectory, d: int) -> int:
    return int(np.flatnonzero(tr.dates == np.datetime64(INFECTION + dt.timedelta(days=d)))[0])


def test_mouse_burden_rises_within_three_days() -> None:
    inf, pbs = _mouse(), _pbs()
    before, d3 = _dpi(inf, -1), _dpi(inf, 3)
    assert inf.total[before] == pytest.approx(pbs.total[before])
    assert inf.total[d3] / pbs.total[d3] > 1.5  # cell numbers "rose sharply" (evidence row 1)
    assert inf.awakened[d3] / pbs.awakened[d3] > 100


def test_mouse_expansion_exceeds_100_fold_by_day_14() -> None:
    inf, pbs = _mouse(), _pbs()
    fold = inf.total[_dpi(inf, 14)] / pbs.total[_dpi(pbs, 14)]
    assert 100 < fold < 1000  # ">100-fold", "100-1,000-fold within two weeks" (row 2)


def test_mouse_burden_still_raised_at_nine_months() -> None:
    h = history(episode(INFECTION, "influenza", "mild"))
    nine_months = INFECTION + dt.timedelta(days=round(9 * DAYS_PER_MONTH))
    inf = aw.score(h, as_of=nine_months, preset="mouse")
    pbs = aw.score(history(), as_of=nine_months, preset="mouse")
    assert inf.dormant_burden + inf.awakened_burden > 100 * (
        pbs.dormant_burden + pbs.awakened_burden
    )
    assert inf.awakened_burden > 100 * pbs.awakened_burden  # still awake, not only present (row 4)
    peak = aw.score(h, as_of=INFECTION + dt.timedelta(days=14), preset="mouse").awakened_burden
    assert inf.awakened_burden < peak  # slow return to dormancy


def test_mouse_blockade_removes_most_of_the_day_14_expansion() -> None:
    inf, ko, pbs = _mouse(), _mouse(blockade=True), _pbs()
    d14 = _dpi(inf, 14)
    expansion = inf.total[d14] - pbs.total[d14]
    expansion_ko = ko.total[d14] - pbs.total[d14]
    assert expansion_ko < 0.1 * expansion  # IL-6 knockout "reversed" the expansion (row 5)


def _calibration_hm(severity: str) -> float:
    """Time-averaged human hazard multiplier over the calibration window after one COVID-19
    episode 5 years after the at-risk start (the calibration's own definition)."""
    p = aw.load_params()
    onset = days(round(p["calibration_onset_years"] * DAYS_PER_YEAR))
    end = onset + dt.timedelta(days=round(p["calibration_window_months"] * DAYS_PER_MONTH))
    tr = aw.trajectory(
        history(episode(onset, "covid19", severity)), start=onset, end=end, step_days=1
    )
    return float(np.mean(tr.hazard_multiplier))


def test_human_calibration_reproduces_its_target() -> None:
    p = aw.load_params()
    weights = {s: p[f"calibration_weight.{s}"] for s in ("mild", "hospitalised", "critical")}
    mean_hm = sum(w * _calibration_hm(s) for s, w in weights.items()) / sum(weights.values())
    # rel 1e-6: the calibration places the episode at 5 x 365.25 days, this test on a whole day
    assert mean_hm == pytest.approx(p["hazard_target_hr"], rel=1e-6)  # Flatiron HR 1.44


def test_human_covid_episode_is_in_the_range_of_the_cohorts() -> None:
    mild, hospitalised, critical = (
        _calibration_hm(s) for s in ("mild", "hospitalised", "critical")
    )
    assert 1.0 < mild < hospitalised < critical
    # one COVID-19 episode, mild or hospitalised, lies within the UK Biobank 95% CI 1.14-3.02
    assert 1.14 <= mild <= 3.02 and 1.14 <= hospitalised <= 3.02


def test_human_effect_fades_over_the_following_years() -> None:
    # UK Biobank: strongest in the first months, diminishing over time (evidence row 8)
    h = history(episode(days(2000), "covid19", "hospitalised"))
    hm = [aw.score(h, as_of=days(2000 + d)).hazard_multiplier for d in (30, 365, 3 * 365, 8 * 365)]
    assert hm == sorted(hm, reverse=True) and hm[-1] < 1.05 < hm[0]


def test_mouse_and_human_differ_and_hazard_scale_is_positive() -> None:
    assert aw.hazard_scale("human") == pytest.approx(derive(aw.load_params()).hazard_per_score)
    assert aw.hazard_scale("human") > 0
    assert (
        aw.load_params("mouse")["awakening_rate_per_day"]
        > aw.load_params()["awakening_rate_per_day"]
    )
