"""AppTest: every what-if control on the patient page, labelled hypothetical, changing the result."""

from __future__ import annotations

from app_helpers import MODEL, _app, _key_endswith, _open_demo, _run, _texts, _timeline_data
from streamlit.testing.v1 import AppTest


def _awakening(at: AppTest) -> dict[str, str]:
    """The awakening metrics shown, by label, as displayed."""
    return {m.label: m.value for m in at.metric if "Awakening" in m.label or "Hazard" in m.label}


def test_what_if_controls_are_labelled_hypothetical_and_change_the_score() -> None:
    at = _open_demo(_app(), "repeated-infections")

    def score(at: AppTest) -> float:
        label = "Awakening score · hypothetical (what-if)"
        return float(next(m.value for m in at.metric if m.label == label))

    recorded = float(_awakening(at)["Awakening score (exploratory) · recorded history"])
    assert not any("Hypothetical (what-if)" in i.value for i in at.info)
    _key_endswith(at.sidebar.checkbox, ":on:3").uncheck()
    _run(at)
    assert any("Hypothetical (what-if)" in i.value for i in at.info)
    lowered = score(at)
    assert lowered < recorded
    _key_endswith(at.sidebar.selectbox, ":sev:2").set_value("critical")
    _run(at)
    assert score(at) > lowered
    assert "graded critical" in _texts(at)
    _key_endswith(at.sidebar.checkbox, ":blk:2").check()
    _run(at)
    text = _texts(at)
    assert "IL-6 blockade covering" in text and "mouse-model evidence only" in text
    _key_endswith(at.sidebar.checkbox, ":add").check()
    _run(at)
    text = _texts(at)
    assert "A hypothetical mild COVID-19 infection" in text
    assert "days after the hypothetical infection" in text
    _key_endswith(at.sidebar.selectbox, ":add_pathogen").set_value("influenza")
    _key_endswith(at.sidebar.selectbox, ":add_severity").set_value("hospitalised")
    _key_endswith(at.sidebar.checkbox, ":add_blockade").check()
    _run(at)
    assert "hospitalised Influenza infection" in _texts(at)
    rows, trajectory = _timeline_data(at)
    assert set(trajectory["series"]) == {"Recorded", "Hypothetical (what-if)"}
    assert rows["hypothetical"].sum() == 1  # the added episode, drawn as such
    for word in ("you should", "we recommend", "start tocilizumab", "start treatment"):
        assert word not in _texts(at).lower()
    if MODEL:
        labels = [m.label for m in at.metric]
        assert "Hypothetical (what-if)" in labels
        assert any(label.endswith("recorded history") for label in labels)


def test_awakening_figures_during_a_what_if_are_labelled_recorded_and_hypothetical() -> None:
    # QA: with blockade ticked on the 2025 influenza the awakening figures switched to the
    # hypothetical values (1.83, ×1.01) without a label, hiding the recorded 1.92, ×1.03
    at = _open_demo(_app(), "repeated-infections")
    before = _awakening(at)
    assert set(before) == {
        "Awakening score (exploratory) · recorded history",
        "Hazard multiplier (exploratory) · recorded history",
    }
    _key_endswith(at.sidebar.checkbox, ":blk:3").check()
    _run(at)
    during = _awakening(at)
    assert {k: during[k] for k in before} == before  # the recorded figures stay
    hypothetical = {k: v for k, v in during.items() if k not in before}
    assert set(hypothetical) == {
        "Awakening score · hypothetical (what-if)",
        "Hazard multiplier · hypothetical (what-if)",
    }
    recorded_score = float(before["Awakening score (exploratory) · recorded history"])
    assert float(hypothetical["Awakening score · hypothetical (what-if)"]) < recorded_score
    deltas = {m.label: m.delta for m in at.metric if m.label in hypothetical}
    # a negative change reads as one (Streamlit's arrow follows the leading sign)
    assert deltas["Awakening score · hypothetical (what-if)"].startswith("-")
    assert deltas["Hazard multiplier · hypothetical (what-if)"].startswith("-")
