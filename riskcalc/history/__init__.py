"""The domain record of a patient (no FHIR types past this point)."""

from riskcalc.history._model import (
    METASTATIC_OUTCOMES,
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
    "METASTATIC_OUTCOMES",
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
