"""The long fuzz run (`make fuzz`): the robustness properties with a large example budget.

``RISKCALC_FUZZ_EXAMPLES`` (default 200,000) examples **per test**; the run and its result are
reported in docs/robustness.md. Skipped by the normal suite (marker ``fuzz``); the same
properties run there with a small budget (tests/robustness/test_robustness_fuzz.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "robustness"))

from robustness_props import (
    check_assess,
    check_bundle,
    mutate,
    read_everything,
)
from robustness_strategies import bundles, ndjson_exports

EXAMPLES = int(os.environ.get("RISKCALC_FUZZ_EXAMPLES", "200000"))
LONG = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(0)]


@LONG
@given(bundles())
def test_fuzz_bundles(bundle: dict[str, Any]) -> None:
    check_bundle(bundle)


@LONG
@given(ndjson_exports())
def test_fuzz_ndjson(data: bytes) -> None:
    read_everything(data)


@LONG
@given(bundles(), st.integers(0, 10**6), st.integers(0, 3), st.binary(max_size=8))
def test_fuzz_mutated_bytes(bundle: dict[str, Any], position: int, kind: int, junk: bytes) -> None:
    raw = orjson.dumps(bundle, option=orjson.OPT_NON_STR_KEYS)
    read_everything(mutate(raw, position, kind, junk))


@pytest.fixture(scope="module")
def default_model() -> Any:
    """The default model; until models/default exists, a small model trained here (about a
    minute: 3,000 simulated patients), so that assess is fuzzed all the same."""
    from riskcalc.errors import ModelError
    from riskcalc.model import load_model, train_model

    try:
        return load_model()
    except ModelError:
        from riskcalc.model.build_default import simulated_cohort

        cohort = simulated_cohort(3000, 11)
        model, _ = train_model(cohort, trained_on="fuzz stand-in", simulated=True, n_boot=5)
        return model


@given(bundles())
@settings(LONG, max_examples=max(1, EXAMPLES // 10))
def test_fuzz_assess(default_model: Any, bundle: dict[str, Any]) -> None:
    check_assess(bundle, default_model)
