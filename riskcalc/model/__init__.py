"""The calibrated relapse-risk model: training, evaluation, artifacts and the default model.

DESIGN.md §6; the method, censoring handling, index-date policy and interval are described in
``docs/researchers/model.md``.
"""

from __future__ import annotations

import importlib
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskcalc.errors import ModelError
from riskcalc.model._artifact import (
    ALLOWED_TYPES,
    ENV_MODEL_DIR,
    compile_artifact,
    load_artifact,
    save_model,
)
from riskcalc.model._estimator import INTERVAL_LEVEL, INTERVAL_METHOD, Prediction
from riskcalc.model._risk_model import RiskModel

if TYPE_CHECKING:
    from riskcalc.model._cohort import LabelledCohort, prepare_cohort, read_cohort
    from riskcalc.model._evaluate import EvaluationReport, evaluate
    from riskcalc.model._labels import build_risk_set, ipcw_labels
    from riskcalc.model._train import (
        DEFAULT_HORIZON_MONTHS,
        DEFAULT_HORIZONS_MONTHS,
        INDEX_DATE_POLICY,
        recalibrate_model,
        train_model,
        write_artifact,
    )

#: Training, evaluation and cohorts, imported when first used: they import scikit-learn, scipy.stats
#: and pandas (1.6 s in a new process), which loading a model and predicting with it do not need.
_LATER = {
    "LabelledCohort": "_cohort",
    "prepare_cohort": "_cohort",
    "read_cohort": "_cohort",
    "EvaluationReport": "_evaluate",
    "evaluate": "_evaluate",
    "build_risk_set": "_labels",
    "ipcw_labels": "_labels",
    "DEFAULT_HORIZON_MONTHS": "_train",
    "DEFAULT_HORIZONS_MONTHS": "_train",
    "INDEX_DATE_POLICY": "_train",
    "recalibrate_model": "_train",
    "train_model": "_train",
    "write_artifact": "_train",
}


def __getattr__(name: str) -> Any:
    module = _LATER.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALLOWED_TYPES",
    "DEFAULT_HORIZONS_MONTHS",
    "DEFAULT_HORIZON_MONTHS",
    "INDEX_DATE_POLICY",
    "INTERVAL_LEVEL",
    "INTERVAL_METHOD",
    "EvaluationReport",
    "LabelledCohort",
    "Prediction",
    "RiskModel",
    "build_risk_set",
    "compile_artifact",
    "default_model_dir",
    "evaluate",
    "ipcw_labels",
    "load_model",
    "prepare_cohort",
    "read_cohort",
    "recalibrate_model",
    "save_model",
    "train_model",
    "write_artifact",
]


def default_model_dir() -> Path:
    """``$RISKCALC_MODEL_DIR`` if set, else ``models/default`` at the repository root."""
    env = os.environ.get(ENV_MODEL_DIR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models" / "default"


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int) -> RiskModel:
    return load_artifact(path)


def load_model(path: str | Path | None = None) -> RiskModel:
    """Load a model artifact, checking every file's SHA-256 and the skops allow-list.

    Parameters
    ----------
    path
        Artifact folder; None loads the default model (``$RISKCALC_MODEL_DIR`` or
        ``models/default``), cached until its manifest changes.

    Raises
    ------
    ModelError
        ``model.not_found``, ``model.hash_mismatch``, ``model.untrusted_type`` or
        ``model.incompatible``.
    """
    if path is not None:
        return load_artifact(path)
    folder = default_model_dir()
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise ModelError(
            "model.not_found",
            f"no default model at {folder}; run `make model` or set {ENV_MODEL_DIR}",
        )
    return _load_cached(str(folder), manifest.stat().st_mtime_ns)
