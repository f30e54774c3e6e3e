"""The bandwidth of a kernel relative risk, chosen as spatstat's ``bw.relrisk``.

32 bandwidths spaced geometrically between spatstat's ``hmin`` and ``hmax``
(derived from the window's area and diameter and the numbers of points),
each scored by minus the mean log leave-one-out probability of each point's
own type (``bw.relrisk(method = "likelihood")``).

The leave-one-out sums leave out the kernel terms smaller than
``exp(-TAIL_EXPONENT)`` times a point's largest, so each pair is needed only
for the bandwidths above about a ninth of its distance; each pair is visited
once for both its points. Each sum is exact to a relative ``(n - 1) *
exp(-40)`` (plus rounding); `tests/test_relative_risk.py` checks it against
the exact sums and `benchmarks/relative_risk.py` times both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo_stunting.progress import progress
from geo_stunting.scan._small_bandwidth import SMALL_BANDWIDTH_POINTS, loo_sums_dense

__all__ = ["N_BANDWIDTHS", "BandwidthChoice", "bandwidth_relrisk"]

#: spatstat.options("n.bandwidth"): bandwidths tried by cross-validation.
N_BANDWIDTHS = 32
#: Kernel terms below exp(-TAIL_EXPONENT) of a point's largest are left out of its sums.
TAIL_EXPONENT = 40.0


def _bounds(geometry: shapely.Geometry) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    return xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class BandwidthChoice:
    """A bandwidth chosen by likelihood cross-validation (spatstat's ``bw.relrisk``).

    Attributes
    ----------
    bandwidth_m
        The bandwidth with the smallest criterion.
    candidates_m
        The bandwidths tried.
    criterion
        Minus the mean log leave-one-out probability of each point's type.
    """

    bandwidth_m: float
    candidates_m: np.ndarray = field(repr=False, compare=False)
    criterion: np.ndarray = field(repr=False, compare=False)

    @property
    def at_edge(self) -> bool:
        """Whether the best bandwidth is the smallest or largest tried."""
        best = int(np.nanargmin(self.criterion))
        return best in (0, len(self.criterion) - 1)


def bandwidth_relrisk(
    x: np.ndarray, y: np.ndarray, is_case: np.ndarray, *, window: shapely.Geometry
) -> BandwidthChoice:
    """Likelihood cross-validation of the bandwidth, as spatstat's ``bw.relrisk``.

    Parameters
    ----------
    x, y, is_case
        The points and their type.
    window
        The study window: its area and bounding box set the search range.

    Returns
    -------
    BandwidthChoice
        The chosen bandwidth, the candidates and their criterion.
    """
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    types = np.asarray(is_case, dtype=bool).astype(np.int64)
    counts = np.bincount(types, minlength=2)
    area = float(shapely.area(window))
    xmin, ymin, xmax, ymax = _bounds(window)
    diameter = math.hypot(xmax - xmin, ymax - ymin)
    stoyan_low = 0.15 / math.sqrt(max(1, counts.max()) / area)
    stoyan_high = 0.15 / math.sqrt(max(1, counts.min()) / area)
    marked = np.unique(np.column_stack([xy, types]), axis=0)
    hmin = max(_min_nn_distance(marked[:, :2]), stoyan_low / 5)
    hmax = max(min(diameter / 4, stoyan_high * 20), 2 * hmin)
    h = np.exp(np.linspace(math.log(hmin), math.log(hmax), N_BANDWIDTHS))
    h[0], h[-1] = hmin, hmax
    # density.ppp(at = "points") cuts the kernel at max(8 sigma, 2 * max nn distance)
    cut_all = np.maximum(8 * h, 2 * _max_nn_distance(xy))
    cut_type = np.vstack([np.maximum(8 * h, 2 * _max_nn_distance(xy[types == t])) for t in (0, 1)])
    total, same = _loo_sums(xy, types, h, cut_all, cut_type)
    with np.errstate(divide="ignore", invalid="ignore"):
        criterion = -np.mean(np.log(same / total), axis=0)
    criterion[np.isnan(criterion)] = np.inf
    best = int(np.argmin(criterion))
    return BandwidthChoice(float(h[best]), h, criterion)


def _min_nn_distance(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(d[:, 1].min())


def _max_nn_distance(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(d[:, 1].max())


def _nn_distances(xy: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's distance to its nearest other point, and to its nearest of the same type."""
    near_all = np.zeros(len(xy))
    near_same = np.zeros(len(xy))
    if len(xy) >= 2:
        near_all = cKDTree(xy).query(xy, k=2)[0][:, 1]
    for t in (0, 1):
        rows = np.flatnonzero(types == t)
        if len(rows) >= 2:
            near_same[rows] = cKDTree(xy[rows]).query(xy[rows], k=2)[0][:, 1]
    return near_all, near_same


def _loo_sums(
    xy: np.ndarray, types: np.ndarray, h: np.ndarray, cut_all: np.ndarray, cut_type: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out Gaussian kernel sums at each point: all points, same type.

    A term smaller than ``exp(-TAIL_EXPONENT)`` times the point's largest
    term (its nearest neighbour's, always inside the cut) is left out, so
    each sum is exact to a relative ``(n - 1) * exp(-TAIL_EXPONENT)``
    (2e-14 at 5,000 points). The terms kept are those of the pairs closer
    than about 9 bandwidths, which at the small bandwidths of the search is
    a small share of all pairs.
    """
    near_all, near_same = _nn_distances(xy, types)
    reach = 2.0 * TAIL_EXPONENT * h * h
    lim_all = np.minimum(cut_all[None, :] ** 2, near_all[:, None] ** 2 + reach[None, :])
    lim_same = np.minimum(cut_type[types] ** 2, near_same[:, None] ** 2 + reach[None, :])
    n = len(xy)
    if n <= SMALL_BANDWIDTH_POINTS:  # NumPy: nothing to compile on a first run
        return loo_sums_dense(xy, types, 1.0 / (2.0 * h * h), lim_all, lim_same)
    threads = numba.get_num_threads()
    total = np.zeros((threads, n, len(h)))
    same = np.zeros((threads, n, len(h)))
    tasks = (n + 1) // 2
    # about 50 updates of the progress bar, each at least a few million pairs
    step = max(1, math.ceil(tasks / 50), 2_000_000 // max(n, 1))
    inv = 1.0 / (2.0 * h * h)
    with progress(f"relative risk: bandwidth search, {n:,} points", total=tasks) as advance:
        for first in range(0, tasks, step):
            last = min(tasks, first + step)
            _truncated_sums(xy, types, inv, lim_all, lim_same, first, last, total, same)
            advance(last - first)
    return total.sum(axis=0), same.sum(axis=0)


@numba.njit(cache=True, inline="always")
def _add_pair(
    i: int | np.int64,
    j: int | np.int64,
    d2: float,
    same_type: bool,
    inv: np.ndarray,
    lim_all: np.ndarray,
    lim_same: np.ndarray,
    total: np.ndarray,
    same: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Add a pair's kernel terms to both points' sums, largest bandwidth first."""
    for k in range(inv.size - 1, -1, -1):
        all_i = d2 <= lim_all[i, k]
        all_j = d2 <= lim_all[j, k]
        same_i = same_type and d2 <= lim_same[i, k]
        same_j = same_type and d2 <= lim_same[j, k]
        if not (all_i or all_j or same_i or same_j):
            return
        w = math.exp(-d2 * inv[k])
        if all_i:
            total[i, k] += w
        if all_j:
            total[j, k] += w
        if same_i:
            same[i, k] += w
        if same_j:
            same[j, k] += w


@numba.njit(cache=True, parallel=True)
def _truncated_sums(
    xy: np.ndarray,
    types: np.ndarray,
    inv: np.ndarray,
    lim_all: np.ndarray,
    lim_same: np.ndarray,
    first_task: int,
    last_task: int,
    total: np.ndarray,
    same: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Kernel sums over the pairs with squared distance within each point's limits.

    ``lim_all[i, k]`` and ``lim_same[i, k]`` grow with the bandwidth ``k``,
    so a pair's terms are needed for the largest bandwidths only: the loop
    over bandwidths runs from the largest down and stops at the first that
    needs neither sum. Each pair is visited once and its terms added to both
    points, in per-thread sums ``total[thread]`` and ``same[thread]`` that
    the caller adds up. Task ``t`` is rows ``t`` and ``n - 1 - t`` (so that
    every task has as many pairs); this call does tasks
    ``first_task … last_task - 1``.
    """
    n = xy.shape[0]
    nh = inv.size
    reach = np.empty(n)
    for p in range(n):
        reach[p] = max(lim_all[p, nh - 1], lim_same[p, nh - 1])
    for task in numba.prange(last_task - first_task):
        me = numba.get_thread_id()  # type: ignore[attr-defined]
        first = np.int64(task) + first_task
        for side in range(2):
            i = first if side == 0 else n - 1 - first
            if side == 1 and i == first:
                continue  # the middle row of an odd count
            xi = xy[i, 0]
            yi = xy[i, 1]
            ti = types[i]
            for j in range(i + 1, n):
                dx = xy[j, 0] - xi
                dy = xy[j, 1] - yi
                d2 = dx * dx + dy * dy
                if d2 > reach[i] and d2 > reach[j]:
                    continue
                _add_pair(i, j, d2, types[j] == ti, inv, lim_all, lim_same, total[me], same[me])
