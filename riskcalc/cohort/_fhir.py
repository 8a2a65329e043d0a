"""A simulated patient as FHIR R4 resources (plain dicts), with realistic coding and some noise.

Only the codes agreed with the FHIR reader are emitted (every code is in riskcalc/codes/data; a test checks it). Noise: SNOMED
CT and ICD-10-CM codings mixed (sometimes both), ~5% of episode diagnoses duplicated under another
id and coding, ~10% of optional end dates missing, ~5% of cancer deaths without a cause-of-death
Observation. All noise choices derive from the patient's own random integer, so output is
deterministic.
"""

from __future__ import annotations

from typing import Any

from riskcalc.cohort._history import cause_of_death_recorded
from riskcalc.cohort._params import to_date
from riskcalc.cohort._records import Path, Sev, SimEpisode, SimPatient
from riskcalc.history import CancerSite

Resource = dict[str, Any]

SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

CANCER_CODES: dict[CancerSite, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    CancerSite.BREAST: (
        (SCT, "254837009", "Malignant neoplasm of breast"),
        (ICD, "C50.911", "Malignant neoplasm of unspecified site of right female breast"),
    ),
    CancerSite.COLORECTAL: (
        (SCT, "363406005", "Malignant neoplasm of colon"),
        (ICD, "C18.9", "Malignant neoplasm of colon, unspecified"),
    ),
    CancerSite.LUNG: (
        (SCT, "254637007", "Non-small cell lung cancer"),
        (ICD, "C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung"),
    ),
    CancerSite.PROSTATE: (
        (SCT, "399068003", "Malignant tumor of prostate"),
        (ICD, "C61", "Malignant neoplasm of prostate"),
    ),
    CancerSite.MELANOMA: (
        (SCT, "372244006", "Malignant melanoma"),
        (ICD, "C43.9", "Malignant melanoma of skin, unspecified"),
    ),
}
LUNG_MET = (
    (SCT, "94391008", "Secondary malignant neoplasm of lung"),
    (ICD, "C78.00", "Secondary malignant neoplasm of unspecified lung"),
)
OTHER_MET: dict[CancerSite, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    CancerSite.BREAST: (
        (SCT, "94222008", "Secondary malignant neoplasm of bone"),
        (ICD, "C79.51", "Secondary malignant neoplasm of bone"),
    ),
    CancerSite.COLORECTAL: (
        (SCT, "94381002", "Secondary malignant neoplasm of liver"),
        (ICD, "C78.7", "Secondary malignant neoplasm of liver and intrahepatic bile duct"),
    ),
    CancerSite.LUNG: (
        (SCT, "94225005", "Secondary malignant neoplasm of brain"),
        (ICD, "C79.31", "Secondary malignant neoplasm of brain"),
    ),
    CancerSite.PROSTATE: (
        (SCT, "94222008", "Secondary malignant neoplasm of bone"),
        (ICD, "C79.51", "Secondary malignant neoplasm of bone"),
    ),
    CancerSite.MELANOMA: (
        (SCT, "94225005", "Secondary malignant neoplasm of brain"),
        (ICD, "C79.31", "Secondary malignant neoplasm of brain"),
    ),
}
INFECTION_CODES = {
    Path.COVID19: (
        (SCT, "840539006", "Disease caused by severe acute respiratory syndrome coronavirus 2"),
        (ICD, "U07.1", "COVID-19"),
    ),
    Path.INFLUENZA: (
        (SCT, "6142004", "Influenza"),
        (
            ICD,
            "J11.1",
            "Influenza due to unidentified influenza virus with other respiratory manifestations",
        ),
    ),
    Path.RSV: (
        (SCT, "55735004", "Respiratory syncytial virus infection"),
        (ICD, "B97.4", "Respiratory syncytial virus as the cause of diseases classified elsewhere"),
    ),
}
TEST_CODES = {
    Path.COVID19: (
        "94500-6",
        "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory system specimen by NAA with probe detection",
    ),
    Path.INFLUENZA: (
        "92142-9",
        "Influenza virus A RNA [Presence] in Respiratory system specimen by NAA with probe detection",
    ),
    Path.RSV: (
        "92131-2",
        "Respiratory syncytial virus RNA [Presence] in Respiratory system specimen by NAA with probe detection",
    ),
}
POSITIVE = ((SCT, "260373001", "Detected"), (SCT, "10828004", "Positive"))
NEGATIVE = ((SCT, "260415000", "Not detected"), (SCT, "260385009", "Negative"))
ENCOUNTER_CLASS = {
    Sev.MILD: ("AMB", "ambulatory"),
    Sev.HOSPITALISED: ("IMP", "inpatient encounter"),
    Sev.CRITICAL: ("IMP", "inpatient encounter"),
}


