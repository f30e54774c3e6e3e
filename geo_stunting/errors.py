"""The exception hierarchy and the `Problem` record behind every error message.

Every error geo_stunting raises on purpose derives from `GeoStuntingError`.
It carries one or more `Problem` records; ``str(error)`` gives one line per
problem, naming the file, row and column where it was found and the fix.
The command-line interface prints those lines and exits with code 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "AnalysisError",
    "GeoStuntingError",
    "InputError",
    "Problem",
    "ProjectionError",
    "StepSkippedError",
    "StudyFileError",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, and where it was found.

    Parameters
    ----------
    message
        What was found, in words a newcomer understands.
    file
        The file (or in-memory frame) it was found in.
    row
        Row number as a person sees it: the line in a CSV file or the row in
        a spreadsheet (the header is row 1), or the feature number (from 1)
        in a GeoJSON, GeoPackage or Shapefile.
    column
        The column (or study-file key) concerned.
    value
        The offending value, as text.
    fix
        What to do about it.
    """

    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    fix: str | None = None

    def where(self) -> str:
        """Return ``"file, row N, column 'c'"`` with the parts that are known."""
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.fix:
            text = f"{text.rstrip('.')}. Fix: {self.fix}"
        return text


class GeoStuntingError(Exception):
    """Base class of every error geo_stunting raises on purpose.

    Parameters
    ----------
    problems
        A message, a `Problem`, or several problems found together.
    """

    def __init__(self, problems: str | Problem | Iterable[Problem]) -> None:
        if isinstance(problems, str):
            found: tuple[Problem, ...] = (Problem(problems),)
        elif isinstance(problems, Problem):
            found = (problems,)
        else:
            found = tuple(problems)
        if not found:
            found = (Problem("unknown problem"),)
        self.problems = found
        super().__init__("\n".join(str(p) for p in found))


class StudyFileError(GeoStuntingError):
    """The study file (TOML) or the options given to it are wrong."""


class InputError(GeoStuntingError):
    """The input data cannot be read or leave nothing to analyse."""


class ProjectionError(GeoStuntingError):
    """No suitable projected coordinate reference system could be used."""


class AnalysisError(GeoStuntingError):
    """An analysis step cannot run on this study as it stands."""


class StepSkippedError(GeoStuntingError):
    """A step has nothing to work on in this study: recorded as "skipped" with the reason.

    Raised by a step whose needs go beyond those `geo_stunting.pipeline.register_step`
    can declare (for example counting cases per area in a study without cases).
    """
