"""Command-line values read with the standard library: one reading for the entry and the CLI.

`geo_stunting._launch` reads the command line before anything else is
imported, and `geo_stunting.cli` after; what they both read is read here.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["only_steps"]


def only_steps(only: Sequence[str] | None) -> list[str] | None:
    """``--only`` as step names: repeated, or several in one value with commas.

    The entry (`geo_stunting._launch`) and the command line (`geo_stunting.cli`) both read it so.

    >>> only_steps(["access,scan", " pattern "]), only_steps(None)
    (['access', 'scan', 'pattern'], None)
    """
    if only is None:
        return None
    return [name.strip() for value in only for name in value.split(",") if name.strip()]
