"""Generate docs/integrators/python-api.md from the docstrings of riskcalc's public API.

The public API is ``riskcalc.__all__`` plus what ``riskcalc.report.__all__`` and
``riskcalc.awakening.__all__`` add. Docstrings are numpydoc; this script turns their sections into
Markdown lists, RST roles into code spans and doctest examples into ``pycon`` blocks (which
tests/docs run as doctests in the namespace of their module, named in a comment before each block).

Run ``.venv/bin/python docs/tools/gen_api.py`` after changing a public docstring, or
``… --check`` to see whether the page is current.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DOCS, generated_header, main

TARGET = DOCS / "integrators" / "python-api.md"
MODULES = ("riskcalc", "riskcalc.report", "riskcalc.awakening")
LIST_SECTIONS = {
    "Parameters",
    "Other Parameters",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "Attributes",
}
_ROLE = re.compile(r":(?:\w+:)?\w+:`(~?)([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")
_WIDTH = 96


def _roles(text: str) -> str:
    """RST roles and double-backtick literals as Markdown code spans."""

    def role(match: re.Match[str]) -> str:
        target = match.group(2)
        if match.group(1) == "~":
            target = target.rsplit(".", 1)[-1]
        return f"`{target}`"

    return _LITERAL.sub(r"`\1`", _ROLE.sub(role, text))


def _is_rule(line: str, title: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= 3 and set(stripped) == {"-"} and abs(len(stripped) - len(title)) <= 2


def _split_sections(doc: str) -> list[tuple[str | None, list[str]]]:
    lines = doc.splitlines()
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    i = 0
    while i < len(lines):
        line = lines[i]
        if (
            i + 1 < len(lines)
            and line.strip()
            and not line.startswith(" ")
            and _is_rule(lines[i + 1], line.strip())
        ):
            sections.append((line.strip(), []))
            i += 2
            continue
        sections[-1][1].append(line)
        i += 1
    return sections


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(x) - len(x.lstrip()) for x in lines if x.strip()]
    cut = min(indents, default=0)
    return [x[cut:] for x in lines]


def _list_section(lines: list[str]) -> list[str]:
    """numpydoc entries (``name : type`` then an indented description) as a Markdown list."""
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.strip() and not line.startswith(" "):
            entries.append((line.strip(), []))
        elif entries:
            entries[-1][1].append(line)
    out: list[str] = []
    for head, desc in entries:
        name, _, kind = head.partition(" : ")
        label = f"`{name.strip()}`" + (f" (`{kind.strip()}`)" if kind.strip() else "")
        body = [x for x in _dedent(desc)]
        while body and not body[-1].strip():
            body.pop()
        if not body:
            out.append(f"- {label}")
            continue
        out.append(f"- {label}: {_roles(body[0])}")
        out.extend(("    " + _roles(x)) if x.strip() else "" for x in body[1:])
    return out


def _prose(lines: list[str], module: str) -> list[str]:
    """Free text with doctest examples fenced as ``pycon`` (run by tests/docs)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith(">>>"):
            block: list[str] = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += [f"<!-- doctest: {module} -->", "```pycon", *_dedent(block), "```"]
            continue
        out.append(_roles(lines[i]))
        i += 1
    return out


def docstring_markdown(doc: str | None, module: str) -> str:
    """A numpydoc docstring as Markdown."""
    if not doc:
        return "*(no docstring)*"
    parts: list[str] = []
    for title, lines in _split_sections(inspect.cleandoc(doc)):
        if title is None:
            parts += _prose(lines, module)
            continue
        parts += ["", f"**{title}**", ""]
        parts += _list_section(lines) if title in LIST_SECTIONS else _prose(lines, module)
    text = "\n".join(parts).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _annotation(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, type):
        return value.__name__
    text = str(value).replace("typing.", "")
    return re.sub(r"(?:[a-z_][a-z0-9_]*\.)+([A-Za-z_]\w*)", r"\1", text)


