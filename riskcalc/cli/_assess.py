"""``riskcalc assess SOURCE``: one patient's risk report as text, JSON or FHIR."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "assess",
        help="risk report for one patient",
        description="Assess one patient: calibrated relapse risk at a horizon, the awakening "
        "score, drivers and model-based hypotheticals. Research use only.",
    )
    parser.add_argument("source", help="FHIR Bundle, NDJSON, resource (.json/.ndjson[.gz|.bz2])")
    parser.add_argument("--patient", help="patient id, when the source holds several")
    parser.add_argument("--as-of", type=iso_date, help="assessment date (default: today)")
    parser.add_argument("--horizon-months", type=int, help="prediction horizon (default 24)")
    parser.add_argument("--model", help="model artifact folder (default: the shipped model)")
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the RiskReport as JSON")
    fmt.add_argument("--fhir", action="store_true", help="a FHIR R4 RiskAssessment")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from riskcalc.model import load_model
    from riskcalc.report import assess, render_text

    report = assess(
        args.source,
        as_of=args.as_of,
        horizon_months=args.horizon_months,
        model=load_model(args.model),
        patient_id=args.patient,
    )
    if args.json:
        print(report.model_dump_json(indent=2))
    elif args.fhir:
        print(json.dumps(report.to_fhir(), indent=2))
    else:
        print(render_text(report))
    return 0
