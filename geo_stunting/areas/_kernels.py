"""Compiled loops behind the permutation tests of the area statistics (numba)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["lisa_tail_counts", "permuted_quadratic_forms"]


@njit(cache=True)
def permuted_quadratic_forms(  # pragma: no cover - compiled
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    values: np.ndarray,
    permutations: int,
    seed: int,
) -> np.ndarray:
    """``v' M v`` for `permutations` random permutations v of `values` (M in CSR).

    The permutations come from numba's own generator seeded with `seed` (the
    caller draws it from its `numpy.random.Generator`): a shuffle of any
    arrangement is a uniformly random permutation, so one buffer is shuffled
    in place.
    """
    np.random.seed(seed)  # noqa: NPY002 - numba's own generator, seeded by the caller's
    work = values.copy()
    out = np.empty(permutations)
    for p in range(permutations):
        np.random.shuffle(work)  # noqa: NPY002 - inside numba
        total = 0.0
        for i in range(work.shape[0]):
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * work[indices[k]]
            total += work[i] * acc
        out[p] = total
    return out


@njit(cache=True)
def lisa_tail_counts(  # pragma: no cover - compiled
    indptr: np.ndarray,
    data: np.ndarray,
    z: np.ndarray,
    scale: float,
    draws: np.ndarray,
    observed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Conditional-permutation tail counts of local Moran's Iᵢ (esda's scheme).

    For permutation p, area i keeps zᵢ and its k-th neighbour weight is applied
    to the value at ``draws[p, k]`` among the n − 1 other areas (positions at or
    after i shifted by one). Returns, per area, how many simulated Iᵢ are
    ≥ and ≤ the observed one (with a rounding slack), without storing them.
    """
    n = z.shape[0]
    perms = draws.shape[0]
    upper = np.zeros(n, dtype=np.int64)
    lower = np.zeros(n, dtype=np.int64)
    for i in range(n):
        start = indptr[i]
        card = indptr[i + 1] - start
        if card == 0:
            continue
        obs = observed[i]
        slack = 1e-10 * max(1.0, abs(obs))
        zi = z[i] * scale
        for p in range(perms):
            lag = 0.0
            for k in range(card):
                j = draws[p, k]
                if j >= i:
                    j += 1
                lag += data[start + k] * z[j]
            value = zi * lag
            if value >= obs - slack:
                upper[i] += 1
            if value <= obs + slack:
                lower[i] += 1
    return upper, lower
