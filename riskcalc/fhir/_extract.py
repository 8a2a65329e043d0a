"""One patient's FHIR resources to a :class:`PatientHistory` (DESIGN.md §4).

Resources are selected by type and code first (code sets in ``riskcalc/codes``); only the selected
ones are validated (lazily, once) and read. Everything skipped or assumed becomes an Issue.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from riskcalc import codes
from riskcalc.awakening._units import il6_to_pg_ml, il6_unit_known
from riskcalc.errors import Issue
from riskcalc.fhir._group import Item, PatientGroup, cap_issues, issue_key
from riskcalc.fhir._validate import is_known_type, validation_error
from riskcalc.history._dates import Bound, check_plausible, parse_fhir_date
from riskcalc.history._episodes import (
    DEFAULT_WINDOW_DAYS,
    Attachment,
    AttachmentKind,
    build_episodes,
)
from riskcalc.history._model import (
    AtRiskBasis,
    Cancer,
    CancerSite,
    ClinicalStatus,
    InfectionEpisode,
    Outcome,
    OutcomeKind,
    Pathogen,
    PathogenTest,
    PatientHistory,
    Severity,
    Treatment,
    TreatmentKind,
    Vaccination,
    VaccineKind,
)

#: A cancer still 'active' with no abatement, disease status or treatment end: at-risk start is
#: assumed this many days after onset (about 12 months, the usual end of primary treatment).
ACTIVE_DEFAULT_DAYS = 365
#: Treatments of one kind less than this many days apart are one course.
COURSE_GAP_DAYS = 30
#: Curative (primary) treatment is the surgery, radiotherapy or chemotherapy starting between 30
#: days before and this many days after the cancer's onset.
CURATIVE_WINDOW_DAYS = 365

_LAST_CONTACT_KEYS = (
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "authoredOn",
    "occurrenceDateTime",
    "performedDateTime",
    "date",
    "created",
)
_PERIOD_KEYS = ("period", "effectivePeriod", "performedPeriod", "billablePeriod")
_LAST_CONTACT_SET = frozenset(_LAST_CONTACT_KEYS)
_PERIOD_SET = frozenset(_PERIOD_KEYS)
_DATE_KEYS = _LAST_CONTACT_SET | _PERIOD_SET
_PATHOGEN_BY_SET = {
    "covid19": Pathogen.COVID19,
    "influenza": Pathogen.INFLUENZA,
    "rsv": Pathogen.RSV,
    "test_covid19": Pathogen.COVID19,
    "test_influenza": Pathogen.INFLUENZA,
    "test_rsv": Pathogen.RSV,
}
_MED_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")
#: The code a resource is selected by, per type (Medication* may name it by reference instead).
_SELECTING_CODE = {
    "Condition": "code",
    "Observation": "code",
    "Procedure": "code",
    "Immunization": "vaccineCode",
    **dict.fromkeys(_MED_TYPES, "medicationCodeableConcept"),
}
_ROMAN = {"0": "0", "1": "I", "2": "II", "3": "III", "4": "IV"}
_ICU = re.compile(r"\bICU\b|intensive care", re.IGNORECASE)
_STAGE = re.compile(r"^(?:stage\s*)?[cpy]?(IV|I{1,3}|[0-4])([A-C]\d?)?\b", re.IGNORECASE)


@dataclass
class _Ctx:
    """Per-patient state: issues collected and validation results cached."""

    patient_id: str
    today: dt.date
    shared: dict[str, dict[str, Any]]
    birth_date: dt.date | None = None
    issues: list[Issue] = field(default_factory=list)
    _usable: dict[int, bool] = field(default_factory=dict)

    def warn(self, code: str, message: str, source: str | None) -> None:
        self.issues.append(Issue(code=code, message=message, source=source))

    def undated(self, item: Item, what: str) -> None:
        """Warn that a recognised record (``what``: "influenza", "chemotherapy" …) is left out of
        the history because it has no usable date: nothing recognised is dropped silently."""
        self.warn(
            "record.undated",
            f"{item.ref} ({what.replace('_', ' ')}) has no usable date and is left out of the "
            "history",
            item.ref,
        )

    def usable(self, item: Item) -> bool:
        """Not entered in error or refuted, and valid FHIR R4 (validated once)."""
        key = id(item.resource)
        cached = self._usable.get(key)
        if cached is not None:
            return cached
        r = item.resource
        ok = True
        vstatus = _code_of(r.get("verificationStatus"))
        if r.get("status") == "entered-in-error" or vstatus in ("refuted", "entered-in-error"):
            self.warn(
                "resource.entered_in_error",
                f"{item.ref} is {vstatus or 'entered-in-error'} and was ignored",
                item.ref,
            )
            ok = False
        else:
            err = validation_error(r)
            if err is not None:
                self.warn(
                    "resource.skipped_invalid",
                    f"{item.ref} failed FHIR R4 validation and was left out: {err} "
                    f"(at {item.location})",
                    item.ref,
                )
                ok = False
        self._usable[key] = ok
        return ok

    def date(self, value: Any, bound: Bound, item: Item, what: str) -> dt.date | None:
        """A usable date, or None with a ``date.invalid`` issue; partial dates widened."""
        if value is None:
            return None
        try:
            parsed = parse_fhir_date(value, bound)
        except ValueError as exc:
            self.warn("date.invalid", f"{item.ref} {what}: {exc}; not used", item.ref)
            return None
        why = check_plausible(parsed.date, birth_date=self.birth_date, today=self.today)
        if why is not None:
            self.warn("date.invalid", f"{item.ref} {what} {value} is {why}; not used", item.ref)
            return None
        if parsed.partial:
            self.warn(
                "date.partial",
                f"{item.ref} {what} {value} widened to {parsed.date.isoformat()}",
                item.ref,
            )
        return parsed.date


# --- small readers of FHIR JSON ------------------------------------------------------------------


def _seq(value: Any) -> list[Any]:
    """A JSON array field as a list; anything else (a wrong type in unvalidated input) as []."""
    return value if isinstance(value, list) else []


def _code_of(concept: Any) -> str | None:
    if isinstance(concept, dict):
        for coding in _seq(concept.get("coding")):
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return str(coding["code"])
    return None


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


def _period(r: dict[str, Any], key: str) -> tuple[Any, Any]:
    p = r.get(key)
    if isinstance(p, dict):
        return p.get("start"), p.get("end")
    return None, None


def _texts(concept: Any) -> Iterator[str]:
    if not isinstance(concept, dict):
        return
    if isinstance(concept.get("text"), str):
        yield concept["text"]
    for coding in _seq(concept.get("coding")):
        if isinstance(coding, dict):
            for key in ("display", "code"):
                if isinstance(coding.get(key), str):
                    yield coding[key]


def normalise_stage(concept: Any) -> str | None:
    """Stage group as roman numerals with sub-stage: 'Stage 2A' → 'IIA', 'c3A' → 'IIIA'.

    >>> normalise_stage({"text": "Stage 2A (qualifier value)"})
    'IIA'
    >>> normalise_stage({"coding": [{"system": "http://cancerstaging.org", "code": "4", "display": "IV"}]})
    'IV'
    """
    for text in _texts(concept):
        m = _STAGE.match(text.strip())
        if m:
            group = m.group(1).upper()
            return _ROMAN.get(group, group) + (m.group(2) or "").upper()
    return None


def _referenced_encounter(r: dict[str, Any]) -> str | None:
    return _ref(r.get("encounter")) or _ref(r.get("context"))


# --- the extraction -------------------------------------------------------------------------------


@dataclass
class _Selected:
    """Resources picked by type and code, before validation."""

    cancers: list[tuple[Item, str, tuple[str, ...]]] = field(default_factory=list)
    metastases: list[tuple[Item, str]] = field(default_factory=list)
    infections: list[tuple[Item, str]] = field(default_factory=list)
    observations: list[tuple[Item, str]] = field(default_factory=list)
    procedures: list[tuple[Item, str]] = field(default_factory=list)
    medications: list[tuple[Item, str, tuple[str, ...]]] = field(default_factory=list)
    immunizations: list[tuple[Item, str, tuple[str, ...]]] = field(default_factory=list)
    encounters: dict[str, Item] = field(default_factory=dict)


def _select_condition(sel: _Selected, item: Item) -> None:
    concept = item.resource.get("code")
    if (hit := codes.load("cancer").match_concept(concept)) is not None:
        sel.cancers.append((item, hit[0], hit[1]))
    elif (hit := codes.load("metastasis").match_concept(concept)) is not None:
        sel.metastases.append((item, hit[0]))
    elif (hit := codes.load("infection").match_concept(concept)) is not None:
        sel.infections.append((item, hit[0]))


def _select_medication(sel: _Selected, item: Item, shared: dict[str, dict[str, Any]]) -> None:
    r = item.resource
    concept = r.get("medicationCodeableConcept")
    if concept is None and (ref := _ref(r.get("medicationReference"))) is not None:
        concept = (shared.get(ref) or {}).get("code")
    if (hit := codes.load("medication").match_concept(concept)) is not None:
        sel.medications.append((item, hit[0], hit[1]))


def _select_encounter(sel: _Selected, item: Item) -> None:
    rid = item.resource.get("id")
    for key in (item.full_url, f"Encounter/{rid}", f"urn:uuid:{rid}"):
        if key:
            sel.encounters.setdefault(key, item)


def _unreadable_code(concept: Any) -> bool:
    """A code that is there but is not a CodeableConcept (an object whose ``coding`` is a list):
    what it names cannot be known.

    >>> _unreadable_code(None), _unreadable_code({"text": "flu"}), _unreadable_code(5)
    (False, False, True)
    """
    if concept is None:
        return False
    if type(concept) is not dict:
        return True
    coding = concept.get("coding")
    return coding is not None and type(coding) is not list


def _select(items: Iterable[Item], shared: dict[str, dict[str, Any]], ctx: _Ctx) -> _Selected:
    """Pick resources by type and code (no validation yet). A resource whose code cannot be read
    is left out with ``resource.skipped_invalid``: it might have been a cancer or an infection."""
    sel = _Selected()
    lab, procedure, vaccine = codes.load("lab"), codes.load("procedure"), codes.load("vaccine")
    for item in items:
        r = item.resource
        rtype = r["resourceType"]
        field_name = _SELECTING_CODE.get(rtype)
        if field_name is not None and _unreadable_code(concept := r.get(field_name)):
            ctx.warn(
                "resource.skipped_invalid",
                f"{item.ref} {field_name} is not a CodeableConcept ({concept!r:.60}), so what it "
                f"records cannot be known; left out (at {item.location})",
                item.ref,
            )
            continue
        if rtype == "Condition":
            _select_condition(sel, item)
        elif rtype == "Observation":
            if (hit := lab.match_concept(r.get("code"))) is not None:
                sel.observations.append((item, hit[0]))
        elif rtype == "Procedure":
            if (hit := procedure.match_concept(r.get("code"))) is not None:
                sel.procedures.append((item, hit[0]))
        elif rtype in _MED_TYPES:
            _select_medication(sel, item, shared)
        elif rtype == "Immunization":
            if (hit2 := vaccine.match_concept(r.get("vaccineCode"))) is not None:
                sel.immunizations.append((item, hit2[0], hit2[1]))
        elif rtype == "Encounter":
            _select_encounter(sel, item)
    return sel


def _last_contact(items: Iterable[Item], ctx: _Ctx, extra: Iterable[dt.date]) -> dt.date | None:
    """Latest plausible date any resource carries (lower bound of partial dates)."""
    # Compare the text first (cheap: ISO dates sort as text), then parse from the latest down:
    # a malformed value ("2025-99-99") must not hide the latest valid one.
    top = ctx.today.isoformat()
    low = ctx.birth_date.isoformat() if ctx.birth_date else ""
    days: set[str] = set()
    # the date keys a resource has, by a set intersection in C (most resources have one or two)
    for item in items:
        r = item.resource
        for key in r.keys() & _DATE_KEYS:
            value = r[key]
            if key in _PERIOD_SET:
                if not isinstance(value, dict):
                    continue
                values: tuple[Any, ...] = (value.get("start"), value.get("end"))
            else:
                values = (value,)
            for v in values:
                if isinstance(v, str) and len(v) >= 4:
                    day = v[:10]
                    if low <= day <= top:
                        days.add(day)
    dates = [d for d in extra if d <= ctx.today]
    for day in sorted(days, reverse=True):
        try:
            parsed = parse_fhir_date(day, Bound.START).date
        except ValueError:
            continue
        if parsed <= ctx.today and (ctx.birth_date is None or parsed >= ctx.birth_date):
            dates.append(parsed)
            break
    return max(dates) if dates else None


def _patient_facts(group: PatientGroup, ctx: _Ctx) -> tuple[str, dt.date | None]:
    """Sex and deceased date; sets ``ctx.birth_date``."""
    item = group.patient
    r = item.resource
    if not ctx.usable(item):
        return "unknown", None
    ctx.birth_date = ctx.date(r.get("birthDate"), Bound.START, item, "birthDate")
    gender = r.get("gender")
    sex = gender if gender in ("male", "female", "other", "unknown") else "unknown"
    deceased = ctx.date(r.get("deceasedDateTime"), Bound.START, item, "deceasedDateTime")
    return sex, deceased


def _condition_dates(item: Item, ctx: _Ctx) -> tuple[dt.date | None, dt.date | None]:
    r = item.resource
    onset_value = r.get("onsetDateTime") or _period(r, "onsetPeriod")[0] or r.get("recordedDate")
    onset = ctx.date(onset_value, Bound.START, item, "onset")
    abatement_value = r.get("abatementDateTime") or _period(r, "abatementPeriod")[1]
    abatement = ctx.date(abatement_value, Bound.END, item, "abatement")
    if onset is not None and abatement is not None and abatement < onset:
        ctx.warn("date.invalid", f"{item.ref} abatement is before onset; not used", item.ref)
        abatement = None
    return onset, abatement


def _observation_date(item: Item, ctx: _Ctx) -> dt.date | None:
    r = item.resource
    value = (
        r.get("effectiveDateTime")
        or _period(r, "effectivePeriod")[0]
        or r.get("effectiveInstant")
        or r.get("issued")
    )
    return ctx.date(value, Bound.START, item, "effective date")


def _event_dates(item: Item, ctx: _Ctx) -> tuple[dt.date | None, dt.date | None]:
    """Start and end of a procedure, medication record or encounter."""
    r = item.resource
    start_v: Any = None
    end_v: Any = None
    for key in ("performedPeriod", "effectivePeriod", "period"):
        s, e = _period(r, key)
        if s or e:
            start_v, end_v = s, e
            break
    if start_v is None:
        start_v = (
            r.get("performedDateTime")
            or r.get("effectiveDateTime")
            or r.get("authoredOn")
            or r.get("dateAsserted")
        )
    start = ctx.date(start_v, Bound.START, item, "start")
    end = ctx.date(end_v, Bound.END, item, "end")
    if start is None:
        start = end
    if end is None or (start is not None and end < start):
        end = start
    return start, end


# cancers, stage, at-risk start


def _cancers(sel: _Selected, ctx: _Ctx) -> list[Cancer]:
    by_site: dict[str, list[tuple[Item, tuple[str, ...], dt.date | None, dt.date | None]]] = {}
    for item, site, matched in sel.cancers:
        if not ctx.usable(item):
            continue
        onset, abatement = _condition_dates(item, ctx)
        by_site.setdefault(site, []).append((item, matched, onset, abatement))
    result = []
    for site, records in by_site.items():
        onsets = [o for _, _, o, _ in records if o is not None]
        abatements = [a for _, _, _, a in records]
        latest = max(records, key=lambda x: (x[2] or dt.date.min, x[0].ref))[0].resource
        status_code = _code_of(latest.get("clinicalStatus"))
        stage = None
        for item, *_ in records:
            for st in _seq(item.resource.get("stage")):
                if isinstance(st, dict):
                    stage = stage or normalise_stage(st.get("summary"))
        result.append(
            Cancer(
                site=CancerSite(site)
                if site in CancerSite._value2member_map_
                else CancerSite.OTHER,
                codes=tuple(sorted({c for _, m, _, _ in records for c in m})),
                onset=min(onsets) if onsets else None,
                abatement=(
                    max(a for a in abatements if a is not None)
                    if abatements and all(a is not None for a in abatements)
                    else None
                ),
                clinical_status=(
                    ClinicalStatus(str(status_code))
                    if status_code in ClinicalStatus._value2member_map_
                    else None
                ),
                stage=stage,
                sources=tuple(sorted(i.ref for i, *_ in records)),
            )
        )
    return result


def _stage_observations(sel: _Selected, ctx: _Ctx) -> list[tuple[dt.date | None, str, str]]:
    found = []
    for item, kind in sel.observations:
        if kind != "stage_group" or not ctx.usable(item):
            continue
        stage = normalise_stage(item.resource.get("valueCodeableConcept"))
        if stage is not None:
            found.append((_observation_date(item, ctx), stage, item.ref))
    return found


def _with_stages(
    cancers: list[Cancer], stages: list[tuple[dt.date | None, str, str]]
) -> list[Cancer]:
    """Give each cancer without a Condition.stage the latest, most specific stage observation
    dated on or after its onset (or any, when there is one cancer)."""
    out = []
    for cancer in cancers:
        if cancer.stage is not None:
            out.append(cancer)
            continue
        mine = [
            s
            for s in stages
            if len(cancers) == 1 or (s[0] and cancer.onset and s[0] >= cancer.onset)
        ]
        if not mine:
            out.append(cancer)
            continue
        best = max(mine, key=lambda s: (s[0] or dt.date.min, len(s[1]), s[1]))
        out.append(
            cancer.model_copy(
                update={"stage": best[1], "sources": tuple(sorted({*cancer.sources, best[2]}))}
            )
        )
    return out


def _remission_dates(sel: _Selected, ctx: _Ctx) -> tuple[list[dt.date], list[tuple[dt.date, str]]]:
    """Dates of disease-status remission evidence, and progression evidence (date, ref)."""
    lab = codes.load("lab")
    remission: list[dt.date] = []
    progression: list[tuple[dt.date, str]] = []
    for item, kind in sel.observations:
        if kind != "disease_status" or not ctx.usable(item):
            continue
        hit = lab.match_concept(item.resource.get("valueCodeableConcept"))
        if hit is None:
            continue
        day = _observation_date(item, ctx)
        if day is None:
            ctx.undated(item, "cancer disease status")
            continue
        if hit[0] == "status_remission":
            remission.append(day)
        elif hit[0] == "status_progression":
            progression.append((day, item.ref))
    return remission, progression


_RETURNED = (ClinicalStatus.RECURRENCE, ClinicalStatus.RELAPSE)


def _warn_returned(cancers: list[Cancer], ctx: _Ctx) -> None:
    """Warn of a cancer whose clinical status says it has come back: the status carries no
    date, so the record cannot say since when, and the history keeps its other dates."""
    for cancer in cancers:
        if cancer.clinical_status in _RETURNED:
            ctx.warn(
                "cancer.returned_status",
                f"{cancer.site.value} cancer has the clinical status "
                f"'{cancer.clinical_status.value}': the record says it has come back, at a date "
                "it does not give; an estimate of a first metastatic relapse after remission "
                "may not apply",
                cancer.sources[0] if cancer.sources else None,
            )


def _no_cancer(left_out: list[str]) -> str:
    """What ``cancer.none`` says: no cancer Condition, or only ones left out (each has its own
    warning), so that a report's reason does not deny what the record holds."""
    if not left_out:
        return "no cancer diagnosis in the record"
    named = ", ".join(left_out[:3]) + (", …" if len(left_out) > 3 else "")
    return (
        f"no usable cancer diagnosis in the record: the cancer Condition(s) {named} were left out "
        "(invalid FHIR or entered in error; see their warnings)"
    )


