"""``--engine``/``--scheduler`` and the library's ``scheduler``: checked before any work, typed
errors for what is wrong, no cluster started for a run that cannot go, and a cluster of
riskcalc's own that closes without Dask's log lines on the user's terminal."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from riskcalc.cli import main
from riskcalc.errors import ConfigError, RemoteError, RiskCalcError

distributed = pytest.importorskip("distributed")

RISKCALC = [sys.executable, "-m", "riskcalc"]
NOT_ADDRESSES = ["notanaddress", "tcp://host", "tcp://:8786", "tcp://h:0", "foo://h:1", ""]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


@pytest.fixture
def no_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the Dask engine asks for a cluster."""

    @contextmanager
    def refuse(*_: Any, **__: Any) -> Iterator[Any]:
        pytest.fail("a cluster was started")
        yield

    monkeypatch.setattr("riskcalc.scale.dask_client", refuse)


def _model_or_skip() -> Any:
    try:
        from riskcalc.model import load_model

        return load_model()
    except (RiskCalcError, ImportError, OSError) as exc:  # the model is being built
        pytest.skip(f"no default model yet: {exc}")


# --- defect 2: the scheduler's address ------------------------------------------------------------


@pytest.mark.parametrize("command", ["score", "train"])
@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_a_scheduler_that_is_not_an_address_is_config_invalid(
    command: str,
    address: str,
    fixtures: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_cluster: None,
) -> None:
    """QA: `--scheduler notanaddress` was an internal error (ValueError), exit 70."""
    out = tmp_path / ("s.csv" if command == "score" else "model")
    cohort = str(fixtures / "smart-bulk-10")
    argv = [command, cohort, "--out", str(out), "--engine", "dask", "--scheduler", address]
    status, err = _run([*argv, "--no-progress"] if command == "score" else argv, capsys)
    assert status == 5, err
    assert "[config.invalid]" in err and "tcp://host:port" in err
    assert not out.exists()


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_the_library_refuses_such_an_address_before_any_work(
    address: str, fixtures: Path, tmp_path: Path, no_cluster: None
) -> None:
    from riskcalc.scale import check_scheduler, histories_dask, score_cohort_dask

    with pytest.raises(ConfigError, match="tcp://host:port"):
        check_scheduler(address)
    with pytest.raises(ConfigError, match="tcp://host:port"):
        next(histories_dask(fixtures / "smart-bulk-10", scheduler=address))
    model = _model_or_skip()
    with pytest.raises(ConfigError, match="tcp://host:port"):
        score_cohort_dask(
            fixtures / "smart-bulk-10",
            tmp_path / "s.csv",
            as_of=dt.date(2026, 6, 1),
            model=model,
            scheduler=address,
        )


@pytest.mark.parametrize(
    "address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://scheduler.example:8786"]
)
def test_addresses_of_a_scheduler_pass(address: str) -> None:
    from riskcalc.scale import check_scheduler

    assert check_scheduler(address) == address


