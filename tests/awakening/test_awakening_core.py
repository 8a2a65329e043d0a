"""The awakening model's definitions and solver: unit of the score, bookkeeping, exactness."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest
from awakening_builders import START, days, episode, history
from scipy.integrate import solve_ivp

from riskcalc import awakening as aw
from riskcalc.awakening._core import (
    compile_params,
    kernel_cumulative,
    kernel_value,
    signal_amplitude,
    slow_awakened,
    slow_map,
)
from riskcalc.errors import ConfigError, InputError
from riskcalc.history import Pathogen, Severity


def test_no_episodes_gives_background_only() -> None:
    r = aw.score(history(), as_of=days(3000))
    assert r.score == r.background > 0
    assert r.contributions == ()
    assert r.hazard_multiplier == 1.0


def test_score_unit_is_one_mild_influenza_at_90_days() -> None:
    # The definition of 1.0 (docs/science/awakening.md): the excess over background that one mild
    # influenza-like infection with the default IL-6 peak, at the at-risk start, leaves at day 90.
    r = aw.score(history(episode(START)), as_of=days(90))
    assert r.score - r.background == pytest.approx(1.0, rel=1e-12)
    assert r.contributions[0].il6_assumed
    assert r.contributions[0].il6_peak_pg_ml == aw.load_params()["il6_peak_pg_ml.non_covid.mild"]


def test_contributions_sum_and_order() -> None:
    eps = (
        episode(days(400), "covid19", "hospitalised"),
        episode(days(100), "influenza", "mild", il6=30.0),
        episode(days(2000), "rsv", "critical", blockade=True),
    )
    r = aw.score(history(*eps), as_of=days(2500))
    assert [c.onset for c in r.contributions] == [e.onset for e in eps]  # history order
    assert sum(c.contribution for c in r.contributions) == pytest.approx(
        r.score - r.background, rel=1e-12
    )
    assert all(c.contribution > 0 for c in r.contributions)
    assert r.contributions[1].il6_peak_pg_ml == 30.0 and not r.contributions[1].il6_assumed


def test_future_and_pre_at_risk_episodes() -> None:
    before = episode(dt.date(2014, 6, 1), "covid19", "critical")
    after = episode(days(5000))
    r = aw.score(history(before, episode(days(10)), after), as_of=days(1000))
    assert [c.onset for c in r.contributions] == [before.onset, days(10)]
    assert r.contributions[0].contribution == 0.0
    assert [i.code for i in r.issues] == ["awakening.before_at_risk"]
    alone = aw.score(history(episode(days(10))), as_of=days(1000))
    assert r.score == alone.score


def test_missing_at_risk_start_starts_at_first_infection() -> None:
    h = history(episode(days(100)), episode(days(300)), start=None)
    r = aw.score(h, as_of=days(400))
    assert r.at_risk_start == days(100)
    assert [i.code for i in r.issues] == ["awakening.no_at_risk_start"]
    assert r.score > r.background


def test_as_of_before_at_risk_start_is_zero() -> None:
    r = aw.score(history(episode(days(10))), as_of=days(-30))
    assert r.score == 0.0 and r.background == 0.0 and r.hazard_multiplier == 1.0


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        aw.score(history(), as_of=days(10), preset="rat")
    with pytest.raises(ConfigError):
        aw.score(history(), as_of=dt.datetime(2020, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        aw.score_many([history()], as_of=[days(1), days(2)])


def test_score_many_and_trajectory_agree_exactly_with_score() -> None:
    hs = [
        history(),
        history(episode(days(50), "covid19", "hospitalised", il6=80.0)),
        history(
            episode(days(5)),
            episode(days(9), "covid19"),
            episode(days(700), "influenza", "critical"),
        ),
        history(episode(days(300), steroids=True), start=None),
    ]
    dates = [days(60), days(400), days(710), days(900)]
    batch = aw.score_many(hs, as_of=dates)
    for i, (h, d) in enumerate(zip(hs, dates, strict=True)):
        r = aw.score(h, as_of=d)
        assert batch.score[i] == r.score
        assert batch.background[i] == r.background
        assert batch.hazard_multiplier[i] == r.hazard_multiplier
    tr = aw.score(hs[2], as_of=days(710)).trajectory(days(0), days(710), step_days=10)
    assert tr.dates[0] == np.datetime64(days(0)) and tr.dates[-1] == np.datetime64(days(710))
    for i in (0, 1, 30, 71):
        d = tr.dates[i].astype(dt.date)
        assert tr.score[i] == aw.score(hs[2], as_of=d).score


def test_score_each_equals_score_one_by_one() -> None:
    """One solve for a batch gives each history exactly its own result, issues included."""
    hs = [
        history(),
        history(episode(days(50), "covid19", "hospitalised", il6=80.0)),
        history(
            episode(days(700), "influenza", "critical"),
            episode(days(5)),
            episode(days(9), "covid19", blockade=True),
            episode(days(2000)),  # after as_of: not counted
        ),
        history(episode(days(300), steroids=True), start=None),
        history(episode(days(-30)), episode(days(40), "rsv")),  # one before the at-risk start
    ]
    dates = [days(60), days(400), days(710), days(900), days(100)]
    batch = aw.score_each(hs, as_of=dates)
    assert len(batch) == len(hs)
    for h, d, result in zip(hs, dates, batch, strict=True):
        assert result == aw.score(h, as_of=d)
    assert [i.code for i in batch[4].issues] == ["awakening.before_at_risk"]
    assert aw.score_each(hs, as_of=days(710))[2] == batch[2]
    with pytest.raises(ConfigError):
        aw.score_each(hs, as_of=dates[:2])


def test_slow_awakened_is_the_awakened_half_of_slow_map() -> None:
    c = compile_params(aw.load_params())
    rng = np.random.default_rng(2)
    dormant, awakened, dt_days = rng.random(200), rng.random(200), rng.uniform(-10, 9000, 200)
    _, expected = slow_map(c, dormant, awakened, dt_days)
    assert np.array_equal(slow_awakened(c, dormant, awakened, dt_days), expected)


def test_parameter_sets_hash_by_value_after_pickling() -> None:
    """The kept hash is not carried to another process, whose str hashes differ."""
    import os
    import pickle
    import subprocess
    import sys

    code = (
        "import pickle, sys; from riskcalc.awakening import load_params; p = load_params(); "
        "hash(p); sys.stdout.buffer.write(pickle.dumps(p))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, env=env)
    here = aw.load_params()
    there = pickle.loads(out.stdout)
    assert there == here and hash(there) == hash(here)
    changed = here.with_value("il6_baseline_pg_ml", 3.0)
    assert changed != here and hash(changed) == hash(here.with_value("il6_baseline_pg_ml", 3.0))


def test_carry_over_off_counts_only_the_latest_cluster() -> None:
    severe = episode(days(100), "covid19", "critical")
    mild = episode(days(800))
    coinfection = episode(days(803), "covid19", "mild")
    h = history(severe, mild, coinfection)
    on = aw.score(h, as_of=days(900))
    off = aw.score(h, as_of=days(900), carry_over=False)
    latest_only = aw.score(history(mild, coinfection), as_of=days(900))
    assert off.score == pytest.approx(latest_only.score, rel=1e-12)
    assert off.contributions[0].contribution == 0.0
    assert sum(c.contribution for c in off.contributions) == pytest.approx(
        off.score - off.background, rel=1e-12
    )
    assert on.score > off.score
    # a single episode: the switch changes nothing
    one = history(severe)
    assert (
        aw.score(one, as_of=days(900), carry_over=False).score
        == aw.score(one, as_of=days(900)).score
    )


def test_kernel_integrates_its_shape() -> None:
    c = compile_params(aw.load_params())
    length = np.array([7.0, 16.0, 24.0, 3.0])
    grid = np.linspace(0, 30, 30001)
    for L in length:
        values = kernel_value(c, grid, np.full_like(grid, L))
        assert values.max() == pytest.approx(1.0)
        cum = np.concatenate([[0.0], np.cumsum((values[1:] + values[:-1]) / 2 * np.diff(grid))])
        exact = kernel_cumulative(c, grid, np.full_like(grid, L))
        assert np.max(np.abs(cum - exact)) < 1e-6
    # the influenza pulse peaks on day 2 (evidence.md row 14)
    assert kernel_value(c, np.array([2.0]), np.array([7.0]))[0] == 1.0


def _ode_reference(
    preset: str, eps: list[tuple[float, int, int]], t_end: float
) -> tuple[float, float]:
    """(D, A) at t_end from a stiff numerical solution of the full ODE (no splitting)."""
    c = compile_params(aw.load_params(preset))
    onsets = np.array([e[0] for e in eps])
    pathogen = np.array([e[1] for e in eps])
    severity = np.array([e[2] for e in eps])
    length = c.inflamed_table_days[pathogen, severity]
    amp = signal_amplitude(
        c,
        c.peak_table_pg_ml[pathogen, severity],
        np.zeros(len(eps), bool),
        np.zeros(len(eps), bool),
    )

    def rhs(t: float, y: np.ndarray) -> list[float]:
        sigma = float(np.sum(amp * kernel_value(c, t - onsets, length)))
        wake = c.lambda0_per_day + c.alpha_per_day * sigma
        d, a = y
        return [
            -wake * d + c.rho_per_day * a,
            wake * d + (c.gamma_per_day * sigma - c.rho_per_day) * a,
        ]

    breaks = sorted(
        {
            0.0,
            t_end,
            *[o + x for o in onsets for x in (0.0, c.rise_days)],
            *[o + L - c.fall_days for o, L in zip(onsets, length, strict=True)],
            *[o + L for o, L in zip(onsets, length, strict=True)],
        }
    )
    y = np.array([1.0, 0.0])
    for a, b in itertools.pairwise(breaks):
        if b > t_end or b <= a:
            continue
        y = solve_ivp(rhs, (a, b), y, method="LSODA", rtol=1e-10, atol=1e-14).y[:, -1]
    return float(y[0]), float(y[1])


@pytest.mark.parametrize(
    ("preset", "eps", "t_end", "tol"),
    [
        # first-order splitting error, of order rho x pulse length: measured 1.6-2.7 % (human),
        # 1.2-4.5 % (mouse); the bounds documented in docs/science/awakening.md
        ("human", [(100.0, 0, 1)], 116.0, 0.035),
        ("human", [(100.0, 0, 1)], 400.0, 0.035),
        ("human", [(100.0, 1, 0), (110.0, 0, 2), (900.0, 1, 2)], 1200.0, 0.035),
        ("mouse", [(30.0, 1, 0)], 33.0, 0.06),
        ("mouse", [(30.0, 1, 0)], 44.0, 0.06),
        ("mouse", [(30.0, 1, 0)], 300.0, 0.06),
    ],
)
def test_event_solver_matches_the_full_ode(preset, eps, t_end, tol) -> None:
    d_ref, a_ref = _ode_reference(preset, eps, t_end)
    n = len(eps)
    out = aw.score_arrays(
        onset_days=np.array([[e[0] for e in eps]]),
        as_of_days=np.array([t_end]),
        il6_peak_pg_ml=np.full((1, n), np.nan),
        pathogen=np.array([[e[1] for e in eps]]),
        severity=np.array([[e[2] for e in eps]]),
        il6_blockade=np.zeros((1, n), bool),
        corticosteroids=np.zeros((1, n), bool),
        mask=np.ones((1, n), bool),
        preset=preset,
    )
    a, d = float(out.awakened_burden[0]), float(out.dormant_burden[0])
    assert abs(a - a_ref) <= tol * a_ref
    assert abs((a + d) - (a_ref + d_ref)) <= tol * (a_ref + d_ref)


def test_background_matches_willis_escape_rate() -> None:
    # Without infection and without re-dormancy, the awakened fraction after t years is
    # 1 - 2^(-t / half-life) (evidence.md row 16); re-dormancy only lowers it.
    p = aw.load_params()
    half = p["background_escape_half_life_years"]
    no_return = p.with_value("redormancy_half_life_days", 1e12)
    r = aw.score(history(), as_of=days(round(10 * 365.25)), params=no_return)
    assert r.awakened_burden == pytest.approx(1 - 2 ** (-10 / half), rel=1e-3)
    assert aw.score(history(), as_of=days(round(10 * 365.25))).awakened_burden < r.awakened_burden


def test_il6_units() -> None:
    assert aw.il6_to_pg_ml(36.7, "ng/L") == aw.il6_to_pg_ml(36.7, "pg/mL") == 36.7
    assert aw.il6_to_pg_ml(0.05, "ng/mL") == pytest.approx(50.0)
    assert aw.il6_to_pg_ml(50.0, "ug/L") == pytest.approx(50_000.0)
    assert aw.il6_to_pg_ml(1000.0, " PG/L ") == pytest.approx(1.0)
    assert aw.il6_unit_known("ng/L") and not aw.il6_unit_known("mmol/L")
    with pytest.raises(InputError) as err:
        aw.il6_to_pg_ml(1.0, "mmol/L")
    assert err.value.code == "input.unit_unknown"
    with pytest.raises(InputError):
        aw.il6_to_pg_ml(math.nan, "pg/mL")


def test_parameter_file_is_complete_and_consistent() -> None:
    for preset in aw.Preset:
        p = aw.load_params(preset)
        assert p.version == aw.parameters_version()
        for q in p.parameters:
            assert q.low <= q.value <= q.high, q.name
            assert q.source.strip() and q.unit.strip(), q.name
            assert q.confidence in aw.Confidence
        for pathogen in Pathogen:
            ranks = [Severity.MILD, Severity.HOSPITALISED, Severity.CRITICAL]
            peaks = [p[p.peak_name(pathogen, s)] for s in ranks]
            lengths = [p[p.inflamed_name(pathogen, s)] for s in ranks]
            # defaults never fall with severity (a property the tests below rely on)
            assert peaks == sorted(peaks) and lengths == sorted(lengths)
            assert min(lengths) >= p["kernel_rise_days"] + p["kernel_fall_days"]
    with pytest.raises(ConfigError):
        aw.load_params().with_value("no_such_parameter", 1.0)


def test_public_api_names() -> None:
    for name in aw.__all__:
        assert hasattr(aw, name), name
    assert len(set(aw.__all__)) == len(aw.__all__)
