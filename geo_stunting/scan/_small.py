"""The Bernoulli scan of a small study in NumPy: the compiled scan's results, bit for bit.

A first run after install spends about 9 CPU s compiling the scan's kernels
(`geo_stunting.scan._kernels`); a study of a few hundred subjects needs
none of their shortcuts. Here every window is scored from a table of
log-likelihood ratios, one entry per (population, cases) pair, computed once
by the same arithmetic as `geo_stunting.scan._kernels.llr_bernoulli`
(``math.log`` is the C library's ``log``, as in compiled code), so each
ratio is the same float. The driver follows `run_scan` step for step: the
same random labels from the caller's generator, the same neighbour lists,
chunks and observed floor; each replication's maximum is the full
enumeration's, which the compiled scan's pruning also gives exactly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from geo_stunting.progress import progress
from geo_stunting.scan._kernels import (
    HIGH,
    LOW,
    Locations,
    ScanArrays,
    neighbour_chunks,
)
from geo_stunting.scan._neighbours import spatial_order

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "SMALL_SCAN_SUBJECTS",
    "llr_table",
    "run_scan_small",
    "run_scan_small_cutoffs",
    "thresholds",
    "window_lists_small",
]

#: Up to this many subjects the scan runs here: the same results, and a first run compiles
#: none of the scan kernels (about 9 CPU s); at 300 subjects and 999 replications it takes
#: 0.38 s against 0.09 s compiled.
SMALL_SCAN_SUBJECTS = 300


def _xlog(x: float, y: float) -> float:
    return 0.0 if x <= 0.0 else x * math.log(x / y)


def _llr(n: int, c: int, n_total: int, c_total: int) -> float:
    """`llr_bernoulli` in Python: the same operations in the same order."""
    nf, cf, big_n, big_c = float(n), float(c), float(n_total), float(c_total)
    out_n = big_n - nf
    out_c = big_c - cf
    inside = _xlog(cf, nf) + _xlog(nf - cf, nf)
    outside = _xlog(out_c, out_n) + _xlog(out_n - out_c, out_n)
    null = _xlog(big_c, big_n) + _xlog(big_n - big_c, big_n)
    return max(0.0, inside + outside - null)


def llr_table(max_pop: int, n_total: int, c_total: int) -> np.ndarray:
    """``table[n, c]``: the ratio of a window of `n` subjects and `c` cases (0 where impossible).

    >>> t = llr_table(3, 10, 4)
    >>> t.shape, float(t[0, 0]), round(float(t[3, 3]), 4)
    ((4, 4), 0.0, 3.8593)
    """
    table = np.zeros((max_pop + 1, max_pop + 1))
    for n in range(1, max_pop + 1):
        low = max(0, c_total - (n_total - n))
        for c in range(low, min(n, c_total) + 1):
            table[n, c] = _llr(n, c, n_total, c_total)
    return table


def _sided(table: np.ndarray, n_total: int, c_total: int, direction: int) -> np.ndarray:
    """`table` with 0 for windows whose rate is not on the scanned side (`_window_llr`)."""
    n = np.arange(table.shape[0])[:, None]
    c = np.arange(table.shape[1])[None, :]
    excess = c * n_total - n * c_total
    keep = ((excess > 0) & bool(direction & HIGH)) | ((excess < 0) & bool(direction & LOW))
    return np.where(keep, table, 0.0)


def thresholds(
    th: np.ndarray,
    tl: np.ndarray,
    level: float,
    n_total: int,
    c_total: int,
    sides: int,
    table: np.ndarray,
) -> None:
    """`geo_stunting.scan._kernels._thresholds` in Python, reading ratios from `table`."""
    bar = level - 1e-9 * max(1.0, level)
    for n in range(1, th.size if sides & HIGH else 1):
        c = max(int(th[n]), (n * c_total) // n_total + 1)
        top = min(n, c_total)
        while c <= top and table[n, c] < bar:
            c += 1
        th[n] = c if c <= top else n + 1
    for n in range(1, tl.size if sides & LOW else 1):
        c = min(int(tl[n]), -((-n * c_total) // n_total) - 1)
        bottom = max(0, c_total - (n_total - n))
        while c >= bottom and table[n, c] < bar:
            c -= 1
        tl[n] = c if c >= bottom else -1


def window_lists_small(
    idx: np.ndarray, dist: np.ndarray, pop: np.ndarray, max_pop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`geo_stunting.scan._neighbours.window_lists` in NumPy: the same CSR arrays.

    >>> idx = np.array([[0, 1, 2, 3, 4]], dtype=np.int32)
    >>> dist = np.array([[0.0, 1.0, 1.0, 2.0, 3.0]])
    >>> starts, nbr, wsize, _ = window_lists_small(idx, dist, np.array([1, 1, 2, 1, 1]), 4)
    >>> starts.tolist(), wsize.tolist()
    ([0, 3], [1, 0, 4])
    """
    count, k = idx.shape
    total = np.cumsum(pop[idx], axis=1)
    inside = np.logical_and.accumulate(np.isfinite(dist) & (total <= max_pop), axis=1)
    closes = np.ones((count, k), dtype=bool)
    closes[:, :-1] = dist[:, 1:] != dist[:, :-1]
    closing = inside & closes
    last = k - np.argmax(closing[:, ::-1], axis=1)
    lengths = np.where(closing.any(axis=1), last, 0).astype(np.int64)
    starts = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    kept = np.arange(k)[None, :] < lengths[:, None]
    nbr = idx[kept].astype(np.int32)
    wsize = np.where(closing, total, 0)[kept].astype(np.int32)
    wdist = dist[kept].astype(float)
    return starts, nbr, wsize, wdist


