"""``riskcalc recalibrate MODEL COHORT --out DIR``: recalibrate on a local cohort."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cli._options import add_whole_records
from riskcalc.errors import ConfigError


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
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="artifact folder to write: new, empty, or another model's (replaced); not MODEL",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of index dates and split")
    parser.add_argument(
        "--method", choices=("sigmoid", "isotonic"), default="sigmoid", help="default sigmoid"
    )
    add_whole_records(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from riskcalc._output import check_outside, is_within, probe_writable
    from riskcalc.cli._train import require_patients
    from riskcalc.model import (
        default_model_dir,
        load_model,
        read_cohort,
        recalibrate_model,
        write_artifact,
    )
    from riskcalc.model._artifact import check_artifact_target
    from riskcalc.model._train import holdout_split

    source = default_model_dir() if args.model == "default" else Path(args.model)
    if is_within(args.out, source):
        raise ConfigError(
            "config.invalid",
            f"--out {args.out} is the model being recalibrated ({source}): it would be replaced; "
            "write the recalibrated model to a new folder",
        )
    check_artifact_target(args.out)  # before the cohort is read
    check_outside(args.out, args.cohort, "the cohort")
    probe_writable(args.out)
    model = load_model(None if args.model == "default" else args.model)
    cohort = read_cohort(args.cohort, seed=args.seed, whole_records=args.whole_records)
    require_patients(cohort, args.cohort)
    fit, test = holdout_split(cohort, seed=args.seed, test_fraction=0.5)
    new = recalibrate_model(model, fit, method=args.method)
    write_artifact(new, test, args.out, seed=args.seed)
    print(
        f"riskcalc {__version__}: recalibrated {model.info.version} -> {new.info.version} "
        f"in {args.out}"
    )
    print(RESEARCH_USE_STATEMENT)
    return 0
