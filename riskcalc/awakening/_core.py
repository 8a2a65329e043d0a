"""The numerical core: the dormant/awakened compartment model solved event by event with numpy.

State per patient: dormant burden ``D`` and awakened burden ``A``, in units of the dormant pool at
the at-risk start (``D(0) = 1``, ``A(0) = 0``). Two exact maps move the state (docs/science/
awakening.md gives the derivation):

* between episodes (slow, years): a two-state chain, dormant → awakened at the background escape
  rate ``λ0`` and awakened → dormant (re-dormancy, cells shielded rather than killed) at ``ρ``;
* one episode (fast, days): with IL-6 signal ``σ(t) = h · k(t)``, awakening ``α σ D`` and expansion
  ``γ σ A``; both rates are proportional to ``σ``, so in the signal clock ``S = ∫ σ dt`` the
  system is autonomous and solved exactly.

The episode map is applied at the episode's onset with the signal accumulated up to ``as_of``, and
the slow map runs on the calendar clock (first-order operator splitting; its error is at most of
order ``ρ × pulse length`` and is checked against a numerical solution of the full ODE in the
tests). Every operation is elementwise over patients, and a history costs only its episodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from riskcalc.awakening._params import (
    PATHOGEN_CODES,
    SEVERITY_CODES,
    AwakeningParams,
    parameters_document,
)
from riskcalc.history import Pathogen, Severity

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.integer]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12


@dataclass(frozen=True)
class Compiled:
    """Parameters as the core uses them: rates per day and lookup tables by (pathogen, severity)."""

    baseline_pg_ml: float
    half_saturation_pg_ml: float
    blockade_factor: float
    corticosteroid_factor: float
    rise_days: float
    fall_days: float
    alpha_per_day: float
    gamma_per_day: float
    rho_per_day: float
    lambda0_per_day: float
    peak_table_pg_ml: FloatArray  # [pathogen code, severity code]
    inflamed_table_days: FloatArray  # [pathogen code, severity code]


@dataclass(frozen=True)
class RawSolution:
    """Burdens at ``as_of`` (units of the initial dormant pool) and per-episode contributions.

    ``contributions`` is in the caller's column order; masked or uncounted episodes hold 0.
    """

    awakened: FloatArray
    dormant: FloatArray
    background: FloatArray
    contributions: FloatArray


@lru_cache(maxsize=512)
def compile_params(params: AwakeningParams) -> Compiled:
    """Turn a parameter set into rates per day and (pathogen × severity) tables."""
    peak = np.empty((len(PATHOGEN_CODES), len(SEVERITY_CODES)))
    inflamed = np.empty_like(peak)
    for i, pathogen in enumerate(PATHOGEN_CODES):
        for j, severity in enumerate(SEVERITY_CODES):
            peak[i, j] = params[params.peak_name(pathogen, severity)]
            inflamed[i, j] = params[params.inflamed_name(pathogen, severity)]
    peak.setflags(write=False)
    inflamed.setflags(write=False)
    rho_half = params["redormancy_half_life_days"]
    escape_half = params["background_escape_half_life_years"] * DAYS_PER_YEAR
    return Compiled(
        baseline_pg_ml=params["il6_baseline_pg_ml"],
        half_saturation_pg_ml=params["il6_half_saturation_pg_ml"],
        blockade_factor=params["il6_blockade_factor"],
        corticosteroid_factor=params["corticosteroid_factor"],
        rise_days=params["kernel_rise_days"],
        fall_days=params["kernel_fall_days"],
        alpha_per_day=params["awakening_rate_per_day"],
        gamma_per_day=params["expansion_rate_per_day"],
        rho_per_day=math.log(2) / rho_half if rho_half > 0 else math.inf,
        lambda0_per_day=math.log(2) / escape_half if escape_half > 0 else math.inf,
        peak_table_pg_ml=peak,
        inflamed_table_days=inflamed,
    )


def signal_amplitude(
    c: Compiled, peak_pg_ml: FloatArray, blockade: BoolArray, corticosteroids: BoolArray
) -> FloatArray:
    """Signal ``h = f_block · u / (u + K)``, in [0, 1).

    ``u`` is the excess IL-6 over baseline, lowered by corticosteroids (which reduce IL-6
    production, so they act before saturation); IL-6 blockade blocks the receptor, so it scales
    the signal itself, whatever the IL-6 level (tocilizumab even raises serum IL-6).
    """
    excess = np.maximum(peak_pg_ml - c.baseline_pg_ml, 0.0)
    excess = excess * np.where(corticosteroids, c.corticosteroid_factor, 1.0)
    if c.half_saturation_pg_ml <= 0:
        saturated = (excess > 0).astype(np.float64)
    else:
        saturated = excess / (excess + c.half_saturation_pg_ml)
    return saturated * np.where(blockade, c.blockade_factor, 1.0)


def kernel_cumulative(c: Compiled, tau_days: FloatArray, length_days: FloatArray) -> FloatArray:
    """``∫_0^τ k(s) ds`` of the trapezoid pulse (peak 1), in days.

    The pulse rises linearly over ``rise_days`` to 1, stays there, and falls linearly over
    ``fall_days`` to 0 at ``length_days``; a pulse shorter than rise + fall loses part of its fall.
    """
    length = np.maximum(length_days, 0.0)
    rise = np.minimum(c.rise_days, length)
    fall = np.minimum(c.fall_days, length - rise)
    plateau = length - rise - fall
    tau = np.clip(tau_days, 0.0, length)
    rise_safe = np.maximum(rise, 1e-300)
    fall_safe = np.maximum(fall, 1e-300)
    in_fall = np.clip(tau - rise - plateau, 0.0, None)
    return np.where(
        tau <= rise,
        tau * tau / (2.0 * rise_safe),
        np.where(
            tau <= rise + plateau,
            rise / 2.0 + (tau - rise),
            rise / 2.0 + plateau + in_fall - in_fall * in_fall / (2.0 * fall_safe),
        ),
    )


def kernel_value(c: Compiled, tau_days: FloatArray, length_days: FloatArray) -> FloatArray:
    """``k(τ)``, the pulse shape itself (for plots and the ODE check)."""
    length = np.maximum(length_days, 0.0)
    rise = np.minimum(c.rise_days, length)
    fall = np.minimum(c.fall_days, length - rise)
    plateau = length - rise - fall
    tau = np.asarray(tau_days, dtype=np.float64)
    up = np.clip(tau / np.maximum(rise, 1e-300), 0.0, 1.0)
    down = np.clip((length - tau) / np.maximum(fall, 1e-300), 0.0, 1.0)
    inside = (tau >= 0) & (tau <= length)
    value = np.where(tau <= rise + plateau, up, down)
    return np.where(inside, value, 0.0)


def slow_map(
    c: Compiled, dormant: FloatArray, awakened: FloatArray, dt_days: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Exact solution over ``dt`` of ``D' = -λ0 D + ρ A``, ``A' = λ0 D - ρ A`` (no inflammation)."""
    rates = _slow_rates(c, dt_days)
    if rates is None:
        return dormant, awakened
    wake, stay_awake = rates
    new_awakened = dormant * wake + awakened * stay_awake
    new_dormant = dormant * (1.0 - wake) + awakened * (1.0 - stay_awake)
    return new_dormant, new_awakened


