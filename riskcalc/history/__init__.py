"""The domain record of a patient (no FHIR types past this point)."""

from riskcalc.history._model import (
    AtRiskBasis,
    Cancer,
    CancerSite,
    ClinicalStatus,
    InfectionEpisode,
    Outcome,
    OutcomeKind,
    Pathogen,
    PatientHistory,
    ReadFailure,
    Severity,
    Treatment,
    TreatmentKind,
    Vaccination,
    VaccineKind,
)

__all__ = [
    "AtRiskBasis",
    "Cancer",
    "CancerSite",
    "ClinicalStatus",
    "InfectionEpisode",
    "Outcome",
    "OutcomeKind",
    "Pathogen",
    "PatientHistory",
    "ReadFailure",
    "Severity",
    "Treatment",
    "TreatmentKind",
    "Vaccination",
    "VaccineKind",
]
