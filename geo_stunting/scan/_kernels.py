"""Compiled inner loops of the Bernoulli spatial scan (numba).

The scan works on *neighbour lists in CSR form*, one list per window centre:
``nbr[starts[i]:starts[i + 1]]`` are the locations around centre ``i``,
nearest first, and ``wsize[j]`` is the population of the circular window
that closes at entry ``j`` (the last location of a group of equally distant
locations, within the size limits), or 0 when no admissible window closes
there. Row 0 of the per-population arrays is a sink for those entries.

Replications are processed in blocks of ``rb`` random labellings stored
location-major (``lab[block, location, lane]``): one pass over a centre's
neighbour list updates the running case counts of all ``rb`` labellings at
once, a loop that LLVM turns into SIMD adds. The lanes' largest (smallest)
count is read only when a bound on it reaches the block's threshold: the
largest count last read plus the subjects added since (the smallest never
falls). A window is looked at closely only when some lane's count reaches
the block's *threshold* for its population: the fewest cases a window of that
population needs for a log-likelihood ratio as large as the smallest best
ratio of the block's replications (the ratio grows with the case count on
the high side, falls on the low side). Such a window is recorded per lane
when it beats the most cases seen at that population, and its ratio raises
the lane's best. A replication's best window always reaches the threshold,
so every best ratio is exactly the one a full enumeration gives, computed by
the same function of the same integers. Every few percent of the centres
the replications are regrouped by their best so far, so that a block's
smallest best is close to each of its lanes' own and few windows pass.
With one subject a location and blocks of 256 lanes, the sweep after the
first centres runs on bit-packed labels (`geo_stunting.scan._bitsliced`).

Every result is a function of integer counts, so the results do not depend
on the number of threads or the order of centres; the random labels are
drawn in Python, one replication after another, from the caller's generator.

The driver (`run_scan`) takes locations and centres in Z (Morton) order, so
that a window's labels sit near in memory, and builds the neighbour lists
(`geo_stunting.scan._neighbours`) a chunk of centres at a time, so memory
grows with chunk size × maximum window size, not with the square of the
number of locations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.spatial import cKDTree

from geo_stunting.progress import progress
from geo_stunting.scan._bitsliced import LANES, pack_lanes, replication_maxima_bits
from geo_stunting.scan._llr import (
    HIGH,
    LOW,
    any_beyond,
    interleaved,
    llr_bernoulli,
    record_lanes,
    thresholds,
)
from geo_stunting.scan._neighbours import (
    SMALL_LOCATIONS,
    nearest_sorted,
    nearest_sorted_small,
    spatial_order,
    window_chunks,
    window_lists,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "HIGH",
    "LOW",
    "Chunk",
    "Locations",
    "ScanArrays",
    "best_windows",
    "llr_bernoulli",
    "neighbour_chunks",
    "replication_maxima",
    "run_scan",
]

#: Neighbour entries held at once (int32 + int32 + float64 each).
CHUNK_ENTRIES = 2_000_000
#: Replications per block: one SIMD pass updates this many labellings.
MAX_BLOCK = 256
#: After these shares of the centres, replications are regrouped by their best ratio so far.
REGROUP_SHARES = (0.005, 0.02, 0.08, 0.3)
#: The bit-sliced sweep (one subject a location) takes over after this share of the centres,
BITS_FROM_SHARE = 0.02
#: above this many locations. Below, the per-lane sweep is as fast or faster: the district
#: benchmark's scan step (15 maximum sizes) at 10,000 children took 38.1 s wall per lane and
#: 44.8 s bit-sliced; a single 50 % scan at 20,000 gained nothing, at 50,000 a quarter.
BITS_ABOVE_LOCATIONS = 40_000


@numba.njit(cache=True, inline="always")
def _window_llr(
    n: int, c: int, n_total: int, c_total: int, direction: int
) -> float:  # pragma: no cover
    """The ratio of a window if its rate is on the scanned side, else 0."""
    excess = c * n_total - n * c_total  # > 0: rate inside > rate outside
    if (excess > 0 and direction & HIGH) or (excess < 0 and direction & LOW):
        return llr_bernoulli(n, c, n_total, c_total)
    return 0.0


@numba.njit(cache=True, parallel=True)
def best_windows(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    loc_cases: np.ndarray,
    n_total: int,
    c_total: int,
    direction: int,
    th: np.ndarray,
    tl: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The most likely window about each centre, for the observed cases.

    Only windows with at least ``th[n]`` or at most ``tl[n]`` cases are
    scored (`thresholds`); a centre without one reports 0.

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
    for i in numba.prange(m):
        c = 0
        for j in range(starts[i], starts[i + 1]):
            c += loc_cases[nbr[j]]
            n = wsize[j]
            if n > 0 and (c >= th[n] or c <= tl[n]):
                value = _window_llr(n, c, n_total, c_total, direction)
                if value > best[i]:
                    best[i] = value
                    length[i] = j - starts[i] + 1
                    best_n[i] = n
                    best_c[i] = c
    return best, length, best_n, best_c


@numba.njit(cache=True, parallel=True)
def replication_maxima(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    pop: np.ndarray,
    lab: np.ndarray,
    maxc: np.ndarray,
    minc: np.ndarray,
    best: np.ndarray,
    level: np.ndarray,
    th: np.ndarray,
    tl: np.ndarray,
    n_total: int,
    c_total: int,
    sides: int,
) -> None:  # pragma: no cover - compiled
    """Raise each replication's largest ratio by the windows of a chunk of centres.

    Parameters
    ----------
    starts, nbr, wsize
        Neighbour lists of a chunk of centres (see the module docstring).
    pop
        Subjects per location: the most cases a lane can gain at an entry.
    lab
        ``(blocks, locations, rb)`` cases per location in each labelling.
    maxc, minc
        ``(blocks, max_pop + 1, rb)`` the most (fewest) cases seen in a
        recorded window of each population, updated in place.
    best
        ``(blocks, rb)`` the largest ratio of each replication so far.
    level, th, tl
        Per block: the level the thresholds were made for (the smallest of
        the block's `best`), and the thresholds (`thresholds`; ``th[b, 0]``
        above and ``tl[b, 0]`` below any count, as are the thresholds of a
        side not scanned).
    sides
        `HIGH`, `LOW` or both.

    Only a window that some replication of the block could rank above its
    current best is looked at closely: one whose case count reaches the
    block's threshold for its population. A replication's best window
    always does (its ratio is at least the block's level), so `best` ends
    exactly as if every window had been scored.
    """
    rb = lab.shape[2]
    blocks = lab.shape[0]
    for k in numba.prange(blocks):
        b = interleaved(k, blocks)
        labb = lab[b]
        mx = maxc[b]
        mn = minc[b]
        top_best = best[b]
        thb = th[b]
        tlb = tl[b]
        cum = np.zeros(rb, maxc.dtype)
        for i in range(starts.size - 1):
            floor_best = top_best.min()
            if floor_best > level[b] * 1.01 or (floor_best > 0 and level[b] == 0):
                level[b] = floor_best
                thresholds(thb, tlb, floor_best, n_total, c_total, sides)
            for r in range(rb):
                cum[r] = 0
            # bounds on the largest and smallest lane count: a lane gains at
            # most the location's population per entry, and never loses, so
            # the lanes are only looked at when a bound reaches a threshold
            hi_bound = 0
            lo_bound = 0
            for j in range(starts[i], starts[i + 1]):
                loc = nbr[j]
                _add_row(cum, labb[loc])
                hi_bound += pop[loc]
                n = wsize[j]
                if hi_bound >= thb[n]:
                    hi_bound = _lane_max(cum)
                    if hi_bound >= thb[n] and any_beyond(cum, thb[n], mx[n], 1):
                        record_lanes(cum, n, thb[n], mx[n], top_best, n_total, c_total, 1)
                if lo_bound <= tlb[n]:
                    lo_bound = _lane_min(cum)
                    if lo_bound <= tlb[n] and any_beyond(cum, tlb[n], mn[n], -1):
                        record_lanes(cum, n, tlb[n], mn[n], top_best, n_total, c_total, -1)


@numba.njit(cache=True, inline="always")
def _add_row(cum: np.ndarray, row: np.ndarray) -> None:  # pragma: no cover - compiled
    """``cum += row``, one vector pass."""
    for r in range(cum.size):
        cum[r] += row[r]


@numba.njit(cache=True, inline="always")
def _lane_max(cum: np.ndarray) -> int:  # pragma: no cover - compiled
    """The largest lane count."""
    top = cum[0]
    for r in range(1, cum.size):
        top = max(top, cum[r])
    return int(top)


@numba.njit(cache=True, inline="always")
def _lane_min(cum: np.ndarray) -> int:  # pragma: no cover - compiled
    """The smallest lane count."""
    low = cum[0]
    for r in range(1, cum.size):
        low = min(low, cum[r])
    return int(low)


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
    xy: np.ndarray,
    pop: np.ndarray,
    max_pop: int,
    max_radius: float | None,
    *,
    lists: Callable[..., tuple[np.ndarray, ...]] = window_lists,
) -> Iterator[Chunk]:
    """Neighbour lists of the centres (all locations), a chunk at a time, cut at the size limits.

    `lists` cuts the sorted rows into windows (`window_lists`, or its NumPy twin).
    """
    n_loc = len(xy)
    k = min(n_loc, max_pop + 1)
    per_chunk = max(1, CHUNK_ENTRIES // k)
    radius = np.inf if max_radius is None else float(max_radius)
    xy = np.ascontiguousarray(xy, dtype=float)
    if n_loc > SMALL_LOCATIONS and lists is window_lists:  # sorted and cut in one pass
        for first, starts, nbr, wsize, wdist in window_chunks(xy, pop, max_pop, radius, per_chunk):
            yield Chunk(first=first, starts=starts, nbr=nbr, wsize=wsize, dist=wdist)
        return
    for first in range(0, n_loc, per_chunk):
        count = min(per_chunk, n_loc - first)
        sort = nearest_sorted_small if n_loc <= SMALL_LOCATIONS else nearest_sorted
        idx, dist = sort(xy, first, count, k, radius)
        starts, nbr, wsize, wdist = lists(idx, dist, pop, max_pop)
        yield Chunk(first=first, starts=starts, nbr=nbr, wsize=wsize, dist=wdist)


@dataclass
class _Lanes:
    """The replications' state, in lanes of blocks: labels, records, bests, thresholds."""

    lab: np.ndarray  # (blocks, locations, rb) cases per location
    maxc: np.ndarray  # (blocks, max_pop + 1 or 1, rb) most cases in a recorded window
    minc: np.ndarray  # (blocks, max_pop + 1 or 1, rb) fewest cases in a recorded window
    best: np.ndarray  # (blocks, rb) largest ratio so far
    level: np.ndarray  # (blocks,) the level the thresholds are for
    th: np.ndarray  # (blocks, max_pop + 1) thresholds from above
    tl: np.ndarray  # (blocks, max_pop + 1) thresholds from below
    replication: np.ndarray  # (blocks * rb,) the replication in each lane
    bits: np.ndarray | None = None  # `lab` bit-packed (`_bitsliced`), when one subject a location

    def regroup(self, n_total: int, c_total: int, direction: int) -> None:
        """Put replications with similar best ratios in the same block.

        A block looks closely at the windows that reach its *smallest* best
        ratio; with the replications sorted by their best so far, that is
        close to every lane's own, and far fewer windows need a look.
        """
        blocks, _, rb = self.lab.shape
        order = np.argsort(self.best.reshape(-1), kind="stable")

        def move(a: np.ndarray) -> np.ndarray:
            flat = a.transpose(0, 2, 1).reshape(blocks * rb, -1)[order]
            return np.ascontiguousarray(flat.reshape(blocks, rb, -1).transpose(0, 2, 1))

        self.lab, self.maxc, self.minc = move(self.lab), move(self.maxc), move(self.minc)
        self.best = np.ascontiguousarray(self.best.reshape(-1)[order].reshape(blocks, rb))
        self.replication = self.replication[order]
        if self.bits is not None:
            self.bits = pack_lanes(self.lab)
        self.resetthresholds(n_total, c_total, direction)

    def resetthresholds(self, n_total: int, c_total: int, direction: int) -> None:
        """Thresholds for each block's smallest best ratio, from scratch."""
        max_pop = self.th.shape[1] - 1
        for b in range(self.th.shape[0]):
            self.level[b] = float(self.best[b].min())
            self.th[b], self.tl[b] = _freshthresholds(
                max_pop, self.level[b], n_total, c_total, direction
            )


def _freshthresholds(
    max_pop: int, level: float, n_total: int, c_total: int, direction: int
) -> tuple[np.ndarray, np.ndarray]:
    """`thresholds` for `level` from scratch; a side not scanned never passes."""
    never = np.iinfo(np.int64).max
    th = np.full(max_pop + 1, never, dtype=np.int64)
    tl = np.full(max_pop + 1, -1, dtype=np.int64)
    th[1:] = 0
    tl[1:] = never
    thresholds(th, tl, level, n_total, c_total, direction)
    if not direction & HIGH:
        th[1:] = never
    if not direction & LOW:
        tl[1:] = -1
    return th, tl


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
    replications; only the labels (``blocks × locations × rb`` bytes), each
    replication's best ratio and the counts of recorded windows
    (``blocks × (max_pop + 1) × rb``) live for the whole run.
    """
    n_loc = len(locs.xy)
    n_total = int(locs.pop.sum())
    c_total = int(locs.cases.sum())
    tree = cKDTree(locs.xy)
    lab = locs.labels(rng, permutations)
    blocks, rb = lab.shape[0], lab.shape[2]
    if permutations:
        # lanes past the last replication repeat the first, so that they never
        # hold the block's smallest best ratio below a real replication's
        for spare in range(permutations, blocks * rb):
            lab[spare // rb, :, spare % rb] = lab[0, :, 0]
    count_type = np.int16 if max_pop <= np.iinfo(np.int16).max else np.int32
    big = np.iinfo(count_type).max
    high, low = bool(direction & HIGH), bool(direction & LOW)
    never = np.iinfo(np.int64).max
    order = spatial_order(locs.xy)  # locations (and centres) in Z order
    lanes = _Lanes(
        lab=np.ascontiguousarray(lab[:, order, :]),
        maxc=np.full((blocks, max_pop + 1 if high else 1, rb), -1, dtype=count_type),
        minc=np.full((blocks, max_pop + 1 if low else 1, rb), big, dtype=count_type),
        best=np.zeros((blocks, rb)),
        level=np.zeros(blocks),
        th=np.full((blocks, max_pop + 1), never, dtype=np.int64),
        tl=np.full((blocks, max_pop + 1), -1, dtype=np.int64),
        replication=np.arange(blocks * rb),
    )
    del lab
    if rb == LANES and n_loc > BITS_ABOVE_LOCATIONS and bool((locs.pop == 1).all()):
        lanes.bits = pack_lanes(lanes.lab)  # the bit-sliced sweep, 8 times less to read
    lanes.resetthresholds(n_total, c_total, direction)
    best = np.zeros(n_loc)
    length = np.zeros(n_loc, dtype=np.int64)
    n_in = np.zeros(n_loc, dtype=np.int64)
    c_in = np.zeros(n_loc, dtype=np.int64)
    radius = np.zeros(n_loc)
    pop, cases = locs.pop[order], locs.cases[order]
    # the first centres, while the thresholds are low and many windows pass,
    # run on per-lane counts; then the bit-sliced sweep
    bits_from = n_loc * BITS_FROM_SHARE
    regroup_at = [n_loc * share for share in REGROUP_SHARES] if blocks > 1 else []
    done = 0
    # The observed scan scores only windows whose ratio reaches a floor: the
    # smallest best ratio of any replication so far (a centre below every
    # replication's maximum has p = 1 and is never reported), and at most the
    # largest observed ratio so far (the most likely cluster is always exact).
    obs_th, obs_tl = _freshthresholds(max_pop, 0.0, n_total, c_total, direction)
    obs_level = 0.0
    with progress(f"scan: centres, each with {permutations} replications", total=n_loc) as advance:
        for chunk in neighbour_chunks(locs.xy[order], pop, max_pop, max_radius):
            centres = order[chunk.first : chunk.first + len(chunk.starts) - 1]
            if permutations:
                floor = min(float(lanes.best.min()), float(best.max()))
                if floor > obs_level * 1.01:
                    obs_level = floor
                    thresholds(obs_th, obs_tl, floor, n_total, c_total, direction)
            llr, ln, nn, cc = best_windows(
                chunk.starts, chunk.nbr, chunk.wsize, cases, n_total, c_total, direction,
                obs_th, obs_tl,
            )  # fmt: skip
            best[centres], length[centres], n_in[centres], c_in[centres] = llr, ln, nn, cc
            closed = ln > 0
            radius[centres[closed]] = chunk.dist[chunk.starts[:-1][closed] + ln[closed] - 1]
            if permutations and lanes.bits is not None and done >= bits_from:
                replication_maxima_bits(
                    chunk.starts,
                    chunk.nbr,
                    chunk.wsize,
                    lanes.bits,
                    lanes.maxc,
                    lanes.minc,
                    lanes.best,
                    lanes.level,
                    lanes.th,
                    lanes.tl,
                    n_total,
                    c_total,
                    direction,
                )
            elif permutations:
                replication_maxima(
                    chunk.starts,
                    chunk.nbr,
                    chunk.wsize,
                    pop,
                    lanes.lab,
                    lanes.maxc,
                    lanes.minc,
                    lanes.best,
                    lanes.level,
                    lanes.th,
                    lanes.tl,
                    n_total,
                    c_total,
                    direction,
                )
            done += len(centres)
            if regroup_at and done >= regroup_at[0]:
                while regroup_at and done >= regroup_at[0]:
                    regroup_at.pop(0)
                lanes.regroup(n_total, c_total, direction)
            advance(len(centres))
    sims = np.zeros(blocks * rb)
    sims[lanes.replication] = lanes.best.reshape(-1)
    sims = sims.reshape(-1)[:permutations].copy()
    return ScanArrays(best, length, n_in, c_in, radius, sims, tree)
