"""The Bernoulli log-likelihood ratio and the case-count thresholds of the scan (numba).

Shared by the two replication sweeps (`_kernels.replication_maxima` on
per-lane counts, `_bitsliced.replication_maxima_bits` on bit-sliced ones),
so that both score a window with the same function of the same integers.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "HIGH",
    "LOW",
    "any_beyond",
    "interleaved",
    "llr_bernoulli",
    "record_lanes",
    "thresholds",
    "thresholds_between",
]

#: Direction flags: scan for high rates, low rates, or both (HIGH | LOW).
HIGH = 1
LOW = 2


@numba.njit(cache=True, inline="always")
def _xlog(x: float, y: float) -> float:  # pragma: no cover - compiled
    """``x * log(x / y)`` with ``0 * log(0) = 0``."""
    if x <= 0.0:
        return 0.0
    return x * math.log(x / y)


@numba.njit(cache=True)
def llr_bernoulli(n: int, c: int, n_total: int, c_total: int) -> float:  # pragma: no cover
    """Kulldorff's Bernoulli log-likelihood ratio of a window.

    Parameters
    ----------
    n, c
        Subjects and cases in the window.
    n_total, c_total
        Subjects and cases in the study.

    Returns
    -------
    float
        The log-likelihood ratio (not signed: the caller checks the
        direction).
    """
    nf = float(n)
    cf = float(c)
    big_n = float(n_total)
    big_c = float(c_total)
    out_n = big_n - nf
    out_c = big_c - cf
    inside = _xlog(cf, nf) + _xlog(nf - cf, nf)
    outside = _xlog(out_c, out_n) + _xlog(out_n - out_c, out_n)
    null = _xlog(big_c, big_n) + _xlog(big_n - big_c, big_n)
    value = inside + outside - null
    return max(0.0, value)


@numba.njit(cache=True)
def thresholds(
    th: np.ndarray, tl: np.ndarray, level: float, n_total: int, c_total: int, sides: int
) -> None:  # pragma: no cover - compiled
    """Case counts a window of each population needs to reach the ratio `level`.

    ``th[n]``: the fewest cases, above the expected count, with a ratio of at
    least `level` (``n + 1`` if none); ``tl[n]``: the most cases, below it,
    with such a ratio (-1 if none). The ratio grows with the distance of the
    count from the expected one on either side, so a window of population
    ``n`` with fewer than ``th[n]`` cases (and more than ``tl[n]``) has a
    ratio below `level`. Both only move outwards as `level` rises, so each
    search starts from the previous value. Row 0 is the sink (never reached).
    """
    thresholds_between(th, tl, level, 1, th.size - 1, n_total, c_total, sides)


@numba.njit(cache=True)
def thresholds_between(
    th: np.ndarray,
    tl: np.ndarray,
    level: float,
    n_low: int,
    n_high: int,
    n_total: int,
    c_total: int,
    sides: int,
) -> None:  # pragma: no cover - compiled
    """`thresholds` for the populations ``n_low … n_high`` only (the rest untouched).

    The scan for several maximum sizes at once keeps one level per size:
    populations above the next smaller size's cutoff take the level of
    their own size (`geo_stunting.scan._cutoffs`).
    """
    # a hair below the level: a window whose ratio rounds to the level is kept
    bar = level - 1e-9 * max(1.0, level)
    for n in range(n_low, n_high + 1 if sides & HIGH else n_low):
        c = max(th[n], (n * c_total) // n_total + 1)
        top = min(n, c_total)
        while c <= top and llr_bernoulli(n, c, n_total, c_total) < bar:
            c += 1
        th[n] = c if c <= top else n + 1
    for n in range(n_low, n_high + 1 if sides & LOW else n_low):
        c = min(tl[n], -((-n * c_total) // n_total) - 1)
        bottom = max(0, c_total - (n_total - n))
        while c >= bottom and llr_bernoulli(n, c, n_total, c_total) < bar:
            c -= 1
        tl[n] = c if c >= bottom else -1


@numba.njit(cache=True, inline="always")
def any_beyond(
    cum: np.ndarray, t: int, record: np.ndarray, sign: int
) -> bool:  # pragma: no cover - compiled
    """Whether a lane's count reaches `t` and beats its record (``sign`` -1: from below)."""
    found = 0
    if sign > 0:
        for r in range(cum.size):  # a vector pass
            found |= (cum[r] >= t) & (cum[r] > record[r])
    else:
        for r in range(cum.size):
            found |= (cum[r] <= t) & (cum[r] < record[r])
    return found != 0


@numba.njit(cache=True, inline="always")
def record_lanes(
    cum: np.ndarray,
    n: int,
    t: int,
    record: np.ndarray,
    top_best: np.ndarray,
    n_total: int,
    c_total: int,
    sign: int,
) -> None:  # pragma: no cover - compiled
    """Record the lanes whose count reaches `t` and beats their record; raise their best."""
    for r in range(cum.size):
        c = cum[r]
        if (c >= t and c > record[r]) if sign > 0 else (c <= t and c < record[r]):
            record[r] = c
            value = llr_bernoulli(n, c, n_total, c_total)
            top_best[r] = max(top_best[r], value)


@numba.njit(cache=True, inline="always")
def interleaved(k: int, blocks: int) -> int:
    """The block swept `k`-th: 0, then the last, then 1, then the last but one, and so on.

    Blocks are sorted by their replications' best ratio, and a block with low
    ratios passes more windows; the threads take the iterations in equal
    runs, so this order gives each of them cheap blocks and dear ones.

    >>> [interleaved(k, 4) for k in range(4)]
    [0, 3, 1, 2]
    """
    return k // 2 if k % 2 == 0 else blocks - 1 - k // 2
