"""`riskcalc train --engine dask` reads the same cohort as the local engine: identical metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RISKCALC = [sys.executable, "-m", "riskcalc"]


@pytest.mark.slow
def test_train_dask_engine_matches_local(tmp_path: Path) -> None:
    subprocess.run(
        [
            *RISKCALC,
            "simulate",
            "--patients",
            "4000",
            "--seed",
            "4",
            "--out",
            str(tmp_path / "sim"),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
    )
    cohort = str(tmp_path / "sim" / "fhir")
    common = ["--horizons", "24", "--seed", "1", "--simulated"]
    for engine in ("local", "dask"):
        subprocess.run(
            [
                *RISKCALC,
                "train",
                cohort,
                "--out",
                str(tmp_path / engine),
                *common,
                "--engine",
                engine,
            ],
            check=True,
            capture_output=True,
        )
    local = (tmp_path / "local" / "metrics.json").read_bytes()
    assert local == (tmp_path / "dask" / "metrics.json").read_bytes()
    assert b'"auroc"' in local
