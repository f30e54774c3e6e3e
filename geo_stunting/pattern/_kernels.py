"""Compiled loops behind the point-pattern statistics (numba).

Kernels, each a plain loop over a uniform grid of cells:

`scan_pairs`
    Every ordered pair ``(i, j)`` closer than ``rmax``, either binned into
    histograms on the fly (K function of one pattern: memory stays O(n)) or
    written out (pairs reused under random labelling), with Ripley's
    isotropic edge weight of each pair.
(The pair counts of the border correction alone are in
`geo_stunting.pattern._border_counts`, nearest neighbours in
`geo_stunting.pattern._nearest`, the distance from each point to the boundary
in `geo_stunting.pattern._boundary`.)

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

__all__ = ["scan_pairs", "sector_total"]

MAX_WEIGHT = 100.0
#: Added to a pair's bin in the compact pair rows when its weight is stored (d > b_i).
WEIGHT_FLAG = 1 << 15
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


@njit(cache=True, nogil=True)
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
def _isotropic_sweep(  # pragma: no cover - compiled
    nbd: np.ndarray,
    nbw: np.ndarray,
    bi: float,
    total: float,
    esg: np.ndarray,
    eh: np.ndarray,
    elo: np.ndarray,
    ehi: np.ndarray,
    edist: np.ndarray,
    efar: np.ndarray,
    ne: int,
    active: np.ndarray,
) -> None:
    """Ripley's isotropic weight of every neighbour farther than the boundary.

    Neighbours are taken in order of distance d. An edge starts to cut the
    circle when d passes its nearest point (`edist`) and lies wholly inside
    the circle once d reaches its farthest point (`efar`); from then on its
    whole sector is outside the window. So the edges whose arc must be
    computed at d are only those "active" between the two: a handful, where
    looping over every edge within rmax of a point on a detailed boundary
    costs hundreds.
    """
    by_d = np.argsort(nbd)
    by_near = np.argsort(edist[:ne])
    full = 0.0
    na = 0
    pa = 0
    for q in range(nbd.shape[0]):
        k = by_d[q]
        d = nbd[k]
        if d <= bi:
            continue
        while pa < ne and edist[by_near[pa]] < d:
            e = by_near[pa]
            active[na] = e
            na += 1
            pa += 1
        outside = 0.0
        keep = 0
        for a in range(na):
            e = active[a]
            if d >= efar[e]:  # the circle now encloses the whole edge, for good
                full += esg[e] * (ehi[e] - elo[e])
                continue
            active[keep] = e
            keep += 1
            alpha = math.acos(min(eh[e] / d, 1.0))
            lo = max(elo[e], -alpha)
            hi = min(ehi[e], alpha)
            if hi > lo:
                outside += esg[e] * (hi - lo)
        na = keep
        outside += full
        inside = total - outside
        w = TWO_PI / inside if inside > TWO_PI / MAX_WEIGHT else MAX_WEIGHT
        nbw[k] = min(max(w, 1.0), MAX_WEIGHT)


@njit(cache=True)
def _translation_weight(  # pragma: no cover - compiled
    dx: float, dy: float, table: np.ndarray, pixel: float, reach: int, last: int, area: float
) -> float:
    """``area / C(v)`` with C bilinear in the set covariance table, capped at MAX_WEIGHT."""
    fx = dx / pixel + reach
    fy = dy / pixel + reach
    ix = min(max(math.floor(fx), 0), last)
    iy = min(max(math.floor(fy), 0), last)
    tx = min(max(fx - ix, 0.0), 1.0)
    ty = min(max(fy - iy, 0.0), 1.0)
    c = (
        (1.0 - tx) * (1.0 - ty) * table[ix, iy]
        + tx * (1.0 - ty) * table[ix + 1, iy]
        + (1.0 - tx) * ty * table[ix, iy + 1]
        + tx * ty * table[ix + 1, iy + 1]
    )
    if c * MAX_WEIGHT <= area:
        return MAX_WEIGHT
    return float(area / c)


@njit(cache=True, nogil=True)
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
    setcov: np.ndarray,
    setcov_pixel: float,
    setcov_reach: int,
    area: float,
    out_j: np.ndarray,
    out_cell: np.ndarray,
    out_w: np.ndarray,
    first_point: int,
    end_point: int,
    out_start: int,
    out_wstart: int,
) -> tuple[
    np.ndarray,
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

    Returns ``(raw, iso, nco, ncc, trans, i, j, d, w, count)``. mode 0 fills
    the histograms binned on `breaks`: all pairs, pairs weighted by the
    isotropic weight, and pairs with d <= b_i binned by d (``nco``) and by
    b_i (``ncc``); with a set covariance table (`setcov`, see
    `geo_stunting.pattern._setcov`; an empty array for none) also pairs
    weighted by the translation weight ``area / C(v)`` (``trans``). mode 1
    instead writes up to `capacity` pairs
    ``(i, j, d, w_iso)``; `count` is the number of pairs found (more than
    `capacity` means call again with a larger one). mode 2 writes every pair
    compactly into `out_j` (j), `out_cell` (its bin on `breaks`, plus
    `WEIGHT_FLAG` when ``d > b_i``) and, for the flagged pairs only, `out_w`
    (the isotropic weight; every other pair weighs 1), sized by
    `geo_stunting.pattern._labelled.pair_counts`. Only the points
    ``first_point … end_point - 1`` are scanned (with every other point); mode 2 writes
    their pairs from `out_start` and their weights from `out_wstart`, so
    blocks of points can be scanned in threads.
    """
    n = x.shape[0]
    nbin = breaks.shape[0] - 1
    raw = np.zeros(nbin)
    iso = np.zeros(nbin)
    nco = np.zeros(nbin)
    ncc = np.zeros(nbin)
    trans = np.zeros(nbin)
    b0 = breaks[0]
    inv = nbin / (breaks[nbin] - b0)
    use_setcov = setcov.shape[0] > 1
    last = setcov.shape[0] - 2
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
    active = np.empty(maxe, dtype=np.int64)
    geo = np.empty(4)
    # the neighbours of one point: index, distance, weight
    nbj = np.empty(n, dtype=np.int64)
    nbd = np.empty(n)
    nbw = np.empty(n)
    reach = math.ceil(rmax / cs) if cs > 0 else 1
    r2 = rmax * rmax
    count = out_start
    wcount = out_wstart
    for i in range(first_point, end_point):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        ne = np.int64(0)  # not the literal 0: one compiled _isotropic_sweep, not two
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
                    esg[ne] = geo[0]
                    eh[ne] = geo[1]
                    elo[ne] = geo[2]
                    ehi[ne] = geo[3]
                    edist[ne] = dist
                    efar[ne] = max(
                        math.hypot(edges[e, 0] - x[i], edges[e, 1] - y[i]),
                        math.hypot(edges[e, 2] - x[i], edges[e, 3] - y[i]),
                    )
                    ne += 1
        # every neighbour closer than rmax, in cell order
        nn = 0
        far = 0
        gy0 = max(cy - reach, 0)
        gy1 = min(cy + reach, ncy - 1)
        for gx in range(max(cx - reach, 0), min(cx + reach, ncx - 1) + 1):
            # the cells gy0 … gy1 of column gx are consecutive: one range of points
            for k in range(start[gx * ncy + gy0], start[gx * ncy + gy1 + 1]):
                j = order[k]
                if j == i:
                    continue
                d2 = (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2
                if d2 > r2:
                    continue
                d = math.sqrt(d2)
                nbj[nn] = j
                nbd[nn] = d
                nbw[nn] = 1.0
                if d > b[i]:
                    far += 1
                nn += 1
        if far > 0:
            _isotropic_sweep(
                nbd[:nn],
                nbw[:nn],
                b[i],
                total[i],
                esg,
                eh,
                elo,
                ehi,
                edist,
                efar,
                ne,  # type: ignore[arg-type]  # an int64, on purpose (above)
                active,
            )
        kb = _bin(breaks, b[i])
        for m in range(nn):
            j = nbj[m]
            d = nbd[m]
            w = nbw[m]
            if mode == 1:
                if count < cap:
                    pi_[count] = i
                    pj[count] = j
                    pd[count] = d
                    pw[count] = w
                count += 1
                continue
            kd = int((d - b0) * inv)  # as if the breaks were even, then checked
            if kd < 0 or kd >= nbin or not breaks[kd] <= d < breaks[kd + 1]:
                kd = _bin(breaks, d)
            if mode == 2:
                flag = 0
                if d > b[i]:
                    flag = WEIGHT_FLAG
                    out_w[wcount] = w
                    wcount += 1
                out_j[count] = j
                out_cell[count] = (kd if kd >= 0 else nbin - 1) | flag
                count += 1
                continue
            if kd >= 0:
                raw[kd] += 1.0
                iso[kd] += w
                if d <= b[i]:
                    nco[kd] += 1.0
                    if kb >= 0:
                        ncc[kb] += 1.0
                if use_setcov:
                    trans[kd] += _translation_weight(
                        x[j] - x[i],
                        y[j] - y[i],
                        setcov,
                        setcov_pixel,
                        setcov_reach,
                        last,
                        area,
                    )
    return raw, iso, nco, ncc, trans, pi_, pj, pd, pw, count