def _cc(*codings: tuple[str, str, str], text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]
    }
    if text:
        out["text"] = text
    return out


def _mixed(pair: tuple[tuple[str, str, str], tuple[str, str, str]], r: int) -> dict[str, Any]:
    """SNOMED CT, ICD-10-CM, or both, chosen by ``r``."""
    choice = r % 5
    if choice < 2:
        return _cc(pair[0])
    if choice < 4:
        return _cc(pair[1])
    return _cc(pair[0], pair[1])


def _d(days: int) -> str:
    return to_date(days).isoformat()


class _Builder:
    """Collects the resources of one patient; ``r`` is a cheap deterministic noise stream."""

    def __init__(self, p: SimPatient) -> None:
        self.p = p
        self.pid = p.patient_id
        self.ref = {"reference": f"Patient/{p.patient_id}"}
        self.state = p.noise or 1
        self.out: list[Resource] = []

    def r(self) -> int:
        # xorshift32: deterministic per patient, independent of everything else
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def add(self, resource: Resource) -> None:
        self.out.append(resource)

    def patient(self) -> None:
        p = self.p
        res: Resource = {
            "resourceType": "Patient",
            "id": self.pid,
            "identifier": [{"system": "urn:riskcalc:simulated-patient", "value": self.pid}],
            "gender": "female" if p.female else "male",
            "birthDate": _d(p.birth_day),
        }
        if p.death_day is not None:
            res["deceasedDateTime"] = _d(p.death_day)
        self.add(res)

    def cancer(self) -> None:
        p = self.p
        cid = f"{self.pid}-ca"
        res: Resource = {
            "resourceType": "Condition",
            "id": cid,
            "clinicalStatus": _cc(
                (CLINICAL, "remission" if p.remission_as_abatement else "active", "")
            ),
            "verificationStatus": _cc((VERIFICATION, "confirmed", "Confirmed")),
            "category": [_cc((COND_CATEGORY, "problem-list-item", "Problem List Item"))],
            "code": _mixed(CANCER_CODES[p.site], self.r()),
            "subject": self.ref,
            "onsetDateTime": _d(p.diagnosis_day),
            "stage": [{"summary": {"text": f"Stage {p.stage}"}}],
        }
        for coding in res["clinicalStatus"]["coding"]:
            coding.pop("display")
        if p.remission_as_abatement:
            res["abatementDateTime"] = _d(p.at_risk_start_day)
        else:
            self.add(
                self._status(
                    f"{self.pid}-ned",
                    p.at_risk_start_day,
                    ("281900007", "No abnormality detected"),
                    cid,
                )
            )
        self.add(res)

    def _status(self, rid: str, when: int, value: tuple[str, str], focus: str) -> Resource:
        return {
            "resourceType": "Observation",
            "id": rid,
            "status": "final",
            "code": _cc((LOINC, "97509-4", "Cancer disease progression")),
            "subject": self.ref,
            "focus": [{"reference": f"Condition/{focus}"}],
            "effectiveDateTime": _d(when),
            "valueCodeableConcept": _cc((SCT, value[0], value[1])),
        }

    def treatments(self) -> None:
        for k, t in enumerate(self.p.treatments):
            rid = f"{self.pid}-tx{k}"
            code = _cc((t.system, t.code, t.display))
            if t.resource == "Procedure":
                res: Resource = {
                    "resourceType": "Procedure",
                    "id": rid,
                    "status": "completed",
                    "code": code,
                    "subject": self.ref,
                }
                if t.start_day == t.end_day:
                    res["performedDateTime"] = _d(t.start_day)
                else:
                    res["performedPeriod"] = {"start": _d(t.start_day), "end": _d(t.end_day)}
            else:
                res = {
                    "resourceType": "MedicationRequest",
                    "id": rid,
                    "status": "completed" if t.end_day <= self.p.last_contact_day else "active",
                    "intent": "order",
                    "medicationCodeableConcept": code,
                    "subject": self.ref,
                    "authoredOn": _d(t.start_day),
                    "dispenseRequest": {
                        "validityPeriod": {"start": _d(t.start_day), "end": _d(t.end_day)}
                    },
                }
            self.add(res)

    def vaccinations(self) -> None:
        for k, v in enumerate(self.p.vaccinations):
            self.add(
                {
                    "resourceType": "Immunization",
                    "id": f"{self.pid}-im{k}",
                    "status": "completed",
                    "vaccineCode": _cc((CVX, v.cvx, f"{v.kind.value} vaccine")),
                    "patient": self.ref,
                    "occurrenceDateTime": _d(v.day),
                }
            )

    def test(self, rid: str, pathogen: Path, when: int, positive: bool) -> None:
        code, display = TEST_CODES[pathogen]
        value = (POSITIVE if positive else NEGATIVE)[self.r() % 2]
        self.add(
            {
                "resourceType": "Observation",
                "id": rid,
                "status": "final",
                "category": [_cc((OBS_CATEGORY, "laboratory", "Laboratory"))],
                "code": _cc((LOINC, code, display)),
                "subject": self.ref,
                "effectiveDateTime": _d(when),
                "valueCodeableConcept": _cc(value),
            }
        )

    def episode(self, k: int, e: SimEpisode) -> None:
        base = f"{self.pid}-ep{k}"
        enc_ref = {"reference": f"Encounter/{base}-enc"}
        cond: Resource = {
            "resourceType": "Condition",
            "id": f"{base}-dx",
            "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "resolved"}]},
            "verificationStatus": _cc((VERIFICATION, "confirmed", "Confirmed")),
            "category": [_cc((COND_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis"))],
            "code": _mixed(INFECTION_CODES[e.pathogen], self.r()),
            "subject": self.ref,
            "encounter": enc_ref,
            "onsetDateTime": _d(e.onset_day),
        }
        if self.r() % 10:
            cond["abatementDateTime"] = _d(e.end_day)
        else:
            cond.pop("clinicalStatus")  # noise: optional status missing
        self.add(cond)
        if self.r() % 20 == 0:  # noise: the same diagnosis recorded twice
            dup = dict(cond, id=f"{base}-dx2", code=_cc(INFECTION_CODES[e.pathogen][1]))
            self.add(dup)
        cls = ENCOUNTER_CLASS[e.severity]
        if e.severity is Sev.HOSPITALISED and self.r() % 5 == 0:
            cls = ("EMER", "emergency")
        enc: Resource = {
            "resourceType": "Encounter",
            "id": f"{base}-enc",
            "status": "finished",
            "class": {"system": ACT, "code": cls[0], "display": cls[1]},
            "subject": self.ref,
            "period": {"start": _d(e.onset_day), "end": _d(e.end_day)},
            "reasonReference": [{"reference": f"Condition/{base}-dx"}],
        }
        if self.r() % 10 == 0:
            del enc["period"]["end"]
        self.add(enc)
        if e.tested:
            self.test(f"{base}-test", e.pathogen, e.onset_day, True)
        self._episode_care(base, e, enc_ref)

    def _episode_care(self, base: str, e: SimEpisode, enc_ref: dict[str, str]) -> None:
        if e.il6_measured_pg_ml is not None:
            value, unit = e.il6_measured_pg_ml, "pg/mL"
            if self.r() % 10 == 0:
                unit = "ng/L"
            self.add(
                {
                    "resourceType": "Observation",
                    "id": f"{base}-il6",
                    "status": "final",
                    "category": [_cc((OBS_CATEGORY, "laboratory", "Laboratory"))],
                    "code": _cc(
                        (LOINC, "26881-3", "Interleukin 6 [Mass/volume] in Serum or Plasma")
                    ),
                    "subject": self.ref,
                    "encounter": enc_ref,
                    "effectiveDateTime": _d(min(e.onset_day + 2, e.end_day)),
                    "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
                }
            )
        procs = []
        if e.severity is Sev.CRITICAL:
            procs.append(("icu", "305351004", "Admission to intensive care unit"))
            if e.ventilated:
                procs.append(("vent", "40617009", "Artificial respiration"))
        for tag, code, display in procs:
            self.add(
                {
                    "resourceType": "Procedure",
                    "id": f"{base}-{tag}",
                    "status": "completed",
                    "code": _cc((SCT, code, display)),
                    "subject": self.ref,
                    "encounter": enc_ref,
                    "performedDateTime": _d(min(e.onset_day + 1, e.end_day)),
                }
            )
        meds = []
        if e.corticosteroids:
            meds.append(("dex", "3264", "dexamethasone"))
        if e.il6_blockade:
            meds.append(("toci", "612865", "tocilizumab"))
        for tag, code, display in meds:
            self.add(
                {
                    "resourceType": "MedicationRequest",
                    "id": f"{base}-{tag}",
                    "status": "completed",
                    "intent": "order",
                    "medicationCodeableConcept": _cc((RXNORM, code, display)),
                    "subject": self.ref,
                    "encounter": enc_ref,
                    "authoredOn": _d(min(e.onset_day + 1, e.end_day)),
                }
            )

    def metastasis(
        self, tag: str, when: int, pair: tuple[tuple[str, str, str], tuple[str, str, str]]
    ) -> None:
        self.add(
            {
                "resourceType": "Condition",
                "id": f"{self.pid}-{tag}",
                "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
                "verificationStatus": _cc((VERIFICATION, "confirmed", "Confirmed")),
                "code": _mixed(pair, self.r()),
                "subject": self.ref,
                "onsetDateTime": _d(when),
            }
        )

    def outcomes(self) -> None:
        p = self.p
        last = p.last_contact_day
        if p.relapse_day is not None and p.relapse_day <= last and self.r() % 2 == 0:
            self.add(
                self._status(
                    f"{self.pid}-prog",
                    p.relapse_day,
                    ("271299001", "Patient's condition worsened"),
                    f"{self.pid}-ca",
                )
            )
        if p.lung_met_day is not None and p.lung_met_day <= last:
            self.metastasis("met-lung", p.lung_met_day, LUNG_MET)
        if p.other_met_day is not None and p.other_met_day <= last:
            self.metastasis("met-other", p.other_met_day, OTHER_MET[p.site])
        if p.death_cause == "cancer" and p.death_day is not None and cause_of_death_recorded(p):
            self.add(
                {
                    "resourceType": "Observation",
                    "id": f"{self.pid}-cod",
                    "status": "final",
                    "code": _cc(
                        (LOINC, "69453-9", "Cause of death [US Standard Certificate of Death]")
                    ),
                    "subject": self.ref,
                    "effectiveDateTime": _d(p.death_day),
                    "valueCodeableConcept": _cc(CANCER_CODES[p.site][0]),
                }
            )

    def visits(self) -> None:
        for k, v in enumerate(self.p.visit_days):
            self.add(
                {
                    "resourceType": "Encounter",
                    "id": f"{self.pid}-v{k}",
                    "status": "finished",
                    "class": {"system": ACT, "code": "AMB", "display": "ambulatory"},
                    "type": [{"text": "Oncology follow-up"}],
                    "subject": self.ref,
                    "period": {"start": _d(v), "end": _d(v)},
                }
            )


def patient_resources(p: SimPatient) -> list[Resource]:
    """Every FHIR R4 resource of one simulated patient, Patient first."""
    b = _Builder(p)
    b.patient()
    b.cancer()
    b.treatments()
    b.vaccinations()
    for k, e in enumerate(p.episodes):
        if e.recorded:
            b.episode(k, e)
    for k, t in enumerate(p.tests):
        b.test(f"{p.patient_id}-t{k}", t.pathogen, t.day, t.positive)
    b.outcomes()
    b.visits()
    return b.out
