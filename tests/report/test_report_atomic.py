"""Cohort outputs are atomic and reconciled: a failing run leaves the previous files untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from riskcalc.errors import ConfigError
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
