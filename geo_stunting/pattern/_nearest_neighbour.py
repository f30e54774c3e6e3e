"""The Clark–Evans nearest-neighbour index, as spatstat, ArcGIS and QGIS compute it.

``R = mean nearest-neighbour distance / (0.5 / sqrt(n / area))``: below 1 the
points are closer together than complete spatial randomness (CSR) would put
them (clustered), above 1 more evenly spread. Three versions of R:

``R_naive``
    The index as published by Clark and Evans (1954), biased upwards near the
    window's edge (a point near the edge has fewer neighbours to be near).
``R_cdf``
    spatstat's "cdf" correction: the mean is taken from the Kaplan–Meier
    (border) estimate of the nearest-neighbour distribution G, which allows
    for the edge.
``R_donnelly``
    Donnelly's (1978) correction of the expected distance for the perimeter;
    rectangular windows only (``None`` otherwise).

The z-test uses the standard error ``0.26136 · sqrt(area) / n`` (as ArcGIS and
QGIS do); the Monte Carlo test simulates CSR with n fixed in the real window
(so the edge effect is in the simulations too) and needs no correction.

Duplicate locations: every subject is a point; subjects sharing a location
(twins, one household) are at distance 0 from each other, as in spatstat.
That pulls R down, rightly: children of one household are clustered. The
count of subjects at shared locations is reported beside R.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from scipy import stats

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.pattern import _pairs as kf
from geo_stunting.pattern._threads import map_in_order, threads_for_numpy_twins
from geo_stunting.pattern._window import StudyWindow, WindowLike, as_window
from geo_stunting.progress import progress

__all__ = [
    "AverageNearestNeighbour",
    "ClarkEvans",
    "average_nearest_neighbour",
    "clark_evans",
    "shared_location_count",
]

#: Standard error constant of the mean nearest-neighbour distance under CSR.
SE_CONSTANT = math.sqrt((4 - math.pi) / (4 * math.pi))  # 0.26136...


@dataclass(frozen=True)
class ClarkEvans:
    """The Clark–Evans index of one group of points, with its tests.

    Attributes
    ----------
    group
        Which points (``"cases"``, ``"controls"``, ``"all"`` …).
    n
        Number of points.
    area_m2, window_kind
        The window's area and kind.
    mean_nnd_m
        Observed mean nearest-neighbour distance.
    expected_nnd_m
        Its expectation under CSR, ``0.5 / sqrt(n / area)``.
    R_naive, R_cdf, R_donnelly
        The index uncorrected, with spatstat's cdf correction, and with
        Donnelly's correction (``None`` unless the window is a rectangle).
    z, p_value
        The z-test of ``R_naive`` (two-sided).
    p_mc
        Two-sided Monte Carlo p-value of ``R_naive`` against `permutations`
        simulations of CSR in the window with n fixed (``None`` if permutations = 0).
    permutations, seed
        The simulations and their seed.
    n_shared_locations
        Points that share their location with another point.
    """

    group: str
    n: int
    area_m2: float
    window_kind: str
    mean_nnd_m: float
    expected_nnd_m: float
    R_naive: float
    R_cdf: float
    R_donnelly: float | None
    z: float
    p_value: float
    p_mc: float | None
    permutations: int
    seed: int | None
    n_shared_locations: int
    alternative: str = "two-sided"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class AverageNearestNeighbour:
    """The table of ArcGIS's Average Nearest Neighbor and QGIS's Nearest Neighbour Analysis.

    Attributes
    ----------
    n
        Number of points.
    area_m2
        The area used.
    area_used
        Which area, in words.
    observed_mean_m, expected_mean_m
        Observed and expected (CSR) mean nearest-neighbour distance.
    index
        Their ratio (the nearest neighbour index, Clark–Evans R).
    z, p_value
        z-score and two-sided normal p-value.
    """

    n: int
    area_m2: float
    area_used: str
    observed_mean_m: float
    expected_mean_m: float
    index: float
    z: float
    p_value: float
    alternative: str = "two-sided"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def _xy(points: gpd.GeoDataFrame | np.ndarray) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame):
        return np.column_stack([points.geometry.x, points.geometry.y]).astype(float)
    return np.asarray(points, dtype=float).reshape(-1, 2)


def shared_location_count(xy: np.ndarray) -> int:
    """Number of points whose coordinates equal another point's."""
    if len(xy) == 0:
        return 0
    _, inverse, counts = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    return int(np.sum(counts[np.ravel(inverse)] > 1))


