"""Synthetic cohorts of cancer survivors in FHIR, and the two human analyses re-run on them.

``write_cohort`` simulates patients (a stochastic, cell-level ground truth of dormant-cell
awakening; not the scoring model) and writes FHIR R4 (Bulk Data NDJSON or Bundles) plus a hidden
ground-truth table. ``replicate`` reads any cohort through the FHIR reader and re-runs the
UK-Biobank-style and Flatiron-style analyses of Chia et al. (Nature 2025). See
``docs/science/cohort.md`` for every rate and assumption.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskcalc._meta import RESEARCH_USE_STATEMENT, __version__
from riskcalc.cohort._analysis import (
    Estimate,
    cox_hr,
    cox_time_varying,
    flatiron_rows,
    mantel_haenszel_or,
    ukb_row,
)
from riskcalc.cohort._history import to_history
from riskcalc.cohort._params import TruthParams
from riskcalc.cohort._records import SimPatient
from riskcalc.cohort._writer import OutputFormat, iter_patients, write_cohort
from riskcalc.history import PatientHistory, ReadFailure

__all__ = [
    "Estimate",
    "OutputFormat",
    "ReplicationResult",
    "SimPatient",
    "TruthParams",
    "cox_time_varying",
    "fhir_dir",
    "iter_patients",
    "replicate",
    "replicate_histories",
    "to_history",
    "write_cohort",
]


@dataclass(frozen=True)
class ReplicationResult:
    """Both analyses on one cohort, with how many records were read and failed."""

    ukb_or: Estimate
    flatiron_hr: Estimate
    patients_read: int
    read_failures: int
    failure_codes: dict[str, int] = field(default_factory=dict)
    ukb_controls: str = "test-negative"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ukb_or": self.ukb_or.to_dict(),
            "flatiron_hr": self.flatiron_hr.to_dict(),
            "patients_read": self.patients_read,
            "read_failures": self.read_failures,
            "failure_codes": dict(sorted(self.failure_codes.items())),
            "ukb_controls": self.ukb_controls,
            "targets": {"ukb_or": 1.85, "ukb_or_ci": [1.14, 3.02], "flatiron_hr": 1.44},
            "riskcalc_version": __version__,
            "research_use": RESEARCH_USE_STATEMENT,
        }


def replicate_histories(histories: Iterable[PatientHistory | ReadFailure]) -> ReplicationResult:
    """Run both analyses on histories (streamed: only the analysis rows are kept).

    If no history carries any virus test (a reader that does not report tests), the UK-Biobank
    controls fall back to all eligible survivors without a positive in 2020 and
    ``ukb_controls`` says ``"untested-population"``.
    """
    ukb = []
    ukb_fallback = []
    any_tests = False
    flatiron = []
    read = failed = 0
    codes: dict[str, int] = {}
    for h in histories:
        if isinstance(h, ReadFailure):
            failed += 1
            codes[h.code] = codes.get(h.code, 0) + 1
            continue
        read += 1
        any_tests = any_tests or bool(h.tests)
        row = ukb_row(h)
        if row is not None:
            ukb.append(row)
        row = ukb_row(h, require_test=False)
        if row is not None:
            ukb_fallback.append(row)
        rows = flatiron_rows(h)
        if rows is not None:
            flatiron.append(rows)
    if any_tests:
        return ReplicationResult(mantel_haenszel_or(ukb), cox_hr(flatiron), read, failed, codes)
    return ReplicationResult(
        mantel_haenszel_or(ukb_fallback),
        cox_hr(flatiron),
        read,
        failed,
        codes,
        ukb_controls="untested-population",
    )


def fhir_dir(source: str | os.PathLike[str]) -> Path:
    """The FHIR part of a cohort: ``DIR/fhir`` for a simulator output folder, else ``source``."""
    path = Path(source)
    return path / "fhir" if (path / "fhir").is_dir() else path


def replicate(source: str | os.PathLike[str]) -> ReplicationResult:
    """Re-run the UK-Biobank-style and Flatiron-style analyses on a FHIR cohort.

    Parameters
    ----------
    source
        A folder written by :func:`write_cohort` (its ``fhir/`` part is read, never the ground
        truth), or any file/folder of FHIR that :func:`riskcalc.read_histories` accepts.

    Returns
    -------
    ReplicationResult
        ``ukb_or`` (odds ratio of cancer death, SARS-CoV-2 positive vs negative in 2020) and
        ``flatiron_hr`` (hazard ratio of lung metastasis with COVID-19 as a time-varying
        exposure), each with its 95% CI, size and events.
    """
    from riskcalc.fhir import read_histories

    return replicate_histories(read_histories(fhir_dir(source)))
