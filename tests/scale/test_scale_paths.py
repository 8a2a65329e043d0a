"""Paths on a real cluster whose workers run in another directory than the client.

The session's LocalCluster (conftest.py) started its workers in this run's working directory;
each test here moves the client elsewhere (monkeypatch.chdir), as a `dask worker` started in
another directory is. A relative source is read by the workers at its absolute path and named
as given, as the in-process reader names it; a source the workers cannot read is an
``input.not_found`` error, never an internal error.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from scale_helpers import TODAY, bundle_of_patient, with_split_records

from riskcalc.cli import main
from riskcalc.errors import InputError
from riskcalc.fhir import read_histories
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.scale import Tuning, histories_dask

pytest.importorskip("distributed")

#: Each JSON file its own task, NDJSON ranges of 400 kB.
SMALL = Tuning(chunk_bytes=400_000, json_batch_bytes=1)


def _elsewhere(client: Any, monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    """Move this process to ``where``; the workers stay where they are."""
    monkeypatch.chdir(where)
    assert os.getcwd() not in set(client.run(os.getcwd).values())


def _rich_folder(edge_folder: Path, fixtures: Path) -> Path:
    """The edge folder with records split over JSON files and a Patient without an id (whose
    name is its place in the input: a label)."""
    folder = with_split_records(edge_folder, fixtures)
    (folder / "no-id.json").write_bytes(bundle_of_patient(None))
    return folder


def _unnamed_export(root: Path) -> Path:
    """An NDJSON export with a Patient without an id: read whole by one task (the pool)."""
    root.mkdir()
    (root / "Patient.ndjson").write_bytes(
        orjson.dumps({"resourceType": "Patient", "birthDate": "1950-01-01"})
        + b"\n"
        + orjson.dumps({"resourceType": "Patient", "id": "p1", "birthDate": "1951-01-01"})
        + b"\n{bad line\n"
    )
    return root


def _labels(results: list[PatientHistory | ReadFailure]) -> set[str]:
    out = {i.source or "" for r in results for i in r.warnings}
    out |= {r.location or "" for r in results if isinstance(r, ReadFailure)}
    return out | {r.patient_id or "" for r in results}


@pytest.mark.parametrize("given", ["cohort", "./cohort/", "."])
def test_a_relative_source_is_read_by_workers_elsewhere_and_named_as_given(
    client: Any,
    edge_folder: Path,
    fixtures: Path,
    monkeypatch: pytest.MonkeyPatch,
    given: str,
) -> None:
    folder = _rich_folder(edge_folder, fixtures)
    _unnamed_export(folder.parent / "unnamed")
    _elsewhere(client, monkeypatch, folder if given == "." else folder.parent)
    sources = [given] if given == "." else [given, given.replace("cohort", "unnamed")]
    for source in sources:
        prefix = "" if source == "." else source.strip("./") + "/"
        for whole in (False, True):
            expected = list(read_histories(source, today=TODAY, whole_records=whole))
            labels = _labels(expected)
            assert any(label.startswith(f"{prefix}Patient.ndjson:") for label in labels)
            assert any(label.startswith(f"(no id) {prefix}") for label in labels)
            got = list(
                histories_dask(
                    source, scheduler=client, today=TODAY, tuning=SMALL, whole_records=whole
                )
            )
            assert got == expected, (source, whole)


def test_a_relative_source_is_scored_byte_for_byte_as_in_process(
    client: Any,
    edge_folder: Path,
    fixtures: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    model = _model_or_skip()
    from riskcalc.report import score_cohort
    from riskcalc.scale import score_cohort_dask

    _rich_folder(edge_folder, fixtures)
    _unnamed_export(edge_folder.parent / "unnamed")
    _elsewhere(client, monkeypatch, edge_folder.parent)
    as_of = dt.date(2026, 6, 1)
    for source in ("cohort", "unnamed"):
        a, b = Path(f"{source}-local.csv"), Path(f"{source}-dask.csv")
        ra = score_cohort(source, a, as_of=as_of, model=model)
        rb = score_cohort_dask(source, b, as_of=as_of, model=model, scheduler=client, tuning=SMALL)
        assert ra == rb
        assert a.read_bytes() == b.read_bytes()
        errors = a.with_name(f"{a.stem}.errors.csv").read_bytes()
        assert errors == b.with_name(f"{b.stem}.errors.csv").read_bytes()
        if source == "cohort":  # files that failed are named as given
            assert b",cohort/mcode/" in errors


def test_cli_scores_a_relative_cohort_on_a_scheduler_started_elsewhere(
    client: Any,
    edge_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """QA: `riskcalc score local/fhir --engine dask --scheduler tcp://…` was an internal error
    (FileNotFoundError) with a `dask worker` started in `/`."""
    _model_or_skip()
    _elsewhere(client, monkeypatch, edge_folder.parent)
    common = ["--as-of", "2026-06-01", "--no-progress"]
    address = client.scheduler.address
    assert main(["score", "cohort", "--out", "local.csv", *common]) == 0
    for stem, engine in (("dask", ["--engine", "dask"]), ("implied", [])):
        out = f"{stem}.csv"
        status = main(["score", "cohort", "--out", out, *engine, "--scheduler", address, *common])
        assert status == 0, capsys.readouterr().err
        for suffix in (".csv", ".errors.csv"):
            assert Path(stem + suffix).read_bytes() == Path("local" + suffix).read_bytes()
    assert "internal error" not in capsys.readouterr().err


proc_cwd = pytest.mark.skipif(
    not Path("/proc/self/cwd").is_dir(),
    reason="needs /proc/self/cwd, a path each process sees in its own directory",
)


@proc_cwd
def test_a_source_the_workers_cannot_see_is_an_input_error(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """/proc/self/cwd/<folder> is this process's folder; the workers, in their own directory,
    see no such folder: a filesystem the workers do not share."""
    name = f"only-here-{uuid.uuid4().hex}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "Patient.ndjson").write_bytes(b'{"resourceType": "Patient", "id": "p"}\n')
    _elsewhere(client, monkeypatch, tmp_path)
    source = f"/proc/self/cwd/{name}"
    assert set(client.run(os.path.exists, source).values()) == {False}
    with pytest.raises(InputError) as caught:
        list(histories_dask(source, scheduler=client, today=TODAY))
    assert caught.value.code == "input.not_found"
    assert source in caught.value.message
    assert "same path" in caught.value.message
    _model_or_skip()
    address = client.scheduler.address
    status = main(["score", source, "--out", "s.csv", "--scheduler", address, "--no-progress"])
    err = capsys.readouterr().err
    assert status == 3, err
    assert "[input.not_found]" in err and "same path" in err


@proc_cwd
def test_a_file_a_worker_cannot_open_during_the_run_is_an_input_error(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is shared, one file of it is not (a link into this process's directory): the
    task that opens it fails on the worker, and the run with a typed error naming the file."""
    name = f"only-here-{uuid.uuid4().hex}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "Patient.ndjson").write_bytes(b'{"resourceType": "Patient", "id": "p"}\n')
    shared = tmp_path / "cohort"
    shared.mkdir()
    (shared / "Patient.ndjson").symlink_to(f"/proc/self/cwd/{name}/Patient.ndjson")
    _elsewhere(client, monkeypatch, tmp_path)
    with pytest.raises(InputError) as caught:
        list(histories_dask("cohort", scheduler=client, today=TODAY))
    assert caught.value.code == "input.not_found"
    assert caught.value.location == "cohort/Patient.ndjson"
    assert "same path" in caught.value.message


def _model_or_skip() -> Any:
    from riskcalc.errors import RiskCalcError

    try:
        from riskcalc.model import load_model

        return load_model()
    except (RiskCalcError, ImportError, OSError) as exc:  # the model is being built
        pytest.skip(f"no default model yet: {exc}")
