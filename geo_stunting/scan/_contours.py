"""Raised-risk areas as tolerance contours of a relative-risk p-value surface.

Marching squares (`contourpy`, matplotlib's contour engine) on the grid of
`geo_stunting.scan._relative_risk.RelativeRiskResult`: the raised-risk
areas are where the p-value surface (Benjamini–Hochberg adjusted unless the
result says otherwise) is at most alpha, interpolated between cell centres
rather than unions of square cells and closed over one cell (the Monte Carlo
noise of neighbouring p-values would make a staircase), clipped to the support (itself the
contour of the number of subjects within one bandwidth at the support's
floor) and to the window. An area that holds no child is dropped and
counted: the support rule should leave none, and a health office must not
be sent where nobody lives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import contourpy
import numpy as np
import shapely
from scipy.ndimage import zoom

if TYPE_CHECKING:
    from geo_stunting.scan._relative_risk import RelativeRiskResult

__all__ = ["NOISE_CELLS", "SMOOTHING", "RaisedRiskAreas", "raised_risk_areas", "support_region"]

#: The grid is refined this many times by bilinear interpolation before contouring.
SMOOTHING = 4
#: The raised-risk contour is closed (dilated, then eroded) by this many cells (cells are at
#: most a quarter of the bandwidth): neighbouring cells' Monte Carlo p-values scatter around
#: a smooth surface, and the scatter would make a staircase of the contour.
NOISE_CELLS = 1.0


@dataclass(frozen=True)
class RaisedRiskAreas:
    """The tolerance contours of raised risk that hold children.

    Attributes
    ----------
    polygons
        One polygon per area.
    records
        Per area: ``area_m2``, ``max_log_rr``, ``n_subjects`` (children inside).
    n_dropped
        Contour parts that held no child and were dropped.
    level
        The p-value at which the surface was contoured.
    """

    polygons: list[shapely.Geometry] = field(repr=False)
    records: list[dict[str, Any]]
    n_dropped: int
    level: float | None

    def to_dict(self) -> dict[str, Any]:
        """The ``relative_risk.raised_risk_areas`` entry of ``results.json``."""
        return {
            "n_areas": len(self.polygons),
            "area_m2": float(sum(r["area_m2"] for r in self.records)),
            "n_subjects_inside": int(sum(r["n_subjects"] for r in self.records)),
            "n_dropped_without_children": self.n_dropped,
            "method": (
                "tolerance contours of the p-value surface (marching squares between cell "
                "centres), clipped to the support and the window; areas holding no child dropped"
            ),
        }


def _full_grid(result: RelativeRiskResult, values: np.ndarray, fill: float) -> np.ndarray:
    ny, nx = result.grid_shape
    full = np.full(ny * nx, fill, dtype=float)
    full[result.cell_index] = values
    grid = full.reshape(ny, nx)
    return np.pad(grid, 1, constant_values=fill)  # closed contours at the grid's edge


def _axes(result: RelativeRiskResult) -> tuple[np.ndarray, np.ndarray]:
    ny, nx = result.grid_shape
    x0, y0 = result.grid_origin
    xs = x0 + (np.arange(-1, nx + 1) + 0.5) * result.cell_m
    ys = y0 + (np.arange(-1, ny + 1) + 0.5) * result.cell_m
    return xs, ys


def _filled(
    result: RelativeRiskResult,
    grid: np.ndarray,
    lower: float,
    upper: float,
    *,
    smooth: bool = False,
) -> shapely.Geometry:
    xs, ys = _axes(result)
    # bilinear refinement: contours follow the interpolated surface, not the cells' diagonals
    # ((n - 1) * k + 1 samples per axis keep every cell centre as a node of the finer grid)
    factors = [((n - 1) * SMOOTHING + 1) / n for n in grid.shape]
    fine = zoom(grid, factors, order=1, mode="nearest", grid_mode=False)
    xs = np.linspace(xs[0], xs[-1], fine.shape[1])
    ys = np.linspace(ys[0], ys[-1], fine.shape[0])
    generator = contourpy.contour_generator(x=xs, y=ys, z=fine, fill_type="OuterOffset")
    filled: Any = generator.filled(lower, upper)
    polygons = []
    for coords, offset in zip(filled[0], filled[1], strict=True):
        cuts = np.asarray(offset, dtype=np.int64)
        rings = [np.asarray(coords)[cuts[k] : cuts[k + 1]] for k in range(len(cuts) - 1)]
        polygon = shapely.make_valid(shapely.Polygon(rings[0], rings[1:]))
        if not polygon.is_empty:
            polygons.append(polygon)
    if not polygons:
        return shapely.Polygon()
    shape = shapely.union_all(np.asarray(polygons, dtype=object))
    if smooth:  # a closing of one cell: the staircase of neighbouring cells' Monte Carlo noise
        reach = NOISE_CELLS * result.cell_m
        shape = shapely.buffer(shapely.buffer(shape, reach, quad_segs=4), -reach, quad_segs=4)
    return shape


def support_region(result: RelativeRiskResult) -> shapely.Geometry:
    """The support as a polygon: the contour of subjects-within-one-bandwidth at its floor."""
    counts = np.where(result.supported, result.n_within, 0).astype(float)
    grid = _full_grid(result, counts, 0.0)
    level = max(result.support_min_subjects, 1) - 0.5
    region = _filled(result, grid, level, np.inf)
    return shapely.intersection(region, result.window)


def raised_risk_areas(result: RelativeRiskResult) -> RaisedRiskAreas:
    """Contour the raised-risk p-value surface, keep the parts that hold children."""
    p = result.p_fdr if result.fdr else result.p_value
    eligible = result.supported & np.isfinite(p) & (result.log_rr > 0)
    values = np.where(eligible, p, 1.0)
    significant = values <= result.alpha
    if not significant.any():
        return RaisedRiskAreas([], [], 0, None)
    above = values[~significant]
    upper = float(above.min()) if above.size else 1.0
    level = 0.5 * (float(values[significant].max()) + min(upper, 1.0))
    grid = _full_grid(result, values, 1.0)
    shape = _filled(result, grid, -np.inf, level, smooth=True)
    shape = shapely.intersection(shape, support_region(result))
    points = shapely.points(result.points)
    centres = shapely.points(np.column_stack([result.x, result.y]))
    kept, records, dropped = [], [], 0
    for part in shapely.get_parts(shape):
        if shapely.get_type_id(part) != 3 or part.area <= 0:
            continue
        inside = int(np.sum(shapely.contains(part, points)))
        if inside == 0:
            dropped += 1
            continue
        near = shapely.contains(part, centres) & eligible
        rr = result.log_rr[near]
        kept.append(part)
        records.append(
            {
                "area_m2": float(part.area),
                "max_log_rr": float(np.nanmax(rr)) if rr.size else None,
                "n_subjects": inside,
            }
        )
    return RaisedRiskAreas(kept, records, dropped, level)
