"""Compiled loop behind the permutation tests of global Moran's I (numba)."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["quadratic_form"]


@njit(cache=True)
def quadratic_form(  # pragma: no cover - compiled
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, v: np.ndarray
) -> float:
    """``v' M v`` for a CSR matrix M, without allocating."""
    total = 0.0
    for i in range(v.shape[0]):
        row = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            row += data[k] * v[indices[k]]
        total += v[i] * row
    return total
