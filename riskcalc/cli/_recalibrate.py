"""``riskcalc recalibrate MODEL COHORT --out DIR``: recalibrate on a local cohort."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from riskcalc.cli._options import add_whole_records


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "recalibrate",
        help="recalibrate a model on a local cohort",
        description="Keep the model's learned ranking and refit its calibration (sigmoid, "
        "CalibratedClassifierCV over FrozenEstimator) on a local labelled cohort; half the "
        "cohort recalibrates, the other half evaluates. Writes a new artifact folder.",
    )
    parser.add_argument("model", help="model artifact folder ('default' for the shipped model)")
    parser.add_argument("cohort", type=Path, help="folder or file of FHIR data")
    parser.add_argument("--out", required=True, type=Path, help="artifact folder to write")
    parser.add_argument("--seed", type=int, default=0, help="seed of index dates and split")
    parser.add_argument(
        "--method", choices=("sigmoid", "isotonic"), default="sigmoid", help="default sigmoid"
    )
    add_whole_records(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit

    from riskcalc.model import load_model, read_cohort, recalibrate_model, write_artifact

    model = load_model(None if args.model == "default" else args.model)
    cohort = read_cohort(args.cohort, seed=args.seed, whole_records=args.whole_records)
    split = GroupShuffleSplit(n_splits=1, test_size=0.5, random_state=args.seed)
    fit_rows, test_rows = next(split.split(np.zeros(len(cohort)), groups=cohort.patient_ids))
    new = recalibrate_model(model, cohort.subset(fit_rows), method=args.method)
    write_artifact(new, cohort.subset(test_rows), args.out, seed=args.seed)
    print(f"recalibrated {model.info.version} -> {new.info.version} in {args.out}")
    return 0
