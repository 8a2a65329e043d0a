"""The block-wise nesting scans equal a plain character walk, across block boundaries too: of a
whole document (``max_depth``) and of each NDJSON line (``deep_lines``)."""

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


#: NDJSON lines: whole compact JSON documents, and documents cut anywhere (a truncated export:
#: brackets and strings left open, which must say nothing about the next line).
_LINE = st.one_of(
    _JSON.map(orjson.dumps),
    st.tuples(_JSON, st.integers(0, 120)).map(lambda t: orjson.dumps(t[0])[: t[1]]),
)


@pytest.mark.parametrize("block_bytes", [1, 5, 1 << 22])
@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LINE, max_size=12), limit=st.integers(0, 4))
def test_deep_lines_match_a_character_walk_of_each_line(
    block_bytes: int, lines: list[bytes], limit: int
) -> None:
    data = b"\n".join(lines)
    expected = {
        number: depth
        for number, line in enumerate(data.split(b"\n"), start=1)
        if (depth := _reference_depth(line)) > limit
    }
    assert _source.deep_lines(data, limit, block_bytes=block_bytes) == expected


def test_truncated_lines_do_not_add_up() -> None:
    cut = b'{"resourceType":"Condition","subject":{"reference":'  # depth 2, left open
    data = b"\n".join([cut] * 40 + [b'{"a":"' + b"[" * 100 + b'"}', b"[" * 70 + b"]" * 70])
    assert _source.max_depth(data) > 64  # counted over the whole text, the open brackets add up
    assert _source.deep_lines(data, 64) == {42: 70}  # per line, only the one really deep
