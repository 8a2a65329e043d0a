"""The simulator: deterministic for a seed, valid FHIR R4 with agreed codes only, bounded memory."""

from __future__ import annotations

import json
import os
import stat
import tracemalloc
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from fhir.resources.R4B import get_fhir_model_class

from riskcalc import codes
from riskcalc.cli import main
from riskcalc.cohort import OutputFormat, iter_patients, write_cohort
from riskcalc.errors import ConfigError


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "fhir").iterdir())}


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = write_cohort(tmp_path / "a", n_patients=300, seed=11, chunk_size=128)
    b = write_cohort(tmp_path / "b", n_patients=300, seed=11, chunk_size=128)
    c = write_cohort(tmp_path / "c", n_patients=300, seed=12, chunk_size=128)
    assert _files(a) == _files(b)
    assert _files(a) != _files(c)
    for name in ("patients", "episodes"):
        ta = pq.read_table(a / "ground_truth" / f"{name}.parquet")
        tb = pq.read_table(b / "ground_truth" / f"{name}.parquet")
        assert ta.equals(tb)
    manifest = json.loads((a / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["patients"] == 300
    assert "Research use only" in manifest["research_use"]


def test_ndjson_validates_with_r4b_and_truth_stays_outside_fhir(tmp_path: Path) -> None:
    out = write_cohort(tmp_path / "c", n_patients=400, seed=5)
    names = {p.name for p in (out / "fhir").iterdir()}
    assert names == {
        f"{t}.ndjson"
        for t in (
            "Patient",
            "Condition",
            "Observation",
            "Encounter",
            "Procedure",
            "MedicationRequest",
            "Immunization",
        )
    }
    patients = (out / "fhir" / "Patient.ndjson").read_bytes().splitlines()
    assert len(patients) == 400
    seen = 0
    for f in sorted((out / "fhir").iterdir()):
        for line in f.read_bytes().splitlines()[:400]:
            res = orjson.loads(line)
            assert res["resourceType"] == f.stem
            get_fhir_model_class(res["resourceType"]).model_validate(res)
            seen += 1
    assert seen > 1500
    truth = pq.read_table(out / "ground_truth" / "patients.parquet")
    assert truth.num_rows == 400
    assert {"dormant_lung", "relapse_date", "relapse_by_infection"} <= set(truth.column_names)


def test_bundles_validate(tmp_path: Path) -> None:
    out = write_cohort(tmp_path / "b", n_patients=40, seed=2, fmt=OutputFormat.BUNDLES)
    bundles = sorted((out / "fhir").glob("Bundle-*.json"))
    assert len(bundles) == 40
    for path in bundles[:15]:
        data = orjson.loads(path.read_bytes())
        bundle = get_fhir_model_class("Bundle").model_validate(data)
        assert bundle.type == "collection"
        assert data["entry"][0]["resource"]["resourceType"] == "Patient"


def test_every_clinical_code_emitted_is_recognised_by_the_reader(tmp_path: Path) -> None:
    """The simulator writes only codes that riskcalc's own code sets recognise (one source of
    truth: riskcalc/codes/data), so training data exercise the same extraction as real data."""
    code_sets = [codes.load(name) for name in codes.NAMES]
    structural = {
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        "http://terminology.hl7.org/CodeSystem/condition-category",
        "http://terminology.hl7.org/CodeSystem/observation-category",
        "http://unitsofmeasure.org",
    }
    out = write_cohort(tmp_path / "c", n_patients=600, seed=9)
    unknown: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            system, code = node.get("system"), node.get("code")
            clinical = isinstance(system, str) and isinstance(code, str)
            if (
                clinical
                and system not in structural
                and not any(s.match(system, code) for s in code_sets)
            ):
                unknown.add(f"{system}|{code}")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for f in (out / "fhir").iterdir():
        for line in f.read_bytes().splitlines():
            walk(orjson.loads(line))
    assert not unknown, sorted(unknown)


def test_refuses_non_empty_target_and_bad_arguments(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError):
        write_cohort(tmp_path / "x", n_patients=5, seed=1)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
    with pytest.raises(ConfigError):
        list(iter_patients(0, 1))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_the_cohort_takes_the_modes_of_the_umask(tmp_path: Path, mask: int) -> None:
    """The folder was made 0o755 whatever the umask."""
    before = os.umask(mask)
    try:
        out = write_cohort(tmp_path / "c", n_patients=5, seed=1)
    finally:
        os.umask(before)
    for folder in (out, out / "fhir", out / "ground_truth"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~mask, folder
    for file in (out / "manifest.json", out / "fhir" / "Patient.ndjson"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o666 & ~mask, file


def test_an_unwritable_place_is_a_typed_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: `--out /proc/x` was an internal error (exit 70) in every command that writes."""
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(ConfigError) as raised:
        write_cohort(tmp_path / "afile" / "c", n_patients=5, seed=1)
    assert raised.value.code == "config.output_unwritable"
    cmd = ["simulate", "--patients", "5", "--seed", "1", "--out", str(tmp_path / "afile" / "c")]
    assert main([*cmd, "--no-progress"]) == 5
    assert "[config.output_unwritable]" in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "mine"


def _peak_bytes(tmp: Path, n: int) -> int:
    tracemalloc.start()
    write_cohort(tmp, n_patients=n, seed=3, chunk_size=100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_memory_is_bounded_by_the_chunk_not_the_cohort(tmp_path: Path) -> None:
    small = _peak_bytes(tmp_path / "s", 200)
    large = _peak_bytes(tmp_path / "l", 1200)
    assert large < 1.5 * small, (small, large)


def test_ground_truth_is_cell_level_and_recorded_outcomes_follow_it() -> None:
    patients = list(iter_patients(3000, seed=4))
    assert sum(p.dormant_lung + p.dormant_other == 0 for p in patients) > 300
    for p in patients:
        if p.dormant_lung + p.dormant_other == 0:
            assert p.relapse_day is None
        if p.death_cause == "cancer":
            assert p.relapse_day is not None and p.relapse_day < p.death_day  # type: ignore[operator]
        awakened = sum(e.awakened_lung + e.awakened_other for e in p.episodes)
        assert awakened <= p.dormant_lung + p.dormant_other
    assert any(p.relapse_by_infection for p in patients)
    assert any(p.relapse_day is not None and not p.relapse_by_infection for p in patients)
