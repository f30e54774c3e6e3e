"""What keeps one step's trouble inside that step: failure reasons and peak memory.

`failure_reason` turns any exception raised inside a step into the one line
that ``results.json → steps.<name>.reason`` and the report show; the step is
then ``"failed"`` and the other steps still run and write their outputs.

`peak_memory` measures the largest resident memory (RSS) of the process
while a block runs, by sampling ``/proc/self/statm`` every 20 ms (and the
kernel's own high-water mark where that is all there is); ``run.json →
steps.<name>.peak_rss_mib`` records it for every step, and ``run.json →
peak_rss_mib`` the process's own high-water mark (`max_rss_mib`: reading
and validating the inputs included) when the run was written.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geo_stunting.errors import GeoStuntingError, Problem

if TYPE_CHECKING:
    from geo_stunting.study._study import Study

__all__ = [
    "PeakMemory",
    "available_memory_bytes",
    "current_rss_mib",
    "failure_reason",
    "max_rss_mib",
    "peak_memory",
    "resource_problems",
]

log = logging.getLogger(__name__)

#: A run the estimate puts above this many hours is refused.
MAX_HOURS = 24

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
        return max_rss_mib()


def max_rss_mib() -> float:
    """The largest resident memory of this process so far (the kernel's high-water mark), MiB."""
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


def available_memory_bytes() -> int:
    """Memory this machine can give now (``MemAvailable``; physical memory elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))  # pragma: no cover


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB"


def resource_problems(
    study: Study, steps: tuple[str, ...], *, available: int | None = None
) -> list[Problem]:
    """What this machine cannot do for `steps` on `study`, with the numbers (empty: all fits).

    The estimates are upper bounds of the largest arrays each step holds:
    the scan keeps one label per subject and replication; the relative-risk
    surface a label per subject and replication and a few values per grid
    cell; the other steps' memory and every step's time come from the cost
    model of `geo_stunting.estimate` (a step expected to run longer than
    `MAX_HOURS` is refused). Memory is compared with 80 % of what is
    available now.
    """
    from geo_stunting.estimate import pattern_memory_bytes, scan_memory_bytes  # noqa: PLC0415

    settings = study.settings
    n = len(study.subjects)
    perms = settings.permutations
    budget = 0.8 * (available_memory_bytes() if available is None else available)
    needs: list[tuple[str, float, str]] = []
    if "scan" in steps:
        needs.append(("scan", scan_memory_bytes(study), "permutations"))
    if "relative_risk" in steps:
        geoms = study.area.geometry if study.area is not None else study.subjects.geometry
        minx, miny, maxx, maxy = geoms.total_bounds
        cell = settings.relative_risk.cell_m
        side = max(maxx - minx, maxy - miny)
        cell_m = float(cell) if cell else max(side, 1.0) / 128
        cells = max(1.0, (maxx - minx) / cell_m) * max(1.0, (maxy - miny) / cell_m)
        needs.append(("relative_risk", perms * n * 8.0 + cells * 32.0, f"{cells:,.0f} grid cells"))
    if "pattern" in steps:
        needs.append(("pattern", pattern_memory_bytes(study), "pairs within rmax"))
    problems = []
    if "pattern" in steps:
        # the cost model of geo_stunting.estimate, measured on the district studies
        # (benchmarks/district.py): one model for the warning, the refusal and the CLI
        from geo_stunting.estimate import estimate_step  # noqa: PLC0415 - estimate imports Study

        estimate = estimate_step("pattern", study)
        hours = 0.0 if estimate is None else estimate.seconds / 3600
        if hours > MAX_HOURS:
            problems.append(
                Problem(
                    f"the pattern step would take about {hours:,.0f} hours for {n:,} subjects and "
                    f"{perms:,} permutations (limit {MAX_HOURS} hours)",
                    fix="lower permutations (999 or 9999 is usual), or leave pattern out (--only)",
                )
            )
        elif hours > 1 / 6:
            log.warning(
                "the pattern step may take about %.1f hours (%s subjects, %s permutations)",
                hours,
                f"{n:,}",
                f"{perms:,}",
            )
    problems.extend(_estimated_problems(study, steps, budget, done={n for n, _, _ in needs}))
    for step, need, driver in needs:
        if need > budget:
            problems.append(
                Problem(
                    f"the {step} step would need about {_gib(need)} of memory for {n:,} subjects "
                    f"and {perms:,} permutations ({driver}); this machine has "
                    f"{_gib(budget / 0.8)} available",
                    fix="lower permutations (999 or 9999 is usual), raise cell_m, or run the "
                    "step on a larger machine",
                )
            )
    return problems


def _estimated_problems(
    study: Study, steps: tuple[str, ...], budget: float, *, done: set[str]
) -> list[Problem]:
    """Steps the cost model of `geo_stunting.estimate` puts over a day or over the memory."""
    from geo_stunting.estimate import estimate_step  # noqa: PLC0415 - estimate imports Study

    problems = []
    for step in steps:
        estimate = None if step == "pattern" else estimate_step(step, study)
        if estimate is None:
            continue
        hours = estimate.seconds / 3600
        if hours > MAX_HOURS:
            problems.append(
                Problem(
                    f"the {step} step would take about {hours:,.0f} hours ({estimate.why}; "
                    f"limit {MAX_HOURS} hours)",
                    fix=estimate.shorten,
                )
            )
        if step not in done and estimate.memory_bytes > budget:
            problems.append(
                Problem(
                    f"the {step} step would need about {_gib(estimate.memory_bytes)} of memory "
                    f"({estimate.why}); this machine has {_gib(budget / 0.8)} available",
                    fix=estimate.shorten,
                )
            )
    return problems
