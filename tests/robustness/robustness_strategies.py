"""Hypothesis strategies for FHIR-shaped JSON that is sometimes right and sometimes wrong.

Resources are built field by field from the fields the extractor reads; each field is, at random,
well formed, of a wrong JSON type, or missing. Codes come from riskcalc's own code sets, so that
resources are actually selected, validated and extracted (random codes would only exercise the
"skip" path). References point at the patient, at another patient in the Bundle, at a patient
not in the input, or at nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from riskcalc import codes

TODAY = dt.date(2026, 11, 30)
_MISSING = object()

PATIENT_IDS = ("p1", "p2")


def _codings(name: str) -> list[dict[str, str]]:
    return [{"system": s, "code": c} for (s, c) in sorted(codes.load(name).exact)]


_ALL_CODINGS = sorted({(s, c) for name in codes.NAMES for (s, c) in codes.load(name).exact})

# any JSON value, small: the "wrong type" of every field
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
json_any = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def maybe(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right value; sometimes a wrong JSON type; sometimes missing."""
    return st.one_of(right, right, right, json_any, st.just(_MISSING))


def strip_missing(value: Any) -> Any:
    """Drop the 'missing' marker wherever it ended up (list items, nested objects)."""
    if isinstance(value, dict):
        return {k: strip_missing(v) for k, v in value.items() if v is not _MISSING}
    if isinstance(value, list):
        return [strip_missing(v) for v in value if v is not _MISSING]
    return value


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object whose fields are drawn independently (missing ones left out)."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = {}
        for key, strategy in fields.items():
            value = draw(strategy)
            if value is not _MISSING:
                out[key] = value
        return out

    return build()


dates = st.one_of(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 12, 31)).map(dt.date.isoformat),
    st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat),
    st.integers(1900, 2030).map(str),
    st.tuples(st.integers(1900, 2030), st.integers(0, 13)).map(lambda t: f"{t[0]}-{t[1]:02d}"),
    st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
        lambda d: d.isoformat() + "+01:00"
    ),
    st.sampled_from(
        [
            "2020-02-30",
            "2020-13-01",
            "0000-01-01",
            "9999-12-31",
            "99999",
            "",
            "yesterday",
            "2020-1-1",
        ]
    ),
)


def coding(name: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """A Coding from one code set (or any set), sometimes broken."""
    pairs = _codings(name) if name else [{"system": s, "code": c} for s, c in _ALL_CODINGS]
    return st.one_of(
        st.sampled_from(pairs),
        st.sampled_from(pairs).map(lambda c: {**c, "code": " " + c["code"] + " "}),
        obj(system=maybe(st.text(max_size=20)), code=maybe(st.text(max_size=8))),
    )


def concept(*names: str) -> st.SearchStrategy[Any]:
    """A CodeableConcept holding codings of the named sets."""
    one = st.one_of(*(coding(n) for n in names)) if names else coding()
    return maybe(
        obj(
            coding=maybe(st.lists(st.one_of(one, one, json_any), min_size=0, max_size=3)),
            text=maybe(st.sampled_from(["Detected", "Positive", "Negative", "Stage 2A", "IV"])),
        )
    )


references = st.one_of(
    st.sampled_from(
        [
            "Patient/p1",
            "Patient/p2",
            "urn:uuid:p1",
            "Patient/ghost",
            "http://x.org/fhir/Patient/p1/_history/3",
            "Group/g",
            "",
        ]
    ),
    st.text(max_size=10),
)
reference = maybe(obj(reference=maybe(references)))
period = maybe(obj(start=maybe(dates), end=maybe(dates)))
ids = maybe(st.one_of(st.sampled_from(["a", "b", "c", "dup"]), st.text(max_size=8)))
quantity = maybe(
    obj(
        value=maybe(
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=False, width=64),
                st.integers(-10, 10**6),
                st.just(1e308),
            )
        ),
        unit=maybe(st.sampled_from(["pg/mL", "ng/L", "ng/mL", "mg/dL", ""])),
        code=maybe(st.sampled_from(["pg/mL", "ng/mL", "mmol"])),
    )
)
statuses = maybe(st.sampled_from(["final", "active", "entered-in-error", "completed", "not-done"]))


def condition() -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.just("Condition"),
        id=ids,
        subject=reference,
        code=concept("cancer", "infection", "metastasis"),
        clinicalStatus=concept(),
        verificationStatus=maybe(obj(coding=st.just([{"code": "refuted"}]))),
        onsetDateTime=maybe(dates),
        onsetPeriod=period,
        abatementDateTime=maybe(dates),
        recordedDate=maybe(dates),
        stage=maybe(st.lists(maybe(obj(summary=concept())), max_size=2)),
        encounter=reference,
    )


