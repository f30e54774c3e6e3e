"""Facility buffers, their dissolved union, and the overlay with the study area.

Polygon buffers approximate circles (a regular polygon of ``4 · quad_segs``
vertices on the circle, so slightly inside it). They are used for maps and
for *area* figures only; whether a subject is within reach is decided by
exact distance in `geo_stunting.access.coverage`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.access._core import check_frames, check_radius, facility_labels
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.study._validate import OUTSIDE_M_MAX

__all__ = [
    "area_coverage",
    "coverage_polygons",
    "facility_buffers",
    "locate_in_areas",
    "nearest_ends",
    "nearest_lines",
    "start_coverage",
]

log = logging.getLogger(__name__)

_POLYGONS = (3, 6)
AREA_COLUMNS = (
    "area_m2",
    "covered_m2",
    "covered_pct",
    "subjects_within",
    "subjects_outside",
    "cases_within",
    "cases_outside",
)


def _radii(radius_m: float, rings_m: Iterable[float]) -> list[float]:
    radii = {check_radius(radius_m, "radius_m")}
    radii.update(check_radius(r, "rings_m") for r in rings_m)
    return sorted(radii)


def _check_quad_segs(quad_segs: int) -> int:
    if isinstance(quad_segs, bool) or not isinstance(quad_segs, int | np.integer) or quad_segs < 1:
        raise AnalysisError(
            Problem(
                f"`quad_segs` must be a whole number ≥ 1, got {quad_segs!r}", fix="quad_segs=64"
            )
        )
    return int(quad_segs)


def facility_buffers(
    facilities: gpd.GeoDataFrame,
    *,
    radius_m: float,
    rings_m: Iterable[float] = (),
    quad_segs: int = 64,
) -> gpd.GeoDataFrame:
    """A buffer polygon around every facility, at `radius_m` and every ring radius.

    Parameters
    ----------
    facilities
        Facility points (``facility_id``, optional ``name`` and ``kind``) in a
        projected CRS in metres.
    radius_m
        The buffer radius, e.g. 2000.
    rings_m
        Further radii, e.g. ``(1000, 5000)``; duplicates are dropped.
    quad_segs
        Segments per quarter circle; each buffer is a regular polygon of
        ``4 · quad_segs`` vertices on the circle, whose area falls short of
        π r² by a relative ``1 − sin(2π/N)·N/(2π)`` (N = 4·quad_segs; 1.0e-4 at 64).

    Returns
    -------
    geopandas.GeoDataFrame
        ``facility_id``, ``name``, ``kind``, ``radius_m`` and the polygon, one
        row per facility and radius (ordered by radius, then facility), in the
        facilities' CRS.
    """
    crs = check_frames({"facilities": facilities})
    radii = _radii(radius_m, rings_m)
    segments = _check_quad_segs(quad_segs)
    ids, names, kinds = facility_labels(facilities)
    points = np.asarray(facilities.geometry.array, dtype=object)
    polygons = [shapely.buffer(points, r, quad_segs=segments) for r in radii]
    n = len(points)
    return gpd.GeoDataFrame(
        {
            "facility_id": np.tile(ids, len(radii)),
            "name": np.tile(names, len(radii)),
            "kind": np.tile(kinds, len(radii)),
            "radius_m": np.repeat(np.asarray(radii, dtype=float), n),
        },
        geometry=np.concatenate(polygons),
        crs=crs,
    )


def coverage_polygons(
    facilities: gpd.GeoDataFrame,
    *,
    radius_m: float,
    rings_m: Iterable[float] = (),
    quad_segs: int = 64,
    buffers: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """The dissolved union of the facility buffers, one row per radius.

    Parameters
    ----------
    facilities
        Facility points in a projected CRS in metres.
    radius_m, rings_m, quad_segs
        As in `facility_buffers`.
    buffers
        `facility_buffers` of the same facilities, radii and `quad_segs`,
        when the caller has them already (they are not made twice).

    Returns
    -------
    geopandas.GeoDataFrame
        ``radius_m``, ``n_facilities``, ``area_m2`` and the (multi)polygon.
    """
    if buffers is None:
        buffers = facility_buffers(
            facilities, radius_m=radius_m, rings_m=rings_m, quad_segs=quad_segs
        )
    rows: dict[str, list[Any]] = {"radius_m": [], "n_facilities": [], "area_m2": []}
    geoms = []
    for radius, group in buffers.groupby("radius_m", sort=True):
        union = shapely.union_all(np.asarray(group.geometry.array, dtype=object))
        rows["radius_m"].append(float(radius))
        rows["n_facilities"].append(len(group))
        rows["area_m2"].append(float(union.area))
        geoms.append(union)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=buffers.crs)


def start_coverage(
    facilities: gpd.GeoDataFrame, *, radius_m: float, rings_m: Iterable[float] = ()
) -> Future[tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]]:
    """`facility_buffers` and `coverage_polygons`, made in a thread while the caller goes on.

    GEOS builds and dissolves the buffers without the interpreter lock, so on
    a second core the dissolve (about 0.3 CPU seconds for 1,000 facilities
    at three radii) runs beside the nearest-facility search and the tests of
    the access step. The result is the one made here: ``future.result()``
    gives ``(buffers, coverage)`` or raises what they raised.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coverage")
    try:
        return pool.submit(_buffers_and_coverage, facilities, radius_m, tuple(rings_m))
    finally:
        pool.shutdown(wait=False)  # the thread ends once the work is done


