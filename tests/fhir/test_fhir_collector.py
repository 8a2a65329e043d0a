"""The reader keeps parsed input out of the garbage collector's walks, and restores it after."""

from __future__ import annotations

import datetime as dt
import gc

from riskcalc.demo import demo_bundle
from riskcalc.fhir import read_histories, read_history
from riskcalc.fhir._source import kept_from_collector


def test_a_unit_is_frozen_while_its_histories_are_built_and_released_after() -> None:
    gc.unfreeze()  # a clean slate, whatever an earlier test froze (harmless: frozen is only faster)
    seen = []
    for _ in read_histories(demo_bundle("mild-covid"), today=dt.date(2026, 12, 1)):
        seen.append(gc.get_freeze_count())
    assert seen and all(n > 0 for n in seen)
    assert gc.get_freeze_count() == 0


def test_an_abandoned_iteration_releases_the_unit() -> None:
    gc.unfreeze()
    it = read_histories(demo_bundle("mild-covid"), today=dt.date(2026, 12, 1))
    next(it)
    assert gc.get_freeze_count() > 0
    it.close()
    assert gc.get_freeze_count() == 0


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    gc.freeze()
    try:
        with kept_from_collector():
            pass
        list(read_histories(demo_bundle("mild-covid"), today=dt.date(2026, 12, 1)))
        # gc.unfreeze would have emptied the permanent generation (frozen objects that die leave
        # it too, so its size itself may shrink)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_read_history_restores_the_collector() -> None:
    assert gc.isenabled()
    read_history(demo_bundle("mild-covid"), today=dt.date(2026, 12, 1))
    assert gc.isenabled()
    gc.disable()
    try:
        read_history(demo_bundle("mild-covid"), today=dt.date(2026, 12, 1))
        assert not gc.isenabled()
    finally:
        gc.enable()