def _at_risk_start(
    cancers: list[Cancer],
    treatments: list[Treatment],
    remission: list[dt.date],
    ctx: _Ctx,
    left_out: list[str],
) -> tuple[dt.date | None, AtRiskBasis]:
    """The documented precedence: abatement, disease status, end of curative treatment, default.
    ``left_out``: the cancer Conditions that were not usable, for the ``cancer.none`` message."""
    if not cancers:
        ctx.warn("cancer.none", _no_cancer(left_out), f"Patient/{ctx.patient_id}")
        return None, AtRiskBasis.NONE
    primary = max(cancers, key=lambda c: (c.onset or dt.date.min, c.site.value))
    if primary.abatement is not None:
        return primary.abatement, AtRiskBasis.ABATEMENT
    onset = primary.onset
    after = sorted(d for d in remission if onset is None or d >= onset)
    if after:
        return after[0], AtRiskBasis.DISEASE_STATUS
    if onset is None:
        ctx.warn(
            "cancer.no_onset",
            f"{primary.site.value} cancer has no usable onset date and no abatement or remission "
            "status; no at-risk start could be derived",
            primary.sources[0] if primary.sources else None,
        )
        return None, AtRiskBasis.NONE
    curative = [
        t.end or t.start
        for t in treatments
        if t.kind in (TreatmentKind.SURGERY, TreatmentKind.RADIOTHERAPY, TreatmentKind.CHEMOTHERAPY)
        and t.start is not None
        and -30 <= (t.start - onset).days <= CURATIVE_WINDOW_DAYS
    ]
    ends = [d for d in curative if d is not None]
    if ends:
        return max(ends), AtRiskBasis.TREATMENT_END
    default = onset + dt.timedelta(days=ACTIVE_DEFAULT_DAYS)
    ctx.warn(
        "cancer.active_without_end",
        f"{primary.site.value} cancer (onset {onset.isoformat()}) has no abatement, remission "
        f"status or curative treatment end; at-risk start assumed {ACTIVE_DEFAULT_DAYS} days after "
        "onset",
        primary.sources[0] if primary.sources else None,
    )
    if default > ctx.today:
        return None, AtRiskBasis.NONE
    return default, AtRiskBasis.ACTIVE_DEFAULT


