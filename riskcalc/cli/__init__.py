"""The ``riskcalc`` command line: a thin layer over the library.

Each subcommand lives in its own module (``riskcalc/cli/_<name>.py``) exposing
``add_parser(subparsers) -> None``, which registers the subcommand and sets ``func`` (a callable
taking the parsed arguments and returning an exit status). This module only dispatches and turns
:class:`~riskcalc.errors.RiskCalcError` into a one-line message on stderr and the category's exit
status: a user never sees a Python traceback.

Exit statuses: 0 success; 1 other riskcalc error; 2 usage error; 3 input error; 4 model error;
5 configuration error; 6 remote FHIR server error; 70 internal error (a bug: please report it).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

from riskcalc._meta import __version__
from riskcalc.errors import RiskCalcError

# In the order `riskcalc --help` lists them.
SUBCOMMANDS = (
    "history",
    "awakening",
    "assess",
    "score",
    "simulate",
    "replicate",
    "train",
    "evaluate",
    "recalibrate",
    "serve",
    "app",
)

EXIT_INTERNAL = 70


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="riskcalc",
        description=(
            "Relapse-risk estimates for cancer survivors from FHIR records of respiratory "
            "infections. Research use only."
        ),
    )
    parser.add_argument("--version", action="version", version=f"riskcalc {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"riskcalc.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"riskcalc.cli._{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (also used as the console-script entry point)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    func = cast(Callable[[argparse.Namespace], int], args.func)
    try:
        return func(args)
    except RiskCalcError as exc:
        print(f"riskcalc: error {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("riskcalc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last resort: a bug must still not show a traceback to a user
        print(
            f"riskcalc: internal error ({type(exc).__name__}: {exc}). This is a bug in riskcalc; "
            "please report it with the command you ran.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
