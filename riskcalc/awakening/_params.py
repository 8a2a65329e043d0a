"""Parameters of the awakening model: loaded from the versioned ``parameters.json`` package file.

Every parameter carries its value, unit, plausible range, source and confidence tag (``P`` primary,
``S`` secondary, ``U`` uncertain or assumed, as in ``../shared/reference/evidence.md``). Nothing
here is computed: the numbers and their citations live in the data file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from riskcalc.errors import ConfigError
from riskcalc.history import Pathogen, Severity


class Confidence(StrEnum):
    """How sure a number is (the tags of evidence.md)."""

    PRIMARY = "P"
    SECONDARY = "S"
    UNCERTAIN = "U"


class Preset(StrEnum):
    """Parameter sets: ``human`` (default for patients) and ``mouse`` (reproduces the mouse data)."""

    HUMAN = "human"
    MOUSE = "mouse"


#: Pathogen groups with their own default IL-6 peaks and pulse lengths; RSV and other viruses
#: use the influenza values (evidence.md has no RSV numbers).
PATHOGEN_GROUP: dict[Pathogen, str] = {
    Pathogen.COVID19: "covid19",
    Pathogen.INFLUENZA: "non_covid",
    Pathogen.RSV: "non_covid",
    Pathogen.OTHER_VIRAL: "non_covid",
}
#: Integer codes of the array API (``pathogen`` and ``severity`` arrays).
PATHOGEN_CODES: tuple[Pathogen, ...] = tuple(Pathogen)
SEVERITY_CODES: tuple[Severity, ...] = (Severity.MILD, Severity.HOSPITALISED, Severity.CRITICAL)

#: Parameters that only set the hazard link's calibration; they never change the score.
CALIBRATION_PARAMETERS = frozenset(
    {
        "hazard_target_hr",
        "calibration_window_months",
        "calibration_onset_years",
        "calibration_weight.mild",
        "calibration_weight.hospitalised",
        "calibration_weight.critical",
    }
)


@dataclass(frozen=True)
class Parameter:
    """One model parameter with its provenance.

    Attributes
    ----------
    name
        Dotted name, e.g. ``il6_peak_pg_ml.covid19.hospitalised``.
    value, low, high
        Value used and plausible range (``low <= value <= high``), in ``unit``.
    confidence
        Evidence tag of the source.
    source
        Where the number comes from (row or section of evidence.md, with the publication).
    note
        What the parameter does in the model.
    """

    name: str
    value: float
    unit: str
    low: float
    high: float
    confidence: Confidence
    source: str
    note: str = ""


@dataclass(frozen=True)
class AwakeningParams:
    """A complete, hashable parameter set of one preset.

    Build it with :func:`load_params`; change one value with :meth:`with_value` (sensitivity
    analyses). ``params["awakening_rate_per_day"]`` gives a value.
    """

    preset: str
    version: str
    parameters: tuple[Parameter, ...]

    def __hash__(self) -> int:
        # Every score hashes its parameter set (the caches of compile_params and derive), and
        # hashing some 60 parameters costs 3.6 µs: hashed once, the hash is kept on the object
        # (and left out of its pickled state, as str hashes differ between processes).
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.preset, self.version, self.parameters))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def __getitem__(self, name: str) -> float:
        return self.get(name).value

    def get(self, name: str) -> Parameter:
        """The :class:`Parameter` called ``name``."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise ConfigError("config.invalid", f"unknown awakening parameter {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def with_value(self, name: str, value: float) -> AwakeningParams:
        """A copy with one parameter's value changed (its range and source are kept)."""
        self.get(name)
        if not math.isfinite(value) or value < 0:
            raise ConfigError("config.invalid", f"{name} must be finite and >= 0, got {value!r}")
        changed = tuple(replace(p, value=value) if p.name == name else p for p in self.parameters)
        return replace(self, parameters=changed)

    def peak_name(self, pathogen: Pathogen, severity: Severity) -> str:
        return f"il6_peak_pg_ml.{PATHOGEN_GROUP[pathogen]}.{severity.value}"

    def inflamed_name(self, pathogen: Pathogen, severity: Severity) -> str:
        return f"inflamed_days.{PATHOGEN_GROUP[pathogen]}.{severity.value}"


def _raw() -> dict[str, Any]:
    text = resources.files("riskcalc.awakening").joinpath("parameters.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def parameters_document() -> dict[str, Any]:
    """The parameter file as parsed JSON (version, reference episode, presets)."""
    return _raw()


def parameters_version() -> str:
    """Version of the parameter file, carried on every result."""
    return str(parameters_document()["version"])


@cache
def load_params(preset: str | Preset = Preset.HUMAN) -> AwakeningParams:
    """Load one preset's parameters from the package data file.

    Parameters
    ----------
    preset
        ``"human"`` or ``"mouse"``.

    Raises
    ------
    ConfigError
        ``config.invalid`` for an unknown preset.
    """
    try:
        key = Preset(preset)
    except ValueError as exc:
        raise ConfigError(
            "config.invalid",
            f"unknown awakening preset {preset!r}; expected one of {[p.value for p in Preset]}",
        ) from exc
    doc = parameters_document()
    entries = doc["presets"][key.value]["parameters"]
    params = tuple(
        Parameter(
            name=name,
            value=float(e["value"]),
            unit=str(e["unit"]),
            low=float(e["low"]),
            high=float(e["high"]),
            confidence=Confidence(e["confidence"]),
            source=str(e["source"]),
            note=str(e.get("note", "")),
        )
        for name, e in entries.items()
    )
    return AwakeningParams(preset=key.value, version=str(doc["version"]), parameters=params)
