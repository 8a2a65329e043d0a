"""Cohort simulator: 100,000 patients to Bulk Data NDJSON, seconds and patients per second.

Floor: writing the same number of bytes as NDJSON lines with ``orjson.dumps`` of small dicts (the
cost of serialising and writing alone). Ratio = simulator time / floor time; target "<= 10"
(DESIGN.md §10 asks for 100,000 patients "in a few minutes"; the value target is <= 300 s).
Set RISKCALC_BENCH_COHORT_N to run a smaller size.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from bench._harness import Measurement


def _floor(path: Path, n_bytes: int) -> float:
    record = {
        "resourceType": "Observation",
        "id": "x" * 20,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "94500-6"}]},
        "subject": {"reference": "Patient/sim1-0000001"},
        "effectiveDateTime": "2020-04-01",
    }
    start = time.perf_counter()
    written = 0
    with path.open("wb") as f:
        i = 0
        while written < n_bytes:
            record["id"] = f"r{i:019d}"
            line = orjson.dumps(record) + b"\n"
            f.write(line)
            written += len(line)
            i += 1
    return time.perf_counter() - start


def run() -> list[Measurement]:
    from riskcalc.cohort import write_cohort

    n = int(os.environ.get("RISKCALC_BENCH_COHORT_N", "100000"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_cohort_"))
    try:
        start = time.perf_counter()
        out = write_cohort(tmp / "cohort", n_patients=n, seed=1)
        seconds = time.perf_counter() - start
        n_bytes = sum(p.stat().st_size for p in (out / "fhir").iterdir())
        floor = _floor(tmp / "floor.ndjson", n_bytes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = seconds / floor
    return [
        Measurement(
            name=f"simulate {n} patients to NDJSON",
            value=seconds,
            unit="s",
            floor_name="orjson.dumps same bytes",
            floor_value=floor,
            ratio=ratio,
            target="<= 10",
            met=ratio <= 10,
            notes=f"{n / seconds:.0f} patients/s; {n_bytes / 1e6:.0f} MB of FHIR",
        ),
        Measurement(
            name="patients per second",
            value=n / seconds,
            unit="patients/s",
            target=">= 333 (100,000 in <= 300 s)",
            met=n / seconds >= 333,
        ),
    ]
