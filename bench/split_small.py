"""Where the time of ``assess`` on the small bundle goes, step by step (docs/performance.md).

``python -m bench.split_small``: best of 300 rounds, every step taken in turn in each round, in
units of the same rounds' floor (``orjson.loads``, collector on). Not part of ``make bench``:
a diagnosis, not a target.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable
from typing import Any

import orjson

import riskcalc
from bench.bench_assess import AS_OF, _bundles
from riskcalc import awakening
from riskcalc.config import Limits
from riskcalc.features._compute import feature_matrix
from riskcalc.fhir import _extract, _validate
from riskcalc.fhir._extract import extract
from riskcalc.fhir._group import group
from riskcalc.fhir._source import iter_units
from riskcalc.model import load_model
from riskcalc.report._assess import assess_histories

ROUNDS = 300


def _validated(data: bytes) -> list[dict[str, Any]]:
    """The resources one read validates."""
    seen: list[dict[str, Any]] = []
    original = _extract.validation_error

    def spy(resource: dict[str, Any]) -> str | None:
        seen.append(resource)
        return original(resource)

    _extract.validation_error = spy
    try:
        riskcalc.read_history(data)
    finally:
        _extract.validation_error = original
    return seen


def main() -> None:
    model, limits, today = load_model(), Limits(), dt.date.today()
    data = _bundles()["small"]
    riskcalc.assess(data, as_of=AS_OF, model=model)
    validated = _validated(data)
    history = riskcalc.read_history(data)
    score = awakening.score_each([history], as_of=[AS_OF])[0].score
    row = feature_matrix([history], [AS_OF], awakening_scores=[score])
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    def timed(name: str, step: Callable[[], object]) -> None:
        start = time.perf_counter()
        step()
        keep(name, time.perf_counter() - start)

    for _ in range(ROUNDS):
        timed("floor: orjson.loads", lambda: orjson.loads(data))
        gc.disable()
        timed("orjson.loads, collector off", lambda: orjson.loads(data))
        t0 = time.perf_counter()
        units = list(iter_units(data, limits))
        t1 = time.perf_counter()
        grouping = group(units[0])
        t2 = time.perf_counter()
        g = next(iter(grouping.patients.values()))
        extract(g, shared=grouping.shared, unit_issues=grouping.issues, today=today)
        t3 = time.perf_counter()
        del grouping, g, units
        t4 = time.perf_counter()
        gc.enable()
        keep("parse with the depth check, collector off", t1 - t0)
        keep("grouping", t2 - t1)
        keep("extraction", t3 - t2)
        keep("freeing the parsed JSON", t4 - t3)
        timed(
            f"validating the {len(validated)} resources alone",
            lambda: [_validate.validation_error(r) for r in validated],
        )
        timed("scoring the history", lambda: assess_histories([history], as_of=AS_OF, model=model))
        timed(
            "scoring, no drivers or hypotheticals",
            lambda: assess_histories([history], as_of=AS_OF, model=model, detail=False),
        )
        timed("the compiled model on one row", lambda: model.predict_matrix(row))
        timed("assess of the bytes", lambda: riskcalc.assess(data, as_of=AS_OF, model=model))
    floor = best["floor: orjson.loads"]
    for name, seconds in best.items():
        print(f"{name:45s} {seconds * 1e3:7.3f} ms {seconds / floor:5.2f} x floor")


if __name__ == "__main__":
    main()
