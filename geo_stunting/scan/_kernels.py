"""Compiled inner loops of the Bernoulli spatial scan (numba).

The scan works on *neighbour lists in CSR form*, one list per window centre:
``nbr[starts[i]:starts[i + 1]]`` are the locations around centre ``i``,
nearest first, and ``wsize[j]`` is the population of the circular window
that closes at entry ``j`` (the last location of a group of equally distant
locations, within the size limits), or 0 when no admissible window closes
there. Row 0 of the extreme-count arrays is a sink for those entries, so the
hot loop has no branch.

Replications are processed in blocks of ``rb`` random labellings stored
location-major (``lab[block, location, lane]``): one pass over a centre's
neighbour list updates the running case counts of all ``rb`` labellings at
once, a loop that LLVM turns into SIMD adds and maxima. For each block and
window population ``n`` the kernel keeps the largest (and smallest) case
count seen in any window of that population; because the Bernoulli
log-likelihood ratio of a window of population ``n`` grows with its case
count on the high side (and falls on the low side), the largest ratio of a
replication is the largest ratio over ``n`` of those extremes, which costs
one logarithm per population size instead of one per window.

Every result is an integer extreme or a function of one, so the results do
not depend on the number of threads; the random labels are drawn in Python,
one replication after another, from the caller's generator.

The driver (`run_scan`) builds the neighbour lists with a k-d tree a chunk of
centres at a time, so memory grows with chunk size × maximum window size,
not with the square of the number of locations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.spatial import cKDTree

from geo_stunting.progress import progress
from geo_stunting.scan._serial import SERIAL_BELOW, serial_twin

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "HIGH",
    "LOW",
    "Chunk",
    "Locations",
    "ScanArrays",
    "best_windows",
    "llr_bernoulli",
    "max_llr_per_replication",
    "neighbour_chunks",
    "run_scan",
    "window_extremes",
]

#: Direction flags: scan for high rates, low rates, or both (HIGH | LOW).
HIGH = 1
LOW = 2
#: Neighbour entries held at once (int32 + int32 + float64 each).
CHUNK_ENTRIES = 2_000_000
#: Replications per block: one SIMD pass updates this many labellings.
MAX_BLOCK = 128


@numba.njit(cache=True, inline="always")
def _xlog(x: float, y: float) -> float:  # pragma: no cover - compiled
    """``x * log(x / y)`` with ``0 * log(0) = 0``."""
    if x <= 0.0:
        return 0.0
    return x * math.log(x / y)


@numba.njit(cache=True)
def llr_bernoulli(n: int, c: int, n_total: int, c_total: int) -> float:  # pragma: no cover
    """Kulldorff's Bernoulli log-likelihood ratio of a window.

    Parameters
    ----------
    n, c
        Subjects and cases in the window.
    n_total, c_total
        Subjects and cases in the study.

    Returns
    -------
    float
        The log-likelihood ratio (not signed: the caller checks the
        direction).
    """
    nf = float(n)
    cf = float(c)
    big_n = float(n_total)
    big_c = float(c_total)
    out_n = big_n - nf
    out_c = big_c - cf
    inside = _xlog(cf, nf) + _xlog(nf - cf, nf)
    outside = _xlog(out_c, out_n) + _xlog(out_n - out_c, out_n)
    null = _xlog(big_c, big_n) + _xlog(big_n - big_c, big_n)
    value = inside + outside - null
    return max(0.0, value)


@numba.njit(cache=True, inline="always")
def _window_llr(
    n: int, c: int, n_total: int, c_total: int, direction: int
) -> float:  # pragma: no cover
    """The ratio of a window if its rate is on the scanned side, else 0."""
    excess = c * n_total - n * c_total  # > 0: rate inside > rate outside
    if (excess > 0 and direction & HIGH) or (excess < 0 and direction & LOW):
        return llr_bernoulli(n, c, n_total, c_total)
    return 0.0


@numba.njit(cache=True)
def best_windows(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    loc_cases: np.ndarray,
    n_total: int,
    c_total: int,
    direction: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The most likely window about each centre, for the observed cases.

    Returns
    -------
    llr, length, n, c
        Per centre: the largest ratio (0 if no window is on the scanned
        side), the number of neighbour entries in that window, and its
        subjects and cases. Ties keep the smaller window.
    """
    m = starts.size - 1
    best = np.zeros(m)
    length = np.zeros(m, np.int64)
    best_n = np.zeros(m, np.int64)
    best_c = np.zeros(m, np.int64)
    for i in range(m):
        c = 0
        for j in range(starts[i], starts[i + 1]):
            c += loc_cases[nbr[j]]
            n = wsize[j]
            if n > 0:
                value = _window_llr(n, c, n_total, c_total, direction)
                if value > best[i]:
                    best[i] = value
                    length[i] = j - starts[i] + 1
                    best_n[i] = n
                    best_c[i] = c
    return best, length, best_n, best_c


