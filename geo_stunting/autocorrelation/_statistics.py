r"""Spatial autocorrelation of the case indicator: Moran's I, join counts, LISA, Gi*.

The variable is 1 for a case and 0 for a control; the neighbours come from
``settings.weights`` (``"knn:K"`` or ``"distance:D"``, see
`geo_stunting.autocorrelation._neighbours` for the rule on ties and shared locations).

* **Moran's I**: are cases' neighbours more often cases than chance would
  have it? I, E[I], the variance under randomisation, z and the analytic
  p-value with esda's formulas (the tests check them against ``esda.Moran``
  and spdep's ``moran.test``), and a permutation p-value from seeded
  permutations. ``esda.Moran`` itself is not called: building its weights
  object costs more than the whole test, and its permutations draw from
  NumPy's global random state (it has no ``seed``).
* **Join counts**: the number of case–case neighbour pairs (BB), with the
  analytic moments of spdep's ``joincount.test`` (non-free sampling) and a
  permutation p-value.
* **Local Moran (LISA)** (esda) with conditional-permutation p-values: HH (a
  case among cases), LL, HL, LH; optionally with the false discovery rate.
* **Getis–Ord Gi\*** (esda): a z-score per subject for the share of cases in
  its neighbourhood, itself included.

The conditional permutations of LISA and Gi* follow esda's algorithm (one
set of random neighbour draws shared by all subjects) with a
`numpy.random.Generator` (esda is called with ``permutations=0``): esda's
own conditional randomisation compiles with numba in every new process,
about 20 s here, more than the whole step may take. The caller's
weights are never changed: esda transforms the weights object it is given
in place, so it always gets a copy.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from libpysal.weights import W
from scipy import sparse, stats

from geo_stunting import _compile_ahead
from geo_stunting.autocorrelation import _kernels
from geo_stunting.autocorrelation._neighbours import Neighbours, distance_band, k_nearest
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.progress import progress
from geo_stunting.stats._permutation import (
    bh_adjust,
    conditional_draws,
    conditional_lags,
    two_sided_p,
    upper_p,
)
from geo_stunting.study._config import parse_weights
from geo_stunting.study._status import case_indicator

__all__ = [
    "COLD_SPOT",
    "HOT_SPOT",
    "ISOLATE",
    "NOT_SIGNIFICANT",
    "JoinCounts",
    "MoranResult",
    "build_neighbours",
    "getis_ord",
    "join_counts",
    "local_moran",
    "moran",
    "moran_moments",
    "subject_ids",
]

log = logging.getLogger(__name__)

LISA_LABELS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
NOT_SIGNIFICANT = "not significant"
ISOLATE = "isolate"
HOT_SPOT = "hot spot"
COLD_SPOT = "cold spot"


def build_neighbours(subjects: gpd.GeoDataFrame, *, weights: str = "knn:5") -> Neighbours:
    """Neighbours of each subject from ``"knn:K"`` or ``"distance:D"`` (metres).

    Parameters
    ----------
    subjects
        Points in a projected CRS (metres).
    weights
        The rule, as ``settings.weights``.

    Returns
    -------
    Neighbours
        The neighbour matrix (see `geo_stunting.autocorrelation._neighbours` for ties).
    """
    kind, value = parse_weights(weights)
    xy = np.column_stack([subjects.geometry.x, subjects.geometry.y]).astype(float)
    if kind == "knn":
        k = int(value)
        if k >= len(xy):
            raise AnalysisError(
                Problem(
                    f'weights = "{weights}" asks for {k} neighbours but there are only '
                    f"{len(xy)} subjects",
                    column="[analysis] weights",
                    fix=f'use fewer neighbours, e.g. "knn:{max(1, min(5, len(xy) - 1))}"',
                )
            )
        return k_nearest(xy, k)
    return distance_band(xy, value)


def _weights(neighbours: Neighbours | W | Graph) -> tuple[sparse.csr_matrix, str]:
    """A fresh binary CSR matrix (never the caller's object) and the rule."""
    if isinstance(neighbours, Neighbours):
        return neighbours.matrix.copy(), neighbours.rule
    if isinstance(neighbours, W | Graph):
        matrix = sparse.csr_matrix(neighbours.sparse, copy=True)
        matrix.data[:] = 1.0
        kind = "W" if isinstance(neighbours, W) else "Graph"
        return matrix, f"libpysal {kind} (binary)"
    raise AnalysisError(
        Problem(
            "weights must be a Neighbours, a libpysal W or a Graph, got "
            f"{type(neighbours).__name__}",
            fix='use build_neighbours(subjects, weights="knn:5")',
        )
    )


def _to_graph(matrix: sparse.csr_matrix) -> Graph:
    """A libpysal Graph of a copy of `matrix`, for esda (which transforms what it gets)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Graph.from_sparse(sparse.csr_matrix(matrix, copy=True))


def _row_standardise(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    rows = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)
    return sparse.csr_matrix(sparse.diags(scale) @ matrix)


def _indicator(subjects: gpd.GeoDataFrame, status: str, case: str | Sequence[str]) -> np.ndarray:
    y: np.ndarray = case_indicator(subjects, status=status, case=case).astype(float)
    if y.min() == y.max():
        raise AnalysisError(
            Problem("autocorrelation of the case indicator needs both cases and controls")
        )
    return y


@dataclass(frozen=True)
class MoranResult:
    """Global Moran's I of the case indicator.

    Attributes
    ----------
    I, expected, variance_rand, z_rand, p_rand
        The statistic, E[I] = -1/(n-1), its variance under randomisation, the
        z-score and the one-sided normal p-value (I larger than expected).
    p_sim
        One-sided permutation p-value, ``(#I_sim >= I + 1) / (permutations + 1)``.
    alternative
        ``"greater"``: both p-values ask whether cases' neighbours are cases
        more often than chance (positive autocorrelation).
    permutations, seed
        The permutations and their seed.
    weights
        The neighbour rule; row-standardised.
    n, n_isolates, isolates
        Subjects, and the subjects without neighbours (their lag is 0).
    """

    I: float  # noqa: E741 - the statistic's name
    expected: float
    variance_rand: float
    z_rand: float
    p_rand: float
    p_sim: float | None
    permutations: int
    seed: int | None
    weights: str
    n: int
    n_isolates: int
    isolates: list[str]
    alternative: str = "greater"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def subject_ids(subjects: gpd.GeoDataFrame, positions: np.ndarray) -> list[str]:
    column = subjects["subject_id"] if "subject_id" in subjects else pd.Series(subjects.index)
    return [str(v) for v in column.to_numpy()[positions]]


def moran(
    subjects: gpd.GeoDataFrame,
    *,
    neighbours: Neighbours | W | Graph,
    status: str = "status",
    case: str | Sequence[str] = "case",
    permutations: int = 999,
    seed: int | None = None,
) -> MoranResult:
    """Global Moran's I of the case indicator (row-standardised weights).

    Parameters
    ----------
    subjects
        Cases and controls.
    neighbours
        From `build_neighbours`, or a libpysal ``W`` or ``Graph`` in the order of
        `subjects` (copied, used as binary).
    status, case
        The status column and the value (or values) that mark a case.
    permutations
        Random permutations for ``p_sim`` (0 to skip).
    seed
        Seed of the permutations.

    Returns
    -------
    MoranResult
        I, its moments under randomisation and both p-values.
    """
    y = _indicator(subjects, status, case)
    binary, rule = _weights(neighbours)
    n = len(y)
    if binary.shape != (n, n):
        raise AnalysisError(Problem(f"weights are for {binary.shape[0]} subjects, not {n}"))
    standard = _row_standardise(binary)
    z = y - y.mean()
    moments = _moran_moments(z, standard)
    p_sim = None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        scale = n / standard.sum() / float(z @ z)
        sims = scale * _quadratic_forms(
            z, standard, permutations, rng, label=f"Moran's I: {n:,} subjects, permutations"
        )
        p_sim = float(upper_p(sims[:, None], moments["I"])[0])
    isolates = np.flatnonzero(np.diff(binary.indptr) == 0)
    return MoranResult(
        I=moments["I"],
        expected=moments["EI"],
        variance_rand=moments["VI_rand"],
        z_rand=moments["z_rand"],
        p_rand=moments["p_rand"],
        p_sim=p_sim,
        permutations=permutations,
        seed=seed,
        weights=rule + "; row-standardised",
        n=n,
        n_isolates=len(isolates),
        isolates=subject_ids(subjects, isolates),
    )


def _quadratic_forms(
    values: np.ndarray,
    matrix: sparse.csr_matrix,
    permutations: int,
    rng: np.random.Generator,
    *,
    label: str = "permutations",
) -> np.ndarray:
    """``v' M v`` for `permutations` random permutations v of `values`.

    One buffer is shuffled in place (a shuffle of any arrangement is a
    uniformly random permutation) and the form is a compiled loop: fresh
    arrays per permutation are slow for large n.
    """
    out = np.empty(permutations)
    work = np.array(values, dtype=float)
    indptr = matrix.indptr.astype(np.int64)
    indices = matrix.indices.astype(np.int64)
    data = matrix.data.astype(float)
    step = max(1, permutations // 100)
    _compile_ahead.wait("quadratic_form")  # a first run: compiled in the background
    with progress(label, total=permutations) as advance:
        for k in range(permutations):
            rng.shuffle(work)
            out[k] = _kernels.quadratic_form(indptr, indices, data, work)
            if (k + 1) % step == 0 or k + 1 == permutations:
                advance((k % step) + 1)
    return out


def moran_moments(z: np.ndarray, standard: sparse.csr_matrix) -> dict[str, float]:
    """Moran's I of centred values `z` and its moments (Cliff and Ord; spdep's ``moran.test``).

    Returns ``I``, ``EI`` (−1/(n−1)), ``s0`` (the sum of the weights), ``var_n``
    (the variance under normality) and ``var_r`` (under randomisation, esda's
    ``Moran.VI_rand``). The one home of these formulas: the point statistics and
    the area rates both use it.
    """
    n = len(z)
    s0 = float(standard.sum())
    both = standard + standard.T
    s1 = 0.5 * float(both.multiply(both).sum())
    degree = np.asarray(standard.sum(axis=1)).ravel() + np.asarray(standard.sum(axis=0)).ravel()
    s2 = float(np.sum(degree**2))
    z2 = z * z
    k = float(np.sum(z2 * z2) / n) / float(np.sum(z2) / n) ** 2
    expected = -1.0 / (n - 1)
    value = n / s0 * float(z @ (standard @ z)) / float(np.sum(z2))
    var_n = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - expected**2
    a = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
    b = k * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
    var_r = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - expected**2
    return {"I": value, "EI": expected, "s0": s0, "var_n": var_n, "var_r": var_r}


def _moran_moments(z: np.ndarray, standard: sparse.csr_matrix) -> dict[str, float]:
    """I and its moments under randomisation: esda's ``Moran`` formulas (Cliff and Ord)."""
    m = moran_moments(z, standard)
    z_rand = (m["I"] - m["EI"]) / np.sqrt(m["var_r"])
    return {
        "I": m["I"],
        "EI": m["EI"],
        "VI_rand": m["var_r"],
        "z_rand": float(z_rand),
        "p_rand": float(stats.norm.sf(z_rand)),
    }


@dataclass(frozen=True)
class JoinCounts:
    """Join counts of the case indicator (binary weights).

    Attributes
    ----------
    bb, bw, ww
        Case–case, case–control and control–control joins (each pair of
        neighbours counted once: half the directed links).
    joins
        All joins.
    expected_bb, variance_bb, z_bb, p_bb
        Moments of BB under non-free sampling (spdep's ``joincount.test``),
        z-score and one-sided normal p-value (more case–case joins).
    p_sim_bb, mean_sim_bb
        Permutation p-value (one-sided) and the mean of the permuted BB.
    permutations, seed, weights
        The permutations, seed and neighbour rule.
    alternative
        ``"greater"`` (more case–case joins than chance), for both p-values.
    """

    bb: float
    bw: float
    ww: float
    joins: float
    expected_bb: float
    variance_bb: float
    z_bb: float
    p_bb: float
    p_sim_bb: float | None
    mean_sim_bb: float | None
    permutations: int
    seed: int | None
    weights: str
    alternative: str = "greater"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def join_counts(
    subjects: gpd.GeoDataFrame,
    *,
    neighbours: Neighbours | W | Graph,
    status: str = "status",
    case: str | Sequence[str] = "case",
    permutations: int = 999,
    seed: int | None = None,
) -> JoinCounts:
    """Case–case join count with analytic and permutation tests.

    Parameters
    ----------
    subjects
        Cases and controls.
    neighbours
        From `build_neighbours`, or a libpysal ``W`` or ``Graph`` in the order of
        `subjects` (copied, used as binary).
    status, case
        The status column and the value (or values) that mark a case.
    permutations
        Random permutations (0 to skip).
    seed
        Seed of the permutations.

    Returns
    -------
    JoinCounts
        BB, BW, WW and the tests of BB.
    """
    y = _indicator(subjects, status, case)
    binary, rule = _weights(neighbours)
    n_all = len(y)
    bb = 0.5 * float(y @ (binary @ y))
    bw = 0.5 * float(y @ (binary @ (1 - y)) + (1 - y) @ (binary @ y))
    ww = 0.5 * float((1 - y) @ (binary @ (1 - y)))
    s0 = float(binary.sum())
    sym = binary + binary.T
    s1 = 0.5 * float(sym.multiply(sym).sum())
    degree = np.asarray(binary.sum(axis=1)).ravel() + np.asarray(binary.sum(axis=0)).ravel()
    s2 = float(np.sum(degree**2))
    n = n_all - _isolated(binary)
    m = float(y.sum())
    expected = s0 * m * (m - 1) / (2 * n * (n - 1))
    variance = s1 * m * (m - 1) / (n * (n - 1))
    variance += (s2 - 2 * s1) * m * (m - 1) * (m - 2) / (n * (n - 1) * (n - 2))
    variance += (
        (s0**2 + s1 - s2) * m * (m - 1) * (m - 2) * (m - 3) / (n * (n - 1) * (n - 2) * (n - 3))
    )
    variance = 0.25 * variance - expected**2
    z = (bb - expected) / np.sqrt(variance) if variance > 0 else np.nan
    p_sim = mean_sim = None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        sims = 0.5 * _quadratic_forms(
            y, binary, permutations, rng, label=f"join counts: {len(y):,} subjects, permutations"
        )
        p_sim = float(upper_p(sims[:, None], bb)[0])
        mean_sim = float(sims.mean())
    return JoinCounts(
        bb=bb,
        bw=bw,
        ww=ww,
        joins=s0 / 2,
        expected_bb=expected,
        variance_bb=variance,
        z_bb=float(z),
        p_bb=float(stats.norm.sf(z)) if np.isfinite(z) else float("nan"),
        p_sim_bb=p_sim,
        mean_sim_bb=mean_sim,
        permutations=permutations,
        seed=seed,
        weights=rule + "; binary",
    )


def _isolated(matrix: sparse.csr_matrix) -> int:
    return int(np.sum(np.diff(matrix.indptr) == 0))


def local_moran(
    subjects: gpd.GeoDataFrame,
    *,
    neighbours: Neighbours | W | Graph,
    status: str = "status",
    case: str | Sequence[str] = "case",
    permutations: int = 999,
    seed: int | None = None,
    alpha: float = 0.05,
    fdr: bool = True,
) -> pd.DataFrame:
    """Local Moran's I (LISA) of the case indicator with cluster labels.

    Parameters
    ----------
    subjects
        Cases and controls (``status``).
    neighbours
        From `build_neighbours`, or a libpysal ``W`` (copied).
    permutations
        Conditional permutations for the pseudo p-values.
    seed
        Seed of the permutations.
    alpha
        Significance level of the labels.
    fdr
        Label as significant the subjects whose Benjamini–Hochberg adjusted
        p-value is at most `alpha` (the default; the same decisions as esda's
        ``fdr``), or, with ``False``, every p-value at most `alpha`.

    Returns
    -------
    pandas.DataFrame
        On the subjects' index: ``lisa_I``, ``lisa_quadrant`` (HH, LH, LL,
        HL), ``lisa_p`` (two-sided permutation p-value, twice the nearer
        tail, NaN for isolates), ``lisa_p_fdr`` (Benjamini–Hochberg adjusted),
        ``lisa_label`` (the quadrant when significant, else
        ``"not significant"``; ``"isolate"`` without neighbours) and
        ``lisa_label_uncorrected`` (the label without the correction).
    """
    y = _indicator(subjects, status, case)
    binary, _ = _weights(neighbours)
    n = len(y)
    standard = _row_standardise(binary)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = esda.Moran_Local(y, _to_graph(binary), transformation="r", permutations=0)
    local_i = np.asarray(lm.Is, dtype=float)
    quadrant = np.array([LISA_LABELS[int(q)] for q in lm.q], dtype=object)
    isolated = np.diff(binary.indptr) == 0
    p = np.full(n, np.nan)
    if permutations > 0:
        rng = np.random.default_rng(seed)
        z = np.asarray(lm.z, dtype=float)
        draws = conditional_draws(n, int(np.diff(binary.indptr).max()), permutations, rng)
        lags = conditional_lags(z, standard, draws, label="LISA: conditional permutations")
        sims = (n - 1) * z * lags / float(z @ z)
        p = two_sided_p(sims, local_i)
        p[isolated] = np.nan
    adjusted = bh_adjust(p)

    def labels(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            significant = np.isfinite(values) & (values <= alpha)
        out = np.where(significant, quadrant, NOT_SIGNIFICANT).astype(object)
        out[isolated] = ISOLATE
        return out

    return pd.DataFrame(
        {
            "lisa_I": local_i,
            "lisa_quadrant": quadrant,
            "lisa_p": p,
            "lisa_p_fdr": adjusted,
            "lisa_label": labels(adjusted if fdr else p),
            "lisa_label_uncorrected": labels(p),
        },
        index=subjects.index,
    )


def getis_ord(
    subjects: gpd.GeoDataFrame,
    *,
    neighbours: Neighbours | W | Graph,
    status: str = "status",
    case: str | Sequence[str] = "case",
    permutations: int = 999,
    seed: int | None = None,
    alpha: float = 0.05,
    fdr: bool = True,
) -> pd.DataFrame:
    """Getis–Ord Gi* of the case indicator (binary weights, each subject its own neighbour).

    Parameters
    ----------
    subjects
        Cases and controls (``status``).
    neighbours
        From `build_neighbours`, or a libpysal ``W`` (copied).
    permutations
        Conditional permutations for ``gi_star_p_sim`` (0 to skip).
    seed
        Seed of the permutations.
    alpha, fdr
        Level of the hot and cold spots, and whether they are chosen from
        Benjamini–Hochberg adjusted p-values (the default) or uncorrected ones.

    Returns
    -------
    pandas.DataFrame
        On the subjects' index: ``gi_star`` (share of cases in the
        neighbourhood), ``gi_star_z`` (esda's analytic z; positive: more
        cases around than the prevalence), ``gi_star_p`` (two-sided normal
        p-value), ``gi_star_p_sim`` (two-sided conditional permutation
        p-value), ``gi_star_p_fdr`` (Benjamini–Hochberg adjusted permutation
        p-value, or analytic without permutations), ``gi_star_label``
        (``"hot spot"``, ``"cold spot"`` or ``"not significant"``) and
        ``gi_star_label_uncorrected``.
    """
    y = _indicator(subjects, status, case)
    binary, _ = _weights(neighbours)
    n = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(y, _to_graph(binary), transform="B", star=True, permutations=0)
    z = np.asarray(g.Zs, dtype=float)
    p_sim = np.full(n, np.nan)
    if permutations > 0:
        rng = np.random.default_rng(seed)
        draws = conditional_draws(n, int(np.diff(binary.indptr).max()), permutations, rng)
        sims = y + conditional_lags(y, binary, draws, label="Gi*: conditional permutations")
        p_sim = two_sided_p(sims, y + binary @ y)
    p_norm = 2 * stats.norm.sf(np.abs(z))
    raw = p_sim if permutations > 0 else p_norm
    adjusted = bh_adjust(raw)

    def labels(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            significant = np.isfinite(values) & (values <= alpha)
        side = np.where(z > 0, HOT_SPOT, COLD_SPOT)
        return np.where(significant & (z != 0), side, NOT_SIGNIFICANT).astype(object)

    return pd.DataFrame(
        {
            "gi_star": np.asarray(g.Gs, dtype=float),
            "gi_star_z": z,
            "gi_star_p": p_norm,
            "gi_star_p_sim": p_sim,
            "gi_star_p_fdr": adjusted,
            "gi_star_label": labels(adjusted if fdr else raw),
            "gi_star_label_uncorrected": labels(raw),
        },
        index=subjects.index,
    )
