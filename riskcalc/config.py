"""Settings that callers may change (input limits), and the checks of public arguments."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from riskcalc.errors import ConfigError


class Limits(BaseModel):
    """Limits enforced before or while parsing, so hostile input cannot exhaust the machine.

    The defaults admit the largest real records seen (Synthea bundles of about 60 MB).
    """

    model_config = ConfigDict(frozen=True)

    max_bytes: int = Field(
        512 * 1024 * 1024, gt=0, description="Largest input, bytes (after decompression)"
    )
    max_depth: int = Field(64, gt=0, description="Deepest JSON nesting")
    max_resources_per_patient: int = Field(500_000, gt=0)


DEFAULT_LIMITS = Limits()

#: The longest horizon a model is trained for, in months (ten years). Survivor cohorts rarely
#: follow patients longer; past the follow-up of most of the cohort the labels rest on the
#: inverse-probability-of-censoring weights of a few patients (and, with the data cut-off, on
#: the oldest index dates alone); and the features describe the infections of the last years,
#: which say little about decades ahead.
MAX_HORIZON_MONTHS = 120


def as_date(value: object, name: str) -> dt.date:
    """A date argument as a date: a ``date``, a ``datetime`` (its day) or ISO text
    (``YYYY-MM-DD``); ConfigError ``config.invalid`` for anything else.

    >>> as_date("2026-01-01", "as_of")
    datetime.date(2026, 1, 1)
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ConfigError(
                "config.invalid", f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}"
            ) from exc
    raise ConfigError("config.invalid", f"{name} must be a date, got {type(value).__name__}")


def checked_limits(value: object) -> Limits:
    """``value`` if it is a :class:`Limits`; ConfigError ``config.invalid`` otherwise."""
    if not isinstance(value, Limits):
        raise ConfigError(
            "config.invalid",
            f"limits must be a riskcalc.Limits (e.g. Limits(max_bytes=...)), "
            f"got {type(value).__name__}",
        )
    return value
