"""Pairs of fixed points, stored once and compactly, for K under random labelling.

Under random labelling the points stay where they are: the pairs closer than
rmax and their isotropic weights are the same for every relabelling, so
they are computed once (`labelled_pairs`) and each relabelling only sums
them by label (`same_label_sums`). A district study has many pairs (36
million ordered pairs for 30,000 children in Ogan Ilir), so each is stored
in 6 bytes plus 8 for its weight only when it has one: the second point
(``int32``), the bin of its distance (``uint16``, with `WEIGHT_FLAG` when
the pair is farther apart than the first point is from the boundary), and
the isotropic weights of the flagged pairs in a separate array read in step
(every other pair weighs exactly 1). The arrays are sized by a first
counting pass (`pair_counts`), so nothing is over-allocated or copied.

Pairs are kept in the order of the full scan, and every sum is taken in
that order, so the values are the same as from the plain pair list to the
last bit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from geo_stunting import _compile_ahead
from geo_stunting.pattern import _pairs as kf
from geo_stunting.pattern import _small
from geo_stunting.pattern._kernels import WEIGHT_FLAG
from geo_stunting.pattern._threads import map_in_order
from geo_stunting.pattern._window import StudyWindow
from geo_stunting.progress import progress

__all__ = [
    "LABELS_PER_WORD",
    "LabelledPairs",
    "labelled_pairs",
    "pack_labels",
    "packed_label_sums",
    "packed_link_counts",
    "pair_counts",
    "same_label_sums",
]

_FLAG_SHIFT = WEIGHT_FLAG.bit_length() - 1
#: The index of the lowest set bit of a word (LLVM's cttz), typed for mypy.
_lowest_bit = cast("Callable[[np.uint64], int]", trailing_zeros)
#: Labellings summed in one pass over the pairs: one bit each of a ``uint64`` per point.
LABELS_PER_WORD = 64
#: Blocks of points whose pairs are found in turn (in threads), for the progress bar.
_BLOCKS = 50


@dataclass(frozen=True)
class LabelledPairs:
    """Ordered pairs ``(i, j)`` closer than rmax, grouped by i, with their binned weights.

    Attributes
    ----------
    rowptr, wptr
        Pairs of point i are ``rowptr[i] … rowptr[i+1]``; its stored weights
        start at ``wptr[i]``.
    pj, cell, w
        Second point, bin (with `WEIGHT_FLAG`), stored weights.
    columns
        ``(n, nbin)``: binned weights of the pairs whose second point is j.
    total
        Binned weights of all pairs.
    """

    rowptr: np.ndarray
    wptr: np.ndarray
    pj: np.ndarray
    cell: np.ndarray
    w: np.ndarray
    columns: np.ndarray
    total: np.ndarray

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(
            a.nbytes
            for a in (self.rowptr, self.wptr, self.pj, self.cell, self.w, self.columns, self.total)
        )


def labelled_pairs(xy: np.ndarray, window: StudyWindow, breaks: np.ndarray) -> LabelledPairs:
    """The pairs of `xy` closer than ``breaks[-1]``, binned on `breaks`, with isotropic weights."""
    n = len(xy)
    nbin = len(breaks) - 1
    if nbin >= WEIGHT_FLAG:
        msg = f"at most {WEIGHT_FLAG - 1} distance bins, got {nbin}"
        raise ValueError(msg)
    rmax = float(breaks[-1])
    grid, b, total_angle = kf.prepare_scan(xy, window, np.array([-rmax / 512, 0.0, rmax]), None)
    order, start = grid.sort(xy)
    small = n <= _small.SMALL_PATTERN_POINTS  # NumPy twins: nothing to compile on a first run
    per_row, weighted = (_small.pair_counts_small if small else pair_counts)(
        np.ascontiguousarray(xy[:, 0]),
        np.ascontiguousarray(xy[:, 1]),
        b,
        order,
        start,
        grid.ox,
        grid.oy,
        grid.cs,
        grid.ncx,
        grid.ncy,
        rmax,
    )
    rowptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    wptr = np.concatenate([[0], np.cumsum(weighted)]).astype(np.int64)
    out = (
        np.empty(int(rowptr[-1]), dtype=np.int32),
        np.empty(int(rowptr[-1]), dtype=np.uint16),
        np.empty(int(wptr[-1])),
    )
    # blocks of points in threads (their pairs go to disjoint slices), counted by a progress bar
    cuts = np.linspace(0, n, min(n, _BLOCKS) + 1).astype(np.int64)
    blocks = [
        (int(lo), int(hi), int(rowptr[lo]), int(wptr[lo])) for lo, hi in itertools.pairwise(cuts)
    ]

    def scan(block: tuple[int, int, int, int]) -> int:
        *_, count = kf.run_scan(xy, grid, b, total_angle, breaks, rmax, out=out, block=block)
        return int(count)

    with progress(f"K difference: pairs of {n:,} points", total=n) as advance:
        for (lo, hi, _, _), count in zip(blocks, map_in_order(scan, iter(blocks)), strict=True):
            if count != rowptr[hi]:  # pragma: no cover - the two passes see the same pairs
                msg = f"pair scan found {count} pairs, the count pass {rowptr[hi]}"
                raise RuntimeError(msg)
            advance(hi - lo)
    pj, cell, w = out
    sums = _small.column_sums_small if small else _column_sums
    columns, total = sums(rowptr, wptr, pj, cell, w, n, nbin)
    return LabelledPairs(rowptr, wptr, pj, cell, w, columns, total)


@njit(cache=True, nogil=True)
def pair_counts(  # pragma: no cover - compiled
    x: np.ndarray,
    y: np.ndarray,
    b: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
    rmax: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per point: neighbours closer than `rmax`, and those farther than its boundary distance.

    The same test as `geo_stunting.pattern._kernels.scan_pairs`, without the weights.
    """
    n = x.shape[0]
    per_row = np.zeros(n, dtype=np.int64)
    weighted = np.zeros(n, dtype=np.int64)
    reach = math.ceil(rmax / cs) if cs > 0 else 1
    r2 = rmax * rmax
    for i in range(n):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        gy0 = max(cy - reach, 0)
        gy1 = min(cy + reach, ncy - 1)
        found = 0
        far = 0
        for gx in range(max(cx - reach, 0), min(cx + reach, ncx - 1) + 1):
            for k in range(start[gx * ncy + gy0], start[gx * ncy + gy1 + 1]):
                j = order[k]
                if j == i:
                    continue
                d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
                if d2 > r2:
                    continue
                found += 1
                if math.sqrt(d2) > b[i]:
                    far += 1
        per_row[i] = found
        weighted[i] = far
    return per_row, weighted