def test_scheduler_implies_the_dask_engine(
    client: Any, fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA: `--scheduler` without `--engine dask` was ignored; it now runs on that scheduler."""
    _model_or_skip()
    argv = [
        "score",
        str(fixtures / "smart-bulk-10"),
        "--out",
        str(tmp_path / "s.csv"),
        "--as-of",
        "2026-06-01",
        "--no-progress",
        "--scheduler",
        client.scheduler.address,
    ]
    with distributed.get_task_stream(client) as stream:
        status, err = _run(argv, capsys)
    assert status == 0, err
    assert any(str(t["key"]).startswith("riskcalc-") for t in stream.data)


@pytest.mark.parametrize("command", ["score", "train"])
def test_scheduler_with_engine_local_is_config_invalid(
    command: str, fixtures: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, str(fixtures / "smart-bulk-10"), "--out", str(tmp_path / "o.csv")]
    status, err = _run([*argv, "--engine", "local", "--scheduler", "tcp://h:8786"], capsys)
    assert status == 5, err
    assert "[config.invalid]" in err and "--scheduler" in err


def test_an_unreachable_scheduler_is_remote_scheduler_unreachable(
    fixtures: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """QA: it waited 30 s, then said config.invalid; nothing listens on port 1."""
    monkeypatch.setattr("riskcalc.scale._cluster.CONNECT_TIMEOUT_S", 1)
    from riskcalc.scale import histories_dask

    start = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        next(histories_dask(fixtures / "smart-bulk-10", scheduler="tcp://127.0.0.1:1"))
    assert caught.value.code == "remote.scheduler_unreachable"
    assert time.monotonic() - start < 15
    argv = ["train", str(fixtures / "smart-bulk-10"), "--out", str(tmp_path / "m")]
    status, err = _run([*argv, "--scheduler", "tcp://127.0.0.1:1"], capsys)
    assert status == 6, err
    assert "[remote.scheduler_unreachable]" in err and "tcp://127.0.0.1:1" in err


# --- defect 3: no cluster for a run that cannot go; a quiet cluster of our own -------------------


def test_a_horizon_the_model_lacks_is_refused_before_any_cluster(
    fixtures: Path, tmp_path: Path, no_cluster: None
) -> None:
    model = _model_or_skip()
    from riskcalc.scale import score_cohort_dask

    with pytest.raises(ConfigError, match="horizon_months=18"):
        score_cohort_dask(
            fixtures / "smart-bulk-10",
            tmp_path / "s.csv",
            as_of=dt.date(2026, 6, 1),
            horizon_months=18,
            model=model,
        )
    with pytest.raises(ConfigError, match="as_of"):
        score_cohort_dask(
            fixtures / "smart-bulk-10",
            tmp_path / "s.csv",
            as_of="June",  # type: ignore[arg-type]
            model=model,
        )


def test_a_missing_or_empty_source_starts_no_cluster(tmp_path: Path, no_cluster: None) -> None:
    from riskcalc.errors import InputError
    from riskcalc.fhir import read_histories
    from riskcalc.scale import histories_dask

    empty = tmp_path / "empty"
    empty.mkdir()
    assert list(histories_dask(empty)) == list(read_histories(empty)) == []
    with pytest.raises(InputError, match="does not exist"):
        next(histories_dask(tmp_path / "nowhere"))


def test_an_empty_source_is_scored_as_in_process_without_a_cluster(
    tmp_path: Path, no_cluster: None
) -> None:
    model = _model_or_skip()
    from riskcalc.report import score_cohort
    from riskcalc.scale import score_cohort_dask

    empty = tmp_path / "empty"
    empty.mkdir()
    outcomes = []
    for engine, out in ((score_cohort, "a.csv"), (score_cohort_dask, "b.csv")):
        try:
            outcomes.append(engine(empty, tmp_path / out, as_of=dt.date(2026, 6, 1), model=model))
        except RiskCalcError as exc:
            outcomes.append(exc.code)
    assert outcomes[0] == outcomes[1]


def test_cli_wrong_horizon_on_dask_prints_only_the_error(fixtures: Path, tmp_path: Path) -> None:
    """QA: the cluster started and ran work for 5 s, Dask logged a cancelled task, then the
    config.invalid came."""
    _model_or_skip()
    argv = ["score", str(fixtures / "smart-bulk-10"), "--out", str(tmp_path / "s.csv")]
    argv += ["--horizon-months", "18", "--engine", "dask", "--no-progress"]
    done = subprocess.run([*RISKCALC, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 5
    assert done.stderr.splitlines() == [
        "riskcalc: error [config.invalid] horizon_months=18 is not one the model was trained "
        "for; choose one of [12, 24, 36, 60]"
    ]


def test_our_own_cluster_closes_quietly_when_the_run_fails(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A run that fails while a task runs closes riskcalc's LocalCluster with the task running:
    the workers' "Async instruction … ended with CancelledError" warnings, and their
    heartbeat errors, are not printed; the error itself is the caller's."""
    from riskcalc.scale import dask_client

    capfd.readouterr()
    with pytest.raises(RuntimeError, match="the run failed"), dask_client(n_workers=1) as own:
        future = own.submit(time.sleep, 30, pure=False)
        while not own.processing().get(next(iter(own.scheduler_info()["workers"]))):
            time.sleep(0.05)
        assert future.status == "pending"
        raise RuntimeError("the run failed")
    time.sleep(0.5)  # what a closing worker process writes
    err = capfd.readouterr().err
    assert "distributed." not in err, err


def test_a_users_cluster_keeps_its_logging(client: Any) -> None:
    from riskcalc.scale import dask_client

    def levels() -> list[int]:
        return [h.level for h in logging.getLogger("distributed").handlers]

    before = levels()
    with dask_client(client.scheduler.address) as theirs:
        assert theirs.submit(sum, [1, 2]).result() == 3
        assert levels() == before
