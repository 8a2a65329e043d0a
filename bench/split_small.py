"""Where the time of ``assess`` on the small bundle goes, step by step (docs/performance.md).

``python -m bench.split_small``: best of 300 rounds, every step taken in turn in each round, in
units of the same rounds' floor (``orjson.loads``, collector on); then the pieces of scoring the
read history, alone, best of 2,000 calls each. Not part of ``make bench``: a diagnosis, not a
target.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np
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
from riskcalc.history import PatientHistory
from riskcalc.model import RiskModel, load_model
from riskcalc.report._assess import _Case, _Scored, assess_histories, counterfactual_histories

ROUNDS = 300
#: Calls of each piece of scoring (they are short: tens of microseconds).
SCORING_CALLS = 2_000


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
    print()
    for name, seconds in _scoring_pieces(history, model).items():
        print(f"{name:65s} {seconds * 1e6:6.0f} us")


def _scoring_pieces(history: PatientHistory, model: RiskModel) -> dict[str, float]:
    """Best time of each piece of scoring ``history``: the patient alone, then with the rows or
    histories its drivers and hypotheticals add."""
    scored = _Scored.of([_Case(history, AS_OF, None)], detail=True)
    detail = scored.detail(0, scored.awakening[0].background)
    every_row = np.concatenate([scored.rows[:1], detail.driver_rows, detail.counterfactual_rows])
    histories = [history, *(h for _, h in counterfactual_histories(history, AS_OF).values())]
    dates = [AS_OF] * len(histories)
    scores = [r.score for r in scored.awakening]
    n = len(histories) - 1
    pieces: dict[str, Callable[[], object]] = {
        "scoring the history (drivers and hypotheticals)": lambda: assess_histories(
            [history], as_of=AS_OF, model=model
        ),
        "awakening solve, the patient": lambda: awakening.score_each([history], as_of=[AS_OF]),
        f"awakening solve, with {n} hypothetical histories": lambda: awakening.score_each(
            histories, as_of=dates
        ),
        "compiled model, the patient's row": lambda: model.predict_matrix(every_row[:1]),
        f"compiled model, all {len(every_row)} rows of the report": lambda: model.predict_matrix(
            every_row
        ),
        "feature rows, the patient": lambda: feature_matrix(
            [history], [AS_OF], awakening_scores=scores[:1]
        ),
        f"feature rows, with {n} hypothetical histories": lambda: feature_matrix(
            histories, dates, awakening_scores=scores
        ),
        "building the hypothetical histories": lambda: counterfactual_histories(history, AS_OF),
    }
    best = dict.fromkeys(pieces, float("inf"))
    for _ in range(SCORING_CALLS):
        for name, piece in pieces.items():
            start = time.perf_counter()
            piece()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


if __name__ == "__main__":
    main()
