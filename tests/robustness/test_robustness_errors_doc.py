"""docs/errors.md is the registry, and every code the package uses is registered."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from riskcalc.errors import ERROR_CODES, WARNING_CODES

ROOT = Path(__file__).resolve().parents[2]
_CODE = re.compile(r"^[a-z0-9]+\.[a-z0-9_]+$")
PREFIXES = {c.split(".", 1)[0] for c in (*ERROR_CODES, *WARNING_CODES)}


def _render() -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import make_errors_md as m; print(m.render(), end='')"],
        cwd=ROOT / "docs",
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_committed_errors_md_matches_the_registry() -> None:
    committed = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert committed == _render(), "docs/errors.md is stale: run `python docs/make_errors_md.py`"
    for code in (*ERROR_CODES, *WARNING_CODES):
        assert f"`{code}`" in committed


def codes_used_in_package() -> dict[str, list[str]]:
    """String literals shaped like a code (``prefix.name`` with a registered prefix) in riskcalc/.

    Every literal counts, not only arguments of error classes: codes travel through helpers
    (``ctx.warn(code, …)``, ``Issue(code=…)``, dicts of codes) that a call-site search misses.
    """
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "riskcalc").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if _CODE.match(text) and text.split(".", 1)[0] in PREFIXES:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    found.setdefault(text, []).append(where)
    return found


# literals of the code shape that are not codes (module paths, file names)
NOT_CODES = {"model.json", "model.skops", "config.json"}


def test_every_code_used_in_the_package_is_registered() -> None:
    used = codes_used_in_package()
    assert len(used) > 20  # the scan finds the codes
    unregistered = {
        code: where
        for code, where in used.items()
        if code not in ERROR_CODES and code not in WARNING_CODES and code not in NOT_CODES
    }
    assert not unregistered, unregistered


def test_reader_codes_are_registered_as_the_right_kind() -> None:
    # errors raised by the reader are error codes; issues it collects are warning codes
    for code in ("input.no_patient", "input.not_fhir", "input.json_syntax", "input.encoding"):
        assert code in ERROR_CODES
    for code in ("resource.unknown_type", "il6.value_invalid", "cancer.no_onset"):
        assert code in WARNING_CODES
