"""Cohort outputs are atomic and reconciled: a failing run leaves the previous files untouched."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import riskcalc
from riskcalc.errors import ConfigError, InputError
from riskcalc.report import ERROR_COLUMNS, SCORE_COLUMNS, errors_path_for, write_results


def _row(pid: str, status: str = "ok") -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(SCORE_COLUMNS)
    row.update(patient_id=pid, status=status, probability=0.1, n_warnings=0, as_of="2024-01-01")
    return row


def _error(pid: str) -> dict[str, object]:
    return {
        "patient_id": pid,
        "code": "input.json_syntax",
        "message": "bad",
        "location": None,
        "resource_id": None,
    }


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_reconciliation_counts_every_row(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"scores{suffix}"
    chunks = [([_row("a"), _row("b", "not_applicable")], [_error("c")]), ([_row("d")], [])]
    rec = write_results(iter(chunks), out)
    assert (rec.read, rec.scored, rec.not_applicable, rec.failed) == (4, 2, 1, 1)
    assert rec.balanced
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    scores = read(out)
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert list(scores["patient_id"]) == ["a", "b", "d"]
    errors = read(errors_path_for(out))
    assert list(errors.columns) == list(ERROR_COLUMNS)
    assert list(errors["patient_id"]) == ["c"]
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_failed_run_leaves_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    write_results(iter([([_row("old")], [])]), out)
    before = out.read_bytes()

    def dying() -> Iterator[tuple[list[dict[str, object]], list[dict[str, object]]]]:
        yield [_row("new-1")], []
        raise KeyboardInterrupt  # the run is killed half-way

    with pytest.raises(KeyboardInterrupt):
        write_results(dying(), out)
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_output_suffix_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_results(iter([]), tmp_path / "scores.xlsx")


def _skipped(line: int, message: str = "not JSON: unexpected end of data") -> dict[str, object]:
    return {
        "patient_id": None,
        "code": "ndjson.bad_line",
        "message": message,
        "location": f"export/Patient.ndjson:{line}",
        "resource_id": None,
    }


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_skipped_lines_are_error_rows_once_each_and_counted(tmp_path: Path, suffix: str) -> None:
    """QA: a broken NDJSON line lost its patient without a trace but n_warnings on every row.
    The reader puts the line on every history of the export; each chunk repeats its lines as
    error rows; the errors file lists each line once, and the counts say lines were lost."""
    out = tmp_path / f"scores{suffix}"
    more = {
        **_skipped(0),
        "location": None,
        "message": "7 more 'ndjson.bad_line' issue(s) not listed",
    }
    chunks = [
        ([_row("a"), _row("b")], [_skipped(4), _skipped(9)]),
        ([_row("c")], [_error("d"), _skipped(4), dict(more)]),
        ([_row("e")], [_skipped(9), dict(more)]),
    ]
    rec = write_results(iter(chunks), out)
    assert (rec.read, rec.failed, rec.skipped_lines) == (5, 1, 2 + 7)
    assert rec.balanced and "9 input line(s)" in str(rec)
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    errors = read(errors_path_for(out))
    lost = errors[errors["code"] == "ndjson.bad_line"]
    assert sorted(lost["location"].fillna("")) == [
        "",
        "export/Patient.ndjson:4",
        "export/Patient.ndjson:9",
    ]
    assert lost["patient_id"].isna().all()
    assert list(errors.loc[errors["code"] != "ndjson.bad_line", "patient_id"]) == ["d"]
    assert list(read(out).columns) == list(SCORE_COLUMNS)


def test_a_run_without_any_patient_is_an_input_error(tmp_path: Path) -> None:
    """QA: `riskcalc score empty_folder` wrote empty files and exited 0."""
    out = tmp_path / "scores.csv"
    write_results(iter([([_row("old")], [])]), out)
    before = out.read_bytes()
    with pytest.raises(InputError) as raised:
        write_results(iter([]), out)
    assert raised.value.code == "input.no_patient"
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_outputs_take_the_modes_of_the_umask(tmp_path: Path, suffix: str, mask: int) -> None:
    """QA: scores.csv came out -rw------- (tempfile's private mode kept by the rename)."""
    before = os.umask(mask)
    try:
        out = tmp_path / f"scores{suffix}"
        write_results(iter([([_row("a")], [_error("b")])]), out)
    finally:
        os.umask(before)
    for path in (out, errors_path_for(out)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def test_an_unwritable_place_is_a_typed_error(tmp_path: Path) -> None:
    """QA: `--out /proc/x.csv` was an internal FileNotFoundError (exit 70)."""
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(ConfigError) as raised:
        write_results(iter([([_row("a")], [])]), tmp_path / "afile" / "scores.csv")
    assert raised.value.code == "config.output_unwritable"
    assert (tmp_path / "afile").read_text() == "mine"


def test_both_parquet_files_carry_the_version_and_the_statement(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "scores.parquet"
    write_results(iter([([_row("a")], [_error("b")])]), out)
    for path in (out, errors_path_for(out)):
        meta = pq.read_schema(path).metadata
        assert meta[b"riskcalc_version"].decode() == riskcalc.__version__
        assert meta[b"research_use"].decode() == riskcalc.RESEARCH_USE_STATEMENT
