"""FHIR R4 validation of the resources the history uses, through fhir.resources' R4B models.

The one place riskcalc imports fhir.resources for reading. Only resources already selected by
type and code are validated (DESIGN.md §10): validating a whole Synthea bundle costs 20–25 times
parsing it.

Validation is memoised by *shape* (docs/performance.md). Resources of one kind differ mostly
in a few primitive values (ids, references, dates), while fhir.resources' cost (~100–300 µs a
resource) lies in building the nested models. So a resource's key is its JSON with those values
blanked: each value that passes fhir.resources' own validator of its field's type (``Id``,
``String``, ``DateTime``, ``Date``, ``Instant``) is replaced by a fixed valid value of that type
(its marker); a value that fails is kept in the key, so the full validation then reports it (and
it cannot equal a marker, which is valid). Data that is not plain JSON (a ``datetime``, a tuple,
an Enum, a NaN in a dict source) has no key and is validated whole. Everything fhir.resources checks beyond one value
(required elements, choice types, unknown elements, nulls in lists) depends on the structure and
the values kept, which the key holds exactly; FHIRPath invariants are not checked by
fhir.resources at all (stack-notes). So two resources with the same key get the same verdict,
and the first one of each key is validated whole by fhir.resources.
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import dataclass
from typing import Any

import orjson
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import TypeAdapter, ValidationError

from riskcalc.fhir._resource_types import RESOURCE_TYPES

#: fhir_core markers of the primitive types whose values are validated alone and blanked.
_LEAF_MARKERS = frozenset({"Id", "String", "DateTime", "Date", "Instant"})
#: Verdicts kept (key -> error text or None); the memo is cleared when it grows past this.
MEMO_SIZE = 16_384
_memo: dict[bytes, str | None] = {}


@functools.lru_cache(maxsize=1024)
def is_known_type(name: str) -> bool:
    """True if ``name`` is a FHIR resource type of the R4B models (R4 plus a few), not a data type.

    >>> is_known_type("Condition"), is_known_type("CodeableConcept"), is_known_type("Foo")
    (True, False, False)
    """
    return name in RESOURCE_TYPES


@functools.lru_cache(maxsize=1024)
def _model(name: str) -> Any:
    try:
        return get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None


def _full_validation(resource: dict[str, Any]) -> str | None:
    rtype = resource.get("resourceType")
    model = _model(str(rtype))
    if model is None:
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


# --- the shape key ------------------------------------------------------------------------------


def _leaf_marker(annotation: Any) -> str | None:
    """The fhir_core primitive marker (``Id``, ``DateTime`` …) of a field type, if a blankable one."""
    for arg in (annotation, *typing.get_args(annotation)):
        for meta in getattr(arg, "__metadata__", ()):
            if type(meta).__name__ in _LEAF_MARKERS:
                return type(meta).__name__
    return None


def _complex_model(annotation: Any, *, many: bool) -> Any:
    """The model class of a complex field type: a single one (``many=False``) or the item of a
    list (``many=True``); None otherwise, and for resources (``contained``), which fhir.resources
    looks up by their own ``resourceType``."""
    for arg in (annotation, *typing.get_args(annotation)):
        if many:
            if typing.get_origin(arg) is not list:
                continue
            arg = typing.get_args(arg)[0]
        elif typing.get_origin(arg) is not None:
            continue
        getter = getattr(arg, "get_model_klass", None)
        if getter is not None:
            model = getter()
            return None if issubclass(model, Resource) else model
    return None


def _fields_by_key(model: Any) -> dict[str, Any]:
    """Field infos of a model by JSON key (alias) and by name (the models populate by name)."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        out.setdefault(name, info)
        if info.alias:
            out[info.alias] = info
    return out


@functools.cache
def _fields(model: Any) -> dict[str, Any]:
    return _fields_by_key(model)


_LEAF, _ONE, _MANY, _OTHER = 0, 1, 2, 3
#: A blanked value is replaced by the first of these its field's type accepts (its marker).
_MARKER_CANDIDATES = ("x", "2000-01-01T00:00:00Z", "2000")
#: Leaf verdicts kept per field type (value -> valid); each cache is cleared past this size.
_LEAF_CACHE_SIZE = 65_536


@dataclass(frozen=True, eq=False)
class _Leaf:
    """A blankable primitive field: its validator, its marker and the verdicts seen so far."""

    adapter: TypeAdapter[Any]
    marker: str
    verdicts: dict[str, bool]

    def check(self, value: str) -> bool:
        """Validate ``value`` (not yet in :attr:`verdicts`) and remember the verdict."""
        if len(self.verdicts) >= _LEAF_CACHE_SIZE:
            self.verdicts.clear()
        ok = self.verdicts[value] = _passes(self.adapter, value)
        return ok


