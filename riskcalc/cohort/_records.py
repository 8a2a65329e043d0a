"""The simulator's internal records of one patient: what happened (truth) and what was recorded.

Days are integers counted from 1970-01-01 (see :func:`riskcalc.cohort._params.day`). These records
never leave the package except through the FHIR writer (what a clinic would have recorded) and the
ground-truth table (what really happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from riskcalc.history import CancerSite, Pathogen, Severity, TreatmentKind, VaccineKind


class Sev(IntEnum):
    """Severity as an integer for vectorised code."""

    MILD = 0
    HOSPITALISED = 1
    CRITICAL = 2

    def to_severity(self) -> Severity:
        return (Severity.MILD, Severity.HOSPITALISED, Severity.CRITICAL)[self.value]


class Path(IntEnum):
    """Pathogen as an integer for vectorised code."""

    COVID19 = 0
    INFLUENZA = 1
    RSV = 2

    def to_pathogen(self) -> Pathogen:
        return (Pathogen.COVID19, Pathogen.INFLUENZA, Pathogen.RSV)[self.value]


@dataclass(frozen=True, slots=True)
class SimEpisode:
    """One infection episode, recorded or not."""

    pathogen: Path
    onset_day: int
    end_day: int
    severity: Sev
    il6_true_peak_pg_ml: float
    il6_exposure_pg_day_ml: float
    il6_measured_pg_ml: float | None
    il6_blockade: bool
    corticosteroids: bool
    recorded: bool
    tested: bool
    ventilated: bool
    fatal: bool
    awakened_lung: int
    awakened_other: int


@dataclass(frozen=True, slots=True)
class SimTest:
    """A virus test that is not part of a recorded episode (mostly negatives)."""

    pathogen: Path
    day: int
    positive: bool


@dataclass(frozen=True, slots=True)
class SimVaccination:
    kind: VaccineKind
    day: int
    cvx: str


@dataclass(frozen=True, slots=True)
class SimTreatment:
    kind: TreatmentKind
    start_day: int
    end_day: int
    system: str
    code: str
    display: str
    resource: str  # "Procedure" or "MedicationRequest"


@dataclass(frozen=True, slots=True)
class SimPatient:
    """One simulated cancer survivor: baseline, records, and the cell-level truth."""

    index: int
    patient_id: str
    female: bool
    birth_day: int
    site: CancerSite
    stage: str
    er_positive: bool | None
    her2_positive: bool | None
    diagnosis_day: int
    at_risk_start_day: int
    remission_as_abatement: bool
    treatments: tuple[SimTreatment, ...]
    episodes: tuple[SimEpisode, ...]
    tests: tuple[SimTest, ...]
    vaccinations: tuple[SimVaccination, ...]
    visit_days: tuple[int, ...]
    last_contact_day: int
    ltfu_day: int | None
    death_day: int | None
    death_cause: str | None  # "cancer", "infection", "other"
    dormant_lung: int
    dormant_other: int
    relapse_day: int | None  # true first detection, whether observed or not
    lung_met_day: int | None
    other_met_day: int | None
    first_relapse_lung: bool
    relapse_by_infection: bool
    noise: int  # a per-patient random integer for the writer's noise choices
