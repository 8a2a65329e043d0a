"""Where a model artifact may be written, with what modes, and what loading makes of damaged
metadata: save_model never deletes a folder that is not a model, and a malformed model.json (or
feature_schema.json, training_data.json, model_card.json) is model.incompatible, not a crash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from riskcalc.errors import ConfigError, ModelError
from riskcalc.model import RiskModel, load_model, save_model, train_model, write_artifact
from riskcalc.model._artifact import check_artifact_target, check_report_folder, load_artifact
from riskcalc.model._oracle import oracle_cohort


@pytest.fixture(scope="module")
def model() -> RiskModel:
    cohort = oracle_cohort(1500, seed=3, horizons_months=(24,))
    trained, _ = train_model(
        cohort, horizons_months=(24,), seed=0, trained_on="oracle (test)", simulated=True, n_boot=10
    )
    return trained


@pytest.fixture(scope="module")
def saved(model: RiskModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole artifact, as `riskcalc train` writes it (card, metrics, figures)."""
    test = oracle_cohort(400, seed=4, horizons_months=(24,))
    return write_artifact(model, test, tmp_path_factory.mktemp("saved") / "model", n_boot=10)


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    before = os.umask(0o022)
    yield os.umask
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_a_folder_of_other_files_is_refused_and_left_alone(
    model: RiskModel, tmp_path: Path
) -> None:
    """QA: `riskcalc train … --out cc2/fhir` deleted the cohort's NDJSON files."""
    out = tmp_path / "fhir"
    out.mkdir()
    (out / "Patient.ndjson").write_text('{"resourceType": "Patient"}\n')
    (out / "notes.txt").write_text("mine")
    before = _tree(out)
    with pytest.raises(ConfigError) as refused:
        save_model(model, out)
    assert refused.value.code == "config.invalid" and str(out) in refused.value.message
    assert _tree(out) == before
    assert _hidden(tmp_path) == []


def test_a_file_is_refused_and_left_alone(model: RiskModel, tmp_path: Path) -> None:
    """QA: `--out afile` turned the file into a folder."""
    out = tmp_path / "afile"
    out.write_text("mine")
    with pytest.raises(ConfigError) as refused:
        save_model(model, out)
    assert refused.value.code == "config.invalid"
    assert out.is_file() and out.read_text() == "mine"


def test_a_folder_inside_an_artifact_is_refused(model: RiskModel, saved: Path) -> None:
    with pytest.raises(ConfigError):
        check_artifact_target(saved / "figures" / "more")
    assert not (saved / "figures" / "more").exists()


def test_a_new_path_an_empty_folder_and_an_artifact_are_written(
    model: RiskModel, saved: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "new" / "model", empty):
        save_model(model, out)
        assert load_model(out).info.model_id == model.info.model_id
    artifact = tmp_path / "artifact"
    shutil.copytree(saved, artifact)
    (artifact / "model_99m.skops").write_bytes(b"left by an older model")
    save_model(model, artifact)  # replaced as a whole (`make model` rebuilds models/default so)
    assert not (artifact / "model_99m.skops").exists()
    assert load_model(artifact).horizons_months == (24,)
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_the_artifact_takes_the_modes_of_the_umask(
    model: RiskModel, tmp_path: Path, umask: Callable[[int], None], mask: int
) -> None:
    """QA: model folders came out drwx------ (tempfile's private mode kept by the rename)."""
    umask(mask)
    out = save_model(model, tmp_path / "model")
    assert _mode(out) == 0o777 & ~mask
    assert _mode(out / "model.json") == 0o666 & ~mask
    assert _mode(out / "model_24m.skops") == 0o666 & ~mask


def test_an_unwritable_place_is_a_typed_error(model: RiskModel, tmp_path: Path) -> None:
    """QA: `--out /proc/x` was an internal FileNotFoundError."""
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(ConfigError) as refused:
        save_model(model, tmp_path / "afile" / "model")
    assert refused.value.code == "config.output_unwritable"
    assert (tmp_path / "afile").read_text() == "mine"


