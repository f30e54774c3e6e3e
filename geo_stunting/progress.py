"""Progress reporting for long loops, silent unless a front end asks for it.

Library code wraps a long loop (Monte Carlo replications, say) as::

    with progress("scan: replications", total=999) as advance:
        for chunk in chunks:
            ...
            advance(len(chunk))

Nothing is shown by default. The command-line interface installs a reporter
that draws rich progress bars (off with ``--quiet``); a notebook user can
install one with `use_reporter`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

__all__ = ["Advance", "Reporter", "progress", "use_reporter"]

#: Called with the number of units done since the last call.
Advance = Callable[[int], None]
#: Given a description and a total, returns a context manager yielding `Advance`.
Reporter = Callable[[str, int], AbstractContextManager[Advance]]

_REPORTER: ContextVar[Reporter | None] = ContextVar("geo_stunting_progress", default=None)


def _ignore(_: int = 1) -> None:
    return None


@contextmanager
def progress(description: str, *, total: int) -> Iterator[Advance]:
    """Report the progress of a loop of `total` units to the installed reporter."""
    reporter = _REPORTER.get()
    if reporter is None:
        yield _ignore
        return
    with reporter(description, total) as advance:
        yield advance


@contextmanager
def use_reporter(reporter: Reporter | None) -> Iterator[None]:
    """Install `reporter` for the duration of the ``with`` block."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)
