"""The source's path as the reader names its files (as given) and as the workers open them.

A worker opens the cohort's files by path, in its own working directory: ``local/fhir`` given
to a client in ``/home/me`` was ``/local/fhir`` to a ``dask worker`` started in ``/``. So the
plan and everything read keep the path as given, which :func:`riskcalc.read_histories` names the
records by (warnings' sources, failures' locations, the name of a Patient without an id), and
every task opens its files relative to this process's working directory (:attr:`SourcePath.base`,
the ``base`` argument of the reader's file functions). The names must be right when the records
are built, not mended after: the reader sorts a record's warnings by source and keeps the first
of each code, so the form of a path decides which.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourcePath:
    """A source path as given (``str(Path(source))``: the reader's labels start with it),
    absolute (what the workers can check they see), and the folder the given path is relative
    to: this process's working directory when it was planned, None for an absolute path. The
    tasks open their files relative to ``base``, which a worker's own directory is not."""

    given: str
    absolute: str
    base: str | None

    @classmethod
    def of(cls, source: str | Path) -> SourcePath:
        path = Path(source)
        return cls(str(path), str(path.absolute()), None if path.is_absolute() else os.getcwd())

    def label(self, file: str) -> str:
        """The reader's name of the file opened at ``file`` (a path under :attr:`base`, or as
        given); other paths as they are."""
        if self.base is None or not file.startswith(os.path.join(self.base, "")):
            return file
        return os.path.relpath(file, self.base)
