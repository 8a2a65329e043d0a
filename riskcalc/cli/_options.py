"""Options that several subcommands share, defined once."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any


def add_whole_records(parser: Any) -> None:
    """``--whole-records``: read records split over a folder's JSON files whole
    (``read_histories(whole_records=True)``)."""
    parser.add_argument(
        "--whole-records",
        action="store_true",
        help="read a patient whose record is split over several JSON files of the folder as one "
        "record (a first pass over the JSON files finds them; default: the first file's part, "
        "the later parts as input.patient_repeated failures)",
    )


def add_engine(parser: Any, *, what: str) -> None:
    """``--engine local|dask`` and ``--scheduler ADDRESS`` (which implies ``--engine dask``);
    read them with :func:`engine_of`. ``what`` says what the engine does (``"score"``)."""
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        help=f"{what} in this process (local, the default) or on a Dask cluster (dask): the "
        "same output",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler to run on, tcp://host:port (implies --engine dask; every worker "
        "must see the cohort at the same path); default: a LocalCluster of one worker per core",
    )


@dataclass(frozen=True)
class Engine:
    """Where a command runs: in this process, or on Dask (``scheduler``: an address, or None
    for a LocalCluster)."""

    dask: bool
    scheduler: str | None = None


def engine_of(args: argparse.Namespace) -> Engine:
    """The engine :func:`add_engine`'s options ask for, checked before any work.

    Raises
    ------
    ConfigError
        ``config.invalid``: ``--scheduler`` with ``--engine local``, or an address that is not
        ``tcp://host:port``; the Dask extra is not installed.
    """
    from riskcalc.errors import ConfigError

    if args.scheduler is None:
        return Engine(dask=args.engine == "dask")
    if args.engine == "local":
        raise ConfigError(
            "config.invalid",
            "--scheduler runs on a Dask cluster and --engine local in this process: give one "
            "of them (--scheduler implies --engine dask)",
        )
    from riskcalc.scale import check_scheduler

    return Engine(dask=True, scheduler=check_scheduler(args.scheduler))