def _default(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if inspect.isfunction(value) or inspect.isclass(value):
        return value.__name__
    return repr(value)


def signature(name: str, obj: Any) -> str:
    """``name(params) -> return``, one parameter per line when long."""
    sig = inspect.signature(obj)
    params: list[str] = []
    previous_kind = None
    for param in sig.parameters.values():
        if param.name == "self":
            continue
        if (
            param.kind is inspect.Parameter.KEYWORD_ONLY
            and previous_kind is not inspect.Parameter.KEYWORD_ONLY
            and previous_kind is not inspect.Parameter.VAR_POSITIONAL
        ):
            params.append("*")
        stars: dict[inspect._ParameterKind, str] = {
            inspect.Parameter.VAR_POSITIONAL: "*",
            inspect.Parameter.VAR_KEYWORD: "**",
        }
        text = stars.get(param.kind, "") + param.name
        if param.annotation is not inspect.Parameter.empty:
            text += f": {_annotation(param.annotation)}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {_default(param.default)}"
        params.append(text)
        previous_kind = param.kind
    returns = ""
    if sig.return_annotation is not inspect.Signature.empty:
        returns = f" -> {_annotation(sig.return_annotation)}"
    one_line = f"{name}({', '.join(params)}){returns}"
    if len(one_line) <= _WIDTH:
        return one_line
    inner = "".join(f"    {p},\n" for p in params)
    return f"{name}(\n{inner}){returns}"


def _own_doc(cls: type) -> str | None:
    doc = cls.__dict__.get("__doc__")
    return doc if isinstance(doc, str) else None


def _pydantic_fields(cls: Any) -> list[str]:
    annotations: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(getattr(klass, "__annotations__", {}))
    rows = ["| field | type | default | description |", "|---|---|---|---|"]
    for fname, field in cls.model_fields.items():
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = "(factory)"
        else:
            default = f"`{_default(field.default)}`"
            if len(default) > 40:
                default = "(see code)"
        kind = _annotation(annotations.get(fname, field.annotation)).replace("|", "\\|")
        desc = _roles(field.description or "").replace("|", "\\|")
        rows.append(f"| `{fname}` | `{kind}` | {default} | {desc} |")
    return rows


def _dataclass_fields(cls: Any) -> list[str]:
    rows = ["| field | type |", "|---|---|"]
    for field in dataclasses.fields(cls):
        rows.append(f"| `{field.name}` | `{_annotation(field.type).replace('|', chr(92) + '|')}` |")
    return rows


def _members(cls: type, qualname: str, module: str) -> list[str]:
    out: list[str] = []
    for mname, member in cls.__dict__.items():
        if mname.startswith("_"):
            continue
        func = member.fget if isinstance(member, property) else member
        if isinstance(func, (staticmethod, classmethod)):
            func = func.__func__
        if not inspect.isfunction(func):
            continue
        if isinstance(member, property):
            head = f"`{qualname}.{mname}` (property)"
        else:
            head = f"`{qualname}.{mname}`"
        out += ["", f"#### {head}", ""]
        if not isinstance(member, property):
            out += ["```text", signature(mname, func), "```", ""]
        out.append(docstring_markdown(func.__doc__, module))
    return out


def _class_section(qualname: str, cls: type, module: str) -> list[str]:
    bases = [b.__name__ for b in cls.__bases__ if b is not object]
    kind = "class"
    if issubclass(cls, BaseException):
        kind = "exception"
    elif issubclass(cls, Warning):
        kind = "warning"
    out = [f"### `{qualname}`", "", f"*{kind}* `{cls.__name__}({', '.join(bases)})`", ""]
    out.append(docstring_markdown(_own_doc(cls), module))
    if issubclass(cls, enum.Enum):
        values = ", ".join(f"`{m.value}`" for m in cls)
        out += ["", f"Members: {values}."]
    elif hasattr(cls, "model_fields"):
        out += ["", *_pydantic_fields(cls)]
    elif dataclasses.is_dataclass(cls):
        out += ["", *_dataclass_fields(cls)]
    if issubclass(cls, BaseException) and "exit_status" in cls.__dict__:
        out += ["", f"CLI exit status: `{cls.__dict__['exit_status']}`."]
    out += _members(cls, cls.__name__, module)
    return out


def _object_section(qualname: str, name: str, obj: Any, module: ModuleType) -> list[str]:
    if inspect.isclass(obj):
        return _class_section(qualname, obj, module.__name__)
    if callable(obj) and (inspect.isfunction(obj) or hasattr(obj, "__wrapped__")):
        return [
            f"### `{qualname}`",
            "",
            "```text",
            signature(name, obj),
            "```",
            "",
            docstring_markdown(obj.__doc__, module.__name__),
        ]
    if name == "__version__":
        return [f"### `{qualname}`", "", "The installed riskcalc version (a string)."]
    if isinstance(obj, tuple) and all(isinstance(v, enum.Enum) for v in obj):
        value = repr(tuple(v.value for v in obj))
    else:
        value = repr(obj)
    return [f"### `{qualname}`", "", f"*constant* `{type(obj).__name__}`", "", f"`{value}`"]


def render() -> str:
    seen: set[int] = set()
    body: list[str] = []
    toc: list[str] = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        names = [n for n in module.__all__ if id(getattr(module, n)) not in seen]
        seen.update(id(getattr(module, n)) for n in names)
        anchor = module_name.replace(".", "")
        toc.append(f"- [`{module_name}`](#{anchor}): " + ", ".join(f"`{n}`" for n in names))
        body += ["", f"## `{module_name}`", ""]
        body.append(docstring_markdown(module.__doc__, module_name))
        for name in names:
            body += [
                "",
                *_object_section(f"{module_name}.{name}", name, getattr(module, name), module),
            ]
    intro = [
        "# Python API reference",
        "",
        "The public surface of riskcalc: `riskcalc.__all__`, then what `riskcalc.report` and",
        "`riskcalc.awakening` add. Everything else is private and may change. Every result",
        "carries the model version and the research-use statement; see",
        "[what the numbers mean](../clinicians/index.md) before showing them to anyone.",
        "",
        "How the pieces fit: [integrator overview](index.md). Errors and their codes:",
        "[errors](errors.md). The examples below are the package's doctests; the test suite runs",
        "them from this page.",
        "",
        *toc,
    ]
    return generated_header("gen_api.py") + "\n".join(intro + body).rstrip() + "\n"


if __name__ == "__main__":
    raise SystemExit(main(render, TARGET))
