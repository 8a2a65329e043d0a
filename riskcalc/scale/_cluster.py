"""Where the work runs: an existing Dask scheduler, a given client, or a LocalCluster we own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from riskcalc.errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client

#: Where a LocalCluster's scheduler serves its health and metrics pages: any free port of the
#: loopback (Dask's default, 8787 on every interface, is taken by the first cluster on a machine).
LOCAL_HTTP: dict[str, str] = {"dashboard_address": "127.0.0.1:0"}

#: What callers may pass as ``scheduler``: an address (``tcp://host:8786``), a connected
#: ``distributed.Client``, or None for a LocalCluster with one single-threaded worker per core.
Scheduler = Any


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


@contextmanager
def dask_client(scheduler: Scheduler = None, *, n_workers: int | None = None) -> Iterator[Client]:
    """A client for ``scheduler``; a LocalCluster (closed on exit) when it is None.

    The LocalCluster has ``n_workers`` (default: one per core) worker processes of one thread
    each (the per-patient functions are pure Python: threads would share one GIL), no
    dashboard, and its spill files in a temporary folder removed on exit (Dask's default,
    ``/tmp/dask-scratch-space``, is shared by every run on the machine).

    Without a dashboard the scheduler still serves ``/health`` and ``/metrics``, on port 8787
    unless told otherwise: :data:`LOCAL_HTTP` puts them on a free port of the loopback, so that
    two clusters (two runs, or a run beside a user's own cluster) neither collide nor warn.
    """
    distributed = _import_distributed()
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="30s")
        except OSError as exc:
            raise ConfigError(
                "config.invalid", f"cannot reach the Dask scheduler at {scheduler!r}: {exc}"
            ) from exc
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
            )
            client = distributed.Client(cluster)
            try:
                # client.run reaches the workers registered when it is called: wait for all of
                # them, so that every one is warmed
                client.wait_for_workers(workers, timeout=60)
                _warm(client)
                yield client
                client.run(_stop_heartbeat, on_error="ignore")
            finally:
                client.close()
                cluster.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
