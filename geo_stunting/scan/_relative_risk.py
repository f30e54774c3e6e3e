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

Where the data support an estimate. Far from every child both densities
vanish and their ratio is noise (a raised "risk" there is an artefact of
the kernel's tails). The surface is estimated and tested only on the
**support**: grid cells with at least `SUPPORT_MIN_SUBJECTS` subjects
(cases and controls pooled) within one bandwidth of the cell centre, the
pooled-density floor of sparr's and spatstat's practice of masking a
relative-risk image where the control density is too low. The grid has
cells of at most a quarter of the bandwidth (`CELLS_PER_BANDWIDTH`) and
covers the subjects' extent (padded by two bandwidths) inside the window,
not the whole window.

Tolerance contours: under random labelling (cases and controls shuffled,
their numbers kept) the total density is fixed, so the pointwise p-value
of raised risk at ``u`` is ``(1 + #{λ_case,sim(u) ≥ λ_case(u)}) / (R + 1)``
(one-sided, alternative "greater"). The p-values of the supported cells are
corrected for multiple testing with the Benjamini–Hochberg false discovery
rate (or not, ``fdr=False``). The raised-risk areas are the tolerance
contours of the p-value surface at that level (marching squares,
`contourpy`), clipped to the support; an area that holds no child is
dropped (and counted).

The window is the union of the study-area polygons that hold a subject
when there are some, else the convex hull of the subjects buffered by 5 %
of the larger side of its bounding box.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import geopandas as gpd
import numpy as np
import shapely
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.pattern._window import area_union, occupied_areas, reach_subjects
from geo_stunting.scan._bandwidth import BandwidthChoice, bandwidth_relrisk
from geo_stunting.scan._footprints import GridSpec, dense_surface, footprint_surface
from geo_stunting.stats._permutation import bh_adjust
from geo_stunting.study._config import DEFAULT_SEED

__all__ = [
    "BandwidthChoice",
    "RelativeRiskResult",
    "bandwidth_relrisk",
    "relative_risk_surface",
    "relative_risk_xy",
    "study_window",
    "subjects_hull",
]

log = logging.getLogger(__name__)

Edge = Literal["uniform", "diggle", "none"]
#: Grid cells per bandwidth when no cell size is given (cells of at most bandwidth / 4).
CELLS_PER_BANDWIDTH = 4
#: ... and at least this many cells across the grid's longer side, for smooth contours.
MIN_CELLS_ACROSS = 128
#: The support: cells with at least this many subjects within one bandwidth.
SUPPORT_MIN_SUBJECTS = 5
#: The grid covers the subjects' bounding box padded by this many bandwidths.
EXTENT_PAD_BANDWIDTHS = 2.0
#: Most grid cells before the cell is made larger (and said so).
MAX_GRID_CELLS = 4_000_000
#: Hull buffer when there is no study area, as a share of the larger side.
HULL_BUFFER_SHARE = 0.05
#: Up to this many (cell, subject, labelling) terms the surface is one dense product (the demo:
#: 2.4e9); above, each subject's kernel footprint is added per labelling (`_footprints`).
DENSE_MAX_TERMS = 5_000_000_000
_EDGE_RASTER_MAX = 2048


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
        Pointwise one-sided Monte Carlo p-value of raised risk on the
        supported cells (NaN elsewhere and without replications).
    p_fdr
        `p_value` adjusted by Benjamini–Hochberg over the supported cells.
    supported
        Whether each cell is in the support (enough subjects within one
        bandwidth, see `support_min_subjects`).
    n_within
        Subjects within one bandwidth of each cell centre.
    cell_index
        Position of each cell in the full grid, ``row * nx + col``.
    grid_origin, grid_shape
        Lower-left corner ``(x0, y0)`` of the grid and ``(ny, nx)``.
    points
        The subjects' coordinates (for which raised-risk areas hold children).
    cell_m, bandwidth_m, bandwidth_method, edge, permutations, seed, alpha, fdr
        The settings (`fdr`: whether significance uses `p_fdr`).
    support_min_subjects, extent
        The support's floor and what the grid covers (``"subjects"`` or ``"window"``).
    window
        The study window (a polygon in the analysis CRS).
    window_source
        How the window was made.
    notes
        What the user should know about the grid.
    """

    x: np.ndarray = field(repr=False, compare=False)
    y: np.ndarray = field(repr=False, compare=False)
    log_rr: np.ndarray = field(repr=False, compare=False)
    p_case: np.ndarray = field(repr=False, compare=False)
    p_value: np.ndarray = field(repr=False, compare=False)
    p_fdr: np.ndarray = field(repr=False, compare=False)
    supported: np.ndarray = field(repr=False, compare=False)
    n_within: np.ndarray = field(repr=False, compare=False)
    cell_index: np.ndarray = field(repr=False, compare=False)
    grid_origin: tuple[float, float]
    grid_shape: tuple[int, int]
    points: np.ndarray = field(repr=False, compare=False)
    cell_m: float
    bandwidth_m: float
    bandwidth_method: str
    edge: str
    permutations: int
    seed: int | None
    alpha: float
    fdr: bool
    support_min_subjects: int
    extent: str
    window: shapely.Geometry = field(repr=False)
    window_source: str
    notes: tuple[str, ...] = ()

    @property
    def significant_high(self) -> np.ndarray:
        """Supported cells of raised risk: p (FDR-adjusted unless `fdr` is off) ≤ alpha."""
        return self._significant(self.p_fdr if self.fdr else self.p_value)

    @property
    def significant_high_uncorrected(self) -> np.ndarray:
        """Supported cells with an uncorrected pointwise p ≤ alpha and log_rr > 0."""
        return self._significant(self.p_value)

    def _significant(self, p: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.asarray(self.supported & (p <= self.alpha) & (self.log_rr > 0))

    @property
    def support_rule(self) -> str:
        """The support in words."""
        return (
            f"grid cells with at least {self.support_min_subjects} subjects (cases and controls) "
            f"within one bandwidth ({self.bandwidth_m:,.0f} m) of the cell centre"
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``relative_risk`` section of ``results.json``."""
        n_cells = len(self.x)
        cell_area = self.cell_m**2
        n_support = int(self.supported.sum())
        tested = bool(self.permutations) and n_support > 0
        window_area = float(shapely.area(self.window))
        high = self.significant_high
        finite = self.supported & np.isfinite(self.log_rr)
        return {
            "bandwidth_m": self.bandwidth_m,
            "bandwidth_method": self.bandwidth_method,
            "cell_m": self.cell_m,
            "grid": (
                f"cells of {self.cell_m:,.1f} m (at most a quarter of the bandwidth and 1/128 of "
                "the grid's longer side unless cell_m is given) over "
                + (
                    "the subjects' bounding box padded by "
                    f"{EXTENT_PAD_BANDWIDTHS:g} bandwidths, inside the window"
                    if self.extent == "subjects"
                    else "the window"
                )
            ),
            "n_cells": n_cells,
            "support": {
                "rule": self.support_rule,
                "min_subjects": self.support_min_subjects,
                "n_cells": n_support,
                "area_m2": n_support * cell_area,
                "share_of_window": n_support * cell_area / window_area if window_area else None,
            },
            "share_support_significant_high": (float(high.sum() / n_support) if tested else None),
            "share_support_significant_high_uncorrected": (
                float(self.significant_high_uncorrected.sum() / n_support) if tested else None
            ),
            "share_window_significant_high": (
                float(high.sum() * cell_area / window_area) if tested and window_area else None
            ),
            "max_log_rr": float(np.nanmax(self.log_rr[finite])) if finite.any() else None,
            "edge": self.edge,
            "alpha": self.alpha,
            "alternative": "greater",
            "multiple_testing": (
                "Benjamini-Hochberg false discovery rate over the supported cells"
                if self.fdr
                else "none (pointwise p-values)"
            ),
            "window": self.window_source,
            "window_area_m2": window_area,
            "permutations": self.permutations,
            "seed": self.seed,
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- public API


def study_window(
    subjects: gpd.GeoDataFrame, area: gpd.GeoDataFrame | None = None
) -> tuple[shapely.Geometry, str]:
    """The study window: the union of the area polygons holding subjects, else the buffered hull.

    Returns
    -------
    window, source
        The polygon and a sentence saying how it was made.
    """
    xy = shapely.get_coordinates(np.asarray(subjects.geometry.array))
    if area is not None and len(area):
        used, dropped = occupied_areas(area, xy)
        union, notes = area_union(used)
        union, near = reach_subjects(union, xy)  # subjects kept just outside: [area] outside_m
        return union, "; ".join(("union of the study-area polygons", *dropped, *notes, *near))
    return subjects_hull(xy)


def subjects_hull(xy: np.ndarray) -> tuple[shapely.Geometry, str]:
    """The subjects' convex hull buffered by 5 % of the larger side of its bounding box."""
    hull = cast("shapely.Geometry", shapely.convex_hull(shapely.multipoints(xy)))
    xmin, ymin, xmax, ymax = _bounds(hull)
    buffer_m = max(HULL_BUFFER_SHARE * max(xmax - xmin, ymax - ymin), 1.0)
    return shapely.buffer(hull, buffer_m), (
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
    fdr: bool = True,
    support_min_subjects: int = SUPPORT_MIN_SUBJECTS,
) -> RelativeRiskResult:
    """Kernel log relative risk of cases against controls, with tolerance contours.

    Parameters
    ----------
    subjects
        Case and control points in a projected CRS (metres).
    area
        Study-area polygons; the window is the union of those holding a
        subject (else the buffered convex hull of the subjects).
    status, case
        The status column and the value that marks a case.
    bandwidth_m
        Gaussian kernel standard deviation; by default chosen by likelihood
        cross-validation (`bandwidth_relrisk`) over the range spatstat
        derives from the subjects' buffered convex hull, so that the choice
        does not depend on the area file.
    cell_m
        Grid cell size; default a quarter of the bandwidth.
    edge
        ``"uniform"`` (spatstat's default), ``"diggle"`` or ``"none"``.
    permutations
        Random labellings for the pointwise p-values (0: none).
    seed, rng
        Seed or generator of the random labelling (default seed otherwise).
    alpha
        Significance level of the raised-risk contours.
    fdr
        Correct the supported cells' p-values with Benjamini–Hochberg (default).
    support_min_subjects
        The support's floor: subjects within one bandwidth of a cell.

    Returns
    -------
    RelativeRiskResult
        The surface at the centres of the grid cells, with its support.
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
        bandwidth_window=subjects_hull(xy)[0] if len(xy) >= 3 else None,
        cell_m=cell_m,
        edge=edge,
        permutations=permutations,
        seed=seed,
        rng=rng,
        alpha=alpha,
        fdr=fdr,
        support_min_subjects=support_min_subjects,
    )


def relative_risk_xy(
    x: np.ndarray,
    y: np.ndarray,
    is_case: np.ndarray,
    *,
    window: shapely.Geometry,
    window_source: str = "given",
    bandwidth_m: float | None = None,
    bandwidth_window: shapely.Geometry | None = None,
    cell_m: float | None = None,
    edge: Edge = "uniform",
    permutations: int = 999,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    alpha: float = 0.05,
    fdr: bool = True,
    support_min_subjects: int = SUPPORT_MIN_SUBJECTS,
    extent: Literal["subjects", "window"] = "subjects",
) -> RelativeRiskResult:
    """`relative_risk_surface` on planar coordinates and a window polygon.

    With ``extent="window"`` the grid starts at the window's lower-left
    bounding-box corner and covers it (spatstat's pixel grid); with
    ``"subjects"`` (the default) it covers the subjects' bounding box padded
    by two bandwidths. Cells whose centres lie in the window are kept;
    `bandwidth_window` (default `window`) sets the cross-validation range.
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
        search = window if bandwidth_window is None else bandwidth_window
        choice = bandwidth_relrisk(xy[:, 0], xy[:, 1], cases, window=search)
        sigma, method = choice.bandwidth_m, "likelihood cross-validation (spatstat bw.relrisk)"
        if choice.at_edge:
            log.warning("relative_risk: the cross-validated bandwidth is at the end of its range")
    else:
        sigma, method = float(bandwidth_m), "fixed"
    notes: list[str] = []
    if extent == "window":
        xmin, ymin, xmax, ymax = _bounds(window)
    else:
        pad = EXTENT_PAD_BANDWIDTHS * sigma
        wxmin, wymin, wxmax, wymax = _bounds(window)
        xmin = max(float(xy[:, 0].min()) - pad, wxmin)
        ymin = max(float(xy[:, 1].min()) - pad, wymin)
        xmax = min(float(xy[:, 0].max()) + pad, wxmax)
        ymax = min(float(xy[:, 1].max()) + pad, wymax)
    cell = (
        float(cell_m)
        if cell_m is not None
        else min(sigma / CELLS_PER_BANDWIDTH, max(xmax - xmin, ymax - ymin) / MIN_CELLS_ACROSS)
    )
    cells_needed = ((xmax - xmin) / cell) * ((ymax - ymin) / cell)
    if cells_needed > MAX_GRID_CELLS:
        cell *= math.sqrt(cells_needed / MAX_GRID_CELLS)
        notes.append(f"grid cells enlarged to {cell:,.0f} m to keep the grid under 4 million cells")
    nx = max(1, math.ceil((xmax - xmin) / cell - 1e-9))
    ny = max(1, math.ceil((ymax - ymin) / cell - 1e-9))
    gx, gy = np.meshgrid(xmin + (np.arange(nx) + 0.5) * cell, ymin + (np.arange(ny) + 0.5) * cell)
    inside = shapely.contains_xy(window, gx.ravel(), gy.ravel())
    index = np.flatnonzero(inside)
    cx, cy = gx.ravel()[inside], gy.ravel()[inside]
    centres = np.column_stack([cx, cy])
    n_within = np.asarray(
        cKDTree(xy).query_ball_point(centres, r=sigma, return_length=True), dtype=np.int64
    ).reshape(-1)
    supported = n_within >= support_min_subjects
    weights = np.ones(len(xy)) if edge != "diggle" else 1.0 / _edge_mass(xy, window, sigma, cell)
    if len(cx) * len(xy) * (permutations + 1) <= DENSE_MAX_TERMS:
        lam_case, lam_all, p_value = dense_surface(
            centres, xy, weights, cases, supported, permutations, rng, sigma
        )
    else:
        lam_case, lam_all, p_value = footprint_surface(
            xy,
            weights,
            cases,
            GridSpec(xmin, ymin, cell, nx, ny),
            sigma,
            cells=index,
            tested=supported,
            permutations=permutations,
            rng=rng,
        )
    n_case, n_control = int(cases.sum()), int((~cases).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_control = lam_all - lam_case
        p_case = np.clip(lam_case / lam_all, 0.0, 1.0)
        log_rr = np.log(lam_case / n_case) - np.log(lam_control / n_control)
    log_rr[~np.isfinite(log_rr)] = np.nan
    if not supported.any():
        notes.append(
            f"no grid cell has {support_min_subjects} subjects within one bandwidth: nothing "
            "is estimated or tested"
        )
    log.info(
        "relative_risk: bandwidth %.1f m (%s), %d cells of %.1f m, %d supported",
        sigma,
        method,
        len(cx),
        cell,
        int(supported.sum()),
    )
    return RelativeRiskResult(
        x=cx,
        y=cy,
        log_rr=log_rr,
        p_case=p_case,
        p_value=p_value,
        p_fdr=bh_adjust(p_value),
        supported=supported,
        n_within=n_within,
        cell_index=index,
        grid_origin=(xmin, ymin),
        grid_shape=(ny, nx),
        points=xy,
        cell_m=cell,
        bandwidth_m=sigma,
        bandwidth_method=method,
        edge=edge,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        fdr=fdr,
        support_min_subjects=support_min_subjects,
        extent=extent,
        window=window,
        window_source=window_source,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- internals


def _bounds(geometry: shapely.Geometry) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geometry))
    return xmin, ymin, xmax, ymax


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
