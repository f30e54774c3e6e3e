"""The distance from each point to its nearest other point, compiled (numba) in one pass.

Every Clark–Evans and G simulation calls it. The points are bucketed into a
uniform grid by a counting sort (no NumPy sort), then each point searches
rings of cells outward, skipping a cell that lies farther than the nearest
point found so far, and stopping once every unseen point lies outside the
circle through that nearest point. The answer is a minimum of exact squared
distances, so it is the same to the last bit whatever the order of search.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["nearest_distances"]


@njit(cache=True, nogil=True)
def nearest_distances(  # pragma: no cover - compiled
    x: np.ndarray, y: np.ndarray, ox: float, oy: float, cs: float, ncx: int, ncy: int
) -> np.ndarray:
    """Distance from each point to its nearest other point (0 for shared locations).

    The grid has ``ncx × ncy`` cells `cs` wide from ``(ox, oy)``; points
    beyond it are put in its edge cells.
    """
    n = x.shape[0]
    start = np.zeros(ncx * ncy + 1, dtype=np.int64)
    cell = np.empty(n, dtype=np.int64)
    for i in range(n):
        ix = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        iy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        cell[i] = ix * ncy + iy
        start[cell[i] + 1] += 1
    for c in range(ncx * ncy):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    xs = np.empty(n)
    ys = np.empty(n)
    index = np.empty(n, dtype=np.int64)
    for i in range(n):
        k = fill[cell[i]]
        fill[cell[i]] += 1
        xs[k] = x[i]
        ys[k] = y[i]
        index[k] = i
    out = np.empty(n)
    # distances to cells are lower bounds only after this much is taken off (rounding)
    margin = 1e-9 * cs
    for i in range(n):
        xi = xs[i]
        yi = ys[i]
        cx = min(max(int((xi - ox) / cs), 0), ncx - 1)
        cy = min(max(int((yi - oy) / cs), 0), ncy - 1)
        best = np.inf
        ring = 0
        while True:
            for gx in range(max(cx - ring, 0), min(cx + ring, ncx - 1) + 1):
                side = gx == cx - ring or gx == cx + ring
                gapx = max(max(ox + gx * cs - xi, xi - (ox + (gx + 1) * cs), 0.0) - margin, 0.0)
                gy = max(cy - ring, 0)
                last = min(cy + ring, ncy - 1)
                while gy <= last:
                    if not side and gy != cy - ring and gy != cy + ring:
                        gy = cy + ring  # inside the ring: only its two end cells are new
                        continue
                    gapy = max(max(oy + gy * cs - yi, yi - (oy + (gy + 1) * cs), 0.0) - margin, 0.0)
                    if gapx * gapx + gapy * gapy < best:
                        c = gx * ncy + gy
                        for k in range(start[c], start[c + 1]):
                            if k != i:
                                best = min(best, (xs[k] - xi) ** 2 + (ys[k] - yi) ** 2)
                    gy += 1
            # every point not yet seen lies outside the square of rings 0 … ring
            reach_x = min(xi - (ox + (cx - ring) * cs), ox + (cx + ring + 1) * cs - xi)
            reach_y = min(yi - (oy + (cy - ring) * cs), oy + (cy + ring + 1) * cs - yi)
            reach = max(min(reach_x, reach_y) - margin, 0.0)
            if best <= reach * reach or (ring > ncx and ring > ncy):
                break
            ring += 1
        out[index[i]] = math.sqrt(best)
    return out