# treatments


_PROCEDURE_KIND = {
    "surgery": TreatmentKind.SURGERY,
    "radiotherapy": TreatmentKind.RADIOTHERAPY,
    "chemotherapy": TreatmentKind.CHEMOTHERAPY,
}


def _treatment_records(sel: _Selected, ctx: _Ctx) -> list[Treatment]:
    records = []
    for item, kind in sel.procedures:
        if kind in _PROCEDURE_KIND and ctx.usable(item):
            start, end = _event_dates(item, ctx)
            if start is None:
                ctx.undated(item, kind)
            else:
                code = _code_of(item.resource.get("code"))
                records.append(
                    Treatment(
                        kind=_PROCEDURE_KIND[kind],
                        start=start,
                        end=end,
                        codes=(f"http://snomed.info/sct|{code}",) if code else (),
                        sources=(item.ref,),
                    )
                )
    for item, kind, matched in sel.medications:
        if item.resource.get("status") == "not-taken" or not ctx.usable(item):
            continue
        start, end = _event_dates(item, ctx)
        if start is None:
            ctx.undated(item, kind)
        else:
            records.append(
                Treatment(
                    kind=TreatmentKind(kind),
                    start=start,
                    end=end,
                    codes=matched,
                    sources=(item.ref,),
                )
            )
    return records


