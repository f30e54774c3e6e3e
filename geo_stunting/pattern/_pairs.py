"""Estimators of Ripley's K and the nearest-neighbour distribution G.

Internal: arrays in, arrays out. Every estimator follows spatstat's
discretisation exactly (``Kest``, ``Gest``, ``km.rs``) so that the values
agree with R to rounding error, not just in the limit:

* distances are binned on ``breaks = (-step, 0, step, …, rmax)``; the value
  at ``r[k] = breaks[k + 1]`` counts distances ``< r[k]`` (``whist``), and
  the uncorrected G counts ``<= r[k]`` (R's ``hist``);
* the border estimate of K is spatstat's reduced-sample ``Kount``; the border
  and Kaplan–Meier estimates of G are ``km.rs``;
* the isotropic weights are clamped to [1, 100] and the translation weights
  capped at 100.

Two places differ from spatstat on purpose: the Hanisch eroded areas are
exact polygon areas here, and the translation weights are exact polygon
overlaps when that is cheap (rectangles, or few pair vectors × few window
vertices, `EXACT_TRANSLATION_WORK`), and otherwise read from the window's
set covariance tabulated by FFT of an exact-coverage pixel image
(`geo_stunting.pattern._setcov`, relative error of each weight below
``TRANSLATION_RTOL`` = 0.5 %), where spatstat uses a 0/1 pixel mask.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo_stunting import _compile_ahead
from geo_stunting.pattern import _kernels, _small
from geo_stunting.pattern._border_counts import border_counts
from geo_stunting.pattern._boundary import EdgeIndex, edge_index
from geo_stunting.pattern._nearest import nearest_distances
from geo_stunting.pattern._setcov import SetCovariance, set_covariance
from geo_stunting.pattern._threads import map_in_order, thread_count
from geo_stunting.pattern._translate import translation_counts
from geo_stunting.pattern._window import StudyWindow

__all__ = [
    "K_CORRECTIONS",
    "PairList",
    "PointGrid",
    "breaks_from_r",
    "close_pairs",
    "default_breaks",
    "g_estimates",
    "k_estimates",
    "nn_distances",
    "prepare_scan",
    "rmax_rule",
    "run_scan",
    "window_grid",
]

K_CORRECTIONS: tuple[str, ...] = ("isotropic", "translate", "border", "none")
G_CORRECTIONS: tuple[str, ...] = ("km", "rs", "han", "none")
MAX_TRANSLATION_WEIGHT = 100.0
#: Above this (distinct pair vectors × window vertices) translation weights come
#: from the window's set covariance table (`geo_stunting.pattern._setcov`).
EXACT_TRANSLATION_WORK = 200_000
#: In a rectangle the exact weights are a closed form, for up to this many pair vectors.
RECTANGLE_PAIRS = 5_000_000
_MAX_CELLS_PER_SIDE = 256
_NO_OUTPUT = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint16), np.zeros(0))


def default_breaks(rmax: float) -> np.ndarray:
    """Spatstat's default breaks: 512 steps of ``rmax / 512`` from 0, and ``-step`` first."""
    step = rmax / 512
    npos = math.ceil(rmax / step)
    right = step * npos
    return np.concatenate([[-step], np.linspace(0.0, right, npos + 1)])


def breaks_from_r(r: Sequence[float] | np.ndarray) -> np.ndarray:
    """Breaks for given r values (``r[0]`` must be 0 and r increasing), as spatstat."""
    values = np.asarray(r, dtype=float)
    if values.ndim != 1 or len(values) < 2 or values[0] != 0 or np.any(np.diff(values) <= 0):
        msg = "r must start at 0 and increase, with at least two values"
        raise ValueError(msg)
    return np.concatenate([[-(values[1] - values[0])], values])


def rmax_rule(function: str, window: StudyWindow, intensity: float) -> float:
    """Spatstat's default largest r: ``rmax.rule("K" | "G", W, lambda)``."""
    minx, miny, maxx, maxy = window.bounds
    if function == "K":
        return min(min(maxx - minx, maxy - miny) / 4, math.sqrt(1000 / (math.pi * intensity)))
    diameter = math.hypot(maxx - minx, maxy - miny)
    return min(math.sqrt(math.log(1e5) / (math.pi * intensity)), diameter / 2)


