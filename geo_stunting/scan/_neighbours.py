"""Sorted neighbour lists of the scan's window centres, built in compiled code.

Each centre's list holds the locations around it, nearest first, up to the
largest admissible window. Above `SMALL_LOCATIONS` locations the scan takes
them from `window_chunks`, which sorts and cuts a centre's row in one pass
(about 0.5 ms a centre at 50,000 locations and a 50 % maximum, the centres
of a chunk in parallel):

1. a bound on the population cut from blocks of 64 locations (in Z order,
   so each block is compact): blocks whose nearest corner lies beyond it
   are not visited;
2. squared distances into coarse buckets, weighted by population; only the
   locations up to the bucket where the population passes the maximum
   window are kept (a prefix of the full order, long enough to cut the row);
3. those counted into fine buckets of equal width in squared distance
   (monotone, about one location each), placed in location order, and put
   in order by one insertion sort over the prefix: a key never passes a key
   of a lower bucket, and equal keys keep their index order. A crowded
   bucket (most homes in one village) is radix-sorted first, on the
   distances' bit patterns (a non-negative float64 orders as its bits read
   as an integer);
4. the windows cut as `window_lists` does, in the same loop.

`nearest_sorted` (every centre's ``k`` nearest, from buckets of all its
distances) and `window_lists` are the two-step form of the same lists, about
twice the CPU time; `window_chunks` is tested against them, and the
small-study paths cut their rows with `window_lists`.

Distances are ``sqrt(dx * dx + dy * dy)``, as scipy's k-d tree computes them,
so groups of equally distant locations (which close one window together)
are the same as the tree's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "SMALL_LOCATIONS",
    "nearest_sorted",
    "nearest_sorted_small",
    "radix_argsort",
    "spatial_order",
    "window_chunks",
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
    _insertion_sort(keys, idx, lo, hi)


@numba.njit(cache=True)
def _insertion_sort(
    keys: np.ndarray, idx: np.ndarray, lo: int, hi: int
) -> None:  # pragma: no cover
    """Sort ``keys[lo:hi]`` (carrying `idx`) stably by insertion: fast when nearly sorted."""
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


#: Consecutive locations (in Z order, so near each other) per block of the pruning bounds.
_BLOCK = 64
#: Buckets of the blocks' farthest distances, to bound the population cut.
_BLOCK_BUCKETS = 256
#: Coarse buckets of the first pass over a centre's distances (population per bucket).
_COARSE = 4096
#: Kept locations per fine bucket, on average.
_PER_FINE = 1


@numba.njit(cache=True, inline="always")
def _coarse(d2: float, scale: float, upper: float) -> int:  # pragma: no cover - compiled
    """The coarse bucket of a squared distance, monotone; `_COARSE` past `upper`."""
    if d2 > upper:
        return _COARSE
    return min(int(d2 * scale), _COARSE - 1)


@numba.njit(cache=True)
def _reach(
    cx: float,
    cy: float,
    boxes: np.ndarray,
    block_pop: np.ndarray,
    max_pop: int,
    r2: float,
    near: np.ndarray,
    far: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """A squared distance every location of the row lies within; `near` gets blocks' bounds.

    ``near[b]`` is at most the squared distance of any location of block
    ``b``, and the result at least that of every location the row can hold:
    the smallest farthest distance of blocks holding more than `max_pop`
    subjects, or the radius limit `r2`. Differences and squares round
    monotonically, so the bounds hold for the computed distances, not just
    the exact ones.
    """
    n_blocks = boxes.shape[0]
    top = 0.0
    for b in range(n_blocks):
        gx = max(boxes[b, 0] - cx, cx - boxes[b, 1], 0.0)
        gy = max(boxes[b, 2] - cy, cy - boxes[b, 3], 0.0)
        near[b] = gx * gx + gy * gy
        hx = max(boxes[b, 1] - cx, cx - boxes[b, 0])
        hy = max(boxes[b, 3] - cy, cy - boxes[b, 2])
        far[b] = hx * hx + hy * hy
        top = max(top, far[b])
    reach = min(top, r2)
    if top <= 0:
        return reach
    scale = _BLOCK_BUCKETS / top
    held = np.zeros(_BLOCK_BUCKETS, np.int64)
    widest = np.zeros(_BLOCK_BUCKETS)
    for b in range(n_blocks):
        h = min(int(far[b] * scale), _BLOCK_BUCKETS - 1)
        held[h] += block_pop[b]
        widest[h] = max(widest[h], far[b])
    total = 0
    bound = 0.0
    for h in range(_BLOCK_BUCKETS):
        total += held[h]
        bound = max(bound, float(widest[h]))
        if total > max_pop:  # the blocks within `bound` alone pass the limit
            return min(reach, bound)
    return reach


@numba.njit(cache=True)
def _sorted_row(
    xy: np.ndarray,
    pop: np.ndarray,
    c: int,
    max_pop: int,
    upper: float,
    near: np.ndarray,
    d2: np.ndarray,
    kept: np.ndarray,
    fine: np.ndarray,
    keys: np.ndarray,
    order: np.ndarray,
    counts: np.ndarray,
    coarse: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Sort the locations nearest centre `c` into ``keys[:m]`` (bits of d²) and ``order[:m]``.

    Blocks whose nearest bound lies beyond `upper` are skipped. The kept
    locations are those in the coarse buckets up to the one where the
    population passes `max_pop` (all of them up to `upper` if it never
    does): a prefix of the full order, long enough to cut the row. They are
    counted into fine buckets (monotone in the distance), placed in location
    order and sorted by one insertion sort; a crowded bucket is radix-sorted
    first. Returns ``m``.
    """
    n_loc = xy.shape[0]
    cx = xy[c, 0]
    cy = xy[c, 1]
    scale = _COARSE / upper if upper > 0 else 0.0
    coarse[:] = 0  # population and locations per coarse bucket
    cpop = coarse[0]
    ccount = coarse[1]
    for b in range(near.size):
        if near[b] > upper:
            continue
        for j in range(b * _BLOCK, min(n_loc, (b + 1) * _BLOCK)):
            dx = xy[j, 0] - cx
            dy = xy[j, 1] - cy
            v = dx * dx + dy * dy
            d2[j] = v
            q = _coarse(v, scale, upper)
            cpop[q] += pop[j]
            ccount[q] += 1
    last = _COARSE - 1
    total = 0
    m = 0
    for q in range(_COARSE):
        total += cpop[q]
        m += ccount[q]
        if total > max_pop:
            last = q
            break
    limit = upper * (last + 1) / _COARSE
    n_fine = max(1, m // _PER_FINE)
    fscale = n_fine / limit if limit > 0 else 0.0
    counts[: n_fine + 1] = 0
    i = 0
    for b in range(near.size):
        if near[b] > upper:
            continue
        for j in range(b * _BLOCK, min(n_loc, (b + 1) * _BLOCK)):
            v = d2[j]
            if _coarse(v, scale, upper) <= last:
                q = min(int(v * fscale), n_fine - 1)
                kept[i] = j
                fine[i] = q
                counts[q + 1] += 1
                i += 1
    large = 0  # buckets too full for the insertion sort below
    for q in range(n_fine):
        if counts[q + 1] > _INSERTION_MAX:
            large += 1
        counts[q + 1] += counts[q]
    bits = d2.view(np.int64)
    for i in range(m):  # in location order, so that equal keys stay in index order
        j = kept[i]
        q = fine[i]
        pos = counts[q]
        counts[q] = pos + 1
        keys[pos] = bits[j]
        order[pos] = j
    if large:
        lo = 0
        for q in range(n_fine):
            hi = counts[q]  # the bucket's end, after the scatter
            if hi - lo > _INSERTION_MAX:
                radix_argsort(keys[lo:hi], order[lo:hi])
            lo = hi
    # one insertion sort over the whole prefix: a key never passes a key of a
    # lower bucket (the buckets are monotone), so each moves within its own
    _insertion_sort(keys, order, 0, m)
    return m


@numba.njit(cache=True, parallel=True)
def _window_rows(
    xy: np.ndarray,
    pop: np.ndarray,
    boxes: np.ndarray,
    block_pop: np.ndarray,
    first: int,
    count: int,
    max_pop: int,
    max_radius: float,
    nbr: np.ndarray,
    wsize: np.ndarray,
    wdist: np.ndarray,
    lengths: np.ndarray,
    slots: int,
) -> None:  # pragma: no cover - compiled
    """The rows of `window_lists`, each at the start of its row of the buffers.

    The rows are cut into `slots` runs, each with its own scratch arrays.
    """
    n_loc = xy.shape[0]
    # a squared distance within the radius is at most r2 (sqrt rounds correctly)
    r2 = max_radius * max_radius * (1.0 + 1e-12) if math.isfinite(max_radius) else np.inf
    for s in numba.prange(slots):
        near = np.empty(boxes.shape[0])
        far = np.empty(boxes.shape[0])
        counts = np.empty(n_loc + 1, np.int64)
        coarse = np.empty((2, _COARSE + 1), np.int64)
        d2 = np.empty(n_loc)
        kept = np.empty(n_loc, np.int32)
        fine = np.empty(n_loc, np.int32)
        keys = np.empty(n_loc, np.int64)
        order = np.empty(n_loc, np.int32)
        for row in range(s * count // slots, (s + 1) * count // slots):
            c = first + row
            upper = _reach(xy[c, 0], xy[c, 1], boxes, block_pop, max_pop, r2, near, far)
            m = _sorted_row(
                xy, pop, c, max_pop, upper, near, d2, kept, fine, keys, order, counts, coarse
            )
            values = keys.view(np.float64)
            total = 0
            length = 0
            d = math.sqrt(values[0]) if m > 0 else np.inf
            for t in range(m):
                if d > max_radius:
                    break
                j = order[t]
                total += pop[j]
                if total > max_pop:
                    break
                nbr[row, t] = j
                wdist[row, t] = d
                wsize[row, t] = 0
                following = math.sqrt(values[t + 1]) if t + 1 < m else np.inf
                if following != d:
                    wsize[row, t] = total
                    length = t + 1
                d = following
            lengths[row] = length


@numba.njit(cache=True, parallel=True)
def _compact(
    rows: np.ndarray, starts: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Copy the first ``starts[i + 1] - starts[i]`` entries of each row into CSR `out`."""
    for row in numba.prange(starts.size - 1):
        base = starts[row]
        for t in range(starts[row + 1] - base):
            out[base + t] = rows[row, t]


def _blocks(xy: np.ndarray, pop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes (x min, x max, y min, y max) and subjects of blocks of `_BLOCK` locations."""
    at = np.arange(0, len(xy), _BLOCK)
    boxes = np.column_stack(
        [
            np.minimum.reduceat(xy[:, 0], at),
            np.maximum.reduceat(xy[:, 0], at),
            np.minimum.reduceat(xy[:, 1], at),
            np.maximum.reduceat(xy[:, 1], at),
        ]
    )
    return np.ascontiguousarray(boxes), np.add.reduceat(pop, at)


def window_chunks(
    xy: np.ndarray, pop: np.ndarray, max_pop: int, max_radius: float, per_chunk: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """`nearest_sorted` and `window_lists` in one pass, `per_chunk` centres at a time.

    Yields ``first, starts, nbr, wsize, wdist`` as `window_lists` returns
    them for the centres ``first … first + per_chunk - 1``, bit for bit. Only
    the locations up to the population limit are sorted, and blocks of
    locations beyond it are not visited (locations in Z order make the
    blocks compact). The arrays are reused by the next chunk: use them
    before asking for it.
    """
    n_loc = len(xy)
    xy = np.ascontiguousarray(xy, dtype=np.float64)
    pop = np.ascontiguousarray(pop, dtype=np.int64)
    boxes, block_pop = _blocks(xy, pop)
    stride = max(1, min(n_loc, max_pop))
    rows = min(per_chunk, n_loc)
    nbr = np.empty((rows, stride), np.int32)
    wsize = np.empty((rows, stride), np.int32)
    wdist = np.empty((rows, stride))
    flat = (
        np.empty(rows * stride, np.int32),
        np.empty(rows * stride, np.int32),
        np.empty(rows * stride),
    )
    lengths = np.zeros(rows, np.int64)
    for first in range(0, n_loc, per_chunk):
        count = min(per_chunk, n_loc - first)
        slots = min(numba.get_num_threads(), count)
        _window_rows(
            xy, pop, boxes, block_pop, first, count, max_pop, max_radius,
            nbr, wsize, wdist, lengths, slots,
        )  # fmt: skip
        starts = np.zeros(count + 1, np.int64)
        np.cumsum(lengths[:count], out=starts[1:])
        end = int(starts[-1])
        if end == count * stride:  # every row full: the buffers are the CSR arrays
            flat_rows = nbr[:count].reshape(-1), wsize[:count].reshape(-1)
            yield first, starts, *flat_rows, wdist[:count].reshape(-1)
            continue
        _compact(nbr, starts, flat[0])
        _compact(wsize, starts, flat[1])
        _compact(wdist, starts, flat[2])
        yield first, starts, flat[0][:end], flat[1][:end], flat[2][:end]
