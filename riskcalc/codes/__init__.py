"""Code sets as data: versioned JSON files in ``riskcalc/codes/data/``, each citing its source.

Each file maps set names (``"breast"``, ``"covid19"``, ``"il6_blockade"`` …) to concepts. A concept
is either an exact ``system``/``code`` pair or, for ICD-10, a ``prefix`` under the pseudo-system
``icd-10`` that matches ICD-10-CM, ICD-10 (WHO) and ICD-10-GM codes with dots ignored (``C50``
matches ``C50.911``). Matching is on ``system|code`` only, never on display text
(reference/standards.md §2.6).

Users extend the sets without editing Python: :func:`load_file` reads a file of the same shape.

>>> cancer = load("cancer")
>>> cancer.match("http://hl7.org/fhir/sid/icd-10-cm", "C50.911")
'breast'
>>> cancer.match("http://snomed.info/sct", "109838007")
'colorectal'
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from riskcalc.errors import ConfigError

__all__ = ["ICD10_SYSTEMS", "NAMES", "CodeSet", "load", "load_file"]

#: Code-system URIs treated as ICD-10 for prefix matching.
ICD10_SYSTEMS: frozenset[str] = frozenset(
    {
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://hl7.org/fhir/sid/icd-10",
        "http://fhir.de/CodeSystem/bfarm/icd-10-gm",
        "http://fhir.de/CodeSystem/dimdi/icd-10-gm",
    }
)
_ICD_PSEUDO_SYSTEM = "icd-10"

#: The code-set files shipped with riskcalc.
NAMES: tuple[str, ...] = (
    "cancer",
    "encounter",
    "infection",
    "lab",
    "medication",
    "metastasis",
    "procedure",
    "vaccine",
)


def _icd_key(code: str) -> str:
    return code.replace(".", "").strip().upper()


@dataclass(frozen=True)
class CodeSet:
    """A named family of value sets, loaded from one versioned JSON file.

    Attributes
    ----------
    name, version, source, description
        From the file; ``source`` cites where the codes come from.
    exact
        ``(system, code) -> set name``.
    prefixes
        ``(normalised ICD-10 prefix, set name)``, longest prefix first.
    """

    name: str
    version: str
    source: str
    description: str
    exact: Mapping[tuple[str, str], str]
    prefixes: tuple[tuple[str, str], ...] = ()
    set_names: tuple[str, ...] = field(default=())

    def match(self, system: str | None, code: str | None) -> str | None:
        """The set a coding belongs to, or None."""
        if not system or not code:
            return None
        code = code.strip()
        hit = self.exact.get((system, code))
        if hit is not None:
            return hit
        if system in ICD10_SYSTEMS and self.prefixes:
            key = _icd_key(code)
            for prefix, set_name in self.prefixes:
                if key.startswith(prefix):
                    return set_name
        return None

    def match_concept(self, concept: Any) -> tuple[str, tuple[str, ...]] | None:
        """Match a FHIR CodeableConcept (a JSON object).

        Returns the set of the first matching coding and every ``system|code`` of the concept that
        falls in that same set, or None.
        """
        if not isinstance(concept, dict):
            return None
        codings = concept.get("coding")
        if not isinstance(codings, list):
            return None
        found: str | None = None
        codes: list[str] = []
        for coding in codings:
            if not isinstance(coding, dict):
                continue
            system, code = coding.get("system"), coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            hit = self.match(system, code)
            if hit is None or (found is not None and hit != found):
                continue
            found = hit
            codes.append(f"{system}|{code.strip()}")
        if found is None:
            return None
        return found, tuple(sorted(set(codes)))

    def codes_of(self, set_name: str) -> frozenset[tuple[str, str]]:
        """Every exact ``(system, code)`` of one set (prefixes excluded)."""
        return frozenset(k for k, v in self.exact.items() if v == set_name)


def _build(doc: Any, origin: str) -> CodeSet:
    try:
        sets = doc["sets"]
        exact: dict[tuple[str, str], str] = {}
        prefixes: list[tuple[str, str]] = []
        for set_name, concepts in sets.items():
            for concept in concepts:
                if "prefix" in concept:
                    prefixes.append((_icd_key(concept["prefix"]), set_name))
                else:
                    exact.setdefault((concept["system"], concept["code"]), set_name)
        prefixes.sort(key=lambda p: (-len(p[0]), p[0]))
        return CodeSet(
            name=str(doc["name"]),
            version=str(doc["version"]),
            source=str(doc["source"]),
            description=str(doc.get("description", "")),
            exact=exact,
            prefixes=tuple(prefixes),
            set_names=tuple(sets),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            "config.invalid",
            f"code-set file {origin} does not have the expected shape "
            "(name, version, source, sets: {set: [{system, code} | {system: 'icd-10', prefix}]}): "
            f"{exc!r}",
        ) from exc


@functools.cache
def load(name: str) -> CodeSet:
    """Load one of the code sets shipped with riskcalc (see :data:`NAMES`)."""
    if name not in NAMES:
        raise ConfigError("config.invalid", f"unknown code set {name!r}; expected one of {NAMES}")
    data = importlib.resources.files("riskcalc.codes").joinpath("data", f"{name}.json")
    return _build(orjson.loads(data.read_bytes()), f"riskcalc/codes/data/{name}.json")


def load_file(path: str | Path) -> CodeSet:
    """Load a user-supplied code-set file of the same shape as the shipped ones."""
    try:
        raw = Path(path).read_bytes()
        doc = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError("config.invalid", f"cannot read code-set file {path}: {exc}") from exc
    return _build(doc, str(path))
