"""The scan for several maximum window sizes from one set of replications (numba).

The Gini choice of the largest window (`geo_stunting.scan._maxsize`) scans
with up to 15 maximum sizes. Each of those scans draws its random labellings
from a generator seeded alike, one replication after another, with draws that
do not depend on the size (`Locations.labels`): every size sees the *same*
labellings. And the windows about a centre at a size are a prefix of its
windows at any larger size: a centre's neighbours are sorted by distance,
then by location (`geo_stunting.scan._neighbours`), whatever the size; a
window closes after the last of a group of equally distant locations, and
is admitted while its population is at most the size's cutoff. So one sweep
over the neighbour lists of the largest size, with a running best ratio per
replication *and per size* (a window of population ``n`` raises the best of
every size whose cutoff is at least ``n``), gives every size's replication
maxima, bit for bit those of a scan run for that size alone: SaTScan
evaluates its spatial window stops in the same way.

The pruning of `geo_stunting.scan._kernels.replication_maxima` carries over
with one level per size: a window of population ``n`` need only be looked at
closely if some lane could rank it above its best of the *smallest* size that
admits it (that best is the smallest of the sizes the window counts for), so
the thresholds of the populations between two cutoffs are those of the
smaller size's level (`thresholds_between`). The records of the most (fewest)
cases seen at each population serve every size at once: a window recorded at
population ``n`` has raised every size that admits ``n``.

The bit-sliced sweep (`geo_stunting.scan._bitsliced`, above 40,000 locations
for one scan) is not used here: the per-lane sweep runs every size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np
from scipy.spatial import cKDTree

from geo_stunting.progress import progress
from geo_stunting.scan._kernels import (
    REGROUP_SHARES,
    Locations,
    ScanArrays,
    _add_row,
    _lane_max,
    _lane_min,
    _window_llr,
    neighbour_chunks,
)
from geo_stunting.scan._llr import (
    HIGH,
    LOW,
    any_beyond,
    interleaved,
    llr_bernoulli,
    thresholds_between,
)
from geo_stunting.scan._neighbours import spatial_order

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "best_windows_cutoffs",
    "first_cutoff",
    "replication_maxima_cutoffs",
    "run_scan_cutoffs",
]


def first_cutoff(cuts: np.ndarray) -> np.ndarray:
    """Per population ``0 … cuts[-1]``: the index of the smallest cutoff that admits it.

    >>> first_cutoff(np.array([2, 3, 5])).tolist()
    [0, 0, 0, 1, 2, 2]
    """
    return np.searchsorted(cuts, np.arange(int(cuts[-1]) + 1), side="left").astype(np.int64)


@numba.njit(cache=True, parallel=True)
def best_windows_cutoffs(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    loc_cases: np.ndarray,
    n_total: int,
    c_total: int,
    direction: int,
    th: np.ndarray,
    tl: np.ndarray,
    first: np.ndarray,
    n_cuts: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """`best_windows` for every cutoff at once: ``(cutoffs, centres)`` arrays.

    A window of population ``n`` counts for the cutoffs ``first[n] …`` (it
    is admitted by each); ``th``/``tl`` are thresholds per population, made
    for the level of the smallest cutoff that admits it. Ties keep the
    smaller window at every cutoff.
    """
    m = starts.size - 1
    best = np.zeros((n_cuts, m))
    length = np.zeros((n_cuts, m), np.int64)
    best_n = np.zeros((n_cuts, m), np.int64)
    best_c = np.zeros((n_cuts, m), np.int64)
    for i in numba.prange(m):
        c = 0
        for j in range(starts[i], starts[i + 1]):
            c += loc_cases[nbr[j]]
            n = wsize[j]
            if n > 0 and (c >= th[n] or c <= tl[n]):
                value = _window_llr(n, c, n_total, c_total, direction)
                for q in range(first[n], n_cuts):
                    if value > best[q, i]:
                        best[q, i] = value
                        length[q, i] = j - starts[i] + 1
                        best_n[q, i] = n
                        best_c[q, i] = c
    return best, length, best_n, best_c


@numba.njit(cache=True, inline="always")
def _record_cutoffs(
    cum: np.ndarray,
    n: int,
    t: int,
    record: np.ndarray,
    bests: np.ndarray,
    q0: int,
    n_total: int,
    c_total: int,
    sign: int,
) -> None:  # pragma: no cover - compiled
    """`record_lanes` raising the best of every cutoff from `q0` up (``bests[q, lane]``)."""
    for r in range(cum.size):
        c = cum[r]
        if (c >= t and c > record[r]) if sign > 0 else (c <= t and c < record[r]):
            record[r] = c
            value = llr_bernoulli(n, c, n_total, c_total)
            for q in range(q0, bests.shape[0]):
                bests[q, r] = max(bests[q, r], value)


@numba.njit(cache=True, parallel=True)
def replication_maxima_cutoffs(
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
    cuts: np.ndarray,
    first: np.ndarray,
    n_total: int,
    c_total: int,
    sides: int,
) -> None:  # pragma: no cover - compiled
    """`replication_maxima` for several cutoffs: each replication's largest ratio at each.

    The arguments are `replication_maxima`'s, except
    ``best`` ``(blocks, cutoffs, rb)``: the largest ratio of each replication
    at each cutoff so far; ``level`` ``(blocks, cutoffs)``: the level each
    cutoff's populations' thresholds were made for (the smallest best of the
    block at that cutoff); ``cuts``: the cutoffs, ascending; ``first``: per
    population, the smallest cutoff that admits it (`first_cutoff`).
    """
    rb = lab.shape[2]
    blocks = lab.shape[0]
    n_cuts = cuts.size
    for k in numba.prange(blocks):
        b = interleaved(k, blocks)
        labb = lab[b]
        mx = maxc[b]
        mn = minc[b]
        bests = best[b]
        thb = th[b]
        tlb = tl[b]
        cum = np.zeros(rb, maxc.dtype)
        for i in range(starts.size - 1):
            low = 1
            for q in range(n_cuts):
                floor_best = bests[q].min()
                if floor_best > level[b, q] * 1.01 or (floor_best > 0 and level[b, q] == 0):
                    level[b, q] = floor_best
                    thresholds_between(thb, tlb, floor_best, low, cuts[q], n_total, c_total, sides)
                low = cuts[q] + 1
            for r in range(rb):
                cum[r] = 0
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
                        _record_cutoffs(cum, n, thb[n], mx[n], bests, first[n], n_total, c_total, 1)
                if lo_bound <= tlb[n]:
                    lo_bound = _lane_min(cum)
                    if lo_bound <= tlb[n] and any_beyond(cum, tlb[n], mn[n], -1):
                        _record_cutoffs(
                            cum, n, tlb[n], mn[n], bests, first[n], n_total, c_total, -1
                        )


# --------------------------------------------------------------------------- driver


def _fresh(
    cuts: np.ndarray, levels: np.ndarray, n_total: int, c_total: int, direction: int
) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds from scratch, each cutoff's populations for its own level."""
    never = np.iinfo(np.int64).max
    size = int(cuts[-1]) + 1
    th = np.full(size, never, dtype=np.int64)
    tl = np.full(size, -1, dtype=np.int64)
    th[1:] = 0
    tl[1:] = never
    low = 1
    for q, cut in enumerate(cuts):
        thresholds_between(th, tl, float(levels[q]), low, int(cut), n_total, c_total, direction)
        low = int(cut) + 1
    if not direction & HIGH:
        th[1:] = never
    if not direction & LOW:
        tl[1:] = -1
    return th, tl


