"""PNG figures of the evaluation report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

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
    )


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
    curve = metrics["calibration_curve"]
    fig, ax = plt.subplots(figsize=(5, 5))
    top = max(curve["predicted"][-1], 0.05)
    ax.plot([0, top], [0, top], color="0.6", lw=1, ls="--", label="ideal")
    ax.fill_between(
        curve["predicted"],
        curve["observed_low"],
        curve["observed_high"],
        alpha=0.25,
        label="95% CI",
    )
    ax.plot(curve["predicted"], curve["observed"], lw=2, label="flexible calibration (spline)")
    ax.set_xlabel("Predicted risk")
    ax.set_ylabel("Observed risk (IPCW)")
    ax.set_title(f"Calibration: slope {metrics['calibration_slope']:.2f}, ICI {metrics['ici']:.3f}")
    ax.legend(loc="upper left", fontsize=8)
    _footer(fig, metrics)
    fig.savefig(paths["calibration"], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
    ax.plot(fpr, tpr, lw=2, label=f"model, AUROC {metrics['auroc']:.3f}")
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.set_title("ROC (IPCW)")
    ax.legend(loc="lower right", fontsize=8)
    _footer(fig, metrics)
    fig.savefig(paths["roc"], dpi=100)
    plt.close(fig)

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
    _footer(fig, metrics)
    fig.savefig(paths["decision_curve"], dpi=100)
    plt.close(fig)
    return paths
