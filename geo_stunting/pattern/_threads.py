"""Simulations on every core: patterns drawn in order, their statistics computed in threads.

The compiled kernels release the GIL (``nogil=True``), so a few Python
threads compute the statistics of several simulated patterns at once. The
random draws stay in the calling thread and in their usual order, and each
statistic depends only on its own pattern, so the results are byte-identical
to a plain loop, whatever the number of threads.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["map_in_order", "thread_count", "threads_for_numpy_twins"]

T = TypeVar("T")
R = TypeVar("R")

#: Environment variable that sets the number of threads (1: no threads).
THREADS_ENV = "GEO_STUNTING_THREADS"
_MAX_THREADS = 4


def thread_count() -> int:
    """Threads for simulations: ``GEO_STUNTING_THREADS``, else the usable cores (at most 4)."""
    given = os.environ.get(THREADS_ENV)
    if given is not None and given.strip().isdigit():
        return max(1, int(given))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_THREADS))


def threads_for_numpy_twins(n_points: int) -> int | None:
    """Threads for simulations of `n_points` whose statistic has a NumPy twin (G, Clark–Evans).

    Up to `SMALL_PATTERN_POINTS` the statistic runs as its NumPy twin, Python
    and small arrays that hold the GIL: threads only take turns and add their
    overhead (the demo's G envelope at 67 points: 0.21 CPU s in one thread,
    0.41 in two), so one. Beyond, or with ``GEO_STUNTING_THREADS`` set, None:
    `thread_count`.

    >>> threads_for_numpy_twins(67), threads_for_numpy_twins(5_000)
    (1, None)
    """
    from geo_stunting.pattern._small import SMALL_PATTERN_POINTS  # noqa: PLC0415

    if os.environ.get(THREADS_ENV) is not None or n_points > SMALL_PATTERN_POINTS:
        return None
    return 1


def map_in_order(
    func: Callable[[T], R], items: Iterator[T], *, threads: int | None = None
) -> Iterator[R]:
    """``func(item)`` for each item, in order; items are drawn one by one as threads free up.

    At most ``2 × threads`` items are drawn ahead of the results handed out,
    so the memory of simulated patterns stays small.
    """
    workers = thread_count() if threads is None else threads
    if workers <= 1:
        yield from map(func, items)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
