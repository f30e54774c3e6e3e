"""The bandwidth of a kernel relative risk, chosen as spatstat's ``bw.relrisk``.

32 bandwidths spaced geometrically between spatstat's ``hmin`` and ``hmax``
(derived from the window's area and diameter and the numbers of points),
each scored by minus the mean log leave-one-out probability of each point's
own type (``bw.relrisk(method = "likelihood")``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo_stunting.scan._serial import SERIAL_BELOW, serial_twin

__all__ = ["N_BANDWIDTHS", "BandwidthChoice", "bandwidth_relrisk"]

#: spatstat.options("n.bandwidth"): bandwidths tried by cross-validation.
N_BANDWIDTHS = 32


def _bounds(geometry: shapely.Geometry) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    return xmin, ymin, xmax, ymax


@dataclass(frozen=True)
class BandwidthChoice:
    """A bandwidth chosen by likelihood cross-validation (spatstat's ``bw.relrisk``).

    Attributes
    ----------
    bandwidth_m
        The bandwidth with the smallest criterion.
    candidates_m
        The bandwidths tried.
    criterion
        Minus the mean log leave-one-out probability of each point's type.
    """

    bandwidth_m: float
    candidates_m: np.ndarray = field(repr=False, compare=False)
    criterion: np.ndarray = field(repr=False, compare=False)

    @property
    def at_edge(self) -> bool:
        """Whether the best bandwidth is the smallest or largest tried."""
        best = int(np.nanargmin(self.criterion))
        return best in (0, len(self.criterion) - 1)


def bandwidth_relrisk(
    x: np.ndarray, y: np.ndarray, is_case: np.ndarray, *, window: shapely.Geometry
) -> BandwidthChoice:
    """Likelihood cross-validation of the bandwidth, as spatstat's ``bw.relrisk``.

    Parameters
    ----------
    x, y, is_case
        The points and their type.
    window
        The study window: its area and bounding box set the search range.

    Returns
    -------
    BandwidthChoice
        The chosen bandwidth, the candidates and their criterion.
    """
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    types = np.asarray(is_case, dtype=bool).astype(np.int64)
    counts = np.bincount(types, minlength=2)
    area = float(shapely.area(window))
    xmin, ymin, xmax, ymax = _bounds(window)
    diameter = math.hypot(xmax - xmin, ymax - ymin)
    stoyan_low = 0.15 / math.sqrt(max(1, counts.max()) / area)
    stoyan_high = 0.15 / math.sqrt(max(1, counts.min()) / area)
    marked = np.unique(np.column_stack([xy, types]), axis=0)
    hmin = max(_min_nn_distance(marked[:, :2]), stoyan_low / 5)
    hmax = max(min(diameter / 4, stoyan_high * 20), 2 * hmin)
    h = np.exp(np.linspace(math.log(hmin), math.log(hmax), N_BANDWIDTHS))
    h[0], h[-1] = hmin, hmax
    # density.ppp(at = "points") cuts the kernel at max(8 sigma, 2 * max nn distance)
    cut_all = np.maximum(8 * h, 2 * _max_nn_distance(xy))
    cut_type = np.vstack([np.maximum(8 * h, 2 * _max_nn_distance(xy[types == t])) for t in (0, 1)])
    kernel = _loo_sums if len(xy) >= SERIAL_BELOW else _loo_sums_serial  # compiles faster
    total, same = kernel(xy, types, h, cut_all, cut_type)
    with np.errstate(divide="ignore", invalid="ignore"):
        criterion = -np.mean(np.log(same / total), axis=0)
    criterion[np.isnan(criterion)] = np.inf
    best = int(np.argmin(criterion))
    return BandwidthChoice(float(h[best]), h, criterion)


def _min_nn_distance(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(d[:, 1].min())


def _max_nn_distance(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(d[:, 1].max())


@numba.njit(cache=True, parallel=True)
def _loo_sums(
    xy: np.ndarray, types: np.ndarray, h: np.ndarray, cut_all: np.ndarray, cut_type: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Leave-one-out Gaussian kernel sums at each point: all points, same type."""
    n = xy.shape[0]
    nh = h.size
    total = np.zeros((n, nh))
    same = np.zeros((n, nh))
    inv = 1.0 / (2.0 * h * h)
    cut_all2 = cut_all * cut_all
    cut_type2 = cut_type * cut_type
    for i in numba.prange(n):
        ti = types[i]
        for j in range(n):
            if j == i:
                continue
            dx = xy[j, 0] - xy[i, 0]
            dy = xy[j, 1] - xy[i, 1]
            d2 = dx * dx + dy * dy
            for k in range(nh):
                w = math.exp(-d2 * inv[k])
                if d2 <= cut_all2[k]:
                    total[i, k] += w
                if types[j] == ti and d2 <= cut_type2[ti, k]:
                    same[i, k] += w
    return total, same


_loo_sums_serial = serial_twin(_loo_sums)
