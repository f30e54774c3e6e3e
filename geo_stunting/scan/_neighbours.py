"""Sorted neighbour lists of the scan's window centres, built in compiled code.

Each centre's list holds the locations around it, nearest first, up to the
largest admissible window. A k-d tree asked for 25,000 neighbours of each of
50,000 centres spends most of its time in its heap (about 4 ms a centre);
here a centre's squared distances to every location are computed at once
and put in buckets of equal width in squared distance (equal area, so about
equally full for evenly spread homes); the buckets up to the one holding the
``k``-th nearest are kept, and each is sorted on the distances' bit patterns
(a non-negative float64 orders as its bits read as an integer): insertion
sort when small, a stable least-significant-digit radix sort (11 bits a
pass) when large, as when most homes sit in one far village. About 1 ms a
centre; the centres of a chunk are sorted in parallel.

Distances are ``sqrt(dx * dx + dy * dy)``, as scipy's k-d tree computes them,
so groups of equally distant locations (which close one window together)
are the same as the tree's.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "SMALL_LOCATIONS",
    "nearest_sorted",
    "nearest_sorted_small",
    "radix_argsort",
    "spatial_order",
    "window_lists",
]

#: Up to this many locations, `nearest_sorted_small` (NumPy) builds the lists:
#: as fast at that size, and it spares a first run about 8 s of numba compiling.
SMALL_LOCATIONS = 2_000

_BITS = 11
_BUCKETS = 1 << _BITS
_PASSES = 6  # 6 × 11 bits cover the 63 bits of a non-negative float64
#: Buckets larger than this are radix-sorted, smaller ones insertion-sorted.
_INSERTION_MAX = 48
#: Locations per distance bucket, on average.
_PER_BUCKET = 8


@numba.njit(cache=True)
def radix_argsort(keys: np.ndarray, idx: np.ndarray) -> None:  # pragma: no cover - compiled
    """Sort non-negative int64 `keys` and carry `idx` along, in place and stably.

    >>> keys = np.array([5, 3, 5, 1], dtype=np.int64)
    >>> idx = np.arange(4, dtype=np.int32)
    >>> radix_argsort(keys, idx)
    >>> keys.tolist(), idx.tolist()
    ([1, 3, 5, 5], [3, 1, 0, 2])
    """
    n = keys.size
    if n < 2:
        return
    hist = np.zeros((_PASSES, _BUCKETS), np.int64)
    mask = np.int64(_BUCKETS - 1)
    for i in range(n):
        k = keys[i]
        for p in range(_PASSES):
            hist[p, (k >> (_BITS * p)) & mask] += 1
    src_k, src_i = keys, idx
    dst_k = np.empty_like(keys)
    dst_i = np.empty_like(idx)
    moved = False
    for p in range(_PASSES):
        h = hist[p]
        shift = _BITS * p
        if h[(src_k[0] >> shift) & mask] == n:
            continue  # every key has this digit
        total = 0
        for b in range(_BUCKETS):
            count = h[b]
            h[b] = total
            total += count
        for i in range(n):
            k = src_k[i]
            b = (k >> shift) & mask
            pos = h[b]
            h[b] = pos + 1
            dst_k[pos] = k
            dst_i[pos] = src_i[i]
        src_k, dst_k = dst_k, src_k
        src_i, dst_i = dst_i, src_i
        moved = not moved
    if moved:
        keys[:] = src_k
        idx[:] = src_i


@numba.njit(cache=True)
def _sort_bucket(keys: np.ndarray, idx: np.ndarray, lo: int, hi: int) -> None:  # pragma: no cover
    """Sort ``keys[lo:hi]`` (carrying `idx`) stably: insertion sort, radix when large."""
    if hi - lo > _INSERTION_MAX:
        radix_argsort(keys[lo:hi], idx[lo:hi])
        return
    for a in range(lo + 1, hi):
        k = keys[a]
        v = idx[a]
        b = a - 1
        while b >= lo and keys[b] > k:
            keys[b + 1] = keys[b]
            idx[b + 1] = idx[b]
            b -= 1
        keys[b + 1] = k
        idx[b + 1] = v


def nearest_sorted_small(
    xy: np.ndarray, first: int, count: int, k: int, max_radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """`nearest_sorted` in NumPy, for few locations: the same lists, bit for bit.

    The squared distances are computed with the same operations, and a stable
    sort keeps equally distant locations in index order, as the compiled
    buckets do.
    """
    centres = xy[first : first + count]
    dx = xy[None, :, 0] - centres[:, None, 0]
    dy = xy[None, :, 1] - centres[:, None, 1]
    d2 = dx * dx + dy * dy
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    dist = np.sqrt(np.take_along_axis(d2, order, axis=1))
    dist[dist > max_radius] = np.inf
    return order.astype(np.int32), dist


@numba.njit(cache=True, parallel=True)
def nearest_sorted(
    xy: np.ndarray, first: int, count: int, k: int, max_radius: float
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The `k` nearest locations of centres ``first … first + count - 1``, nearest first.

    Parameters
    ----------
    xy
        ``(L, 2)`` location coordinates (the centres are locations too).
    k
        Neighbours per centre (at most ``L``).
    max_radius
        Locations farther than this are marked missing (``inf`` for no limit).

    Returns
    -------
    idx, dist
        ``(count, k)`` location indices (int32) and distances, ties in
        index order; beyond `max_radius` the distance is ``inf``.
    """
    n_loc = xy.shape[0]
    idx = np.empty((count, k), np.int32)
    dist = np.empty((count, k))
    n_buckets = max(1024, 4 * n_loc // _PER_BUCKET)
    for row in numba.prange(count):
        c = first + row
        cx = xy[c, 0]
        cy = xy[c, 1]
        d2 = np.empty(n_loc)
        top = 0.0
        for j in range(n_loc):
            dx = xy[j, 0] - cx
            dy = xy[j, 1] - cy
            d2[j] = dx * dx + dy * dy
            top = max(top, d2[j])
        # buckets of equal width in squared distance (equal area: even counts
        # for even density), monotone in the distance
        scale = (n_buckets - 1) / top if top > 0 else 0.0
        bucket = np.empty(n_loc, np.int32)
        counts = np.zeros(n_buckets + 1, np.int64)
        for j in range(n_loc):
            b = min(int(d2[j] * scale), n_buckets - 1)
            bucket[j] = b
            counts[b + 1] += 1
        # the bucket holding the k-th nearest; every location up to it is kept
        last = 0
        total = 0
        while total + counts[last + 1] < k:
            total += counts[last + 1]
            last += 1
        for b in range(n_buckets):
            counts[b + 1] += counts[b]
        m = counts[last + 1]
        keys = np.empty(m, np.int64)
        order = np.empty(m, np.int32)
        bits = d2.view(np.int64)
        fill = counts[: last + 1].copy()
        for j in range(n_loc):
            b = bucket[j]
            if b <= last:
                pos = fill[b]
                fill[b] = pos + 1
                keys[pos] = bits[j]
                order[pos] = j
        for b in range(last + 1):
            _sort_bucket(keys, order, counts[b], counts[b + 1])
        for t in range(k):
            j = order[t]
            idx[row, t] = j
            d = math.sqrt(d2[j])
            dist[row, t] = d if d <= max_radius else np.inf
    return idx, dist


@numba.njit(cache=True)
def window_lists(
    idx: np.ndarray, dist: np.ndarray, pop: np.ndarray, max_pop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Cut sorted neighbour rows at the largest admissible window, in CSR form.

    A window closes at the last of a group of equally distant locations when
    its population is at most `max_pop`; a row keeps its entries up to the
    last such window.

    Returns
    -------
    starts, nbr, wsize, wdist
        Row ``i`` is ``nbr[starts[i]:starts[i + 1]]``; ``wsize`` is the
        population of the window closing at an entry (0 if none closes
        there); ``wdist`` the entry's distance.
    """
    count, k = idx.shape
    lengths = np.zeros(count, np.int64)
    for row in range(count):
        total = 0
        for t in range(k):
            if not math.isfinite(dist[row, t]):
                break
            total += pop[idx[row, t]]
            if total > max_pop:
                break
            if t == k - 1 or dist[row, t + 1] != dist[row, t]:
                lengths[row] = t + 1
    starts = np.zeros(count + 1, np.int64)
    for row in range(count):
        starts[row + 1] = starts[row] + lengths[row]
    nbr = np.empty(starts[-1], np.int32)
    wsize = np.zeros(starts[-1], np.int32)
    wdist = np.empty(starts[-1])
    for row in range(count):
        total = 0
        base = starts[row]
        for t in range(lengths[row]):
            j = idx[row, t]
            total += pop[j]
            nbr[base + t] = j
            wdist[base + t] = dist[row, t]
            if t == k - 1 or dist[row, t + 1] != dist[row, t]:
                wsize[base + t] = total
    return starts, nbr, wsize, wdist


def spatial_order(xy: np.ndarray) -> np.ndarray:
    """An order of the points along a Z (Morton) curve, so that near points sit near in memory.

    The scan reads every location's labels once per window; in this order
    the locations of neighbouring windows share cache lines.

    >>> spatial_order(np.array([[0.0, 0.0], [10.0, 10.0], [0.0, 1.0], [10.0, 9.0]])).tolist()
    [0, 2, 3, 1]
    """
    span = float(np.ptp(xy, axis=0).max()) if len(xy) else 0.0
    scaled = (xy - xy.min(axis=0)) / (span if span > 0 else 1.0) * 65535.0
    q = scaled.astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:
        v = v & np.uint64(0xFFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
        return (v | (v << np.uint64(1))) & np.uint64(0x55555555)

    code = spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1))
    return np.argsort(code, kind="stable")
