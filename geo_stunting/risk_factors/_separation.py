"""Detect separation in a logistic model before fitting it (Konis's linear program).

A logistic model has no maximum-likelihood estimate when some combination of
its terms separates cases from controls: completely (a level seen only in
cases), or quasi-completely (a level seen once, or a cut-point of a
continuous factor with cases on one side and ties at it). Then IRLS walks a
coefficient off to infinity, and the "odds ratio" it prints is an artefact
of when it stopped. R's ``glm`` only warns ("fitted probabilities
numerically 0 or 1 occurred"); the package ``detectseparation`` decides it
exactly with the linear program of Konis (2007), which this module solves
with scipy's HiGHS:

    maximise  Σᵢ sᵢ·xᵢᵀβ   subject to  sᵢ·xᵢᵀβ ≥ 0 for every subject i,  −1 ≤ βⱼ ≤ 1,

with sᵢ = +1 for a case and −1 for a control. β = 0 is always feasible; a
positive optimum is a direction in which the likelihood keeps rising for
ever — separation — and the terms with βⱼ ≠ 0 along it are the ones whose
estimates are infinite.

Reference: K. Konis, *Linear programming algorithms for detecting separated
data in binary logistic regression models*, DPhil thesis, Oxford (2007).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog

__all__ = ["separated_terms"]

#: A linear-program optimum or coefficient below this is zero.
_TOL = 1e-7


def separated_terms(design: np.ndarray, is_case: np.ndarray, names: Sequence[str]) -> list[str]:
    """Return the names of the terms that separate cases from controls (empty: none).

    Parameters
    ----------
    design
        The model matrix, intercept included (n × p).
    is_case
        1 for a case, 0 for a control.
    names
        The name of each column of `design`.

    Examples
    --------
    A level seen once, in a case, separates (quasi-completely):

    >>> import numpy as np
    >>> x = np.column_stack([np.ones(6), [1, 0, 0, 0, 0, 0], [0, 1, 0, 1, 1, 0]])
    >>> separated_terms(x, np.array([1, 1, 0, 1, 0, 1]), ["(Intercept)", "rare", "b"])
    ['rare']
    >>> separated_terms(x[:, [0, 2]], np.array([1, 1, 0, 1, 0, 1]), ["(Intercept)", "b"])
    []
    """
    x = np.asarray(design, dtype=float)
    sign = np.where(np.asarray(is_case, dtype=float) > 0.5, 1.0, -1.0)
    signed = x * sign[:, None]
    # scale columns so that the tolerance means the same for lux and for 0/1 indicators
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    signed = signed / scale
    result = linprog(
        c=-signed.sum(axis=0),
        A_ub=-signed,
        b_ub=np.zeros(len(x)),
        bounds=[(-1.0, 1.0)] * x.shape[1],
        method="highs",
    )
    if not result.success or -result.fun <= _TOL * len(x):
        return []
    beta = np.asarray(result.x, dtype=float)
    return [
        str(name)
        for name, b in zip(names, beta, strict=True)
        if abs(b) > _TOL and name != "(Intercept)"
    ] or [str(names[int(np.argmax(np.abs(beta)))])]