@dataclass(frozen=True)
class PointGrid:
    """A uniform grid over the window, with the boundary edges near each cell."""

    ox: float
    oy: float
    cs: float
    ncx: int
    ncy: int
    estart: np.ndarray
    eidx: np.ndarray
    edges: np.ndarray
    reach: float
    boundary: EdgeIndex

    def sort(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ordered by cell: ``(order, start)`` with start of length ncx*ncy + 1."""
        ix = np.clip(((xy[:, 0] - self.ox) / self.cs).astype(np.int64), 0, self.ncx - 1)
        iy = np.clip(((xy[:, 1] - self.oy) / self.cs).astype(np.int64), 0, self.ncy - 1)
        cell = ix * self.ncy + iy
        order = np.argsort(cell, kind="stable").astype(np.int64)
        start = np.searchsorted(cell[order], np.arange(self.ncx * self.ncy + 1)).astype(np.int64)
        return order, start

    def boundary_distances(self, xy: np.ndarray) -> np.ndarray:
        """Distance to the boundary, exact below `reach` and `reach` above.

        Searched in the window's fine `geo_stunting.pattern._boundary.EdgeIndex`
        (the same value as the nearest of this grid's edges, far cheaper).
        """
        return self.boundary.distances(xy, self.reach)


def window_grid(window: StudyWindow, reach: float, *, cell: float | None = None) -> PointGrid:
    """Grid of cells at least `reach` wide listing the edges within `reach` of each cell."""
    minx, miny, maxx, maxy = window.bounds
    extent = max(maxx - minx, maxy - miny)
    cs = max(cell if cell is not None else reach, extent / _MAX_CELLS_PER_SIDE, 1e-9)
    ncx = int((maxx - minx) / cs) + 1
    ncy = int((maxy - miny) / cs) + 1
    edges = window.edges()
    lox = np.minimum(edges[:, 0], edges[:, 2]) - reach
    hix = np.maximum(edges[:, 0], edges[:, 2]) + reach
    loy = np.minimum(edges[:, 1], edges[:, 3]) - reach
    hiy = np.maximum(edges[:, 1], edges[:, 3]) + reach
    cx0 = np.clip(np.floor((lox - minx) / cs), 0, ncx - 1).astype(np.int64)
    cx1 = np.clip(np.floor((hix - minx) / cs), 0, ncx - 1).astype(np.int64)
    cy0 = np.clip(np.floor((loy - miny) / cs), 0, ncy - 1).astype(np.int64)
    cy1 = np.clip(np.floor((hiy - miny) / cs), 0, ncy - 1).astype(np.int64)
    # every (cell, edge) of each edge's box of cells, x-major as meshgrid(..., indexing="ij")
    wide = cx1 - cx0 + 1
    tall = cy1 - cy0 + 1
    edge_of = np.repeat(np.arange(len(edges), dtype=np.int64), wide * tall)
    first = np.repeat(np.cumsum(wide * tall) - wide * tall, wide * tall)
    k = np.arange(len(edge_of), dtype=np.int64) - first
    gx = cx0[edge_of] + k // tall[edge_of]
    gy = cy0[edge_of] + k % tall[edge_of]
    cell_of = gx * ncy + gy
    order = np.lexsort((edge_of, cell_of))
    estart = np.searchsorted(cell_of[order], np.arange(ncx * ncy + 1)).astype(np.int64)
    return PointGrid(
        float(minx),
        float(miny),
        float(cs),
        ncx,
        ncy,
        estart,
        np.ascontiguousarray(edge_of[order]),
        np.ascontiguousarray(edges),
        float(reach),
        edge_index(window),
    )


def nn_distances(xy: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest other point (0 for shared locations)."""
    n = len(xy)
    if n < 2:
        return np.full(n, np.inf)
    if n <= _small.SMALL_PATTERN_POINTS:  # NumPy, the same distances
        return _small.nn_distances_small(xy)
    minx, miny = xy.min(axis=0)
    maxx, maxy = xy.max(axis=0)
    width, height = max(maxx - minx, 1e-9), max(maxy - miny, 1e-9)
    cs = max(math.sqrt(width * height / n) * 1.5, 1e-9)
    ncx = min(int(width / cs) + 1, 4096)
    ncy = min(int(height / cs) + 1, 4096)
    cs = max(cs, width / ncx * (1 + 1e-12), height / ncy * (1 + 1e-12))
    return np.asarray(
        nearest_distances(
            np.ascontiguousarray(xy[:, 0], dtype=float),
            np.ascontiguousarray(xy[:, 1], dtype=float),
            float(minx),
            float(miny),
            float(cs),
            ncx,
            ncy,
        )
    )


def _whist(values: np.ndarray, breaks: np.ndarray) -> tuple[np.ndarray, int]:
    """Spatstat's ``whist``: counts in ``[b_k, b_k+1)`` (last closed), and the count above."""
    cell = np.searchsorted(breaks, values, side="right") - 1
    cell[values == breaks[-1]] = len(breaks) - 2
    ok = (cell >= 0) & (cell <= len(breaks) - 2)
    counts = np.bincount(cell[ok], minlength=len(breaks) - 1).astype(float)
    return counts, int(np.sum(values > breaks[-1]))


def _hist_right(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """R's ``hist``: counts in ``(b_k, b_k+1]``, the first interval closed."""
    values = values[(values >= breaks[0]) & (values <= breaks[-1])]
    cell = np.maximum(np.searchsorted(breaks, values, side="left") - 1, 0)
    return np.bincount(cell, minlength=len(breaks) - 1).astype(float)


def prepare_scan(
    xy: np.ndarray, window: StudyWindow, breaks: np.ndarray, grid: PointGrid | None
) -> tuple[PointGrid, np.ndarray, np.ndarray]:
    rmax = float(breaks[-1])
    if grid is None or grid.reach < rmax * (1 + 1e-9):
        grid = window_grid(window, rmax * (1 + 1e-9) + 1e-9, cell=rmax / 2)
    b = grid.boundary_distances(xy)
    sector_total = (
        _small.sector_total_small
        if len(xy) <= _small.SMALL_PATTERN_POINTS
        else _kernels.sector_total
    )
    total = np.asarray(
        sector_total(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), b, grid.edges)
    )
    return grid, b, total


def k_estimates(
    xy: np.ndarray,
    window: StudyWindow,
    breaks: np.ndarray,
    *,
    corrections: Sequence[str] = ("isotropic", "translate", "border"),
    grid: PointGrid | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Estimates of K at ``breaks[1:]`` for the requested corrections.

    `threads` (default: `thread_count` for large patterns) share the border
    counts of one pattern; 1 inside threads that already run simulations.
    """
    n = len(xy)
    area = window.area_m2
    nbin = len(breaks) - 1
    if n < 2:
        return {c: np.full(nbin, np.nan) for c in corrections}
    if tuple(corrections) == ("border",):
        return {"border": _border_only(xy, window, breaks, grid, threads)}
    rmax = float(breaks[-1])
    setcov = (
        set_covariance(window, rmax)
        if "translate" in corrections and not _exact_translation_is_cheap(window, n, rmax)
        else None
    )
    if tuple(corrections) == ("translate",) and setcov is not None:
        return {"translate": _translation_only(xy, window, breaks, grid, setcov)}
    grid, b, total = prepare_scan(xy, window, breaks, grid)
    raw, iso, nco, ncc, trans, *_ = run_scan(xy, grid, b, total, breaks, rmax, setcov=setcov)
    pairs_per_area = n * (n - 1) / area
    out: dict[str, np.ndarray] = {}
    for correction in corrections:
        if correction == "none":
            out[correction] = np.cumsum(raw) / pairs_per_area
        elif correction == "isotropic":
            out[correction] = np.cumsum(iso) / pairs_per_area
        elif correction == "border":
            cen, upper = _whist(b, breaks)
            at_risk = np.cumsum(cen[::-1])[::-1] + upper
            numerator = np.cumsum(nco) - np.concatenate([[0.0], np.cumsum(ncc)[:-1]])
            with np.errstate(divide="ignore", invalid="ignore"):
                out[correction] = np.where(at_risk > 0, numerator / (n / area * at_risk), np.nan)
        elif correction == "translate" and setcov is not None:
            out[correction] = np.cumsum(trans) / pairs_per_area
        elif correction == "translate":
            pairs = close_pairs(xy, window, float(breaks[-1]), grid=grid, b=b, total=total)
            weights = translation_weights(window, pairs, xy)
            hist = np.bincount(
                np.clip(np.searchsorted(breaks, pairs.d, side="right") - 1, 0, nbin - 1),
                weights=weights,
                minlength=nbin,
            )
            out[correction] = np.cumsum(hist) / pairs_per_area
        else:
            msg = f"unknown K correction {correction!r}; use one of {K_CORRECTIONS}"
            raise ValueError(msg)
    return out


def _translation_only(
    xy: np.ndarray,
    window: StudyWindow,
    breaks: np.ndarray,
    grid: PointGrid | None,
    setcov: SetCovariance,
) -> np.ndarray:
    """The translation estimate alone from the set covariance table (no isotropic weights).

    The same pairs in the same order as `k_estimates` with every correction,
    so the same values.
    """
    n = len(xy)
    rmax = float(breaks[-1])
    if grid is None or grid.reach < rmax * (1 + 1e-9):
        grid = window_grid(window, rmax * (1 + 1e-9) + 1e-9, cell=rmax / 2)
    order, start = grid.sort(xy)
    ordered = xy[order]
    trans = translation_counts(
        np.ascontiguousarray(ordered[:, 0]),
        np.ascontiguousarray(ordered[:, 1]),
        start,
        grid.ox,
        grid.oy,
        grid.cs,
        grid.ncx,
        grid.ncy,
        breaks,
        rmax,
        setcov.table,
        setcov.pixel,
        setcov.reach_px,
        setcov.area_m2,
    )
    return np.asarray(np.cumsum(trans) / (n * (n - 1) / window.area_m2))


def _border_only(
    xy: np.ndarray,
    window: StudyWindow,
    breaks: np.ndarray,
    grid: PointGrid | None,
    threads: int | None = None,
) -> np.ndarray:
    """The border estimate alone (spatstat's choice beyond ``nlarge`` points).

    Same counts as `k_estimates` with every correction, but each point only
    looks for neighbours within its own distance to the boundary, on a grid
    of cells an eighth of rmax wide.
    """
    n = len(xy)
    area = window.area_m2
    rmax = float(breaks[-1])
    if grid is None or grid.reach < rmax * (1 + 1e-9):
        grid = window_grid(window, rmax * (1 + 1e-9) + 1e-9, cell=rmax / 2)
    b = grid.boundary_distances(xy)
    minx, miny, maxx, maxy = window.bounds
    cs = max(rmax / 8, max(maxx - minx, maxy - miny) / 1024, 1e-9)
    ncx = int((maxx - minx) / cs) + 1
    ncy = int((maxy - miny) / cs) + 1
    ix = np.clip(((xy[:, 0] - minx) / cs).astype(np.int64), 0, ncx - 1)
    iy = np.clip(((xy[:, 1] - miny) / cs).astype(np.int64), 0, ncy - 1)
    cell = ix * ncy + iy
    order = np.argsort(cell, kind="stable").astype(np.int64)
    start = np.searchsorted(cell[order], np.arange(ncx * ncy + 1)).astype(np.int64)
    xs = np.ascontiguousarray(xy[order, 0])
    ys = np.ascontiguousarray(xy[order, 1])
    bs = b[order]
    identity = np.arange(n, dtype=np.int64)

    def counts(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        return tuple(  # type: ignore[return-value]
            border_counts(
                xs,
                ys,
                bs,
                identity,
                start,
                float(minx),
                float(miny),
                float(cs),
                ncx,
                ncy,
                breaks,
                rmax,
                bounds[0],
                bounds[1],
            )
        )

    # large patterns: a share of the points per thread; the counts are whole
    # numbers, so their sum is exact in any order (identical to one pass)
    parts = threads if threads is not None else (thread_count() if n >= 4000 else 1)
    cuts = np.linspace(0, n, max(parts, 1) + 1).astype(np.int64)
    nco = np.zeros(len(breaks) - 1)
    ncc = np.zeros(len(breaks) - 1)
    for part_nco, part_ncc in map_in_order(
        counts, itertools.pairwise(cuts.tolist()), threads=parts
    ):
        nco += part_nco
        ncc += part_ncc
    cen, upper = _whist(b, breaks)
    at_risk = np.cumsum(cen[::-1])[::-1] + upper
    numerator = np.cumsum(nco) - np.concatenate([[0.0], np.cumsum(ncc)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(at_risk > 0, numerator / (n / area * at_risk), np.nan))


def _exact_translation_is_cheap(window: StudyWindow, n: int, rmax: float) -> bool:
    """Whether exact polygon overlaps for every pair vector would take well under a second.

    Rectangles are always exact (and fast). Otherwise the work is about the
    number of distinct pair vectors times the number of window vertices.
    """
    share = min(1.0, math.pi * rmax**2 / window.area_m2)
    vectors = n * (n - 1) / 2 * share
    if window.is_rectangle:  # closed form; the limit is the memory of the pair list
        return vectors <= RECTANGLE_PAIRS
    return vectors * len(window.edges()) <= EXACT_TRANSLATION_WORK


@dataclass(frozen=True)
class PairList:
    """Ordered pairs closer than rmax: indices, distance, isotropic weight."""

    i: np.ndarray
    j: np.ndarray
    d: np.ndarray
    w_iso: np.ndarray


def run_scan(
    xy: np.ndarray,
    grid: PointGrid,
    b: np.ndarray,
    total: np.ndarray,
    breaks: np.ndarray,
    rmax: float,
    *,
    keep_pairs: bool = False,
    capacity: int = 0,
    setcov: SetCovariance | None = None,
    out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    block: tuple[int, int, int, int] | None = None,
) -> tuple[Any, ...]:
    """Call the compiled pair scan on `xy`, sorted into `grid`.

    `out`: mode 2's arrays; `block`: ``(first, end, out_start, out_wstart)``,
    the points to scan and where their pairs go (default: every point).
    """
    order, start = grid.sort(xy)
    if not keep_pairs and out is None:
        # histograms only: visit the points in cell order, stored in that order
        xy, b, total = xy[order], b[order], total[order]
        order = np.arange(len(xy), dtype=np.int64)
    table = np.zeros((1, 1)) if setcov is None else setcov.table
    out_j, out_cell, out_w = _NO_OUTPUT if out is None else out
    first, end, out_start, out_wstart = (0, len(xy), 0, 0) if block is None else block
    _compile_ahead.wait("scan_pairs")  # a first run: compiled in the background
    return tuple(
        _kernels.scan_pairs(
            np.ascontiguousarray(xy[:, 0]),
            np.ascontiguousarray(xy[:, 1]),
            b,
            total,
            order,
            start,
            grid.ox,
            grid.oy,
            grid.cs,
            grid.ncx,
            grid.ncy,
            grid.estart,
            grid.eidx,
            grid.edges,
            breaks,
            rmax,
            2 if out is not None else int(keep_pairs),
            capacity,
            table,
            1.0 if setcov is None else setcov.pixel,
            0 if setcov is None else setcov.reach_px,
            1.0 if setcov is None else setcov.area_m2,
            out_j,
            out_cell,
            out_w,
            first,
            end,
            out_start,
            out_wstart,
        )
    )


def close_pairs(
    xy: np.ndarray,
    window: StudyWindow,
    rmax: float,
    *,
    grid: PointGrid | None = None,
    b: np.ndarray | None = None,
    total: np.ndarray | None = None,
) -> PairList:
    """Every ordered pair ``i != j`` with ``d <= rmax``, with Ripley's isotropic weight."""
    breaks = np.array([-rmax / 512, 0.0, rmax])
    if grid is None or b is None or total is None:
        grid, b, total = prepare_scan(xy, window, breaks, grid)
    capacity = max(1024, 4 * len(xy))
    while True:
        *_, pi_, pj, pd, pw, count = run_scan(
            xy, grid, b, total, breaks, rmax, keep_pairs=True, capacity=capacity
        )
        if count <= capacity:
            return PairList(pi_[:count], pj[:count], pd[:count], pw[:count])
        capacity = int(count)


def translation_weights(window: StudyWindow, pairs: PairList, xy: np.ndarray) -> np.ndarray:
    """``area(W) / area(W ∩ (W + v))`` for each pair's vector v, capped at 100 (exact)."""
    if len(pairs.i) == 0:
        return np.zeros(0)
    dx = xy[pairs.j, 0] - xy[pairs.i, 0]
    dy = xy[pairs.j, 1] - xy[pairs.i, 1]
    if window.is_rectangle:
        minx, miny, maxx, maxy = window.bounds
        overlap = np.maximum(maxx - minx - np.abs(dx), 0) * np.maximum(maxy - miny - np.abs(dy), 0)
        with np.errstate(divide="ignore"):
            weights = np.where(overlap > 0, window.area_m2 / overlap, MAX_TRANSLATION_WEIGHT)
        return np.minimum(weights, MAX_TRANSLATION_WEIGHT)
    # the overlap is the same for v and -v: compute each unordered pair once
    flip = (dx < 0) | ((dx == 0) & (dy < 0))
    key = np.column_stack([np.where(flip, -dx, dx), np.where(flip, -dy, dy)])
    unique, inverse = np.unique(key, axis=0, return_inverse=True)
    base = window.geometry
    coords = shapely.get_coordinates(base)
    overlap = np.empty(len(unique))
    chunk = 2000
    for lo in range(0, len(unique), chunk):
        part = unique[lo : lo + chunk]
        copies = shapely.from_wkb(np.full(len(part), shapely.to_wkb(base), dtype=object))
        moved = np.repeat(part, len(coords), axis=0) + np.tile(coords, (len(part), 1))
        shifted = shapely.set_coordinates(copies, moved)
        overlap[lo : lo + chunk] = shapely.area(shapely.intersection(base, shifted))
    with np.errstate(divide="ignore"):
        weights = np.where(overlap > 0, window.area_m2 / overlap, MAX_TRANSLATION_WEIGHT)
    return np.minimum(weights, MAX_TRANSLATION_WEIGHT)[np.ravel(inverse)]


def g_estimates(
    xy: np.ndarray,
    window: StudyWindow,
    breaks: np.ndarray,
    *,
    corrections: Sequence[str] = ("km", "rs"),
    grid: PointGrid | None = None,
    nnd: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Estimates of G at ``breaks[1:]`` (spatstat's ``Gest``)."""
    n = len(xy)
    nbin = len(breaks) - 1
    if n < 2:
        return {c: np.zeros(nbin) for c in corrections}
    rmax = float(breaks[-1])
    if grid is None or grid.reach < rmax * (1 + 1e-9):
        grid = window_grid(window, rmax * (1 + 1e-9) + 1e-9)
    nnd = nn_distances(xy) if nnd is None else nnd
    b = grid.boundary_distances(xy)
    o = np.minimum(nnd, b)
    d = nnd <= b
    out: dict[str, np.ndarray] = {}
    for correction in corrections:
        if correction == "none":
            out[correction] = np.cumsum(_hist_right(nnd, breaks)) / n
        elif correction == "han":
            x = nnd[d]
            eroded = _eroded_areas(window, breaks[1:])
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.cumsum(_hist_right(x, breaks) / eroded)
            finite = g[np.isfinite(g)]
            out[correction] = g / finite.max() if finite.size and finite.max() > 0 else g
        elif correction == "km":
            obs, upper = _whist(o, breaks)
            nco, _ = _whist(o[d], breaks)
            at_risk = np.cumsum(obs[::-1])[::-1] + upper
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.where(at_risk > 0, 1.0 - nco / at_risk, 1.0)
            out[correction] = 1.0 - np.cumprod(s)
        elif correction == "rs":
            nco, _ = _whist(o[d], breaks)
            cen, upper = _whist(b, breaks)
            ncc, _ = _whist(b[d], breaks)
            at_risk = np.cumsum(cen[::-1])[::-1] + upper
            numerator = np.cumsum(nco) - np.concatenate([[0.0], np.cumsum(ncc)[:-1]])
            with np.errstate(divide="ignore", invalid="ignore"):
                out[correction] = np.where(at_risk > 0, numerator / at_risk, np.nan)
        else:
            msg = f"unknown G correction {correction!r}; use one of {G_CORRECTIONS}"
            raise ValueError(msg)
    return out


def _eroded_areas(window: StudyWindow, r: np.ndarray) -> np.ndarray:
    """Area of the window eroded by each r (exact polygon buffers)."""
    shrunk = shapely.buffer(np.full(len(r), window.geometry, dtype=object), -np.asarray(r))
    return np.asarray(shapely.area(shrunk), dtype=float)