@numba.njit(cache=True, parallel=True)
def window_extremes(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    lab: np.ndarray,
    maxc: np.ndarray,
    minc: np.ndarray,
    do_max: bool,
    do_min: bool,
) -> None:  # pragma: no cover - compiled
    """Update, per replication and window population, the extreme case counts.

    Parameters
    ----------
    starts, nbr, wsize
        Neighbour lists of a chunk of centres (see the module docstring).
    lab
        ``(blocks, locations, rb)`` cases per location in each labelling.
    maxc, minc
        ``(blocks, max_pop + 1, rb)`` running maxima and minima, updated in
        place; a ``(blocks, 1, rb)`` dummy when not wanted.
    do_max, do_min
        Which extremes to track (high rates need maxima, low rates minima).
    """
    rb = lab.shape[2]
    for b in numba.prange(lab.shape[0]):
        labb = lab[b]
        mx = maxc[b]
        mn = minc[b]
        cum = np.zeros(rb, maxc.dtype)
        for i in range(starts.size - 1):
            for r in range(rb):
                cum[r] = 0
            for j in range(starts[i], starts[i + 1]):
                row = labb[nbr[j]]
                for r in range(rb):
                    cum[r] += row[r]
                if do_max:
                    mrow = mx[wsize[j]]
                    for r in range(rb):
                        mrow[r] = max(mrow[r], cum[r])
                if do_min:
                    nrow = mn[wsize[j]]
                    for r in range(rb):
                        nrow[r] = min(nrow[r], cum[r])


_window_extremes_serial = serial_twin(window_extremes)  # compiles faster, for small scans


@numba.njit(cache=True)
def max_llr_per_replication(
    maxc: np.ndarray,
    minc: np.ndarray,
    do_max: bool,
    do_min: bool,
    n_total: int,
    c_total: int,
) -> np.ndarray:  # pragma: no cover - compiled
    """The largest ratio of each replication, from the extreme counts.

    Returns
    -------
    numpy.ndarray
        ``(blocks, rb)`` maximum log-likelihood ratios.
    """
    blocks = maxc.shape[0]
    rb = maxc.shape[2]
    out = np.zeros((blocks, rb))
    for b in range(blocks):
        for r in range(rb):
            top = 0.0
            if do_max:
                for n in range(1, maxc.shape[1]):
                    c = maxc[b, n, r]
                    if c >= 0:
                        value = _window_llr(n, c, n_total, c_total, HIGH)
                        top = max(top, value)
            if do_min:
                for n in range(1, minc.shape[1]):
                    c = minc[b, n, r]
                    if c <= n:
                        value = _window_llr(n, c, n_total, c_total, LOW)
                        top = max(top, value)
            out[b, r] = top
    return out


