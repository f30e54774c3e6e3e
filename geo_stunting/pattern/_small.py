"""NumPy twins of the pattern step's smaller compiled kernels, for a few hundred points.

A first run after install compiles each numba kernel it touches; a
demo-sized study needs none of their speed. Each function here gives its
kernel's result to the last bit: the same floating-point operations in the
same order (``+ - * /``, ``sqrt``, ``floor`` and comparisons are exact in
NumPy as in compiled code; angles use Python's ``math``, the C library's, as
compiled code does), and `tests/test_pattern_small.py` compares each with
its kernel on windows with holes, ties and points on the boundary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geo_stunting.pattern import _kernels

__all__ = [
    "SMALL_PATTERN_POINTS",
    "SMALL_RASTER_STEPS",
    "candidate_distances_small",
    "column_sums_small",
    "nn_distances_small",
    "pair_counts_small",
    "points_in_triangles_small",
    "raster_steps",
    "sector_total_small",
]

#: Up to this many points the kernels below replace the compiled ones.
SMALL_PATTERN_POINTS = 1_000
#: Up to this many row steps of the window's edges the coverage raster is built here.
SMALL_RASTER_STEPS = 100_000
TWO_PI = 2.0 * math.pi
#: `geo_stunting.pattern._kernels.WEIGHT_FLAG` (a pair's bin carries it when its weight is stored).
WEIGHT_FLAG = 1 << 15


def points_in_triangles_small(
    draws: np.ndarray, uv: np.ndarray, cumulative: np.ndarray, triangles: np.ndarray
) -> np.ndarray:
    """`geo_stunting.pattern._uniform.points_in_triangles` in NumPy.

    >>> tri = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [0.0, 1.0], [1.0, 0.0]]])
    >>> cumulative = np.array([0.5, 1.0])
    >>> points_in_triangles_small(np.array([0.25, 0.75]), np.array([[0.5, 0.25], [0.9, 0.6]]),
    ...                           cumulative, tri).tolist()
    [[0.5, 0.25], [0.9, 0.6]]
    """
    m = cumulative.shape[0]
    x = draws * cumulative[m - 1]
    idx = np.minimum(np.searchsorted(cumulative, x, side="right"), m - 1)
    u = uv[:, 0].copy()
    v = uv[:, 1].copy()
    flip = u + v > 1.0
    u[flip] = 1.0 - u[flip]
    v[flip] = 1.0 - v[flip]
    t = triangles[idx]
    a = t[:, 0, :]
    return a + u[:, None] * (t[:, 1, :] - a) + v[:, None] * (t[:, 2, :] - a)  # type: ignore[no-any-return]


def nn_distances_small(xy: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest other point (0 for shared places), at least 2 points.

    >>> nn_distances_small(np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])).tolist()
    [5.0, 0.0, 0.0]
    """
    x = np.ascontiguousarray(xy[:, 0], dtype=float)
    y = np.ascontiguousarray(xy[:, 1], dtype=float)
    d2 = (x[None, :] - x[:, None]) ** 2 + (y[None, :] - y[:, None]) ** 2
    np.fill_diagonal(d2, np.inf)
    return np.sqrt(d2.min(axis=1))  # type: ignore[no-any-return]