def _observed(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    cases: np.ndarray,
    sided: np.ndarray,
    th: np.ndarray,
    tl: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`best_windows`: per centre the first window with the largest ratio past the thresholds."""
    m = starts.size - 1
    best = np.zeros(m)
    length = np.zeros(m, dtype=np.int64)
    best_n = np.zeros(m, dtype=np.int64)
    best_c = np.zeros(m, dtype=np.int64)
    for i in range(m):
        lo, hi = int(starts[i]), int(starts[i + 1])
        if hi == lo:
            continue
        c = np.cumsum(cases[nbr[lo:hi]])
        n = wsize[lo:hi].astype(np.int64)
        scored = (n > 0) & ((c >= th[n]) | (c <= tl[n]))
        value = np.where(scored, sided[n, np.minimum(c, sided.shape[1] - 1)], 0.0)
        j = int(np.argmax(value))  # the first of equal largest ratios: the smaller window
        if value[j] > 0.0:
            best[i], length[i], best_n[i], best_c[i] = value[j], j + 1, n[j], c[j]
    return best, length, best_n, best_c


def run_scan_small(
    locs: Locations,
    max_pop: int,
    max_radius: float | None,
    direction: int,
    permutations: int,
    rng: np.random.Generator,
) -> ScanArrays:
    """`geo_stunting.scan._kernels.run_scan` in NumPy, for a few hundred subjects."""
    return run_scan_small_cutoffs(locs, [max_pop], max_radius, direction, permutations, rng)[
        max_pop
    ]


def run_scan_small_cutoffs(
    locs: Locations,
    max_pops: Sequence[int],
    max_radius: float | None,
    direction: int,
    permutations: int,
    rng: np.random.Generator,
) -> dict[int, ScanArrays]:
    """`geo_stunting.scan._cutoffs.run_scan_cutoffs` in NumPy: every maximum population at once.

    One set of labellings; the neighbour lists of the largest population, of
    which every smaller one's windows are a prefix. For each maximum, the
    observed scan follows `run_scan` (its own floor, windows up to its
    population), and each replication's largest ratio is the running maximum
    over the windows up to that population.
    """
    cuts = np.unique(np.asarray(max_pops, dtype=np.int64))
    top = int(cuts[-1])
    n_loc = len(locs.xy)
    n_total = int(locs.pop.sum())
    c_total = int(locs.cases.sum())
    tree = cKDTree(locs.xy)
    lab = locs.labels(rng, permutations)  # the same draws, in the same blocks
    labels = lab.transpose(1, 0, 2).reshape(n_loc, -1)[:, :permutations]
    del lab
    table = llr_table(top, n_total, c_total)  # a ratio does not depend on the maximum
    sided = _sided(table, n_total, c_total, direction)
    order = spatial_order(locs.xy)
    labels = labels[order]
    n_cuts = len(cuts)
    sims = np.zeros((n_cuts, permutations))
    best = np.zeros((n_cuts, n_loc))
    length = np.zeros((n_cuts, n_loc), dtype=np.int64)
    n_in = np.zeros((n_cuts, n_loc), dtype=np.int64)
    c_in = np.zeros((n_cuts, n_loc), dtype=np.int64)
    radius = np.zeros((n_cuts, n_loc))
    pop, cases = locs.pop[order], locs.cases[order]
    never = np.iinfo(np.int64).max
    # per maximum: the observed thresholds over its own populations, and their level
    obs_ths, obs_tls, obs_level = [], [], np.zeros(n_cuts)
    for cut in cuts:
        obs_th = np.full(int(cut) + 1, never, dtype=np.int64)
        obs_tl = np.full(int(cut) + 1, -1, dtype=np.int64)
        obs_th[1:], obs_tl[1:] = 0, never
        thresholds(obs_th, obs_tl, 0.0, n_total, c_total, direction, table)
        if not direction & HIGH:
            obs_th[1:] = never
        if not direction & LOW:
            obs_tl[1:] = -1
        obs_ths.append(obs_th)
        obs_tls.append(obs_tl)
    chunks = neighbour_chunks(locs.xy[order], pop, top, max_radius, lists=window_lists_small)
    with progress(f"scan: centres, each with {permutations} replications", total=n_loc) as advance:
        for chunk in chunks:
            centres = order[chunk.first : chunk.first + len(chunk.starts) - 1]
            for q, cut in enumerate(cuts):
                obs_th, obs_tl = obs_ths[q], obs_tls[q]
                if permutations:
                    # the compiled lanes also hold copies of the first replication
                    floor = min(float(sims[q].min()), float(best[q].max()))
                    if floor > obs_level[q] * 1.01:
                        obs_level[q] = floor
                        thresholds(obs_th, obs_tl, floor, n_total, c_total, direction, table)
                wsize = np.where(chunk.wsize <= cut, chunk.wsize, 0)  # windows up to `cut`
                llr, ln, nn, cc = _observed(
                    chunk.starts, chunk.nbr, wsize, cases, sided, obs_th, obs_tl
                )
                best[q, centres], length[q, centres] = llr, ln
                n_in[q, centres], c_in[q, centres] = nn, cc
                closed = ln > 0
                ends = chunk.starts[:-1][closed] + ln[closed] - 1
                radius[q, centres[closed]] = chunk.dist[ends]
            if permutations:
                _raise_maxima(sims, cuts, chunk.starts, chunk.nbr, chunk.wsize, labels, sided)
            advance(len(centres))
    return {
        int(cut): ScanArrays(best[q], length[q], n_in[q], c_in[q], radius[q], sims[q], tree)
        for q, cut in enumerate(cuts)
    }


def _raise_maxima(
    sims: np.ndarray,
    cuts: np.ndarray,
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    labels: np.ndarray,
    sided: np.ndarray,
) -> None:
    """Raise each replication's largest ratio at each maximum (``sims[q]``) by a chunk's windows.

    A centre's windows come in order of population, so the largest ratio of
    those up to a maximum is the running maximum at the last of them.
    """
    count_type = np.int16 if sided.shape[0] <= np.iinfo(np.int16).max else np.int32
    for i in range(starts.size - 1):
        lo, hi = int(starts[i]), int(starts[i + 1])
        closes = wsize[lo:hi] > 0
        if not closes.any():
            continue
        c = np.cumsum(labels[nbr[lo:hi]], axis=0, dtype=count_type)[closes]
        n = wsize[lo:hi][closes].astype(np.intp)
        running = np.maximum.accumulate(sided[n[:, None], c], axis=0)
        upto = np.searchsorted(n, cuts, side="right")  # windows admitted by each maximum
        for q in np.flatnonzero(upto):
            np.maximum(sims[q], running[upto[q] - 1], out=sims[q])
