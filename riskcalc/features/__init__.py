"""Model inputs: one declared schema, computed from a :class:`~riskcalc.history.PatientHistory`.

The same functions build training tables (:func:`feature_frame`) and score single patients
(:func:`compute_features`). See ``docs/researchers/model.md`` for the definitions.
"""

from __future__ import annotations

from riskcalc.features._compute import (
    compute_features,
    feature_frame,
    feature_matrix,
    index_cancer,
    metastatic_disease,
    record_features,
    stage_group,
)
from riskcalc.features._schema import (
    FEATURE_NAMES,
    INFECTION_FEATURES,
    RECENCY_WINDOWS,
    SCHEMA,
    SCHEMA_VERSION,
    FeatureDType,
    FeatureGroup,
    FeatureSpec,
    MissingPolicy,
    infection_feature_name,
    schema_by_name,
    schema_json,
)

__all__ = [
    "FEATURE_NAMES",
    "INFECTION_FEATURES",
    "RECENCY_WINDOWS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "FeatureDType",
    "FeatureGroup",
    "FeatureSpec",
    "MissingPolicy",
    "compute_features",
    "feature_frame",
    "feature_matrix",
    "index_cancer",
    "infection_feature_name",
    "metastatic_disease",
    "record_features",
    "schema_by_name",
    "schema_json",
    "stage_group",
]
