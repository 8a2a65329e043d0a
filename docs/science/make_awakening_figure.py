"""Regenerate docs/science/awakening_trajectories.png and the generated blocks of awakening.md.

Run from the repository root: ``.venv/bin/python docs/science/make_awakening_figure.py``.
The parameter tables and the calibration arithmetic in awakening.md sit between
``<!-- BEGIN ... -->`` / ``<!-- END ... -->`` markers and are rewritten from parameters.json;
tests/awakening/test_awakening_docs.py fails when the committed document is out of date.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from riskcalc import awakening as aw
from riskcalc.awakening._core import derive
from riskcalc.history import InfectionEpisode, PatientHistory

HERE = Path(__file__).resolve().parent
DOC = HERE / "awakening.md"
FIGURE = HERE / "awakening_trajectories.png"
START = dt.date(2015, 1, 1)


def _episode(onset: dt.date, pathogen: str, severity: str, **kw: object) -> InfectionEpisode:
    return InfectionEpisode(
        pathogen=pathogen, onset=onset, end=onset + dt.timedelta(days=7), severity=severity, **kw
    )


def examples() -> dict[str, PatientHistory]:
    """The example histories of the figure (at-risk start 2015-01-01)."""

    def h(*eps: InfectionEpisode) -> PatientHistory:
        return PatientHistory(patient_id="example", at_risk_start=START, infections=eps)

    return {
        "one mild COVID-19 (2020-03)": h(_episode(dt.date(2020, 3, 1), "covid19", "mild")),
        "repeated: flu 2018, COVID-19 2020 & 2022, flu 2023": h(
            _episode(dt.date(2018, 1, 10), "influenza", "mild"),
            _episode(dt.date(2020, 3, 1), "covid19", "hospitalised"),
            _episode(dt.date(2022, 1, 5), "covid19", "mild"),
            _episode(dt.date(2023, 12, 20), "influenza", "mild"),
        ),
        "severe influenza, IL-6 measured 850 pg/mL (2019-01)": h(
            _episode(dt.date(2019, 1, 15), "influenza", "critical", il6_peak_pg_ml=850.0)
        ),
        "same, with IL-6 blockade": h(
            _episode(
                dt.date(2019, 1, 15),
                "influenza",
                "critical",
                il6_peak_pg_ml=850.0,
                il6_blockade=True,
            )
        ),
    }


def make_figure(path: Path = FIGURE) -> None:
    fig, (ax, ax_hm, ax_mouse) = plt.subplots(1, 3, figsize=(15, 4.6))
    end = dt.date(2026, 1, 1)
    for label, history in examples().items():
        tr = aw.trajectory(history, start=START, end=end, step_days=3)
        dates = tr.dates.astype("datetime64[D]").astype(object)
        ax.plot(dates, tr.score, label=label, lw=1.4)
        ax_hm.plot(dates, tr.hazard_multiplier, lw=1.4)
    tr = aw.trajectory(
        examples()["one mild COVID-19 (2020-03)"], start=START, end=end, step_days=30
    )
    ax.plot(tr.dates.astype(object), tr.background, color="grey", ls=":", label="background only")
    ax.set_ylabel("awakening score (1.0 = one mild infection at 90 days)")
    ax.set_title("Human preset: cumulative awakening score")
    ax.legend(fontsize=7, loc="upper left")
    ax_hm.set_ylabel("hazard multiplier (calibrated, exploratory)")
    ax_hm.set_title("Human preset: hazard multiplier")

    onset = dt.date(2020, 3, 1)
    t0 = onset - dt.timedelta(days=5)
    for blockade, style in ((False, "-"), (True, "--")):
        h = PatientHistory(
            patient_id="mouse",
            at_risk_start=onset - dt.timedelta(days=60),
            infections=(_episode(onset, "influenza", "mild", il6_blockade=blockade),),
        )
        tr = aw.trajectory(
            h, start=t0, end=onset + dt.timedelta(days=280), step_days=1, preset="mouse"
        )
        dpi = (tr.dates - np.datetime64(onset)).astype(int)
        name = "IL-6 blockade (knockout analogue)" if blockade else "influenza A"
        ax_mouse.semilogy(dpi, tr.total, style, color="C3", label=f"total DCC burden, {name}")
        ax_mouse.semilogy(dpi, tr.awakened, style, color="C0", label=f"awakened A, {name}")
    ax_mouse.axhline(100, color="grey", lw=0.8, ls=":")
    ax_mouse.set_xlabel("days after infection")
    ax_mouse.set_ylabel("burden (1 = dormant pool at dissemination)")
    ax_mouse.set_title("Mouse preset: one sublethal influenza A infection")
    ax_mouse.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "riskcalc awakening model, parameters "
        + aw.parameters_version()
        + " (research use only; exploratory index)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def calibration_block() -> str:
    """The calibration arithmetic of the human preset, as Markdown."""
    p = aw.load_params("human")
    d = derive(p)
    names = ("mild", "hospitalised", "critical")
    w = np.array([p[f"calibration_weight.{s}"] for s in names])
    w = w / w.sum()
    mean_excess = float(np.dot(w, d.calibration_excess))
    lines = [
        f"- Reference burden (score 1.0): `A_ref = {d.reference_burden:.6g}` (units of the dormant pool).",
        f"- One COVID-19 episode {p['calibration_onset_years']:g} years after the at-risk start; "
        f"mean excess score over the {p['calibration_window_months']:g} months after its onset:",
    ]
    for s, wi, e in zip(names, w, d.calibration_excess, strict=True):
        lines.append(
            f"  - {s}: {e:.4f} (weight {wi:.3f}); time-averaged HM = 1 + β · {e:.4f} "
            f"= {1 + d.hazard_per_score * e:.3f}"
        )
    lines += [
        f"- Case-mix mean excess `E = {mean_excess:.4f}`; target `HR = {p['hazard_target_hr']:g}`.",
        f"- `β = (HR − 1) / E = {p['hazard_target_hr'] - 1:g} / {mean_excess:.4f} = "
        f"{d.hazard_per_score:.4f}` per score unit.",
    ]
    return "\n".join(lines) + "\n"


def generated_blocks() -> dict[str, str]:
    return {
        "PARAMETERS human": aw.parameter_table_markdown("human"),
        "PARAMETERS mouse": aw.parameter_table_markdown("mouse"),
        "CALIBRATION": calibration_block(),
    }


def render(text: str) -> str:
    """``text`` with every generated block replaced by its current content."""
    for name, body in generated_blocks().items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", flags=re.DOTALL)
        if not pattern.search(text):
            raise SystemExit(f"marker for {name!r} missing in {DOC}")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def main() -> int:
    DOC.write_text(render(DOC.read_text("utf-8")), "utf-8")
    if "--no-figure" not in sys.argv:
        make_figure()
    print(f"updated {DOC} and {FIGURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
