"""Code examples in the docs run in the test suite.

- Every ```python block runs (blocks of one page share a namespace, in order), in a scratch folder
  holding a link ``riskcalc`` to the package folder, as if run from the repository root.
- Every ```pycon block runs as a doctest in the namespace of the module its
  ``<!-- doctest: module -->`` comment names.
- Every subcommand used in a ```bash line starting with ``riskcalc `` answers ``--help`` (fast);
  the slow suite runs those lines for real, page by page in one scratch folder (``serve`` and
  ``app``, which never return, only with ``--help``).

Examples that need the shipped default model skip while ``models/default`` has not been built
(``make model``), as the other model-dependent tests do.

A block preceded by ``<!-- skip-test -->`` is skipped; the docs use that only where running is
impossible (network), and test_skips_are_rare keeps it so.
"""

from __future__ import annotations

import doctest
import importlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from _docs_markdown import ROOT, Block, blocks, pages

from riskcalc import ModelError
from riskcalc.model import default_model_dir

RISKCALC = Path(sys.executable).parent / "riskcalc"
LONG_RUNNING = {"serve", "app"}
#: Commands whose real run needs more than a few seconds (cohorts, training): slow suite only.
SLOW_COMMANDS = {"replicate", "score", "train", "evaluate", "recalibrate"}


def _default_model_exists() -> bool:
    """Examples that need the shipped model skip (not fail) until `make model` has built it."""
    return (default_model_dir() / "manifest.json").is_file()


def _all_blocks(lang: str) -> list[Block]:
    return [b for page in pages() for b in blocks(page) if b.lang == lang]


def _pages_with(lang: str) -> list[Path]:
    return sorted({b.path for b in _all_blocks(lang)})


def _scratch(tmp_path: Path) -> Path:
    (tmp_path / "riskcalc").symlink_to(ROOT / "riskcalc", target_is_directory=True)
    return tmp_path


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", _pages_with("python"), ids=_page_id)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_scratch(tmp_path))
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.lang != "python" or block.skipped:
            continue
        code = compile(block.code, block.where, "exec")
        try:
            exec(code, namespace)
        except ModelError as exc:
            if exc.code == "model.not_found" and not _default_model_exists():
                pytest.skip(f"{block.where} needs the default model (models/default): {exc}")
            raise AssertionError(f"example at {block.where} failed: {exc!r}") from exc
        except Exception as exc:
            raise AssertionError(f"example at {block.where} failed: {exc!r}") from exc


@pytest.mark.parametrize("block", _all_blocks("pycon"), ids=lambda b: b.where)
def test_pycon_blocks_pass_as_doctests(block: Block, tmp_path: Path, monkeypatch) -> None:
    if block.skipped:
        pytest.skip("marked skip-test")
    monkeypatch.chdir(_scratch(tmp_path))
    module = None
    if block.marker and block.marker.startswith("doctest:"):
        module = importlib.import_module(block.marker.split(":", 1)[1].strip())
    globs = dict(vars(module)) if module else {}
    test = doctest.DocTestParser().get_doctest(block.code, globs, block.where, block.where, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)


def _riskcalc_lines(block: Block) -> list[list[str]]:
    """The ``riskcalc …`` commands of a bash block, joined over ``\\`` continuations."""
    commands: list[list[str]] = []
    joined = block.code.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("riskcalc "):
            commands.append(shlex.split(line))
    return commands


def _bash_blocks() -> list[Block]:
    return [b for b in _all_blocks("bash") if not b.skipped and _riskcalc_lines(b)]


def _subcommands() -> list[str]:
    found = {cmd[1] for b in _bash_blocks() for cmd in _riskcalc_lines(b) if len(cmd) > 1}
    return sorted(c for c in found if not c.startswith("-"))


def test_docs_show_the_cli() -> None:
    assert {"assess", "simulate", "score"} <= set(_subcommands())


@pytest.mark.parametrize("subcommand", _subcommands())
def test_documented_subcommand_exists(subcommand: str, capsys: pytest.CaptureFixture[str]) -> None:
    """In process (the console script is ``riskcalc.cli:main``): argparse exits 0 on --help."""
    from riskcalc.cli import main

    with pytest.raises(SystemExit) as exited:
        main([subcommand, "--help"])
    assert exited.value.code == 0, f"`riskcalc {subcommand} --help`: {capsys.readouterr().err}"
    assert f"riskcalc {subcommand}" in capsys.readouterr().out


def _run(cmd: list[str], cwd: Path, where: str) -> subprocess.CompletedProcess[str]:
    if cmd[1] in LONG_RUNNING:
        cmd = [*cmd[:2], "--help"]
    env = {**os.environ, "PATH": f"{RISKCALC.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(RISKCALC), *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    if "[model.not_found]" in result.stderr and not _default_model_exists():
        pytest.skip(f"{where}: `{shlex.join(cmd)}` needs the default model (models/default)")
    assert result.returncode == 0, (
        f"{where}: `{shlex.join(cmd)}` exited {result.returncode}\n{result.stderr[-2000:]}"
    )
    return result


def _fast(block: Block) -> bool:
    return all(cmd[1] not in SLOW_COMMANDS for cmd in _riskcalc_lines(block))


def _bash_pages(*, slow: bool) -> list[Path]:
    """Pages whose ``riskcalc`` lines are all quick (single patient, --help), or the others."""
    by_page: dict[Path, list[Block]] = {}
    for block in _bash_blocks():
        by_page.setdefault(block.path, []).append(block)
    return sorted(p for p, bs in by_page.items() if all(map(_fast, bs)) != slow)


def _run_page(page: Path, cwd: Path) -> None:
    runnable = _bash_blocks()
    for block in blocks(page):
        if block in runnable:
            for cmd in _riskcalc_lines(block):
                _run(cmd, cwd, block.where)


@pytest.mark.parametrize("page", _bash_pages(slow=False), ids=_page_id)
def test_bash_pages_run(page: Path, tmp_path: Path) -> None:
    """Pages with single-patient commands only: every ``riskcalc`` line, in order."""
    _run_page(page, _scratch(tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("page", _bash_pages(slow=True), ids=_page_id)
def test_bash_cohort_pages_run(page: Path, tmp_path: Path) -> None:
    """Pages with cohort commands (the walk-through): every ``riskcalc`` line, in order, in one
    folder, on the small inputs the page uses."""
    _run_page(page, _scratch(tmp_path))


def test_skips_are_rare() -> None:
    skipped = [b.where for page in pages() for b in blocks(page) if b.skipped]
    assert len(skipped) <= 3, skipped
