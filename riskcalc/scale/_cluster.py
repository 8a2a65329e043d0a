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


@contextmanager
def dask_client(scheduler: Scheduler = None, *, n_workers: int | None = None) -> Iterator[Client]:
    """A client for ``scheduler``; a LocalCluster (closed on exit) when it is None.

    The LocalCluster has ``n_workers`` (default: one per core) worker processes of one thread
    each (the per-patient functions are pure Python: threads would share one GIL), no
    dashboard, and its spill files in a temporary folder removed on exit (Dask's default,
    ``/tmp/dask-scratch-space``, is shared by every run on the machine).
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
            yield client
        finally:
            client.close()
        return
    import dask

    scratch = tempfile.mkdtemp(prefix="riskcalc-dask-")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            cluster = distributed.LocalCluster(
                n_workers=n_workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = distributed.Client(cluster)
            try:
                yield client
            finally:
                client.close()
                cluster.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
