"""Rates per area: crude, empirical-Bayes smoothed (global and local), SMR and a Poisson map.

The formulas are spdep's, and the tests compare them with spdep on spData's
``auckland`` and ``NY8`` data:

* **Global empirical Bayes** (``EBest``, Marshall 1991, method of moments):
  b = Σ cases / Σ population; s² = Σ nᵢ (rᵢ − b)² / Σ n;
  a = max(0, s² − b / n̄); smoothed rᵢ* = b + a (rᵢ − b) / (a + b / nᵢ).
* **Local empirical Bayes** (``EBlocal``, default ``geoda = FALSE``): the
  same with b, a computed over each area and its neighbours. As in spdep,
  the local variance weighs each neighbour's deviation from its own local
  mean.
* **SMR** (relative risk against the overall rate, %, as spdep's
  ``probmap``), excess risk (observed − expected) and the Poisson
  probabilities of seeing at most (``p_low``, alternative ``"less"``,
  spdep's default) or at least (``p_high``, ``"greater"``) the observed
  cases. These are per-area, uncorrected for multiplicity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse, stats

from geo_stunting.errors import AnalysisError, Problem

__all__ = [
    "GlobalEB",
    "area_rates",
    "empirical_bayes",
    "local_empirical_bayes",
    "probability_map",
]


@dataclass(frozen=True)
class GlobalEB:
    """Global empirical-Bayes smoothing (spdep ``EBest``).

    Attributes
    ----------
    raw, smoothed
        Crude and smoothed rates (proportions).
    a, b
        The prior variance (floored at 0) and the overall rate.
    """

    raw: np.ndarray
    smoothed: np.ndarray
    a: float
    b: float

    def to_dict(self) -> dict[str, Any]:
        """The prior's parameters (the rates are in the layers)."""
        return {"prior_variance_a": self.a, "overall_rate_b": self.b}


def _check(cases: np.ndarray, population: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cases = np.asarray(cases, dtype=float)
    population = np.asarray(population, dtype=float)
    problems = []
    if cases.shape != population.shape:
        problems.append(Problem("cases and population differ in length"))
    elif not (np.isfinite(cases).all() and np.isfinite(population).all()):
        problems.append(
            Problem(
                "cases or population has missing values",
                fix="rates that need counts need a population at risk for every area",
            )
        )
    elif (population <= 0).any() or (cases < 0).any():
        problems.append(Problem("population must be positive and cases not negative"))
    if problems:
        raise AnalysisError(problems)
    return cases, population


def empirical_bayes(cases: np.ndarray, population: np.ndarray) -> GlobalEB:
    """Global empirical-Bayes smoothed rates (spdep ``EBest``, Poisson).

    Examples
    --------
    >>> eb = empirical_bayes(np.array([1, 10, 3]), np.array([10, 50, 40]))
    >>> round(eb.b, 4), np.round(eb.smoothed, 4).tolist()
    (0.14, [0.14, 0.14, 0.14])
    """
    n, x = _check(cases, population)
    raw = n / x
    b = float(n.sum() / x.sum())
    s2 = float(np.sum(x * (raw - b) ** 2) / x.sum())
    a = max(0.0, s2 - b / (x.sum() / len(x)))
    smoothed = b + a * (raw - b) / (a + b / x)
    return GlobalEB(raw=raw, smoothed=smoothed, a=a, b=b)


def local_empirical_bayes(
    cases: np.ndarray, population: np.ndarray, neighbours: sparse.csr_matrix
) -> np.ndarray:
    """Local empirical-Bayes smoothed rates (spdep ``EBlocal``), each area with its neighbours.

    Parameters
    ----------
    cases, population
        Counts per area.
    neighbours
        Binary neighbour matrix (areas × areas, no self links).
    """
    n, x = _check(cases, population)
    binary = sparse.csr_matrix(neighbours, copy=True)
    binary.data[:] = 1.0
    with_self = (binary + sparse.identity(len(n), format="csr")).tocsr()
    with_self.data[:] = 1.0
    raw = n / x
    n_i = with_self @ x
    m_i = (with_self @ n) / n_i
    nbar_i = n_i / np.asarray(with_self.sum(axis=1)).ravel()
    c_i = with_self @ (x * (raw - m_i) ** 2)
    a_i = np.maximum(c_i / n_i - m_i / nbar_i, 0.0)
    shrink = np.divide(a_i, a_i + m_i / x, out=np.zeros_like(a_i), where=(a_i + m_i / x) > 0)
    return np.asarray(m_i + (raw - m_i) * shrink)


def probability_map(cases: np.ndarray, population: np.ndarray) -> pd.DataFrame:
    """Expected cases, SMR (%), excess risk and Poisson tail probabilities (spdep ``probmap``).

    Returns
    -------
    pandas.DataFrame
        ``expected``, ``smr_pct`` (100 × observed / expected), ``excess``
        (observed − expected), ``p_low`` (P[X ≤ observed], alternative
        "less"), ``p_high`` (P[X ≥ observed], alternative "greater").
    """
    n, x = _check(cases, population)
    expected = x * n.sum() / x.sum()
    return pd.DataFrame(
        {
            "expected": expected,
            "smr_pct": 100 * n / expected,
            "excess": n - expected,
            "p_low": stats.poisson.cdf(n, expected),
            "p_high": stats.poisson.sf(np.ceil(n) - 1, expected),
        }
    )


def area_rates(
    areas: gpd.GeoDataFrame,
    *,
    neighbours: sparse.csr_matrix | None = None,
    cases: str = "cases",
    population: str = "population",
    per: float = 100.0,
) -> gpd.GeoDataFrame:
    """Crude, global and local EB rates, SMR and the Poisson map of each area.

    Parameters
    ----------
    areas
        Polygons with counts (not changed).
    neighbours
        Binary neighbour matrix for the local EB rate (omitted when ``None``).
    cases, population
        Count columns.
    per
        Rates are given per this many children (100: percent).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy of `areas` with ``rate``, ``rate_eb``, ``rate_eb_local``,
        ``expected``, ``smr_pct``, ``excess``, ``p_low`` and ``p_high``.
    """
    if cases not in areas or population not in areas:
        raise AnalysisError(
            Problem(
                f"areas need columns {cases!r} and {population!r}",
                fix="join counts with join_areas first",
            )
        )
    n = areas[cases].to_numpy(dtype=float)
    x = areas[population].to_numpy(dtype=float)
    eb = empirical_bayes(n, x)
    out = areas.copy()
    out["rate"] = per * eb.raw
    out["rate_eb"] = per * eb.smoothed
    if neighbours is not None:
        out["rate_eb_local"] = per * local_empirical_bayes(n, x, neighbours)
    pmap = probability_map(n, x)
    for column in pmap.columns:
        out[column] = pmap[column].to_numpy()
    return out
