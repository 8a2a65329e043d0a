"""`riskcalc score` as QA ran it: broken NDJSON lines reported, empty and unwritable places
refused with typed errors, the riskcalc version and the research-use statement on the outputs."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import riskcalc
from riskcalc.cli import main
from riskcalc.cohort import write_cohort

AS_OF = "2026-01-01"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cohort(tmp_path_factory.mktemp("sim") / "sim", n_patients=40, seed=3) / "fhir"


def _score(source: Path, out: Path) -> int:
    return main(["score", str(source), "--out", str(out), "--as-of", AS_OF, "--no-progress"])


def _break_lines(path: Path, damage: dict[int, bytes | None]) -> None:
    """Line n (from 1) truncated to its first bytes (None) or replaced."""
    lines = path.read_bytes().split(b"\n")
    for n, new in damage.items():
        lines[n - 1] = lines[n - 1][:40] if new is None else new
    path.write_bytes(b"\n".join(lines))


def test_broken_lines_are_reported_once_each(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], default_model: Any
) -> None:
    """QA: a truncated Patient line and two broken Condition lines: `read 199 = … failed 0`, an
    empty errors file, and the patient of the broken line nowhere."""
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in cohort.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    _break_lines(broken / "Patient.ndjson", {4: None})
    _break_lines(broken / "Condition.ndjson", {2: None, 5: b"garbage"})
    out = tmp_path / "br.csv"
    assert _score(broken, out) == 0
    stderr = capsys.readouterr().err
    assert "3 input line(s) could not be read" in stderr
    errors = pd.read_csv(tmp_path / "br.errors.csv")
    assert sorted(errors["location"]) == [
        f"{broken}/Condition.ndjson:2",
        f"{broken}/Condition.ndjson:5",
        f"{broken}/Patient.ndjson:4",
    ]
    assert set(errors["code"]) == {"ndjson.bad_line"} and errors["patient_id"].isna().all()
    assert len(pd.read_csv(out)) == 39  # the patient of the truncated line is not read


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_outputs_name_riskcalc_and_the_research_use(
    cohort: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    default_model: Any,
    suffix: str,
) -> None:
    """QA: the scores carried model_id and model_version, not the riskcalc version nor the
    statement; `score` printed no research-use statement."""
    out = tmp_path / f"scores{suffix}"
    before = os.umask(0o022)
    try:
        assert _score(cohort, out) == 0
    finally:
        os.umask(before)
    stderr = capsys.readouterr().err
    assert f"riskcalc {riskcalc.__version__}" in stderr
    assert riskcalc.RESEARCH_USE_STATEMENT in stderr
    scores = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert set(scores["riskcalc_version"].astype(str)) == {riskcalc.__version__}
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.read_schema(out).metadata
        assert meta[b"research_use"].decode() == riskcalc.RESEARCH_USE_STATEMENT
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # QA: -rw------- whatever the umask


def test_an_empty_folder_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], default_model: Any
) -> None:
    """QA: `riskcalc score empty_folder` said `read 0 = …` and exited 0."""
    (tmp_path / "empty").mkdir()
    assert _score(tmp_path / "empty", tmp_path / "x.csv") == 3
    assert "[input.no_patient]" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.errors.csv").exists()


def test_an_unwritable_place_is_a_typed_error(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], default_model: Any
) -> None:
    """QA: `--out /proc/x.csv` was `internal error (FileNotFoundError…)`, exit 70."""
    (tmp_path / "afile").write_text("mine")
    assert _score(cohort, tmp_path / "afile" / "x.csv") == 5
    assert "[config.output_unwritable]" in capsys.readouterr().err
