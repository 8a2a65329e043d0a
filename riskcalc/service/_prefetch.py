"""Prefetch: what the service asks the CDS client for, and how the answers become one Bundle.

The templates cover what :func:`riskcalc.read_history` uses: the Patient; Conditions (cancers,
infections, metastases); laboratory Observations (virus tests, IL-6, receptor status) and the
cancer-status and staging Observations; Encounters (severity); Procedures (ICU, ventilation,
oxygen); the three medication record types (IL-6 blockade, corticosteroids, cancer therapy) and
Immunizations (vaccination).

All functions here are pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from riskcalc.codes import load as load_codes
from riskcalc.errors import InputError
from riskcalc.fhir._group import FHIR_ID

PATIENT_TOKEN = "{{context.patientId}}"

#: Codes of the non-laboratory Observations the history reads, from the code sets (one place for
#: each fact): mCODE cancer disease status, stage group and cause of death. Laboratory results
#: (virus tests, IL-6, receptor status) come through the ``category=laboratory`` template.
_NON_LAB_SETS = ("disease_status", "stage_group", "cause_of_death")
CANCER_STATUS_CODES: tuple[tuple[str, str], ...] = tuple(
    sorted({pair for name in _NON_LAB_SETS for pair in load_codes("lab").codes_of(name)})
)

_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"

#: Prefetch key → FHIR query (relative to the client's FHIR base), in the discovery document.
PREFETCH_TEMPLATES: dict[str, str] = {
    "patient": f"Patient/{PATIENT_TOKEN}",
    "conditions": f"Condition?patient={PATIENT_TOKEN}",
    "observationsLab": f"Observation?patient={PATIENT_TOKEN}&category=laboratory",
    "observationsCancer": (
        f"Observation?patient={PATIENT_TOKEN}&code="
        + ",".join(f"{system}|{code}" for system, code in CANCER_STATUS_CODES)
    ),
    "encounters": f"Encounter?patient={PATIENT_TOKEN}",
    "procedures": f"Procedure?patient={PATIENT_TOKEN}",
    "medicationRequests": f"MedicationRequest?patient={PATIENT_TOKEN}",
    "medicationStatements": f"MedicationStatement?patient={PATIENT_TOKEN}",
    "medicationAdministrations": f"MedicationAdministration?patient={PATIENT_TOKEN}",
    "immunizations": f"Immunization?patient={PATIENT_TOKEN}",
}

#: FHIR ``id`` grammar: the only thing ever substituted into a query.


def resolve_queries(patient_id: str, keys: Iterable[str] | None = None) -> dict[str, str]:
    """The templates with the patient id filled in (``patient_id`` must be a FHIR id)."""
    if not FHIR_ID.fullmatch(patient_id):
        raise InputError("input.not_fhir", "context.patientId is not a FHIR id")
    chosen = PREFETCH_TEMPLATES.keys() if keys is None else keys
    return {k: PREFETCH_TEMPLATES[k].replace(PATIENT_TOKEN, patient_id) for k in chosen}


#: Issue severities with which an OperationOutcome says a query failed (FHIR R4 IssueSeverity).
_FAILURE_SEVERITIES = frozenset({"error", "fatal"})


def answer_type(query: str) -> str:
    """The resource type a FHIR server answers ``query`` with: ``Bundle`` for a search
    (``Type?…``), the type read for a read (``Type/id``)."""
    return "Bundle" if "?" in query else query.split("/", 1)[0]


def _is_error_outcome(resource: Mapping[str, Any]) -> bool:
    issues = resource.get("issue")
    return (
        resource.get("resourceType") == "OperationOutcome"
        and isinstance(issues, list)
        and any(isinstance(i, dict) and i.get("severity") in _FAILURE_SEVERITIES for i in issues)
    )


def reports_failure(answer: Mapping[str, Any]) -> bool:
    """True if a FHIR answer says its query failed rather than what it found.

    An OperationOutcome in place of the answer (CDS Hooks 2.0: how a client says it failed to
    prefetch), or a Bundle with an OperationOutcome entry (a server's ``search.mode = outcome``
    entry) holding an issue of severity ``error`` or ``fatal``: the search did not run, and its
    empty or partial result is not "nothing found". Warnings and information are not failures.
    """
    kind = answer.get("resourceType")
    if kind == "OperationOutcome":
        return True
    entries = answer.get("entry")
    return (
        kind == "Bundle"
        and isinstance(entries, list)
        and any(
            isinstance(e, dict)
            and isinstance(e.get("resource"), dict)
            and _is_error_outcome(e["resource"])
            for e in entries
        )
    )


def unavailable_keys(prefetch: Mapping[str, Any] | None) -> list[str]:
    """Template keys whose data the client did not deliver, to be fetched from ``fhirServer``.

    A key is unavailable when it is absent, or its answer reports a failure
    (:func:`reports_failure`). A ``null`` value means the client ran the query and found
    nothing: it is not missing.

    Raises
    ------
    InputError
        ``input.not_fhir`` when a value is neither null nor a FHIR resource, or is not what its
        query returns: a search's answer must be a Bundle, a read's a resource of the type read.
    """
    given = prefetch or {}
    missing = []
    for key, query in PREFETCH_TEMPLATES.items():
        if key not in given:
            missing.append(key)
            continue
        value = given[key]
        if value is None:
            continue
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            raise InputError("input.not_fhir", f"prefetch[{key!r}] is not a FHIR resource or null")
        if reports_failure(value):
            missing.append(key)
        elif value["resourceType"] != answer_type(query):
            raise InputError(
                "input.not_fhir",
                f"prefetch[{key!r}] is not a {answer_type(query)}, the answer to its query",
            )
    return missing


def _resources_of(key: str, value: Any) -> Iterator[tuple[dict[str, Any], str | None]]:
    if value is None:
        return
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise InputError("input.not_fhir", f"prefetch[{key!r}] is not a FHIR resource or null")
    if value["resourceType"] != "Bundle":
        yield value, None
        return
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        raise InputError("input.not_fhir", f"prefetch[{key!r}].entry is not a list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise InputError("input.not_fhir", f"prefetch[{key!r}].entry holds a non-object")
        resource = entry.get("resource")
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue  # a server's OperationOutcome about the search, not a record
        if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
            full_url = entry.get("fullUrl")
            yield resource, full_url if isinstance(full_url, str) else None


def combine_prefetch(prefetch: Mapping[str, Any]) -> dict[str, Any]:
    """One ``collection`` Bundle of every resource in the prefetch answers, each once.

    Searchset Bundles are unpacked (``search.mode == "outcome"`` entries and OperationOutcomes
    are left out); single resources (the Patient) are taken as they are; ``null`` answers add
    nothing. A resource that two queries both returned (same type and id) appears once.

    Raises
    ------
    InputError
        ``input.not_fhir`` when an answer is neither null nor a FHIR resource.
    """
    seen: set[tuple[str, str]] = set()
    entries: list[dict[str, Any]] = []
    for key, value in prefetch.items():
        for resource, full_url in _resources_of(key, value):
            rid = resource.get("id")
            if isinstance(rid, str):
                ident = (str(resource["resourceType"]), rid)
                if ident in seen:
                    continue
                seen.add(ident)
            entry: dict[str, Any] = {"resource": resource}
            if full_url:
                entry["fullUrl"] = full_url
            entries.append(entry)
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


# -- building a prefetch from a Bundle: for demos, tests and benchmarks ----------------------------


def _observation_matches(resource: Mapping[str, Any]) -> tuple[bool, bool]:
    """(is laboratory, has a cancer-status, stage or cause-of-death code)."""
    lab = any(
        coding.get("system") == _CATEGORY_SYSTEM and coding.get("code") == "laboratory"
        for category in resource.get("category") or []
        for coding in category.get("coding") or []
    )
    status = any(
        (coding.get("system"), coding.get("code")) in CANCER_STATUS_CODES
        for coding in (resource.get("code") or {}).get("coding") or []
    )
    return lab, status


def _rewrite_references(node: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite_references(v, mapping) for k, v in node.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref in mapping:
            out["reference"] = mapping[ref]
        return out
    if isinstance(node, list):
        return [_rewrite_references(v, mapping) for v in node]
    return node


def _subject_id(resource: Mapping[str, Any]) -> str | None:
    for field in ("subject", "patient"):
        ref = (resource.get(field) or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref.removeprefix("Patient/")
    return None


def prefetch_from_bundle(
    bundle: Mapping[str, Any], *, fhir_base: str = "https://fhir.example.org"
) -> tuple[str, dict[str, Any]]:
    """What a CDS client would prefetch for the (first) Patient of a Bundle: ``(id, prefetch)``.

    Plays the FHIR server: ``urn:uuid`` references of a transaction Bundle (as Synthea writes
    them) become ``Type/id``, and each template's query is answered with a searchset Bundle using
    the same rules a server applies (patient reference; Observation category or code).
    """
    entries = [e for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
    mapping = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in entries
        if isinstance(e.get("fullUrl"), str) and "id" in e["resource"]
    }
    resources = [_rewrite_references(e["resource"], mapping) for e in entries]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if not patients:
        raise InputError("input.no_patient", "the Bundle holds no Patient")
    patient = patients[0]
    pid = str(patient["id"])
    prefetch: dict[str, Any] = {"patient": patient}
    for key, query in resolve_queries(pid).items():
        if key == "patient":
            continue
        rtype = query.split("?", 1)[0]
        matched = [r for r in resources if r.get("resourceType") == rtype and _subject_id(r) == pid]
        if key == "observationsLab":
            matched = [r for r in matched if _observation_matches(r)[0]]
        elif key == "observationsCancer":
            matched = [r for r in matched if _observation_matches(r)[1]]
        prefetch[key] = searchset(matched, fhir_base=fhir_base)
    return pid, prefetch


def searchset(resources: Iterable[Mapping[str, Any]], *, fhir_base: str) -> dict[str, Any]:
    """A ``searchset`` Bundle of ``resources`` as a FHIR server at ``fhir_base`` returns it."""
    entry = [
        {
            "fullUrl": f"{fhir_base.rstrip('/')}/{r['resourceType']}/{r.get('id', '')}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for r in resources
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entry), "entry": entry}
