"""Cohort throughput: the in-process engine against Dask with 2 workers (issue 9, DESIGN.md §8).

A simulated Bulk Data export of 20,000 patients (``riskcalc.cohort.write_cohort``, seed 2026,
written to a temporary folder; ``RISKCALC_BENCH_SCALE_PATIENTS`` changes the size) is read
and scored (``riskcalc score`` semantics) by each engine in a fresh process. When no model is
installed yet the work is reading only (``read_histories`` / ``histories_dask``), and the notes
say so. Figures: patients/s and NDJSON MB/s of each engine; the in-process run is the floor of
the Dask run (scaling efficiency = speed-up / workers); peak RSS of the in-process run, of each
Dask worker and of the Dask driver. Both outputs are checked to be identical. The scaling
efficiency compares the engines once they are ready (riskcalc imported, the model loaded, the
cluster up); the cluster's start is its own figure, and the end-to-end speed-up is in the notes.

The engines run in turn, ``ROUNDS`` times each (in-process, Dask, in-process, …), and each
engine's figures are those of its fastest round, as ``assess`` takes the best of its rounds: one
round each gave efficiencies from 0.63 to 0.78 at the same commit within an hour, the VM's
speed changing between the two runs; every round's times are in the notes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench._harness import Measurement, peak_rss_of_child

N_PATIENTS = int(os.environ.get("RISKCALC_BENCH_SCALE_PATIENTS", "20000"))
N_WORKERS = 2
#: Runs of each engine, in turn; the fastest of each is reported.
ROUNDS = int(os.environ.get("RISKCALC_BENCH_SCALE_ROUNDS", "3"))
SEED = 2026
#: Scaling efficiency aimed at with 2 workers on 2 cores (the driver shares the cores).
TARGET_EFFICIENCY = 0.7
#: Peak RSS aimed at per worker with the default Tuning, MB.
TARGET_WORKER_MB = 1024

_COMMON = """
import datetime as dt, json, sys, time
from pathlib import Path
src, out, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
as_of = dt.date(2026, 1, 1)
def model():
    from riskcalc.model import load_model
    return load_model()
"""

_LOCAL = (
    _COMMON
    + """
start = time.perf_counter()
if mode == "score":
    from riskcalc.report import score_cohort
    m = model()
    ready = time.perf_counter()
    rec = score_cohort(src, out, as_of=as_of, model=m)
    n = rec.read
else:
    from riskcalc.fhir import read_histories
    import pickle
    ready = time.perf_counter()
    items = list(read_histories(src, today=as_of))
    n = len(items)
    out.write_bytes(pickle.dumps(items))
end = time.perf_counter()
print(json.dumps({"seconds": end - start, "work_seconds": end - ready, "patients": n}))
"""
)

_DASK = (
    _COMMON
    + """
if __name__ == "__main__":
    import distributed
    from riskcalc.scale import dask_client
    start = time.perf_counter()
    with dask_client(None, n_workers=int(sys.argv[4])) as client:
        if mode == "score":
            from riskcalc.scale import score_cohort_dask
            m = model()
            ready = time.perf_counter()
            rec = score_cohort_dask(src, out, as_of=as_of, model=m, scheduler=client)
            n = rec.read
        else:
            from riskcalc.scale import histories_dask
            import pickle
            ready = time.perf_counter()
            items = list(histories_dask(src, scheduler=client, today=as_of))
            n = len(items)
            out.write_bytes(pickle.dumps(items))
        end = time.perf_counter()
        peaks = client.run(lambda: peak_rss_kb() / 1024)
    print(json.dumps({"seconds": end - start, "work_seconds": end - ready, "patients": n,
                      "worker_peak_mb": list(peaks.values())}))
