"""Kernel sums of the relative-risk surface on its grid, for the data and every random labelling.

The surface of `geo_stunting.scan._relative_risk` needs, at every grid cell
``c``, the Gaussian kernel sums ``Σ_j w_j K(c − x_j)`` over all subjects and
over the cases, and for the tolerance p-values the case sums of every random
labelling. `dense_surface` does it as one dense (cells × subjects) ×
(subjects × labellings) product: the demo's 2.4e9 terms in about a second,
but 70,000 × 30,000 × 1,000 terms at 30,000 children. `footprint_surface`
gives the same p-values and sums with far fewer operations.

The Gaussian is separable on a regular grid, ``K(c − x) = exp(−dx²/2σ²) ·
exp(−dy²/2σ²)``, so

* the observed sums at every cell are one product of a (rows × subjects)
  and a (subjects × columns) matrix of factors (`grid_sums`): every term,
  none left out;
* a subject's kernel values at the cells near it, its **footprint**, are
  products of one row of column factors and one column of row factors,
  computed once (`footprint_tables`). A labelling's sums are the footprints
  of its counted group added into a grid. Only the smaller group is added:
  cases, or controls (raised risk is then a control sum at most the
  observed one, the total being fixed).

A footprint reaches the cells within ``sqrt(2 · exponent) · σ``
(`P_VALUE_EXPONENT`: 5 σ). What it leaves out of a labelling's sum at a cell
is between 0 and the left-out part of the total there (the full total minus
the truncated one), so most comparisons with the observed sum are decided by
the truncated sums; the few that fall within that margin (and a rounding
margin) are decided by the exact sum over the labelling's group, every term.
The p-values are therefore those of the untruncated sums, as the dense
product's. `tests/test_relative_risk_footprints.py` checks them equal to the
dense product's, also with a reach so short that most comparisons fall back.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numba
import numpy as np

from geo_stunting.progress import progress

__all__ = [
    "P_VALUE_EXPONENT",
    "TIE_TOLERANCE",
    "Footprints",
    "GridSpec",
    "dense_surface",
    "footprint_surface",
    "footprint_tables",
    "grid_sums",
    "labellings",
]

log = logging.getLogger(__name__)

#: Footprints reach the cells within sqrt(2 * P_VALUE_EXPONENT) bandwidths (5 bandwidths).
P_VALUE_EXPONENT = 12.5
#: A labelling's sum within this share of the total of the observed one counts as a tie.
TIE_TOLERANCE = 1e-10
#: Rounding margin (share of the total) within which a truncated comparison is redone exactly.
_ROUNDING_MARGIN = 1e-12
_CELL_CHUNK_BYTES = 32_000_000
#: Subjects per block of the factor matrices of `grid_sums` (bounded memory).
_FACTOR_BLOCK_BYTES = 32_000_000


@dataclass(frozen=True)
class GridSpec:
    """A regular grid: lower-left corner, cell size, shape; centres at ``x0 + (i + ½) cell``."""

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int

    def centres(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The centres of the cells with flat indices ``row * nx + col``."""
        row, col = np.divmod(np.asarray(cells, dtype=np.int64), self.nx)
        return self.x0 + (col + 0.5) * self.cell_m, self.y0 + (row + 0.5) * self.cell_m


