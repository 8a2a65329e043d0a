"""Parity: the library, the CLI and cohort scoring give the same numbers for the same patients."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

import riskcalc
from riskcalc.report import score_cohort

AS_OF = dt.date(2022, 6, 1)
RISKCALC = [sys.executable, "-m", "riskcalc"]


def _cohort(fixtures: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "cohort"
    folder.mkdir()
    for path in sorted((fixtures / "synthea-blaze").glob("*.json.bz2"))[:12]:
        if not path.name.startswith("0-"):
            (folder / path.name).symlink_to(path)
    return folder


def test_library_cli_and_score_agree(fixtures: Path, tmp_path: Path, default_model: Any) -> None:
    folder = _cohort(fixtures, tmp_path)
    library = {}
    for path in sorted(folder.iterdir()):
        report = riskcalc.assess(path, as_of=AS_OF, model=default_model)
        library[report.patient_id] = report
        cli = subprocess.run(
            [*RISKCALC, "assess", str(path), "--as-of", AS_OF.isoformat(), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        from_cli = json.loads(cli.stdout)
        assert from_cli["status"] == report.status.value
        if report.risk is not None:
            assert from_cli["risk"]["probability"] == report.risk.probability
            assert from_cli["awakening"]["score"] == report.awakening.score  # type: ignore[union-attr]

    out = tmp_path / "scores.csv"
    rec = score_cohort(folder, out, as_of=AS_OF, model=default_model)
    assert rec.balanced and rec.read == len(library)
    rows = pd.read_csv(out).set_index("patient_id")
    for pid, report in library.items():
        row = rows.loc[pid]
        assert row["status"] == report.status.value
        if report.risk is not None:
            assert float(row["probability"]) == report.risk.probability
            assert float(row["interval_high"]) == report.risk.interval_high

    cli_out = tmp_path / "cli-scores.csv"
    subprocess.run(
        [
            *RISKCALC,
            "score",
            str(folder),
            "--out",
            str(cli_out),
            "--as-of",
            AS_OF.isoformat(),
            "--no-progress",
        ],
        check=True,
        capture_output=True,
    )
    assert cli_out.read_bytes() == out.read_bytes()


def test_score_cli_reads_split_records_whole(fixtures: Path, tmp_path: Path) -> None:
    """`riskcalc score --whole-records`: the HL7 v2 message Bundles' three patients scored
    once each, no repeat in the errors file; without it, two repeats."""
    folder = str(fixtures / "nimbus/hl7v2-messages")
    runs = {}
    for flag in ((), ("--whole-records",)):
        out = tmp_path / f"scores{len(flag)}.csv"
        cli = subprocess.run(
            [
                *RISKCALC,
                *("score", folder, "--out", str(out), "--as-of", AS_OF.isoformat()),
                *("--no-progress", *flag),
            ],
            capture_output=True,
            text=True,
        )
        errors = pd.read_csv(out.with_name(out.stem + ".errors.csv"))
        runs[flag] = (cli.returncode, len(pd.read_csv(out)), list(errors["code"]))
    assert runs[()] == (0, 3, ["input.patient_repeated"] * 2)
    assert runs[("--whole-records",)] == (0, 3, [])
