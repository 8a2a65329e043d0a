"""FHIR R4 validation of the resources the history uses, through fhir.resources' R4B models.

The one place riskcalc imports fhir.resources for reading. Only resources already selected by
type and code are validated (DESIGN.md §10): validating a whole Synthea bundle costs 20–25 times
parsing it.
"""

from __future__ import annotations

import functools
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

_ABSTRACT = frozenset({Resource, DomainResource})


@functools.lru_cache(maxsize=1024)
def is_known_type(name: str) -> bool:
    """True if ``name`` is a FHIR resource type of the R4B models (R4 plus a few), not a data type.

    >>> is_known_type("Condition"), is_known_type("CodeableConcept"), is_known_type("Foo")
    (True, False, False)
    """
    try:
        model = get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return isinstance(model, type) and issubclass(model, Resource) and model not in _ABSTRACT


def validation_error(resource: dict[str, Any]) -> str | None:
    """Why a resource fails FHIR R4 (R4B model) validation, or None if it passes."""
    rtype = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(rtype))
    except (KeyError, ValueError, AttributeError, ImportError):
        return f"unknown resource type {rtype!r}"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:3]:
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg')}")
        more = f" (+{exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        return "; ".join(parts) + more
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None
