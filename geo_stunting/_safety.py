"""What keeps one step's trouble inside that step: failure reasons and peak memory.

`failure_reason` turns any exception raised inside a step into the one line
that ``results.json → steps.<name>.reason`` and the report show; the step is
then ``"failed"`` and the other steps still run and write their outputs.

`peak_memory` measures the largest resident memory (RSS) of the process
while a block runs, by sampling ``/proc/self/statm`` every 20 ms (and the
kernel's own high-water mark where that is all there is); ``run.json →
steps.<name>.peak_rss_mib`` records it for every step.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from geo_stunting.errors import GeoStuntingError

__all__ = ["PeakMemory", "current_rss_mib", "failure_reason", "peak_memory"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_MIB = 1024 * 1024


def failure_reason(exc: BaseException) -> str:
    """Return the reason a step failed, in one line a user can act on.

    >>> failure_reason(ZeroDivisionError("float division by zero"))
    'internal error (ZeroDivisionError: float division by zero); please report it'
    >>> from geo_stunting.errors import AnalysisError, Problem
    >>> failure_reason(AnalysisError(Problem("too few cases", fix="add cases")))
    'too few cases. Fix: add cases'
    """
    if isinstance(exc, GeoStuntingError):
        return " ".join(str(exc).split("\n"))
    text = " ".join(str(exc).split()) or "no message"
    return f"internal error ({type(exc).__name__}: {text}); please report it"


def current_rss_mib() -> float:
    """Resident memory of this process now, in MiB (Linux); the peak so far elsewhere."""
    try:
        with Path("/proc/self/statm").open(encoding="ascii") as handle:
            return int(handle.read().split()[1]) * _PAGE / _MIB
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return _max_rss_mib()


def _max_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / _MIB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB else


@dataclass
class PeakMemory:
    """The largest RSS seen while the block ran (MiB), filled in when it ends."""

    peak_mib: float = 0.0


@contextmanager
def peak_memory(interval_s: float = 0.02) -> Iterator[PeakMemory]:
    """Measure the peak resident memory of the process while the block runs.

    >>> with peak_memory() as memory:
    ...     block = b"x" * (64 * 1024 * 1024)
    >>> memory.peak_mib > 60
    True
    """
    record = PeakMemory(current_rss_mib())
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval_s):
            record.peak_mib = max(record.peak_mib, current_rss_mib())

    sampler = threading.Thread(target=sample, name="geo_stunting-peak-memory", daemon=True)
    sampler.start()
    try:
        yield record
    finally:
        stop.set()
        sampler.join()
        record.peak_mib = round(max(record.peak_mib, current_rss_mib()), 1)
