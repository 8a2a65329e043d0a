"""``riskcalc train COHORT --out DIR``: train, evaluate on a held-out split, write the artifact."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cli._options import add_engine, add_whole_records, engine_of
from riskcalc.config import MAX_HORIZON_MONTHS
from riskcalc.errors import ConfigError, InputError

if TYPE_CHECKING:
    from riskcalc.model import LabelledCohort

_DEFAULT_HORIZONS = "12,24,36,60"  # riskcalc.model.DEFAULT_HORIZONS_MONTHS (not imported: slow)
_DEFAULT_HORIZON = 24  # riskcalc.model.DEFAULT_HORIZON_MONTHS


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
        "--horizon-months",
        type=int,
        help="the model's default horizon, one of --horizons (default: 24 if trained, else the "
        "only horizon of a single --horizons)",
    )
    parser.add_argument(
        "--horizons",
        default=_DEFAULT_HORIZONS,
        help=f"comma-separated horizons in months to train, each 1 to {MAX_HORIZON_MONTHS} "
        f"(default {_DEFAULT_HORIZONS})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of index dates and splits")
    parser.add_argument("--model-id", default="riskcalc-relapse", help="model id to record")
    parser.add_argument(
        "--simulated",
        action="store_true",
        help="the cohort is simulated (recorded in the model card and on every output)",
    )
    add_engine(parser, what="read the cohort")
    add_whole_records(parser)
    parser.set_defaults(func=run)


def parse_horizons(text: str, default: int | None) -> tuple[tuple[int, ...], int]:
    """The horizons to train (sorted, each once) and the default horizon, from the arguments.

    Raises ConfigError ``config.invalid`` for an empty list, a horizon that is not a whole
    number from 1 to :data:`MAX_HORIZON_MONTHS`, or a default horizon not among them (it is never
    added silently: a model trained on a horizon nobody asked for).
    """
    parts = [part.strip() for part in text.split(",")]
    if not any(parts):
        raise ConfigError("config.invalid", "--horizons is empty; give months, e.g. 12,24,36,60")
    try:
        horizons = tuple(sorted({int(part) for part in parts if part}))
    except ValueError as exc:
        raise ConfigError(
            "config.invalid", f"--horizons must be whole numbers of months: {text!r}"
        ) from exc
    for horizon in (*horizons, *([] if default is None else [default])):
        if not 1 <= horizon <= MAX_HORIZON_MONTHS:
            raise ConfigError(
                "config.invalid",
                f"horizon {horizon} months is out of range: a horizon is 1 to "
                f"{MAX_HORIZON_MONTHS} months (ten years)",
            )
    if default is None:
        if _DEFAULT_HORIZON in horizons:
            default = _DEFAULT_HORIZON
        elif len(horizons) == 1:
            default = horizons[0]
        else:
            raise ConfigError(
                "config.invalid",
                f"--horizons {text} does not include {_DEFAULT_HORIZON}: choose the default "
                f"horizon among them with --horizon-months",
            )
    if default not in horizons:
        raise ConfigError(
            "config.invalid",
            f"--horizon-months {default} is not among --horizons {text}: add it to --horizons, "
            "or choose one of them",
        )
    return horizons, default


def require_patients(cohort: LabelledCohort, source: object) -> None:
    """InputError ``input.no_patient`` if no patient history was read from ``source`` (an empty
    folder, or only read failures): there is nothing to train, evaluate or recalibrate on."""
    read = sum(n for reason, n in cohort.excluded.items() if reason != "read_failure")
    if len(cohort) == 0 and read == 0:
        failures = cohort.excluded.get("read_failure", 0)
        raise InputError(
            "input.no_patient",
            f"no patient could be read from {source}"
            + (f" ({failures} read failure(s): `riskcalc history` shows them)" if failures else ""),
        )


def run(args: argparse.Namespace) -> int:
    from riskcalc._output import check_outside, probe_writable
    from riskcalc.model import prepare_cohort, read_cohort, train_model
    from riskcalc.model._artifact import check_artifact_target

    horizons, default_horizon = parse_horizons(str(args.horizons), args.horizon_months)
    check_artifact_target(args.out)  # before the cohort is read: that takes minutes
    check_outside(args.out, args.cohort, "the cohort")
    probe_writable(args.out)
    engine = engine_of(args)
    if engine.dask:
        from riskcalc.scale import histories_dask

        cohort = prepare_cohort(
            histories_dask(
                args.cohort, scheduler=engine.scheduler, whole_records=args.whole_records
            ),
            seed=args.seed,
        )
    else:
        cohort = read_cohort(args.cohort, seed=args.seed, whole_records=args.whole_records)
    require_patients(cohort, args.cohort)
    n_patients = len(set(cohort.patient_ids.tolist()))
    trained_on = (
        f"{'Simulated' if args.simulated else 'User-supplied'} cohort read from "
        f"'{args.cohort}': {n_patients} patients in remission at their index dates "
        f"({len(cohort)} patient-index-date rows)"
    )
    _, report = train_model(
        cohort,
        horizons_months=horizons,
        default_horizon_months=default_horizon,
        seed=args.seed,
        model_id=args.model_id,
        trained_on=trained_on,
        simulated=bool(args.simulated),
        out_dir=args.out,
    )
    m = report.metrics
    print(
        f"riskcalc {__version__}: trained {args.out}: n={m['n']} events={m['events']} "
        f"auroc={m['auroc']:.3f} slope={m['calibration_slope']:.2f} "
        f"intercept={m['calibration_intercept']:+.4f} ici={m['ici']:.4f} "
        f"(held-out split, {m['horizon_months']} months)"
    )
    print(RESEARCH_USE_STATEMENT)
    return 0
