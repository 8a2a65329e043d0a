"""Single-patient ``assess`` against the floor of parsing the same bytes (DESIGN.md §10).

Bundles: all three are built from a real Synthea bundle of the shared fixtures whose patient
is scored (``ad0b4b7a…``: colon cancer 2013, abated 2015, then COVID-19 with pneumonia in 2020;
assessed as of 2024-01-01 the report has status "ok", so the model, the drivers and the
counterfactuals all run). Sizes: small (~300 KB: every clinical entry of the record kept, 149
resources, and other entries added while they fit: the densest case for the reader, since nearly
every resource is read rather than passed over), median (~3 MB) and large (~60 MB: its
non-Patient entries repeated under new ids, one patient with a very long record), written
pretty-printed like Synthea's own files. Besides, every real Synthea patient Bundle of the
fixtures (59, 0.3 to 9 MB, as written) is assessed and the worst and median ratios reported;
most of those patients have no cancer, so their assessment stops after reading. For each: the time of
``riskcalc.assess`` on the bytes and of ``orjson.loads`` of the same bytes (the floor, called as a
user would, garbage collector on; the two called in turn, best of several rounds), the time of the obvious alternative (validate the whole Bundle
with fhir.resources, then walk it), and the peak memory of ``assess`` in a fresh process (the
growth of the resident set's high-water mark during the call, after imports, the model and the
file's bytes are in memory) against the file size. Last, the small bundle assessed in a new Python
process (imports, the default model, one call: what a command or a short-lived job pays) against a
new process that parses it with orjson.
"""

from __future__ import annotations

import bz2
import datetime as dt
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench._harness import Measurement, best_of, best_of_each, peak_rss_of_child

ROOT = Path(__file__).resolve().parent.parent
SYNTHEA = ROOT.parent / "shared" / "fixtures" / "synthea-blaze"
SCORABLE = "ad0b4b7a"
AS_OF = dt.date(2024, 1, 1)
TARGET_TIME_RATIO = 3.0
TARGET_MEMORY_RATIO = 5.0
SIZES = {"small": 300_000, "median": 3_000_000, "large": 60_000_000}
#: Best of how many calls, floor and assessment alike: enough that the fastest of each is found
#: (with 5, the small bundle's floor varied from 0.56 to 0.67 ms between runs, its ratio by 20 %).
REPEAT = {"small": 30, "median": 10, "large": 3}
REAL_REPEAT = 10
#: Kept whole when a bundle is trimmed: what the history is made of.
_CLINICAL = frozenset(
    {
        "Patient",
        "Condition",
        "Encounter",
        "Procedure",
        "Immunization",
        "MedicationRequest",
        "MedicationAdministration",
        "MedicationStatement",
        "Medication",
    }
)


def _dump(bundle: dict[str, Any]) -> bytes:
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2)


