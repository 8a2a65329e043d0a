"""The two analyses: Cox with (start, stop] rows and Mantel-Haenszel, against known answers."""

from __future__ import annotations

import numpy as np
import pytest

from riskcalc.cohort._analysis import UkbRow, cox_time_varying, mantel_haenszel_or


def _exp_data(n: int, hr: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.random(n) < 0.5).astype(float)
    t = rng.exponential(1.0 / np.where(x == 1, 0.1 * hr, 0.1))
    c = rng.uniform(0, 15, n)
    return np.minimum(t, c), (t <= c), x


def test_cox_recovers_a_known_hazard_ratio() -> None:
    stop, event, x = _exp_data(20000, 2.0, 1)
    beta, cov = cox_time_varying(np.zeros_like(stop), stop, event, x[:, None])
    se = float(np.sqrt(cov[0, 0]))
    assert abs(float(beta[0]) - np.log(2.0)) < 3 * se


def test_splitting_rows_does_not_change_the_cox_fit() -> None:
    stop, event, x = _exp_data(3000, 1.5, 2)
    b1, c1 = cox_time_varying(np.zeros_like(stop), stop, event, x[:, None])
    mid = stop / 2
    start2 = np.concatenate([np.zeros_like(stop), mid])
    stop2 = np.concatenate([mid, stop])
    event2 = np.concatenate([np.zeros_like(event), event])
    x2 = np.concatenate([x, x])[:, None]
    b2, c2 = cox_time_varying(start2, stop2, event2, x2)
    assert b2 == pytest.approx(b1, abs=1e-9)
    assert c2 == pytest.approx(c1, rel=1e-9)


def test_time_varying_exposure_is_not_immortal_time() -> None:
    # Exposure that happens late, with no effect: a time-fixed "ever exposed" analysis shows a
    # spurious protective effect (immortal time); the time-varying one does not.
    rng = np.random.default_rng(3)
    n = 20000
    t = rng.exponential(10.0, n)
    te = rng.uniform(0, 20, n)
    stop = np.minimum(t, 20.0)
    event = t <= 20.0
    exposed = te < stop
    fixed, _ = cox_time_varying(np.zeros(n), stop, event, exposed.astype(float)[:, None])
    start_rows = np.concatenate([np.zeros(n), te[exposed]])
    stop_rows = np.concatenate([np.where(exposed, te, stop), stop[exposed]])
    ev_rows = np.concatenate([np.where(exposed, False, event), event[exposed]])
    x_rows = np.concatenate([np.zeros(n), np.ones(int(exposed.sum()))])[:, None]
    tv, cov = cox_time_varying(start_rows, stop_rows, ev_rows, x_rows)
    assert float(fixed[0]) < -0.3
    assert abs(float(tv[0])) < 3 * float(np.sqrt(cov[0, 0]))


def _rows(a: int, b: int, c: int, d: int, stratum: tuple[str, int]) -> list[UkbRow]:
    return (
        [UkbRow(stratum, True, True)] * a
        + [UkbRow(stratum, True, False)] * b
        + [UkbRow(stratum, False, True)] * c
        + [UkbRow(stratum, False, False)] * d
    )


def test_mantel_haenszel_single_stratum_is_the_crude_or_with_woolf_ci() -> None:
    est = mantel_haenszel_or(_rows(20, 480, 80, 3920, ("female", 13)))
    assert est.estimate == pytest.approx((20 * 3920) / (480 * 80))
    se = np.sqrt(1 / 20 + 1 / 480 + 1 / 80 + 1 / 3920)
    assert est.ci_low == pytest.approx(est.estimate * np.exp(-1.959964 * se), rel=1e-5)
    assert est.n == 4500 and est.events == 100


def test_mantel_haenszel_removes_confounding_by_stratum() -> None:
    # OR 1 within each stratum, exposure and outcome both commoner in the older stratum.
    rows = _rows(10, 90, 10, 90, ("male", 16)) + _rows(40, 60, 160, 240, ("male", 13))
    crude_exposed = 50 / 200
    crude_unexposed = 170 / 500
    assert crude_exposed != crude_unexposed
    assert mantel_haenszel_or(rows).estimate == pytest.approx(1.0)
