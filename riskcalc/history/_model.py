"""The domain record of one patient: what every stage after the FHIR reader works on.

No FHIR types past this point. Records are frozen pydantic models, so they hash, compare, serialise
to stable JSON (``model_dump(mode="json")``) and travel to Dask workers unchanged.

``sources`` fields hold ``ResourceType/id`` strings of the FHIR resources a record was built from:
they become ``RiskAssessment.basis`` and the app's list of records used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from riskcalc.errors import Issue


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CancerSite(StrEnum):
    BREAST = "breast"
    COLORECTAL = "colorectal"
    LUNG = "lung"
    PROSTATE = "prostate"
    MELANOMA = "melanoma"
    HAEMATOLOGICAL = "haematological"
    OTHER = "other"


class ClinicalStatus(StrEnum):
    """FHIR ``condition-clinical`` codes."""

    ACTIVE = "active"
    RECURRENCE = "recurrence"
    RELAPSE = "relapse"
    INACTIVE = "inactive"
    REMISSION = "remission"
    RESOLVED = "resolved"


class Pathogen(StrEnum):
    COVID19 = "covid19"
    INFLUENZA = "influenza"
    RSV = "rsv"
    OTHER_VIRAL = "other_viral"

    @property
    def label(self) -> str:
        """The plain-language name (``COVID-19``, ``Influenza`` …) for reports and views."""
        return _PATHOGEN_LABEL[self]


_PATHOGEN_LABEL = {
    Pathogen.COVID19: "COVID-19",
    Pathogen.INFLUENZA: "Influenza",
    Pathogen.RSV: "RSV",
    Pathogen.OTHER_VIRAL: "Other viral",
}


class Severity(StrEnum):
    """Severity of one infection episode, ordered: mild < hospitalised < critical."""

    MILD = "mild"
    HOSPITALISED = "hospitalised"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.MILD: 0, Severity.HOSPITALISED: 1, Severity.CRITICAL: 2}


class AtRiskBasis(StrEnum):
    """How the at-risk (remission) start was derived; see docs for the precedence."""

    ABATEMENT = "abatement"
    DISEASE_STATUS = "disease_status"
    TREATMENT_END = "treatment_end"
    ACTIVE_DEFAULT = "active_default"
    NONE = "none"


class VaccineKind(StrEnum):
    INFLUENZA = "influenza"
    COVID19 = "covid19"
    RSV = "rsv"
    OTHER = "other"


class TreatmentKind(StrEnum):
    SURGERY = "surgery"
    RADIOTHERAPY = "radiotherapy"
    CHEMOTHERAPY = "chemotherapy"
    ENDOCRINE = "endocrine"
    HER2_TARGETED = "her2_targeted"
    CDK46_INHIBITOR = "cdk46_inhibitor"
    IMMUNOTHERAPY = "immunotherapy"
    IL6_BLOCKADE = "il6_blockade"
    CORTICOSTEROID = "corticosteroid"


class OutcomeKind(StrEnum):
    METASTATIC_RELAPSE = "metastatic_relapse"
    LUNG_METASTASIS = "lung_metastasis"
    CANCER_DEATH = "cancer_death"
    DEATH = "death"


#: The outcomes that are metastatic disease (a lung metastasis is also a metastatic relapse).
METASTATIC_OUTCOMES = frozenset({OutcomeKind.METASTATIC_RELAPSE, OutcomeKind.LUNG_METASTASIS})


class Cancer(_Frozen):
    """One primary cancer diagnosis."""

    site: CancerSite
    codes: tuple[str, ...] = Field(description="'system|code' of every coding that matched")
    onset: dt.date | None = None
    abatement: dt.date | None = None
    clinical_status: ClinicalStatus | None = None
    stage: str | None = Field(
        None, description="Stage group as recorded, e.g. 'II', 'IIIA', 'T2N1M0'"
    )
    sources: tuple[str, ...] = ()


class InfectionEpisode(_Frozen):
    """One respiratory viral illness, however many records it left."""

    pathogen: Pathogen
    onset: dt.date
    end: dt.date
    severity: Severity
    il6_peak_pg_ml: float | None = Field(None, ge=0, description="Peak measured IL-6, pg/mL")
    il6_blockade: bool = False
    corticosteroids: bool = False
    sources: tuple[str, ...] = ()

    @property
    def duration_days(self) -> int:
        return (self.end - self.onset).days + 1


class PathogenTest(_Frozen):
    """One laboratory test for a respiratory virus (positive or negative), dated by collection.

    Negative tests matter: a UK-Biobank-style analysis compares test-positive with test-negative
    people, so the reader keeps every recognised test result, not only the positives.
    """

    pathogen: Pathogen
    date: dt.date
    positive: bool
    sources: tuple[str, ...] = ()


class Vaccination(_Frozen):
    vaccine: VaccineKind
    date: dt.date
    codes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


class Treatment(_Frozen):
    kind: TreatmentKind
    start: dt.date | None = None
    end: dt.date | None = None
    codes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


class Outcome(_Frozen):
    kind: OutcomeKind
    date: dt.date
    sources: tuple[str, ...] = ()


class PatientHistory(_Frozen):
    """A cancer survivor's record as the model sees it.

    Lists are sorted by date (then by a stable key), so equal inputs give equal histories.
    ``last_contact`` is the latest date any resource of the patient carries: follow-up is censored
    there. ``warnings`` say what was skipped or assumed, with the resource concerned.
    """

    patient_id: str
    birth_date: dt.date | None = None
    sex: str = Field("unknown", description="FHIR administrative gender")
    deceased_date: dt.date | None = None
    at_risk_start: dt.date | None = None
    at_risk_start_basis: AtRiskBasis = AtRiskBasis.NONE
    last_contact: dt.date | None = None
    cancers: tuple[Cancer, ...] = ()
    infections: tuple[InfectionEpisode, ...] = ()
    vaccinations: tuple[Vaccination, ...] = ()
    treatments: tuple[Treatment, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    undated_metastases: tuple[str, ...] = Field(
        (),
        description="References of metastasis records with no usable date: metastatic disease "
        "at a time the record does not give, so no first relapse can be estimated or labelled",
    )
    tests: tuple[PathogenTest, ...] = Field(
        (), description="Recognised virus tests, positive and negative, sorted by date"
    )
    warnings: tuple[Issue, ...] = ()

    def age_years(self, on: dt.date) -> float | None:
        """Age in years (365.25-day years) on a date, or None without a birth date."""
        if self.birth_date is None:
            return None
        return (on - self.birth_date).days / 365.25

    @property
    def basis(self) -> tuple[str, ...]:
        """Every resource reference behind the records an assessment uses (cancers, infections,
        vaccinations, treatments, outcomes), sorted and unique. Not the virus tests: a positive
        one is already a source of its episode, and the negatives serve the replication
        analyses only."""
        return self.basis_until(None)

    def basis_until(self, day: dt.date | None) -> tuple[str, ...]:
        """:attr:`basis` of the records an assessment as of ``day`` uses: those dated on or
        before it, and the undated ones (they cannot be placed after it); all when ``day`` is
        None. Sorted and unique."""
        refs: set[str] = set()
        for date, sources in self.dated_sources():
            if day is None or date is None or date <= day:
                refs.update(sources)
        return tuple(sorted(refs))

    def dated_sources(self) -> Iterator[tuple[dt.date | None, tuple[str, ...]]]:
        """Each record's date (onset, start or day; None if undated) and source references."""
        for c in self.cancers:
            yield c.onset, c.sources
        for e in self.infections:
            yield e.onset, e.sources
        for v in self.vaccinations:
            yield v.date, v.sources
        for t in self.treatments:
            yield t.start, t.sources
        for o in self.outcomes:
            yield o.date, o.sources
        yield None, self.undated_metastases


class ReadFailure(_Frozen):
    """A patient (or a part of the input) that could not be read; iteration goes on after it."""

    patient_id: str | None
    code: str
    message: str
    location: str | None = None
    resource_id: str | None = None
    warnings: tuple[Issue, ...] = Field(
        (),
        description="Issues found in the part of the input that failed (e.g. the skipped "
        "resources of a file without a Patient), so that nothing read is lost",
    )
