"""``riskcalc history SOURCE [--patient ID] [--json]``: the patient history as read from FHIR.

A readable summary by default; ``--json`` prints ``PatientHistory.model_dump(mode="json")``, one
JSON object per line when the source holds several patients. Patients that cannot be read are
reported on stderr with their error code, and the exit status is then 3 (input error).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cli._options import add_whole_records
from riskcalc.errors import InputError
from riskcalc.fhir import read_histories, read_history
from riskcalc.history import PatientHistory, ReadFailure


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "history",
        help="read a FHIR source and show each patient's history",
        description=(
            "Read FHIR (Bundle, NDJSON export, resource; .gz/.bz2; or a folder) and show the "
            "patient history riskcalc derives from it. " + RESEARCH_USE_STATEMENT
        ),
    )
    parser.add_argument("source", help="a .json/.ndjson file (optionally .gz/.bz2) or a folder")
    parser.add_argument("--patient", metavar="ID", help="read only this patient")
    parser.add_argument("--json", action="store_true", help="JSON output (one object per line)")
    add_whole_records(parser)
    parser.set_defaults(func=run)


def _json_line(history: PatientHistory) -> str:
    return orjson.dumps(history.model_dump(mode="json")).decode()


def summary(history: PatientHistory) -> str:
    """A readable summary of one history."""
    lines = [f"Patient {history.patient_id}: {history.sex}, born {history.birth_date or 'unknown'}"]
    if history.deceased_date:
        lines.append(f"  died {history.deceased_date}")
    lines.append(
        f"  at-risk start: {history.at_risk_start or 'unknown'} "
        f"(basis: {history.at_risk_start_basis.value}); last contact {history.last_contact}"
    )
    for c in history.cancers:
        lines.append(
            f"  cancer: {c.site.value}, onset {c.onset or '?'}, abated {c.abatement or '-'}, "
            f"status {c.clinical_status.value if c.clinical_status else '?'}, stage {c.stage or '?'}"
        )
    for e in history.infections:
        il6 = f", IL-6 peak {e.il6_peak_pg_ml:g} pg/mL" if e.il6_peak_pg_ml is not None else ""
        extra = "".join(
            [
                ", IL-6 blockade" if e.il6_blockade else "",
                ", corticosteroids" if e.corticosteroids else "",
            ]
        )
        lines.append(
            f"  infection: {e.pathogen.value} {e.onset}..{e.end}, {e.severity.value}{il6}{extra} "
            f"({len(e.sources)} records)"
        )
    for t in history.treatments:
        lines.append(f"  treatment: {t.kind.value} {t.start or '?'}..{t.end or '?'}")
    if history.vaccinations:
        kinds = sorted({v.vaccine.value for v in history.vaccinations})
        lines.append(f"  vaccinations: {len(history.vaccinations)} ({', '.join(kinds)})")
    for o in history.outcomes:
        lines.append(f"  outcome: {o.kind.value} on {o.date}")
    for w in history.warnings:
        lines.append(f"  warning [{w.code}] {w.message}")
    return "\n".join(lines)


def _print_failure(failure: ReadFailure) -> None:
    where = ", ".join(p for p in (failure.resource_id, failure.location) if p)
    who = f"Patient/{failure.patient_id}: " if failure.patient_id else ""
    print(
        f"riskcalc: error [{failure.code}] {who}{failure.message}"
        + (f" (at {where})" if where else ""),
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    if args.patient:
        histories: list[PatientHistory | ReadFailure] = [
            read_history(args.source, patient_id=args.patient)
        ]
    else:
        histories = list(read_histories(args.source, whole_records=args.whole_records))
        if not any(isinstance(h, PatientHistory) for h in histories) and not histories:
            raise InputError("input.no_patient", f"{args.source} holds no Patient resource")
    failed = False
    if not args.json:
        print(f"riskcalc {__version__}. {RESEARCH_USE_STATEMENT}\n")
    for h in histories:
        if isinstance(h, ReadFailure):
            failed = True
            _print_failure(h)
        elif args.json:
            print(_json_line(h))
        else:
            print(summary(h) + "\n")
    return InputError.exit_status if failed else 0
