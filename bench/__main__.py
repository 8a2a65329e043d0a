"""Run the benchmarks: ``python -m bench`` (all) or ``python -m bench awakening assess``."""

from __future__ import annotations

import importlib
import sys
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
        print(f"\n== {name}", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        measurements = module.run()
        print(table(measurements))
        print(f"written to {write(name, measurements)}")
        failed += [m.name for m in measurements if m.met is False]
    if failed:
        print(f"\ntargets not met: {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
