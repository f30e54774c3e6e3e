"""Chi-square (Yates) and Mann–Whitney p-values without importing `scipy.stats`.

`scipy.stats` takes about half a CPU second to import, more than the whole
access step spends on its statistics; the access step needs only these two
asymptotic tests (Fisher's exact test, for small tables, still comes from
`scipy.stats`, imported when it is needed). Each function does the same
floating-point operations in the same order as SciPy 1.17's
``chi2_contingency(correction=True)`` and ``mannwhitneyu(method="asymptotic")``,
so the results are the same bit for bit (``tests/test_stats_asymptotic.py``
compares them on random tables and samples with ties); R agreement is in
``tests/reference/access/``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

__all__ = ["Z975", "chi2_yates", "mann_whitney_asymptotic"]

#: The 97.5 % standard normal quantile (``scipy.stats.norm.ppf(0.975)``).
Z975 = float(special.ndtri(0.975))


def chi2_yates(counts: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Pearson's chi-square of a 2×2 table with Yates' correction, and its p-value.

    Parameters
    ----------
    counts
        A 2×2 table of counts with no zero margin.

    Returns
    -------
    statistic, p_value
        As R's ``chisq.test(x, correct = TRUE)``; the p-value is the
        upper tail of chi-square with 1 degree of freedom.

    Examples
    --------
    >>> chi2_yates(np.array([[12, 5], [3, 9]]))  # R: X-squared = 4.1715, p-value = 0.04111
    (4.171457749766574, 0.04111041419430694)
    """
    observed = np.asarray(counts)
    total = observed.sum()
    expected = (observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True)) / total
    diff = expected - observed
    observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    terms = (observed.astype(np.float64) - expected) ** 2 / expected
    statistic = terms.sum(axis=None)
    return float(statistic), float(special.chdtrc(1, statistic))


def mann_whitney_asymptotic(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]
) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test, normal approximation with continuity correction.

    Parameters
    ----------
    x, y
        The two samples, without NaN, each non-empty.

    Returns
    -------
    statistic, p_value
        U of `x` (R's ``W``) and the p-value with the tie-corrected variance
        (R's ``wilcox.test(x, y, exact = FALSE, correct = TRUE)``).

    Examples
    --------
    >>> mann_whitney_asymptotic(np.array([1.0, 2, 3, 4]), np.array([3.0, 5, 6, 7, 8]))
    (1.5, 0.04909011632260757)
    """
    n1, n2 = len(x), len(y)
    xy = np.concatenate([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
    order = np.argsort(xy, kind="stable")
    ranked = xy[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ties = np.diff(np.r_[starts, len(xy)])
    average = starts + (ties + 1) / 2.0  # the mean rank of each run of equal values
    ranks = np.empty(len(xy), dtype=np.float64)
    ranks[order] = np.repeat(average, ties)
    r1 = np.sum(ranks[:n1], axis=-1)
    u1 = r1 - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    u = np.maximum(u1, u2)
    mu = n1 * n2 / 2
    n = n1 + n2
    t = ties.astype(np.float64)
    tie_term = np.sum(t**3 - t, axis=-1)
    s = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
    numerator = u - mu
    numerator -= 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / s
    p = special.ndtr(-z) * 2
    return float(u1), float(np.clip(p, 0.0, 1.0))
