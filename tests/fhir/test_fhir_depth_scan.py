"""The block-wise nesting scan equals a plain character walk, across block boundaries too."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskcalc.fhir import _source


def _reference_depth(data: bytes) -> int:
    """Deepest nesting by walking the characters, tracking strings and escapes."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}]":
            depth -= 1
    return deepest


_TEXT = st.text(alphabet='ab"\\{}[]:,', max_size=8)
_JSON = st.recursive(
    st.none() | st.integers(-1000, 1000) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=30,
)


@pytest.mark.parametrize("block_bytes", [1, 2, 7, 1 << 18])
@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_scan_matches_a_character_walk(block_bytes: int, value: object) -> None:
    data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    assert _source.max_depth(data, block_bytes=block_bytes) == _reference_depth(data)
