"""Options that several subcommands share, defined once."""

from __future__ import annotations

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