def _buffers_and_coverage(
    facilities: gpd.GeoDataFrame, radius_m: float, rings_m: tuple[float, ...]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    buffers = facility_buffers(facilities, radius_m=radius_m, rings_m=rings_m)
    cover = coverage_polygons(facilities, radius_m=radius_m, rings_m=rings_m, buffers=buffers)
    return buffers, cover


def locate_in_areas(
    subjects: gpd.GeoDataFrame, area: gpd.GeoDataFrame, *, near_m: float = OUTSIDE_M_MAX
) -> pd.Series:
    """The position (0-based row) of the study-area polygon each subject lies in.

    A point on a shared boundary goes to the first polygon touching it. A
    point in no polygon goes to the nearest one within `near_m` (a subject the
    study file kept just outside the area, ``[area] outside_m``), else gets -1.

    Parameters
    ----------
    subjects
        Points in a projected CRS in metres.
    area
        Polygons in the same CRS.
    near_m
        How far outside a polygon a point still counts in it (metres; 0: only
        points in a polygon).

    Returns
    -------
    pandas.Series
        ``area_position`` (int64) on the subjects' index.
    """
    check_frames({"subjects": subjects, "area": area}, geom_types={"area": _POLYGONS})
    positions = _area_positions(subjects, area, near_m=near_m)
    return pd.Series(positions, index=subjects.index, name="area_position")


#: Most cells of the lookup grid in `area_positions_xy`.
_GRID_CELLS = 16_384


def _area_positions(
    subjects: gpd.GeoDataFrame, area: gpd.GeoDataFrame, *, near_m: float = OUTSIDE_M_MAX
) -> np.ndarray:
    xy = shapely.get_coordinates(np.asarray(subjects.geometry.array, dtype=object))
    polygons = np.asarray(area.geometry.array, dtype=object)
    return nearest_within(xy, polygons, area_positions_xy(xy, polygons), near_m)


def nearest_within(
    xy: np.ndarray, polygons: np.ndarray, positions: np.ndarray, near_m: float
) -> np.ndarray:
    """`positions` (-1: in no polygon) with each -1 point given its nearest polygon within `near_m`.

    >>> square = shapely.box(0, 0, 10, 10)
    >>> nearest_within(np.array([[5.0, 5.0], [10.5, 5.0], [40.0, 5.0]]),
    ...                np.array([square]), np.array([0, -1, -1]), 2.0).tolist()
    [0, 0, -1]
    """
    out = np.asarray(positions, dtype=np.int64).copy()
    todo = np.flatnonzero(out < 0)
    if len(todo) == 0 or near_m <= 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    found, nearest = tree.query_nearest(
        shapely.points(xy[todo]), max_distance=near_m, all_matches=False
    )
    out[todo[found]] = nearest
    return out


def area_positions_xy(xy: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Position of the first polygon each point intersects (-1: none), fast.

    A grid over the polygons' bounds is labelled once: cells that touch no
    polygon (their points are in none), cells inside exactly one polygon's
    interior and touching no other (their points are in it), and the rest.
    Only points in the rest — cells crossed by a boundary — are tested
    exactly (`area_positions_exact`), so the answer is the exact one.
    """
    out = np.full(len(xy), -1, dtype=np.int64)
    if len(xy) == 0 or len(polygons) == 0:
        return out
    minx, miny, maxx, maxy = shapely.total_bounds(polygons)
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        return area_positions_exact(xy, polygons)
    cells = max(1, min(_GRID_CELLS, len(xy) // 16))
    cell = max(float(np.sqrt(max(maxx - minx, 1e-9) * max(maxy - miny, 1e-9) / cells)), 1e-9)
    nx, ny = int((maxx - minx) // cell) + 1, int((maxy - miny) // cell) + 1
    gx, gy = np.divmod(np.arange(nx * ny), ny)
    x0, y0 = minx + gx * cell, miny + gy * cell
    boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
    tree = shapely.STRtree(boxes)
    poly_pos, box_pos = tree.query(polygons, predicate="intersects")
    hits = np.bincount(box_pos, minlength=len(boxes))
    label = np.full(len(boxes), -2, dtype=np.int64)  # -2: look exactly
    label[hits == 0] = -1
    alone = hits[box_pos] == 1
    shapely.prepare(polygons)
    inside = shapely.contains_properly(polygons[poly_pos[alone]], boxes[box_pos[alone]])
    label[box_pos[alone][inside]] = poly_pos[alone][inside]
    cx = np.floor((xy[:, 0] - minx) / cell).astype(np.int64)
    cy = np.floor((xy[:, 1] - miny) / cell).astype(np.int64)
    on_grid = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
    out[on_grid] = label[cx[on_grid] * ny + cy[on_grid]]
    todo = np.flatnonzero(out == -2)
    if len(todo) == 0:
        return out
    # Points in boundary cells: test the polygons that touch their cell, and keep the
    # first (lowest position) that the point intersects, as `area_positions_exact` does.
    order = np.argsort(box_pos, kind="stable")
    cell_polys, cell_of_pair = poly_pos[order], box_pos[order]
    start = np.searchsorted(cell_of_pair, np.arange(len(boxes)))
    cell = cx[todo] * ny + cy[todo]
    count = hits[cell]
    point = np.repeat(todo, count)
    offset = np.arange(len(point)) - np.repeat(np.cumsum(count) - count, count)
    candidate = cell_polys[np.repeat(start[cell], count) + offset]
    hit = shapely.intersects_xy(polygons[candidate], xy[point, 0], xy[point, 1])
    best = np.full(len(xy), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, point[hit], candidate[hit])
    out[todo] = np.where(best[todo] == np.iinfo(np.int64).max, -1, best[todo])
    return out


def area_positions_exact(xy: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Position of the first polygon each point intersects (-1: none), point by point."""
    tree = shapely.STRtree(polygons)
    point_pos, area_pos = tree.query(shapely.points(xy), predicate="intersects")
    order = np.lexsort((area_pos, point_pos))
    point_pos, area_pos = point_pos[order], area_pos[order]
    first = np.unique(point_pos, return_index=True)[1]
    out = np.full(len(xy), -1, dtype=np.int64)
    out[point_pos[first]] = area_pos[first]
    return out


def _single_geometry(coverage_polygon: Any) -> shapely.Geometry:
    if isinstance(coverage_polygon, gpd.GeoDataFrame | gpd.GeoSeries):
        if isinstance(coverage_polygon, gpd.GeoDataFrame) and "radius_m" in coverage_polygon:
            radii = coverage_polygon["radius_m"].unique()
            if len(radii) > 1:
                raise AnalysisError(
                    Problem(
                        f"`coverage_polygon` holds several radii ({sorted(radii)})",
                        fix="pick one: cover[cover['radius_m'] == 2000]",
                    )
                )
        return shapely.union_all(np.asarray(coverage_polygon.geometry.array, dtype=object))
    if isinstance(coverage_polygon, shapely.Geometry):
        return coverage_polygon
    raise AnalysisError(
        Problem(
            "`coverage_polygon` must be a shapely geometry, GeoSeries or GeoDataFrame, got "
            f"{type(coverage_polygon).__name__}",
            fix="pass coverage_polygons(facilities, radius_m=2000)",
        )
    )


def area_coverage(
    area: gpd.GeoDataFrame,
    subjects_access: gpd.GeoDataFrame,
    coverage_polygon: Any,
) -> gpd.GeoDataFrame:
    """Overlay the coverage with the study area: covered area and subjects per village.

    Parameters
    ----------
    area
        Study-area polygons (villages), in the subjects' CRS.
    subjects_access
        Subjects with ``status`` and ``within_buffer`` (from
        `geo_stunting.access.coverage`); the flags come from exact distances.
    coverage_polygon
        The dissolved buffer union at the buffer radius: a shapely geometry or
        a one-radius GeoDataFrame/GeoSeries (unioned).

    Returns
    -------
    geopandas.GeoDataFrame
        The area's columns plus ``area_m2``, ``covered_m2``, ``covered_pct``
        (0–100; ``NaN`` for a polygon of zero area), ``subjects_within``,
        ``subjects_outside``, ``cases_within`` and ``cases_outside``. A subject
        counts in the first polygon containing it; subjects outside every
        polygon count nowhere.
    """
    check_frames({"subjects_access": subjects_access, "area": area}, geom_types={"area": _POLYGONS})
    missing = [c for c in ("status", "within_buffer") if c not in subjects_access.columns]
    if missing:
        raise AnalysisError(
            Problem(
                f"`subjects_access` has no column(s) {missing}",
                fix="compute it with geo_stunting.access.coverage(subjects, facilities, "
                "buffer_m=...)",
            )
        )
    cover = _single_geometry(coverage_polygon)
    geoms = np.asarray(area.geometry.array, dtype=object)
    area_m2 = shapely.area(geoms)
    covered_m2 = shapely.area(shapely.intersection(geoms, cover))
    with np.errstate(invalid="ignore", divide="ignore"):
        covered_pct = np.where(area_m2 > 0, 100.0 * covered_m2 / area_m2, np.nan)
    position = _area_positions(subjects_access, area)  # kept just outside: the nearest area
    within = subjects_access["within_buffer"].to_numpy(dtype=bool)
    case = subjects_access["status"].to_numpy() == "case"
    inside = position >= 0
    n = len(area)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(position[inside & mask], minlength=n).astype(np.int64)

    outside_all = int((~inside).sum())
    if outside_all:
        log.info("%d subject(s) lie in no study-area polygon and are not counted", outside_all)
    new = {
        "area_m2": area_m2,
        "covered_m2": covered_m2,
        "covered_pct": covered_pct,
        "subjects_within": count(within),
        "subjects_outside": count(~within),
        "cases_within": count(within & case),
        "cases_outside": count(~within & case),
    }
    clash = {c: f"{c}_input" for c in new if c in area.columns}
    return area.rename(columns=clash).assign(**new)


def nearest_ends(
    subjects_access: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], np.ndarray[Any, np.dtype[np.float64]]]:
    """The two ends of each subject's line to its nearest facility: home and facility x, y.

    Parameters
    ----------
    subjects_access
        Subjects with ``nearest_facility_id``.
    facilities
        The facilities they were measured to (unique ``facility_id``).

    Returns
    -------
    start, end
        ``(n, 2)`` coordinates in the frames' CRS, in the subjects' order.
    """
    check_frames({"subjects_access": subjects_access, "facilities": facilities})
    ids, _, _ = facility_labels(facilities)
    if "nearest_facility_id" not in subjects_access.columns:
        raise AnalysisError(
            Problem(
                "`subjects_access` has no column 'nearest_facility_id'",
                fix="compute it with geo_stunting.access.nearest_facility(subjects, facilities)",
            )
        )
    lookup = pd.Index(ids)
    if not lookup.is_unique:
        raise AnalysisError(
            Problem("facility ids are not unique", fix="give every facility its own id")
        )
    position = lookup.get_indexer(subjects_access["nearest_facility_id"].astype(str))
    if (position < 0).any():
        raise AnalysisError(
            Problem(
                "some nearest_facility_id values are not in `facilities`",
                fix="pass the facilities the distances were computed to",
            )
        )
    start = shapely.get_coordinates(np.asarray(subjects_access.geometry.array, dtype=object))
    end = shapely.get_coordinates(np.asarray(facilities.geometry.array, dtype=object))[position]
    return start, end


def nearest_lines(
    subjects_access: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """A line from every subject to its nearest facility, for maps.

    Parameters
    ----------
    subjects_access
        Subjects with ``nearest_facility_id`` and ``distance_m``.
    facilities
        The facilities they were measured to (unique ``facility_id``).

    Returns
    -------
    geopandas.GeoDataFrame
        ``subject_id`` and ``status`` (if present), ``facility_id``,
        ``distance_m``, ``within_buffer`` (if present) and the line, on the
        subjects' index.
    """
    start, end = nearest_ends(subjects_access, facilities)
    lines = shapely.linestrings(np.stack([start, end], axis=1))
    data = {
        column: subjects_access[column].to_numpy()
        for column in ("subject_id", "status")
        if column in subjects_access.columns
    }
    data["facility_id"] = subjects_access["nearest_facility_id"].to_numpy()
    data["distance_m"] = subjects_access["distance_m"].to_numpy(dtype=float)
    if "within_buffer" in subjects_access.columns:
        data["within_buffer"] = subjects_access["within_buffer"].to_numpy(dtype=bool)
    return gpd.GeoDataFrame(
        data, geometry=lines, crs=subjects_access.crs, index=subjects_access.index
    )
