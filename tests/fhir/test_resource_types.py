"""The resource types riskcalc knows are those of fhir.resources' R4B models, written down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fhir.resources.R4B.fhirtypes as fhirtypes
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.resource import Resource

from riskcalc.fhir._resource_types import RESOURCE_TYPES
from riskcalc.fhir._validate import is_known_type


def _types_of_the_models() -> set[str]:
    """Every concrete resource model of fhir.resources R4B (imports all of them: about 2 s)."""
    names = (n.removesuffix("Type") for n in dir(fhirtypes) if n.endswith("Type"))
    out = set()
    for name in names:
        try:
            model = get_fhir_model_class(name)
        except (ValueError, ImportError, AttributeError):
            continue
        if issubclass(model, Resource) and model not in (Resource, DomainResource):
            out.add(name)
    return out


def test_the_written_list_is_the_models_list() -> None:
    derived = _types_of_the_models()
    assert len(derived) > 140
    assert derived == RESOURCE_TYPES, (
        f"missing: {sorted(derived - RESOURCE_TYPES)}; extra: {sorted(RESOURCE_TYPES - derived)}"
    )


def test_data_types_and_abstract_resources_are_not_resource_types() -> None:
    assert is_known_type("Condition") and is_known_type("ExplanationOfBenefit")
    for name in ("CodeableConcept", "Resource", "DomainResource", "condition", "Foo", ""):
        assert not is_known_type(name), name


def test_reading_imports_only_the_models_it_validates(fixtures: Path) -> None:
    """A real Synthea record holds claims and explanations of benefit, which riskcalc passes over:
    reading it in a new process imports neither model (it did, to tell them from data types)."""
    path = fixtures / "synthea-blaze" / "ad0b4b7a-2285-7a3c-5fd2-edbe4d67b7e7.json.bz2"
    code = (
        "import sys, riskcalc\n"
        f"riskcalc.read_history({str(path)!r})\n"
        "print(' '.join(m for m in sys.modules if m.startswith('fhir.resources.R4B.')))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = set(run.stdout.split())
    assert "fhir.resources.R4B.condition" in imported  # validated: the check can see imports
    assert "fhir.resources.R4B.claim" not in imported
    assert "fhir.resources.R4B.explanationofbenefit" not in imported
