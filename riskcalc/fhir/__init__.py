"""FHIR in: bytes, files and folders to validated resources to :class:`PatientHistory`.

The only package that imports fhir.resources. FHIR R4 data is validated with the R4B models
(fhir.resources has no R4 subpackage; the differences do not touch the resources used here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from riskcalc.config import DEFAULT_LIMITS, Limits
from riskcalc.history import PatientHistory, ReadFailure

Source = str | bytes | Path | dict[str, Any]


def read_history(
    source: Source, *, patient_id: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> PatientHistory:
    """Read one patient's history. (Being implemented: see issue 2.)"""
    raise NotImplementedError


def read_histories(
    source: Source, *, limits: Limits = DEFAULT_LIMITS
) -> Iterator[PatientHistory | ReadFailure]:
    """Read every patient in a source. (Being implemented: see issue 2.)"""
    raise NotImplementedError
