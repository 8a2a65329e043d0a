"""The generated pages are what their generators in docs/tools/ produce from the code today."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _docs_markdown import DOCS, ROOT

GENERATORS = {
    "gen_api.py": DOCS / "integrators" / "python-api.md",
    "gen_codes.py": DOCS / "integrators" / "fhir-input-codes.md",
}


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_generated_page_is_current(generator: str) -> None:
    result = subprocess.run(
        [sys.executable, str(DOCS / "tools" / generator), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"{GENERATORS[generator].relative_to(ROOT)} is out of date: run "
        f"`.venv/bin/python docs/tools/{generator}` ({result.stderr.strip()})"
    )


def test_api_page_covers_the_public_api() -> None:
    import riskcalc
    import riskcalc.awakening
    import riskcalc.report

    text = GENERATORS["gen_api.py"].read_text(encoding="utf-8")
    for module in (riskcalc, riskcalc.report, riskcalc.awakening):
        for name in module.__all__:
            assert f"`{module.__name__}.{name}`" in text or f"`{name}`" in text, name
    for name in riskcalc.__all__:
        assert f"### `riskcalc.{name}`" in text, name


def test_codes_page_lists_every_code() -> None:
    from riskcalc import codes

    text = GENERATORS["gen_codes.py"].read_text(encoding="utf-8")
    for name in codes.NAMES:
        code_set = codes.load(name)
        assert f"version **{code_set.version}**" in text
        for _system, code in code_set.exact:
            assert f"`{code}`" in text, (name, code)
        for set_name in code_set.set_names:
            assert f"### `{name}` / `{set_name}`" in text