def _move_lanes(a: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``(blocks, X, rb)`` with its lanes (all blocks' lanes in a row) put in `order`."""
    blocks, _, rb = a.shape
    flat = a.transpose(0, 2, 1).reshape(blocks * rb, -1)[order]
    return np.ascontiguousarray(flat.reshape(blocks, rb, -1).transpose(0, 2, 1))


@dataclass
class _Lanes:
    """`geo_stunting.scan._kernels._Lanes` with a best and a level per cutoff."""

    lab: np.ndarray  # (blocks, locations, rb)
    maxc: np.ndarray  # (blocks, largest cutoff + 1 or 1, rb)
    minc: np.ndarray
    best: np.ndarray  # (blocks, cutoffs, rb)
    level: np.ndarray  # (blocks, cutoffs)
    th: np.ndarray  # (blocks, largest cutoff + 1)
    tl: np.ndarray
    replication: np.ndarray  # (blocks * rb,)

    def regroup(self, cuts: np.ndarray, n_total: int, c_total: int, direction: int) -> None:
        """Sort the replications by their best at the largest cutoff (where most windows are)."""
        order = np.argsort(self.best[:, -1, :].reshape(-1), kind="stable")
        self.lab = _move_lanes(self.lab, order)
        self.maxc = _move_lanes(self.maxc, order)
        self.minc = _move_lanes(self.minc, order)
        self.best = _move_lanes(self.best, order)
        self.replication = self.replication[order]
        self.reset(cuts, n_total, c_total, direction)

    def reset(self, cuts: np.ndarray, n_total: int, c_total: int, direction: int) -> None:
        """Thresholds for each block's smallest best at each cutoff, from scratch."""
        for b in range(self.th.shape[0]):
            self.level[b] = self.best[b].min(axis=1)
            self.th[b], self.tl[b] = _fresh(cuts, self.level[b], n_total, c_total, direction)


def run_scan_cutoffs(
    locs: Locations,
    max_pops: Sequence[int],
    max_radius: float | None,
    direction: int,
    permutations: int,
    rng: np.random.Generator,
) -> dict[int, ScanArrays]:
    """`geo_stunting.scan._kernels.run_scan` for several maximum populations at once.

    Returns
    -------
    dict
        Per maximum population, the `ScanArrays` that `run_scan` gives for it
        alone with a generator in the same state: the same replication maxima
        bit for bit and the same best window of every centre that can be
        reported (a centre below every replication's maximum, which has
        p = 1 and is never reported, may be scored here where `run_scan`'s
        observed floor skips it, or the other way round).
    """
    cuts = np.unique(np.asarray(max_pops, dtype=np.int64))
    n_cuts = len(cuts)
    n_loc = len(locs.xy)
    n_total = int(locs.pop.sum())
    c_total = int(locs.cases.sum())
    tree = cKDTree(locs.xy)
    lab = locs.labels(rng, permutations)
    blocks, rb = lab.shape[0], lab.shape[2]
    if permutations:
        for spare in range(permutations, blocks * rb):  # as run_scan
            lab[spare // rb, :, spare % rb] = lab[0, :, 0]
    top = int(cuts[-1])
    count_type = np.int16 if top <= np.iinfo(np.int16).max else np.int32
    big = np.iinfo(count_type).max
    high, low = bool(direction & HIGH), bool(direction & LOW)
    first = first_cutoff(cuts)
    order = spatial_order(locs.xy)
    lanes = _Lanes(
        lab=np.ascontiguousarray(lab[:, order, :]),
        maxc=np.full((blocks, top + 1 if high else 1, rb), -1, dtype=count_type),
        minc=np.full((blocks, top + 1 if low else 1, rb), big, dtype=count_type),
        best=np.zeros((blocks, n_cuts, rb)),
        level=np.zeros((blocks, n_cuts)),
        th=np.zeros((blocks, top + 1), dtype=np.int64),
        tl=np.zeros((blocks, top + 1), dtype=np.int64),
        replication=np.arange(blocks * rb),
    )
    del lab
    lanes.reset(cuts, n_total, c_total, direction)
    best = np.zeros((n_cuts, n_loc))
    length = np.zeros((n_cuts, n_loc), dtype=np.int64)
    n_in = np.zeros((n_cuts, n_loc), dtype=np.int64)
    c_in = np.zeros((n_cuts, n_loc), dtype=np.int64)
    radius = np.zeros((n_cuts, n_loc))
    pop, cases = locs.pop[order], locs.cases[order]
    regroup_at = [n_loc * share for share in REGROUP_SHARES] if blocks > 1 else []
    done = 0
    # the observed floor of run_scan, per cutoff; it rises with the cutoff (the
    # windows are nested), so a population's smallest admitting cutoff gives the
    # lowest floor of every cutoff the window counts for
    obs_level = np.zeros(n_cuts)
    obs_th, obs_tl = _fresh(cuts, obs_level, n_total, c_total, direction)
    description = f"scan: centres, {n_cuts} maximum sizes, {permutations} replications"
    with progress(description, total=n_loc) as advance:
        for chunk in neighbour_chunks(locs.xy[order], pop, top, max_radius):
            centres = order[chunk.first : chunk.first + len(chunk.starts) - 1]
            if permutations:
                floors = np.minimum(lanes.best.min(axis=(0, 2)), best.max(axis=1))
                n_low = 1
                for q, cut in enumerate(cuts):
                    if floors[q] > obs_level[q] * 1.01:
                        obs_level[q] = floors[q]
                        thresholds_between(
                            obs_th, obs_tl, float(floors[q]), n_low, int(cut), n_total, c_total,
                            direction,
                        )  # fmt: skip
                    n_low = int(cut) + 1
            llr, ln, nn, cc = best_windows_cutoffs(
                chunk.starts, chunk.nbr, chunk.wsize, cases, n_total, c_total, direction,
                obs_th, obs_tl, first, n_cuts,
            )  # fmt: skip
            best[:, centres], length[:, centres] = llr, ln
            n_in[:, centres], c_in[:, centres] = nn, cc
            for q in range(n_cuts):
                closed = ln[q] > 0
                ends = chunk.starts[:-1][closed] + ln[q][closed] - 1
                radius[q, centres[closed]] = chunk.dist[ends]
            if permutations:
                replication_maxima_cutoffs(
                    chunk.starts, chunk.nbr, chunk.wsize, pop, lanes.lab, lanes.maxc,
                    lanes.minc, lanes.best, lanes.level, lanes.th, lanes.tl, cuts, first,
                    n_total, c_total, direction,
                )  # fmt: skip
            done += len(centres)
            if regroup_at and done >= regroup_at[0]:
                while regroup_at and done >= regroup_at[0]:
                    regroup_at.pop(0)
                lanes.regroup(cuts, n_total, c_total, direction)
            advance(len(centres))
    out = {}
    for q, cut in enumerate(cuts):
        sims = np.zeros(blocks * rb)
        sims[lanes.replication] = lanes.best[:, q, :].reshape(-1)
        out[int(cut)] = ScanArrays(
            best[q].copy(), length[q].copy(), n_in[q].copy(), c_in[q].copy(),
            radius[q].copy(), sims[:permutations].copy(), tree,
        )  # fmt: skip
    return out