@njit(cache=True)
def _column_sums(  # pragma: no cover - compiled
    rowptr: np.ndarray,
    wptr: np.ndarray,
    pj: np.ndarray,
    cell: np.ndarray,
    w: np.ndarray,
    n: int,
    nbin: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Binned weights by second point, and in all, summed in pair order."""
    columns = np.zeros((n, nbin))
    total = np.zeros(nbin)
    mask = WEIGHT_FLAG - 1
    for i in range(n):
        q = wptr[i]
        for p in range(rowptr[i], rowptr[i + 1]):
            c = np.int64(cell[p])
            weight = 1.0
            if c & WEIGHT_FLAG:
                weight = w[q]
                q += 1
            c &= mask
            columns[pj[p], c] += weight
            total[c] += weight
    return columns, total


def same_label_sums(
    rowptr: np.ndarray,
    wptr: np.ndarray,
    pj: np.ndarray,
    cell: np.ndarray,
    w: np.ndarray,
    columns: np.ndarray,
    label: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the pairs of the labelled points: weights binned, by row, by column, same-label.

    Returns ``(rows, cols, same)``: the binned weights of the pairs whose
    first point is labelled, whose second point is, and whose both are.
    `packed_label_sums` with a batch of one (one compiled kernel for both).
    """
    words = pack_labels(np.asarray(label, dtype=bool)[None, :])
    _compile_ahead.wait("packed_label_sums")  # a first run: compiled in the background
    rows, cols, same = packed_label_sums(rowptr, wptr, pj, cell, w, columns, words, 1)
    return rows[0], cols[0], same[0]


def pack_labels(labels: np.ndarray) -> np.ndarray:
    """Up to 64 labellings (rows of a boolean ``(batch, n)`` array) as one ``uint64`` per point.

    Bit b of point i's word is labelling b's label of point i.

    Examples
    --------
    >>> pack_labels(np.array([[True, False, True], [False, False, True]])).tolist()
    [1, 0, 3]
    """
    batch, n = labels.shape
    if batch > LABELS_PER_WORD:
        msg = f"at most {LABELS_PER_WORD} labellings a word, got {batch}"
        raise ValueError(msg)
    padded = np.zeros((n, LABELS_PER_WORD), dtype=bool)
    padded[:, :batch] = labels.T
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").ravel().astype(np.uint64)


@njit(cache=True, nogil=True)
def packed_label_sums(  # pragma: no cover - compiled
    rowptr: np.ndarray,
    wptr: np.ndarray,
    pj: np.ndarray,
    cell: np.ndarray,
    w: np.ndarray,
    columns: np.ndarray,
    words: np.ndarray,
    batch: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`same_label_sums` for up to 64 labellings at once, packed a bit each (`pack_labels`).

    One pass over the pairs serves the whole batch. A labelled row adds its
    pairs to its labellings' row sums (only the labellings whose bit is set),
    and a pair adds to the same-label sums only of the labellings in which
    both of its points are labelled (``words[i] & words[j]``, about p² of
    the bits): never a multiply by a zero label. Every labelling's sums are
    taken in the same order as one by one (rows in order, pairs in order;
    adding a 0.0 that the plain sum would add changes no bit), so they are
    the same numbers whatever the batch. Returns ``(rows, cols, same)``,
    each ``(batch, nbin)``.
    """
    nbin = columns.shape[1]
    n = rowptr.shape[0] - 1
    rows = np.zeros((batch, nbin))
    cols = np.zeros((batch, nbin))
    same = np.zeros((batch, nbin))
    mask = WEIGHT_FLAG - 1
    longest = 0
    for i in range(n):
        longest = max(longest, rowptr[i + 1] - rowptr[i])
    bins = np.empty(longest, dtype=np.int64)
    weights = np.empty(longest)
    active = np.empty(LABELS_PER_WORD, dtype=np.int64)
    for i in range(n):
        mine = words[i]
        if mine == 0:
            continue
        first = rowptr[i]
        m = rowptr[i + 1] - first
        q = wptr[i]
        for t in range(m):
            c = np.int64(cell[first + t])
            flagged = c >> _FLAG_SHIFT
            weights[t] = w[q] if flagged else 1.0
            q += flagged
            bins[t] = c & mask
        na = 0
        bits = mine
        while bits:
            b = _lowest_bit(bits)
            bits &= bits - np.uint64(1)
            active[na] = b
            na += 1
            for k in range(nbin):
                cols[b, k] += columns[i, k]
        # the row's pairs added to four labellings' row sums at a time: four
        # independent chains of additions, each still in pair order
        a = 0
        while a + 4 <= na:
            b0, b1, b2, b3 = active[a], active[a + 1], active[a + 2], active[a + 3]
            for t in range(m):
                c = bins[t]
                wt = weights[t]
                rows[b0, c] += wt
                rows[b1, c] += wt
                rows[b2, c] += wt
                rows[b3, c] += wt
            a += 4
        while a < na:
            b = active[a]
            for t in range(m):
                rows[b, bins[t]] += weights[t]
            a += 1
        for t in range(m):
            both = mine & words[pj[first + t]]
            while both:
                b = _lowest_bit(both)
                both &= both - np.uint64(1)
                same[b, bins[t]] += weights[t]
    return rows, cols, same


@njit(cache=True, nogil=True)
def packed_link_counts(  # pragma: no cover - compiled
    indptr: np.ndarray, indices: np.ndarray, words: np.ndarray, batch: int
) -> np.ndarray:
    """Links ``i → j`` of a 0/1 neighbour matrix (CSR) whose both ends are labelled, per labelling.

    `words` packs up to 64 labellings (`pack_labels`); a link adds one to each
    labelling in which both of its points are labelled (``words[i] &
    words[j]``). Cuzick–Edwards' T of each labelling: whole numbers, so the
    same as ``y @ (matrix @ y)`` in any order.
    """
    out = np.zeros(batch, dtype=np.int64)
    for i in range(indptr.shape[0] - 1):
        mine = words[i]
        if mine == 0:
            continue
        for p in range(indptr[i], indptr[i + 1]):
            both = mine & words[indices[p]]
            while both:
                out[_lowest_bit(both)] += 1
                both &= both - np.uint64(1)
    return out