def observation() -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.just("Observation"),
        id=ids,
        status=statuses,
        subject=reference,
        code=concept("lab"),
        effectiveDateTime=maybe(dates),
        effectivePeriod=period,
        issued=maybe(dates),
        valueQuantity=quantity,
        valueCodeableConcept=concept("lab", "cancer", "metastasis"),
        valueString=maybe(st.sampled_from(["Detected", "Not detected", "positive"])),
        interpretation=maybe(st.lists(concept(), max_size=2)),
        encounter=reference,
    )


def encounter() -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.just("Encounter"),
        id=ids,
        status=statuses,
        subject=reference,
        **{
            "class": maybe(
                st.one_of(coding("encounter"), st.lists(coding("encounter"), max_size=2))
            )
        },
        type=maybe(st.lists(concept("encounter"), max_size=2)),
        location=maybe(
            st.lists(maybe(obj(location=maybe(obj(display=maybe(st.just("ICU")))))), max_size=2)
        ),
        period=period,
    )


def medication_request() -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.sampled_from(
            ["MedicationRequest", "MedicationStatement", "MedicationAdministration"]
        ),
        id=ids,
        status=statuses,
        intent=maybe(st.just("order")),
        subject=reference,
        medicationCodeableConcept=concept("medication"),
        medicationReference=maybe(obj(reference=maybe(st.just("Medication/m1")))),
        authoredOn=maybe(dates),
        effectivePeriod=period,
        effectiveDateTime=maybe(dates),
    )


def procedure() -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.just("Procedure"),
        id=ids,
        status=statuses,
        subject=reference,
        code=concept("procedure"),
        performedDateTime=maybe(dates),
        performedPeriod=period,
    )


def immunization() -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.just("Immunization"),
        id=ids,
        status=statuses,
        patient=reference,
        vaccineCode=concept("vaccine"),
        occurrenceDateTime=maybe(dates),
    )


def patient(pid: str) -> st.SearchStrategy[dict[str, Any]]:
    return obj(
        resourceType=st.just("Patient"),
        id=maybe(st.just(pid)),
        birthDate=maybe(dates),
        gender=maybe(st.sampled_from(["female", "male", "other", "unknown", "robot"])),
        deceasedDateTime=maybe(dates),
    )


medication = obj(resourceType=st.just("Medication"), id=st.just("m1"), code=concept("medication"))
other_resource = st.one_of(
    obj(resourceType=st.sampled_from(["Foo", "Organization", "Practitioner"]), id=ids),
    json_any,
)

resources = st.one_of(
    condition(),
    condition(),
    observation(),
    observation(),
    encounter(),
    medication_request(),
    procedure(),
    immunization(),
    medication,
    other_resource,
)


@st.composite
def bundles(draw: st.DrawFn) -> dict[str, Any]:
    """A Bundle with zero to two patients and up to 12 other resources (some broken)."""
    n_patients = draw(st.sampled_from([0, 1, 1, 1, 2]))
    members = [draw(patient(pid)) for pid in PATIENT_IDS[:n_patients]]
    members += draw(st.lists(resources, max_size=12))
    members = draw(st.permutations(members))
    entries: list[Any] = []
    for r in members:
        entry: dict[str, Any] = {"resource": r}
        if isinstance(r, dict) and r.get("resourceType") == "Patient" and draw(st.booleans()):
            entry["fullUrl"] = f"urn:uuid:{r.get('id')}"
        entries.append(draw(st.one_of(st.just(entry), st.just(entry), json_any)))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    bundle["entry"] = draw(st.one_of(st.just(entries), st.just(entries), json_any))
    return strip_missing(bundle)  # type: ignore[no-any-return]


@st.composite
def ndjson_exports(draw: st.DrawFn) -> bytes:
    """NDJSON lines of resources, with garbage lines mixed in."""
    import orjson

    lines: list[bytes] = []
    for pid in PATIENT_IDS[: draw(st.integers(0, 2))]:
        lines.append(orjson.dumps(strip_missing(draw(patient(pid)))))
    for r in draw(st.lists(resources, max_size=10)):
        lines.append(orjson.dumps(strip_missing(r), option=orjson.OPT_NON_STR_KEYS))
    garbage = st.one_of(
        st.binary(max_size=20).filter(lambda b: b"\n" not in b and b"\r" not in b),
        st.sampled_from([b"{", b"[1,2]", b"null", b'{"a": 1}', b"\xef\xbb\xbf{}"]),
    )
    lines += draw(st.lists(garbage, max_size=3))
    return b"\n".join(draw(st.permutations(lines))) + b"\n"
