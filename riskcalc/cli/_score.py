"""``riskcalc score COHORT --out FILE``: score every patient of a cohort, atomically."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cli._assess import iso_date
from riskcalc.cli._options import add_engine, add_whole_records, engine_of


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a cohort to .csv or .parquet",
        description="Score every patient of a cohort (Bulk NDJSON folder, Bundles, files). "
        "Writes FILE and FILE's errors file (<name>.errors.<ext>: patients and files that could "
        "not be read, and input lines skipped) atomically and prints the reconciliation "
        "read = scored + not applicable + failed, with the lines skipped.",
    )
    parser.add_argument("cohort", help="folder or file of FHIR data")
    parser.add_argument("--out", required=True, type=Path, help="output .csv or .parquet")
    parser.add_argument("--as-of", type=iso_date, help="assessment date (default: today)")
    parser.add_argument("--horizon-months", type=int, help="prediction horizon (default 24)")
    parser.add_argument("--model", help="model artifact folder (default: the shipped model)")
    add_engine(parser, what="score")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_whole_records(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from riskcalc.model import load_model
    from riskcalc.report import errors_path_for, score_cohort

    engine = engine_of(args)
    as_of = args.as_of or dt.date.today()
    model = load_model(args.model)
    with tqdm(desc="patients", unit=" patients", file=sys.stderr, disable=args.no_progress) as bar:
        if engine.dask:
            from riskcalc.scale import score_cohort_dask

            reconciliation = score_cohort_dask(
                args.cohort,
                args.out,
                as_of=as_of,
                horizon_months=args.horizon_months,
                model=model,
                scheduler=engine.scheduler,
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
    errors = errors_path_for(Path(args.out))
    print(
        f"riskcalc {__version__}: {reconciliation}; scores in {args.out}, errors in {errors}\n"
        f"{RESEARCH_USE_STATEMENT}",
        file=sys.stderr,
    )
    return 0 if reconciliation.balanced else 1
