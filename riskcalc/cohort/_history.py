"""What the FHIR files of a simulated patient say, as a PatientHistory, built without FHIR.

This mirror of the writer serves two purposes: it lets the analyses be developed and calibrated
quickly (no files), and a test compares it with what the FHIR reader extracts from the written
files. It uses only what was recorded (recorded episodes, tests, observed outcomes), never the
hidden truth.
"""

from __future__ import annotations

from riskcalc.cohort._params import to_date
from riskcalc.cohort._records import SimPatient
from riskcalc.history import (
    AtRiskBasis,
    Cancer,
    ClinicalStatus,
    InfectionEpisode,
    Outcome,
    OutcomeKind,
    PatientHistory,
    Treatment,
    Vaccination,
)
from riskcalc.history._model import PathogenTest


def cause_of_death_recorded(p: SimPatient) -> bool:
    """Whether a cancer death carries its cause-of-death Observation (5% lack it: noise)."""
    return p.noise % 20 != 0


def observed_outcomes(p: SimPatient) -> list[tuple[OutcomeKind, int]]:
    """Outcomes visible in the record: relapses up to the last contact, deaths."""
    out: list[tuple[OutcomeKind, int]] = []
    last = p.last_contact_day
    if p.relapse_day is not None and p.relapse_day <= last:
        out.append((OutcomeKind.METASTATIC_RELAPSE, p.relapse_day))
    if p.lung_met_day is not None and p.lung_met_day <= last:
        out.append((OutcomeKind.LUNG_METASTASIS, p.lung_met_day))
    if p.death_day is not None:
        out.append((OutcomeKind.DEATH, p.death_day))
        if p.death_cause == "cancer" and cause_of_death_recorded(p):
            out.append((OutcomeKind.CANCER_DEATH, p.death_day))
    return sorted(out, key=lambda o: (o[1], o[0].value))


def to_history(p: SimPatient) -> PatientHistory:
    """The recorded part of a simulated patient as a PatientHistory (no FHIR round trip)."""
    abated = p.remission_as_abatement
    cancer = Cancer(
        site=p.site,
        codes=(),
        onset=to_date(p.diagnosis_day),
        abatement=to_date(p.at_risk_start_day) if abated else None,
        clinical_status=ClinicalStatus.REMISSION if abated else ClinicalStatus.ACTIVE,
        stage=p.stage,
    )
    infections = tuple(
        InfectionEpisode(
            pathogen=e.pathogen.to_pathogen(),
            onset=to_date(e.onset_day),
            end=to_date(e.end_day),
            severity=e.severity.to_severity(),
            il6_peak_pg_ml=e.il6_measured_pg_ml,
            il6_blockade=e.il6_blockade,
            corticosteroids=e.corticosteroids,
        )
        for e in p.episodes
        if e.recorded
    )
    tests = [
        PathogenTest(pathogen=e.pathogen.to_pathogen(), date=to_date(e.onset_day), positive=True)
        for e in p.episodes
        if e.recorded and e.tested
    ]
    tests += [
        PathogenTest(pathogen=t.pathogen.to_pathogen(), date=to_date(t.day), positive=t.positive)
        for t in p.tests
    ]
    return PatientHistory(
        patient_id=p.patient_id,
        birth_date=to_date(p.birth_day),
        sex="female" if p.female else "male",
        deceased_date=to_date(p.death_day) if p.death_day is not None else None,
        at_risk_start=to_date(p.at_risk_start_day),
        at_risk_start_basis=AtRiskBasis.ABATEMENT if abated else AtRiskBasis.DISEASE_STATUS,
        last_contact=to_date(p.last_contact_day),
        cancers=(cancer,),
        infections=infections,
        vaccinations=tuple(
            Vaccination(vaccine=v.kind, date=to_date(v.day)) for v in p.vaccinations
        ),
        treatments=tuple(
            Treatment(kind=t.kind, start=to_date(t.start_day), end=to_date(t.end_day))
            for t in p.treatments
        ),
        outcomes=tuple(Outcome(kind=k, date=to_date(d)) for k, d in observed_outcomes(p)),
        tests=tuple(sorted(tests, key=lambda t: (t.date, t.pathogen.value, t.positive))),
    )
