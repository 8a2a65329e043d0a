"""The evaluation figures: every label inside the picture and clear of the footer; the
calibration curve drawn over the range of the predictions only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest

from riskcalc.model import _figures as figures_module
from riskcalc.model import evaluate, load_model
from riskcalc.model._oracle import oracle_cohort


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """The three figures of an evaluation, kept open (``plt.close`` intercepted) to measure."""
    model = load_model()
    cohort = oracle_cohort(1500, seed=5)
    metrics = evaluate(model, cohort, n_boot=10).metrics
    labels = cohort.labels(24)
    known = labels.known
    p = model.predict(cohort.features).probability[known]
    kept: list[Any] = []
    real_close = plt.close
    plt.close = kept.append  # type: ignore[assignment]
    try:
        folder = tmp_path_factory.mktemp("figures")
        figures_module.write_figures(
            folder, labels.label[known].astype(float), p, labels.weight[known], metrics
        )
    finally:
        plt.close = real_close
    assert sorted(f.name for f in folder.iterdir()) == [
        "calibration.png",
        "decision_curve.png",
        "roc.png",
    ]
    yield kept, metrics
    for fig in kept:
        plt.close(fig)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["calibration", "roc", "decision_curve"])
def test_labels_inside_the_figure_and_clear_of_the_footer(
    drawn: tuple[list[Any], dict[str, Any]], index: int
) -> None:
    fig = drawn[0][index]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    footer = fig.texts[-1]
    assert "research use only" in footer.get_text()
    footer_box = footer.get_window_extent(renderer)
    ax = fig.axes[0]
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        box = label.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0, label.get_text()  # not cut off
        assert box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1, label.get_text()
        assert not box.overlaps(footer_box), label.get_text()
    assert not ax.get_tightbbox(renderer).overlaps(footer_box)


def test_calibration_figure_spans_the_predictions_only(
    drawn: tuple[list[Any], dict[str, Any]],
) -> None:
    fig, metrics = drawn[0][0], drawn[1]
    grid = np.asarray(metrics["calibration_curve"]["predicted"])
    low, high = fig.axes[0].get_xlim()
    span = grid[-1] - grid[0]
    assert grid[0] - 0.1 * span <= low < grid[0]
    assert grid[-1] < high <= grid[-1] + 0.1 * span