# --------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class Locations:
    """Distinct locations, in order of first appearance (SaTScan's location order)."""

    xy: np.ndarray  # (L, 2)
    pop: np.ndarray  # (L,) subjects per location
    cases: np.ndarray  # (L,) cases per location
    subjects: np.ndarray  # subject rows grouped by location
    offsets: np.ndarray  # (L + 1,) location l's subjects: subjects[offsets[l]:offsets[l+1]]
    case_of_subject: np.ndarray  # (N,) uint8

    @classmethod
    def build(cls, xy: np.ndarray, is_case: np.ndarray) -> Locations:
        _, first, inverse = np.unique(xy, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(first, kind="stable")  # unique rows by first appearance
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        loc_of = rank[inverse]
        subjects = np.argsort(loc_of, kind="stable")
        pop = np.bincount(loc_of, minlength=len(order)).astype(np.int64)
        cases = np.bincount(loc_of, weights=is_case, minlength=len(order)).astype(np.int64)
        return cls(
            xy=xy[first[order]],
            pop=pop,
            cases=cases,
            subjects=subjects,
            offsets=np.concatenate([[0], np.cumsum(pop)]),
            case_of_subject=is_case.astype(np.uint8),
        )

    def labels(self, rng: np.random.Generator, permutations: int) -> np.ndarray:
        """Cases per location in `permutations` random labellings, in blocks.

        Replication ``r`` shuffles the subjects' labels with ``rng.permuted``
        in turn, so the labels do not depend on the block size.
        """
        n_loc = len(self.xy)
        blocks = max(1, math.ceil(permutations / MAX_BLOCK))
        rb = max(16, 16 * math.ceil(permutations / blocks / 16))
        dtype = np.uint8 if self.pop.max() <= np.iinfo(np.uint8).max else np.int16
        lab = np.zeros((blocks, n_loc, rb), dtype=dtype)
        single = bool((self.pop == 1).all())
        buffer = np.zeros((rb, n_loc), dtype=dtype)
        for b in range(blocks):
            buffer[:] = 0
            for lane in range(rb):
                if b * rb + lane >= permutations:
                    break
                z = rng.permuted(self.case_of_subject)[self.subjects]
                buffer[lane] = z if single else np.add.reduceat(z, self.offsets[:-1])
            lab[b] = buffer.T
        return lab


@dataclass(frozen=True)
class Chunk:
    """Neighbour lists (CSR) of the centres ``first, first + 1, …`` of one chunk."""

    first: int  # index of the chunk's first centre
    starts: np.ndarray
    nbr: np.ndarray
    wsize: np.ndarray
    dist: np.ndarray


@dataclass(frozen=True)
class ScanArrays:
    """Per centre, the most likely window; per replication, the largest LLR."""

    llr: np.ndarray  # best LLR per centre
    length: np.ndarray  # neighbour entries in that window
    n: np.ndarray
    c: np.ndarray
    radius: np.ndarray
    sims: np.ndarray  # max LLR per replication
    tree: cKDTree


def neighbour_chunks(
    tree: cKDTree, locs: Locations, max_pop: int, max_radius: float | None
) -> Iterator[Chunk]:
    """Neighbour lists of the centres, a chunk at a time, cut at the size limits."""
    n_loc = len(locs.xy)
    k = min(n_loc, max_pop + 1)
    per_chunk = max(1, CHUNK_ENTRIES // k)
    bound = np.inf if max_radius is None else float(np.nextafter(max_radius, np.inf))
    columns = np.arange(k)
    for first in range(0, n_loc, per_chunk):
        d, idx = tree.query(
            locs.xy[first : first + per_chunk], k=k, distance_upper_bound=bound, workers=-1
        )
        d = np.asarray(d, dtype=float).reshape(-1, k)
        idx = np.asarray(idx).reshape(-1, k)
        valid = np.isfinite(d)
        if max_radius is not None:
            valid &= d <= max_radius
        idx = np.where(valid, idx, 0)
        pop_cum = np.cumsum(np.where(valid, locs.pop[idx], 0), axis=1)
        group_end = np.ones_like(valid)
        group_end[:, :-1] = d[:, 1:] != d[:, :-1]
        group_end[:, :-1] |= ~valid[:, 1:]
        closes = valid & group_end & (pop_cum <= max_pop)
        lengths = np.where(closes.any(axis=1), k - np.argmax(closes[:, ::-1], axis=1), 0)
        keep = columns[None, :] < lengths[:, None]
        yield Chunk(
            first=first,
            starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            nbr=idx[keep].astype(np.int32),
            wsize=np.where(closes, pop_cum, 0)[keep].astype(np.int32),
            dist=d[keep],
        )


def run_scan(
    locs: Locations,
    max_pop: int,
    max_radius: float | None,
    direction: int,
    permutations: int,
    rng: np.random.Generator,
) -> ScanArrays:
    """Scan the observed labels and `permutations` random labellings.

    Centres are processed a chunk at a time: the chunk's neighbour lists are
    built, scanned for the observed data, and swept once per block of
    replications; only the running extremes (``blocks × (max_pop + 1) ×
    rb`` counts) and the labels (``blocks × locations × rb`` bytes) live for
    the whole run.
    """
    n_loc = len(locs.xy)
    n_total = int(locs.pop.sum())
    c_total = int(locs.cases.sum())
    tree = cKDTree(locs.xy)
    do_max = bool(direction & HIGH)
    do_min = bool(direction & LOW)
    lab = locs.labels(rng, permutations)
    blocks, rb = lab.shape[0], lab.shape[2]
    count_type = np.int16 if max_pop <= np.iinfo(np.int16).max else np.int32
    maxc = np.full((blocks, max_pop + 1 if do_max else 1, rb), -1, dtype=count_type)
    minc = np.full(
        (blocks, max_pop + 1 if do_min else 1, rb), np.iinfo(count_type).max, dtype=count_type
    )
    best = np.zeros(n_loc)
    length = np.zeros(n_loc, dtype=np.int64)
    n_in = np.zeros(n_loc, dtype=np.int64)
    c_in = np.zeros(n_loc, dtype=np.int64)
    radius = np.zeros(n_loc)
    with progress(f"scan: centres, each with {permutations} replications", total=n_loc) as advance:
        for chunk in neighbour_chunks(tree, locs, max_pop, max_radius):
            rows = slice(chunk.first, chunk.first + len(chunk.starts) - 1)
            llr, ln, nn, cc = best_windows(
                chunk.starts, chunk.nbr, chunk.wsize, locs.cases, n_total, c_total, direction
            )
            best[rows], length[rows], n_in[rows], c_in[rows] = llr, ln, nn, cc
            closed = ln > 0
            radius[rows][closed] = chunk.dist[chunk.starts[:-1][closed] + ln[closed] - 1]
            if permutations:
                sweep = window_extremes if n_loc >= SERIAL_BELOW else _window_extremes_serial
                sweep(chunk.starts, chunk.nbr, chunk.wsize, lab, maxc, minc, do_max, do_min)
            advance(len(chunk.starts) - 1)
    sims = np.zeros(0)
    if permutations:
        sims = max_llr_per_replication(maxc, minc, do_max, do_min, n_total, c_total)
        sims = sims.reshape(-1)[:permutations].copy()
    return ScanArrays(best, length, n_in, c_in, radius, sims, tree)
