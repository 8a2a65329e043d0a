"""The parameter table of docs/science/awakening.md, generated from parameters.json."""

from __future__ import annotations

from riskcalc.awakening._params import Preset, load_params


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def parameter_table_markdown(preset: str | Preset = Preset.HUMAN) -> str:
    """A Markdown table of one preset's parameters: value, unit, range, confidence, source.

    The documentation embeds this table between ``<!-- BEGIN/END PARAMETERS <preset> -->``
    markers; a test checks the two agree.
    """
    params = load_params(preset)
    lines = [
        "| parameter | value | unit | range | conf. | source |",
        "|---|---|---|---|---|---|",
    ]
    for p in params.parameters:
        source = p.source.replace("|", "/")
        lines.append(
            f"| `{p.name}` | {_fmt(p.value)} | {p.unit} | {_fmt(p.low)}–{_fmt(p.high)} "
            f"| [{p.confidence.value}] | {source} |"
        )
    return "\n".join(lines) + "\n"
