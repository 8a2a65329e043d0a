"""Fixtures of the Dask engine's tests (helpers in scale_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scale_helpers import SyncClient, make_edge_folder


@pytest.fixture
def sync_client() -> SyncClient:
    return SyncClient()


@pytest.fixture
def edge_folder(tmp_path: Path, fixtures: Path) -> Path:
    return make_edge_folder(tmp_path, fixtures)
