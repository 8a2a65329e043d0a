"""``riskcalc replicate COHORT [--json]``: the UK-Biobank-style and Flatiron-style analyses.

Reads the cohort's FHIR through the reader (:func:`riskcalc.cohort.replicate`) and prints the
odds ratio of cancer death (SARS-CoV-2 positive vs negative in 2020) and the hazard ratio of lung
metastasis (COVID-19 as a time-varying exposure), each with its 95% CI.
"""

from __future__ import annotations

from typing import Any

import orjson

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cohort import replicate
from riskcalc.errors import InputError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replicate",
        help="re-run the two human analyses (UK Biobank OR, Flatiron HR) on a FHIR cohort",
        description=(
            "Re-run the UK-Biobank-style matched analysis and the Flatiron-style time-varying "
            "Cox analysis on a cohort, through the FHIR reader. " + RESEARCH_USE_STATEMENT
        ),
    )
    parser.add_argument("cohort", help="a folder written by `riskcalc simulate`, or any FHIR")
    parser.add_argument("--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    result = replicate(args.cohort).to_dict()
    if result["patients_read"] == 0:
        failures = result["read_failures"]
        raise InputError(
            "input.no_patient",
            f"no patient could be read from {args.cohort}"
            + (f" ({failures} read failure(s): `riskcalc history` shows them)" if failures else ""),
        )
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return 0
    u, f = result["ukb_or"], result["flatiron_hr"]
    print(f"riskcalc {__version__}: replication on {args.cohort}")
    print(
        f"  UK-Biobank-style OR (cancer death, SARS-CoV-2 +/- in 2020): {u['estimate']:.2f} "
        f"(95% CI {u['ci_low']:.2f}-{u['ci_high']:.2f}; n={u['n']}, events={u['events']}; "
        f"controls: {result['ukb_controls']}); published 1.85 (1.14-3.02)"
    )
    print(
        f"  Flatiron-style HR (lung metastasis, COVID-19 time-varying): {f['estimate']:.2f} "
        f"(95% CI {f['ci_low']:.2f}-{f['ci_high']:.2f}; n={f['n']}, events={f['events']}); "
        "published 1.44"
    )
    print(f"  patients read: {result['patients_read']}, read failures: {result['read_failures']}")
    print(RESEARCH_USE_STATEMENT)
    return 0
