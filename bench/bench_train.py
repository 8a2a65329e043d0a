"""Training on 100,000 simulated patients from Bulk NDJSON, end to end (issue 5).

A simulated Bulk Data export of 100,000 patients (``riskcalc.cohort.write_cohort``, seed 4242,
``RISKCALC_BENCH_TRAIN_PATIENTS`` changes the size) is read into histories by each engine:
in-process (``read_histories``, what ``riskcalc train`` does) and Dask with 2 workers on a
``LocalCluster`` (``histories_dask``; cluster start included). The labelled cohort (index dates,
follow-up, features) and the models (4 horizons, calibration, the comparison without infection
features, the evaluation report) are then built once from the in-process histories: that work is
the same whichever engine read them (the two engines' histories are checked to be equal). End to
end for an engine = its read + labelling and features + training.

Floor: ``orjson.loads`` of every NDJSON line of the same cohort. Target: under 5 minutes
(300 s) on a 2-core machine.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import orjson

from bench._harness import Measurement

N_PATIENTS = int(os.environ.get("RISKCALC_BENCH_TRAIN_PATIENTS", "100000"))
SEED = 4242
TARGET_S = 300.0
N_WORKERS = 2


def _floor(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.rglob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                orjson.loads(line)
    return time.perf_counter() - start


def run() -> list[Measurement]:
    from riskcalc.cohort import fhir_dir, write_cohort
    from riskcalc.fhir import read_histories
    from riskcalc.model import prepare_cohort, train_model
    from riskcalc.scale import dask_client, histories_dask

    today = dt.date.today()
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_cohort(Path(tmp) / "cohort", n_patients=N_PATIENTS, seed=SEED)
        src = fhir_dir(folder)
        mb = sum(p.stat().st_size for p in Path(src).rglob("*.ndjson")) / 1e6
        floor = _floor(Path(src))
        load_local = os.getloadavg()[0]
        start = time.perf_counter()
        local = list(read_histories(src, today=today))
        read_local = time.perf_counter() - start
        load_dask = os.getloadavg()[0]
        start = time.perf_counter()
        with dask_client(None, n_workers=N_WORKERS) as client:
            distributed = list(histories_dask(src, scheduler=client, today=today))
        read_dask = time.perf_counter() - start
        same = distributed == local
        del distributed
        start = time.perf_counter()
        cohort = prepare_cohort(local, seed=0)
        prepare_s = time.perf_counter() - start
        del local
        start = time.perf_counter()
        train_model(cohort, seed=0, trained_on="benchmark cohort", simulated=True, n_boot=50)
        train_s = time.perf_counter() - start
    rest = prepare_s + train_s
    common = (
        f"{N_PATIENTS} patients, {mb:.0f} MB NDJSON; labelling+features {prepare_s:.0f} s, "
        f"training 4 horizons + comparison + report {train_s:.0f} s"
    )
    out = []
    for engine, read_s, load in (
        ("in-process", read_local, load_local),
        (f"dask {N_WORKERS} workers", read_dask, load_dask),
    ):
        total = read_s + rest
        out.append(
            Measurement(
                name=f"train {N_PATIENTS // 1000}k from NDJSON, {engine}",
                value=total,
                unit="s",
                floor_name="orjson.loads all lines",
                floor_value=floor,
                ratio=total / floor,
                target=f"< {TARGET_S:g} s",
                met=total < TARGET_S,
                notes=f"read {read_s:.0f} s ({N_PATIENTS / read_s:.0f} patients/s, "
                f"{mb / read_s:.1f} MB/s); {common}; load average {load:.1f}",
            )
        )
    out.append(
        Measurement(
            "engines' histories identical",
            float(same),
            "bool",
            target="== 1",
            met=same,
            notes="histories_dask == read_histories, same order",
        )
    )
    return out
