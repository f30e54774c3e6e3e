"""The window's set covariance, for the translation-corrected K of large patterns.

The translation weight of a pair with vector v is ``area(W) / C(v)`` where
``C(v) = area(W ∩ (W + v))`` is the *set covariance* of the window. Exactly,
each C(v) is one polygon intersection (about 2 ms for the 1,600-edge union
of Ogan Ilir's 241 villages), and a district pattern has hundreds of
thousands of distinct pair vectors. spatstat instead tabulates C once, by
FFT of a pixel mask of the window (``setcov``), and reads each weight off the
table. We do the same, with two refinements that make the table far more
accurate than a 0/1 mask of the same size:

* the mask holds the **exact fraction of each pixel covered** by the window
  (an anti-aliasing rasteriser: every boundary edge deposits its signed area
  into the cells it crosses, and a running sum along each row gives the
  coverage), so ``p² Σ f(x) f(x + k)`` is the set covariance of the window
  blurred within one pixel, not of a staircase;
* the pixel is small (``≤ TABLE_CELLS`` cells in the padded grid, at most
  `MAX_PIXEL_FRACTION` of rmax), and C between lattice points is bilinear.

Accuracy: ``TRANSLATION_RTOL`` (0.5 %) is the stated bound on the relative
error of each weight; `tests/test_setcov.py` checks it against exact polygon
intersections on complex windows (a star with a hole, the demo villages). In
practice the error is about 0.05 %. When exact weights are cheap (few
distinct vectors × few edges) `geo_stunting.pattern._pairs` computes them
exactly instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
import shapely
from numba import njit
from shapely.geometry.base import BaseGeometry

from geo_stunting.pattern import _small
from geo_stunting.pattern._window import StudyWindow

__all__ = ["TRANSLATION_RTOL", "SetCovariance", "coverage_raster", "set_covariance"]

#: Stated bound on the relative error of a tabulated translation weight.
TRANSLATION_RTOL = 0.005
#: Most cells of the padded FFT grid (about 90 MB of complex values at most).
TABLE_CELLS = 4_000_000
#: The pixel is at most this fraction of rmax.
MAX_PIXEL_FRACTION = 1 / 64


@njit(cache=True)
def _accumulate(  # pragma: no cover - compiled
    edges: np.ndarray, ox: float, oy: float, pixel: float, nx: int, ny: int
) -> np.ndarray:
    """Signed area deposits of every edge; a running sum along x gives the coverage."""
    acc = np.zeros((ny, nx + 2))
    for e in range(edges.shape[0]):
        x0 = (edges[e, 0] - ox) / pixel
        y0 = (edges[e, 1] - oy) / pixel
        x1 = (edges[e, 2] - ox) / pixel
        y1 = (edges[e, 3] - oy) / pixel
        if y0 == y1:
            continue
        direction = 1.0
        if y0 > y1:
            direction = -1.0
            x0, x1 = x1, x0
            y0, y1 = y1, y0
        dxdy = (x1 - x0) / (y1 - y0)
        x = x0
        row = math.floor(y0)
        last = min(math.ceil(y1), ny)
        while row < last:
            dy = min(row + 1.0, y1) - max(float(row), y0)
            xnext = x + dxdy * dy
            d = dy * direction
            lo = min(x, xnext)
            hi = max(x, xnext)
            lo_floor = math.floor(lo)
            i0 = int(lo_floor)
            hi_ceil = math.ceil(hi)
            i1 = int(hi_ceil)
            if i1 <= i0 + 1:
                xmf = 0.5 * (x + xnext) - lo_floor
                acc[row, i0] += d - d * xmf
                acc[row, i0 + 1] += d * xmf
            else:
                s = 1.0 / (hi - lo)
                x0f = lo - lo_floor
                a0 = 0.5 * s * (1.0 - x0f) * (1.0 - x0f)
                x1f = hi - hi_ceil + 1.0
                am = 0.5 * s * x1f * x1f
                acc[row, i0] += d * a0
                if i1 == i0 + 2:
                    acc[row, i0 + 1] += d * (1.0 - a0 - am)
                else:
                    a1 = s * (1.5 - x0f)
                    acc[row, i0 + 1] += d * (a1 - a0)
                    for xi in range(i0 + 2, i1 - 1):
                        acc[row, xi] += d * s
                    a2 = a1 + (i1 - i0 - 3) * s
                    acc[row, i1 - 1] += d * (1.0 - a2 - am)
                acc[row, i1] += d * am
            x = xnext
            row += 1
    return acc


def coverage_raster(
    edges: np.ndarray, *, origin: tuple[float, float], pixel: float, shape: tuple[int, int]
) -> np.ndarray:
    """Fraction of each pixel inside the polygon bounded by `edges` (rows = y, columns = x).

    `edges` are directed segments ``x0, y0, x1, y1`` with the interior on
    their left (`StudyWindow.edges`); the pixels of row i, column j span
    ``origin + (j, i) · pixel`` to one pixel further. The polygon must lie
    inside the grid.
    """
    ny, nx = shape
    edges = np.ascontiguousarray(edges, dtype=float)
    small = _small.raster_steps(edges, origin[1], pixel, ny) <= _small.SMALL_RASTER_STEPS
    # few steps: numba's own Python function, so a first run compiles nothing
    acc = (_accumulate.py_func if small else _accumulate)(
        edges, origin[0], origin[1], pixel, nx, ny
    )
    coverage: np.ndarray = np.clip(np.abs(np.cumsum(acc, axis=1)[:, :nx]), 0.0, 1.0)
    return coverage


@dataclass(frozen=True)
class SetCovariance:
    """``C(v) = area(W ∩ (W + v))`` tabulated on a lattice of vectors ``|vx|, |vy| <= reach``.

    ``table[i, j]`` is C at ``(-reach_px + i, -reach_px + j) · pixel`` (x first).
    """

    table: np.ndarray
    pixel: float
    reach_px: int
    area_m2: float

    def __call__(self, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """C at vectors ``(dx, dy)`` by bilinear interpolation."""
        fx = np.asarray(dx, dtype=float) / self.pixel + self.reach_px
        fy = np.asarray(dy, dtype=float) / self.pixel + self.reach_px
        last = self.table.shape[0] - 2
        ix = np.clip(np.floor(fx).astype(np.int64), 0, last)
        iy = np.clip(np.floor(fy).astype(np.int64), 0, last)
        tx = np.clip(fx - ix, 0.0, 1.0)
        ty = np.clip(fy - iy, 0.0, 1.0)
        t = self.table
        return np.asarray(
            (1 - tx) * (1 - ty) * t[ix, iy]
            + tx * (1 - ty) * t[ix + 1, iy]
            + (1 - tx) * ty * t[ix, iy + 1]
            + tx * ty * t[ix + 1, iy + 1]
        )


def set_covariance(window: StudyWindow, reach_m: float) -> SetCovariance:
    """The window's set covariance for vectors up to `reach_m` in x and y (cached)."""
    return _cached(window.geometry.wkb, window.area_m2, float(reach_m))


