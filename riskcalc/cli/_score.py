"""``riskcalc score COHORT --out FILE``: score every patient of a cohort, atomically."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from riskcalc.cli._assess import iso_date
from riskcalc.cli._options import add_whole_records


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a cohort to .csv or .parquet",
        description="Score every patient of a cohort (Bulk NDJSON folder, Bundles, files). "
        "Writes FILE and FILE's errors file (<name>.errors.<ext>) atomically and prints the "
        "reconciliation read = scored + not applicable + failed.",
    )
    parser.add_argument("cohort", help="folder or file of FHIR data")
    parser.add_argument("--out", required=True, type=Path, help="output .csv or .parquet")
    parser.add_argument("--as-of", type=iso_date, help="assessment date (default: today)")
    parser.add_argument("--horizon-months", type=int, help="prediction horizon (default 24)")
    parser.add_argument("--model", help="model artifact folder (default: the shipped model)")
    parser.add_argument(
        "--engine", choices=("local", "dask"), default="local", help="where to run (default local)"
    )
    parser.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_whole_records(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from riskcalc.model import load_model
    from riskcalc.report import score_cohort

    as_of = args.as_of or dt.date.today()
    model = load_model(args.model)
    with tqdm(desc="patients", unit=" patients", file=sys.stderr, disable=args.no_progress) as bar:
        if args.engine == "dask":
            from riskcalc.scale import score_cohort_dask

            reconciliation = score_cohort_dask(
                args.cohort,
                args.out,
                as_of=as_of,
                horizon_months=args.horizon_months,
                model=model,
                scheduler=args.scheduler,
                on_progress=bar.update,
                whole_records=args.whole_records,
            )
        else:
            reconciliation = score_cohort(
                args.cohort,
                args.out,
                as_of=as_of,
                horizon_months=args.horizon_months,
                model=model,
                on_progress=bar.update,
                whole_records=args.whole_records,
            )
    print(f"{reconciliation}; scores in {args.out}", file=sys.stderr)
    return 0 if reconciliation.balanced else 1
