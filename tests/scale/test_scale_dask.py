"""The Dask engine on a real LocalCluster of 2 worker processes: same histories, same scores,
and a worker killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scale_helpers import TODAY, bundle_of_patient, with_split_records

from riskcalc.fhir import read_histories
from riskcalc.history import PatientHistory, ReadFailure
from riskcalc.scale import Tuning, histories_dask
from riskcalc.scale._cluster import LOCAL_HTTP

distributed = pytest.importorskip("distributed")


def _model_or_skip() -> Any:
    from riskcalc.errors import RiskCalcError

    try:
        from riskcalc.model import load_model

        return load_model()
    except (RiskCalcError, ImportError, OSError) as exc:  # the model is being built
        pytest.skip(f"no default model yet: {exc}")


def test_same_histories_as_reader(client: Any, edge_folder: Path, fixtures: Path) -> None:
    for src in (edge_folder, fixtures / "smart-bulk-10"):
        expected = list(read_histories(src, today=TODAY))
        got = list(
            histories_dask(src, scheduler=client, today=TODAY, tuning=Tuning(chunk_bytes=400_000))
        )
        assert got == expected


def test_a_patient_in_several_files_is_read_once_as_by_the_reader(
    client: Any, edge_folder: Path
) -> None:
    """The same patient in two Bundles read by different tasks (one file a batch), and in the
    NDJSON export: the driver's ledger gives the reader's records, one history per patient."""
    for name in ("a-p1.json", "b-p1.json"):
        (edge_folder / name).write_bytes(bundle_of_patient("p1"))
    expected = list(read_histories(edge_folder, today=TODAY))
    repeats = [r for r in expected if isinstance(r, ReadFailure) and r.patient_id == "p1"]
    assert [r.code for r in repeats] == ["input.patient_repeated"] * 2  # b-p1.json, the export
    got = _one_file_a_task(client, edge_folder)
    assert got == expected
    ids = [r.patient_id for r in got if isinstance(r, PatientHistory)]
    assert len(ids) == len(set(ids))


def test_scores_of_a_patient_in_several_files_identical_on_cluster(
    client: Any, edge_folder: Path, tmp_path: Path
) -> None:
    """Scoring runs on the workers: the output that replaces a repeated patient's report is the
    failure's own row, made on the driver, as the in-process scorer makes it."""
    (edge_folder / "p2.json").write_bytes(bundle_of_patient("p2"))
    a = _scored_alike(client, edge_folder, tmp_path)
    import pyarrow.parquet as pq

    scored = [r["patient_id"] for r in pq.read_table(a).to_pylist()]
    errors = pq.read_table(a.with_name("local.errors.parquet")).to_pylist()
    assert scored.count("p2") == 1
    assert [e["code"] for e in errors if e["patient_id"] == "p2"] == ["input.patient_repeated"]


def test_whole_records_same_histories_as_reader(
    client: Any, edge_folder: Path, fixtures: Path
) -> None:
    """The first pass indexed on the workers, one file a task, and the sets of files read as
    one unit each: the reader's records with whole_records, in its order."""
    src = with_split_records(edge_folder, fixtures)
    expected = list(read_histories(src, today=TODAY, whole_records=True))
    assert expected != list(read_histories(src, today=TODAY))  # there is something to join
    assert _one_file_a_task(client, src, whole_records=True) == expected


def test_whole_records_scores_identical_on_cluster(
    client: Any, edge_folder: Path, fixtures: Path, tmp_path: Path
) -> None:
    _scored_alike(client, with_split_records(edge_folder, fixtures), tmp_path, whole_records=True)


def test_scheduler_address(client: Any, fixtures: Path) -> None:
    src = fixtures / "mcode"
    address = client.scheduler.address
    got = list(histories_dask(src, scheduler=address, today=TODAY))
    assert got == list(read_histories(src, today=TODAY))


def test_scores_identical_on_cluster(client: Any, edge_folder: Path, tmp_path: Path) -> None:
    _scored_alike(client, edge_folder, tmp_path)


def _scored_alike(
    client: Any, source: Path, tmp_path: Path, *, whole_records: bool = False
) -> Path:
    """Score ``source`` in-process and on the cluster; the same counts and the same bytes.
    Returns the in-process output."""
    model = _model_or_skip()
    from riskcalc.report import score_cohort
    from riskcalc.scale import score_cohort_dask

    as_of = dt.date(2026, 6, 1)
    a, b = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    ra = score_cohort(source, a, as_of=as_of, model=model, whole_records=whole_records)
    rb = score_cohort_dask(
        source, b, as_of=as_of, model=model, scheduler=client, whole_records=whole_records
    )
    assert ra == rb and rb.balanced
    assert a.read_bytes() == b.read_bytes()
    return a


def _one_file_a_task(
    client: Any, source: Path, *, whole_records: bool = False
) -> list[PatientHistory | ReadFailure]:
    """The cluster's histories of ``source``, each JSON file its own task."""
    tuning = Tuning(chunk_bytes=400_000, json_batch_bytes=1)
    return list(
        histories_dask(
            source, scheduler=client, today=TODAY, tuning=tuning, whole_records=whole_records
        )
    )


