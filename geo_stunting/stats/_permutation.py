"""Seeded permutation helpers for the autocorrelation statistics.

`conditional_draws` and `conditional_lags` implement esda's conditional
randomisation (``esda.crand``) with a `numpy.random.Generator`: for each
permutation, one set of distinct positions among the n - 1 other subjects
is drawn and shared by every subject; subject i keeps its value and its
neighbours' weights are applied to the values at those positions (skipping
i itself). `folded_p` is the pseudo p-value of the nearer tail.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["CHUNK", "conditional_draws", "conditional_lags", "folded_p"]

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


def conditional_draws(
    n: int, max_card: int, permutations: int, rng: np.random.Generator
) -> np.ndarray:
    """Esda's draws: for each permutation, `max_card` distinct positions among n - 1 others."""
    out = np.empty((permutations, max_card), dtype=np.int64)
    for p in range(permutations):
        out[p] = rng.choice(n - 1, size=max_card, replace=False)
    return out


def conditional_lags(
    values: np.ndarray, matrix: sparse.csr_matrix, draws: np.ndarray
) -> np.ndarray:
    """Spatial lags under conditional permutation, ``(permutations, n)``.

    Subject i keeps its value; its neighbours' weights are applied to
    values drawn (without replacement) from the other n - 1 subjects.
    """
    n = len(values)
    permutations = draws.shape[0]
    lags = np.zeros((permutations, n))
    cards = np.diff(matrix.indptr)
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
    return lags