def sector_total_small(
    x: np.ndarray, y: np.ndarray, b: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """`geo_stunting.pattern._kernels.sector_total`: 2π inside, less on the boundary."""
    # the kernel's own Python function: the same arithmetic, nothing to compile
    edge_geometry = _kernels._edge_geometry.py_func  # noqa: SLF001 - its twin by design
    out = np.full(x.shape[0], TWO_PI)
    rows = edges.tolist()
    geo = np.empty(4)
    for i in np.flatnonzero(~(b > 0.0)).tolist():
        px, py = float(x[i]), float(y[i])
        total = 0.0
        for x0, y0, x1, y1 in rows:
            if edge_geometry(px, py, x0, y0, x1, y1, geo):
                total += geo[0] * (geo[3] - geo[2])
        out[i] = total
    return out


def candidate_distances_small(
    x: np.ndarray,
    y: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
    estart: np.ndarray,
    eidx: np.ndarray,
    edges: np.ndarray,
    nearest: np.ndarray,
    cap: float,
) -> np.ndarray:
    """`geo_stunting.pattern._boundary.candidate_distances` in NumPy: the same distances."""
    cx = np.clip(((x - ox) / cs).astype(np.int64), 0, ncx - 1)
    cy = np.clip(((y - oy) / cs).astype(np.int64), 0, ncy - 1)
    c = cx * ncy + cy
    count = np.where(nearest[c] < cap, estart[c + 1] - estart[c], 0)
    point = np.repeat(np.arange(len(x)), count)
    offset = np.arange(point.size) - np.repeat(np.cumsum(count) - count, count)
    e = eidx[estart[c][point] + offset]
    px, py = x[point], y[point]
    x0, y0, x1, y1 = edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
    dx = x1 - x0
    dy = y1 - y0
    ll = dx * dx + dy * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(ll > 0.0, np.clip(((px - x0) * dx + (py - y0) * dy) / ll, 0.0, 1.0), 0.0)
    qx = x0 + t * dx - px
    qy = y0 + t * dy - py
    out = np.full(len(x), float(cap))
    np.minimum.at(out, point, np.sqrt(qx * qx + qy * qy))
    return out


def raster_steps(edges: np.ndarray, oy: float, pixel: float, ny: int) -> int:
    """Row steps the coverage raster's deposit loop takes over `edges` (its loop count)."""
    y0 = (edges[:, 1] - oy) / pixel
    y1 = (edges[:, 3] - oy) / pixel
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    steps = np.minimum(np.ceil(hi), ny) - np.floor(lo)
    return int(np.clip(steps[y0 != y1], 0, None).sum())


def pair_counts_small(
    x: np.ndarray, y: np.ndarray, b: np.ndarray, *grid_and_rmax: Any
) -> tuple[np.ndarray, np.ndarray]:
    """`geo_stunting.pattern._labelled.pair_counts` in NumPy: neighbours within rmax, far ones.

    Called as the kernel is: its grid arguments (order, start, ox, oy, cs,
    ncx, ncy) are not needed; the last argument is rmax.

    >>> x, y = np.array([0.0, 3.0, 0.0]), np.array([0.0, 4.0, 10.0])
    >>> [a.tolist() for a in pair_counts_small(x, y, np.array([1.0, 9.0, 1.0]), 7.0)]
    [[1, 2, 1], [1, 0, 1]]
    """
    rmax = float(grid_and_rmax[-1])
    d2 = (x[None, :] - x[:, None]) ** 2 + (y[None, :] - y[:, None]) ** 2
    within = d2 <= rmax * rmax
    np.fill_diagonal(within, False)
    far = within & (np.sqrt(d2) > b[:, None])
    return within.sum(axis=1, dtype=np.int64), far.sum(axis=1, dtype=np.int64)


def column_sums_small(
    rowptr: np.ndarray,
    wptr: np.ndarray,
    pj: np.ndarray,
    cell: np.ndarray,
    w: np.ndarray,
    n: int,
    nbin: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`geo_stunting.pattern._labelled._column_sums` in NumPy, summed in pair order.

    A pair's weight is 1, or the next of `w` when its cell carries `WEIGHT_FLAG`
    (the rows' weights are consecutive: ``wptr`` runs from 0 without gaps);
    ``numpy.add.at`` adds unbuffered, in index order, so each sum takes its
    terms in the compiled loop's order.
    """
    flag = WEIGHT_FLAG
    pairs = slice(int(rowptr[0]), int(rowptr[-1]))
    c = cell[pairs].astype(np.int64)
    flagged = (c & flag) != 0
    weights = np.ones(c.size)
    weights[flagged] = w[int(wptr[0]) : int(wptr[-1])]
    c &= flag - 1
    columns = np.zeros((n, nbin))
    total = np.zeros(nbin)
    np.add.at(columns, (pj[pairs].astype(np.int64), c), weights)
    np.add.at(total, c, weights)
    return columns, total
