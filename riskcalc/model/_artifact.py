"""The model artifact folder: skops files with an explicit allow-list, metadata, SHA-256 manifest.

Layout (every file listed in ``manifest.json`` with its SHA-256, checked on load)::

    model_24m.skops ...        one calibrated classifier per horizon (skops, never pickle)
    comparison_24m.skops       the model without infection features (default horizon)
    compiled.npz               the classifiers compiled (riskcalc.model._compiled), with the
                               SHA-256 of each skops file they were compiled from
    model.json                 format and schema versions, horizons, interval scales, ranges, info
    feature_schema.json        the feature schema the model was trained on
    training_data.json         what the model was trained on (simulated or not), counts, exclusions
    metrics.json, figures/     the evaluation report on the held-out split
    model_card.md/.json        the model card
    hti1_source_attributes.json  ONC HTI-1 source attributes
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from riskcalc._output import new_temp_folder, writing
from riskcalc.errors import ConfigError, ModelError
from riskcalc.features import FEATURE_NAMES, SCHEMA_VERSION, schema_json
from riskcalc.model._compiled import CompiledModel, from_arrays, to_arrays
from riskcalc.model._risk_model import FORMAT_VERSION, CompiledClassifiers, RiskModel
from riskcalc.report import ModelInfo

if TYPE_CHECKING:
    from sklearn.calibration import CalibratedClassifierCV

#: Types a riskcalc model file may contain beyond skops' own defaults, reviewed by hand: all are
#: scikit-learn/numpy internals of the estimator built in :mod:`riskcalc.model._estimator`.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "numpy.dtype",
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.Interval",
        "sklearn.frozen._frozen.FrozenEstimator",
        "sklearn.isotonic.IsotonicRegression",
        "sklearn.impute._base.MissingIndicator",
    }
)

_TRUSTED = sorted(ALLOWED_TYPES)

MANIFEST = "manifest.json"
COMPILED = "compiled.npz"
_COMPILED_FROM = "compiled_from"
ENV_MODEL_DIR = "RISKCALC_MODEL_DIR"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def clean_json(data: Any) -> Any:
    """Plain JSON data: NaN and infinities become None, tuples lists, numpy scalars floats."""
    if isinstance(data, dict):
        return {str(k): clean_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [clean_json(v) for v in data]
    if isinstance(data, float | int) and not isinstance(data, bool):
        value = float(data) if isinstance(data, float) else int(data)
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if hasattr(data, "item"):
        return clean_json(data.item())
    return data


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(clean_json(data), indent=2, allow_nan=False) + "\n")


def is_model_artifact(folder: str | Path) -> bool:
    """True if ``folder`` holds a riskcalc model artifact: a ``manifest.json`` listing the SHA-256
    of its files, ``model.json`` among them (a cohort's manifest, written by
    ``riskcalc simulate``, lists no files)."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    files = data.get("files") if isinstance(data, dict) else None
    return isinstance(files, dict) and "model.json" in files


def _artifact_around(path: Path) -> Path | None:
    """The model artifact folder that ``path`` lies inside (not ``path`` itself), if any."""
    return next((p for p in path.resolve().parents if is_model_artifact(p)), None)


def check_artifact_target(out_dir: str | Path) -> Path:
    """Where :func:`save_model` may write: a path that does not exist, an empty folder, or a
    folder holding a model artifact (replaced as a whole). Anything else is refused, so that
    training never deletes a folder of other files.

    Raises
    ------
    ConfigError
        ``config.invalid``: ``out_dir`` is a file, a folder of other files, or inside a model
        artifact (whose manifest would not list it, and whose replacement would delete it).
    """
    out = Path(out_dir)
    around = _artifact_around(out)
    if around is not None:
        raise ConfigError(
            "config.invalid",
            f"{out} is inside the model artifact {around}; write the model to a folder of its own",
        )
    if not out.exists() and not out.is_symlink():
        return out
    if not out.is_dir():
        raise ConfigError(
            "config.invalid", f"{out} exists and is not a folder; nothing was written to it"
        )
    if any(out.iterdir()) and not is_model_artifact(out):
        raise ConfigError(
            "config.invalid",
            f"{out} is a folder of other files, not a riskcalc model artifact (no manifest.json "
            "listing model.json); nothing was written: choose a new or empty folder",
        )
    return out


