"""AppTest: the patient page with each demo patient, its views and every what-if control."""

from __future__ import annotations

import datetime as dt
import json
import re

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


def test_header_age_is_in_completed_years() -> None:
    # QA: "59 years" for a woman born 1968-05-12 assessed on 2026-12-07 (58 completed years)
    at = _open_demo(_app(), "no-infection")
    at.sidebar.date_input(key="as_of").set_value(dt.date(2026, 12, 7))
    _run(at)
    assert "female, 58 years ·" in _texts(at)


def _shown_tables(at: object) -> list[tuple[dict[str, str], dict[str, str], object]]:
    """Each table's header labels and number formats by column, and its data."""
    out = []
    for d in at.dataframe:  # type: ignore[attr-defined]
        config = json.loads(d.proto.columns or "{}")
        labels = {c: config.get(c, {}).get("label", c) for c in d.value.columns}
        formats = {
            c: config.get(c, {}).get("type_config", {}).get("format", "") for c in d.value.columns
        }
        out.append((labels, formats, d.value))
    return out


@needs_model
def test_evidence_tables_have_readable_headers_and_rounded_values() -> None:
    # QA: headers "effect_pp", "delta_pp", "awakening_score"; a driver value 1.810445564404221
    at = _open_demo(_app(), "repeated-infections")
    tables = _shown_tables(at)
    assert len(tables) >= 4  # contributions, drivers, hypotheticals, basis (warnings if any)
    for labels, formats, frame in tables:
        for column, label in labels.items():
            assert not re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)+", label), f"raw header {label!r}"
            if frame[column].dtype.kind == "f":  # every float is shown rounded
                assert re.fullmatch(r"%\+?\.\df", formats[column]), (label, formats[column])
    drivers = next(
        f
        for labels, _, f in tables
        if "Change in risk (percentage points)" in labels.values() and "Input" in labels.values()
    )
    assert all(
        re.fullmatch(r"yes|no|\d+|\d+\.\d{1,2}( years| pg/mL)?|\d+ pg/mL", v)
        for v in drivers["value"]
    ), list(drivers["value"])
