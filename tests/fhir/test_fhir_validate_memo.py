"""The shape memo of FHIR validation gives fhir.resources' own verdict on every resource."""

from __future__ import annotations

import copy
import datetime as dt
import enum
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskcalc.fhir import _validate as V

IMMUNIZATION: dict[str, Any] = {
    "resourceType": "Immunization",
    "id": "im-1",
    "status": "completed",
    "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
    "patient": {"reference": "Patient/p1"},
    "occurrenceDateTime": "2006-10-14",
}
PROCEDURE: dict[str, Any] = {
    "resourceType": "Procedure",
    "id": "pr-1",
    "status": "completed",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "367336001"}]},
    "subject": {"reference": "Patient/p1"},
    "performedPeriod": {"start": "2007-01-03", "end": "2007-02-11"},
    "note": [{"text": "x", "time": "2007-01-03T10:00:00+01:00"}],
}

_values = st.one_of(
    st.sampled_from(
        [
            "2006-10-14",
            "2006-02-30",
            "2006-13-01",
            "2006",
            "2006-10",
            "2006-10-14T10:00:00",
            "2006-10-14T10:00:00Z",
            " 2006-10-14",
            "",
            "x" * 70,
            "ok-id.1",
            "bad id",
            "Patient/p2",
        ]
    ),
    st.text(max_size=12),
    st.none(),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
_paths = st.sampled_from(
    [
        ("id",),
        ("occurrenceDateTime",),
        ("patient", "reference"),
        ("patient", "display"),
        ("status",),
        ("vaccineCode", "coding", 0, "code"),
        ("vaccineCode", "text"),
        ("expirationDate",),
        ("recorded",),
        ("performedPeriod", "start"),
        ("performedPeriod", "end"),
        ("note", 0, "time"),
        ("bogus",),
    ]
)


def _set(resource: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = resource
    for step in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(step, {})
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return
    if isinstance(node, dict):
        node[path[-1]] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([IMMUNIZATION, PROCEDURE]),
    edits=st.lists(st.tuples(_paths, _values), max_size=4),
)
def test_memoised_verdict_equals_whole_validation(
    base: dict[str, Any], edits: list[tuple[tuple[Any, ...], Any]]
) -> None:
    resource = copy.deepcopy(base)
    for path, value in edits:
        _set(resource, path, value)
    # first call may fill the memo, the second reads it; both equal the uncached verdict
    expected = V.validation_error_uncached(resource)
    assert V.validation_error(resource) == expected
    assert V.validation_error(copy.deepcopy(resource)) == expected


def test_same_shape_different_invalid_date_is_still_refused() -> None:
    good = copy.deepcopy(IMMUNIZATION)
    assert V.validation_error(good) is None
    for bad in ("2006-02-30", "2006-13-01", "14/10/2006", "2006-10-14T10:00:00"):
        r = copy.deepcopy(IMMUNIZATION)
        r["occurrenceDateTime"] = bad
        assert V.validation_error(r) is not None, bad


def test_valid_values_share_one_verdict() -> None:
    V._memo.clear()
    for i in range(20):
        r = copy.deepcopy(IMMUNIZATION)
        r["id"] = f"im-{i}"
        r["patient"] = {"reference": f"Patient/p{i}"}
        r["occurrenceDateTime"] = (dt.date(2000, 1, 1) + dt.timedelta(days=37 * i)).isoformat()
        assert V.validation_error(r) is None
    assert len(V._memo) == 1


class _Colour(enum.Enum):
    DAY = "2006-10-14"


def test_non_json_values_are_validated_whole() -> None:
    for odd in (dt.date(2006, 10, 14), _Colour.DAY, ("Patient/p1",)):
        r = copy.deepcopy(IMMUNIZATION)
        r["occurrenceDateTime"] = odd
        assert V.shape_key(r) is None
        assert V.validation_error(r) == V.validation_error_uncached(r)


def test_clear_memo_forgets_values_or_shapes() -> None:
    V.clear_memo()
    assert V.validation_error(copy.deepcopy(IMMUNIZATION)) is None
    assert len(V._memo) == 1
    assert any(leaf is not None and leaf.verdicts for leaf in V._LEAVES.values())
    V.clear_memo(shapes=False)
    assert len(V._memo) == 1
    assert not any(leaf is not None and leaf.verdicts for leaf in V._LEAVES.values())
    assert V.validation_error(copy.deepcopy(IMMUNIZATION)) is None  # same verdict, recomputed keys
    V.clear_memo(values=False)
    assert not V._memo
