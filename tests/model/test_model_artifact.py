"""Train on an oracle cohort with known risks; artifact round trip, tampering, allow-list, CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio

from riskcalc.errors import ConfigError, ModelError
from riskcalc.model import (
    ALLOWED_TYPES,
    LabelledCohort,
    RiskModel,
    _artifact,
    compile_artifact,
    evaluate,
    load_model,
    recalibrate_model,
    save_model,
    train_model,
    write_artifact,
)
from riskcalc.model._oracle import oracle_cohort
from riskcalc.model._risk_model import CompiledClassifiers


@pytest.fixture(scope="module")
def cohort() -> LabelledCohort:
    return oracle_cohort(3000, seed=3, horizons_months=(12, 24))


@pytest.fixture(scope="module")
def artifact(
    tmp_path_factory: pytest.TempPathFactory, cohort: LabelledCohort
) -> tuple[RiskModel, Path]:
    out = tmp_path_factory.mktemp("art") / "model"
    model, _ = train_model(
        cohort,
        horizons_months=(12, 24),
        seed=0,
        trained_on="oracle simulated cohort (test)",
        simulated=True,
        n_boot=20,
        out_dir=out,
    )
    return model, out


def test_artifact_contents(artifact: tuple[RiskModel, Path]) -> None:
    _, out = artifact
    for name in (
        "model_12m.skops",
        "model_24m.skops",
        "comparison_24m.skops",
        "model.json",
        "feature_schema.json",
        "training_data.json",
        "metrics.json",
        "model_card.md",
        "model_card.json",
        "hti1_source_attributes.json",
        "compiled.npz",
        "figures/calibration.png",
        "figures/roc.png",
        "figures/decision_curve.png",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "n",
        "events",
        "auroc",
        "auroc_ci",
        "brier",
        "calibration_intercept",
        "calibration_slope",
        "ici",
        "subgroups",
        "decision_curve",
        "comparisons",
    ):
        assert key in metrics, key
    assert metrics["auroc_ci"][0] <= metrics["auroc"] <= metrics["auroc_ci"][1]
    card = json.loads((out / "model_card.json").read_text())
    assert card["model_details"]["trained_on_simulated_data"] is True
    assert "Research use only" in (out / "model_card.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    assert set(manifest) == {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }


def test_round_trip_predicts_identically(
    artifact: tuple[RiskModel, Path], cohort: LabelledCohort
) -> None:
    model, out = artifact
    loaded = load_model(out)
    a = model.predict(cohort.features.iloc[:200])
    b = loaded.predict(cohort.features.iloc[:200])
    np.testing.assert_array_equal(a.probability, b.probability)
    np.testing.assert_array_equal(a.low, b.low)
    assert loaded.info.sha256 and len(loaded.info.sha256) == 64
    assert loaded.horizons_months == (12, 24) and loaded.default_horizon_months == 24
    assert np.all((b.low <= b.probability) & (b.probability <= b.high))
    assert loaded.predict(cohort.features.iloc[:5], horizon_months=12).horizon_months == 12
    with pytest.raises(ConfigError):
        loaded.predict(cohort.features.iloc[:5], horizon_months=7)


def test_changed_file_refuses_to_load(artifact: tuple[RiskModel, Path], tmp_path: Path) -> None:
    _, out = artifact
    copy = tmp_path / "m"
    shutil.copytree(out, copy)
    with (copy / "model.json").open("a") as fh:
        fh.write(" ")
    with pytest.raises(ModelError) as err:
        load_model(copy)
    assert err.value.code == "model.hash_mismatch"


def _with_model_file(out: Path, copy: Path, write: Callable[[Path], object]) -> Path:
    """A copy of the artifact ``out`` whose 24-month model file ``write`` replaces, with its
    manifest updated to match (so that only the file's content is wrong)."""
    from riskcalc.model._artifact import sha256_file

    shutil.copytree(out, copy)
    target = copy / "model_24m.skops"
    write(target)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"][target.name] = sha256_file(target)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_untrusted_type_refuses_to_load(artifact: tuple[RiskModel, Path], tmp_path: Path) -> None:
    from sklearn.preprocessing import FunctionTransformer

    _, out = artifact
    target = _with_model_file(
        out, tmp_path / "m", lambda f: sio.dump(FunctionTransformer(func=print), f)
    )
    assert set(sio.get_untrusted_types(file=target)) - ALLOWED_TYPES
    with pytest.raises(ModelError) as err:
        load_model(tmp_path / "m")
    assert err.value.code == "model.untrusted_type"
    assert "builtins.print" in err.value.message


def test_a_model_file_that_is_not_skops_is_incompatible(
    artifact: tuple[RiskModel, Path], tmp_path: Path
) -> None:
    _, out = artifact
    _with_model_file(out, tmp_path / "m", lambda f: f.write_bytes(b"not a zip archive"))
    with pytest.raises(ModelError) as err:
        load_model(tmp_path / "m")
    assert err.value.code == "model.incompatible"
    assert "model_24m.skops" in err.value.message


def test_a_loaded_model_predicts_without_reading_its_skops_files(
    artifact: tuple[RiskModel, Path], cohort: LabelledCohort, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, out = artifact
    read: list[Path] = []
    real = _artifact._load_skops
    monkeypatch.setattr(_artifact, "_load_skops", lambda path: read.append(path) or real(path))
    loaded = load_model(out)
    assert isinstance(loaded.models, CompiledClassifiers) and loaded.has_comparison
    for h in (12, 24):
        a, b = (m.predict(cohort.features.iloc[:300], horizon_months=h) for m in (model, loaded))
        np.testing.assert_array_equal(a.probability, b.probability)
        np.testing.assert_array_equal(a.high, b.high)
    assert read == []
    # what needs scikit-learn itself reads the files, once each
    assert type(loaded.models[24]).__name__ == "CalibratedClassifierCV"
    assert loaded.comparison_model() is not None and loaded.comparison_model() is not None
    assert [p.name for p in read] == ["model_24m.skops", "comparison_24m.skops"]


def test_a_replaced_skops_file_is_the_model_not_the_compiled_one(
    artifact: tuple[RiskModel, Path], tmp_path: Path, cohort: LabelledCohort
) -> None:
    model, out = artifact
    _with_model_file(out, tmp_path / "m", lambda f: shutil.copy(out / "model_12m.skops", f))
    loaded = load_model(tmp_path / "m")
    assert not isinstance(loaded.models, CompiledClassifiers)
    x = cohort.features.iloc[:300]
    twelve = model.predict(x, horizon_months=12).probability
    np.testing.assert_array_equal(loaded.predict(x, horizon_months=24).probability, twelve)
    assert not np.array_equal(model.predict(x, horizon_months=24).probability, twelve)


def test_a_skops_file_changed_after_loading_is_not_read(
    artifact: tuple[RiskModel, Path], tmp_path: Path
) -> None:
    copy = shutil.copytree(artifact[1], tmp_path / "m")
    loaded = load_model(copy)
    shutil.copy(copy / "model_12m.skops", copy / "model_24m.skops")  # retrained in place, say
    (copy / "comparison_24m.skops").unlink()
    with pytest.raises(ModelError) as err:
        loaded.models[24]
    assert err.value.code == "model.hash_mismatch" and "model_24m.skops" in err.value.message
    with pytest.raises(ModelError) as err:
        loaded.comparison_model()
    assert err.value.code == "model.hash_mismatch"
    assert type(loaded.models[12]).__name__ == "CalibratedClassifierCV"  # unchanged: read


def test_a_damaged_compiled_file_is_incompatible(
    artifact: tuple[RiskModel, Path], tmp_path: Path
) -> None:
    copy = shutil.copytree(artifact[1], tmp_path / "m")
    (copy / "compiled.npz").write_bytes(b"not an npz")
    _artifact._write_manifest(copy)
    with pytest.raises(ModelError) as err:
        load_model(copy)
    assert err.value.code == "model.incompatible" and "compiled.npz" in err.value.message


def test_compile_artifact_adds_the_compiled_file(
    artifact: tuple[RiskModel, Path], tmp_path: Path, cohort: LabelledCohort
) -> None:
    model, out = artifact
    old = tmp_path / "m"
    shutil.copytree(out, old)
    (old / "compiled.npz").unlink()
    _artifact._write_manifest(old)  # as a riskcalc before compiled.npz wrote it
    assert not isinstance(load_model(old).models, CompiledClassifiers)
    assert compile_artifact(old) is True
    loaded = load_model(old)
    assert isinstance(loaded.models, CompiledClassifiers)
    x = cohort.features.iloc[:200]
    np.testing.assert_array_equal(loaded.predict(x).probability, model.predict(x).probability)
    assert compile_artifact(old) is False


def test_an_isotonic_recalibration_round_trips(
    artifact: tuple[RiskModel, Path], tmp_path: Path
) -> None:
    model, _ = artifact
    fresh = oracle_cohort(3000, seed=8, horizons_months=(12, 24))
    new = recalibrate_model(model, fresh, method="isotonic")
    loaded = load_model(save_model(new, tmp_path / "m"))
    assert isinstance(loaded.models, CompiledClassifiers)
    for h in (12, 24):
        a, b = (m.predict(fresh.features, horizon_months=h) for m in (new, loaded))
        np.testing.assert_array_equal(a.probability, b.probability)
        np.testing.assert_array_equal(a.low, b.low)


def test_missing_artifact(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        load_model(tmp_path / "nothing")
    assert err.value.code == "model.not_found"


def test_allow_list_covers_what_is_saved(artifact: tuple[RiskModel, Path]) -> None:
    _, out = artifact
    for f in out.glob("*.skops"):
        assert set(sio.get_untrusted_types(file=f)) <= ALLOWED_TYPES


def test_calibration_on_fresh_oracle_data(artifact: tuple[RiskModel, Path]) -> None:
    model, _ = artifact
    fresh = oracle_cohort(6000, seed=99, horizons_months=(12, 24))
    report = evaluate(model, fresh, n_boot=20)
    m = report.metrics
    assert abs(m["calibration_intercept"]) < 0.02
    assert 0.6 < m["calibration_slope"] < 1.5
    assert m["auroc"] > 0.6
    assert 0 <= m["interval"]["coverage_of_true_risk"] <= 1


def test_recalibration_fixes_a_shifted_cohort(artifact: tuple[RiskModel, Path]) -> None:
    model, _ = artifact
    fresh = oracle_cohort(6000, seed=5, horizons_months=(12, 24))
    # halve the follow-up of events: a cohort where the model over-predicts
    status = fresh.status.copy()
    rng = np.random.default_rng(0)
    drop = (status == 1) & (rng.random(len(status)) < 0.5)
    status[drop] = 0
    shifted = LabelledCohort(
        fresh.features, fresh.time_days, status, fresh.patient_ids, fresh.index_dates
    )
    before = evaluate(model, shifted, n_boot=10).metrics["calibration_intercept"]
    new = recalibrate_model(model, shifted)
    after = evaluate(new, shifted, n_boot=10).metrics["calibration_intercept"]
    assert abs(after) < abs(before)
    assert new.info.version.endswith("recalibrated")


def test_risk_never_falls_with_a_longer_horizon(artifact: tuple[RiskModel, Path]) -> None:
    model, _ = artifact
    fresh = oracle_cohort(800, seed=17, horizons_months=(12, 24))
    short = model.predict(fresh.features, horizon_months=12)
    long = model.predict(fresh.features, horizon_months=24)
    assert np.all(long.probability >= short.probability)
    assert np.all(long.low >= short.low) and np.all(long.high >= short.high)
    for pred in (short, long):
        assert np.all((pred.low <= pred.probability) & (pred.probability <= pred.high))


def test_evaluation_warns_about_inputs_outside_training_ranges(
    artifact: tuple[RiskModel, Path],
) -> None:
    model, _ = artifact
    fresh = oracle_cohort(1500, seed=18, horizons_months=(12, 24))
    features = fresh.features.copy()
    features.loc[features.index[:7], "age_years"] = 130.0
    shifted = dataclasses.replace(fresh, features=features)
    metrics = evaluate(model, shifted, n_boot=10).metrics
    low, high = model.feature_ranges["age_years"]
    age = features["age_years"].to_numpy()
    expected = int(((age < low) | (age > high)).sum())
    assert expected >= 7
    assert metrics["extrapolation"]["by_feature"]["age_years"] == expected
    codes = {(w["code"], w["source"]) for w in metrics["warnings"]}
    assert ("assess.extrapolation", "age_years") in codes


def test_metrics_and_card_cover_every_trained_horizon(artifact: tuple[RiskModel, Path]) -> None:
    _, out = artifact
    metrics = json.loads((out / "metrics.json").read_text())
    by_horizon = metrics["by_horizon"]
    assert set(by_horizon) == {"12", "24"}
    for entry in by_horizon.values():
        assert entry["events"] >= 10  # enough for intervals in this cohort
        assert entry["auroc_ci"][0] <= entry["auroc"] <= entry["auroc_ci"][1]
        low, high = entry["calibration_slope_ci"]
        assert low < high
        for key in ("calibration_intercept", "calibration_intercept_logit", "ici", "brier"):
            assert isinstance(entry[key], float), key
    assert by_horizon["24"]["auroc"] == metrics["auroc"]  # the default horizon's full report
    assert by_horizon["12"]["auroc"] != metrics["auroc"]
    card = json.loads((out / "model_card.json").read_text())
    assert card["metrics_by_horizon"] == by_horizon
    assert card["comparison_horizon_months"] == 24
    text = (out / "model_card.md").read_text()
    assert "## Metrics by horizon" in text and "| 12 | " in text and "| 24 | " in text
    assert "comparison model is at 24 months only" in text


def test_card_tripod_index_points_at_fields_the_card_has(artifact: tuple[RiskModel, Path]) -> None:
    _, out = artifact
    card = json.loads((out / "model_card.json").read_text())
    for item, where in card["tripod_ai"].items():
        for path in where.split(", "):
            node: Any = card
            for part in path.split("."):
                key = part.removesuffix("[]")
                assert key in node, f"{item}: {path} ({key} not in the card)"
                node = node[key][0] if part.endswith("[]") else node[key]


def test_a_recalibrated_artifact_is_evaluated_on_the_local_cohort_and_keeps_its_history(
    artifact: tuple[RiskModel, Path], tmp_path: Path
) -> None:
    from riskcalc.model._train import holdout_split

    _, out = artifact
    parent = load_model(out)
    fit, test = holdout_split(
        oracle_cohort(4000, seed=8, horizons_months=(12, 24)), seed=0, test_fraction=0.5
    )
    once = recalibrate_model(parent, fit)
    write_artifact(once, test, tmp_path / "r1", n_boot=10)
    twice = recalibrate_model(load_model(tmp_path / "r1"), fit, version_suffix="again")
    write_artifact(twice, test, tmp_path / "r2", n_boot=10)
    v0 = parent.info.version
    for folder, history in (
        (out, [v0]),
        (tmp_path / "r1", [v0, f"{v0}+recalibrated"]),
        (tmp_path / "r2", [v0, f"{v0}+recalibrated", f"{v0}+recalibrated+again"]),
    ):
        hti = json.loads((folder / "hti1_source_attributes.json").read_text())
        assert hti["ongoing_maintenance"]["update_history"] == history, folder.name
        assert json.loads((folder / "model_card.json").read_text())["update_history"] == history
    text = (tmp_path / "r1" / "model_card.md").read_text()
    assert "held-out split" not in text
    assert "## Metrics (local cohort, after recalibration" in text
    assert (
        "## Metrics (held-out split of the training cohort)" in (out / "model_card.md").read_text()
    )
