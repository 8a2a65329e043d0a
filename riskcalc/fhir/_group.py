"""Resources to patients: Bundles flattened, references resolved, resources grouped per patient.

Patient resources define the patients of a unit. Every other resource belongs to the patient its
``subject``, ``patient`` or ``beneficiary`` reference points at, in any of the forms
``Patient/id``, ``urn:uuid:id``, an absolute URL ending in ``/Patient/id`` (optionally with
``/_history/n``), or the ``fullUrl`` of the Patient's Bundle entry. A resource pointing at a
patient who is not in the unit is not mixed in (issue ``resource.other_patient``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from riskcalc.errors import Issue
from riskcalc.fhir._source import Unit

#: A FHIR ``id`` (R4 2.24.0.1), whole text: use ``fullmatch``.
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_PATIENT_URL = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")
_REF_KEYS = ("subject", "patient", "beneficiary")
#: Resource types that normally belong to a patient and feed the history: reported when their
#: patient cannot be resolved.
PATIENT_TYPES = frozenset(
    {
        "Condition",
        "Observation",
        "Procedure",
        "Encounter",
        "Immunization",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
    }
)
#: Most issues of one code listed per input (and per patient); the rest are counted in one issue.
MAX_ISSUES_PER_CODE = 50
#: Shared resources kept so that references to them can be resolved (medicationReference).
SHARED_TYPES = frozenset({"Medication"})


class Item:
    """One resource with where it was found.

    ``location`` is text such as ``file.json#entry[3].resource``; for a Bundle entry it is built
    only when asked for (a warning needs it, most resources never do: two string formats per
    entry were a third of grouping a Bundle).
    """

    __slots__ = ("_entry", "_where", "full_url", "resource")

    def __init__(
        self,
        resource: dict[str, Any],
        location: str,
        full_url: str | None,
        *,
        entry: int | None = None,
    ) -> None:
        self.resource = resource
        self.full_url = full_url
        self._where = location  # the Bundle's location when ``entry`` is given
        self._entry = entry

    @property
    def location(self) -> str:
        if self._entry is None:
            return self._where
        return f"{self._where}#entry[{self._entry}].resource"

    @property
    def ref(self) -> str:
        rid = self.resource.get("id")
        return f"{self.resource.get('resourceType')}/{rid if isinstance(rid, str) and rid else '?'}"

    def __repr__(self) -> str:
        return f"Item({self.ref}, {self.location!r})"


@dataclass
class PatientGroup:
    """One patient's resources within a unit."""

    patient_id: str
    patient: Item
    items: list[Item] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


@dataclass
class Grouping:
    """The patients of a unit, the shared resources, and unit-level issues.

    ``elsewhere`` holds the resources that refer to a patient not in this unit, by that
    patient's id (counted in a ``resource.other_patient`` issue): :func:`riskcalc.read_history`
    reads such a unit together with the one that holds the Patient.
    """

    patients: dict[str, PatientGroup]
    shared: dict[str, dict[str, Any]]
    issues: list[Issue]
    elsewhere: dict[str, list[Item]] = field(default_factory=dict)
    label: str = ""


def flatten(unit: Unit) -> Iterator[Item | Issue]:
    """Every resource of a unit (Bundles, nested Bundles included, opened) or an issue."""
    for doc in unit.documents:
        value = doc.value
        # fast path for the common case (every NDJSON line): one resource, not a Bundle
        if isinstance(value, dict):
            rtype = value.get("resourceType")
            if isinstance(rtype, str) and rtype != "Bundle":
                yield Item(value, doc.label, None)
                continue
        yield from _flatten(value, doc.label, None)


def _node(
    value: Any, location: str, full_url: str | None, entry: int | None = None
) -> Item | Issue:
    """An Item of a resource (a JSON object with a resourceType), else a skipped-invalid issue."""
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return Item(value, location, full_url, entry=entry)
    return Issue(
        code="resource.skipped_invalid",
        message="not a FHIR resource (a JSON object with a resourceType)",
        source=location if entry is None else f"{location}#entry[{entry}].resource",
    )


def _flatten(value: Any, location: str, full_url: str | None) -> Iterator[Item | Issue]:
    # Iterative (an explicit stack, children pushed in reverse to keep document order): Bundles
    # nested in entries may go as deep as the caller's depth limit allows, past Python's
    # recursion limit.
    stack: list[Item | Issue] = [_node(value, location, full_url)]
    while stack:
        top = stack.pop()
        if isinstance(top, Issue) or top.resource["resourceType"] != "Bundle":
            yield top
            continue
        stack.extend(reversed(_entries(top.resource, top.location)))


