"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench awakening assess``."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

from bench._harness import table, write


def main(names: list[str]) -> int:
    here = Path(__file__).resolve().parent
    available = sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    chosen = names or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    failed = []
    for name in chosen:
        load = [round(x, 2) for x in os.getloadavg()]
        print(f"\n== {name} (load average {load[0]:.1f})", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"bench.bench_{name}")
        measurements = module.run()
        print(table(measurements))
        path = write(name, measurements, load_at_start=load)
        print(f"written to {path} in {time.perf_counter() - start:.0f} s", flush=True)
        failed += [m.name for m in measurements if m.met is False]
    if failed:
        print(f"\ntargets not met: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
