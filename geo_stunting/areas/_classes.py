"""Choropleth classes: mapclassify's quantiles and equal intervals, in NumPy.

mapclassify compiles its Fisher–Jenks kernel with numba when it is imported
(an explicit signature, not cached): 1–3 s of every run that classifies a map,
even with the quantiles. These two classifications are a few lines each, so
they are done here, value for value as mapclassify does them
(``mapclassify.Quantiles``, ``mapclassify.EqualInterval``: the same bounds,
classes and counts; checked against mapclassify in the tests), and
mapclassify is imported only for Fisher–Jenks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["bin_values", "equal_interval_bins", "quantile_bins"]


def quantile_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of `k` quantile classes; tied bounds are merged (fewer classes).

    >>> quantile_bins(np.arange(1000.0), 4).tolist()
    [249.75, 499.5, 749.25, 999.0]
    """
    width = 100.0 / k
    percents = np.arange(width, 100 + width, width)
    percents[-1] = min(percents[-1], 100.0)
    return np.unique(np.array([stats.scoreatpercentile(values, p) for p in percents]))


def equal_interval_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of `k` classes of equal width from the minimum to the maximum.

    >>> equal_interval_bins(np.array([0.0, 1, 2, 3, 4]), 2).tolist()
    [2.0, 4.0]
    """
    high, low = max(values), min(values)
    if low == high:
        msg = f"Not enough unique values in array to form {k} classes. All values are equal."
        raise ValueError(msg)
    width = (high - low) * 1.0 / k
    cuts = np.arange(low + width, high + width, width)
    if len(cuts) > k:  # floating-point overshoot
        cuts = cuts[0:k]
    cuts[-1] = high
    return cuts.copy()


def bin_values(values: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The class of each value (``bins[j-1] < v <= bins[j]``) and the count per class.

    >>> ids, counts = bin_values(np.array([1.0, 2, 3]), np.array([1.5, 3.0]))
    >>> ids.tolist(), counts.tolist()
    ([0, 1, 1], [1, 2])
    """
    bounds: list[Any] = [-float("inf"), *bins[0:-1]]
    cuts = list(zip(bounds, bins, strict=True))
    k = len(bins)
    ids = np.zeros(values.shape, dtype="int")
    while cuts:
        k -= 1
        low, high = cuts.pop(-1)
        ids += (values > low) * (values <= high) * k
    return ids, np.bincount(ids, minlength=len(bins))
