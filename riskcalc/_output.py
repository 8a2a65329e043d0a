"""Creating outputs: new files and folders with the modes the umask gives, and the operating
system's refusals as a typed error.

Every output riskcalc writes (scores files, model artifacts, simulated cohorts, evaluation
reports) is made under a temporary name beside its target and renamed into place. ``tempfile``
makes those private (0o600 files, 0o700 folders) and the rename keeps the mode, so the outputs
were unreadable to the user's group whatever their umask; these helpers create them as ``open()``
and ``mkdir()`` do.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from riskcalc.errors import ConfigError

_ATTEMPTS = 100


def output_error(path: Path, exc: OSError) -> ConfigError:
    """``config.output_unwritable`` for ``exc`` raised while writing ``path``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return ConfigError("config.output_unwritable", f"cannot write {path}: {reason}{where}")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an ``OSError`` of the block (which only writes ``path``) into
    ``config.output_unwritable``."""
    try:
        yield
    except OSError as exc:
        raise output_error(path, exc) from exc


def probe_writable(path: Path, *, into: bool = False) -> None:
    """Check, before a long computation, that ``path`` can be created or replaced (``into``:
    that files can be written into the folder ``path``, made if missing): a temporary folder is
    made and removed where they would be (``os.access`` is no proof: it says yes to root in
    /proc). Nothing else is created.

    Raises
    ------
    ConfigError
        ``config.output_unwritable`` if it cannot.
    """
    absolute = path.absolute()
    existing = absolute if into and absolute.is_dir() else absolute.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    with writing(path):
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(existing))
        new_temp_folder(existing / absolute.name).rmdir()


def _temp_names(target: Path, tag: str) -> Iterator[Path]:
    for _ in range(_ATTEMPTS):
        yield target.with_name(f".{target.name}.{secrets.token_hex(4)}.{tag}{target.suffix}")


def new_temp_file(target: Path) -> Path:
    """A new empty file beside ``target`` (hidden, unique name ending in ``target``'s suffix),
    with the mode a new file gets under the current umask. Raises ``OSError`` as ``open`` does."""
    for temp in _temp_names(target, "tmp"):
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp
    raise FileExistsError(f"no free temporary name beside {target}")


def new_temp_folder(target: Path, tag: str = "tmp") -> Path:
    """A new empty folder beside ``target`` (hidden, unique name), with the mode a new folder
    gets under the current umask. Raises ``OSError`` as ``mkdir`` does."""
    for temp in _temp_names(target, tag):
        try:
            temp.mkdir(0o777)
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"no free temporary name beside {target}")


def is_within(path: Path, folder: Path) -> bool:
    """True if ``path`` is ``folder`` or lies inside it (symbolic links resolved)."""
    inner, outer = path.resolve(), folder.resolve()
    return inner == outer or outer in inner.parents


def check_outside(out: Path, source: Path, what: str) -> None:
    """Refuse (``config.invalid``) an output folder at or inside the folder ``source`` reads
    from: the reader would take the output's JSON files for input the next time."""
    if source.is_dir() and is_within(out, source):
        raise ConfigError(
            "config.invalid",
            f"--out {out} is inside {what} {source}: the next read of {source} would take the "
            "files written there for input; write outside it",
        )