def _entries(bundle: dict[str, Any], location: str) -> list[Item | Issue]:
    """A Bundle's entries as Items to open (resources or nested Bundles), or issues, in order."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        return [
            Issue(
                code="resource.skipped_invalid",
                message="Bundle.entry is not a list",
                source=location,
            )
        ]
    out: list[Item | Issue] = []
    junk = 0
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            junk += 1
            if junk <= MAX_ISSUES_PER_CODE:  # counted, not listed, past the cap (cap_issues)
                out.append(
                    Issue(
                        code="resource.skipped_invalid",
                        message="entry is not an object",
                        source=f"{location}#entry[{i}]",
                    )
                )
            continue
        resource = entry.get("resource")
        if resource is None:
            # batch-response entries and transaction deletes carry no resource: nothing to read
            continue
        url = entry.get("fullUrl")
        url = url if isinstance(url, str) else None
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
            out.append(Item(resource, location, url, entry=i))  # _node's common case, inline
        else:
            out.append(_node(resource, location, url, entry=i))
    if junk > MAX_ISSUES_PER_CODE:
        out.append(more_issue("resource.skipped_invalid", junk - MAX_ISSUES_PER_CODE))
    return out


class _Resolver:
    def __init__(self) -> None:
        self.alias: dict[str, str] = {}
        self.ids: set[str] = set()

    def add(self, patient_id: str, full_url: str | None) -> None:
        self.ids.add(patient_id)
        for key in (f"Patient/{patient_id}", f"urn:uuid:{patient_id}", full_url):
            if key:
                self.alias.setdefault(key, patient_id)

    def resolve(self, ref: str) -> tuple[str | None, str | None]:
        """(patient id in the unit, or None; id of another patient referred to, or None)."""
        hit = self.alias.get(ref)
        if hit is not None:
            return hit, None
        m = _PATIENT_URL.search(ref)
        other = m.group(1) if m else None
        if other is None and ref.startswith("urn:uuid:"):
            other = ref[len("urn:uuid:") :]
        if other is not None and other in self.ids:
            return other, None
        return None, other


def _patient_refs(resource: dict[str, Any]) -> list[str]:
    refs = []
    for key in _REF_KEYS:
        value = resource.get(key)
        if isinstance(value, dict) and isinstance(value.get("reference"), str):
            refs.append(value["reference"])
    return refs


def group(unit: Unit) -> Grouping:
    """Group a unit's resources by patient."""
    items: list[Item] = []
    issues: list[Issue] = list(unit.issues)
    for x in flatten(unit):
        if isinstance(x, Issue):
            issues.append(x)
        else:
            items.append(x)

    resolver, patients = _patients(items)

    shared, elsewhere, unresolved = _assign(items, resolver, patients)
    counts = {pid: len(found) for pid, found in elsewhere.items()}
    issues.extend(_summaries(counts, unresolved, unit.label))
    return Grouping(
        patients=patients,
        shared=shared,
        issues=cap_issues(issues),
        elsewhere=elsewhere,
        label=unit.label,
    )


def cap_issues(issues: Iterable[Issue], limit: int = MAX_ISSUES_PER_CODE) -> list[Issue]:
    """At most ``limit`` issues of each code, the rest counted in one closing issue of that code.

    Hostile input can make one issue per byte or two (a Bundle of a million ``1`` entries, an
    NDJSON file of garbage lines); uncapped, 2 MB of input gave a million warnings on every
    history (50 s, 850 MB, a 104 MB history JSON). The issues kept are the first in sorted
    order (code, source, message), so the result does not depend on the order issues were
    found in, and ``cap_issues(cap_issues(x)) == cap_issues(x)`` (counts already folded in are
    carried over): the reader and the Dask engine give the same warnings.
    """
    listed: dict[str, list[Issue]] = {}
    folded: dict[str, int] = {}
    for issue in issues:
        m = _MORE.match(issue.message) if issue.source is None else None
        if m is not None and m.group(2) == issue.code:
            folded[issue.code] = folded.get(issue.code, 0) + int(m.group(1))
        else:
            listed.setdefault(issue.code, []).append(issue)
    out: list[Issue] = []
    for code in sorted({*listed, *folded}):
        found = sorted(set(listed.get(code, ())), key=issue_key)
        out.extend(found[:limit])
        extra = folded.get(code, 0) + max(0, len(found) - limit)
        if extra:
            out.append(more_issue(code, extra))
    return out