def merge_courses(
    records: Iterable[Treatment], gap_days: int = COURSE_GAP_DAYS
) -> tuple[Treatment, ...]:
    """Treatments of one kind less than ``gap_days`` apart form one course (sorted output)."""
    by_kind: dict[TreatmentKind, list[Treatment]] = {}
    for t in records:
        by_kind.setdefault(t.kind, []).append(t)
    out: list[Treatment] = []
    for group in by_kind.values():
        group.sort(key=lambda t: (t.start or dt.date.min, t.end or dt.date.min, t.sources))
        cur = group[0]
        for nxt in group[1:]:
            cur_end = cur.end or cur.start
            if (
                cur_end is not None
                and nxt.start is not None
                and (nxt.start - cur_end).days <= gap_days
            ):
                ends = [d for d in (cur.end, nxt.end, nxt.start) if d is not None]
                cur = Treatment(
                    kind=cur.kind,
                    start=cur.start,
                    end=max(ends) if ends else None,
                    codes=tuple(sorted({*cur.codes, *nxt.codes})),
                    sources=tuple(sorted({*cur.sources, *nxt.sources})),
                )
            else:
                out.append(cur)
                cur = nxt
        out.append(cur)
    return tuple(sorted(out, key=lambda t: (t.start or dt.date.min, t.kind.value, t.sources)))


