"""Seeded permutation helpers for the autocorrelation statistics.

`conditional_draws` and `conditional_lags` implement esda's conditional
randomisation (``esda.crand``) with a `numpy.random.Generator`: for each
permutation, one set of distinct positions among the n - 1 other subjects
is drawn and shared by every subject; subject i keeps its value and its
neighbours' weights are applied to the values at those positions (skipping
i itself). `folded_p` is the pseudo p-value of the nearer tail, `upper_p` the
one-sided p-value of larger values (alternative "greater") and `two_sided_p`
twice the nearer tail, capped at 1 (alternative "two-sided").

The rule of the package: a global test of clustering of cases (Moran's I,
join counts, Cuzick–Edwards, the K-difference D+, the scan) is one-sided,
``"greater"``: the question is whether cases cluster *more* than chance. A
local test (LISA, Gi*) is two-sided, because both hot and cold spots are
reported, and its classes are corrected for multiple testing with the
Benjamini–Hochberg false discovery rate (`bh_adjust`) unless asked not to.
`folded_p` alone is never reported as a p-value: under the null it rejects
about twice as often as its level.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse, stats

from geo_stunting.progress import progress

__all__ = [
    "CHUNK",
    "bh_adjust",
    "conditional_draws",
    "conditional_lags",
    "folded_p",
    "two_sided_p",
    "upper_p",
]

#: Rows of permutations (or subjects) processed at once.
CHUNK = 256


def folded_p(sims: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """Pseudo p-value of the nearer tail: ``(min(#sim >= obs, #sim <= obs) + 1) / (perms + 1)``.

    esda's rule, except that simulated values equal to the observed one (common
    with a 0/1 variable) count in both tails, with a rounding slack; esda
    counts them in the upper tail only, so its p-value can depend on rounding.
    """
    perms = sims.shape[0]
    observed = np.asarray(observed, dtype=float)
    slack = 1e-10 * np.maximum(1.0, np.abs(observed))
    upper = np.sum(sims >= observed - slack, axis=0)
    lower = np.sum(sims <= observed + slack, axis=0)
    return np.asarray((np.minimum(upper, lower) + 1.0) / (perms + 1.0))


def upper_p(sims: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """One-sided p-value of larger values: ``(#sim >= obs + 1) / (perms + 1)`` (ties count)."""
    perms = sims.shape[0]
    observed = np.asarray(observed, dtype=float)
    slack = 1e-10 * np.maximum(1.0, np.abs(observed))
    return np.asarray((np.sum(sims >= observed - slack, axis=0) + 1.0) / (perms + 1.0))


def two_sided_p(sims: np.ndarray, observed: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value: twice `folded_p`, capped at 1.

    >>> float(two_sided_p(np.arange(99.0)[:, None], 98.0)[0])
    0.04
    """
    return np.asarray(np.minimum(1.0, 2.0 * folded_p(sims, observed)))


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (NaN stays NaN): significant where ≤ alpha.

    The same decisions as esda's ``fdr`` threshold and R's ``p.adjust(method = "BH")``.

    >>> bh_adjust(np.array([0.01, 0.04, np.nan, 0.03])).round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return out


def conditional_draws(
    n: int, max_card: int, permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """Esda's draws: for each permutation, `max_card` distinct positions among n - 1 others."""
    out = np.empty((permutations, max_card), dtype=np.int64)
    for p in range(permutations):
        out[p] = rng.choice(n - 1, size=max_card, replace=False)
    return out


def conditional_lags(
    values: np.ndarray,
    matrix: sparse.csr_matrix,
    draws: np.ndarray,
    *,
    label: str = "conditional permutations",
) -> np.ndarray:
    """Spatial lags under conditional permutation, ``(permutations, n)``.

    Subject i keeps its value; its neighbours' weights are applied to
    values drawn (without replacement) from the other n - 1 subjects.
    Progress is reported as subjects done, under `label`.
    """
    n = len(values)
    permutations = draws.shape[0]
    lags = np.zeros((permutations, n))
    cards = np.diff(matrix.indptr)
    with progress(f"{label}: {permutations} for each subject", total=n) as advance:
        advance(int((cards == 0).sum()))
        for card in np.unique(cards[cards > 0]):
            members = np.flatnonzero(cards == card)
            for lo in range(0, len(members), CHUNK):
                chunk = members[lo : lo + CHUNK]
                picks = draws[None, :, :card]  # (1, perms, card)
                picks = picks + (picks >= chunk[:, None, None])  # skip i itself
                weights = np.vstack(
                    [matrix.data[matrix.indptr[i] : matrix.indptr[i + 1]] for i in chunk]
                )
                lags[:, chunk] = np.einsum("cpk,ck->pc", values[picks], weights)
                advance(len(chunk))
    return lags
