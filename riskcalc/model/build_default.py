"""Build the shipped default model in ``models/default/``: ``python -m riskcalc.model.build_default``.

Reproducible: a simulated cohort (``riskcalc.cohort``, seed :data:`TRAIN_SEED`) is turned into
histories, labelled by the documented index-date policy and used to train the model; a second
cohort with a seed never used in training (:data:`CHECK_SEED`) measures the quality targets, whose
numbers go into the model card. ``--via-fhir`` writes the training cohort as Bulk NDJSON and reads
it back through the FHIR reader (slower; the default converts simulated patients to histories
directly with ``riskcalc.cohort.to_history``, the same record the reader produces).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from riskcalc.model._cohort import LabelledCohort, prepare_cohort, read_cohort
from riskcalc.model._evaluate import evaluate
from riskcalc.model._train import (
    DEFAULT_HORIZON_MONTHS,
    holdout_split,
    train_model,
    write_artifact,
)

TRAIN_SEED = 20260101
CHECK_SEED = 20260202
INDEX_SEED = 7
N_TRAIN = 100_000
N_CHECK = 60_000
OUT = Path(__file__).resolve().parents[2] / "models" / "default"
MODEL_ID = "riskcalc-relapse-default"
#: Training uses two index dates per patient (folds and held-out split grouped by patient), which
#: doubles the events seen; evaluation cohorts use one.
INDEX_DATES_PER_PATIENT = 2


def simulated_cohort(
    n: int, seed: int, *, via_fhir: bool = False, index_dates_per_patient: int = 1
) -> LabelledCohort:
    """A simulated cohort, labelled at index dates drawn with :data:`INDEX_SEED`."""
    from riskcalc.cohort import iter_patients, to_history, write_cohort

    if via_fhir:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_cohort(Path(tmp) / "cohort", n_patients=n, seed=seed)
            return read_cohort(
                folder, seed=INDEX_SEED, index_dates_per_patient=index_dates_per_patient
            )
    return prepare_cohort(
        (to_history(p) for p in iter_patients(n, seed)),
        seed=INDEX_SEED,
        index_dates_per_patient=index_dates_per_patient,
    )


def quality_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The quality-target numbers of an evaluation, with whether each target is met."""
    comp = metrics["comparisons"].get("without_infection_features", {})
    diff_ci = comp.get("auroc_difference_ci", [float("nan")] * 2)
    out = {
        "seed": CHECK_SEED,
        "horizon_months": metrics["horizon_months"],
        "n": metrics["n"],
        "events": metrics["events"],
        "auroc": metrics["auroc"],
        "auroc_ci": metrics["auroc_ci"],
        "calibration_slope": metrics["calibration_slope"],
        "calibration_intercept": metrics["calibration_intercept"],
        "ici": metrics["ici"],
        "auroc_without_infection_features": comp.get("auroc"),
        "auroc_difference": comp.get("auroc_difference"),
        "auroc_difference_ci": diff_ci,
    }
    out["targets_met"] = {
        "calibration_slope_in_0.9_1.1": 0.9 <= metrics["calibration_slope"] <= 1.1,
        "abs_intercept_le_0.01": abs(metrics["calibration_intercept"]) <= 0.01,
        "ici_le_0.02": metrics["ici"] <= 0.02,
        "auroc_difference_ci_excludes_zero": bool(diff_ci[0] > 0),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-check", type=int, default=N_CHECK)
    parser.add_argument("--via-fhir", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    cohort = simulated_cohort(
        args.n_train,
        TRAIN_SEED,
        via_fhir=args.via_fhir,
        index_dates_per_patient=INDEX_DATES_PER_PATIENT,
    )
    print(f"training cohort: {len(cohort)} rows, excluded {dict(cohort.excluded)}", flush=True)
    trained_on = (
        f"Simulated data only: {args.n_train} synthetic cancer survivors from riskcalc.cohort "
        f"(seed {TRAIN_SEED}), {len(cohort)} patient-index-date rows in remission. No real patients."
    )
    model, _ = train_model(
        cohort,
        seed=0,
        model_id=MODEL_ID,
        version="0.1.0",
        trained_on=trained_on,
        simulated=True,
        training_extra={
            "generator": "riskcalc.cohort",
            "generator_seed": TRAIN_SEED,
            "index_seed": INDEX_SEED,
            "n_patients_simulated": args.n_train,
            "command": "make model (python -m riskcalc.model.build_default)",
        },
    )
    check = simulated_cohort(args.n_check, CHECK_SEED)
    report = evaluate(model, check, horizon_months=DEFAULT_HORIZON_MONTHS, seed=1)
    quality = quality_summary(report.metrics)
    print(f"quality on a fresh cohort: {quality}", flush=True)
    _, heldout = holdout_split(cohort, seed=0)
    write_artifact(model, heldout, args.out, quality=quality)
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
