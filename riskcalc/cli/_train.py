"""``riskcalc train COHORT --out DIR``: train, evaluate on a held-out split, write the artifact."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from riskcalc.cli._options import add_whole_records


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a calibrated relapse-risk model on a labelled cohort",
        description="Read a cohort through the FHIR reader, choose index dates by the documented "
        "policy, label relapse or cancer death within each horizon (IPCW for censoring), train "
        "one calibrated model per horizon, evaluate it on a held-out split and write the artifact "
        "folder (skops model, schema, metrics, figures, model card, HTI-1 attributes, manifest).",
    )
    parser.add_argument("cohort", type=Path, help="folder or file of FHIR data")
    parser.add_argument("--out", required=True, type=Path, help="artifact folder to write")
    parser.add_argument(
        "--horizon-months", type=int, default=24, help="default horizon (default 24)"
    )
    parser.add_argument(
        "--horizons",
        default="12,24,36,60",
        help="comma-separated horizons in months to train (default 12,24,36,60)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of index dates and splits")
    parser.add_argument("--model-id", default="riskcalc-relapse", help="model id to record")
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="the cohort is simulated (recorded in the model card and on every output)",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="read the cohort in this process or on Dask (default local); same histories",
    )
    parser.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    add_whole_records(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from riskcalc.errors import ConfigError
    from riskcalc.model import prepare_cohort, read_cohort, train_model

    try:
        horizons = tuple(int(h) for h in str(args.horizons).split(",") if h.strip())
    except ValueError as exc:
        raise ConfigError(
            "config.invalid", f"--horizons must be integers: {args.horizons!r}"
        ) from exc
    if args.horizon_months not in horizons:
        horizons = (*horizons, args.horizon_months)
    if args.engine == "dask":
        from riskcalc.scale import histories_dask

        cohort = prepare_cohort(
            histories_dask(args.cohort, scheduler=args.scheduler, whole_records=args.whole_records),
            seed=args.seed,
        )
    else:
        cohort = read_cohort(args.cohort, seed=args.seed, whole_records=args.whole_records)
    n_patients = len(set(cohort.patient_ids.tolist()))
    trained_on = (
        f"{'Simulated' if args.simulated else 'User-supplied'} cohort read from "
        f"'{args.cohort}': {n_patients} patients in remission at their index dates "
        f"({len(cohort)} patient-index-date rows)"
    )
    _, report = train_model(
        cohort,
        horizons_months=horizons,
        default_horizon_months=args.horizon_months,
        seed=args.seed,
        model_id=args.model_id,
        trained_on=trained_on,
        simulated=bool(args.simulated),
        out_dir=args.out,
    )
    m = report.metrics
    print(
        f"trained {args.out}: n={m['n']} events={m['events']} auroc={m['auroc']:.3f} "
        f"slope={m['calibration_slope']:.2f} intercept={m['calibration_intercept']:+.4f} "
        f"ici={m['ici']:.4f} (held-out split, {m['horizon_months']} months)"
    )
    return 0
