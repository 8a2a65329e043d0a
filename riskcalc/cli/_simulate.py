"""``riskcalc simulate --patients N --seed S --out DIR [--format ndjson|bundles]``.

Writes a synthetic cohort (FHIR R4 in ``DIR/fhir``, hidden ground truth in ``DIR/ground_truth``)
with :func:`riskcalc.cohort.write_cohort`; a progress bar goes to stderr.
"""

from __future__ import annotations

from typing import Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cohort import OutputFormat, write_cohort


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="write a synthetic cohort of cancer survivors as FHIR",
        description=(
            "Simulate cancer survivors with respiratory infections and a stochastic, cell-level "
            "ground truth of relapse, and write them as FHIR R4. " + RESEARCH_USE_STATEMENT
        ),
    )
    parser.add_argument("--patients", type=int, required=True, metavar="N")
    parser.add_argument("--seed", type=int, required=True, metavar="S")
    parser.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder")
    parser.add_argument(
        "--format", choices=[f.value for f in OutputFormat], default=OutputFormat.NDJSON.value
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    out = write_cohort(
        args.out,
        n_patients=args.patients,
        seed=args.seed,
        fmt=OutputFormat(args.format),
        progress=not args.no_progress,
    )
    print(
        f"riskcalc {__version__}: wrote {args.patients} simulated patients (seed {args.seed}) to "
        f"{out}/fhir; ground truth in {out}/ground_truth (not FHIR; readers never see it).\n"
        f"{RESEARCH_USE_STATEMENT}"
    )
    return 0
