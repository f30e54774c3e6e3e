"""The border correction's pair counts, compiled (numba): every CSR simulation beyond 3,000 points.

`border_counts` counts, for each point, its neighbours closer than its own
distance to the boundary, binned by distance (spatstat's ``Kount``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from geo_stunting.pattern._kernels import _bin

__all__ = ["border_counts"]

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
                whole = int(u)
                part = u - whole
                near = (part < _CLEAR_OF_BREAKS) | (part > 1.0 - _CLEAR_OF_BREAKS)
                bins[t] = nbin if d2 > r2 else (-1 if near else whole)
            for t in range(m):
                kd = int(bins[t])
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
