"""`riskcalc history`: summary, JSON lines, errors on stderr with codes and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskcalc import RESEARCH_USE_STATEMENT
from riskcalc.cli import main

AD0 = "synthea-blaze/ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7.json.bz2"


def test_summary(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(fixtures / AD0)]) == 0
    out = capsys.readouterr().out
    assert RESEARCH_USE_STATEMENT in out
    assert "colorectal" in out and "covid19 2020-03-08" in out and "hospitalised" in out


def test_json_lines_for_a_bulk_export(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(fixtures / "smart-bulk-10"), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 13
    ids = [json.loads(line)["patient_id"] for line in lines]
    assert ids == sorted(ids)


def test_patient_option(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = "79a66c97-6131-3213-f3c9-4606946ab056"
    assert main(["history", str(fixtures / "smart-bulk-10"), "--patient", pid, "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["deceased_date"] == "1994-11-11"


def test_errors_go_to_stderr_with_code(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", str(fixtures / "invalid/bad-json-close-1.json")]) == 3
    err = capsys.readouterr().err
    assert "input.json_syntax" in err and "Traceback" not in err
    assert main(["history", str(fixtures / "invalid"), "--json"]) == 3
    captured = capsys.readouterr()
    assert captured.err.count("input.json_syntax") == 3
    assert len(captured.out.splitlines()) == 1
    assert main(["history", str(fixtures / "no-such-file.json")]) == 3
    assert "input.not_found" in capsys.readouterr().err


def test_whole_records_option(fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One HL7 v2 message per Bundle, two patients over several messages: by default the later
    parts are repeats (exit 3, an input error, and a line each on stderr); with --whole-records each patient is
    one history."""
    source = str(fixtures / "nimbus/hl7v2-messages")
    assert main(["history", source, "--json"]) == 3  # an input error
    captured = capsys.readouterr()
    assert captured.err.count("input.patient_repeated") == 2
    assert "--whole-records" in captured.err
    assert main(["history", source, "--json", "--whole-records"]) == 0
    captured = capsys.readouterr()
    ids = [json.loads(line)["patient_id"] for line in captured.out.splitlines()]
    assert len(ids) == len(set(ids)) == 3 and captured.err == ""
