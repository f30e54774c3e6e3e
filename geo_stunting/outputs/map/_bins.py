"""Counts per grid cell instead of points, when a map has too many children to draw.

Above `MAP_POINTS_MAX` subjects the web map draws a square grid (cells of a
1, 2 or 5 × 10ⁿ m side, at most about `MAX_CELLS` across the subjects' extent,
on multiples of the side in the analysis CRS) with the cases, controls and
children beyond the coverage radius in each cell, instead of one symbol per
child. At 2 million children the page is then a few MB instead of 200 MB, and
it opens. Highlighted children (LISA clusters, scan members, those beyond the
coverage radius) are still drawn one by one when a group holds at most
`HIGHLIGHT_MAX` of them.

The grid counts the points it is given: the public map gives it the masked
points (`geo_stunting.outputs.donut_mask`), so no cell is placed from a home
that the public map may not show (suppressed children are in no cell).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "GRID_LAYER",
    "HIGHLIGHT_MAX",
    "MAP_POINTS_MAX",
    "MAX_CELLS",
    "cell_side_m",
    "grid_counts",
]

#: Above this many subjects the map shows counts per cell instead of points.
MAP_POINTS_MAX = 20_000
#: A highlight group (LISA, scan members, beyond the buffer) of a binned map keeps its points
#: up to this many; above it the cells' counts say it.
HIGHLIGHT_MAX = 5_000
#: The grid has at most about this many cells across the subjects' bounding box.
MAX_CELLS = 40_000
#: The name of the grid layer on the map (never written to layers.gpkg).
GRID_LAYER = "subjects_grid"
_MIN_SIDE_M = 100.0


def cell_side_m(bounds: tuple[float, float, float, float], *, max_cells: int = MAX_CELLS) -> float:
    """The smallest 1, 2 or 5 × 10ⁿ m side giving at most `max_cells` over `bounds`.

    >>> cell_side_m((0.0, 0.0, 60_000.0, 60_000.0))
    500.0
    >>> cell_side_m((0.0, 0.0, 10.0, 10.0))
    100.0
    """
    minx, miny, maxx, maxy = bounds
    width, height = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    wanted = max(math.sqrt(width * height / max_cells), _MIN_SIDE_M)
    power = 10.0 ** math.floor(math.log10(wanted))
    for factor in (1.0, 2.0, 5.0, 10.0):
        side = factor * power
        if side >= wanted and math.ceil(width / side) * math.ceil(height / side) <= max_cells:
            return float(side)
    return float(10.0 * power)  # pragma: no cover - 10 × power always fits after 5 × power


def grid_counts(
    subjects: gpd.GeoDataFrame, *, side_m: float | None = None
) -> gpd.GeoDataFrame | None:
    """Cases, controls and children beyond the coverage radius per square cell.

    Parameters
    ----------
    subjects
        Points with ``status`` (and ``within_buffer`` after the access step),
        in a projected CRS; missing or empty points are not counted.
    side_m
        Cell side in metres; default `cell_side_m` of the points' extent.

    Returns
    -------
    geopandas.GeoDataFrame or None
        One square per occupied cell: ``cell`` (its side in words),
        ``cell_m``, ``subjects``, ``cases``, ``controls``, ``share_cases_pct``
        and, with ``within_buffer``, ``beyond_buffer``; None without points.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> points = gpd.GeoDataFrame(
    ...     {"status": ["case", "control", "case"]},
    ...     geometry=[Point(10, 10), Point(90, 20), Point(150, 10)],
    ...     crs="EPSG:32748",
    ... )
    >>> grid = grid_counts(points, side_m=100)
    >>> grid[["cases", "controls", "subjects"]].values.tolist()
    [[1, 1, 2], [1, 0, 1]]
    >>> [round(x) for x in grid.geometry.iloc[1].bounds]
    [100, 0, 200, 100]
    """
    import geopandas as gpd  # noqa: PLC0415

    geoms = subjects.geometry
    present = ~(geoms.isna() | geoms.is_empty).to_numpy()
    if not present.any():
        return None
    xy = shapely.get_coordinates(geoms.to_numpy()[present])
    if side_m is None:
        side_m = cell_side_m((*xy.min(axis=0), *xy.max(axis=0)))
    ij = np.floor(xy / side_m).astype(np.int64)
    low_ij = ij.min(axis=0)
    rows = int(ij[:, 1].max() - low_ij[1]) + 1
    # one int64 key per cell, x-major: np.unique of it is the cells in (i, j) order, and far
    # faster than np.unique(ij, axis=0)
    keys, inverse = np.unique(
        (ij[:, 0] - low_ij[0]) * rows + (ij[:, 1] - low_ij[1]), return_inverse=True
    )
    cells = np.column_stack([keys // rows + low_ij[0], keys % rows + low_ij[1]])
    inverse = inverse.ravel()
    k = len(cells)
    status = (
        subjects["status"].to_numpy()[present]
        if "status" in subjects
        else np.full(int(present.sum()), "")
    )
    data: dict[str, Any] = {
        "cell": _side_text(side_m),
        "cell_m": float(side_m),
        "subjects": np.bincount(inverse, minlength=k),
        "cases": np.bincount(inverse, weights=status == "case", minlength=k).astype(np.int64),
        "controls": np.bincount(inverse, weights=status == "control", minlength=k).astype(np.int64),
    }
    data["share_cases_pct"] = 100.0 * data["cases"] / data["subjects"]
    if "within_buffer" in subjects:
        within = subjects["within_buffer"].astype("boolean").to_numpy()[present]
        beyond = pd.array(within, dtype="boolean") == False  # noqa: E712
        data["beyond_buffer"] = np.bincount(
            inverse, weights=beyond.fillna(value=False).to_numpy(dtype=bool), minlength=k
        ).astype(np.int64)
    low = cells * side_m
    squares = shapely.box(low[:, 0], low[:, 1], low[:, 0] + side_m, low[:, 1] + side_m)
    return gpd.GeoDataFrame(data, geometry=squares, crs=subjects.crs)


def _side_text(side_m: float) -> str:
    """``500 → "500 m"``, ``2000 → "2 km"``."""
    return f"{side_m / 1000:g} km" if side_m >= 1000 else f"{side_m:g} m"
