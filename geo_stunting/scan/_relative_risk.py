"""Where is the risk raised? A kernel estimate of the spatial relative risk.

The log relative risk surface of Kelsall and Diggle: the log ratio of the
case and control kernel densities, each normalised by its number of points,

    log_rr(u) = log(λ_case(u) / n_case) − log(λ_control(u) / n_control),

with a Gaussian kernel of standard deviation ``bandwidth_m`` (spatstat's
``sigma``). Edge correction follows spatstat's ``density.ppp``: the default
("uniform") divides both densities by the kernel mass inside the window at
``u``, which cancels in the ratio; "diggle" weights each point by the
inverse of its own kernel mass inside the window, which does not.
``p_case = λ_case / (λ_case + λ_control)`` is what spatstat's ``relrisk``
returns for a case-control pattern.

The bandwidth is chosen, unless given, by likelihood cross-validation
exactly as spatstat's ``bw.relrisk(method = "likelihood")``: 32 bandwidths
spaced geometrically between spatstat's ``hmin`` and ``hmax``, each scored by
minus the mean log leave-one-out probability of each point's own type.

Tolerance contours: under random labelling (cases and controls shuffled,
their numbers kept) the total density is fixed, so the pointwise p-value
of raised risk at ``u`` is ``(1 + #{λ_case,sim(u) ≥ λ_case(u)}) / (R + 1)``.
Cells with p < 0.05 and log_rr > 0 are joined into the "raised risk"
polygons (unions of grid cells, not smoothed isolines).

The window is the union of the study-area polygons when there are some,
else the convex hull of the subjects buffered by 5 % of the larger side of
its bounding box.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numba
import numpy as np
import shapely
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.pattern._window import area_union
from geo_stunting.study._config import DEFAULT_SEED

__all__ = [
    "BandwidthChoice",
    "RelativeRiskResult",
    "bandwidth_relrisk",
    "relative_risk_surface",
    "relative_risk_xy",
    "study_window",
]

log = logging.getLogger(__name__)

Edge = Literal["uniform", "diggle", "none"]
#: spatstat.options("n.bandwidth"): bandwidths tried by cross-validation.
N_BANDWIDTHS = 32
#: Grid cells along the longer side of the window when no cell size is given.
DEFAULT_CELLS = 128
#: Hull buffer when there is no study area, as a share of the larger side.
HULL_BUFFER_SHARE = 0.05
_CELL_CHUNK_BYTES = 32_000_000
_EDGE_RASTER_MAX = 2048


@dataclass(frozen=True)
class BandwidthChoice:
    """A bandwidth chosen by likelihood cross-validation (spatstat's ``bw.relrisk``).

    Attributes
    ----------
    bandwidth_m
        The bandwidth with the smallest criterion.
    candidates_m
        The bandwidths tried.
    criterion
        Minus the mean log leave-one-out probability of each point's type.
    """

    bandwidth_m: float
    candidates_m: np.ndarray = field(repr=False, compare=False)
    criterion: np.ndarray = field(repr=False, compare=False)

    @property
    def at_edge(self) -> bool:
        """Whether the best bandwidth is the smallest or largest tried."""
        best = int(np.nanargmin(self.criterion))
        return best in (0, len(self.criterion) - 1)


@dataclass(frozen=True)
class RelativeRiskResult:
    """A kernel relative-risk surface on a grid, with the settings that made it.

    Attributes
    ----------
    x, y
        Centres of the grid cells inside the window.
    log_rr
        Log relative risk (NaN where both densities vanish).
    p_case
        ``λ_case / (λ_case + λ_control)``, as spatstat's ``relrisk``.
    p_value
        Pointwise Monte Carlo p-value of raised risk (NaN without
        replications).
    cell_m, bandwidth_m, bandwidth_method, edge, permutations, seed, alpha
        The settings.
    window
        The study window (a polygon in the analysis CRS).
    window_source
        How the window was made.
    """

    x: np.ndarray = field(repr=False, compare=False)
    y: np.ndarray = field(repr=False, compare=False)
    log_rr: np.ndarray = field(repr=False, compare=False)
    p_case: np.ndarray = field(repr=False, compare=False)
    p_value: np.ndarray = field(repr=False, compare=False)
    cell_m: float
    bandwidth_m: float
    bandwidth_method: str
    edge: str
    permutations: int
    seed: int | None
    alpha: float
    window: shapely.Geometry = field(repr=False)
    window_source: str

    @property
    def significant_high(self) -> np.ndarray:
        """Cells where the risk is raised with pointwise p < `alpha`."""
        with np.errstate(invalid="ignore"):
            return (self.p_value < self.alpha) & (self.log_rr > 0)

    def to_dict(self) -> dict[str, Any]:
        """The ``relative_risk`` section of ``results.json``."""
        n_cells = len(self.x)
        return {
            "bandwidth_m": self.bandwidth_m,
            "bandwidth_method": self.bandwidth_method,
            "cell_m": self.cell_m,
            "n_cells": n_cells,
            "share_window_significant_high": (
                float(self.significant_high.sum() / n_cells)
                if self.permutations and n_cells
                else None
            ),
            "max_log_rr": float(np.nanmax(self.log_rr)) if np.isfinite(self.log_rr).any() else None,
            "edge": self.edge,
            "alpha": self.alpha,
            "window": self.window_source,
            "window_area_m2": float(shapely.area(self.window)),
            "permutations": self.permutations,
            "seed": self.seed,
        }


# --------------------------------------------------------------------------- public API


def study_window(
    subjects: gpd.GeoDataFrame, area: gpd.GeoDataFrame | None = None
) -> tuple[shapely.Geometry, str]:
    """The study window: the area polygons' union, else the buffered hull of the subjects.

    Returns
    -------
    window, source
        The polygon and a sentence saying how it was made.
    """
    if area is not None and len(area):
        union, notes = area_union(area)
        return union, "; ".join(("union of the study-area polygons", *notes))
    hull = shapely.convex_hull(shapely.union_all(np.asarray(subjects.geometry.array)))
    xmin, ymin, xmax, ymax = _bounds(hull)
    buffer_m = max(HULL_BUFFER_SHARE * max(xmax - xmin, ymax - ymin), 1.0)
    return hull.buffer(buffer_m), (
        f"convex hull of the subjects buffered by {buffer_m:,.0f} m (no study area given)"
    )


def relative_risk_surface(
    subjects: gpd.GeoDataFrame,
    *,
    area: gpd.GeoDataFrame | None = None,
    status: str = "status",
    case: str = "case",
    bandwidth_m: float | None = None,
    cell_m: float | None = None,
    edge: Edge = "uniform",
    permutations: int = 999,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    alpha: float = 0.05,
) -> RelativeRiskResult:
    """Kernel log relative risk of cases against controls, with tolerance contours.

    Parameters
    ----------
    subjects
        Case and control points in a projected CRS (metres).
    area
        Study-area polygons; the window is their union (else the buffered
        convex hull of the subjects).
    status, case
        The status column and the value that marks a case.
    bandwidth_m
        Gaussian kernel standard deviation; by default chosen by likelihood
        cross-validation (`bandwidth_relrisk`).
    cell_m
        Grid cell size; default the window's longer side / 128.
    edge
        ``"uniform"`` (spatstat's default), ``"diggle"`` or ``"none"``.
    permutations
        Random labellings for the pointwise p-values (0: none).
    seed, rng
        Seed or generator of the random labelling (default seed otherwise).
    alpha
        Pointwise significance level of the raised-risk contours.

    Returns
    -------
    RelativeRiskResult
        The surface at the centres of the grid cells inside the window.
    """
    if subjects.crs is None or not subjects.crs.is_projected:
        raise AnalysisError(
            Problem(
                "the subjects must be in a projected CRS (metres) for kernel densities",
                fix="project them first, e.g. subjects.to_crs(subjects.estimate_utm_crs())",
            )
        )
    window, source = study_window(subjects, area)
    xy = shapely.get_coordinates(np.asarray(subjects.geometry.array))
    return relative_risk_xy(
        xy[:, 0],
        xy[:, 1],
        (subjects[status] == case).to_numpy(),
        window=window,
        window_source=source,
        bandwidth_m=bandwidth_m,
        cell_m=cell_m,
        edge=edge,
        permutations=permutations,
        seed=seed,
        rng=rng,
        alpha=alpha,
    )


def relative_risk_xy(
    x: np.ndarray,
    y: np.ndarray,
    is_case: np.ndarray,
    *,
    window: shapely.Geometry,
    window_source: str = "given",
    bandwidth_m: float | None = None,
    cell_m: float | None = None,
    edge: Edge = "uniform",
    permutations: int = 999,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    alpha: float = 0.05,
) -> RelativeRiskResult:
    """`relative_risk_surface` on planar coordinates and a window polygon.

    The grid starts at the window's lower-left bounding-box corner; cells
    whose centres lie in the window are kept.
    """
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    cases = np.asarray(is_case, dtype=bool)
    _check(xy, cases, window, bandwidth_m, cell_m, edge, permutations, alpha)
    if rng is None:
        seed = DEFAULT_SEED if seed is None else int(seed)
        rng = np.random.default_rng(seed)
    else:
        seed = None
    if bandwidth_m is None:
        choice = bandwidth_relrisk(xy[:, 0], xy[:, 1], cases, window=window)
        sigma, method = choice.bandwidth_m, "likelihood cross-validation (spatstat bw.relrisk)"
        if choice.at_edge:
            log.warning("relative_risk: the cross-validated bandwidth is at the end of its range")
    else:
        sigma, method = float(bandwidth_m), "fixed"
    xmin, ymin, xmax, ymax = _bounds(window)
    cell = float(cell_m) if cell_m is not None else max(xmax - xmin, ymax - ymin) / DEFAULT_CELLS
    nx = max(1, math.ceil((xmax - xmin) / cell - 1e-9))
    ny = max(1, math.ceil((ymax - ymin) / cell - 1e-9))
    gx, gy = np.meshgrid(xmin + (np.arange(nx) + 0.5) * cell, ymin + (np.arange(ny) + 0.5) * cell)
    inside = shapely.contains_xy(window, gx.ravel(), gy.ravel())
    cx, cy = gx.ravel()[inside], gy.ravel()[inside]
    weights = np.ones(len(xy)) if edge != "diggle" else 1.0 / _edge_mass(xy, window, sigma, cell)
    labels = _labellings(cases, permutations, rng)
    lam_case, lam_all, p_value = _surface(np.column_stack([cx, cy]), xy, weights, labels, sigma)
    n_case, n_control = int(cases.sum()), int((~cases).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_control = lam_all - lam_case
        p_case = np.clip(lam_case / lam_all, 0.0, 1.0)
        log_rr = np.log(lam_case / n_case) - np.log(lam_control / n_control)
    log_rr[~np.isfinite(log_rr)] = np.nan
    log.info(
        "relative_risk: bandwidth %.1f m (%s), %d cells of %.1f m", sigma, method, len(cx), cell
    )
    return RelativeRiskResult(
        x=cx,
        y=cy,
        log_rr=log_rr,
        p_case=p_case,
        p_value=p_value,
        cell_m=cell,
        bandwidth_m=sigma,
        bandwidth_method=method,
        edge=edge,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        window=window,
        window_source=window_source,
    )


def bandwidth_relrisk(
    x: np.ndarray, y: np.ndarray, is_case: np.ndarray, *, window: shapely.Geometry
) -> BandwidthChoice:
    """Likelihood cross-validation of the bandwidth, as spatstat's ``bw.relrisk``.

    Parameters
    ----------
    x, y, is_case
        The points and their type.
    window
        The study window: its area and bounding box set the search range.

    Returns
    -------
    BandwidthChoice
        The chosen bandwidth, the candidates and their criterion.
    """
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    types = np.asarray(is_case, dtype=bool).astype(np.int64)
    counts = np.bincount(types, minlength=2)
    area = float(shapely.area(window))
    xmin, ymin, xmax, ymax = _bounds(window)
    diameter = math.hypot(xmax - xmin, ymax - ymin)
    stoyan_low = 0.15 / math.sqrt(max(1, counts.max()) / area)
    stoyan_high = 0.15 / math.sqrt(max(1, counts.min()) / area)
    marked = np.unique(np.column_stack([xy, types]), axis=0)
    hmin = max(_min_nn_distance(marked[:, :2]), stoyan_low / 5)
    hmax = max(min(diameter / 4, stoyan_high * 20), 2 * hmin)
    h = np.exp(np.linspace(math.log(hmin), math.log(hmax), N_BANDWIDTHS))
    h[0], h[-1] = hmin, hmax
    # density.ppp(at = "points") cuts the kernel at max(8 sigma, 2 * max nn distance)
    cut_all = np.maximum(8 * h, 2 * _max_nn_distance(xy))
    cut_type = np.vstack([np.maximum(8 * h, 2 * _max_nn_distance(xy[types == t])) for t in (0, 1)])
    total, same = _loo_sums(xy, types, h, cut_all, cut_type)
    with np.errstate(divide="ignore", invalid="ignore"):
        criterion = -np.mean(np.log(same / total), axis=0)
    criterion[np.isnan(criterion)] = np.inf
    best = int(np.argmin(criterion))
    return BandwidthChoice(float(h[best]), h, criterion)


# --------------------------------------------------------------------------- internals


def _bounds(geometry: shapely.Geometry) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    return xmin, ymin, xmax, ymax


def _min_nn_distance(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(d[:, 1].min())


def _max_nn_distance(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(d[:, 1].max())


@numba.njit(cache=True, parallel=True)
def _loo_sums(
    xy: np.ndarray, types: np.ndarray, h: np.ndarray, cut_all: np.ndarray, cut_type: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Leave-one-out Gaussian kernel sums at each point: all points, same type."""
    n = xy.shape[0]
    nh = h.size
    total = np.zeros((n, nh))
    same = np.zeros((n, nh))
    inv = 1.0 / (2.0 * h * h)
    cut_all2 = cut_all * cut_all
    cut_type2 = cut_type * cut_type
    for i in numba.prange(n):
        ti = types[i]
        for j in range(n):
            if j == i:
                continue
            dx = xy[j, 0] - xy[i, 0]
            dy = xy[j, 1] - xy[i, 1]
            d2 = dx * dx + dy * dy
            for k in range(nh):
                w = math.exp(-d2 * inv[k])
                if d2 <= cut_all2[k]:
                    total[i, k] += w
                if types[j] == ti and d2 <= cut_type2[ti, k]:
                    same[i, k] += w
    return total, same


def _labellings(cases: np.ndarray, permutations: int, rng: np.random.Generator) -> np.ndarray:
    """``(N, 1 + R)`` case indicators: the observed labels, then R random labellings."""
    base = cases.astype(np.float64)
    out = np.empty((len(base), permutations + 1))
    out[:, 0] = base
    for r in range(permutations):
        out[:, r + 1] = rng.permuted(base)
    return out


def _surface(
    cells: np.ndarray, xy: np.ndarray, weights: np.ndarray, labels: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Case and total kernel sums at the cells, and the pointwise p-values."""
    n_cells = len(cells)
    lam_case = np.empty(n_cells)
    lam_all = np.empty(n_cells)
    permutations = labels.shape[1] - 1
    p_value = np.full(n_cells, np.nan)
    weighted = labels * weights[:, None]
    chunk = max(1, _CELL_CHUNK_BYTES // (8 * max(len(xy), labels.shape[1])))
    for start in range(0, n_cells, chunk):
        part = cells[start : start + chunk]
        d2 = ((part[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
        kernel = np.exp(-d2 / (2 * sigma * sigma))
        sums = kernel @ weighted
        total = kernel @ weights
        rows = slice(start, start + len(part))
        lam_case[rows] = sums[:, 0]
        lam_all[rows] = total
        if permutations:
            tolerance = 1e-10 * total[:, None]
            higher = np.count_nonzero(sums[:, 1:] >= sums[:, :1] - tolerance, axis=1)
            p_value[rows] = (1 + higher) / (permutations + 1)
    norm = 1.0 / (2 * math.pi * sigma * sigma)
    return lam_case * norm, lam_all * norm, p_value


def _edge_mass(xy: np.ndarray, window: shapely.Geometry, sigma: float, cell: float) -> np.ndarray:
    """Kernel mass inside the window at each point, on a raster of the window."""
    xmin, ymin, xmax, ymax = _bounds(window)
    pad = 4 * sigma
    step = max(min(cell, sigma / 20), (max(xmax - xmin, ymax - ymin) + 2 * pad) / _EDGE_RASTER_MAX)
    nx = math.ceil((xmax - xmin + 2 * pad) / step)
    ny = math.ceil((ymax - ymin + 2 * pad) / step)
    x0, y0 = xmin - pad, ymin - pad
    gx, gy = np.meshgrid(x0 + (np.arange(nx) + 0.5) * step, y0 + (np.arange(ny) + 0.5) * step)
    mask = shapely.contains_xy(window, gx.ravel(), gy.ravel()).reshape(ny, nx).astype(float)
    mass = gaussian_filter(mask, sigma=sigma / step, mode="constant", truncate=5.0)
    rows = (xy[:, 1] - y0) / step - 0.5
    cols = (xy[:, 0] - x0) / step - 0.5
    out = map_coordinates(mass, [rows, cols], order=1, mode="nearest")
    return np.asarray(np.clip(out, 1e-12, 1.0), dtype=float)


def _check(
    xy: np.ndarray,
    cases: np.ndarray,
    window: shapely.Geometry,
    bandwidth_m: float | None,
    cell_m: float | None,
    edge: str,
    permutations: int,
    alpha: float,
) -> None:
    problems = []
    if len(cases) != len(xy):
        problems.append(Problem("x, y and is_case must have the same length"))
    if not np.isfinite(xy).all():
        problems.append(
            Problem("some coordinates are missing or not finite", fix="drop those rows")
        )
    if window is None or shapely.is_empty(window) or not shapely.area(window) > 0:
        problems.append(Problem("the window has no area", fix="give study-area polygons"))
    if bandwidth_m is not None and not bandwidth_m > 0:
        problems.append(Problem(f"bandwidth_m = {bandwidth_m} must be positive", fix="or None"))
    if cell_m is not None and not cell_m > 0:
        problems.append(Problem(f"cell_m = {cell_m} must be positive", fix="or None"))
    if edge not in ("uniform", "diggle", "none"):
        problems.append(Problem(f"edge = {edge!r} is not one of 'uniform', 'diggle', 'none'"))
    if permutations < 0:
        problems.append(Problem(f"permutations = {permutations} must be 0 or more"))
    if not 0 < alpha < 1:
        problems.append(Problem(f"alpha = {alpha} must be between 0 and 1"))
    n_case = int(cases.sum())
    if len(cases) and (n_case < 2 or len(cases) - n_case < 2):
        problems.append(
            Problem(
                f"the relative risk needs at least 2 cases and 2 controls; found {n_case} "
                f"case(s) and {len(cases) - n_case} control(s)",
                fix="check the status column and the case value",
            )
        )
    if problems:
        raise AnalysisError(problems)