@lru_cache(maxsize=8)
def _cached(wkb: bytes, area_m2: float, reach_m: float) -> SetCovariance:
    geometry = shapely.from_wkb(wkb)
    window_edges = _edges(geometry)
    minx, miny, maxx, maxy = geometry.bounds
    width, height = maxx - minx, maxy - miny
    # the largest pixel that keeps the padded grid within TABLE_CELLS
    pixel = max(
        math.sqrt((width + reach_m) * (height + reach_m) / TABLE_CELLS),
        1e-9,
    )
    pixel = min(pixel, max(reach_m * MAX_PIXEL_FRACTION, 1e-9))
    while (width + reach_m) * (height + reach_m) / pixel**2 > 4 * TABLE_CELLS:
        pixel *= 1.25  # reach tiny against the window: fall back to a coarser grid
    reach_px = math.ceil(reach_m / pixel) + 1
    nx = math.ceil(width / pixel) + 2
    ny = math.ceil(height / pixel) + 2
    origin = (minx - pixel / 2, miny - pixel / 2)
    f = coverage_raster(window_edges, origin=origin, pixel=pixel, shape=(ny, nx))
    fy = scipy.fft.next_fast_len(ny + reach_px + 1, real=True)
    fx = scipy.fft.next_fast_len(nx + reach_px + 1, real=True)
    spectrum = scipy.fft.rfft2(f, s=(fy, fx))
    corr = scipy.fft.irfft2(spectrum * np.conj(spectrum), s=(fy, fx)) * pixel**2
    lags_y = np.r_[fy - reach_px : fy, 0 : reach_px + 1]
    lags_x = np.r_[fx - reach_px : fx, 0 : reach_px + 1]
    # corr[a, b] = Σ f(y, x) f(y + a, x + b): C at (b, a) · pixel; store x first
    table = np.ascontiguousarray(corr[np.ix_(lags_y, lags_x)].T)
    return SetCovariance(
        table=np.maximum(table, 0.0), pixel=pixel, reach_px=reach_px, area_m2=area_m2
    )


def _edges(geometry: BaseGeometry) -> np.ndarray:
    parts = []
    for polygon in shapely.get_parts(geometry):
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords, dtype=float)
            parts.append(np.column_stack([xy[:-1], xy[1:]]))
    return np.concatenate(parts)
