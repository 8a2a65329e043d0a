"""The documentation builds as a static site with `mkdocs build --strict` (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _docs_markdown import ROOT

pytest.importorskip("mkdocs", reason="mkdocs (dev extra) is not installed")
pytest.importorskip("material", reason="mkdocs-material (dev extra) is not installed")


def test_site_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (site / "index.html").is_file()
    assert (site / "integrators" / "python-api" / "index.html").is_file()


def test_every_page_is_in_the_nav() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def walk(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in walk(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in walk(value)]
        return []

    in_nav = set(walk(config["nav"]))
    pages = {
        str(p.relative_to(ROOT / "docs"))
        for p in (ROOT / "docs").rglob("*.md")
        if "tools" not in p.parts
    }
    assert pages - in_nav == set(), "pages missing from mkdocs.yml nav"
