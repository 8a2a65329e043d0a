"""Shared helpers of the AppTest suites (imported by tests/app/test_app_*.py).

The app draws what riskcalc returns; these tests check that each view renders for each demo
patient and uploaded file, that errors show their code, and that what-if results are labelled
hypothetical. Views of the calibrated risk need the default model; without it the app must say
so with the error code and show no number.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

import riskcalc
from riskcalc.model import load_model

APP = Path(__file__).resolve().parents[2] / "streamlit_app" / "app.py"
TIMEOUT = 90  # seconds; AppTest's default of 3 s is too short for a first model load
SYNTHEA = "synthea-blaze/ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7.json.bz2"


def _model_available() -> bool:
    try:
        load_model()
    except riskcalc.RiskCalcError:
        return False
    return True


MODEL = _model_available()
needs_model = pytest.mark.skipif(not MODEL, reason="no default model in models/default yet")


def _run(at: AppTest) -> AppTest:
    at.run(timeout=TIMEOUT)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _app() -> AppTest:
    return _run(AppTest.from_file(str(APP), default_timeout=TIMEOUT))


def _charts(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("vega_lite_chart")]


def _timeline_data(at: AppTest) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The timeline rows and the awakening trajectory the timeline chart draws."""
    frames = [
        pa.ipc.open_stream(d.data.data).read_all().to_pandas()
        for c in at.get("vega_lite_chart")
        if "Infection timeline" in c.proto.spec or "Cumulative awakening score" in c.proto.spec
        for d in c.proto.datasets
    ]
    rows = next(f for f in frames if "lane" in f.columns)
    trajectory = max((f for f in frames if "series" in f.columns), key=len)
    return rows, trajectory


def _texts(at: AppTest) -> str:
    parts = [h.value for h in at.subheader] + [m.value for m in at.markdown]
    parts += [w.value for w in at.warning]
    parts += (
        [i.value for i in at.info] + [e.value for e in at.error] + [c.value for c in at.caption]
    )
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return "\n".join(str(p) for p in parts)


def _key_endswith(elements: object, suffix: str) -> object:
    found = [e for e in elements if e.key and e.key.endswith(suffix)]  # type: ignore[attr-defined]
    assert found, f"no widget with key ending {suffix!r}"
    return found[0]


def _open_demo(at: AppTest, name: str) -> AppTest:
    at.sidebar.selectbox(key="demo").set_value(name)
    return _run(at)
