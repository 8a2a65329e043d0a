"""The training ranges as arrays flag exactly the features a check of each range would."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from riskcalc.features import FEATURE_NAMES
from riskcalc.model import load_model
from riskcalc.model._risk_model import FeatureBounds


def _one_by_one(
    row: np.ndarray, ranges: dict[str, tuple[float, float]]
) -> list[tuple[str, float, float, float]]:
    out = []
    for name, (low, high) in ranges.items():
        value = float(row[FEATURE_NAMES.index(name)]) if name in FEATURE_NAMES else math.nan
        if math.isnan(value) or math.isnan(low) or low <= value <= high:
            continue
        out.append((name, value, low, high))
    return out


def test_outside_flags_what_each_range_check_flags() -> None:
    names = list(FEATURE_NAMES)
    ranges = {name: (float(i), float(i) + 2.0) for i, name in enumerate(reversed(names))}
    ranges[names[0]] = (math.nan, math.nan)  # unknown range: never flagged
    ranges[names[1]] = (0.0, math.nan)  # no upper bound known: every value is outside
    ranges["not_a_feature"] = (0.0, 1.0)
    rng = np.random.default_rng(1)
    bounds = FeatureBounds.of(ranges)
    for _ in range(50):
        row = rng.uniform(-5, 70, len(names))
        row[rng.random(len(names)) < 0.2] = math.nan
        assert repr(bounds.outside(row)) == repr(_one_by_one(row, ranges))  # NaN != NaN


def test_the_model_keeps_its_bounds_until_its_ranges_change() -> None:
    model = dataclasses.replace(load_model())
    bounds = model.feature_bounds()
    assert model.feature_bounds() is bounds
    assert bounds.names == tuple(n for n in model.feature_ranges if n in FEATURE_NAMES)
    model.feature_ranges = {FEATURE_NAMES[0]: (0.0, 1.0)}
    assert model.feature_bounds().names == (FEATURE_NAMES[0],)
