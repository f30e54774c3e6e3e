"""Kulldorff's discrete Poisson spatial scan on area centroids (SaTScan's Poisson model).

Windows are circles around each area's centroid, growing by whole areas
(nearest centroids first) while they hold at most `max_share` of the
population at risk. With C cases in all, c inside a window and
E = C × (population inside / total population) expected there, a window of
raised risk (c > E) has the log-likelihood ratio

    LLR = c ln(c / E) + (C − c) ln((C − c) / (C − E)),

and 0 otherwise (for low-risk windows, c < E, the same formula).
The most likely cluster has the largest LLR; secondary clusters are the next
best windows sharing no area with a better one (SaTScan's "no geographical
overlap"). Each window's p-value is (1 + #{replicates whose largest LLR ≥
its LLR}) / (replicates + 1), the replicates putting the C cases on the areas
at random in proportion to their population (a multinomial draw, seeded):
SaTScan's Monte Carlo test, conditional on the total.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from geo_stunting.errors import AnalysisError, Problem

__all__ = ["PoissonCluster", "PoissonScan", "poisson_llr", "scan_poisson"]

Direction = Literal["high", "low"]


@dataclass(frozen=True)
class PoissonCluster:
    """One scan window.

    Attributes
    ----------
    centre, areas
        The centre area's code and the codes of the areas inside.
    radius_m
        Distance from the centre to the farthest centroid inside.
    cases, expected, population
        Observed and expected cases and the population inside.
    relative_risk
        (c / E) / ((C − c) / (C − E)): risk inside against outside.
    llr, p
        Log-likelihood ratio and Monte Carlo p-value.
    """

    centre: str
    areas: list[str]
    radius_m: float
    cases: float
    expected: float
    population: float
    relative_risk: float
    llr: float
    p: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class PoissonScan:
    """Result of `scan_poisson`.

    Attributes
    ----------
    clusters
        Most likely cluster first, then secondary clusters (p ≤ `report_p`).
    direction
        ``"high"`` (raised risk) or ``"low"``.
    alternative
        ``"greater"`` for high-risk windows, ``"less"`` for low-risk ones.
    max_share, replicates, seed
        Largest window, Monte Carlo replicates and their seed.
    total_cases, total_population, n_windows
        The totals and the number of distinct windows scanned.
    """

    clusters: list[PoissonCluster]
    direction: str
    alternative: str
    max_share: float
    replicates: int
    seed: int | None
    total_cases: float
    total_population: float
    n_windows: int
    null_llr: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the replicates' LLRs)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("clusters", "null_llr")}
        out["clusters"] = [c.to_dict() for c in self.clusters]
        out["model"] = "discrete Poisson (Kulldorff 1997), circular windows on area centroids"
        return out


def poisson_llr(
    cases: np.ndarray, expected: np.ndarray, total: float, *, direction: Direction = "high"
) -> np.ndarray:
    """Poisson log-likelihood ratio of windows (0 where the risk goes the other way)."""
    c = np.asarray(cases, dtype=float)
    e = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(c > 0, c * np.log(c / e), 0.0)
        rest = total - c
        outside = np.where(rest > 0, rest * np.log(rest / (total - e)), 0.0)
    llr = inside + outside
    wanted = c > e if direction == "high" else c < e
    return np.where(wanted & np.isfinite(llr), llr, 0.0)


def _windows(
    xy: np.ndarray, population: np.ndarray, max_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-first order of areas around each centre and how many fit the population limit."""
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    order = np.argsort(d, axis=1, kind="stable")
    cum = np.cumsum(population[order], axis=1)
    sizes = np.maximum(1, np.sum(cum <= max_share * population.sum() * (1 + 1e-12), axis=1))
    return order, sizes


def _max_llr(
    cases: np.ndarray,
    order: np.ndarray,
    sizes: np.ndarray,
    expected_cum: np.ndarray,
    total: float,
    direction: Direction,
) -> tuple[np.ndarray, np.ndarray]:
    """LLR of every window (centres × sizes; −inf beyond the limit) for one case vector."""
    cum = np.cumsum(cases[order], axis=1)
    llr = poisson_llr(cum, expected_cum, total, direction=direction)
    k = np.arange(order.shape[1])[None, :]
    return np.where(k < sizes[:, None], llr, -np.inf), cum


