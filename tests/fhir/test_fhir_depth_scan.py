"""The block-wise nesting scans equal a plain character walk, across block boundaries too: of a
whole document (``max_depth``) and of each NDJSON line (``deep_lines``); and the parse bounded by
orjson's own depth limit gives the verdict of a scan followed by a parse."""

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


def test_the_parser_limit_is_orjsons() -> None:
    """The bounded parse relies on orjson parsing PARSER_MAX_DEPTH levels and refusing one more."""
    deepest = _source.PARSER_MAX_DEPTH
    assert orjson.loads(b"[" * deepest + b"]" * deepest) is not None
    assert orjson.loads(b'{"a":' * deepest + b"1" + b"}" * deepest) is not None
    with pytest.raises(orjson.JSONDecodeError, match="depth"):
        orjson.loads(b"[" * (deepest + 1) + b"]" * (deepest + 1))
    with pytest.raises(orjson.JSONDecodeError, match="depth"):
        orjson.loads(b"[" * deepest + b"{}" + b"]" * deepest)


def _plain_verdict(data: bytes, limit: int) -> tuple[bool, object]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False, None
    return (True, value) if _reference_depth(data) <= limit else (False, None)


@settings(max_examples=400, deadline=None)
@given(value=_JSON, limit=st.integers(1, 6))
def test_bounded_parse_equals_a_scan_then_a_parse(value: object, limit: int) -> None:
    data = orjson.dumps(value)
    assert _source._loads_within_depth(data, limit) == _plain_verdict(data, limit)


@pytest.mark.parametrize(
    "text",
    [
        b"1], [2",  # closes the wrapping and opens a second item at the level above
        b'{"a": 1}, {"b": 2}',  # two values
        b"{}]]]], [[[[{}",
        b"[1]]",
        b"",
        b"]",
        b'{"a": "]], [["}',  # the brackets are in a string: one value
        b"[" * 64 + b"]" * 64,
        b"[" * 65 + b"]" * 65,
        b'{"x": ' * 64 + b"null" + b"}" * 64,
    ],
)
def test_bounded_parse_refuses_what_is_not_one_value_within_the_limit(text: bytes) -> None:
    assert _source._loads_within_depth(text, 64) == _plain_verdict(text, 64)


@pytest.mark.parametrize("bounded_up_to_bytes", [16 << 20, 0], ids=["bounded parse", "scan"])
def test_parse_json_reports_the_real_depth_and_the_real_syntax_error(
    bounded_up_to_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same verdicts whichever way the depth is checked (a document past 16 MB is scanned)."""
    from riskcalc.config import Limits
    from riskcalc.errors import InputError

    monkeypatch.setattr(_source, "_BOUNDED_PARSE_MAX_BYTES", bounded_up_to_bytes)
    limits = Limits(max_depth=4)
    with pytest.raises(InputError, match="nests 5 levels deep") as deep:
        _source.parse_json(b"[[[[[]]]]]", "x.json", limits)
    assert deep.value.code == "input.too_deep"
    with pytest.raises(InputError) as bad:
        _source.parse_json(b'{\n  "a": 1,\n  "b": }', "x.json", limits)
    assert (bad.value.code, bad.value.location) == ("input.json_syntax", "x.json:3:8")
    assert _source.parse_json(b'{"a": [[[1]]]}', "x.json", limits) == {"a": [[[1]]]}


# --- a dict source: the depth told by orjson serialising it, else by a walk -------------------


def _reference_value_depth(value: object) -> int:
    """Deepest nesting of dicts and lists, as the walk of ``_check_dict_depth`` counts it."""
    if isinstance(value, dict):
        return 1 + max((_reference_value_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_reference_value_depth(v) for v in value), default=0)
    return 0


def test_the_serializer_limit_is_orjsons() -> None:
    """The dict check relies on orjson serialising SERIALIZER_MAX_DEPTH levels, not one more."""
    deepest = _source.SERIALIZER_MAX_DEPTH
    nested_lists: object = 1
    nested_dicts: object = 1
    for _ in range(deepest):
        nested_lists, nested_dicts = [nested_lists], {"a": nested_dicts}
    assert orjson.dumps(nested_lists) and orjson.dumps(nested_dicts)
    with pytest.raises(orjson.JSONEncodeError, match="Recursion limit"):
        orjson.dumps([nested_lists])
    with pytest.raises(orjson.JSONEncodeError, match="Recursion limit"):
        orjson.dumps({"a": nested_dicts})


@settings(max_examples=400, deadline=None)
@given(value=_JSON, limit=st.integers(1, 6))
def test_serialised_depth_equals_a_walk(value: object, limit: int) -> None:
    assert _source._dumps_within_depth(value, limit) == (_reference_value_depth(value) <= limit)


@pytest.mark.parametrize(
    "value",
    [
        {"a": {1, 2}},  # a set: orjson refuses it, the walk does not look inside
        {"a": ({"b": [[[[1]]]]},)},  # a tuple: orjson counts it, the walk does not open it
        {1: [[[[1]]]]},  # a key that is not text
        {"a": [[[[[1]]]]]},  # deeper than the limit
        {"a": [[[1]]]},
    ],
)
def test_dict_sources_get_the_walks_verdict(value: dict[object, object]) -> None:
    """Whatever orjson makes of a dict, the check gives the verdict of the walk over it."""
    from riskcalc.config import Limits
    from riskcalc.errors import InputError

    limits = Limits(max_depth=4)
    deep = _reference_value_depth(value) > limits.max_depth
    if deep:
        with pytest.raises(InputError, match="nests deeper than the limit of 4") as error:
            _source._check_dict_depth(value, limits)
        assert error.value.code == "input.too_deep"
    else:
        _source._check_dict_depth(value, limits)