# infections


def _encounter_severity(enc: dict[str, Any]) -> Severity | None:
    encounter = codes.load("encounter")
    cls = enc.get("class")
    classes = cls if isinstance(cls, list) else [cls]
    severity: Severity | None = None
    for c in classes:
        if isinstance(c, dict):
            hit = encounter.match(c.get("system"), c.get("code"))
            if hit == "hospitalised":
                severity = Severity.HOSPITALISED
            elif hit == "mild" and severity is None:
                severity = Severity.MILD
    for t in _seq(enc.get("type")):
        if (hit2 := encounter.match_concept(t)) is not None and hit2[0] == "icu":
            return Severity.CRITICAL
    for loc in _seq(enc.get("location")):
        if isinstance(loc, dict):
            place = loc.get("location")
            display = place.get("display") if isinstance(place, dict) else None
            if isinstance(display, str) and _ICU.search(display):
                return Severity.CRITICAL
            if any(_ICU.search(s) for s in _texts(loc.get("physicalType"))):
                return Severity.CRITICAL
    return severity


_PROCEDURE_SEVERITY = {
    "icu": Severity.CRITICAL,
    "ventilation": Severity.CRITICAL,
    "oxygen": Severity.HOSPITALISED,
}


def _linked(item: Item, sel: _Selected, ctx: _Ctx) -> tuple[Severity | None, tuple[str, ...]]:
    """Severity of the Encounter a record refers to, and that Encounter's reference."""
    key = _referenced_encounter(item.resource)
    enc = sel.encounters.get(key) if key else None
    if enc is None or not ctx.usable(enc):
        return None, ()
    return _encounter_severity(enc.resource), (enc.ref,)


