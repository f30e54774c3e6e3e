"""The bandwidth search's leave-one-out sums of a small study in NumPy.

`geo_stunting.scan._bandwidth` sums the Gaussian kernel terms of the pairs
within each point's limits in compiled code (about 2 CPU s to compile on a
first run). For a few hundred points every pair fits in one matrix: the same
terms, kept by the same limits, are summed here in NumPy. The sums differ
from the compiled ones only by rounding (they add the same terms in another
order, as the compiled sums already do with another thread count), so the
criterion agrees to about 1e-15 relative and the chosen bandwidth is the
same; `tests/test_relative_risk_small.py` checks both.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SMALL_BANDWIDTH_POINTS", "loo_sums_dense"]

#: Up to this many points the leave-one-out sums are computed here.
SMALL_BANDWIDTH_POINTS = 500


def loo_sums_dense(
    xy: np.ndarray,
    types: np.ndarray,
    inv: np.ndarray,
    lim_all: np.ndarray,
    lim_same: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out kernel sums at each point: all points, and those of its own type.

    Parameters
    ----------
    xy, types
        ``(n, 2)`` points and their type (0 or 1).
    inv
        ``1 / (2 h²)`` for each bandwidth ``h``.
    lim_all, lim_same
        ``(n, bandwidths)``: the largest squared distance whose term enters
        a point's sum over all points (over its own type).

    Returns
    -------
    total, same
        ``(n, bandwidths)`` sums of ``exp(-d² / (2 h²))`` over the other
        points within the limits.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> big = np.full((3, 1), 10.0)
    >>> total, same = loo_sums_dense(xy, np.array([0, 0, 1]), np.array([0.5]), big, big)
    >>> [round(float(v), 4) for v in total[:, 0]], same[:, 0].tolist()
    ([0.7419, 0.6886, 0.2174], [0.6065306597126334, 0.6065306597126334, 0.0])
    """
    dx = xy[None, :, 0] - xy[:, None, 0]
    dy = xy[None, :, 1] - xy[:, None, 1]
    d2 = dx * dx + dy * dy
    other = ~np.eye(len(xy), dtype=bool)
    same_type = (types[:, None] == types[None, :]) & other
    total = np.zeros(lim_all.shape)
    same = np.zeros(lim_all.shape)
    for k in range(inv.size):
        w = np.exp(-d2 * inv[k])
        total[:, k] = np.where(other & (d2 <= lim_all[:, k, None]), w, 0.0).sum(axis=1)
        same[:, k] = np.where(same_type & (d2 <= lim_same[:, k, None]), w, 0.0).sum(axis=1)
    return total, same
