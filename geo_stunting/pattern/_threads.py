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

__all__ = ["ONE_THREAD_MAX_POINTS", "map_in_order", "thread_count", "threads_for_numpy_twins"]

T = TypeVar("T")
R = TypeVar("R")

#: Environment variable that sets the number of threads (1: no threads).
THREADS_ENV = "GEO_STUNTING_THREADS"
_MAX_THREADS = 4
#: Up to this many points G envelopes and Clark–Evans simulate in one thread. Measured on
#: the demo window, 499 simulations, one thread against two on 2 cores (G; Clark–Evans):
#: 67 points 0.10/0.23 s; 0.03/0.07 s, 200 points 0.23/0.38; 0.10/0.20, 300 points
#: 0.35/0.37; 0.26/0.18, 500 points 0.88/0.58; 0.76/0.35, 1,000 points (999 simulations)
#: 8.5/3.2; 8.8/3.9: larger arrays let go of the GIL and threads pay
#: (`benchmarks/pattern_threads.py`; between 200 and 500 points the two are within noise).
ONE_THREAD_MAX_POINTS = 250


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

    Up to `ONE_THREAD_MAX_POINTS` the NumPy twin is mostly Python and small
    arrays that hold the GIL: threads only take turns and add their overhead,
    so one. Beyond, or with ``GEO_STUNTING_THREADS`` set, None: `thread_count`.

    >>> threads_for_numpy_twins(67), threads_for_numpy_twins(5_000)
    (1, None)
    """
    if os.environ.get(THREADS_ENV) is not None or n_points > ONE_THREAD_MAX_POINTS:
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