def test_an_evaluation_is_refused_in_and_under_an_artifact(saved: Path, tmp_path: Path) -> None:
    """QA: `riskcalc evaluate victim … --out victim` replaced the model's metrics.json."""
    for out in (saved, saved / "figures", saved / "sub" / "deeper"):
        with pytest.raises(ConfigError) as refused:
            check_report_folder(out)
        assert refused.value.code == "config.invalid"
    cohort = tmp_path / "cohort"  # a simulated cohort's manifest lists no files: not a model
    cohort.mkdir()
    (cohort / "manifest.json").write_text('{"generator": "riskcalc.cohort"}')
    assert check_report_folder(cohort / "eval") == cohort / "eval"
    assert check_report_folder(cohort) == cohort
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError):
        check_report_folder(tmp_path / "afile")


def _rehash(folder: Path) -> None:
    """Re-record every file's SHA-256, as someone editing an artifact by hand would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for rel in manifest["files"]:
        manifest["files"][rel] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _edit_json(name: str, change: Callable[[Any], Any]) -> tuple[str, Callable[[str], str]]:
    return name, lambda text: json.dumps(change(json.loads(text)))


def _without(key: str) -> Callable[[Any], Any]:
    return lambda data: {k: v for k, v in data.items() if k != key}


def _with(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda data: {**data, key: value}


MALFORMED: dict[str, tuple[str, Callable[[str], str]]] = {
    "model.json not JSON": ("model.json", lambda text: text[:-20]),
    "model.json a list": ("model.json", lambda text: "[]"),
    "no horizons_months": _edit_json("model.json", _without("horizons_months")),
    "horizons not numbers": _edit_json("model.json", _with("horizons_months", ["x"])),
    "horizons empty": _edit_json("model.json", _with("horizons_months", [])),
    "default horizon not trained": _edit_json("model.json", _with("default_horizon_months", 7)),
    "interval_scale a list": _edit_json("model.json", _with("interval_scale", [1.0])),
    "interval_scale without the horizon": _edit_json("model.json", _with("interval_scale", {})),
    "feature range not a pair": _edit_json(
        "model.json", _with("feature_ranges", {"age_years": [1.0]})
    ),
    "interval level out of range": _edit_json("model.json", _with("interval_level", 5)),
    "no info": _edit_json("model.json", _without("info")),
    "info of the wrong kind": _edit_json("model.json", _with("info", {"model_id": 3})),
    "feature_schema.json not JSON": ("feature_schema.json", lambda text: "{"),
    "feature_schema.json other features": _edit_json(
        "feature_schema.json", _with("features", [{"name": "x"}])
    ),
    "training_data.json not JSON": ("training_data.json", lambda text: "{"),
    "training_data.json a list": ("training_data.json", lambda text: "[1]"),
    "model_card.json a string": ("model_card.json", lambda text: '"card"'),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_metadata_is_incompatible(saved: Path, tmp_path: Path, case: str) -> None:
    """QA: invalid JSON in model.json was an internal JSONDecodeError; a missing
    horizons_months an internal KeyError."""
    name, edit = MALFORMED[case]
    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    (folder / name).write_text(edit((folder / name).read_text()))
    _rehash(folder)
    with pytest.raises(ModelError) as refused:
        load_artifact(folder)
    assert refused.value.code == "model.incompatible", refused.value


def test_a_manifest_that_lists_no_map_is_a_hash_mismatch(saved: Path, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    (folder / "manifest.json").write_text('{"files": ["model.json"]}')
    with pytest.raises(ModelError) as refused:
        load_artifact(folder)
    assert refused.value.code == "model.hash_mismatch"


def test_the_saved_artifact_loads(saved: Path) -> None:
    assert load_artifact(saved).default_horizon_months == 24


def test_the_library_evaluation_never_writes_into_a_model(tmp_path: Path) -> None:
    """riskcalc.model.evaluate(out_dir=...) refuses a model's folder as the CLI does."""
    from riskcalc.errors import ConfigError
    from riskcalc.model import default_model_dir, evaluate, load_model
    from riskcalc.model._oracle import oracle_cohort

    model = load_model()
    cohort = oracle_cohort(400, seed=3, horizons_months=(24,))
    with pytest.raises(ConfigError, match="model artifact"):
        evaluate(model, cohort, out_dir=default_model_dir(), n_boot=2)
    report = evaluate(model, cohort, out_dir=tmp_path / "eval", n_boot=2)
    assert (tmp_path / "eval" / "metrics.json").is_file() and report.figures
