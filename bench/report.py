"""Render ``bench/results/*.json`` as the Markdown tables of docs/performance.md.

``python -m bench.report`` prints them; paste between the markers of the page (or pass
``--write docs/performance.md`` to replace the text between ``<!-- bench:start -->`` and
``<!-- bench:end -->``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench._harness import RESULTS

ORDER = ("assess", "train", "scale", "service", "cohort", "awakening")
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def render() -> str:
    parts = []
    names = [n for n in ORDER if (RESULTS / f"{n}.json").exists()]
    names += sorted(p.stem for p in RESULTS.glob("*.json") if p.stem not in ORDER)
    for name in names:
        data = json.loads((RESULTS / f"{name}.json").read_text())
        m = data["machine"]
        load = m.get("load_average_at_start") or m.get("load_average_1_5_15")
        load_text = f"load average {load[0]:.1f} at start" if load else "load not recorded"
        parts.append(f"### {name}\n\n{m['time']}, {m['cpus']} CPUs, {load_text}.\n")
        parts.append("| figure | value | floor | ratio | target | met |")
        parts.append("|---|---|---|---|---|---|")
        for x in data["measurements"]:
            floor = f"{x['floor_name']} {_fmt(x['floor_value'])}" if x["floor_name"] else "-"
            met = {True: "yes", False: "**NO**", None: "-"}[x["met"]]
            parts.append(
                f"| {x['name']} | {_fmt(x['value'])} {x['unit']} | {floor} | "
                f"{_fmt(x['ratio'])} | {x['target'] or '-'} | {met} |"
            )
        notes = [f"- {x['name']}: {x['notes']}" for x in data["measurements"] if x["notes"]]
        if notes:
            parts.append("\n<details><summary>notes</summary>\n\n" + "\n".join(notes))
            parts.append("\n</details>")
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if argv[:1] == ["--write"] and len(argv) == 2:
        page = Path(argv[1])
        body = page.read_text()
        head, _, rest = body.partition(START)
        _, _, tail = rest.partition(END)
        page.write_text(f"{head}{START}\n{text}\n{END}{tail}")
        return 0
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
