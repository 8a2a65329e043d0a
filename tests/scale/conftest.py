"""Fixtures of the Dask engine's tests (helpers in scale_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scale_helpers import SyncClient, make_edge_folder


@pytest.fixture
def sync_client() -> SyncClient:
    return SyncClient()


@pytest.fixture
def edge_folder(tmp_path: Path, fixtures: Path) -> Path:
    return make_edge_folder(tmp_path, fixtures)


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A client of a real LocalCluster of 2 single-threaded worker processes, shared by the
    test modules. Its workers stay in the working directory they were started in: a test that
    changes its own (monkeypatch.chdir) has them elsewhere, as a `dask worker` started in
    another directory is."""
    distributed = pytest.importorskip("distributed")
    import dask

    from riskcalc.scale._cluster import LOCAL_HTTP

    scratch = tmp_path_factory.mktemp("dask-scratch")
    with (
        dask.config.set({"temporary-directory": str(scratch)}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs=LOCAL_HTTP,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