def check_report_folder(out_dir: str | Path) -> Path:
    """Where an evaluation report (``metrics.json``, ``figures/``) may be written: not a file,
    and not a model artifact folder or a folder inside one (the artifact's manifest lists its
    own metrics.json and figures: replacing them made every load fail with
    ``model.hash_mismatch``).

    Raises
    ------
    ConfigError
        ``config.invalid`` as above.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError("config.invalid", f"{out} is a file, not a folder")
    artifact = out if is_model_artifact(out) else _artifact_around(out)
    if artifact is not None:
        where = "a model artifact" if artifact == out else f"inside the model artifact {artifact}"
        raise ConfigError(
            "config.invalid",
            f"{out} is {where}: an evaluation written there would replace or add to the model's "
            "own files; write it to another folder",
        )
    return out


def save_model(
    model: RiskModel,
    out_dir: str | Path,
    *,
    extra_files: Mapping[str, Callable[[Path], None]] | None = None,
) -> Path:
    """Write the artifact folder atomically (a temporary folder renamed into place).

    ``out_dir`` must not exist, or be an empty folder, or a folder holding a model artifact,
    which is then replaced as a whole (:func:`check_artifact_target`); anything else is refused
    before anything is written. Files and folders get the modes the umask gives.
    ``extra_files`` maps a relative path to a writer called with the full path (metrics, figures,
    the model card); everything written ends in the manifest.

    Raises
    ------
    ConfigError
        ``config.invalid`` for a target that is refused; ``config.output_unwritable`` when the
        folder cannot be written (permissions, a read-only or full file system).
    """
    out = check_artifact_target(out_dir)
    with writing(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = new_temp_folder(out)
    try:
        with writing(out):
            _write_files(model, tmp, extra_files or {})
            check_artifact_target(out)  # again: the folder may have changed while we wrote
            _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_files(
    model: RiskModel, folder: Path, extra_files: Mapping[str, Callable[[Path], None]]
) -> None:
    import skops.io as sio  # here, not above: a model read with compiled arrays never needs it

    for horizon, clf in model.models.items():
        sio.dump(clf, folder / _skops_name(horizon), compression=zipfile.ZIP_DEFLATED)
    comparison = model.comparison_model()
    if comparison is not None:
        name = _comparison_name(model.default_horizon_months)
        sio.dump(comparison, folder / name, compression=zipfile.ZIP_DEFLATED)
    hashed = _write_compiled(model, folder)
    _write_json(folder / "model.json", _model_json(model))
    _write_json(folder / "feature_schema.json", schema_json())
    _write_json(folder / "training_data.json", model.training)
    for rel, writer in extra_files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        writer(target)
    _write_manifest(folder, hashed)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` (empty, or an artifact) is moved aside
    first (onto a new empty folder: nothing else of that name is touched) and deleted after."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = new_temp_folder(out, "old")
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _model_json(model: RiskModel) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "schema_version": SCHEMA_VERSION,
        "horizons_months": list(model.horizons_months),
        "default_horizon_months": model.default_horizon_months,
        "interval_level": model.interval_level,
        "interval_scale": {str(h): s for h, s in model.interval_scale.items()},
        "feature_ranges": {k: list(v) for k, v in model.feature_ranges.items()},
        "info": model.info.model_dump(mode="json", exclude={"sha256"}),
        "has_comparison": model.has_comparison,
    }


def _write_manifest(folder: Path, hashed: Mapping[str, str] | None = None) -> None:
    """``manifest.json``: the SHA-256 of every file of the folder; ``hashed`` holds those already
    computed (the skops files, hashed for ``compiled.npz``: about 10 ms saved)."""
    known = hashed or {}
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p != folder / MANIFEST
    )
    digests = {f: known.get(f) or sha256_file(folder / f) for f in files}
    _write_json(folder / MANIFEST, {"files": digests})


def compile_artifact(folder: str | Path) -> bool:
    """Add ``compiled.npz`` to an artifact written without it (by a riskcalc before it), so that
    it loads in milliseconds; its other files are left as they are and the manifest is rewritten.
    False (nothing written) if the artifact has it already or its model does not compile.

    Raises ModelError as :func:`load_artifact` does.
    """
    root = Path(folder)
    model = load_artifact(root)
    if isinstance(model.models, CompiledClassifiers) or model.compiled() is None:
        return False
    _write_manifest(root, _write_compiled(model, root))
    return True


def _write_compiled(model: RiskModel, folder: Path) -> dict[str, str]:
    """``compiled.npz`` beside the skops files just written (none if the model does not compile):
    the compiled arrays and the SHA-256 of each skops file, so that a load can tell they were
    compiled from the files it finds. Returns those SHA-256 by file name (for the manifest)."""
    compiled = model.compiled()
    if compiled is None:
        return {}
    arrays = to_arrays(compiled)
    sources = {_skops_name(h): sha256_file(folder / _skops_name(h)) for h in model.models}
    arrays[_COMPILED_FROM] = np.array(json.dumps(sources, sort_keys=True))
    with (folder / COMPILED).open("wb") as fh:
        np.savez_compressed(fh, allow_pickle=False, **arrays)
    return sources


def _read_compiled(
    root: Path, files: Mapping[str, str], horizons: list[int]
) -> CompiledModel | None:
    """The artifact's compiled classifiers, if it has them and they were compiled from exactly
    the skops files it holds (their SHA-256 as recorded in the manifest); None otherwise, and the
    classifiers are then read from the skops files."""
    if COMPILED not in files:
        return None
    try:
        with np.load(root / COMPILED, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        sources = json.loads(str(arrays.pop(_COMPILED_FROM)[()]))
        if sources != {_skops_name(h): files.get(_skops_name(h)) for h in horizons}:
            return None  # a skops file was replaced since: it is the model
        compiled = from_arrays(arrays, len(FEATURE_NAMES))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise ModelError(
            "model.incompatible",
            f"{COMPILED} is not a compiled model this riskcalc can read "
            f"({type(exc).__name__}: {exc})",
            location=str(root / COMPILED),
        ) from exc
    if sorted(compiled.horizons) != sorted(horizons):
        raise ModelError(
            "model.incompatible",
            f"{COMPILED} holds horizons {sorted(compiled.horizons)}, model.json {sorted(horizons)}",
            location=str(root / COMPILED),
        )
    return compiled


def _skops_name(horizon: int) -> str:
    return f"model_{horizon}m.skops"


def _comparison_name(default_horizon: int) -> str:
    return f"comparison_{default_horizon}m.skops"


def _read_horizon(root: Path, files: Mapping[str, str], horizon: int) -> CalibratedClassifierCV:
    name = _skops_name(horizon)
    return _load_later(root / name, files[name])


def _load_later(path: Path, sha256: str) -> Any:
    """A skops file read after its artifact was loaded (when first needed), if it is still the
    file the manifest listed then: else the classifiers would not be those whose compiled
    arrays the model predicts with (the folder retrained in place, say)."""
    try:
        unchanged = sha256_file(path) == sha256
    except OSError:
        unchanged = False
    if not unchanged:
        raise ModelError(
            "model.hash_mismatch",
            f"{path.name} was changed or removed after the model was loaded; load it again",
            location=str(path),
        )
    return _load_skops(path)


def _verify_manifest(folder: Path) -> tuple[dict[str, str], str]:
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise ModelError("model.not_found", f"no model artifact at {folder} (no {MANIFEST})")
    try:
        files = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError("model.hash_mismatch", f"{manifest_path} is not a valid manifest") from exc
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise ModelError(
            "model.hash_mismatch",
            f"{manifest_path} is not a valid manifest (its 'files' is not a map of SHA-256)",
        )
    for rel, expected in files.items():
        path = folder / rel
        if not path.is_file():
            raise ModelError("model.hash_mismatch", f"{rel} is listed in the manifest but missing")
        if sha256_file(path) != expected:
            raise ModelError(
                "model.hash_mismatch",
                f"{rel} differs from its recorded SHA-256: the artifact was altered or damaged",
                location=str(path),
            )
    return files, sha256_file(manifest_path)


def _load_skops(path: Path) -> Any:
    """One skops file, its types checked against :data:`ALLOWED_TYPES` while skops reads it.

    One pass: listing the file's types first (``get_untrusted_types``) read every file twice,
    3.0 s for the default model's five files against 1.8 s (docs/performance.md); the list is
    made on the error path only, to name what is not allowed.
    """
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.load(path, trusted=_TRUSTED)
    except UntrustedTypesFoundException:
        unknown = sorted(set(sio.get_untrusted_types(file=path)) - ALLOWED_TYPES)
        raise ModelError(
            "model.untrusted_type",
            f"{path.name} contains types outside the allow-list: {unknown}",
            location=str(path),
        ) from None
    except (zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise ModelError(
            "model.incompatible",
            f"{path.name} is not a skops file this riskcalc can read ({type(exc).__name__}: {exc})",
            location=str(path),
        ) from exc


@dataclass(frozen=True)
class _Meta:
    """``model.json``, checked: what :func:`load_artifact` builds the model from."""

    horizons: list[int]
    default: int
    has_comparison: bool
    interval_scale: dict[int, float]
    feature_ranges: dict[str, tuple[float, float]]
    interval_level: float
    info: dict[str, Any]


#: What reading a malformed JSON file of an artifact raises: any of them is ``model.incompatible``.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _json_object(root: Path, name: str) -> dict[str, Any]:
    """The JSON object in ``root/name``; ``model.incompatible`` if it is not one."""
    try:
        data = json.loads((root / name).read_text())
    except ValueError as exc:
        raise ModelError(
            "model.incompatible", f"{name} is not valid JSON ({exc})", location=str(root / name)
        ) from exc
    if not isinstance(data, dict):
        raise ModelError(
            "model.incompatible", f"{name} is not a JSON object", location=str(root / name)
        )
    return data


def _read_meta(root: Path) -> _Meta:
    meta = _json_object(root, "model.json")
    if meta.get("format_version") != FORMAT_VERSION or meta.get("schema_version") != SCHEMA_VERSION:
        raise ModelError(
            "model.incompatible",
            f"artifact format {meta.get('format_version')!r} / feature schema "
            f"{meta.get('schema_version')!r}; this riskcalc reads format {FORMAT_VERSION!r} / "
            f"schema {SCHEMA_VERSION!r}",
        )
    try:
        horizons = [_whole(h) for h in meta["horizons_months"]]
        scales = {_whole(h): _positive(s) for h, s in meta["interval_scale"].items()}
        parsed = _Meta(
            horizons=horizons,
            default=_whole(meta["default_horizon_months"]),
            has_comparison=meta.get("has_comparison") is True,
            interval_scale={h: scales[h] for h in horizons},
            feature_ranges={
                str(k): (_num(low), _num(high)) for k, (low, high) in meta["feature_ranges"].items()
            },
            interval_level=float(meta["interval_level"]),
            info=dict(meta["info"]),
        )
    except _MALFORMED as exc:
        raise ModelError(
            "model.incompatible",
            f"model.json is malformed ({type(exc).__name__}: {exc})",
            location=str(root / "model.json"),
        ) from exc
    if not horizons or parsed.default not in horizons or not 0 < parsed.interval_level < 1:
        raise ModelError(
            "model.incompatible",
            f"model.json is malformed: horizons {horizons}, default horizon {parsed.default}, "
            f"interval level {parsed.interval_level}",
            location=str(root / "model.json"),
        )
    return parsed


def _whole(value: Any) -> int:
    """A positive whole number of months from JSON (an int, or its text as a mapping key)."""
    number = int(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"{value!r} is not a positive whole number")
    return number


def _positive(value: Any) -> float:
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{value!r} is not a positive number")
    return number


def _check_feature_schema(root: Path) -> None:
    """``feature_schema.json`` names this riskcalc's features, in its order: the columns the
    classifiers were fitted on."""
    schema = _json_object(root, "feature_schema.json")
    features = schema.get("features")
    names = (
        [f.get("name") if isinstance(f, dict) else None for f in features]
        if isinstance(features, list)
        else None
    )
    if schema.get("schema_version") != SCHEMA_VERSION or names != list(FEATURE_NAMES):
        raise ModelError(
            "model.incompatible",
            f"feature_schema.json is not feature schema {SCHEMA_VERSION!r} of this riskcalc "
            f"(schema {schema.get('schema_version')!r}, features {names})",
            location=str(root / "feature_schema.json"),
        )


def load_artifact(folder: str | Path) -> RiskModel:
    """Load and check an artifact folder (hashes, allow-list, format and schema versions).

    Raises
    ------
    ModelError
        ``model.not_found`` (no artifact), ``model.hash_mismatch`` (a file altered),
        ``model.untrusted_type``, or ``model.incompatible``: another format or feature schema,
        or a file of the artifact that is not what riskcalc writes (malformed ``model.json``,
        ``feature_schema.json``, ``training_data.json``, ``model_card.json``, skops or
        compiled file).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ModelError("model.not_found", f"no model artifact at {root}")
    files, manifest_sha = _verify_manifest(root)
    if "model.json" not in files:
        raise ModelError("model.incompatible", "the artifact has no model.json in its manifest")
    meta = _read_meta(root)
    if "feature_schema.json" in files:
        _check_feature_schema(root)
    for h in meta.horizons:
        if _skops_name(h) not in files:
            raise ModelError("model.incompatible", f"{_skops_name(h)} is not in the manifest")
    card = _json_object(root, "model_card.json") if "model_card.json" in files else {}
    training = _json_object(root, "training_data.json") if "training_data.json" in files else {}
    try:
        info = ModelInfo.model_validate({**meta.info, "sha256": manifest_sha})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ModelError(
            "model.incompatible",
            f"model.json has no valid model info ({problems})",
            location=str(root / "model.json"),
        ) from exc
    compiled = _read_compiled(root, files, meta.horizons)
    comparison_path = root / _comparison_name(meta.default)
    has_comparison = meta.has_comparison and comparison_path.name in files
    models: Mapping[int, CalibratedClassifierCV]
    comparison = None
    if compiled is None:  # every file read now, as the model predicts through them
        models = {h: _load_skops(root / _skops_name(h)) for h in meta.horizons}
        comparison = _load_skops(comparison_path) if has_comparison else None
    else:  # read when needed: predicting reads the compiled arrays (docs/performance.md)
        models = CompiledClassifiers(
            functools.partial(_read_horizon, root, files), meta.horizons, compiled
        )
    return RiskModel(
        models=models,
        default_horizon_months=meta.default,
        interval_scale=meta.interval_scale,
        feature_ranges=meta.feature_ranges,
        info=info,
        card=card,
        comparison=comparison,
        training=training,
        interval_level=meta.interval_level,
        comparison_loader=(
            functools.partial(_load_later, comparison_path, files[comparison_path.name])
            if has_comparison and comparison is None
            else None
        ),
    )


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)
