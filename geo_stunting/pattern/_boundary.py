"""The distance from points to the window's boundary, from a fine grid of candidate edges.

Every edge correction needs it (border K, Kaplan–Meier G, the isotropic
weights), for every simulated pattern of an envelope. Checking every edge
within rmax of a point costs hundreds of segment distances per point on a
detailed window (the 1,700 edges of Ogan Ilir's 241 villages). Here the
window is covered once by a fine grid; for each cell, with D the distance
from its centre to the boundary and h its half-diagonal, a point of the cell
is at most ``D + h`` from the boundary, so its nearest edge is among the
edges within ``D + 2h`` of the centre: the cell's *candidates* (found once
per window with a shapely STRtree). Every point of a cell with
``D - h >= cap`` is at least `cap` from the boundary: it gets `cap` without
looking at any edge.

The result is the same minimum over the same segment distances as looking
at every edge within the cap, so it is exact (bit-identical), only cheaper:
a few segment distances per point instead of hundreds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
from numba import njit
from shapely.geometry.base import BaseGeometry

from geo_stunting.pattern import _small
from geo_stunting.pattern._kernels import _segment_distance
from geo_stunting.pattern._window import StudyWindow

__all__ = ["EdgeIndex", "candidate_distances", "edge_index"]

#: Cells on the longer side of the window's grid of edges.
CELLS_PER_SIDE = 256


@dataclass(frozen=True)
class EdgeIndex:
    """Candidate nearest edges of the window for each cell of a fine grid.

    ``eidx[estart[c] : estart[c + 1]]`` are the candidates of cell
    ``c = cx * ncy + cy``; ``nearest[c]`` is a lower bound of the distance
    from any point of the cell to the boundary.
    """

    ox: float
    oy: float
    cs: float
    ncx: int
    ncy: int
    estart: np.ndarray
    eidx: np.ndarray
    edges: np.ndarray
    nearest: np.ndarray

    def distances(self, xy: np.ndarray, cap: float) -> np.ndarray:
        """Distance from each point to the boundary, exact below `cap` and `cap` above."""
        small = len(xy) <= _small.SMALL_PATTERN_POINTS  # NumPy, the same distances
        return np.asarray(
            (_small.candidate_distances_small if small else candidate_distances)(
                np.ascontiguousarray(xy[:, 0], dtype=float),
                np.ascontiguousarray(xy[:, 1], dtype=float),
                self.ox,
                self.oy,
                self.cs,
                self.ncx,
                self.ncy,
                self.estart,
                self.eidx,
                self.edges,
                self.nearest,
                float(cap),
            )
        )


def edge_index(window: StudyWindow) -> EdgeIndex:
    """The window's `EdgeIndex` (cached per window geometry)."""
    return _cached(window.geometry.wkb)


@lru_cache(maxsize=8)
def _cached(wkb: bytes) -> EdgeIndex:
    geometry = shapely.from_wkb(wkb)
    edges = _directed_edges(geometry)
    minx, miny, maxx, maxy = geometry.bounds
    cs = max(max(maxx - minx, maxy - miny) / CELLS_PER_SIDE, 1e-9)
    # one cell of margin on every side: points on the boundary stay inside the grid
    ox, oy = minx - cs, miny - cs
    ncx = int((maxx - minx) / cs) + 3
    ncy = int((maxy - miny) / cs) + 3
    gx, gy = np.meshgrid(np.arange(ncx), np.arange(ncy), indexing="ij")
    centres = np.asarray(
        shapely.points(ox + (gx.ravel() + 0.5) * cs, oy + (gy.ravel() + 0.5) * cs), dtype=object
    )
    segments = np.asarray(shapely.linestrings(edges.reshape(-1, 2, 2)), dtype=object)
    tree = shapely.STRtree(segments)
    nearest, dist = tree.query_nearest(centres, return_distance=True, all_matches=False)
    centre_d = np.empty(len(centres))
    centre_d[nearest[0]] = dist
    half = cs * np.sqrt(0.5)
    # candidates: edges within D + 2h of the centre, with a margin for rounding
    radius = (centre_d + 2 * half) * (1 + 1e-9) + 1e-6 * cs
    cell_of, edge_of = tree.query(centres, predicate="dwithin", distance=radius)
    order = np.lexsort((edge_of, cell_of))
    estart = np.searchsorted(cell_of[order], np.arange(ncx * ncy + 1)).astype(np.int64)
    return EdgeIndex(
        float(ox),
        float(oy),
        float(cs),
        ncx,
        ncy,
        estart,
        np.ascontiguousarray(edge_of[order].astype(np.int64)),
        np.ascontiguousarray(edges),
        np.ascontiguousarray(centre_d - half - 1e-6 * cs),
    )


def _directed_edges(geometry: BaseGeometry) -> np.ndarray:
    """The same edges, in the same order, as `StudyWindow.edges`."""
    parts = []
    for polygon in shapely.get_parts(geometry):
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords, dtype=float)
            parts.append(np.column_stack([xy[:-1], xy[1:]]))
    out = np.concatenate(parts)
    keep = (out[:, 0] != out[:, 2]) | (out[:, 1] != out[:, 3])
    return np.ascontiguousarray(out[keep])


@njit(cache=True, nogil=True)
def candidate_distances(  # pragma: no cover - compiled
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
    """Distance to the nearest candidate edge of the point's cell, at most `cap`."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        c = cx * ncy + cy
        best = cap
        if nearest[c] < cap:
            for k in range(estart[c], estart[c + 1]):
                e = eidx[k]
                d = _segment_distance(
                    x[i], y[i], edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
                )
                best = min(best, d)
        out[i] = best
    return out
