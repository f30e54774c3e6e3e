"""Compiled loops behind the point-pattern statistics (numba).

Three kernels, each a plain loop over a uniform grid of cells:

`nn_distances`
    The distance from each point to its nearest other point.
`scan_pairs`
    Every ordered pair ``(i, j)`` closer than ``rmax``, either binned into
    histograms on the fly (K function of one pattern: memory stays O(n)) or
    written out (pairs reused under random labelling), with Ripley's
    isotropic edge weight of each pair.
`boundary_distances`
    The distance from each point to the window's boundary, capped.

Ripley's isotropic weight of a pair is ``2π / θ`` where θ is the angle of
the circle centred at point *i* through point *j* that lies inside the
window. θ is computed without point-in-polygon tests: with the boundary
split into directed edges (interior on the left), the window is the signed
sum of the triangles (i, a, b) over its edges, so the arc outside the window
is the signed sum, over the edges closer than the radius, of the part of
each edge's angular sector where the edge is nearer than the radius — an
interval ``[φ − acos(h/r), φ + acos(h/r)]`` around the foot φ of the
perpendicular from *i* (distance h). spatstat's ``edge.Ripley`` computes the
same angle; as there, weights are clamped to [1, 100].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["boundary_distances", "nn_distances", "scan_pairs", "sector_total"]

MAX_WEIGHT = 100.0
TWO_PI = 2.0 * math.pi


@njit(cache=True)
def _bin(breaks: np.ndarray, d: float) -> int:  # pragma: no cover - compiled
    """Index k with breaks[k] <= d < breaks[k+1] (last bin closed), -1 if none."""
    nb: int = breaks.shape[0]
    if d < breaks[0] or d > breaks[nb - 1]:
        return -1
    if d == breaks[nb - 1]:
        return nb - 2
    # guess as if evenly spaced, then check against the breaks themselves
    k = int((d - breaks[0]) / (breaks[nb - 1] - breaks[0]) * (nb - 1))
    k = min(max(k, 0), nb - 2)
    for _ in range(3):
        if breaks[k + 1] <= d and k < nb - 2:
            k += 1
        elif breaks[k] > d and k > 0:
            k -= 1
        else:
            break
    if breaks[k] <= d < breaks[k + 1]:
        return k
    lo = 0
    hi = nb - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if breaks[mid] <= d:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def nn_distances(  # pragma: no cover - compiled
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
) -> np.ndarray:
    """Distance from each point to its nearest other point (0 for duplicates)."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        best = np.inf
        ring = 0
        while True:
            for gx in range(cx - ring, cx + ring + 1):
                if gx < 0 or gx >= ncx:
                    continue
                edge_x = gx == cx - ring or gx == cx + ring
                for gy in range(cy - ring, cy + ring + 1):
                    if gy < 0 or gy >= ncy:
                        continue
                    if not edge_x and gy != cy - ring and gy != cy + ring:
                        continue
                    c = gx * ncy + gy
                    for k in range(start[c], start[c + 1]):
                        j = order[k]
                        if j == i:
                            continue
                        d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
                        best = min(best, d2)
            # every point not yet seen is at least `ring * cs` away
            if best <= (ring * cs) ** 2 or (ring > ncx and ring > ncy):
                break
            ring += 1
        out[i] = math.sqrt(best)
    return out


@njit(cache=True)
def _segment_distance(  # pragma: no cover - compiled
    px: float, py: float, x0: float, y0: float, x1: float, y1: float
) -> float:
    dx = x1 - x0
    dy = y1 - y0
    ll = dx * dx + dy * dy
    t = 0.0
    if ll > 0.0:
        t = ((px - x0) * dx + (py - y0) * dy) / ll
        t = min(max(t, 0.0), 1.0)
    qx = x0 + t * dx - px
    qy = y0 + t * dy - py
    return math.sqrt(qx * qx + qy * qy)


@njit(cache=True)
def boundary_distances(  # pragma: no cover - compiled
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
    cap: float,
) -> np.ndarray:
    """Distance to the nearest boundary edge listed in the point's cell, at most `cap`."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        c = cx * ncy + cy
        best = cap
        for k in range(estart[c], estart[c + 1]):
            e = eidx[k]
            d = _segment_distance(x[i], y[i], edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3])
            best = min(best, d)
        out[i] = best
    return out


@njit(cache=True)
def _edge_geometry(  # pragma: no cover - compiled
    px: float, py: float, x0: float, y0: float, x1: float, y1: float, out: np.ndarray
) -> bool:
    """Sign, line distance h and the sector's angles relative to the foot.

    Writes ``sign, h, lo, hi`` into `out`; returns False for a degenerate
    sector (the point on the edge's line).
    """
    ax = x0 - px
    ay = y0 - py
    bx = x1 - px
    by = y1 - py
    cross = ax * by - ay * bx
    ex = x1 - x0
    ey = y1 - y0
    length = math.sqrt(ex * ex + ey * ey)
    h = abs(cross) / length
    if h <= 1e-12 * (length + math.sqrt(ax * ax + ay * ay)):
        return False
    t = -(ax * ex + ay * ey) / (length * length)
    fx = ax + t * ex
    fy = ay + t * ey
    ta = math.atan2(fx * ay - fy * ax, fx * ax + fy * ay)
    tb = math.atan2(fx * by - fy * bx, fx * bx + fy * by)
    out[0] = 1.0 if cross > 0.0 else -1.0
    out[1] = h
    out[2] = min(ta, tb)
    out[3] = max(ta, tb)
    return True


@njit(cache=True)
def sector_total(  # pragma: no cover - compiled
    x: np.ndarray, y: np.ndarray, b: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Angle of the window seen from each point: 2π inside, less on the boundary."""
    n = x.shape[0]
    out = np.full(n, TWO_PI)
    geo = np.empty(4)
    for i in range(n):
        if b[i] > 0.0:
            continue
        total = 0.0
        for e in range(edges.shape[0]):
            if _edge_geometry(x[i], y[i], edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3], geo):
                total += geo[0] * (geo[3] - geo[2])
        out[i] = total
    return out


