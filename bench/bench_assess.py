"""Single-patient ``assess`` against the floor of parsing the same bytes (DESIGN.md §10).

Bundles: a small (~300 KB) and a median (~3 MB) real Synthea bundle from the shared fixtures, and
a large (~60 MB) one made by repeating the records of the largest fixture bundle under new ids
(one patient with a very long record). For each: the time of ``riskcalc.assess`` on the bytes and
of ``orjson.loads`` of the same bytes (the floor), the time of the obvious alternative (validate
the whole Bundle with fhir.resources, then walk it), and the peak memory of ``assess`` in a fresh
process against the file size.
"""

from __future__ import annotations

import bz2
import datetime as dt
import tempfile
from pathlib import Path

import orjson

from bench._harness import Measurement, best_of, peak_rss_of_child

ROOT = Path(__file__).resolve().parent.parent
SYNTHEA = ROOT.parent / "shared" / "fixtures" / "synthea-blaze"
AS_OF = dt.date(2024, 1, 1)
TARGET_TIME_RATIO = 3.0
TARGET_MEMORY_RATIO = 5.0
LARGE_BYTES = 60_000_000


def _bundles() -> dict[str, bytes]:
    # The hospital and practitioner bundles (names starting with "0-") hold no patient.
    files = [
        bz2.decompress(p.read_bytes())
        for p in sorted(SYNTHEA.glob("*.json.bz2"))
        if not p.name.startswith("0-")
    ]

    def closest(size: int) -> bytes:
        return min(files, key=lambda b: abs(len(b) - size))

    largest = max(files, key=len)
    return {"small": closest(300_000), "median": closest(3_000_000), "large": _inflate(largest)}


def _inflate(bundle_bytes: bytes) -> bytes:
    """One patient's bundle grown to ~60 MB by repeating its non-Patient entries under new ids."""
    bundle = orjson.loads(bundle_bytes)
    entries = bundle["entry"]
    others = [e for e in entries if e["resource"]["resourceType"] != "Patient"]
    out = list(entries)
    copy = 0
    while len(orjson.dumps({**bundle, "entry": out})) < LARGE_BYTES:
        copy += 1
        for entry in others:
            resource = dict(entry["resource"])
            resource["id"] = f"{resource.get('id', 'x')}-copy{copy}"
            out.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return orjson.dumps({**bundle, "entry": out})


def _validate_whole(data: bytes) -> int:
    """The alternative a user would write: validate everything, then walk it."""
    from fhir.resources.R4B.bundle import Bundle

    bundle = Bundle.model_validate_json(data)
    return sum(1 for e in bundle.entry or [] if e.resource is not None)


_ASSESS_CHILD = """
import datetime as dt, sys
import riskcalc
data = open(sys.argv[1], 'rb').read()
riskcalc.assess(data, as_of=dt.date(2024, 1, 1))
"""
_VALIDATE_CHILD = """
import sys
from fhir.resources.R4B.bundle import Bundle
data = open(sys.argv[1], 'rb').read()
Bundle.model_validate_json(data)
"""


def run() -> list[Measurement]:
    import riskcalc
    from riskcalc.model import load_model

    model = load_model()
    riskcalc.assess(_bundles()["small"], as_of=AS_OF, model=model)  # warm imports and caches
    out: list[Measurement] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in _bundles().items():
            size_mb = len(data) / 1e6
            path = Path(tmp) / f"{name}.json"
            path.write_bytes(data)
            repeat = 1 if name == "large" else 3
            parse_s = best_of(lambda d=data: orjson.loads(d), repeat=repeat)
            assess_s = best_of(
                lambda d=data: riskcalc.assess(d, as_of=AS_OF, model=model), repeat=repeat
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
                    notes="how many times slower the obvious alternative is",
                )
            )
            peak_mb, _ = peak_rss_of_child(_ASSESS_CHILD, str(path))
            base_mb, _ = peak_rss_of_child("import riskcalc, riskcalc.model as m; m.load_model()")
            used = peak_mb - base_mb
            out.append(
                Measurement(
                    f"assess peak memory {name}",
                    used,
                    "MB above import",
                    "file size MB",
                    size_mb,
                    used / size_mb,
                    f"<= {TARGET_MEMORY_RATIO:g}",
                    used / size_mb <= TARGET_MEMORY_RATIO,
                    notes=f"peak RSS {peak_mb:.0f} MB, of which {base_mb:.0f} MB imports+model",
                )
            )
            alt_peak, _ = peak_rss_of_child(_VALIDATE_CHILD, str(path))
            out.append(
                Measurement(
                    f"validate whole bundle peak memory {name}",
                    alt_peak,
                    "MB",
                    "file size MB",
                    size_mb,
                    alt_peak / size_mb,
                )
            )
    return out
