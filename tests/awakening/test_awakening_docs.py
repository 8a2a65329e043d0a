"""docs/science/awakening.md stays in step with parameters.json (its generated blocks)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from riskcalc import awakening as aw

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "science" / "make_awakening_figure.py"
DOC = ROOT / "docs" / "science" / "awakening.md"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_awakening_figure", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_blocks_are_up_to_date() -> None:
    text = DOC.read_text("utf-8")
    assert _script().render(text) == text, (
        "docs/science/awakening.md is out of date: run "
        ".venv/bin/python docs/science/make_awakening_figure.py"
    )


def test_every_parameter_is_documented_with_value_and_confidence() -> None:
    text = DOC.read_text("utf-8")
    for preset in aw.Preset:
        for p in aw.load_params(preset).parameters:
            assert f"| `{p.name}` |" in text
            assert f"[{p.confidence.value}]" in text
    assert (ROOT / "docs" / "science" / "awakening_trajectories.png").stat().st_size > 10_000


def test_figure_script_runs(tmp_path: Path) -> None:
    out = tmp_path / "fig.png"
    _script().make_figure(out)
    assert out.stat().st_size > 10_000
