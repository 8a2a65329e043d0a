"""cap_issues: bounded, order-independent and idempotent, so both engines agree."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from riskcalc.errors import Issue
from riskcalc.fhir._group import cap_issues

issues = st.lists(
    st.builds(
        Issue,
        code=st.sampled_from(["ndjson.bad_line", "date.invalid", "resource.duplicate"]),
        message=st.sampled_from(["a", "b", "c"]),
        source=st.one_of(st.none(), st.text(max_size=4)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(issues, st.integers(1, 6), st.randoms())
def test_cap_is_bounded_idempotent_and_order_free(found: list[Issue], limit: int, rnd) -> None:  # type: ignore[no-untyped-def]
    capped = cap_issues(found, limit)
    for code in {i.code for i in found}:
        assert sum(i.code == code for i in capped) <= limit + 1
    assert cap_issues(capped, limit) == capped
    shuffled = list(found)
    rnd.shuffle(shuffled)
    assert cap_issues(shuffled, limit) == capped
    # splitting the input, capping each half, then capping the union: the same counts
    half = len(found) // 2
    merged = cap_issues(cap_issues(found[:half], limit) + cap_issues(found[half:], limit), limit)
    assert [i.code for i in merged] == [i.code for i in capped]
