"""The one declared feature schema: names, types, units, ranges, labels and missing-value policy.

Training, scoring, input validation, the app's labels and the docs all read :data:`SCHEMA`; the
column order of every feature table is the order declared here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from riskcalc.history import CancerSite, Pathogen, Severity, TreatmentKind


class FeatureDType(StrEnum):
    """Value type of a feature (all are stored as float64 in feature tables)."""

    BINARY = "binary"
    COUNT = "count"
    CONTINUOUS = "continuous"
    ORDINAL = "ordinal"


class FeatureGroup(StrEnum):
    DEMOGRAPHIC = "demographic"
    CANCER = "cancer"
    TREATMENT = "treatment"
    INFECTION = "infection"
    BLOCKADE = "blockade"
    VACCINATION = "vaccination"
    AWAKENING = "awakening"


class MissingPolicy(StrEnum):
    """What a missing input becomes.

    ``never``: always computable from any history. ``absent_is_zero``: no record means none
    happened (counts, flags). ``native_nan``: left as NaN; the gradient-boosting estimator learns a
    branch for it (the app flags it as a missing input).
    """

    NEVER = "never"
    ABSENT_IS_ZERO = "absent_is_zero"
    NATIVE_NAN = "native_nan"


@dataclass(frozen=True)
class FeatureSpec:
    """One model input.

    Attributes
    ----------
    name
        Column name, with its unit where it has one.
    dtype
        Value type.
    unit
        Unit (UCUM-like text, ``"1"`` for dimensionless counts and flags).
    allowed_range
        ``(min, max)`` of valid values, inclusive; values outside are input errors.
    description
        What the value is and how it is computed from the history.
    label
        Short text for the app.
    group
        Which part of the record it comes from.
    missing
        Missing-value policy.
    """

    name: str
    dtype: FeatureDType
    unit: str
    allowed_range: tuple[float, float]
    description: str
    label: str
    group: FeatureGroup
    missing: MissingPolicy

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["allowed_range"] = list(self.allowed_range)
        for key in ("dtype", "group", "missing"):
            data[key] = str(data[key])
        return data


#: Recency windows for infection counts: (suffix, lower months exclusive, upper months inclusive)
#: measured back from the index date. The awakened burden persists for months (mouse data), so
#: recent and older episodes are counted apart and the model learns how effect decays.
RECENCY_WINDOWS: tuple[tuple[str, float, float], ...] = (
    ("0_12m", -1.0, 12.0),
    ("12_36m", 12.0, 36.0),
    ("over_36m", 36.0, 1200.0),
)

_MAX_COUNT = 1000.0

_TREATMENTS_USED = (
    TreatmentKind.SURGERY,
    TreatmentKind.RADIOTHERAPY,
    TreatmentKind.CHEMOTHERAPY,
    TreatmentKind.ENDOCRINE,
    TreatmentKind.HER2_TARGETED,
    TreatmentKind.CDK46_INHIBITOR,
    TreatmentKind.IMMUNOTHERAPY,
)


def _flag(name: str, label: str, group: FeatureGroup, description: str) -> FeatureSpec:
    return FeatureSpec(
        name,
        FeatureDType.BINARY,
        "1",
        (0.0, 1.0),
        description,
        label,
        group,
        MissingPolicy.ABSENT_IS_ZERO,
    )


def _count(name: str, label: str, group: FeatureGroup, description: str) -> FeatureSpec:
    return FeatureSpec(
        name,
        FeatureDType.COUNT,
        "1",
        (0.0, _MAX_COUNT),
        description,
        label,
        group,
        MissingPolicy.ABSENT_IS_ZERO,
    )


def infection_feature_name(pathogen: Pathogen, severity: Severity, window: str) -> str:
    """Column name of one pathogen × severity × recency count."""
    return f"inf_{pathogen.value}_{severity.value}_{window}_count"


def _build_schema() -> tuple[FeatureSpec, ...]:
    demo = FeatureGroup.DEMOGRAPHIC
    specs: list[FeatureSpec] = [
        FeatureSpec(
            "age_years",
            FeatureDType.CONTINUOUS,
            "a",
            (0.0, 120.0),
            "Age at the index date, 365.25-day years.",
            "Age (years)",
            demo,
            MissingPolicy.NATIVE_NAN,
        ),
        FeatureSpec(
            "sex_female",
            FeatureDType.BINARY,
            "1",
            (0.0, 1.0),
            "1 if administrative gender is female, 0 if male; NaN if other or unknown.",
            "Female sex",
            demo,
            MissingPolicy.NATIVE_NAN,
        ),
    ]
    cancer = FeatureGroup.CANCER
    for site in CancerSite:
        specs.append(
            _flag(
                f"site_{site.value}",
                f"Cancer site: {site.value}",
                cancer,
                f"1 if the index cancer (latest diagnosed on or before the index date) is {site.value}.",
            )
        )
    specs += [
        FeatureSpec(
            "stage_group",
            FeatureDType.ORDINAL,
            "1",
            (0.0, 4.0),
            "Stage group of the index cancer, 0-4 (roman stage group, or approximated from TNM: "
            "M1 -> 4, N2-3 -> 3, N1 -> 2, T3-4 -> 2, else 1). NaN if not recorded.",
            "Stage group (0-4)",
            cancer,
            MissingPolicy.NATIVE_NAN,
        ),
        FeatureSpec(
            "years_since_at_risk_start",
            FeatureDType.CONTINUOUS,
            "a",
            (0.0, 100.0),
            "Time from the at-risk (remission) start to the index date, years.",
            "Years since remission",
            cancer,
            MissingPolicy.NATIVE_NAN,
        ),
        _count(
            "n_primary_cancers",
            "Number of primary cancers",
            cancer,
            "Primary cancers diagnosed on or before the index date (undated ones included).",
        ),
    ]
    for kind in _TREATMENTS_USED:
        specs.append(
            _flag(
                f"tx_{kind.value}",
                f"Treated: {kind.value.replace('_', ' ')}",
                FeatureGroup.TREATMENT,
                f"1 if {kind.value} treatment started on or before the index date "
                "(undated treatments count).",
            )
        )
    inf = FeatureGroup.INFECTION
    for pathogen in Pathogen:
        for severity in Severity:
            for window, low, high in RECENCY_WINDOWS:
                lo = max(low, 0.0)
                specs.append(
                    _count(
                        infection_feature_name(pathogen, severity, window),
                        f"{pathogen.value} {severity.value} infections, {window.replace('_', '-')}",
                        inf,
                        f"{pathogen.value} episodes of severity {severity.value} with onset since "
                        f"the at-risk start and {lo:g}-{high:g} months before the index date.",
                    )
                )
    specs += [
        _count(
            "inf_total_count",
            "Respiratory infections since remission",
            inf,
            "All respiratory viral episodes with onset between the at-risk start and the index date.",
        ),
        FeatureSpec(
            "years_since_last_infection",
            FeatureDType.CONTINUOUS,
            "a",
            (0.0, 100.0),
            "Years from the onset of the latest episode since the at-risk start to the index "
            "date; NaN if none.",
            "Years since last infection",
            inf,
            MissingPolicy.NATIVE_NAN,
        ),
        FeatureSpec(
            "il6_peak_max_pg_ml",
            FeatureDType.CONTINUOUS,
            "pg/mL",
            (0.0, 1.0e6),
            "Highest measured IL-6 peak over episodes since the at-risk start, pg/mL; NaN if "
            "never measured.",
            "Highest measured IL-6 (pg/mL)",
            inf,
            MissingPolicy.NATIVE_NAN,
        ),
        _count(
            "inf_il6_blockade_count",
            "Infections treated with IL-6 blockade",
            FeatureGroup.BLOCKADE,
            "Episodes since the at-risk start covered by IL-6 blockade (tocilizumab, sarilumab, "
            "siltuximab).",
        ),
        _count(
            "inf_corticosteroid_count",
            "Infections treated with corticosteroids",
            FeatureGroup.BLOCKADE,
            "Episodes since the at-risk start covered by systemic corticosteroids.",
        ),
        _count(
            "vacc_influenza_12m_count",
            "Influenza vaccinations, last 12 months",
            FeatureGroup.VACCINATION,
            "Influenza vaccinations in the 12 months up to the index date.",
        ),
        _count(
            "vacc_covid19_count",
            "COVID-19 vaccinations",
            FeatureGroup.VACCINATION,
            "COVID-19 vaccinations on or before the index date.",
        ),
        _count(
            "vacc_covid19_12m_count",
            "COVID-19 vaccinations, last 12 months",
            FeatureGroup.VACCINATION,
            "COVID-19 vaccinations in the 12 months up to the index date.",
        ),
        _count(
            "vacc_rsv_count",
            "RSV vaccinations",
            FeatureGroup.VACCINATION,
            "RSV vaccinations on or before the index date.",
        ),
        FeatureSpec(
            "awakening_score",
            FeatureDType.CONTINUOUS,
            "1",
            (0.0, 1.0e6),
            "Cumulative awakening score of the mechanistic model (riskcalc.awakening, human "
            "preset) at the index date; 1.0 = one typical mild infection's worth.",
            "Awakening score",
            FeatureGroup.AWAKENING,
            MissingPolicy.NEVER,
        ),
    ]
    return tuple(specs)


#: The feature schema, in column order.
SCHEMA: tuple[FeatureSpec, ...] = _build_schema()

#: Column names in schema order.
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in SCHEMA)

#: Features dropped for the comparison model "without infection features": every feature derived
#: from infection episodes (counts, recency, IL-6, treatment during episodes) and the awakening
#: score. Vaccinations stay: they are preventive care, recorded without any infection.
INFECTION_FEATURES: tuple[str, ...] = tuple(
    spec.name
    for spec in SCHEMA
    if spec.group in (FeatureGroup.INFECTION, FeatureGroup.BLOCKADE, FeatureGroup.AWAKENING)
)

SCHEMA_VERSION = "1"


def schema_by_name() -> dict[str, FeatureSpec]:
    """The schema as a mapping from name to spec."""
    return {spec.name: spec for spec in SCHEMA}


def schema_json() -> dict[str, Any]:
    """The schema as plain data (the artifact's ``feature_schema.json``)."""
    return {"schema_version": SCHEMA_VERSION, "features": [s.to_dict() for s in SCHEMA]}
