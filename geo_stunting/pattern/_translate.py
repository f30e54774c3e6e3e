"""The translation-corrected K of one pattern alone, from the window's set covariance.

Ripley's isotropic weight of a pair needs the arcs of a circle cut by every
boundary edge near the point (tens of microseconds per point on a detailed
window); the translation weight ``area(W) / C(v)`` is one bilinear look-up in
the window's set covariance table (`geo_stunting.pattern._setcov`). This is
the pass `geo_stunting.pattern._pairs.k_estimates` makes when only the
translation correction is asked for: the CSR envelope of L for groups of
more than `geo_stunting.pattern._step.NLARGE_ISOTROPIC` points.

The pairs are visited in the same order as the full scan
(`geo_stunting.pattern._kernels.scan_pairs`), so the values are identical to
the ``"translate"`` column of a scan with every correction.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from geo_stunting.pattern._kernels import _bin, _translation_weight

__all__ = ["translation_counts"]


@njit(cache=True, nogil=True)
def translation_counts(  # pragma: no cover - compiled
    x: np.ndarray,
    y: np.ndarray,
    start: np.ndarray,
    ox: float,
    oy: float,
    cs: float,
    ncx: int,
    ncy: int,
    breaks: np.ndarray,
    rmax: float,
    setcov: np.ndarray,
    setcov_pixel: float,
    setcov_reach: int,
    area: float,
) -> np.ndarray:
    """Pairs closer than `rmax`, weighted by their translation weight, binned on `breaks`.

    The points must be sorted by cell (``start`` as `PointGrid.sort` gives
    it, for the sorted points).
    """
    n = x.shape[0]
    nbin = breaks.shape[0] - 1
    trans = np.zeros(nbin)
    b0 = breaks[0]
    inv = nbin / (breaks[nbin] - b0)
    last = setcov.shape[0] - 2
    reach = math.ceil(rmax / cs) if cs > 0 else 1
    r2 = rmax * rmax
    for i in range(n):
        cx = min(max(int((x[i] - ox) / cs), 0), ncx - 1)
        cy = min(max(int((y[i] - oy) / cs), 0), ncy - 1)
        gy0 = max(cy - reach, 0)
        gy1 = min(cy + reach, ncy - 1)
        for gx in range(max(cx - reach, 0), min(cx + reach, ncx - 1) + 1):
            for j in range(start[gx * ncy + gy0], start[gx * ncy + gy1 + 1]):
                if j == i:
                    continue
                dx = x[j] - x[i]
                dy = y[j] - y[i]
                d2 = dx * dx + dy * dy
                if d2 > r2:
                    continue
                d = math.sqrt(d2)
                kd = int((d - b0) * inv)  # as if the breaks were even, then checked
                if kd < 0 or kd >= nbin or not breaks[kd] <= d < breaks[kd + 1]:
                    kd = _bin(breaks, d)
                if kd >= 0:
                    trans[kd] += _translation_weight(
                        dx, dy, setcov, setcov_pixel, setcov_reach, last, area
                    )
    return trans
