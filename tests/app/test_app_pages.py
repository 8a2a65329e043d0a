"""AppTest: the cohort (researcher) page and the model card page."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import (
    MODEL,
    _app,
    _run,
    _texts,
    needs_model,
)

import riskcalc
from riskcalc.model import default_model_dir, load_model


def test_cohort_page_without_or_with_model(fixtures: Path) -> None:
    at = _app()
    at.switch_page("views/cohort.py")
    _run(at)
    assert riskcalc.RESEARCH_USE_STATEMENT in at.warning[0].value
    if not MODEL:
        assert any("model.not_found" in e.value for e in at.error)
        return
    folder = fixtures / "smart-bulk-10"
    data = b"".join(
        (folder / f"{t}.000.ndjson").read_bytes() for t in ("Patient", "Condition", "Immunization")
    )
    at.file_uploader(key="cohort_upload").set_value(("c.ndjson", data, "application/x-ndjson"))
    _run(at)
    at.button(key="cohort_run").click()
    _run(at)
    (scores,) = [d.value for d in at.dataframe if "probability" in d.value.columns]
    n_patients = len((folder / "Patient.000.ndjson").read_text().splitlines())
    assert len(scores) == n_patients
    assert set(scores["model_version"]) == {load_model().info.version}
    assert any(m.label == "Patients read" and str(m.value) == str(n_patients) for m in at.metric)
    assert (scores["status"] == "ok").sum() + scores["not_applicable_reason"].notna().sum() == len(
        scores
    )


@needs_model
def test_cohort_page_server_path(fixtures: Path) -> None:
    at = _app()
    at.switch_page("views/cohort.py")
    _run(at)
    at.radio(key="cohort_source").set_value("A path on the server")
    _run(at)
    at.text_input(key="cohort_path").set_value(str(fixtures / "mcode"))
    _run(at)
    at.button(key="cohort_run").click()
    _run(at)
    assert any(m.label == "Patients read" for m in at.metric)


def test_cohort_page_bad_path_shows_error_code() -> None:
    if not MODEL:
        pytest.skip("the cohort form needs the model")
    at = _app()
    at.switch_page("views/cohort.py")
    _run(at)
    at.radio(key="cohort_source").set_value("A path on the server")
    _run(at)
    at.text_input(key="cohort_path").set_value("/nonexistent/cohort.ndjson")
    _run(at)
    at.button(key="cohort_run").click()
    _run(at)
    assert any("input.not_found" in e.value for e in at.error)


def test_model_card_page() -> None:
    at = _app()
    at.switch_page("views/model_card.py")
    _run(at)
    assert riskcalc.RESEARCH_USE_STATEMENT in at.warning[0].value
    if MODEL:
        assert load_model().info.version in _texts(at)
        (metrics,) = [d.value for d in at.dataframe if "metric" in d.value.columns]
        assert any(metrics["metric"].str.startswith("AUROC"))
        figures = default_model_dir() / "figures"
        expected = [f for f in ("calibration.png", "decision_curve.png") if (figures / f).is_file()]
        assert len(at.get("image")) >= len(expected)
    else:
        assert any("model.not_found" in e.value for e in at.error)
