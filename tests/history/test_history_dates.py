"""The C fast path of ``parse_fhir_date`` agrees with the pattern it short-cuts, on every input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from riskcalc.history._dates import Bound, ParsedDate, _parse_by_pattern, parse_fhir_date


def _outcome(
    parse: Callable[[str, Bound], ParsedDate], value: str, bound: Bound
) -> ParsedDate | str:
    try:
        return parse(value, bound)
    except ValueError:
        return "refused"


_DIGITS = st.sampled_from("0123456789٠٣８")
_DATELIKE = st.builds(
    lambda y, m, d, tail: f"{''.join(y)}-{''.join(m)}-{''.join(d)}{tail}",
    st.lists(_DIGITS, min_size=4, max_size=4),
    st.lists(_DIGITS, min_size=2, max_size=2),
    st.lists(_DIGITS, min_size=2, max_size=2),
    st.sampled_from(["", "T", "T10:00:00Z", "T25:99", " ", "x", "-01", "T10:00:00+01:00 "]),
)


@given(value=st.one_of(_DATELIKE, st.text(max_size=14)), bound=st.sampled_from(list(Bound)))
def test_fast_path_gives_what_the_pattern_gives(value: str, bound: Bound) -> None:
    assert _outcome(parse_fhir_date, value, bound) == _outcome(_parse_by_pattern, value, bound)


def test_full_dates_and_date_times_are_read_as_written() -> None:
    assert parse_fhir_date("2020-02-29") == ParsedDate(dt.date(2020, 2, 29), partial=False)
    assert parse_fhir_date("2013-12-04T23:59:59-11:00").date == dt.date(2013, 12, 4)
    assert _outcome(parse_fhir_date, "2021-02-29", Bound.START) == "refused"
    assert _outcome(parse_fhir_date, "2021-02-29T10:00:00Z", Bound.END) == "refused"
