"""Every relative link in docs/ and README.md points to a file that exists (and, for a link to a
heading, to a heading that exists)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from _docs_markdown import ROOT, anchors, links, pages

EXTERNAL = ("http://", "https://", "mailto:")


def _relative_links() -> list[tuple[Path, str]]:
    return [
        (page, target)
        for page in pages()
        for target in links(page)
        if not target.startswith(EXTERNAL)
    ]


def test_docs_have_links() -> None:
    assert len(_relative_links()) > 50


@pytest.mark.parametrize(
    ("page", "target"),
    _relative_links(),
    ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v,
)
def test_relative_link_resolves(page: Path, target: str) -> None:
    path_part, _, fragment = target.partition("#")
    resolved = (page.parent / unquote(path_part)).resolve() if path_part else page
    assert resolved.exists(), f"{page.relative_to(ROOT)}: link {target!r} -> {resolved} is missing"
    if fragment and resolved.suffix == ".md":
        assert fragment in anchors(resolved), (
            f"{page.relative_to(ROOT)}: link {target!r}: no heading #{fragment} in "
            f"{resolved.relative_to(ROOT)}"
        )


def test_links_stay_inside_the_repository() -> None:
    for page, target in _relative_links():
        path_part = target.partition("#")[0]
        if path_part:
            resolved = (page.parent / unquote(path_part)).resolve()
            assert ROOT in resolved.parents, f"{page}: {target} leaves the repository"
