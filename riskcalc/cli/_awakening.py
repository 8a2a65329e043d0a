"""``riskcalc awakening SOURCE --as-of DATE [--preset human|mouse] [--no-carry-over] [--json]``.

Reads one patient with :func:`riskcalc.read_history` and prints the mechanistic cumulative-awakening
score (:func:`riskcalc.awakening.score`): the score, its background, each infection's contribution
and the hazard multiplier, with the model versions and the research-use statement. ``--sensitivity``
adds the tornado rows (:func:`riskcalc.awakening.sensitivity`).
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import orjson

from riskcalc import awakening
from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.errors import ConfigError, Issue
from riskcalc.fhir import read_history
from riskcalc.history import PatientHistory
from riskcalc.report import not_applicable_reason


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "awakening",
        help="mechanistic cumulative-awakening score of one patient",
        description=(
            "Score how a patient's respiratory infections may have awakened dormant cancer cells "
            "(an exploratory mechanistic index, not a risk estimate). " + RESEARCH_USE_STATEMENT
        ),
    )
    parser.add_argument(
        "source", help="a FHIR .json/.ndjson file (optionally .gz/.bz2) or a folder"
    )
    parser.add_argument("--as-of", required=True, type=_date, metavar="DATE", help="YYYY-MM-DD")
    parser.add_argument("--patient", metavar="ID", help="the patient, if the source holds several")
    parser.add_argument(
        "--preset",
        choices=[p.value for p in awakening.Preset],
        default=awakening.Preset.HUMAN.value,
    )
    parser.add_argument(
        "--no-carry-over",
        dest="carry_over",
        action="store_false",
        help="awakened cells do not carry over between episodes (only the latest counts)",
    )
    parser.add_argument("--sensitivity", action="store_true", help="add the tornado rows")
    parser.add_argument("--json", action="store_true", help="JSON output")
    parser.set_defaults(func=run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _issues(history: PatientHistory, result: awakening.AwakeningResult) -> list[Issue]:
    """The history's warnings (what the reader passed over or doubted), then the score's own."""
    issues = list(history.warnings)
    return issues + [i for i in result.issues if i not in issues]


def as_dict(
    history: PatientHistory,
    result: awakening.AwakeningResult,
    rows: list[awakening.SensitivityRow] | None = None,
) -> dict[str, Any]:
    """The result as plain data (the ``--json`` output). ``risk_model_not_applicable`` is why
    ``riskcalc assess`` gives this patient no risk at the same date (None if it does)."""
    out: dict[str, Any] = {
        "patient_id": history.patient_id,
        "as_of": result.as_of.isoformat(),
        "at_risk_start": result.at_risk_start.isoformat(),
        "preset": result.preset,
        "carry_over": result.carry_over,
        "score": round(result.score, 6),
        "background": round(result.background, 6),
        "hazard_multiplier": round(result.hazard_multiplier, 6),
        "contributions": [
            {**c.model_dump(mode="json"), "contribution": round(c.contribution, 6)}
            for c in result.contributions
        ],
        "risk_model_not_applicable": not_applicable_reason(history, result.as_of),
        "issues": [i.model_dump(mode="json") for i in _issues(history, result)],
        "parameters_version": result.parameters_version,
        "riskcalc_version": __version__,
        "research_use_statement": RESEARCH_USE_STATEMENT,
    }
    if rows is not None:
        out["sensitivity"] = [
            {
                "parameter": r.parameter,
                "unit": r.unit,
                "confidence": r.confidence,
                "low_value": r.low_value,
                "high_value": r.high_value,
                "score_low": round(r.score_low, 6),
                "score_high": round(r.score_high, 6),
                "baseline_score": round(r.baseline_score, 6),
            }
            for r in rows
        ]
    return out


def as_text(
    history: PatientHistory,
    result: awakening.AwakeningResult,
    rows: list[awakening.SensitivityRow] | None = None,
) -> str:
    """A readable report of the result."""
    lines = [
        f"riskcalc {__version__}, awakening parameters {result.parameters_version}. "
        f"{RESEARCH_USE_STATEMENT}",
        "",
        f"Patient {history.patient_id}: awakening score on {result.as_of} "
        f"(preset {result.preset}, carry-over {'on' if result.carry_over else 'off'})",
        f"  score {result.score:.3f} (1.0 = one typical mild infection's worth, 90 days after it)",
        f"  background without infections {result.background:.3f}",
        f"  hazard multiplier {result.hazard_multiplier:.3f} (model-based, exploratory)",
        f"  at-risk start {result.at_risk_start}",
    ]
    for c in result.contributions:
        il6 = f"{c.il6_peak_pg_ml:g} pg/mL" + (" (default)" if c.il6_assumed else " (measured)")
        lines.append(
            f"  {c.onset} {c.pathogen.value}, {c.severity.value}, IL-6 {il6}: +{c.contribution:.3f}"
        )
    reason = not_applicable_reason(history, result.as_of)
    if reason is not None:
        lines.append(f"  the risk model does not apply to this patient on {result.as_of}: {reason}")
    for issue in _issues(history, result):
        lines.append(f"  note [{issue.code}] {issue.message}")
    if rows:
        lines.append("  sensitivity (score at the low / high end of each parameter's range):")
        for r in rows:
            if r.swing > 0:
                lines.append(
                    f"    {r.parameter} [{r.confidence}] {r.low_value:g}..{r.high_value:g} "
                    f"{r.unit}: {r.score_low:.3f} .. {r.score_high:.3f}"
                )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if not isinstance(args.as_of, dt.date):
        raise ConfigError("config.invalid", f"--as-of must be a date, got {args.as_of!r}")
    history = read_history(args.source, patient_id=args.patient)
    result = awakening.score(
        history, as_of=args.as_of, preset=args.preset, carry_over=args.carry_over
    )
    rows = (
        awakening.sensitivity(
            history, as_of=args.as_of, preset=args.preset, carry_over=args.carry_over
        )
        if args.sensitivity
        else None
    )
    if args.json:
        print(orjson.dumps(as_dict(history, result, rows)).decode())
    else:
        print(as_text(history, result, rows))
    return 0
