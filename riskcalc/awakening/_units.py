"""IL-6 unit conversion, shared by the FHIR reader and the awakening model."""

from __future__ import annotations

import math

from riskcalc.errors import InputError

# UCUM codes and the common printed forms, lower-cased, to the factor that gives pg/mL.
# 1 pg/mL = 1 ng/L; 1 ng/mL = 1 µg/L = 1000 pg/mL; 1 pg/L = 0.001 pg/mL.
_TO_PG_ML: dict[str, float] = {
    "pg/ml": 1.0,
    "ng/l": 1.0,
    "ng/ml": 1000.0,
    "ug/l": 1000.0,
    "µg/l": 1000.0,
    "μg/l": 1000.0,
    "mcg/l": 1000.0,
    "pg/l": 0.001,
    "fg/ml": 0.001,
}


def il6_unit_known(unit: str) -> bool:
    """True if :func:`il6_to_pg_ml` can convert from ``unit``."""
    return unit.strip().replace(" ", "").lower() in _TO_PG_ML


def il6_to_pg_ml(value: float, unit: str) -> float:
    """Convert an IL-6 concentration to pg/mL, the unit every riskcalc record uses.

    Parameters
    ----------
    value
        The concentration as reported (finite, >= 0).
    unit
        UCUM code or printed unit, case-insensitive: ``pg/mL``, ``ng/L`` (identical), ``ng/mL``,
        ``ug/L``/``µg/L`` (1000 pg/mL), ``pg/L``, ``fg/mL`` (0.001 pg/mL).

    Returns
    -------
    float
        The concentration in pg/mL.

    Raises
    ------
    InputError
        ``input.unit_unknown`` for a unit that cannot be converted (the reader turns this into
        the ``il6.unit_unknown`` warning), ``input.value_invalid`` for a negative or non-finite
        value.

    Examples
    --------
    >>> il6_to_pg_ml(36.7, "ng/L")
    36.7
    >>> il6_to_pg_ml(0.05, "ng/mL")
    50.0
    """
    key = unit.strip().replace(" ", "").lower()
    if key not in _TO_PG_ML:
        raise InputError(
            "input.unit_unknown",
            f"IL-6 unit {unit!r} cannot be converted to pg/mL; expected one of pg/mL, ng/L, "
            "ng/mL, ug/L, pg/L",
        )
    if not math.isfinite(value) or value < 0:
        raise InputError(
            "input.value_invalid", f"IL-6 value must be finite and >= 0, got {value!r}"
        )
    return float(value) * _TO_PG_ML[key]
