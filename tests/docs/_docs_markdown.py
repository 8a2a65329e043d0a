"""Read the documentation's Markdown: fenced code blocks, links and heading anchors.

Shared by the docs tests. Conventions the docs follow (and these tests enforce):

- ```` ```python ```` blocks are examples and run, page by page in one namespace, in a scratch
  folder that holds a link ``riskcalc`` to the package folder (so ``riskcalc/demo/data/…`` paths
  work as they do from the repository root).
- ```` ```pycon ```` blocks are doctests; a preceding ``<!-- doctest: module -->`` comment names
  the module whose namespace they run in.
- ```` ```bash ```` lines that start with ``riskcalc `` are run (``serve`` and ``app`` only with
  ``--help``).
- ``<!-- skip-test -->`` right before a block skips it (only where running it is impossible).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\n`]*)$")
_COMMENT = re.compile(r"^<!--\s*(?P<body>.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    path: Path
    line: int
    lang: str
    code: str
    marker: str | None  # the HTML comment right before it, if any

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def skipped(self) -> bool:
        return self.marker == "skip-test"


def pages() -> list[Path]:
    """Every Markdown page of the docs, and the README."""
    return [*sorted(p for p in DOCS.rglob("*.md") if "tools" not in p.parts), ROOT / "README.md"]


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a page, in order."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    previous = ""
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, start = match["fence"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(match["indent"]) :])
            i += 1
        comment = _COMMENT.match(previous)
        out.append(
            Block(
                path=path,
                line=start + 1,
                lang=match["info"].split()[0] if match["info"].strip() else "",
                code="\n".join(body) + "\n",
                marker=comment["body"] if comment else None,
            )
        )
        previous = ""
        i += 1
    return out


def prose(path: Path, *, keep_code_spans: bool = False) -> str:
    """The page without its fenced blocks and inline code (where links are not links)."""
    kept: list[str] = []
    inside: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _FENCE.match(line)
        if inside is None and match:
            inside = match["fence"]
            continue
        if inside is not None:
            if line.strip().startswith(inside):
                inside = None
            continue
        kept.append(line if keep_code_spans else re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


_LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def links(path: Path) -> list[str]:
    """Targets of the Markdown links and images of a page (outside code)."""
    return [m["target"] for m in _LINK.finditer(prose(path))]


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension (MkDocs) gives a heading."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    """Anchors of a page's headings (duplicates get ``_1``, ``_2`` … as in Python-Markdown)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    for line in prose(path, keep_code_spans=True).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}_{n}")
        seen[base] = n + 1
    return out
