"""PNG figures of the evaluation report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_curve

Array = npt.NDArray[np.float64]


def _footer(fig: Any, metrics: dict[str, Any]) -> None:
    fig.text(
        0.01,
        0.01,
        f"{metrics['model_id']} {metrics['model_version']} | horizon {metrics['horizon_months']} "
        "months | trained on simulated data | research use only",
        fontsize=6,
        color="0.4",
        va="bottom",
    )


def _save(fig: Any, metrics: dict[str, Any], path: Path) -> None:
    """Lay the axes out above a strip kept for the footer (so that the x-axis label does not
    run into it and no label is cut off), write the PNG and close the figure."""
    _footer(fig, metrics)
    fig.tight_layout(rect=(0.0, 0.035, 1.0, 1.0))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _calibration_figure(path: Path, metrics: dict[str, Any]) -> None:
    """The flexible calibration curve with its band, drawn over the range of the predictions
    it was estimated on (the curve's grid); a note instead when it was not estimated."""
    curve = metrics["calibration_curve"]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.set_xlabel("Predicted risk")
    ax.set_ylabel("Observed risk (IPCW)")
    if not curve["predicted"]:
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="ideal")
        events = metrics["events"]
        non_events = metrics["n_known_status"] - events
        note = (
            f"Calibration curve not estimated: {events} events and {non_events} non-events "
            f"with known status; at least {metrics['minimum_events_for_intervals']} of each "
            "are needed"
        )
        ax.text(
            0.5,
            0.5,
            textwrap.fill(note, 36),
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "0.7"},
        )
        ax.set_title("Calibration")
        _save(fig, metrics, path)
        return
    x = np.asarray(curve["predicted"])
    low, high = float(x[0]), float(x[-1])
    pad = max((high - low) * 0.05, 1e-4)
    ideal = np.array([max(low - pad, 0.0), high + pad])
    ax.plot(ideal, ideal, color="0.6", lw=1, ls="--", label="ideal")
    ax.fill_between(x, curve["observed_low"], curve["observed_high"], alpha=0.25, label="95% CI")
    ax.plot(x, curve["observed"], lw=2, label="flexible calibration (spline)")
    ax.set_xlim(*ideal)
    band = np.concatenate([curve["observed_high"], curve["observed"], ideal])
    band = band[np.isfinite(band)]
    ax.set_ylim(0.0, float(band.max()) * 1.05)
    ax.set_title(f"Calibration: slope {metrics['calibration_slope']:.2f}, ICI {metrics['ici']:.3f}")
    ax.set_xlabel("Predicted risk (1st to 99th percentile of the predictions)")
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, metrics, path)


def write_figures(
    folder: Path, y: Array, p: Array, w: Array, metrics: dict[str, Any]
) -> dict[str, Path]:
    """Calibration curve (with CI), ROC and decision curve; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "calibration": folder / "calibration.png",
        "roc": folder / "roc.png",
        "decision_curve": folder / "decision_curve.png",
    }
    _calibration_figure(paths["calibration"], metrics)

    fig, ax = plt.subplots(figsize=(5, 5))
    fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
    ax.plot(fpr, tpr, lw=2, label=f"model, AUROC {metrics['auroc']:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.set_title("ROC (IPCW)")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, metrics, paths["roc"])

    dca = metrics["decision_curve"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(dca["thresholds"], dca["net_benefit_model"], lw=2, label="model")
    ax.plot(dca["thresholds"], dca["net_benefit_all"], lw=1, label="all")
    ax.plot(dca["thresholds"], dca["net_benefit_none"], lw=1, color="k", label="none")
    low = min(0.0, min(dca["net_benefit_model"])) - 0.005
    ax.set_ylim(low, max(dca["net_benefit_all"][0], 0.01) * 1.1)
    ax.set_xlabel("Threshold probability")
    ax.set_ylabel("Net benefit")
    ax.set_title("Decision curve")
    ax.legend(fontsize=8)
    _save(fig, metrics, paths["decision_curve"])
    return paths
