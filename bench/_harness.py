"""The small harness every benchmark uses: measurements, timing, peak memory, machine facts."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Measurement:
    """One figure: ``value`` in ``unit``, and its ratio to a floor measured in the same run.

    ``target`` is the bound the ratio (or the value, when there is no floor) must meet, written as
    text such as ``"<= 3"``; ``met`` says whether it did.
    """

    name: str
    value: float
    unit: str
    floor_name: str | None = None
    floor_value: float | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    notes: str = ""


def best_of(func: Callable[[], Any], *, repeat: int = 3) -> float:
    """Fastest wall time of ``repeat`` calls, seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_each(*funcs: Callable[[], Any], repeat: int = 3) -> list[float]:
    """Fastest wall time of each function over ``repeat`` rounds, calls interleaved, seconds.

    A figure and its floor taken in turn meet the same state of the process (its heap, the
    caches): timed one after the other, the floor of a 0.6 MB bundle and its assessment moved
    apart by a factor of 2 between runs.
    """
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for func, spent in zip(funcs, times, strict=True):
            start = time.perf_counter()
            func()
            spent.append(time.perf_counter() - start)
    return [min(t) for t in times]


#: Python source of ``peak_rss_kb()``: the process's own resident high-water mark, kB.
#:
#: ``VmHWM`` of ``/proc/self/status`` belongs to the process's own memory map. ``ru_maxrss`` does
#: not: Linux carries the largest of the maps a process had across ``exec``, and a child that
#: ``subprocess`` starts shares its parent's map until then, so a child of ``python -m bench``
#: reported the parent's 976 MB as its peak (the Dask driver, 353 MB when run alone).
PEAK_RSS_SOURCE = """
def peak_rss_kb():
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""


def peak_rss_of_child(code: str, *args: str) -> tuple[float, str]:
    """Run ``code`` in a fresh Python and return (peak RSS in MB, its stdout).

    A fresh process is the only honest way to measure the peak memory of one job; its peak is
    its own high-water mark (see :data:`PEAK_RSS_SOURCE`).
    """
    wrapper = (
        "import sys\n"
        f"{PEAK_RSS_SOURCE}\n"
        f"{code}\n"
        "print('PEAK_RSS_KB', peak_rss_kb(), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=True
    )
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("PEAK_RSS_KB")][-1]
    return int(line.split()[1]) / 1024, proc.stdout


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "self_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # the machine is shared: the load average says how much the figures may be inflated
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write(
    name: str, measurements: list[Measurement], *, load_at_start: list[float] | None = None
) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    facts = machine()
    if load_at_start is not None:
        facts["load_average_at_start"] = load_at_start
    payload = {
        "benchmark": name,
        "machine": facts,
        "measurements": [asdict(m) for m in measurements],
    }
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.replace(path)
    return path


def table(measurements: list[Measurement]) -> str:
    rows = [("figure", "value", "floor", "ratio", "target", "met")]
    for m in measurements:
        rows.append(
            (
                m.name,
                f"{m.value:.4g} {m.unit}",
                f"{m.floor_name} {m.floor_value:.4g}" if m.floor_value is not None else "-",
                f"{m.ratio:.2f}" if m.ratio is not None else "-",
                m.target or "-",
                {True: "yes", False: "NO", None: "-"}[m.met],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