@dataclass(frozen=True)
class Footprints:
    """Each subject's weighted kernel values at the cells within its reach.

    Subject ``j`` adds ``ay[j, t] * ax[j, i - col0[j]]`` to cell ``(row0[j] + t, i)`` for
    ``lo[j, t] <= i <= hi[j, t]`` (columns already clipped to the grid; empty when ``lo > hi``).
    """

    col0: np.ndarray
    row0: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def unpack(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order the compiled kernels take them."""
        return self.col0, self.row0, self.ax, self.ay, self.lo, self.hi


def footprint_tables(
    xy: np.ndarray, weights: np.ndarray, grid: GridSpec, sigma: float, *, exponent: float
) -> Footprints:
    """The footprints of the subjects `xy` within ``sqrt(2 · exponent) σ`` (weights folded in)."""
    x, y = xy[:, 0], xy[:, 1]
    cell = grid.cell_m
    reach = sigma * math.sqrt(2.0 * exponent)
    inv = 1.0 / (2.0 * sigma * sigma)
    width_x = min(math.floor(2.0 * reach / cell) + 2, grid.nx)
    width_y = min(math.floor(2.0 * reach / cell) + 2, grid.ny)
    col0 = np.ceil((x - reach - grid.x0) / cell - 0.5).astype(np.int64)
    row0 = np.ceil((y - reach - grid.y0) / cell - 0.5).astype(np.int64)
    col0 = np.clip(col0, 0, grid.nx - width_x)
    row0 = np.clip(row0, 0, grid.ny - width_y)
    dx = grid.x0 + (col0[:, None] + np.arange(width_x)[None, :] + 0.5) * cell - x[:, None]
    dy = grid.y0 + (row0[:, None] + np.arange(width_y)[None, :] + 0.5) * cell - y[:, None]
    ax = weights[:, None] * np.exp(-(dx * dx) * inv)
    ay = np.exp(-(dy * dy) * inv)
    with np.errstate(invalid="ignore"):
        half = np.sqrt(reach * reach - dy * dy)
    outside = np.isnan(half)
    lo = np.ceil((x[:, None] - half - grid.x0) / cell - 0.5)
    hi = np.floor((x[:, None] + half - grid.x0) / cell - 0.5)
    lo = np.maximum(np.where(outside, 1, lo), col0[:, None])
    hi = np.minimum(np.where(outside, 0, hi), (col0 + width_x - 1)[:, None])
    return Footprints(col0, row0, ax, ay, lo.astype(np.int64), hi.astype(np.int64))


def grid_sums(
    xy: np.ndarray, weights: np.ndarray, members: np.ndarray, grid: GridSpec, sigma: float
) -> np.ndarray:
    """``Σ_j w_j exp(−|c − x_j|² / 2σ²)`` over the subjects `members` at every cell, ``(ny, nx)``.

    Every term: the row factors (rows × subjects) times the weighted column
    factors (subjects × columns), a block of subjects at a time.
    """
    cell = grid.cell_m
    inv = 1.0 / (2.0 * sigma * sigma)
    cx = grid.x0 + (np.arange(grid.nx) + 0.5) * cell
    cy = grid.y0 + (np.arange(grid.ny) + 0.5) * cell
    out = np.zeros((grid.ny, grid.nx))
    members = np.asarray(members, dtype=np.int64)
    block = max(1, _FACTOR_BLOCK_BYTES // (8 * (grid.nx + grid.ny)))
    for start in range(0, len(members), block):
        part = members[start : start + block]
        fx = weights[part, None] * np.exp(-((cx[None, :] - xy[part, 0:1]) ** 2) * inv)
        fy = np.exp(-((cy[None, :] - xy[part, 1:2]) ** 2) * inv)
        out += fy.T @ fx
    return out


def footprint_surface(
    xy: np.ndarray,
    weights: np.ndarray,
    cases: np.ndarray,
    grid: GridSpec,
    sigma: float,
    *,
    cells: np.ndarray,
    tested: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
    exponent: float = P_VALUE_EXPONENT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case and total kernel sums at `cells` and the pointwise p-values at the `tested` ones.

    The same sums and p-values as `dense_surface`, the labellings drawn from
    `rng` in the same order (``rng.permuted`` of the case indicator, once per
    labelling).

    Returns
    -------
    lam_case, lam_all, p_value
        Kernel densities (sums divided by ``2πσ²``) and the one-sided
        p-values of raised risk (NaN where not `tested`).
    """
    n_case = int(cases.sum())
    counted_cases = n_case <= len(cases) - n_case
    base = cases.astype(np.float64)
    value = 1.0 if counted_cases else 0.0
    total = grid_sums(xy, weights, np.arange(len(xy)), grid, sigma).ravel()
    case_sums = grid_sums(xy, weights, np.flatnonzero(cases), grid, sigma).ravel()
    norm = 1.0 / (2 * math.pi * sigma * sigma)
    p_value = np.full(len(cells), np.nan)
    if not permutations or not tested.any():
        return case_sums[cells] * norm, total[cells] * norm, p_value
    group = np.flatnonzero(base == value)
    members = np.empty((permutations, len(group)), np.int32)
    for r in range(permutations):
        members[r] = np.flatnonzero(rng.permuted(base) == value)
    at = cells[tested]
    if counted_cases:
        observed = case_sums[at]
    else:
        observed = grid_sums(xy, weights, group, grid, sigma).ravel()[at]
    tables = footprint_tables(xy, weights, grid, sigma, exponent=exponent)
    truncated = np.zeros((grid.ny, grid.nx))
    _add_footprints(truncated, np.arange(len(xy)), *tables.unpack())
    scale = total[at]
    left_out = np.maximum(scale - truncated.ravel()[at], 0.0)
    higher, exact = labelling_counts(
        members,
        tables,
        grid,
        at,
        observed,
        scale,
        left_out,
        xy=xy,
        weights=weights,
        sigma=sigma,
        greater=counted_cases,
    )
    log.debug(
        "relative_risk: %d of %d comparisons decided by the exact sum",
        exact,
        permutations * len(at),
    )
    p_value[tested] = (1 + higher) / (permutations + 1)
    return case_sums[cells] * norm, total[cells] * norm, p_value


def dense_surface(
    centres: np.ndarray,
    xy: np.ndarray,
    weights: np.ndarray,
    cases: np.ndarray,
    supported: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
    sigma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The case and total sums and p-values as one dense product (the demo and small studies).

    The (cells × subjects) kernel values times the (subjects × 1 + R)
    weighted labellings, a block of cells at a time; only the observed
    labelling at the cells not `supported`.
    """
    labels = labellings(cases, permutations, rng)
    lam_case = np.empty(len(centres))
    lam_all = np.empty(len(centres))
    p_value = np.full(len(centres), np.nan)
    rows = [(supported, labels), (~supported, labels[:, :1])]
    for mask, lab in rows:
        if mask.any():
            lam_case[mask], lam_all[mask], p_value[mask] = _dense_sums(
                centres[mask], xy, weights, lab, sigma
            )
    return lam_case, lam_all, p_value


def labellings(cases: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``(N, 1 + R)`` case indicators: the observed labels, then R random labellings."""
    base = cases.astype(np.float64)
    out = np.empty((len(base), permutations + 1))
    out[:, 0] = base
    for r in range(permutations):
        out[:, r + 1] = rng.permuted(base)
    return out


def _dense_sums(
    cells: np.ndarray, xy: np.ndarray, weights: np.ndarray, labels: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case and total kernel sums at the cells, and the pointwise p-values."""
    n_cells = len(cells)
    lam_case = np.empty(n_cells)
    lam_all = np.empty(n_cells)
    permutations = labels.shape[1] - 1
    p_value = np.full(n_cells, np.nan)
    weighted = labels * weights[:, None]
    chunk = max(1, _CELL_CHUNK_BYTES // (8 * max(len(xy), labels.shape[1])))
    what = f"relative risk: cells, each with {permutations} labellings"
    with progress(what, total=n_cells) as advance:
        for start in range(0, n_cells, chunk):
            part = cells[start : start + chunk]
            d2 = ((part[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
            kernel = np.exp(-d2 / (2 * sigma * sigma))
            sums = kernel @ weighted
            total = kernel @ weights
            rows = slice(start, start + len(part))
            lam_case[rows] = sums[:, 0]
            lam_all[rows] = total
            if permutations:
                tolerance = TIE_TOLERANCE * total[:, None]
                higher = np.count_nonzero(sums[:, 1:] >= sums[:, :1] - tolerance, axis=1)
                p_value[rows] = (1 + higher) / (permutations + 1)
            advance(len(part))
    norm = 1.0 / (2 * math.pi * sigma * sigma)
    return lam_case * norm, lam_all * norm, p_value


def labelling_counts(
    members: np.ndarray,
    tables: Footprints,
    grid: GridSpec,
    cells: np.ndarray,
    observed: np.ndarray,
    total: np.ndarray,
    left_out: np.ndarray,
    *,
    xy: np.ndarray,
    weights: np.ndarray,
    sigma: float,
    greater: bool,
) -> tuple[np.ndarray, int]:
    """For each cell of `cells`, how many labellings' group sums are at least (most) the observed.

    Parameters
    ----------
    members
        ``(R, m)``: the subjects of the counted group in each random labelling.
    tables, grid
        The footprints (`footprint_tables`) of all subjects and their grid.
    cells
        Flat indices (``row * nx + col``) of the cells to count at.
    observed, total
        The observed group sums and the totals (every term) at those cells: a
        sum within `TIE_TOLERANCE` of the total of the observed one is a tie.
    left_out
        At least what the footprints leave out of any group's sum there
        (a rounding margin of ``1e-12`` of the total is added on both sides).
    xy, weights, sigma
        The subjects, for the exact sums of undecided comparisons.
    greater
        Count sums ``≥ observed − tolerance`` (cases); else ``≤ observed + tolerance``.

    Returns
    -------
    counts, exact
        The counts per cell, and how many comparisons needed the exact sum.
    """
    n_labellings = members.shape[0]
    threads = numba.get_num_threads()
    counts = np.zeros((threads, len(cells)), dtype=np.int64)
    exact = np.zeros(threads, dtype=np.int64)
    grids = np.zeros((threads, grid.ny, grid.nx))
    cx, cy = grid.centres(cells)
    inv = 1.0 / (2.0 * sigma * sigma)
    # about 50 updates of the progress bar, each a few labellings per thread
    step = max(2 * threads, math.ceil(n_labellings / 50))
    what = f"relative risk: {n_labellings:,} labellings, each on {len(cells):,} cells"
    with progress(what, total=n_labellings) as advance:
        for first in range(0, n_labellings, step):
            last = min(n_labellings, first + step)
            _count_labellings(
                members,
                first,
                last,
                tables.col0,
                tables.row0,
                tables.ax,
                tables.ay,
                tables.lo,
                tables.hi,
                cells,
                observed,
                TIE_TOLERANCE * total,
                left_out,
                _ROUNDING_MARGIN * total,
                cx,
                cy,
                xy,
                weights,
                inv,
                greater,
                counts,
                exact,
                grids,
            )
            advance(last - first)
    return counts.sum(axis=0), int(exact.sum())


@numba.njit(cache=True)
def _add_footprints(
    out: np.ndarray,
    members: np.ndarray,
    col0: np.ndarray,
    row0: np.ndarray,
    ax: np.ndarray,
    ay: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Add the footprints of `members` to the grid `out`, in the order given.

    Written on the flat grid with unsigned offsets so that the inner loop
    (a row of the footprint) is vectorised.
    """
    nx = out.shape[1]
    flat = out.ravel()
    for m in range(members.size):
        j = members[m]
        axj = ax[j]
        shift = np.uint64(col0[j])
        for t in range(ay.shape[1]):
            if hi[j, t] < lo[j, t]:
                continue
            a = ay[j, t]
            first = np.uint64(lo[j, t])
            count = np.uint64(hi[j, t] - lo[j, t] + 1)
            start = np.uint64((row0[j] + t) * nx) + first
            dst = flat[start : start + count]
            src = axj[first - shift : first - shift + count]
            for i in range(count):
                dst[i] += a * src[i]


@numba.njit(cache=True, inline="always")
def _exact_sum(
    group: np.ndarray, xy: np.ndarray, weights: np.ndarray, x: float, y: float, inv: float
) -> float:  # pragma: no cover - compiled
    """``Σ_j w_j exp(−|c − x_j|² inv)`` over `group` at ``(x, y)``: every term."""
    s = 0.0
    for m in range(group.size):
        j = group[m]
        dx = x - xy[j, 0]
        dy = y - xy[j, 1]
        s += weights[j] * math.exp(-(dx * dx + dy * dy) * inv)
    return s


@numba.njit(cache=True, parallel=True)
def _count_labellings(
    members: np.ndarray,
    first: int,
    last: int,
    col0: np.ndarray,
    row0: np.ndarray,
    ax: np.ndarray,
    ay: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    cells: np.ndarray,
    observed: np.ndarray,
    tolerance: np.ndarray,
    left_out: np.ndarray,
    margin: np.ndarray,
    cx: np.ndarray,
    cy: np.ndarray,
    xy: np.ndarray,
    weights: np.ndarray,
    inv: float,
    greater: bool,
    counts: np.ndarray,
    exact: np.ndarray,
    grids: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Labellings ``first … last - 1``: their group sums compared at `cells`, counted per thread.

    A truncated sum ``v`` is short of the full sum by between 0 and
    `left_out`, give or take the rounding `margin`: a comparison that the
    interval ``[v − margin, v + left_out + margin]`` does not decide is made
    with the exact sum.
    """
    for task in numba.prange(last - first):
        me = numba.get_thread_id()  # type: ignore[attr-defined]
        grid = grids[me]
        grid[:] = 0.0
        group = members[first + task]
        _add_footprints(grid, group, col0, row0, ax, ay, lo, hi)
        flat = grid.ravel()
        mine = counts[me]
        for s in range(cells.size):
            # the full sum is within [low, high]
            low = flat[cells[s]] - margin[s]
            high = flat[cells[s]] + left_out[s] + margin[s]
            if greater:
                target = observed[s] - tolerance[s]
                if low >= target:
                    mine[s] += 1
                elif high >= target:
                    exact[me] += 1
                    if _exact_sum(group, xy, weights, cx[s], cy[s], inv) >= target:
                        mine[s] += 1
            else:
                target = observed[s] + tolerance[s]
                if high <= target:
                    mine[s] += 1
                elif low <= target:
                    exact[me] += 1
                    if _exact_sum(group, xy, weights, cx[s], cy[s], inv) <= target:
                        mine[s] += 1