def _sized(bundle_bytes: bytes, size: int) -> bytes:
    """The bundle trimmed or grown to about ``size`` bytes (pretty-printed)."""
    bundle = orjson.loads(bundle_bytes)
    entries = bundle["entry"]
    if len(_dump(bundle)) > size:
        kept = [e for e in entries if e["resource"]["resourceType"] in _CLINICAL]
        budget = size - len(_dump({**bundle, "entry": kept}))
        for e in entries:
            if e["resource"]["resourceType"] in _CLINICAL:
                continue
            n = len(_dump(e))
            if n <= budget:
                kept.append(e)
                budget -= n
        order = {id(e): i for i, e in enumerate(entries)}
        return _dump({**bundle, "entry": sorted(kept, key=lambda e: order[id(e)])})
    others = [e for e in entries if e["resource"]["resourceType"] != "Patient"]
    out = list(entries)
    total = len(_dump(bundle))
    copy = 0
    while total < size:
        copy += 1
        for entry in others:
            resource = dict(entry["resource"])
            resource["id"] = f"{resource.get('id', 'x')}-copy{copy}"
            new = {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
            out.append(new)
            total += len(_dump({"entry": [new]})) - len(_dump({"entry": []}))
            if total >= size:
                break
    return _dump({**bundle, "entry": out})


def _bundles() -> dict[str, bytes]:
    source = bz2.decompress(next(SYNTHEA.glob(f"{SCORABLE}*.json.bz2")).read_bytes())
    return {name: _sized(source, size) for name, size in SIZES.items()}


def _validate_whole(data: bytes) -> int:
    """The alternative a user would write: validate everything, then walk it."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(data)
    return sum(1 for e in bundle.entry or [] if e.resource is not None)


# The high-water mark of the resident set is reset (Linux /proc/self/clear_refs) once imports,
# the model and the bytes are in memory and a tiny assessment has warmed every lazy import; the
# figure is its growth during the one call measured.
_PEAK = """
import sys
def _status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
def start():
    open('/proc/self/clear_refs', 'w').write('5')
    return _status('VmRSS')
def report(base):
    print('GROWTH_MB', _status('VmHWM') - base, 'BASE_MB', base)
"""
_ASSESS_CHILD = (
    _PEAK
    + """
import datetime as dt
import riskcalc
from riskcalc.model import load_model
model = load_model()
data = open(sys.argv[1], 'rb').read()
riskcalc.assess(open(sys.argv[2], 'rb').read(), as_of=dt.date(2024, 1, 1), model=model)
base = start()
riskcalc.assess(data, as_of=dt.date(2024, 1, 1), model=model)
report(base)
"""
)
_VALIDATE_CHILD = (
    _PEAK
    + """
from fhir.resources.R4B.bundle import Bundle
data = open(sys.argv[1], 'rb').read()
Bundle.model_validate_json(open(sys.argv[2], 'rb').read())
base = start()
Bundle.model_validate_json(data)
report(base)
"""
)


#: A new process that assesses one bundle: what a command-line call or a short-lived job pays.
#: The phases are timed inside the child; the whole from outside it (interpreter start included).
_COLD_CHILD = """
import sys, time
start = time.perf_counter()
import datetime as dt
import riskcalc
from riskcalc.model import load_model
imported = time.perf_counter()
model = load_model()
loaded = time.perf_counter()
riskcalc.assess(open(sys.argv[1], 'rb').read(), as_of=dt.date(2024, 1, 1), model=model)
done = time.perf_counter()
print('PHASES_S', imported - start, loaded - imported, done - loaded)
"""
_COLD_FLOOR = "import sys, orjson; orjson.loads(open(sys.argv[1], 'rb').read())"
COLD_REPEAT = 3


def _cold_start(path: Path) -> Measurement:
    """The small bundle assessed in a new Python process, against parsing it in one."""

    def child(code: str) -> tuple[float, str]:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        return time.perf_counter() - start, proc.stdout

    floor_s = min(child(_COLD_FLOOR)[0] for _ in range(COLD_REPEAT))
    runs = sorted(child(_COLD_CHILD) for _ in range(COLD_REPEAT))
    wall_s, stdout = runs[0]
    phases = [float(w) for w in stdout.split("PHASES_S", 1)[1].split()]
    return Measurement(
        "assess small in a new process",
        wall_s,
        "s",
        "python: import orjson, loads",
        floor_s,
        wall_s / floor_s,
        notes=(
            f"a command-line call or a short-lived job: the interpreter's start, imports "
            f"{phases[0]:.2f} s, load_model (the default model's compiled arrays) "
            f"{phases[1]:.2f} s, "
            f"the first assessment {phases[2]:.2f} s; best of {COLD_REPEAT} processes each"
        ),
    )


def _growth(code: str, path: Path, warm: Path) -> tuple[float, float]:
    """(growth of peak RSS during the call, RSS before it), MB, in a fresh process."""
    _, stdout = peak_rss_of_child(code, str(path), str(warm))
    words = [ln for ln in stdout.splitlines() if ln.startswith("GROWTH_MB")][-1].split()
    return float(words[1]), float(words[3])


def _loads_without_gc(data: bytes) -> float:
    gc.disable()
    try:
        start = time.perf_counter()
        orjson.loads(data)
        return time.perf_counter() - start
    finally:
        gc.enable()


def _real_bundles(model: Any) -> list[Measurement]:
    """Every real Synthea patient Bundle of the fixtures, as it is: the ratio of each.

    What issue 6 asks ("a Synthea-size bundle costs at most 3 times orjson.loads"), on the
    records Synthea really writes (0.3 to 9 MB); most of these patients have no cancer, so their
    assessment stops at "not applicable" after reading, and the two that are scored run the model.
    """
    import riskcalc

    ratios: list[tuple[float, str, float, str]] = []
    for path in sorted(SYNTHEA.glob("*.json.bz2")):
        if path.name.startswith("0-"):  # the hospital and practitioner Bundles: no patient
            continue
        data = bz2.decompress(path.read_bytes())
        report = riskcalc.assess(data, as_of=AS_OF, model=model)
        parse_s, assess_s = best_of_each(
            lambda d=data: orjson.loads(d),
            lambda d=data: riskcalc.assess(d, as_of=AS_OF, model=model),
            repeat=REAL_REPEAT,
        )
        ratios.append((assess_s / parse_s, path.name[:8], len(data) / 1e6, report.status.value))
    ratios.sort()
    worst, median = ratios[-1], ratios[len(ratios) // 2]
    scored = [r for r in ratios if r[3] == "ok"]
    return [
        Measurement(
            f"assess real Synthea bundles ({len(ratios)}), worst",
            worst[0],
            "x orjson.loads",
            target=f"<= {TARGET_TIME_RATIO:g}",
            met=worst[0] <= TARGET_TIME_RATIO,
            notes=(
                f"each bundle of synthea-blaze as written ({min(r[2] for r in ratios):.2f} to "
                f"{max(r[2] for r in ratios):.2f} MB), best of {REAL_REPEAT} each; worst {worst[1]} "
                f"({worst[2]:.2f} MB, {worst[3]}), median {median[0]:.2f}x; the scored ones: "
                + ", ".join(f"{r[1]} {r[0]:.2f}x" for r in scored)
            ),
        )
    ]


def run() -> list[Measurement]:
    import riskcalc
    from riskcalc.fhir._validate import clear_memo
    from riskcalc.model import load_model

    model = load_model()
    bundles = _bundles()
    riskcalc.assess(bundles["small"], as_of=AS_OF, model=model)  # warm imports and caches
    out: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmp:
        warm = Path(tmp) / "warm.json"
        warm.write_bytes(bundles["small"])
        for name, data in bundles.items():
            size_mb = len(data) / 1e6
            path = Path(tmp) / f"{name}.json"
            path.write_bytes(data)
            repeat = REPEAT[name]
            load = os.getloadavg()[0]
            parse_nogc_s = min(_loads_without_gc(data) for _ in range(repeat))
            parse_s, assess_s, read_s = best_of_each(
                lambda d=data: orjson.loads(d),
                lambda d=data: riskcalc.assess(d, as_of=AS_OF, model=model),
                lambda d=data: riskcalc.read_history(d),
                repeat=repeat,
            )
            report = riskcalc.assess(data, as_of=AS_OF, model=model)
            new_values_s = best_of(
                lambda d=data: (
                    clear_memo(shapes=False),
                    riskcalc.assess(d, as_of=AS_OF, model=model),
                ),
                repeat=repeat,
            )
            ratio = assess_s / parse_s
            out.append(
                Measurement(
                    f"assess {name} ({size_mb:.1f} MB)",
                    assess_s,
                    "s",
                    "orjson.loads",
                    parse_s,
                    ratio,
                    f"<= {TARGET_TIME_RATIO:g}",
                    ratio <= TARGET_TIME_RATIO,
                    notes=(
                        f"status {report.status.value}; read_history alone {read_s * 1000:.1f} ms "
                        f"({read_s / parse_s:.2f}x the floor; in the same rounds, so the model "
                        f"and report are the difference, within the noise of a best-of); with "
                        f"the memo of "
                        f"single values cleared before each call (a new patient whose resource "
                        f"shapes were seen before) {new_values_s * 1000:.1f} ms "
                        f"({new_values_s / parse_s:.2f}x); orjson.loads with the garbage "
                        f"collector off {parse_nogc_s * 1000:.1f} ms; best of {repeat}; "
                        f"load average {load:.1f}"
                    ),
                )
            )
            alt_s = best_of(lambda d=data: _validate_whole(d), repeat=1)
            out.append(
                Measurement(
                    f"validate whole bundle {name}",
                    alt_s,
                    "s",
                    "riskcalc assess",
                    assess_s,
                    alt_s / assess_s,
                    notes="the obvious alternative: how many times slower than assess; "
                    f"{alt_s / parse_s:.1f}x orjson.loads",
                )
            )
            used, base_mb = _growth(_ASSESS_CHILD, path, warm)
            out.append(
                Measurement(
                    f"assess peak memory {name}",
                    used,
                    "MB",
                    "file size MB",
                    size_mb,
                    used / size_mb,
                    f"<= {TARGET_MEMORY_RATIO:g}",
                    used / size_mb <= TARGET_MEMORY_RATIO,
                    notes=f"growth of peak RSS during the call; {base_mb:.0f} MB before it "
                    "(imports, model, the bytes)",
                )
            )
            alt_used, _ = _growth(_VALIDATE_CHILD, path, warm)
            out.append(
                Measurement(
                    f"validate whole bundle peak memory {name}",
                    alt_used,
                    "MB",
                    "file size MB",
                    size_mb,
                    alt_used / size_mb,
                    notes="growth of peak RSS during Bundle.model_validate_json",
                )
            )
        out.append(_cold_start(warm))
    return out + _real_bundles(model)