def _is_positive(r: dict[str, Any]) -> bool | None:
    """True positive, False negative, None unknown (result coded, interpreted or as text)."""
    lab = codes.load("lab")
    hit = lab.match_concept(r.get("valueCodeableConcept"))
    if hit is not None and hit[0] in ("result_positive", "result_negative"):
        return hit[0] == "result_positive"
    for interp in _seq(r.get("interpretation")):
        code = _code_of(interp)
        if code in ("POS", "DET", "A"):
            return True
        if code in ("NEG", "ND", "N"):
            return False
    texts = [*_texts(r.get("valueCodeableConcept"))]
    if isinstance(r.get("valueString"), str):
        texts.append(r["valueString"])
    for text in texts:
        t = text.strip().lower()
        if t.startswith(("not detected", "negative", "undetected")):
            return False
        if t.startswith(("detected", "positive")):
            return True
    return None


def _il6_pg_ml(item: Item, ctx: _Ctx) -> float | None:
    q = item.resource.get("valueQuantity")
    if not isinstance(q, dict) or q.get("value") is None:
        return None
    if isinstance(q["value"], bool) or not isinstance(q["value"], int | float):
        # validation coerces a numeric string ("12"); FHIR JSON requires a number
        ctx.warn(
            "il6.value_invalid",
            f"{item.ref} IL-6 value {q['value']!r} is not a JSON number; not used",
            item.ref,
        )
        return None
    unit = str(q.get("code") or q.get("unit") or "").strip()
    if not il6_unit_known(unit):
        ctx.warn(
            "il6.unit_unknown",
            f"{item.ref} IL-6 unit {unit!r} cannot be converted to pg/mL",
            item.ref,
        )
        return None
    value = float(q["value"])
    if math.isfinite(value) and value >= 0:
        value = il6_to_pg_ml(value, unit)  # the one unit table (riskcalc.awakening)
    if not math.isfinite(value) or value < 0:
        ctx.warn(
            "il6.value_invalid",
            f"{item.ref} IL-6 value {q['value']!r} {unit} is negative or not finite in pg/mL; "
            "not used",
            item.ref,
        )
        return None
    return round(value, 6)


def _infection_anchors_and_attachments(
    sel: _Selected, ctx: _Ctx
) -> tuple[list[InfectionEpisode], list[Attachment], list[PathogenTest]]:
    """Episode anchors (confirmed conditions, positive tests), attachments, and every virus
    test with a readable result, negative ones included (PatientHistory.tests)."""
    anchors: list[InfectionEpisode] = []
    attachments: list[Attachment] = []
    tests: list[PathogenTest] = []
    for item, kind in sel.infections:
        if not ctx.usable(item):
            continue
        onset, abatement = _condition_dates(item, ctx)
        if onset is None:
            ctx.undated(item, kind)
            continue
        end = abatement or onset
        severity, enc = _linked(item, sel, ctx)
        sources = tuple(sorted({item.ref, *enc}))
        if kind in _PATHOGEN_BY_SET:
            anchors.append(
                InfectionEpisode(
                    pathogen=_PATHOGEN_BY_SET[kind],
                    onset=onset,
                    end=end,
                    severity=severity or Severity.MILD,
                    sources=sources,
                )
            )
        else:
            attachments.append(
                Attachment(
                    start=onset,
                    end=end,
                    sources=sources,
                    kind=AttachmentKind.CONDITION,
                    pathogen=Pathogen.COVID19 if kind == "covid19_suspected" else None,
                    standalone=Pathogen.OTHER_VIRAL if kind == "other_viral" else None,
                    severity=severity,
                )
            )
    for item, kind in sel.observations:
        if kind in _PATHOGEN_BY_SET:
            positive = _is_positive(item.resource)
            if positive is None or not ctx.usable(item):
                continue  # no result that can be read: neither a test nor an episode
            day = _observation_date(item, ctx)
            if day is None:
                ctx.undated(item, f"{_PATHOGEN_BY_SET[kind].value} test")
                continue
            tests.append(
                PathogenTest(
                    pathogen=_PATHOGEN_BY_SET[kind],
                    date=day,
                    positive=positive,
                    sources=(item.ref,),
                )
            )
            if not positive:
                continue
            severity, enc = _linked(item, sel, ctx)
            anchors.append(
                InfectionEpisode(
                    pathogen=_PATHOGEN_BY_SET[kind],
                    onset=day,
                    end=day,
                    severity=severity or Severity.MILD,
                    sources=tuple(sorted({item.ref, *enc})),
                )
            )
        elif kind == "il6" and ctx.usable(item) and (il6 := _il6_attachment(item, ctx)) is not None:
            attachments.append(il6)
    return anchors, attachments, tests