class _Plan:
    """How to blank one model's JSON: what each key holds, looked up once per key.

    ``acts[key]`` is ``(_LEAF, _Leaf)``, ``(_ONE, _Plan)`` or ``(_MANY, _Plan)`` of the element's
    model, or ``(_OTHER, None)``; filled as keys are met.
    """

    __slots__ = ("acts", "model")

    def __init__(self, model: Any) -> None:
        self.model = model
        self.acts: dict[str, tuple[int, Any]] = {}

    def action(self, key: str) -> tuple[int, Any]:
        info = _fields(self.model).get(key)
        act: tuple[int, Any] = (_OTHER, None)
        if info is not None:
            if _leaf_marker(info.annotation) is not None:
                leaf = _leaf(info.annotation)
                if leaf is not None:
                    act = (_LEAF, leaf)
            elif (one := _complex_model(info.annotation, many=False)) is not None:
                act = (_ONE, _plan(one))
            elif (many := _complex_model(info.annotation, many=True)) is not None:
                act = (_MANY, _plan(many))
        self.acts[key] = act
        return act


#: One _Plan per model, shared by every field of that model's type.
_PLANS: dict[Any, _Plan] = {}
#: One _Leaf per field type, shared by every field of that type.
_LEAVES: dict[Any, _Leaf | None] = {}


def _plan(model: Any) -> _Plan:
    plan = _PLANS.get(model)
    if plan is None:
        plan = _PLANS[model] = _Plan(model)
    return plan


def _passes(adapter: TypeAdapter[Any], value: str) -> bool:
    try:
        adapter.validate_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    return True


def _leaf(annotation: Any) -> _Leaf | None:
    """The shared _Leaf of a primitive field type; None if no marker is valid for it."""
    try:
        return _LEAVES[annotation]
    except KeyError:
        pass
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    marker = next((m for m in _MARKER_CANDIDATES if _passes(adapter, m)), None)
    leaf = None if marker is None else _Leaf(adapter, marker, {})
    _LEAVES[annotation] = leaf
    return leaf


class _NotPlain(Exception):
    """The resource holds something that is not plain JSON data."""


_SCALARS = frozenset({str, int, bool, type(None)})


def _check_plain(value: Any) -> None:
    """Raise _NotPlain unless ``value`` is plain JSON data (what ``orjson.loads`` makes)."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is float:
        if not math.isfinite(value):  # orjson would write null: the key would not tell
            raise _NotPlain
    elif kind is dict:
        for item in value.values():
            _check_plain(item)
    elif kind is list:
        for item in value:
            _check_plain(item)
    else:
        raise _NotPlain


def _blank(value: dict[str, Any], plan: _Plan) -> dict[str, Any]:
    """A copy of ``value`` (an instance of the plan's model) with each valid primitive value
    replaced by its type's marker, at any depth of complex elements; raises _NotPlain on data
    that is not plain JSON.

    A marker is itself a valid value of its type, so a value left in place (one that fails its
    type) can never equal a marker: the key tells blanked and kept values apart without paths.
    The hot loop of reading (a third of validating a resource): dispatched on the value's type
    first, strings being most values.
    """
    acts = plan.acts
    out = dict(value)
    for key, v in value.items():
        act = acts.get(key) or plan.action(key)
        kind = type(v)
        if kind is str:
            if act[0] == _LEAF:
                leaf = act[1]
                ok = leaf.verdicts.get(v)
                if ok is None:
                    ok = leaf.check(v)
                if ok:
                    out[key] = leaf.marker
        elif kind is dict:
            if act[0] == _ONE:
                out[key] = _blank(v, act[1])
            else:
                _check_plain(v)
        elif kind is list:
            if act[0] == _MANY:
                out[key] = _blank_list(v, act[1])
            else:
                _check_plain(v)
        elif kind not in _SCALARS:
            _check_plain(v)
    return out


def _blank_list(values: list[Any], plan: _Plan) -> list[Any]:
    out = []
    for x in values:
        if type(x) is dict:
            out.append(_blank(x, plan))
        else:
            _check_plain(x)
            out.append(x)
    return out


def shape_key(resource: dict[str, Any]) -> bytes | None:
    """The memo key of a resource: its JSON with valid primitive values replaced by markers;
    None when the resource is not plain JSON data (then it is validated whole)."""
    model = _model(str(resource.get("resourceType")))
    if model is None:
        return None
    try:
        return orjson.dumps(_blank(resource, _plan(model)))
    except (_NotPlain, TypeError, orjson.JSONEncodeError, RecursionError):
        # orjson refuses non-string keys and integers past 64 bits
        return None


def validation_error(resource: dict[str, Any]) -> str | None:
    """Why a resource fails FHIR R4 (R4B model) validation, or None if it passes.

    The verdict is fhir.resources' own: the first resource of each shape (see the module
    docstring) is validated whole and the verdict reused for the same shape.
    """
    key = shape_key(resource)
    if key is None:
        return _full_validation(resource)
    try:
        return _memo[key]
    except KeyError:
        pass
    verdict = _full_validation(resource)
    if len(_memo) >= MEMO_SIZE:
        _memo.clear()
    _memo[key] = verdict
    return verdict


def clear_memo(*, shapes: bool = True, values: bool = True) -> None:
    """Forget memoised verdicts: of whole shapes, of single primitive values, or both.

    For measurements: ``clear_memo(shapes=False)`` makes the next resources cost what a new
    patient's do (their shapes seen before, their ids and dates not).
    """
    if shapes:
        _memo.clear()
    if values:
        for leaf in _LEAVES.values():
            if leaf is not None:
                leaf.verdicts.clear()


def validation_error_uncached(resource: dict[str, Any]) -> str | None:
    """The same verdict as :func:`validation_error`, always by validating the whole resource."""
    return _full_validation(resource)