def scan_poisson(
    areas: gpd.GeoDataFrame,
    *,
    cases: str = "cases",
    population: str = "population",
    id_column: str = "area_code",
    max_share: float = 0.5,
    direction: Direction = "high",
    replicates: int = 999,
    seed: int | None = None,
    report_p: float = 1.0,
) -> PoissonScan:
    """Discrete Poisson spatial scan of area counts (circles on centroids).

    Parameters
    ----------
    areas
        Polygons (projected CRS, metres) with counts; not changed.
    cases, population, id_column
        Columns of the case count, the population at risk and the area code.
    max_share
        Largest window as a share of the total population (SaTScan's 50 %).
    direction
        ``"high"`` (clusters of raised risk) or ``"low"``.
    replicates
        Monte Carlo replicates (SaTScan's default 999).
    seed
        Seed of the replicates.
    report_p
        Secondary clusters are listed when their p-value is at most this.

    Returns
    -------
    PoissonScan
        The most likely cluster and the secondary clusters, with p-values.
    """
    if not 0 < max_share <= 0.5:
        raise AnalysisError(Problem(f"max_share must be in (0, 0.5], got {max_share}"))
    if areas.crs is None or not areas.crs.is_projected:
        raise AnalysisError(
            Problem("the scan needs areas in a projected CRS (metres)", fix="use study.area")
        )
    c = areas[cases].to_numpy(dtype=float)
    pop = areas[population].to_numpy(dtype=float)
    if not (np.isfinite(c).all() and np.isfinite(pop).all()) or (pop <= 0).any():
        raise AnalysisError(
            Problem(
                "the Poisson scan needs cases and a positive population for every area",
                fix="give the number of children measured (sample_size) per area",
            )
        )
    ids = (
        [str(v) for v in areas[id_column]]
        if id_column in areas
        else [str(i) for i in range(len(areas))]
    )
    xy = shapely.get_coordinates(shapely.centroid(np.asarray(areas.geometry.array)))
    total, total_pop = float(c.sum()), float(pop.sum())
    order, sizes = _windows(xy, pop, max_share)
    expected_cum = total * np.cumsum(pop[order], axis=1) / total_pop
    llr, cum = _max_llr(c, order, sizes, expected_cum, total, direction)
    rng = np.random.default_rng(seed)
    null = np.empty(replicates)
    draws = rng.multinomial(round(total), pop / total_pop, size=replicates).astype(float)
    sim_total = float(round(total))
    sim_expected = sim_total * np.cumsum(pop[order], axis=1) / total_pop
    for r in range(replicates):
        sim, _ = _max_llr(draws[r], order, sizes, sim_expected, sim_total, direction)
        null[r] = sim.max()
    clusters = _clusters(llr, cum, expected_cum, order, pop, xy, ids, total, null, report_p)
    n_windows = len(
        {frozenset(order[i, : k + 1]) for i in range(len(ids)) for k in range(sizes[i])}
    )
    return PoissonScan(
        clusters=clusters,
        direction=direction,
        alternative="greater" if direction == "high" else "less",
        max_share=max_share,
        replicates=replicates,
        seed=seed,
        total_cases=total,
        total_population=total_pop,
        n_windows=n_windows,
        null_llr=null,
    )


def _clusters(
    llr: np.ndarray,
    cum: np.ndarray,
    expected_cum: np.ndarray,
    order: np.ndarray,
    pop: np.ndarray,
    xy: np.ndarray,
    ids: list[str],
    total: float,
    null: np.ndarray,
    report_p: float,
) -> list[PoissonCluster]:
    flat = np.argsort(-llr, axis=None, kind="stable")
    used: set[int] = set()
    out: list[PoissonCluster] = []
    for index in flat:
        centre, k = np.unravel_index(index, llr.shape)
        value = float(llr[centre, k])
        if not np.isfinite(value) or value <= 0:
            break
        members = [int(m) for m in order[centre, : k + 1]]
        if used.intersection(members):
            continue
        p = float((1 + np.sum(null >= value - 1e-9)) / (len(null) + 1))
        if out and p > report_p:
            continue
        used.update(members)
        c = float(cum[centre, k])
        e = float(expected_cum[centre, k])
        with np.errstate(divide="ignore", invalid="ignore"):
            rr = (c / e) / ((total - c) / (total - e)) if total > c else float("inf")
        out.append(
            PoissonCluster(
                centre=ids[int(centre)],
                areas=[ids[m] for m in members],
                radius_m=float(np.hypot(*(xy[members[-1]] - xy[int(centre)]))),
                cases=c,
                expected=e,
                population=float(pop[members].sum()),
                relative_risk=float(rr),
                llr=value,
                p=p,
            )
        )
    return out