def _il6_attachment(item: Item, ctx: _Ctx) -> Attachment | None:
    """A usable IL-6 result as an attachment to the episode it falls in, if dated and valid."""
    day = _observation_date(item, ctx)
    value = _il6_pg_ml(item, ctx)
    if day is None:
        ctx.undated(item, "IL-6")
        return None
    if value is None:
        return None
    return Attachment(
        start=day, end=day, sources=(item.ref,), kind=AttachmentKind.OBSERVATION, il6_pg_ml=value
    )


def _severity_attachments(sel: _Selected, ctx: _Ctx) -> list[Attachment]:
    out = []
    seen: set[int] = set()
    for item in sel.encounters.values():
        if id(item) in seen:
            continue
        seen.add(id(item))
        severity = _encounter_severity(item.resource)
        if severity is None or severity is Severity.MILD or not ctx.usable(item):
            continue
        out.extend(_overlap(item, severity, ctx))
    for item, kind in sel.procedures:
        if kind in _PROCEDURE_SEVERITY and ctx.usable(item):
            out.extend(_overlap(item, _PROCEDURE_SEVERITY[kind], ctx))
    return out


def _overlap(item: Item, severity: Severity, ctx: _Ctx) -> list[Attachment]:
    """The severity an Encounter or Procedure shows over its dates; none without both dates."""
    start, end = _event_dates(item, ctx)
    if start is None or end is None:
        return []
    return [
        Attachment(
            start=start,
            end=end,
            sources=(item.ref,),
            kind=AttachmentKind.OVERLAP,
            severity=severity,
        )
    ]


def _medication_attachments(treatments: Iterable[Treatment]) -> list[Attachment]:
    out = []
    for t in treatments:
        if t.kind in (TreatmentKind.IL6_BLOCKADE, TreatmentKind.CORTICOSTEROID) and t.start:
            out.append(
                Attachment(
                    start=t.start,
                    end=t.end or t.start,
                    sources=t.sources,
                    kind=AttachmentKind.OVERLAP,
                    il6_blockade=t.kind is TreatmentKind.IL6_BLOCKADE,
                    corticosteroids=t.kind is TreatmentKind.CORTICOSTEROID,
                )
            )
    return out


def _infections(
    sel: _Selected, records: list[Treatment], ctx: _Ctx, window_days: int
) -> tuple[tuple[InfectionEpisode, ...], tuple[PathogenTest, ...]]:
    """The infection episodes, and the virus tests sorted by date."""
    anchors, attachments, found = _infection_anchors_and_attachments(sel, ctx)
    tests = tuple(sorted(found, key=lambda t: (t.date, t.pathogen.value, t.positive, t.sources)))
    if not anchors and not any(a.standalone for a in attachments):
        return (), tests
    attachments += _severity_attachments(sel, ctx) + _medication_attachments(records)
    episodes = build_episodes(anchors, attachments, window_days=window_days)
    for e in episodes:
        if not any(s.startswith(("Encounter/", "Procedure/")) for s in e.sources):
            ctx.warn(
                "infection.unknown_severity",
                f"{e.pathogen.value} episode from {e.onset.isoformat()}: no Encounter or Procedure "
                "shows its severity; 'mild' assumed",
                e.sources[0] if e.sources else None,
            )
    return episodes, tests


# vaccinations and outcomes


def _vaccinations(sel: _Selected, ctx: _Ctx) -> tuple[Vaccination, ...]:
    out = []
    for item, kind, matched in sel.immunizations:
        if item.resource.get("status") == "not-done" or not ctx.usable(item):
            continue
        day = ctx.date(item.resource.get("occurrenceDateTime"), Bound.START, item, "occurrence")
        if day is None:
            ctx.undated(item, f"{kind} vaccine")
        else:
            out.append(
                Vaccination(vaccine=VaccineKind(kind), date=day, codes=matched, sources=(item.ref,))
            )
    return tuple(sorted(out, key=lambda v: (v.date, v.vaccine.value, v.sources)))


