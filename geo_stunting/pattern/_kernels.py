"""Compiled loops behind the point-pattern statistics (numba).

Kernels, each a plain loop over a uniform grid of cells:

`nn_distances`
    The distance from each point to its nearest other point.
`scan_pairs`
    Every ordered pair ``(i, j)`` closer than ``rmax``, either binned into
    histograms on the fly (K function of one pattern: memory stays O(n)) or
    written out (pairs reused under random labelling), with Ripley's
    isotropic edge weight of each pair.
`border_counts`
    The pair counts of the border correction alone.

(The distance from each point to the boundary is in
`geo_stunting.pattern._boundary`.)

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

__all__ = ["border_counts", "nn_distances", "scan_pairs", "sector_total"]

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


@njit(cache=True, nogil=True)
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
                ne,
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


#: Bins of a distance found by arithmetic only when it lies at least this share of a bin
#: from both of its breaks (the rest, a few in a million, are found in the breaks).
_CLEAR_OF_BREAKS = 1e-6
#: Breaks count as evenly spaced when each lies within this share of a bin of its place.
_EVEN_BREAKS = 1e-9


@njit(cache=True)
def _evenly_spaced(breaks: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Whether every break lies within `_EVEN_BREAKS` of a bin of ``b0 + k · step``."""
    nbin = breaks.shape[0] - 1
    b0 = breaks[0]
    inv = nbin / (breaks[nbin] - b0)
    for k in range(nbin + 1):  # noqa: SIM110 - a loop, not a generator, in numba
        if abs((breaks[k] - b0) * inv - k) > _EVEN_BREAKS:
            return False
    return True


@njit(cache=True, nogil=True)
def border_counts(  # pragma: no cover - compiled
    x: np.ndarray,
    y: np.ndarray,
    b: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
    breaks: np.ndarray,
    rmax: float,
    first: int,
    last: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The border correction's counts alone: ``nco`` and ``ncc`` of `scan_pairs`.

    Only pairs with ``d <= b_i`` count, so each point searches only as far as
    its own distance to the boundary (at most `rmax`), not rmax. Counts the
    pairs of the points ``first … last - 1`` (with every other point).

    With evenly spaced breaks (`_evenly_spaced`, the r grid of the pattern
    step) and the points stored in cell order (`order` the identity), each
    run of candidates is binned in two passes: the first, without branches
    (so the compiler can vectorise it), computes each distance's bin by
    arithmetic, or marks it when it lies within `_CLEAR_OF_BREAKS` of a bin
    of a break, where rounding could matter; the second counts, and bins the
    marked ones against the breaks themselves. The arithmetic bin of an
    unmarked distance is its bin to the last bit (the rounding of ``(d -
    b0) / step`` is below 1e-12 of a bin, and the breaks lie within
    `_EVEN_BREAKS` of theirs), and the counts are whole numbers, so they are
    the same as from the plain loop.
    """
    nbin = breaks.shape[0] - 1
    nco = np.zeros(nbin)
    ncc = np.zeros(nbin)
    b0 = breaks[0]
    inv = nbin / (breaks[nbin] - b0)
    identity = True
    for k in range(order.shape[0]):
        if order[k] != k:
            identity = False
            break
    if identity and _evenly_spaced(breaks):
        _border_counts_even(
            x, y, b, start, ox, oy, cs, ncx, ncy, breaks, rmax, first, last, nco, ncc
        )
        return nco, ncc
    for i in range(first, last):
        radius = min(b[i], rmax)
        if radius < 0.0:
            continue
        r2 = radius * radius
        kb = _bin(breaks, b[i])
        xi = x[i]
        yi = y[i]
        cx = min(max(int((xi - ox) / cs), 0), ncx - 1)
        reach = math.ceil(radius / cs)
        found = 0
        for gx in range(max(cx - reach, 0), min(cx + reach, ncx - 1) + 1):
            # only the rows of this column that the circle reaches
            dx = max(ox + gx * cs - xi, xi - (ox + (gx + 1) * cs), 0.0)
            if dx > radius:
                continue
            half = math.sqrt(r2 - dx * dx)
            gy0 = min(max(int((yi - half - oy) / cs), 0), ncy - 1)
            gy1 = min(max(int((yi + half - oy) / cs), 0), ncy - 1)
            # the cells gy0 … gy1 of column gx are consecutive: one range of points
            for k in range(start[gx * ncy + gy0], start[gx * ncy + gy1 + 1]):
                j = order[k]
                if j == i:
                    continue
                d2 = (x[j] - xi) ** 2 + (y[j] - yi) ** 2
                if d2 > r2:
                    continue
                d = math.sqrt(d2)
                # the bin as if the breaks were even, checked against the breaks
                kd = int((d - b0) * inv)
                if kd < 0 or kd >= nbin or not breaks[kd] <= d < breaks[kd + 1]:
                    kd = _bin(breaks, d)
                if kd >= 0:
                    nco[kd] += 1.0
                    found += 1
        if kb >= 0:
            ncc[kb] += found
    return nco, ncc


@njit(cache=True, nogil=True)
def _border_counts_even(  # pragma: no cover - compiled
    x: np.ndarray,
    y: np.ndarray,
    b: np.ndarray,
    start: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
    breaks: np.ndarray,
    rmax: float,
    first: int,
    last: int,
    nco: np.ndarray,
    ncc: np.ndarray,
) -> None:
    """`border_counts` of points in cell order on evenly spaced breaks, in two passes a run."""
    nbin = breaks.shape[0] - 1
    b0 = breaks[0]
    inv = nbin / (breaks[nbin] - b0)
    counts = np.zeros(nbin + 1, dtype=np.int64)  # the last: candidates farther than the radius
    bins = np.empty(x.shape[0], dtype=np.int64)
    for i in range(first, last):
        radius = min(b[i], rmax)
        if radius < 0.0:
            continue
        r2 = radius * radius
        kb = _bin(breaks, b[i])
        xi = x[i]
        yi = y[i]
        cx = min(max(int((xi - ox) / cs), 0), ncx - 1)
        reach = math.ceil(radius / cs)
        found = 0
        for gx in range(max(cx - reach, 0), min(cx + reach, ncx - 1) + 1):
            dx = max(ox + gx * cs - xi, xi - (ox + (gx + 1) * cs), 0.0)
            if dx > radius:
                continue
            half = math.sqrt(r2 - dx * dx)
            gy0 = min(max(int((yi - half - oy) / cs), 0), ncy - 1)
            gy1 = min(max(int((yi + half - oy) / cs), 0), ncy - 1)
            lo = start[gx * ncy + gy0]
            m = start[gx * ncy + gy1 + 1] - lo
            for t in range(m):  # no branches: the bin, -1 near a break, nbin beyond the radius
                d2 = (x[lo + t] - xi) ** 2 + (y[lo + t] - yi) ** 2
                u = (math.sqrt(d2) - b0) * inv
                kd = np.int64(u)
                part = u - kd
                kd = -1 if (part < _CLEAR_OF_BREAKS) | (part > 1.0 - _CLEAR_OF_BREAKS) else kd
                bins[t] = nbin if d2 > r2 else kd
            for t in range(m):
                kd = bins[t]
                if kd < 0:  # near a break (or the point itself, at distance 0)
                    if lo + t == i:
                        continue
                    kd = _bin(breaks, math.sqrt((x[lo + t] - xi) ** 2 + (y[lo + t] - yi) ** 2))
                counts[kd] += 1
                found += kd < nbin
        if kb >= 0:
            ncc[kb] += found
    for k in range(nbin):
        nco[k] += counts[k]