@njit(cache=True)
def scan_pairs(  # pragma: no cover - compiled
    x: np.ndarray,
    y: np.ndarray,
    b: np.ndarray,
    total: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
    estart: np.ndarray,
    eidx: np.ndarray,
    edges: np.ndarray,
    breaks: np.ndarray,
    rmax: float,
    mode: int,
    capacity: int,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    int,
]:
    """Scan every ordered pair closer than `rmax`.

    Returns ``(raw, iso, nco, ncc, i, j, d, w, count)``. mode 0 fills the
    histograms binned on `breaks`: all pairs, pairs weighted by the
    isotropic weight, and pairs with d <= b_i binned by d (``nco``) and by
    b_i (``ncc``). mode 1 instead writes up to `capacity` pairs
    ``(i, j, d, w_iso)``; `count` is the number of pairs found (more than
    `capacity` means call again with a larger one).
    """
    n = x.shape[0]
    nbin = breaks.shape[0] - 1
    raw = np.zeros(nbin)
    iso = np.zeros(nbin)
    nco = np.zeros(nbin)
    ncc = np.zeros(nbin)
    cap = capacity if mode == 1 else 0
    pi_ = np.empty(cap, dtype=np.int64)
    pj = np.empty(cap, dtype=np.int64)
    pd = np.empty(cap)
    pw = np.empty(cap)
    maxe = 0
    for c in range(estart.shape[0] - 1):
        maxe = max(maxe, estart[c + 1] - estart[c])
    esg = np.empty(maxe)
    eh = np.empty(maxe)
    elo = np.empty(maxe)
    ehi = np.empty(maxe)
    edist = np.empty(maxe)
    efar = np.empty(maxe)
    geo = np.empty(4)
    reach = math.ceil(rmax / cs) if cs > 0 else 1
    r2 = rmax * rmax
    count = 0
    for i in range(n):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        ne = 0
        if b[i] < rmax:
            c = cx * ncy + cy
            for k in range(estart[c], estart[c + 1]):
                e = eidx[k]
                dist = _segment_distance(
                    x[i], y[i], edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3]
                )
                if dist >= rmax:
                    continue
                if _edge_geometry(
                    x[i], y[i], edges[e, 0], edges[e, 1], edges[e, 2], edges[e, 3], geo
                ):
                    # insert, keeping the edges sorted by distance from i
                    far = max(
                        math.hypot(edges[e, 0] - x[i], edges[e, 1] - y[i]),
                        math.hypot(edges[e, 2] - x[i], edges[e, 3] - y[i]),
                    )
                    m = ne
                    while m > 0 and edist[m - 1] > dist:
                        esg[m] = esg[m - 1]
                        eh[m] = eh[m - 1]
                        elo[m] = elo[m - 1]
                        ehi[m] = ehi[m - 1]
                        edist[m] = edist[m - 1]
                        efar[m] = efar[m - 1]
                        m -= 1
                    esg[m] = geo[0]
                    eh[m] = geo[1]
                    elo[m] = geo[2]
                    ehi[m] = geo[3]
                    edist[m] = dist
                    efar[m] = far
                    ne += 1
        kb = _bin(breaks, b[i])
        for gx in range(max(cx - reach, 0), min(cx + reach, ncx - 1) + 1):
            for gy in range(max(cy - reach, 0), min(cy + reach, ncy - 1) + 1):
                c2 = gx * ncy + gy
                for k in range(start[c2], start[c2 + 1]):
                    j = order[k]
                    if j == i:
                        continue
                    d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
                    if d2 > r2:
                        continue
                    d = math.sqrt(d2)
                    w = 1.0
                    if d > b[i]:
                        outside = 0.0
                        for m in range(ne):
                            if edist[m] >= d:
                                break
                            if d >= efar[m]:  # the circle encloses the whole edge
                                outside += esg[m] * (ehi[m] - elo[m])
                                continue
                            alpha = math.acos(min(eh[m] / d, 1.0))
                            lo = max(elo[m], -alpha)
                            hi = min(ehi[m], alpha)
                            if hi > lo:
                                outside += esg[m] * (hi - lo)
                        inside = total[i] - outside
                        w = TWO_PI / inside if inside > TWO_PI / MAX_WEIGHT else MAX_WEIGHT
                        w = min(max(w, 1.0), MAX_WEIGHT)
                    if mode == 1:
                        if count < cap:
                            pi_[count] = i
                            pj[count] = j
                            pd[count] = d
                            pw[count] = w
                        count += 1
                        continue
                    kd = _bin(breaks, d)
                    if kd >= 0:
                        raw[kd] += 1.0
                        iso[kd] += w
                        if d <= b[i]:
                            nco[kd] += 1.0
                            if kb >= 0:
                                ncc[kb] += 1.0
    return raw, iso, nco, ncc, pi_, pj, pd, pw, count