def more_issue(code: str, count: int) -> Issue:
    """The closing issue that counts ``count`` issues of ``code`` not listed."""
    return Issue(code=code, message=f"{count} more '{code}' issue(s) not listed", source=None)


_MORE = re.compile(r"^(\d+) more '([^']+)' issue\(s\) not listed$")


def issue_key(issue: Issue) -> tuple[str, bool, str, str]:
    """A total order on issues (None and "" sources apart), so sorting never depends on the
    order of a set."""
    return issue.code, issue.source is not None, issue.source or "", issue.message


def patient_key(item: Item) -> tuple[str, Issue | None]:
    """The name of a Patient resource's patient: its id, or, without one (missing, empty, not
    text), its fullUrl or its place in the input, with the ``patient.no_id`` issue that says so.
    A name made up this way is never a FHIR id (it holds a space or a colon), so no output
    takes it for a reference to a Patient resource."""
    rid = item.resource.get("id")
    if isinstance(rid, str) and rid:
        return rid, None
    where = item.location
    if where.startswith("<"):  # an object or bytes in memory: how it came is not a place
        where = where.partition("#")[2]
    name = item.full_url or f"(no id) {where}".rstrip()
    issue = Issue(
        code="patient.no_id",
        message=(
            f"the Patient resource has no id ({rid!r}); the patient is called {name!r} here, "
            "and a RiskAssessment names it without a reference"
        ),
        source=item.location,
    )
    return name, issue


def _patients(items: list[Item]) -> tuple[_Resolver, dict[str, PatientGroup]]:
    resolver = _Resolver()
    patients: dict[str, PatientGroup] = {}
    for item in items:
        if item.resource["resourceType"] != "Patient":
            continue
        pid, no_id = patient_key(item)
        if pid in patients:
            patients[pid].issues.append(
                Issue(
                    code="resource.duplicate",
                    message=f"Patient/{pid} appears more than once; the first copy was kept",
                    source=item.location,
                )
            )
            continue
        patients[pid] = PatientGroup(pid, item)
        if no_id is not None:
            patients[pid].issues.append(no_id)
        resolver.add(pid, item.full_url)
    return resolver, patients


def _other_patient_issue(others: dict[str, int], label: str) -> Issue | None:
    if not others:
        return None
    names = ", ".join(f"Patient/{k}" for k in sorted(others)[:3])
    return Issue(
        code="resource.other_patient",
        message=(
            f"{sum(others.values())} resource(s) refer to patients not in this input "
            f"({names}{', …' if len(others) > 3 else ''}) and were not mixed in"
        ),
        source=label,
    )


def _summaries(others: dict[str, int], unresolved: list[str], label: str) -> list[Issue]:
    other = _other_patient_issue(others, label)
    out: list[Issue] = [] if other is None else [other]
    if unresolved:
        out.append(
            Issue(
                code="resource.unresolved_subject",
                message=(
                    f"{len(unresolved)} resource(s) have no subject/patient reference to a patient "
                    f"in this input and were left out (e.g. {', '.join(sorted(unresolved)[:3])})"
                ),
                source=label,
            )
        )
    return out


def _assign(
    items: list[Item], resolver: _Resolver, patients: dict[str, PatientGroup]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[Item]], list[str]]:
    """Put each non-Patient resource with its patient; keep shared ones, and those of other
    patients by patient id; list the references of the rest."""
    shared: dict[str, dict[str, Any]] = {}
    others: dict[str, list[Item]] = {}
    unresolved: list[str] = []
    for item in items:
        rtype = item.resource["resourceType"]
        if rtype == "Patient":
            continue
        if rtype in SHARED_TYPES:
            rid = item.resource.get("id")
            for key in (item.full_url, f"{rtype}/{rid}" if rid else None):
                if key:
                    shared.setdefault(key, item.resource)
            continue
        owner: str | None = None
        other: str | None = None
        for key in _REF_KEYS:  # _patient_refs, inlined: this runs once per resource
            value = item.resource.get(key)
            if isinstance(value, dict) and isinstance(ref := value.get("reference"), str):
                owner, other = resolver.resolve(ref)
                if owner is not None or other is not None:
                    break
        if owner is not None:
            patients[owner].items.append(item)
        elif other is not None:
            others.setdefault(other, []).append(item)
        elif rtype in PATIENT_TYPES:
            unresolved.append(item.ref)
    return shared, others, unresolved
