"""Every file under the shared fixtures ends in a history or a RiskCalcError with a stable code."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

import riskcalc
from riskcalc.errors import ERROR_CODES, WARNING_CODES, RiskCalcError

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("RISKCALC_FIXTURES", ROOT.parent / "shared" / "fixtures"))

FILES = (
    sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md")
    if FIXTURES.is_dir()
    else []
)


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, FIXTURES))
def test_file_ends_in_history_or_error(path: Path) -> None:
    try:
        histories = list(riskcalc.read_histories(path, today=dt.date(2026, 11, 30)))
    except RiskCalcError as exc:
        assert exc.code in ERROR_CODES
        assert exc.message
        return
    for h in histories:
        if isinstance(h, riskcalc.PatientHistory):
            assert all(w.code in WARNING_CODES for w in h.warnings)
            assert list(h.infections) == sorted(
                h.infections, key=lambda e: (e.onset, e.pathogen.value, e.end, e.sources)
            )
        else:
            assert h.code in ERROR_CODES


def test_every_fixture_folder_is_read(fixtures: Path) -> None:
    folders = sorted({p.parent for p in FILES})
    assert len(folders) >= 8
    for folder in folders:
        results = list(riskcalc.read_histories(folder, today=dt.date(2026, 11, 30)))
        assert results, folder
