"""The model card's TRIPOD+AI index uses the checklist's own item numbers (the full table of
docs/researchers/tripod-ai.md), and the shipped default card carries the current index."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from riskcalc.model._card import TRIPOD_AI_MAP, card_markdown

ROOT = Path(__file__).resolve().parents[2]
_RANGE = re.compile(r"^(\d+)([a-g])[-–]([a-g])$")  # 6a-c, 18a–f


def _expand(token: str) -> list[str]:
    m = _RANGE.match(token)
    if m is None:
        return [token]
    number, first, last = m.groups()
    return [f"{number}{chr(c)}" for c in range(ord(first), ord(last) + 1)]


def _items(label: str) -> list[str]:
    """Item numbers a label starts with: '5a/5b …', '6a-c …', '18e/18f, 22 …', '1, 2'."""
    head = re.match(r"^[\d a-g/,–-]+?(?= [A-Za-z]|$)", label)
    assert head is not None, label
    tokens = [t for t in re.split(r"[/,\s]+", head.group(0)) if t]
    return [item for t in tokens for item in _expand(t)]


def _checklist() -> set[str]:
    table = (ROOT / "docs" / "researchers" / "tripod-ai.md").read_text()
    rows = re.findall(r"^\| ([\d a-g,–-]+) \| ", table, flags=re.MULTILINE)
    return {item for row in rows for item in _items(row.strip())}


def test_the_checklist_table_lists_every_item() -> None:
    items = _checklist()
    assert len(items) == 52  # 27 items, with their parts a–g: 52 entries in all
    assert {"1", "3c", "6c", "12g", "18f", "23b", "27c"} <= items
    assert not items & {"12h", "18g", "28"}


@pytest.mark.parametrize("label", list(TRIPOD_AI_MAP))
def test_card_index_uses_checklist_numbers(label: str) -> None:
    assert set(_items(label)) <= _checklist(), label


def test_shipped_card_carries_the_current_index() -> None:
    folder = ROOT / "models" / "default"
    card = json.loads((folder / "model_card.json").read_text())
    assert card["tripod_ai"] == TRIPOD_AI_MAP
    assert (folder / "model_card.md").read_text() == card_markdown(card)
