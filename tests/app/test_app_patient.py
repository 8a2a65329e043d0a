"""AppTest: the patient page with each demo patient, its views and every what-if control."""

from __future__ import annotations

import datetime as dt

import pytest
from app_helpers import (
    MODEL,
    _app,
    _charts,
    _open_demo,
    _run,
    _texts,
    _timeline_data,
    needs_model,
)

import riskcalc
from riskcalc.demo import demo_bundle, list_demo_patients
from riskcalc.model import load_model
from riskcalc.report.views import basis_rows


def test_banner_shows_statement_and_model_version() -> None:
    at = _app()
    banner = at.warning[0].value
    assert riskcalc.RESEARCH_USE_STATEMENT in banner
    if MODEL:
        model = load_model()
        assert model.info.version in banner and model.info.model_id in banner
    else:
        assert "model.not_found" in banner


@pytest.mark.parametrize("name", [p.name for p in list_demo_patients()])
def test_each_demo_patient_renders_every_view(name: str) -> None:
    at = _open_demo(_app(), name)
    history = riskcalc.read_history(demo_bundle(name))
    text = _texts(at)
    assert f"Patient {history.patient_id}" in text
    specs = _charts(at)
    timeline = [i for i, s in enumerate(specs) if "Infection timeline" in s]
    trajectory = [i for i, s in enumerate(specs) if "Cumulative awakening score" in s]
    assert len(timeline) == len(trajectory) == 1
    assert trajectory[0] == timeline[0] + 1  # drawn right below the timeline
    assert "Awakening score (exploratory)" in text
    # basis table: one row per record use, covering every resource used
    basis = [d.value for d in at.dataframe if "reference" in d.value.columns]
    assert len(basis) == 1
    assert set(basis[0]["reference"]) == set(history.basis)
    assert len(basis[0]) == len(basis_rows(history))
    if MODEL:
        assert "Within 24 months" in text or "No estimate for this patient" in text
    else:
        assert "model.not_found" in text
        assert not any(m.label.startswith("Within") for m in at.metric)


def test_il6_peak_is_on_the_timeline() -> None:
    at = _open_demo(_app(), "hospitalised-flu")
    rows, trajectory = _timeline_data(at)
    il6 = rows[rows["lane"] == "IL-6 measured"]
    assert list(il6["label"]) == ["210 pg/mL"]
    assert set(rows["lane"]) >= {"Cancer", "Treatment", "Infection", "Virus test", "Vaccination"}
    (test,) = rows[rows["lane"] == "Virus test"].itertuples()
    assert (test.label, test.detail) == ("Influenza test positive", "positive")
    assert trajectory["score"].iloc[-1] > trajectory["background"].iloc[-1]


def test_assessment_date_control() -> None:

    at = _open_demo(_app(), "mild-covid")
    at.sidebar.date_input(key="as_of").set_value(dt.date(2023, 3, 1))
    _run(at)
    assert "assessed as of **2023-03-01**" in _texts(at)


@needs_model
def test_horizon_control_changes_the_horizon() -> None:
    at = _open_demo(_app(), "repeated-infections")
    horizons = list(load_model().horizons_months)
    other = next(h for h in horizons if h != load_model().default_horizon_months)
    at.sidebar.selectbox(key="horizon").set_value(other)
    _run(at)
    assert any(m.label.startswith(f"Within {other} months") for m in at.metric)
