"""Build the shipped default model in ``models/default/``: ``python -m riskcalc.model.build_default``.

Reproducible (fixed seeds): a simulated cohort (``riskcalc.cohort``, seed :data:`TRAIN_SEED`) is
written as Bulk NDJSON and read back through the FHIR reader (the path real cohorts take),
labelled by the documented index-date policy (two uniform dates per patient plus one 30 days after
each recorded infection) and used to train the model. Monte Carlo true risks
(:mod:`riskcalc.cohort._true_risk`) of part of the held-out split set the interval scale. A second
cohort with a seed never used in training (:data:`CHECK_SEED`) measures the quality targets and
the interval's coverage of true risk; the numbers go into the model card. ``--direct`` converts
simulated patients with ``riskcalc.cohort.to_history`` instead of the reader (faster; for
experiments)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from riskcalc.model._cohort import LabelledCohort, prepare_cohort, read_cohort
from riskcalc.model._evaluate import evaluate
from riskcalc.model._train import (
    DEFAULT_HORIZON_MONTHS,
    DEFAULT_HORIZONS_MONTHS,
    holdout_split,
    train_model,
    write_artifact,
)

if TYPE_CHECKING:
    from riskcalc.cohort import SimPatient

TRAIN_SEED = 20260101
CHECK_SEED = 20260202
INDEX_SEED = 7
N_TRAIN = 100_000
N_CHECK = 100_000
#: Interval coverage: Monte Carlo true risks (riskcalc.cohort._true_risk) for up to this many rows
#: of the training cohort's held-out split (to fit the interval scale) and of the fresh cohort
#: (to measure coverage), each from this many re-simulations.
N_TRUTH_ROWS = 1500
TRUTH_REPLICATES = 4000
TRUTH_SEED = 11
OUT = Path(__file__).resolve().parents[2] / "models" / "default"
MODEL_ID = "riskcalc-relapse-default"
#: Training uses two index dates per patient (folds and held-out split grouped by patient), which
#: doubles the events seen; evaluation cohorts use one.
INDEX_DATES_PER_PATIENT = 2
#: Every cohort (training and checks) also gets an index date this many days after the end of each
#: recorded infection episode: the model's use case (a survivor assessed after an infection), and
#: the dates at which infection history carries information about the next months.
POST_INFECTION_DAYS = 30


def simulated_cohort(
    n: int,
    seed: int,
    *,
    via_fhir: bool = False,
    index_dates_per_patient: int = 1,
    keep_patients: dict[str, SimPatient] | None = None,
    keep_every: int = 50,
    post_infection_days: int | None = POST_INFECTION_DAYS,
) -> LabelledCohort:
    """A simulated cohort, labelled at index dates drawn with :data:`INDEX_SEED`.

    ``keep_patients``, if given, receives every ``keep_every``-th simulated patient (by patient
    index) for :func:`with_true_risk`.
    """
    from riskcalc.cohort import iter_patients, to_history, write_cohort

    def keep(patients: Iterator[SimPatient]) -> Iterator[SimPatient]:
        for p in patients:
            if keep_patients is not None and p.index % keep_every == 0:
                keep_patients[p.patient_id] = p
            yield p

    if via_fhir:
        if keep_patients is not None:
            for _ in keep(iter_patients(n, seed)):
                pass
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_cohort(Path(tmp) / "cohort", n_patients=n, seed=seed)
            return read_cohort(
                folder,
                seed=INDEX_SEED,
                index_dates_per_patient=index_dates_per_patient,
                post_infection_days=post_infection_days,
            )
    return prepare_cohort(
        (to_history(p) for p in keep(iter_patients(n, seed))),
        seed=INDEX_SEED,
        index_dates_per_patient=index_dates_per_patient,
        post_infection_days=post_infection_days,
    )


def with_true_risk(
    cohort: LabelledCohort,
    patients: dict[str, SimPatient],
    *,
    rows: Sequence[int] | np.ndarray[Any, np.dtype[np.intp]] | None = None,
    max_rows: int = N_TRUTH_ROWS,
    replicates: int = TRUTH_REPLICATES,
    seed: int = TRUTH_SEED,
    horizons_months: Sequence[int] = DEFAULT_HORIZONS_MONTHS,
) -> LabelledCohort:
    """The cohort with Monte Carlo true risks for up to ``max_rows`` rows (NaN for the others).

    Rows are those (of ``rows``, default all) whose patient is in ``patients``; the true risk is
    the simulator's own probability of the target given the patient's past (see
    :mod:`riskcalc.cohort._true_risk` and docs/researchers/model.md).
    """
    from riskcalc.cohort._params import day
    from riskcalc.cohort._true_risk import true_risk

    candidates = np.arange(len(cohort)) if rows is None else np.asarray(rows)
    chosen = [int(i) for i in candidates if str(cohort.patient_ids[i]) in patients][:max_rows]
    index_days = [day(d.year, d.month, d.day) for d in (cohort.index_dates[i] for i in chosen)]
    risk, _ = true_risk(
        [patients[str(cohort.patient_ids[i])] for i in chosen],
        index_days,
        horizons_months,
        replicates=replicates,
        seed=seed,
    )
    truth = {}
    for j, h in enumerate(horizons_months):
        col = np.full(len(cohort), np.nan)
        col[chosen] = risk[:, j]
        truth[int(h)] = col
    return dataclasses.replace(cohort, true_risk=truth)


def quality_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """The quality-target numbers of an evaluation, with whether each target is met."""
    comp = metrics["comparisons"].get("without_infection_features", {})
    diff_ci = comp.get("auroc_difference_ci", [float("nan")] * 2)
    out = {
        "seed": CHECK_SEED,
        "interval_level": metrics["interval"]["level"],
        "interval_coverage_of_true_risk": metrics["interval"].get("coverage_of_true_risk"),
        "interval_rows_with_true_risk": metrics["interval"].get("n_with_true_risk"),
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
    cov = metrics["interval"].get("coverage_of_true_risk")
    if cov is not None:
        out["targets_met"]["interval_coverage_within_5_points"] = bool(
            abs(cov - metrics["interval"]["level"]) <= 0.05
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-check", type=int, default=N_CHECK)
    parser.add_argument(
        "--direct",
        action="store_true",
        help="convert simulated patients to histories directly instead of writing Bulk NDJSON "
        "and reading it back through the FHIR reader (faster; for experiments)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    kept: dict[str, SimPatient] = {}
    cohort = simulated_cohort(
        args.n_train,
        TRAIN_SEED,
        via_fhir=not args.direct,
        index_dates_per_patient=INDEX_DATES_PER_PATIENT,
        keep_patients=kept,
        keep_every=20,
    )
    n_patients = len(set(cohort.patient_ids.tolist()))
    print(f"training cohort: {len(cohort)} rows, excluded {dict(cohort.excluded)}", flush=True)
    # true risks for part of the held-out split: the interval scale is fitted there
    _, heldout = holdout_split(cohort, seed=0)
    held_rows = np.flatnonzero(np.isin(cohort.patient_ids, heldout.patient_ids))
    cohort = with_true_risk(cohort, kept, rows=held_rows)
    print(f"true risks for the interval scale: {time.perf_counter() - start:.0f} s", flush=True)
    trained_on = (
        f"Simulated data only: {n_patients} synthetic cancer survivors in remission (of "
        f"{args.n_train} simulated by riskcalc.cohort, seed {TRAIN_SEED}) at "
        f"{len(cohort)} index dates. No real patients."
    )
    model, _ = train_model(
        cohort,
        seed=0,
        model_id=MODEL_ID,
        version="0.2.0",
        trained_on=trained_on,
        simulated=True,
        index_dates_per_patient=INDEX_DATES_PER_PATIENT,
        post_infection_days=POST_INFECTION_DAYS,
        training_extra={
            "generator": "riskcalc.cohort",
            "generator_seed": TRAIN_SEED,
            "index_seed": INDEX_SEED,
            "n_patients_simulated": args.n_train,
            "read_through_fhir": not args.direct,
            "true_risk": f"Monte Carlo, {TRUTH_REPLICATES} re-simulations per patient, up to "
            f"{N_TRUTH_ROWS} held-out rows (interval scale)",
            "command": "make model (python -m riskcalc.model.build_default)",
        },
    )
    print(f"trained: {time.perf_counter() - start:.0f} s", flush=True)
    kept_check: dict[str, SimPatient] = {}
    check = simulated_cohort(
        args.n_check,
        CHECK_SEED,
        via_fhir=not args.direct,
        keep_patients=kept_check,
        keep_every=max(1, args.n_check // 2000),
    )
    check = with_true_risk(check, kept_check, horizons_months=(DEFAULT_HORIZON_MONTHS,))
    report = evaluate(model, check, horizon_months=DEFAULT_HORIZON_MONTHS, seed=1)
    quality = quality_summary(report.metrics)
    quality["n_patients_simulated"] = args.n_check
    print(f"quality on a fresh cohort: {quality}", flush=True)
    _, heldout = holdout_split(cohort, seed=0)
    write_artifact(model, heldout, args.out, quality=quality)
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
