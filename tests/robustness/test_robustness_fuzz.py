"""Property-based fuzzing of the reader (small budget; `make fuzz` runs the long version).

FHIR-shaped Bundles and NDJSON exports whose fields are right, wrongly typed or missing, and
byte-level mutations of them: only RiskCalcError subclasses may escape, and every result is
registered, finite and serialisable.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robustness_props import check_assess, check_bundle, mutate, read_everything
from robustness_strategies import bundles, ndjson_exports

FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FAST
@given(bundles())
def test_fhir_shaped_bundles_end_in_results_or_riskcalc_errors(bundle: dict) -> None:
    check_bundle(bundle)


@FAST
@given(ndjson_exports())
def test_ndjson_with_garbage_lines_ends_in_results_or_riskcalc_errors(data: bytes) -> None:
    read_everything(data)


@FAST
@given(bundles(), st.integers(0, 10**6), st.integers(0, 3), st.binary(max_size=8))
def test_mutated_bytes_end_in_results_or_riskcalc_errors(
    bundle: dict, position: int, kind: int, junk: bytes
) -> None:
    raw = orjson.dumps(bundle, option=orjson.OPT_NON_STR_KEYS)
    read_everything(mutate(raw, position, kind, junk))


@FAST
@given(st.binary(max_size=200))
def test_random_bytes_end_in_results_or_riskcalc_errors(data: bytes) -> None:
    read_everything(data)


@pytest.fixture(scope="module")
def default_model() -> Any:
    from riskcalc.errors import ModelError
    from riskcalc.model import load_model

    try:
        return load_model()
    except ModelError as exc:
        pytest.skip(f"no default model yet: {exc}")


@settings(FAST, max_examples=30)
@given(bundles())
def test_assess_on_fhir_shaped_bundles_ends_in_report_or_riskcalc_error(
    default_model: Any, bundle: dict
) -> None:
    check_assess(bundle, default_model)
