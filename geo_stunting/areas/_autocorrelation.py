r"""Spatial autocorrelation of area rates: Moran's I, the EB Moran index, local Moran, Gi*.

All on row-standardised weights (spdep's style ``"W"``) except Gi\*, which
uses binary weights with each area its own neighbour (``include.self``,
style ``"B"``). The tests compare every analytic value with spdep.

* `moran_rates`: Moran's I of a rate with the moments of ``moran.test``
  under normality and randomisation (two-sided normal p-values) and a
  permutation p-value (alternative "greater": more alike than chance).
* `eb_moran`: the empirical-Bayes Moran index of Assunção and Reis (1999),
  spdep's ``EBImoran.mc``: Moran's I of the EB-standardised rates
  zᵢ = (rᵢ − b) / √(a + b/nᵢ), which does not let the large variance of
  small areas' rates pass for clustering; permutation p-value ("greater").
* `local_moran_rates`: local Moran's Iᵢ (spdep ``localmoran``: conditional
  randomisation moments, two-sided normal p) and conditional-permutation
  pseudo p-values (esda's scheme, seeded); labels HH/LL/HL/LH when
  p ≤ alpha, optionally after the false discovery rate (Benjamini–Hochberg).
* `getis_ord_rates`: Gi\* z-scores (spdep ``localG`` with self included),
  two-sided normal p-values, uncorrected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import esda
import numpy as np
import pandas as pd
from scipy import sparse, stats

from geo_stunting import _compile_ahead
from geo_stunting.areas._kernels import lisa_tail_counts, permuted_quadratic_forms
from geo_stunting.areas._weights import AreaWeights
from geo_stunting.autocorrelation._statistics import moran_moments
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.stats._permutation import conditional_draws

__all__ = [
    "ISOLATE",
    "LISA_COLOURS",
    "NOT_SIGNIFICANT",
    "AreaMoran",
    "eb_moran",
    "eb_standardise",
    "getis_ord_rates",
    "local_moran_rates",
    "moran_rates",
]

NOT_SIGNIFICANT = "not significant"
ISOLATE = "isolate"
#: GeoDa's LISA cluster map colours.
LISA_COLOURS = {
    "HH": "#ff0000",
    "LL": "#0000ff",
    "LH": "#a7adf9",
    "HL": "#f4ada8",
    NOT_SIGNIFICANT: "#eeeeee",
    ISOLATE: "#464646",
}


@dataclass(frozen=True)
class AreaMoran:
    """Global Moran's I of an area variable.

    Attributes
    ----------
    I, expected
        The statistic and E[I] = −1/(n−1).
    variance_normal, z_normal, p_normal
        Moments under normality; two-sided p-value.
    variance_rand, z_rand, p_rand
        Moments under randomisation; two-sided p-value.
    p_sim
        Permutation p-value, alternative "greater": (1 + #{I_sim ≥ I}) / (perms + 1).
    alternative_sim
        ``"greater"``.
    permutations, seed
        Permutations and their seed.
    variable, weights
        What was tested, and the neighbour rule (row-standardised).
    n
        Areas.
    """

    I: float  # noqa: E741 - the statistic's name
    expected: float
    variance_normal: float | None
    z_normal: float | None
    p_normal: float | None
    variance_rand: float | None
    z_rand: float | None
    p_rand: float | None
    p_sim: float | None
    alternative_sim: str
    permutations: int
    seed: int | None
    variable: str
    weights: str
    n: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        out = asdict(self)
        out["p_normal_alternative"] = "two-sided"
        out["p_rand_alternative"] = "two-sided"
        out["p_sim_alternative"] = out.pop("alternative_sim")
        return out


def _row_standard(weights: AreaWeights) -> sparse.csr_matrix:
    rows = np.asarray(weights.matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)
    return sparse.csr_matrix(sparse.diags(scale) @ weights.matrix)


def _values(values: np.ndarray | pd.Series, weights: AreaWeights, what: str) -> np.ndarray:
    y = np.asarray(values, dtype=float)
    if y.shape != (len(weights.ids),):
        raise AnalysisError(Problem(f"{what} has {y.shape[0]} values for {len(weights.ids)} areas"))
    if not np.isfinite(y).all():
        raise AnalysisError(Problem(f"{what} has missing values", fix="drop those areas first"))
    if np.ptp(y) == 0:
        raise AnalysisError(Problem(f"{what} is the same in every area: nothing to correlate"))
    return y


def _sims_greater(
    z: np.ndarray,
    standard: sparse.csr_matrix,
    observed_form: float,
    permutations: int,
    rng: np.random.Generator,
) -> float:
    """(1 + #{permuted z'Wz ≥ observed}) / (permutations + 1), in one compiled loop."""
    _compile_ahead.wait("permuted_quadratic_forms")  # a first run: compiled in the background
    sims = permuted_quadratic_forms(
        standard.indptr.astype(np.int64),
        standard.indices.astype(np.int64),
        standard.data.astype(float),
        np.asarray(z, dtype=float),
        permutations,
        int(rng.integers(2**32 - 1)),
    )
    slack = 1e-12 * max(1.0, abs(observed_form))
    return float((np.sum(sims >= observed_form - slack) + 1) / (permutations + 1))


def moran_rates(
    values: np.ndarray | pd.Series,
    *,
    weights: AreaWeights,
    permutations: int = 999,
    seed: int | None = None,
    variable: str = "rate",
) -> AreaMoran:
    """Moran's I of an area variable (row-standardised weights), as spdep's ``moran.test``.

    Parameters
    ----------
    values
        One value per area, in the order of `weights`.
    weights
        From `area_weights` or `weights_from_graph`.
    permutations
        Random permutations for ``p_sim`` (0 to skip).
    seed
        Seed of the permutations.
    variable
        Name of the variable, for the record.
    """
    y = _values(values, weights, variable)
    if len(y) < 4:
        raise AnalysisError(Problem(f"Moran's I needs at least 4 areas, got {len(y)}"))
    standard = _row_standard(weights)
    z = y - y.mean()
    m = moran_moments(z, standard)
    p_sim = None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        p_sim = _sims_greater(z, standard, float(z @ (standard @ z)), permutations, rng)
    z_n = (m["I"] - m["EI"]) / np.sqrt(m["var_n"])
    z_r = (m["I"] - m["EI"]) / np.sqrt(m["var_r"]) if m["var_r"] > 0 else float("nan")
    return AreaMoran(
        I=m["I"],
        expected=m["EI"],
        variance_normal=m["var_n"],
        z_normal=float(z_n),
        p_normal=float(2 * stats.norm.sf(abs(z_n))),
        variance_rand=m["var_r"],
        z_rand=float(z_r),
        p_rand=float(2 * stats.norm.sf(abs(z_r))),
        p_sim=p_sim,
        alternative_sim="greater",
        permutations=permutations,
        seed=seed,
        variable=variable,
        weights=weights.rule + "; row-standardised",
        n=len(y),
    )


def eb_standardise(cases: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Assunção–Reis EB-standardised rates zᵢ = (rᵢ − b) / √vᵢ, vᵢ = a + b/nᵢ (or b/nᵢ if < 0).

    a and b are those of spdep's ``EBest`` (a floored at 0).
    """
    n = np.asarray(cases, dtype=float)
    x = np.asarray(population, dtype=float)
    if (x <= 0).any() or not (np.isfinite(n).all() and np.isfinite(x).all()):
        raise AnalysisError(
            Problem(
                "the EB Moran index needs cases and a positive population for every area",
                fix="give sample sizes (children measured) with the prevalence",
            )
        )
    rate = n / x
    b = n.sum() / x.sum()
    s2 = float(np.sum(x * (rate - b) ** 2) / x.sum())
    a = max(0.0, s2 - b / (x.sum() / len(x)))
    v = a + b / x
    v = np.where(v < 0, b / x, v)
    return np.asarray((rate - b) / np.sqrt(v))


def eb_moran(
    cases: np.ndarray,
    population: np.ndarray,
    *,
    weights: AreaWeights,
    permutations: int = 999,
    seed: int | None = None,
) -> AreaMoran:
    """Empirical-Bayes Moran index (Assunção and Reis 1999; spdep ``EBImoran.mc``).

    Moran's I of `eb_standardise`'d rates, with a permutation p-value
    (alternative "greater"); the analytic moments do not apply to it and are
    ``None``.
    """
    z = eb_standardise(cases, population)
    result = moran_rates(
        z, weights=weights, permutations=permutations, seed=seed, variable="EB-standardised rate"
    )
    return AreaMoran(
        **{
            **asdict(result),
            "variance_normal": None,
            "z_normal": None,
            "p_normal": None,
            "variance_rand": None,
            "z_rand": None,
            "p_rand": None,
        }
    )


def local_moran_rates(
    values: np.ndarray | pd.Series,
    *,
    weights: AreaWeights,
    permutations: int = 999,
    seed: int | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Local Moran's Iᵢ with analytic and conditional-permutation p-values, and LISA labels.

    Returns
    -------
    pandas.DataFrame
        One row per area: ``lisa_I``, ``lisa_E``, ``lisa_var``, ``lisa_z``,
        ``lisa_p_normal`` (two-sided, spdep's conditional moments),
        ``lisa_p`` (two-sided conditional-permutation p-value: twice the
        nearer tail of esda's ``p_sim``, capped at 1), ``lisa_quadrant`` (HH, LL, HL, LH),
        ``lisa_label`` (quadrant if ``lisa_p`` ≤ alpha, uncorrected) and
        ``lisa_label_fdr`` (quadrant if significant after the false discovery
        rate at alpha); ``"isolate"`` for areas without neighbours.
    """
    y = _values(values, weights, "rate")
    n = len(y)
    standard = _row_standard(weights)
    z = y - y.mean()
    m2 = float(z @ z) / n
    lag = standard @ z
    local_i = z / m2 * lag
    wi = np.asarray(standard.sum(axis=1)).ravel()
    wi2 = np.asarray(standard.multiply(standard).sum(axis=1)).ravel()
    expected = -(z**2) * wi / ((n - 1) * m2)
    variance = (z / m2) ** 2 * (n / (n - 2)) * (wi2 - wi**2 / (n - 1)) * (m2 - z**2 / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_score = (local_i - expected) / np.sqrt(variance)
    p_normal = 2 * stats.norm.sf(np.abs(z_score))
    isolated = wi == 0
    quadrant = np.where(
        z >= 0, np.where(lag >= 0, "HH", "HL"), np.where(lag >= 0, "LH", "LL")
    ).astype(object)
    p = np.full(n, np.nan)
    if permutations > 0 and not isolated.all():
        rng = np.random.default_rng(seed)
        draws = conditional_draws(n, int(weights.cardinalities.max()), permutations, rng)
        _compile_ahead.wait("lisa_tail_counts")  # a first run: compiled in the background
        upper, lower = lisa_tail_counts(
            standard.indptr.astype(np.int64),
            standard.data.astype(float),
            z,
            1.0 / m2,
            draws,
            local_i,
        )
        # two-sided, as every local test here: twice the nearer tail, capped at 1
        p = np.minimum(1.0, 2.0 * (np.minimum(upper, lower) + 1.0) / (permutations + 1.0))
    p[isolated] = np.nan
    label = np.where(np.isfinite(p) & (p <= alpha), quadrant, NOT_SIGNIFICANT).astype(object)
    finite = np.isfinite(p)
    threshold = float(esda.fdr(p[finite], alpha)) if finite.any() else 0.0
    label_fdr = np.where(finite & (p <= threshold), quadrant, NOT_SIGNIFICANT).astype(object)
    label[isolated] = ISOLATE
    label_fdr[isolated] = ISOLATE
    return pd.DataFrame(
        {
            "lisa_I": local_i,
            "lisa_E": expected,
            "lisa_var": variance,
            "lisa_z": z_score,
            "lisa_p_normal": p_normal,
            "lisa_p": p,
            "lisa_quadrant": quadrant,
            "lisa_label": label,
            "lisa_label_fdr": label_fdr,
        }
    )


def getis_ord_rates(values: np.ndarray | pd.Series, *, weights: AreaWeights) -> pd.DataFrame:
    r"""Getis–Ord Gi\* z-scores (spdep ``localG`` on ``include.self``, binary weights).

    Returns
    -------
    pandas.DataFrame
        ``gi_star_z`` (positive: high values around the area) and
        ``gi_star_p`` (two-sided normal p-value, uncorrected).
    """
    y = _values(values, weights, "rate")
    n = len(y)
    star = (weights.matrix + sparse.identity(n, format="csr")).tocsr()
    star.data[:] = 1.0
    wi = np.asarray(star.sum(axis=1)).ravel()
    s1 = np.asarray(star.multiply(star).sum(axis=1)).ravel()
    mean = y.mean()
    sd = np.sqrt(np.sum(y**2) / n - mean**2)
    with np.errstate(divide="ignore", invalid="ignore"):  # an area next to all others: no z
        z = (star @ y - wi * mean) / (sd * np.sqrt((n * s1 - wi**2) / (n - 1)))
    z = np.where(np.isfinite(z), z, np.nan)
    return pd.DataFrame({"gi_star_z": z, "gi_star_p": 2 * stats.norm.sf(np.abs(z))})