def _kill_a_busy_worker(client: Any, prefix: str, stop: threading.Event) -> int | None:
    """Kill (SIGKILL) the worker process running a task whose key starts with ``prefix``."""
    while not stop.is_set():
        busy = [w for w, keys in client.processing().items() if any(prefix in k for k in keys)]
        if busy:
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            return int(pid)
        time.sleep(0.01)
    return None


def _run_with_a_kill(client: Any, job: Any, prefix: str) -> tuple[Any, int | None]:
    out: dict[str, Any] = {}
    stop = threading.Event()

    def target() -> None:
        try:
            out["result"] = job()
        finally:
            stop.set()

    thread = threading.Thread(target=target)
    thread.start()
    killed = _kill_a_busy_worker(client, prefix, stop)
    thread.join(timeout=600)
    assert "result" in out, "the run failed"
    return out["result"], killed


@pytest.mark.slow
def test_worker_killed_mid_run_loses_and_duplicates_nothing(client: Any, tmp_path: Path) -> None:
    from riskcalc.cohort import fhir_dir, write_cohort

    src = fhir_dir(write_cohort(tmp_path / "c", n_patients=1200, seed=11))
    expected = list(read_histories(src, today=TODAY))
    pids_before = set(client.run(os.getpid).values())
    got, killed = _run_with_a_kill(
        client,
        lambda: list(
            histories_dask(src, scheduler=client, today=TODAY, tuning=Tuning(chunk_bytes=1_000_000))
        ),
        "riskcalc-partition-",
    )
    assert killed in pids_before
    client.wait_for_workers(2, timeout=60)
    assert killed not in set(client.run(os.getpid).values())
    ids = [h.patient_id for h in got if isinstance(h, PatientHistory | ReadFailure)]
    assert len(ids) == len(set(ids)) == 1200
    assert got == expected


@pytest.mark.slow
def test_worker_killed_while_scoring(client: Any, tmp_path: Path) -> None:
    model = _model_or_skip()
    from riskcalc.cohort import fhir_dir, write_cohort
    from riskcalc.report import score_cohort
    from riskcalc.scale import score_cohort_dask

    src = fhir_dir(write_cohort(tmp_path / "c", n_patients=1200, seed=12))
    as_of = dt.date(2026, 6, 1)
    a, b = tmp_path / "local.csv", tmp_path / "dask.csv"
    ra = score_cohort(src, a, as_of=as_of, model=model)
    rb, killed = _run_with_a_kill(
        client,
        lambda: score_cohort_dask(src, b, as_of=as_of, model=model, scheduler=client),
        "riskcalc-partition-",
    )
    assert killed is not None
    assert ra == rb and rb.read == 1200 and rb.balanced
    assert a.read_bytes() == b.read_bytes()


def test_workers_that_cannot_import_riskcalc_are_refused_with_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from riskcalc.errors import ConfigError
    from riskcalc.scale import dask_client

    # a worker thread of an in-process cluster shares this interpreter's modules: with the entry
    # set to None, its `import riskcalc.report` fails for real
    with distributed.LocalCluster(
        n_workers=1,
        processes=False,
        dashboard_address=None,
        worker_dashboard_address=None,
        scheduler_kwargs=LOCAL_HTTP,
    ) as cluster:
        monkeypatch.setitem(sys.modules, "riskcalc.report", None)
        with (
            pytest.raises(ConfigError, match="cannot import riskcalc"),
            dask_client(cluster.scheduler_address),
        ):
            pass


def test_a_cluster_of_our_own_serves_its_health_page_on_a_free_loopback_port(
    client: Any, recwarn: pytest.WarningsRecorder
) -> None:
    """The module's cluster is running beside it, and Dask's default port for the health page
    (8787) may be taken by it or by anything else: riskcalc's own cluster neither collides nor
    warns."""
    from riskcalc.scale import dask_client

    with dask_client(n_workers=1) as own:
        server = own.cluster.scheduler.http_server
        assert server.address == "127.0.0.1"
        assert server.port not in (0, 8787)
        assert own.submit(sum, [1, 2]).result() == 3
    assert [str(w.message) for w in recwarn if "already in use" in str(w.message)] == []


def test_our_own_workers_stop_their_heartbeat_before_the_cluster_closes(client: Any) -> None:
    """A heartbeat in flight while the closing scheduler removes its worker is logged by the
    worker as an error with a traceback; riskcalc stops the heartbeats of the workers it owns
    first. The stop works on this version's workers (and is undone here for the module's
    cluster)."""
    from riskcalc.scale._cluster import _stop_heartbeat

    def heartbeat_running(dask_worker: Any) -> bool:
        return bool(dask_worker.periodic_callbacks["heartbeat"].is_running())

    def restart(dask_worker: Any) -> None:
        dask_worker.periodic_callbacks["heartbeat"].start()

    assert set(client.run(heartbeat_running).values()) == {True}
    try:
        client.run(_stop_heartbeat)
        assert set(client.run(heartbeat_running).values()) == {False}
    finally:
        client.run(restart)
