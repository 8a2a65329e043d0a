"""constraints.txt pins every package pyproject.toml asks for, inside the range it allows.

`make install` installs through it (pip -c), so a fresh clone tested later gets the versions the
suite last passed with. A dependency added to pyproject.toml without `make lock` would install
unpinned; one whose range no longer admits its pin would make the install fail.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _pins(text: str) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not an exact pin: {line!r}"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        names += extra
    return [r for r in map(Requirement, names) if canonicalize_name(r.name) != "riskcalc"]


def test_pins_parse() -> None:
    assert _pins("# a comment\nnumpy==2.4.6\n\nPyJWT==2.15.1  # why\n") == {
        "numpy": Version("2.4.6"),
        "pyjwt": Version("2.15.1"),
    }


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _pins((ROOT / "constraints.txt").read_text())
    requirements = _requirements()
    assert len(requirements) > 20  # the parse found pyproject's lists
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {requirement.name}=={pins[name]}, outside {requirement}"
        )


def test_extras_of_dependencies_are_pinned_too() -> None:
    """``pyjwt[crypto]`` and ``dask[distributed]`` bring packages of their own: those are in the
    freeze as well, so nothing the extras install floats."""
    pins = _pins((ROOT / "constraints.txt").read_text())
    assert {"cryptography", "distributed"} <= pins.keys()