def clark_evans(
    points: gpd.GeoDataFrame,
    *,
    window: WindowLike,
    group: str = "points",
    permutations: int = 999,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> ClarkEvans:
    """Compute the Clark–Evans index R with its z-test and Monte Carlo test.

    Parameters
    ----------
    points
        The points, in the window's projected CRS (metres).
    window
        The study window (`geo_stunting.pattern.make_window`).
    group
        A label for the points, kept in the result.
    permutations
        Simulations of CSR for the Monte Carlo test (0 to skip it).
    seed, rng
        Seed or generator of the simulations; the same seed gives the same
        p-value.

    Returns
    -------
    ClarkEvans
        The index three ways and both tests.

    Raises
    ------
    AnalysisError
        With fewer than two points.
    """
    window = as_window(window, points)
    xy = _xy(points)
    n = len(xy)
    if n < 2:
        raise AnalysisError(Problem(f"the Clark–Evans index needs at least 2 {group}, got {n}"))
    area = window.area_m2
    nnd = kf.nn_distances(xy)
    mean = float(np.mean(nnd))
    expected = 0.5 / math.sqrt(n / area)
    se = SE_CONSTANT * math.sqrt(area) / n
    z = (mean - expected) / se
    p_value = float(2 * stats.norm.sf(abs(z)))
    r_donnelly = None
    if window.is_rectangle:
        donnelly = expected + (0.0514 + 0.0412 / math.sqrt(n)) * window.perimeter_m / n
        r_donnelly = mean / donnelly
    p_mc = None
    if permutations > 0:
        generator = rng if rng is not None else np.random.default_rng(seed)
        p_mc = _monte_carlo(mean, n, window, permutations, generator)
    return ClarkEvans(
        group=group,
        n=n,
        area_m2=area,
        window_kind=window.kind,
        mean_nnd_m=mean,
        expected_nnd_m=expected,
        R_naive=mean / expected,
        R_cdf=_cdf_mean(xy, window, nnd) / expected,
        R_donnelly=r_donnelly,
        z=z,
        p_value=p_value,
        p_mc=p_mc,
        permutations=permutations,
        seed=seed,
        n_shared_locations=shared_location_count(xy),
    )


def _cdf_mean(xy: np.ndarray, window: StudyWindow, nnd: np.ndarray) -> float:
    """Mean nearest-neighbour distance from the Kaplan–Meier estimate of G (spatstat)."""
    rmax = kf.rmax_rule("G", window, len(xy) / window.area_m2)
    breaks = kf.default_breaks(rmax)
    g = kf.g_estimates(xy, window, breaks, corrections=("km",), nnd=nnd)["km"]
    r = breaks[1:]
    increments = np.diff(g)
    numerator = float(np.sum(r[:-1] * increments))
    denominator = float(np.sum(increments))
    return numerator / denominator if denominator > 0 else math.nan


def _monte_carlo(
    observed_mean: float, n: int, window: StudyWindow, permutations: int, rng: np.random.Generator
) -> float:
    """Two-sided Monte Carlo p-value of the mean nearest-neighbour distance (spatstat's rule)."""
    sims = np.empty(permutations)
    with progress(f"Clark–Evans: {n} points, CSR simulations", total=permutations) as advance:
        patterns = (window.random_points(n, rng=rng) for _ in range(permutations))
        threads = threads_for_numpy_twins(n)
        for k, nnd in enumerate(map_in_order(kf.nn_distances, patterns, threads=threads)):
            sims[k] = np.mean(nnd)
            advance(1)
    upper = (1 + np.sum(sims >= observed_mean)) / (permutations + 1)
    lower = (1 + np.sum(sims <= observed_mean)) / (permutations + 1)
    return float(min(1.0, 2 * min(upper, lower)))


def average_nearest_neighbour(
    points: gpd.GeoDataFrame,
    *,
    window: StudyWindow | None = None,
    area_m2: float | None = None,
) -> AverageNearestNeighbour:
    """The nearest-neighbour table as ArcGIS and QGIS print it, saying which area it used.

    Parameters
    ----------
    points
        The points, in a projected CRS (metres).
    window
        Use this window's area.
    area_m2
        Use this area. Without `window` or `area_m2`, the bounding rectangle
        of the points — what QGIS's Nearest Neighbour Analysis always uses,
        and ArcGIS's Average Nearest Neighbor when no Area is given.

    Returns
    -------
    AverageNearestNeighbour
        Observed and expected mean distance, index, z-score and p-value.
    """
    xy = _xy(points)
    n = len(xy)
    if n < 2:
        raise AnalysisError(Problem(f"the nearest neighbour table needs 2 points, got {n}"))
    if area_m2 is not None:
        area, used = float(area_m2), "the area given"
    elif window is not None:
        area, used = window.area_m2, f"the study window ({window.description})"
    else:
        width, height = np.ptp(xy, axis=0)
        area = float(width * height)
        used = "the bounding rectangle of the points (the QGIS and ArcGIS default)"
    observed = float(np.mean(kf.nn_distances(xy)))
    if not area > 0:  # every point on one line or at one location: no density, no index
        used += (
            "; it has zero area (the points lie on one line or at one location), so the "
            "index is undefined"
        )
        return AverageNearestNeighbour(
            n=n, area_m2=area, area_used=used, observed_mean_m=observed,
            expected_mean_m=math.nan, index=math.nan, z=math.nan, p_value=math.nan,
        )  # fmt: skip
    expected = 0.5 / math.sqrt(n / area)
    se = SE_CONSTANT / math.sqrt(n**2 / area)
    z = (observed - expected) / se
    return AverageNearestNeighbour(
        n=n,
        area_m2=area,
        area_used=used,
        observed_mean_m=observed,
        expected_mean_m=expected,
        index=observed / expected,
        z=z,
        p_value=float(2 * stats.norm.sf(abs(z))),
    )
