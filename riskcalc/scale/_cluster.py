"""Where the work runs: an existing Dask scheduler, a given client, or a LocalCluster we own."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from riskcalc.errors import ConfigError, RemoteError

if TYPE_CHECKING:
    from distributed import Client

#: Where a LocalCluster's scheduler serves its health and metrics pages: any free port of the
#: loopback (Dask's default, 8787 on every interface, is taken by the first cluster on a machine).
LOCAL_HTTP: dict[str, str] = {"dashboard_address": "127.0.0.1:0"}

#: What callers may pass as ``scheduler``: an address (``tcp://host:8786``), a connected
#: ``distributed.Client``, or None for a LocalCluster with one single-threaded worker per core.
Scheduler = Any

#: How long a scheduler given by its address has to accept the connection, seconds. A running
#: scheduler answers in milliseconds, through a port-forward in well under a second; Dask's
#: own default (30 s) kept a mistyped address waiting half a minute.
CONNECT_TIMEOUT_S = 10

#: The level of distributed's log lines printed while a cluster riskcalc starts itself runs,
#: in this process (the scheduler, the nannies) and in its workers: its warnings (a task
#: cancelled when the cluster closes, a worker restarted) are about the machinery, which the
#: user did not set up and riskcalc's own errors already explain. A user's own cluster keeps
#: the user's settings.
LOCAL_LOG_LEVEL = logging.ERROR


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - the scale extra is installed in CI
        raise ConfigError(
            "config.invalid",
            "the Dask engine needs dask.distributed: pip install 'riskcalc[scale]'",
        ) from exc
    return distributed


def _warm_worker() -> None:
    """Import what every task needs, on every worker at once, before any task is submitted.

    Otherwise a worker imports riskcalc, fhir.resources and scikit-learn while unpickling its
    first task: the worker that got the model (the scoring step's argument) spent 1.8 s on it,
    the other read 8 of the 9 ranges meanwhile, and stage 2 then waited on transfers from a
    worker busy computing (13 s for 20,000 patients against 10 s with the imports done first).
    """
    import riskcalc.fhir._partition
    import riskcalc.model._risk_model
    import riskcalc.report
    import riskcalc.scale  # noqa: F401


def _warm(client: Client) -> None:
    """:func:`_warm_worker` on every worker; a worker that cannot import riskcalc is refused."""
    try:
        client.run(_warm_worker)
    except ImportError as exc:
        raise ConfigError(
            "config.invalid",
            f"a Dask worker cannot import riskcalc ({exc}); install riskcalc (with the same "
            "version) in the workers' environment",
        ) from exc


def _stop_heartbeat(dask_worker: Any) -> None:
    """Stop a worker's heartbeat to the scheduler: run on our own workers before their cluster
    closes. A heartbeat in flight while the scheduler removes the worker fails with a closed
    stream, and the worker logs it as an error with its traceback (seen once, in the
    100,000-patient training benchmark, seconds before its cluster closed: nothing was lost)."""
    callback = dask_worker.periodic_callbacks.get("heartbeat")
    if callback is not None:
        callback.stop()


def check_scheduler(scheduler: Scheduler) -> Scheduler:
    """``scheduler`` if it is a scheduler as :func:`dask_client` takes it; checked before any
    work, so that a mistyped address is an argument error, not a failure of the run.

    Raises
    ------
    ConfigError
        ``config.invalid``: text that is not a Dask scheduler address (``tcp://host:port``);
        the Dask extra is not installed.
    """
    if not isinstance(scheduler, str):
        return scheduler  # None (a LocalCluster) or a Client the caller owns
    _import_distributed()
    from distributed.comm.addressing import get_address_host_port, parse_address

    try:
        scheme, _ = parse_address(scheduler)
        if scheme != "inproc":  # a scheduler of this process (LocalCluster(processes=False))
            host, port = get_address_host_port(scheduler)
            if not host or not 0 < port < 65536:
                raise ValueError("no host" if not host else f"port {port} out of range")
    except ValueError as exc:
        raise ConfigError(
            "config.invalid",
            f"the Dask scheduler address must be of the form tcp://host:port (for example "
            f"tcp://10.0.0.5:8786), got {scheduler!r} ({exc})",
        ) from exc
    return scheduler


def _connect(distributed: Any, address: str) -> Any:
    """A client of the scheduler at ``address`` (``distributed.Client``)."""
    try:
        client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
    except OSError as exc:  # refused, timed out, unknown host
        raise RemoteError(
            "remote.scheduler_unreachable",
            f"cannot reach the Dask scheduler at {address} (waited up to "
            f"{CONNECT_TIMEOUT_S} s): {exc}",
        ) from exc
    return client


@contextmanager
def dask_client(scheduler: Scheduler = None, *, n_workers: int | None = None) -> Iterator[Client]:
    """A client for ``scheduler``; a LocalCluster (closed on exit) when it is None.

    The LocalCluster has ``n_workers`` (default: one per core) worker processes of one thread
    each (the per-patient functions are pure Python: threads would share one GIL), no
    dashboard, its spill files in a temporary folder removed on exit (Dask's default,
    ``/tmp/dask-scratch-space``, is shared by every run on the machine), and distributed's
    log lines below :data:`LOCAL_LOG_LEVEL` not printed while it runs.

    Without a dashboard the scheduler still serves ``/health`` and ``/metrics``, on port 8787
    unless told otherwise: :data:`LOCAL_HTTP` puts them on a free port of the loopback, so that
    two clusters (two runs, or a run beside a user's own cluster) neither collide nor warn.

    Raises
    ------
    ConfigError
        ``config.invalid``: ``scheduler`` is not an address (:func:`check_scheduler`); a
        worker cannot import riskcalc.
    RemoteError
        ``remote.scheduler_unreachable``: nothing answers at the address within
        :data:`CONNECT_TIMEOUT_S`.
    """
    distributed = _import_distributed()
    scheduler = check_scheduler(scheduler)
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    if scheduler is not None:
        client = _connect(distributed, scheduler)
        try:
            _warm(client)
            yield client
        finally:
            client.close()
        return
    import dask

    scratch = tempfile.mkdtemp(prefix="riskcalc-dask-")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            workers = n_workers or os.cpu_count() or 1
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                scheduler_kwargs=LOCAL_HTTP,
                silence_logs=LOCAL_LOG_LEVEL,
            )
            client = distributed.Client(cluster)
            try:
                # client.run reaches the workers registered when it is called: wait for all of
                # them, so that every one is warmed
                client.wait_for_workers(workers, timeout=60)
                _warm(client)
                yield client
            finally:
                # also when the run failed: the cluster then closes with tasks running
                _stop_heartbeats(client)
                client.close()
                cluster.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _stop_heartbeats(client: Client) -> None:
    """:func:`_stop_heartbeat` on every worker of a cluster about to close; a cluster that is
    already failing (a worker lost, the scheduler gone) is closed all the same."""
    try:
        client.run(_stop_heartbeat, on_error="ignore")
    except (OSError, TimeoutError):  # the cluster is beyond reach: closing it is all there is
        return
