"""The discrete Poisson scan against an independent brute-force enumeration of circles."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from geo_stunting.areas import poisson_llr, scan_poisson
from geo_stunting.errors import AnalysisError


def _areas(seed: int, n: int = 14) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10_000, size=(n, 2))
    population = rng.integers(50, 400, size=n)
    risk = np.where(xy[:, 0] < 3000, 0.35, 0.15)  # raised risk in the west
    cases = rng.binomial(population, risk)
    return gpd.GeoDataFrame(
        {
            "area_code": [f"A{i:02d}" for i in range(n)],
            "cases": cases.astype(float),
            "population": population.astype(float),
        },
        geometry=[box(x - 50, y - 50, x + 50, y + 50) for x, y in xy],
        crs="EPSG:32748",
    )


def _llr(c: float, e: float, total: float) -> float:
    """Kulldorff's Poisson LLR written out, high-risk windows only."""
    if c <= e:
        return 0.0
    inside = c * math.log(c / e) if c > 0 else 0.0
    outside = (total - c) * math.log((total - c) / (total - e)) if total > c else 0.0
    return inside + outside


def _brute_windows(
    xy: np.ndarray, cases: np.ndarray, pop: np.ndarray, max_share: float
) -> list[tuple[float, frozenset[int]]]:
    """Every circle around every centroid through every other centroid, by its definition."""
    total, total_pop = cases.sum(), pop.sum()
    found: dict[frozenset[int], float] = {}
    for i in range(len(xy)):
        distances = [math.dist(xy[i], xy[j]) for j in range(len(xy))]
        for radius in sorted(set(distances)):
            members = frozenset(j for j in range(len(xy)) if distances[j] <= radius)
            inside_pop = sum(pop[j] for j in members)
            if inside_pop > max_share * total_pop and len(members) > 1:
                break
            c = sum(cases[j] for j in members)
            found[members] = _llr(c, total * inside_pop / total_pop, total)
    return sorted(((v, k) for k, v in found.items()), key=lambda t: -t[0])


def _brute_clusters(windows: list[tuple[float, frozenset[int]]]) -> list[frozenset[int]]:
    chosen: list[frozenset[int]] = []
    for value, members in windows:
        if value > 0 and not any(members & c for c in chosen):
            chosen.append(members)
    return chosen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_most_likely_and_secondary_clusters_match_brute_force(seed: int) -> None:
    areas = _areas(seed)
    result = scan_poisson(areas, replicates=99, seed=seed)
    xy = np.column_stack([areas.geometry.centroid.x, areas.geometry.centroid.y])
    windows = _brute_windows(
        xy, areas["cases"].to_numpy(), areas["population"].to_numpy(), max_share=0.5
    )
    expected = _brute_clusters(windows)
    codes = areas["area_code"].tolist()
    got = [frozenset(codes.index(a) for a in c.areas) for c in result.clusters]
    assert got == expected
    assert result.clusters[0].llr == pytest.approx(windows[0][0], rel=1e-12)
    assert result.n_windows == len(windows)


def test_monte_carlo_p_follows_the_stated_procedure() -> None:
    areas = _areas(5, n=10)
    seed, replicates = 11, 49
    result = scan_poisson(areas, replicates=replicates, seed=seed)
    cases = areas["cases"].to_numpy()
    pop = areas["population"].to_numpy()
    xy = np.column_stack([areas.geometry.centroid.x, areas.geometry.centroid.y])
    draws = np.random.default_rng(seed).multinomial(
        int(cases.sum()), pop / pop.sum(), size=replicates
    )
    null = [_brute_windows(xy, d.astype(float), pop, 0.5)[0][0] for d in draws]
    np.testing.assert_allclose(np.sort(result.null_llr), np.sort(null), rtol=1e-10)
    best = result.clusters[0].llr
    assert result.clusters[0].p == pytest.approx(
        (1 + sum(v >= best - 1e-9 for v in null)) / (replicates + 1)
    )
    assert result.alternative == "greater"


def test_the_planted_cluster_is_found_and_the_same_seed_repeats() -> None:
    areas = _areas(8, n=40)
    first = scan_poisson(areas, replicates=199, seed=4)
    again = scan_poisson(areas, replicates=199, seed=4)
    assert first.to_dict() == again.to_dict()
    top = first.clusters[0]
    west = set(areas.loc[areas.geometry.centroid.x < 3000, "area_code"])
    assert len(set(top.areas) & west) >= len(top.areas) / 2
    assert top.p <= 0.05
    assert top.relative_risk > 1
    assert top.population <= 0.5 * areas["population"].sum()


def test_llr_is_zero_for_low_windows_when_scanning_high() -> None:
    assert poisson_llr(np.array([1.0]), np.array([5.0]), 10.0).tolist() == [0.0]
    low = poisson_llr(np.array([1.0]), np.array([5.0]), 10.0, direction="low")
    assert low[0] == pytest.approx(_llr(9.0, 5.0, 10.0))  # the complement's view


def test_scan_refuses_geographic_crs_and_missing_population() -> None:
    areas = _areas(1)
    with pytest.raises(AnalysisError, match="projected CRS"):
        scan_poisson(areas.to_crs(4326))
    broken = areas.assign(population=np.nan)
    with pytest.raises(AnalysisError, match="positive population"):
        scan_poisson(broken)
