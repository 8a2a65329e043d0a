"""``riskcalc evaluate MODEL COHORT``: the evaluation report on any labelled cohort."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from riskcalc._meta import __version__
from riskcalc.cli._options import add_whole_records


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on a labelled cohort (external validation)",
        description="Write metrics.json (AUROC with CI, Brier, calibration intercept/slope, ICI, "
        "decision curve, subgroups, comparisons) and PNG figures for a model on a cohort.",
    )
    parser.add_argument("model", help="model artifact folder ('default' for the shipped model)")
    parser.add_argument("cohort", type=Path, help="folder or file of FHIR data")
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for metrics.json and figures/ (not a model's folder, nor in the cohort's)",
    )
    parser.add_argument("--horizon-months", type=int, help="horizon (default: the model's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the index dates (default 0)")
    parser.add_argument("--json", action="store_true", help="print metrics as JSON")
    add_whole_records(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from riskcalc._output import check_outside, probe_writable
    from riskcalc.cli._train import require_patients
    from riskcalc.model import evaluate, load_model, read_cohort
    from riskcalc.model._artifact import check_report_folder

    if args.out is not None:
        check_report_folder(args.out)
        check_outside(args.out, args.cohort, "the cohort")
        probe_writable(args.out, into=True)
    model = load_model(None if args.model == "default" else args.model)
    cohort = read_cohort(args.cohort, seed=args.seed, whole_records=args.whole_records)
    require_patients(cohort, args.cohort)
    report = evaluate(model, cohort, horizon_months=args.horizon_months, out_dir=args.out)
    if args.json:
        print(report.to_json())
    else:
        m = report.metrics
        print(
            f"riskcalc {__version__}: {m['model_id']} {m['model_version']} on {args.cohort}: "
            f"n={m['n']} events={m['events']} auroc={m['auroc']:.3f} "
            f"[{m['auroc_ci'][0]:.3f}, {m['auroc_ci'][1]:.3f}] brier={m['brier']:.4f} "
            f"intercept={m['calibration_intercept']:+.4f} slope={m['calibration_slope']:.2f} "
            f"ici={m['ici']:.4f} ({m['horizon_months']} months)"
        )
        for issue in m.get("warnings", []):
            print(f"warning [{issue['code']}] {issue['message']}")
        print(m["research_use_statement"])
    return 0