def slow_awakened(
    c: Compiled, dormant: FloatArray, awakened: FloatArray, dt_days: FloatArray
) -> FloatArray:
    """The awakened burden of :func:`slow_map` alone: its arithmetic, without the dormant half.

    The solver needs only this at ``as_of`` after each episode (5 numpy calls saved, 2.5 µs).
    """
    rates = _slow_rates(c, dt_days)
    if rates is None:
        return awakened
    wake, stay_awake = rates
    return dormant * wake + awakened * stay_awake


def _slow_rates(c: Compiled, dt_days: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """Shares of the dormant that wake and of the awakened that stay awake over ``dt``."""
    kappa = c.lambda0_per_day + c.rho_per_day
    if kappa == 0:
        return None
    pi = c.lambda0_per_day / kappa
    moved = -np.expm1(-kappa * np.maximum(dt_days, 0.0))  # 1 - exp(-κ dt)
    return pi * moved, 1.0 - (1.0 - pi) * moved


def fast_map(
    c: Compiled, dormant: FloatArray, awakened: FloatArray, signal_days: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Exact solution of ``dD/dS = -α D``, ``dA/dS = α D + γ A`` over a signal integral ``S``."""
    a, g = c.alpha_per_day, c.gamma_per_day
    asleep = np.exp(-a * signal_days)
    grown = np.exp(g * signal_days)
    if a + g > 0:
        woken = a * asleep * np.expm1((a + g) * signal_days) / (a + g)
    else:
        woken = np.zeros_like(signal_days)
    return dormant * asleep, awakened * grown + dormant * woken


def background_awakened(c: Compiled, t_days: FloatArray) -> FloatArray:
    """``A(t)`` without any infection, from ``D = 1``, ``A = 0`` at the at-risk start."""
    return slow_awakened(c, np.ones_like(t_days), np.zeros_like(t_days), t_days)


def solve(
    c: Compiled,
    *,
    onset_days: FloatArray,
    as_of_days: FloatArray,
    il6_peak_pg_ml: FloatArray,
    pathogen: IntArray,
    severity: IntArray,
    il6_blockade: BoolArray,
    corticosteroids: BoolArray,
    mask: BoolArray,
    carry_over: bool,
) -> RawSolution:
    """Burdens at ``as_of`` for ``n`` patients with up to ``k`` episodes (arrays ``(n, k)``).

    Episodes count when ``mask`` is set and ``0 <= onset <= as_of`` (days from the at-risk start).
    Contributions are sequential: episode ``e`` gets ``A_T(first e episodes) - A_T(first e - 1)``
    in onset order, so they sum to ``A_T - A_T(no episodes)``. Without carry-over the state is set
    back to the infection-free state at each episode that starts after every earlier pulse ended;
    only the episodes of the last such cluster then contribute.
    """
    as_of = np.maximum(np.asarray(as_of_days, dtype=np.float64), 0.0)
    n, k = onset_days.shape
    peak = np.where(
        np.isnan(il6_peak_pg_ml), c.peak_table_pg_ml[pathogen, severity], il6_peak_pg_ml
    )
    length = c.inflamed_table_days[pathogen, severity]
    amplitude = signal_amplitude(c, peak, il6_blockade, corticosteroids)
    signal = amplitude * kernel_cumulative(c, as_of[:, None] - onset_days, length)
    valid = mask & (onset_days >= 0) & (onset_days <= as_of[:, None])

    dormant = np.ones(n)
    awakened = np.zeros(n)
    background = slow_awakened(c, dormant, awakened, as_of)  # background_awakened(c, as_of)
    t_prev = np.zeros(n)
    value_prev = background.copy()
    contributions_sorted = np.zeros((n, k))
    if k == 0:
        return RawSolution(
            awakened=background,
            dormant=1.0 - background,
            background=background,
            contributions=contributions_sorted,
        )

    # Episodes in onset order (then signal). A fancy index with the row numbers is the gather of
    # take_along_axis without its index building (3 µs a call); one slot is in order already.
    order: IntArray | None = None
    onset_s, signal_s, valid_s, length_s = onset_days, signal, valid, length
    if k > 1:
        order = np.lexsort((signal, np.where(valid, onset_days, np.inf)), axis=-1)
        rows = np.arange(n)[:, None]
        onset_s, signal_s = onset_days[rows, order], signal[rows, order]
        valid_s, length_s = valid[rows, order], length[rows, order]
    if not carry_over:
        cluster_end = np.full(n, -np.inf)
        cluster = np.zeros((n, k), dtype=np.int64)
        cluster_id = np.zeros(n, dtype=np.int64)
    for j in range(k):
        ok = valid_s[:, j]
        t_j = np.where(ok, onset_s[:, j], t_prev)
        d1, a1 = slow_map(c, dormant, awakened, t_j - t_prev)
        base = value_prev
        if not carry_over:
            restart = ok & (t_j >= cluster_end)
            cluster_id = cluster_id + restart
            a_bg = background_awakened(c, t_j)
            d1 = np.where(restart, 1.0 - a_bg, d1)
            a1 = np.where(restart, a_bg, a1)
            base = np.where(restart, background, value_prev)
            cluster_end = np.where(ok, np.maximum(cluster_end, t_j + length_s[:, j]), cluster_end)
            cluster[:, j] = cluster_id
        d2, a2 = fast_map(c, d1, a1, np.where(ok, signal_s[:, j], 0.0))
        value = slow_awakened(c, d2, a2, as_of - t_j)
        contributions_sorted[:, j] = np.where(ok, value - base, 0.0)
        dormant = np.where(ok, d2, dormant)
        awakened = np.where(ok, a2, awakened)
        t_prev = t_j
        value_prev = np.where(ok, value, value_prev)
    if not carry_over:
        contributions_sorted = np.where(cluster == cluster_id[:, None], contributions_sorted, 0.0)
    dormant, awakened = slow_map(c, dormant, awakened, as_of - t_prev)
    contributions = contributions_sorted
    if order is not None:
        contributions = np.empty_like(contributions_sorted)
        contributions[np.arange(n)[:, None], order] = contributions_sorted
    return RawSolution(
        awakened=awakened, dormant=dormant, background=background, contributions=contributions
    )


@dataclass(frozen=True)
class Derived:
    """Quantities fixed by a parameter set: the unit of the score and the hazard scale.

    Attributes
    ----------
    reference_burden
        Excess awakened burden of the reference episode (score 1.0).
    hazard_per_score
        ``β`` of the link ``HM = 1 + β · (score - background)``.
    calibration_excess
        Time-averaged excess score of one COVID-19 episode per severity class over the
        calibration window (mild, hospitalised, critical).
    """

    reference_burden: float
    hazard_per_score: float
    calibration_excess: tuple[float, float, float]


def _single_episode(
    c: Compiled,
    *,
    onset_days: float,
    as_of_days: FloatArray,
    pathogen: Pathogen,
    severity: Severity,
) -> RawSolution:
    m = as_of_days.shape[0]
    return solve(
        c,
        onset_days=np.full((m, 1), onset_days),
        as_of_days=as_of_days,
        il6_peak_pg_ml=np.full((m, 1), np.nan),
        pathogen=np.full((m, 1), PATHOGEN_CODES.index(pathogen)),
        severity=np.full((m, 1), SEVERITY_CODES.index(severity)),
        il6_blockade=np.zeros((m, 1), dtype=bool),
        corticosteroids=np.zeros((m, 1), dtype=bool),
        mask=np.ones((m, 1), dtype=bool),
        carry_over=True,
    )


@lru_cache(maxsize=512)
def derive(params: AwakeningParams) -> Derived:
    """Score unit (reference episode) and hazard calibration of a parameter set.

    The hazard link is ``HM(t) = 1 + β (score(t) - background(t))``. ``β`` is set so that the
    time average of HM over ``calibration_window_months`` after one COVID-19 episode, starting
    ``calibration_onset_years`` after the at-risk start and weighted over severity by the
    calibration case mix, equals ``hazard_target_hr``: ``β = (HR - 1) / mean excess score``.
    """
    c = compile_params(params)
    ref = parameters_document()["reference_episode"]
    onset = float(ref["onset_days_after_at_risk_start"])
    at = np.array([onset + float(ref["measured_days_after_onset"])])
    sol = _single_episode(
        c,
        onset_days=onset,
        as_of_days=at,
        pathogen=Pathogen(ref["pathogen"]),
        severity=Severity(ref["severity"]),
    )
    reference = float(sol.awakened[0] - sol.background[0])
    if not reference > 0:
        reference = math.nan

    onset_cal = params["calibration_onset_years"] * DAYS_PER_YEAR
    grid = onset_cal + np.arange(
        0.0, round(params["calibration_window_months"] * DAYS_PER_MONTH) + 1
    )
    excess = []
    for severity in SEVERITY_CODES:
        s = _single_episode(
            c, onset_days=onset_cal, as_of_days=grid, pathogen=Pathogen.COVID19, severity=severity
        )
        excess.append(float(np.mean(s.awakened - s.background)) / reference)
    weights = np.array([params[f"calibration_weight.{s.value}"] for s in SEVERITY_CODES])
    mean_excess = float(np.dot(weights, excess) / weights.sum())
    beta = (params["hazard_target_hr"] - 1.0) / mean_excess if mean_excess > 0 else 0.0
    return Derived(
        reference_burden=reference,
        hazard_per_score=beta,
        calibration_excess=(excess[0], excess[1], excess[2]),
    )
