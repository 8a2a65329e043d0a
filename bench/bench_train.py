"""Training on 100,000 simulated patients from Bulk NDJSON, feature extraction included.

Floor: ``orjson.loads`` of every NDJSON line of the same cohort. Target: under 5 minutes
(300 s) for reading, extraction, labelling, features and training all horizons.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import orjson

from bench._harness import Measurement

N_PATIENTS = 100_000
SEED = 4242


def _floor(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                orjson.loads(line)
    return time.perf_counter() - start


def run() -> list[Measurement]:
    from riskcalc.cohort import write_cohort
    from riskcalc.model import read_cohort, train_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_cohort(Path(tmp) / "cohort", n_patients=N_PATIENTS, seed=SEED)
        floor = _floor(folder)
        start = time.perf_counter()
        cohort = read_cohort(folder, seed=0)
        read_s = time.perf_counter() - start
        train_model(cohort, seed=0, trained_on="benchmark cohort", simulated=True, n_boot=50)
        total = time.perf_counter() - start
    return [
        Measurement(
            name="train_100k_from_ndjson",
            value=total,
            unit="s",
            floor_name="orjson.loads",
            floor_value=floor,
            ratio=total / floor,
            target="< 300 s",
            met=total < 300,
            notes=f"read+features {read_s:.0f} s; training 4 horizons + comparison + report",
        )
    ]