"""
)


def _has_model() -> bool:
    from riskcalc.errors import RiskCalcError

    try:
        from riskcalc.model import load_model

        load_model()
    except (RiskCalcError, ImportError, OSError):
        return False
    return True


def _same_output(a: Path, b: Path, mode: str) -> bool:
    if mode == "score":
        errors = [p.with_name(f"{p.stem}.errors{p.suffix}") for p in (a, b)]
        return a.read_bytes() == b.read_bytes() and errors[0].read_bytes() == errors[1].read_bytes()
    import pickle

    return bool(pickle.loads(a.read_bytes()) == pickle.loads(b.read_bytes()))


def run() -> list[Measurement]:
    from riskcalc.cohort import fhir_dir, write_cohort

    mode = "score" if _has_model() else "read"
    with tempfile.TemporaryDirectory(prefix="riskcalc-bench-scale-") as tmp:
        src = fhir_dir(write_cohort(Path(tmp) / "cohort", n_patients=N_PATIENTS, seed=SEED))
        mb = sum(p.stat().st_size for p in Path(src).rglob("*.ndjson")) / 1e6
        suffix = ".csv" if mode == "score" else ".pickle"
        local_out, dask_out = Path(tmp) / f"local{suffix}", Path(tmp) / f"dask{suffix}"
        locals_, dasks = [], []
        identical = True
        for _ in range(ROUNDS):
            local_mb, stdout = peak_rss_of_child(_LOCAL, str(src), str(local_out), mode)
            locals_.append({**json.loads(stdout.strip().splitlines()[-1]), "peak_mb": local_mb})
            driver_mb, stdout = peak_rss_of_child(
                _DASK, str(src), str(dask_out), mode, str(N_WORKERS)
            )
            dasks.append({**json.loads(stdout.strip().splitlines()[-1]), "peak_mb": driver_mb})
            identical = identical and (
                locals_[-1]["patients"] == dasks[-1]["patients"] == N_PATIENTS
                and _same_output(local_out, dask_out, mode)
            )
        local = min(locals_, key=lambda r: r["work_seconds"])
        dask = min(dasks, key=lambda r: r["work_seconds"])
        local_mb, driver_mb = local["peak_mb"], dask["peak_mb"]
        rounds = (
            f"work seconds of each round: in-process "
            f"{[round(r['work_seconds'], 1) for r in locals_]}, dask "
            f"{[round(r['work_seconds'], 1) for r in dasks]}"
        )
    what = "read+score" if mode == "score" else "read only (no model installed yet)"
    load = os.getloadavg()[0]
    note = f"{N_PATIENTS} simulated patients, {mb:.0f} MB NDJSON; {what}; load average {load:.1f}"
    speedup = local["seconds"] / dask["seconds"]
    work_speedup = local["work_seconds"] / dask["work_seconds"]
    efficiency = work_speedup / N_WORKERS
    start_s = dask["seconds"] - dask["work_seconds"]
    worker_mb = max(dask["worker_peak_mb"])
    return [
        Measurement(
            "in-process patients/s", N_PATIENTS / local["seconds"], "patients/s", notes=note
        ),
        Measurement("in-process MB/s", mb / local["seconds"], "MB/s", notes=note),
        Measurement(
            f"dask {N_WORKERS} workers patients/s",
            N_PATIENTS / dask["seconds"],
            "patients/s",
            floor_name="in-process",
            floor_value=N_PATIENTS / local["seconds"],
            ratio=speedup,
            notes=note + "; cluster start included",
        ),
        Measurement("dask MB/s", mb / dask["seconds"], "MB/s", notes=note),
        Measurement(
            "dask cluster start",
            start_s,
            "s",
            notes="LocalCluster of 2 worker processes, imports on the workers, the model loaded",
        ),
        Measurement(
            "scaling efficiency, cluster running",
            efficiency,
            "speed-up / workers",
            target=f">= {TARGET_EFFICIENCY}",
            met=efficiency >= TARGET_EFFICIENCY,
            notes=(
                f"read+score time of each engine once it is ready (imports and model loaded, "
                f"the cluster up): in-process {local['work_seconds']:.1f} s, dask "
                f"{dask['work_seconds']:.1f} s; with start-up included the speed-up is "
                f"{speedup:.2f}; 2 workers on {os.cpu_count()} cores, the driver sharing them; "
                f"fastest of {ROUNDS} rounds each, in turn ({rounds}); load {load:.1f}"
            ),
        ),
        Measurement(
            "dask peak RSS per worker",
            worker_mb,
            "MB",
            target=f"<= {TARGET_WORKER_MB}",
            met=worker_mb <= TARGET_WORKER_MB,
            notes=f"all workers: {[round(x) for x in dask['worker_peak_mb']]}",
        ),
        Measurement("dask driver peak RSS", driver_mb, "MB", notes="holds output rows, not FHIR"),
        Measurement("in-process peak RSS", local_mb, "MB", notes=note),
        Measurement(
            "outputs identical",
            float(identical),
            "bool",
            target="== 1",
            met=identical,
            notes="same rows, same bytes" if mode == "score" else "same histories, same order",
        ),
    ]