def _outcomes(
    sel: _Selected,
    ctx: _Ctx,
    at_risk_start: dt.date | None,
    progression: list[tuple[dt.date, str]],
    deceased: dt.date | None,
    patient_ref: str,
) -> tuple[tuple[Outcome, ...], tuple[str, ...]]:
    """The dated outcomes, and the references of metastasis records without a usable date."""
    found: dict[tuple[OutcomeKind, dt.date], set[str]] = {}
    undated: list[str] = []

    def add(kind: OutcomeKind, day: dt.date, ref: str) -> None:
        found.setdefault((kind, day), set()).add(ref)

    # Every usable metastasis record counts, those dated before the at-risk start too: metastatic
    # disease before remission puts the patient outside the model's population (a *first*
    # relapse of non-metastatic cancer), so assessment and labels must see it. One without a
    # date cannot be placed, and is kept apart (``PatientHistory.undated_metastases``).
    for item, site in sel.metastases:
        if not ctx.usable(item):
            continue
        onset, _ = _condition_dates(item, ctx)
        if onset is None:
            undated.append(item.ref)
            ctx.warn(
                "metastasis.undated",
                f"{item.ref} records a metastasis ({site}) with no usable onset or recorded "
                "date; metastatic disease at an unknown time, so no first relapse is estimated",
                item.ref,
            )
            continue
        add(OutcomeKind.METASTATIC_RELAPSE, onset, item.ref)
        if site == "lung":
            add(OutcomeKind.LUNG_METASTASIS, onset, item.ref)
    for day, ref in progression:
        if at_risk_start is None or day > at_risk_start:
            add(OutcomeKind.METASTATIC_RELAPSE, day, ref)
    if deceased is not None:
        add(OutcomeKind.DEATH, deceased, patient_ref)
        cancer, metastasis = codes.load("cancer"), codes.load("metastasis")
        for item, kind in sel.observations:
            if kind != "cause_of_death" or not ctx.usable(item):
                continue
            value = item.resource.get("valueCodeableConcept")
            if cancer.match_concept(value) or metastasis.match_concept(value):
                add(OutcomeKind.CANCER_DEATH, deceased, item.ref)
    outcomes = tuple(
        Outcome(kind=k, date=d, sources=tuple(sorted(refs)))
        for (k, d), refs in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0].value))
    )
    return outcomes, tuple(sorted(set(undated)))


def extract(
    group: PatientGroup,
    *,
    shared: dict[str, dict[str, Any]],
    unit_issues: Iterable[Issue],
    today: dt.date,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> PatientHistory:
    """Build one patient's history from the resources grouped for them."""
    ctx = _Ctx(patient_id=group.patient_id, today=today, shared=shared)
    items = _dedupe(group, ctx)
    sex, deceased = _patient_facts(group, ctx)
    sel = _select(items, shared, ctx)
    cancers = _with_stages(_cancers(sel, ctx), _stage_observations(sel, ctx))
    _warn_returned(cancers, ctx)
    records = _treatment_records(sel, ctx)
    treatments = merge_courses(records)
    remission, progression = _remission_dates(sel, ctx)
    left_out = [item.ref for item, *_ in sel.cancers if not ctx.usable(item)]
    at_risk, basis = _at_risk_start(cancers, list(treatments), remission, ctx, left_out)
    infections, tests = _infections(sel, records, ctx, window_days)
    outcomes, undated_metastases = _outcomes(
        sel, ctx, at_risk, progression, deceased, group.patient.ref
    )
    vaccinations = _vaccinations(sel, ctx)
    last = _last_contact(items, ctx, [deceased] if deceased else [])
    # Every step that may warn has run (the vaccinations' warnings were lost when they were read
    # in the constructor below). At most MAX_ISSUES_PER_CODE of a code (group() caps the unit's;
    # capping is idempotent).
    issues = [*cap_issues(group.issues + ctx.issues), *cap_issues(unit_issues)]
    return PatientHistory(
        patient_id=group.patient_id,
        birth_date=ctx.birth_date,
        sex=sex,
        deceased_date=deceased,
        at_risk_start=at_risk,
        at_risk_start_basis=basis,
        last_contact=last,
        cancers=tuple(
            sorted(cancers, key=lambda c: (c.onset or dt.date.min, c.site.value, c.sources))
        ),
        infections=infections,
        vaccinations=vaccinations,
        treatments=treatments,
        outcomes=outcomes,
        undated_metastases=undated_metastases,
        tests=tests,
        warnings=tuple(sorted(set(issues), key=issue_key)),
    )


def _dedupe(group: PatientGroup, ctx: _Ctx) -> list[Item]:
    seen: set[tuple[str, str]] = set()
    out = []
    for item in group.items:
        rtype = item.resource["resourceType"]
        if not is_known_type(rtype):
            ctx.warn(
                "resource.unknown_type",
                f"{item.ref}: {rtype!r} is not a FHIR R4 resource type; passed over",
                item.location,
            )
            continue
        rid = item.resource.get("id")
        if isinstance(rid, str):
            key = (rtype, rid or "?")  # what item.ref spells, without making the text
            if key in seen:
                ctx.warn(
                    "resource.duplicate",
                    f"{item.ref} appears more than once; the first copy was kept",
                    item.ref,
                )
                continue
            seen.add(key)
        out.append(item)
    return out
