"""The study window: the region in which a point pattern is observed.

Every statistic of a point pattern — the Clark–Evans index, Ripley's K, the
nearest-neighbour distribution G — compares the points with what complete
spatial randomness (CSR) would put *in the same region*. The region matters:
the same points look clustered in a large rectangle and regular in a tight
hull. `make_window` builds it, records which kind it is and its area, and
simulates CSR inside it.

Kinds
-----
``"area"``
    The union of the study-area polygons (villages) that hold at least one
    subject. The default when the study has an area: it is where children
    were sampled. Polygons without a subject (the rest of a regency's
    villages, when the area file covers the whole regency) are left out and
    noted, and a note says when the window is much larger than the subjects'
    convex hull (CSR then calls any group of children clustered).
``"convex_hull"``
    The convex hull of the subjects. The default without an area.
``"rectangle"``
    The bounding rectangle of the subjects, as QGIS's and ArcGIS's nearest
    neighbour tools assume when no area is given.
``"polygon"``
    A polygon the user gives (in the analysis CRS).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.study._validate import BORDER_TOLERANCE_M, OUTSIDE_M_MAX

__all__ = [
    "WINDOW_KINDS",
    "StudyWindow",
    "WindowKind",
    "WindowLike",
    "area_union",
    "as_window",
    "make_window",
    "occupied_areas",
    "reach_subjects",
]

log = logging.getLogger(__name__)

WindowKind = Literal["area", "convex_hull", "rectangle", "polygon"]
WINDOW_KINDS: tuple[str, ...] = ("area", "convex_hull", "rectangle", "polygon")
#: Points closer than this to the window (outside it) count as inside (metres).
INSIDE_TOLERANCE_M = BORDER_TOLERANCE_M  # the tolerance validation accepts subjects with
#: Holes narrower than this (2·area/perimeter) in a union of villages are gaps
#: between neighbouring boundaries, not places where nobody lives: they are filled.
SLIVER_WIDTH_M = 10.0
#: A window more than this many times the area of the subjects' convex hull gets a note.
LARGE_WINDOW_RATIO = 4.0

_DESCRIPTIONS = {
    "area": "the union of the study-area polygons",
    "convex_hull": "the convex hull of the subjects",
    "rectangle": "the bounding rectangle of the subjects",
    "polygon": "a polygon given by the user",
}


@dataclass(frozen=True)
class StudyWindow:
    """A polygonal observation window in a projected CRS (metres).

    Attributes
    ----------
    kind
        ``"area"``, ``"convex_hull"``, ``"rectangle"`` or ``"polygon"``.
    geometry
        The window: a Polygon or MultiPolygon, exterior rings
        counter-clockwise and holes clockwise.
    area_m2
        Its area in square metres.
    perimeter_m
        Its perimeter in metres (holes included).
    description
        The kind in words.
    """

    kind: str
    geometry: BaseGeometry
    area_m2: float
    perimeter_m: float
    description: str
    _triangles: np.ndarray = field(repr=False, compare=False)
    _cumulative: np.ndarray = field(repr=False, compare=False)
    notes: tuple[str, ...] = ()

    @property
    def is_rectangle(self) -> bool:
        """Whether the window is an axis-parallel rectangle."""
        minx, miny, maxx, maxy = self.geometry.bounds
        return bool(abs((maxx - minx) * (maxy - miny) - self.area_m2) <= 1e-9 * self.area_m2)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)``."""
        minx, miny, maxx, maxy = self.geometry.bounds
        return float(minx), float(miny), float(maxx), float(maxy)

    def edges(self) -> np.ndarray:
        """Return the boundary segments as an ``(m, 4)`` array ``x0, y0, x1, y1``.

        The interior lies to the left of every segment.
        """
        parts = []
        for polygon in shapely.get_parts(self.geometry):
            for ring in (polygon.exterior, *polygon.interiors):
                xy = np.asarray(ring.coords, dtype=float)
                parts.append(np.column_stack([xy[:-1], xy[1:]]))
        out = np.concatenate(parts)
        keep = (out[:, 0] != out[:, 2]) | (out[:, 1] != out[:, 3])
        return np.ascontiguousarray(out[keep])

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Whether each point of an ``(n, 2)`` array is in the window (boundary included)."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        shapely.prepare(self.geometry)  # an index of the edges, kept with the geometry
        inside = np.asarray(shapely.contains_xy(self.geometry, xy[:, 0], xy[:, 1]), dtype=bool)
        rest = np.flatnonzero(~inside)
        if len(rest):  # on the boundary, or just outside within the tolerance
            inside[rest] = shapely.dwithin(
                self.geometry, shapely.points(xy[rest]), INSIDE_TOLERANCE_M
            )
        return inside

    def boundary_distance(self, xy: np.ndarray) -> np.ndarray:
        """Distance in metres from each point to the window's boundary."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return np.asarray(shapely.distance(self.geometry.boundary, shapely.points(xy)), dtype=float)

    def random_points(self, n: int, *, rng: np.random.Generator) -> np.ndarray:
        """Return ``n`` points drawn uniformly in the window (CSR with ``n`` fixed).

        Parameters
        ----------
        n
            Number of points.
        rng
            The random number generator.

        Returns
        -------
        numpy.ndarray
            ``(n, 2)`` coordinates.
        """
        draws = rng.random(n)
        uv = rng.random((n, 2))
        from geo_stunting.pattern._small import (  # noqa: PLC0415
            SMALL_PATTERN_POINTS,
            points_in_triangles_small,
        )

        if n <= SMALL_PATTERN_POINTS:  # NumPy, the same points: nothing to compile on a first run
            return points_in_triangles_small(draws, uv, self._cumulative, self._triangles)
        # compiled (numba), imported here: the access step uses windows without loading numba
        from geo_stunting.pattern._uniform import points_in_triangles  # noqa: PLC0415

        return np.asarray(points_in_triangles(draws, uv, self._cumulative, self._triangles))

    def to_frame(self, crs: Any) -> gpd.GeoDataFrame:
        """The window as a one-row GeoDataFrame (``kind``, ``area_m2``) in `crs`."""
        return gpd.GeoDataFrame(
            {"kind": [self.kind], "area_m2": [self.area_m2], "description": [self.description]},
            geometry=[self.geometry],
            crs=crs,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"kind", "area_m2", "perimeter_m", "description", "notes"}`` for ``results.json``."""
        return {
            "kind": self.kind,
            "area_m2": self.area_m2,
            "perimeter_m": self.perimeter_m,
            "description": self.description,
            "notes": list(self.notes),
        }


#: A pattern function's window: ours, a shapely polygon, or polygons in a GeoSeries/GeoDataFrame.
WindowLike: TypeAlias = StudyWindow | BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame


def as_window(window: WindowLike, points: gpd.GeoDataFrame) -> StudyWindow:
    """Return `window` as a `StudyWindow` for the pattern `points`.

    A `StudyWindow` is returned as it is; a shapely (Multi)Polygon in the CRS
    of `points` becomes a ``"polygon"`` window; a GeoSeries or GeoDataFrame of
    polygons becomes an ``"area"`` window (the union of its polygons) and must
    share the CRS of `points`.

    Raises
    ------
    AnalysisError
        If the window is of another type, its CRS differs, or points lie outside it.
    """
    if isinstance(window, StudyWindow):
        return window
    if isinstance(window, gpd.GeoSeries | gpd.GeoDataFrame):
        if window.crs is not None and points.crs is not None and window.crs != points.crs:
            raise AnalysisError(
                Problem(
                    f"the window's CRS ({window.crs.to_string()}) differs from the points' "
                    f"({points.crs.to_string()})",
                    fix="reproject one of them: window.to_crs(points.crs)",
                )
            )
        area = window if isinstance(window, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=window)
        # a window the caller gives is used whole (the step's default keeps occupied areas only)
        return make_window(points, area=area, occupied_only=False)
    if isinstance(window, BaseGeometry):
        return make_window(points, polygon=window)
    raise AnalysisError(
        Problem(
            f"window must be a StudyWindow, a shapely polygon or a GeoSeries, got "
            f"{type(window).__name__}",
            fix="build one with geo_stunting.make_window(points, area=villages)",
        )
    )


def make_window(
    subjects: gpd.GeoDataFrame,
    *,
    area: gpd.GeoDataFrame | None = None,
    kind: WindowKind | None = None,
    polygon: BaseGeometry | None = None,
    occupied_only: bool = True,
) -> StudyWindow:
    """Build the study window of a point pattern.

    Parameters
    ----------
    subjects
        The points (cases and controls) in a projected CRS.
    area
        Study-area polygons in the same CRS; needed for ``kind="area"``.
    kind
        ``"area"`` (union of `area`), ``"convex_hull"`` or ``"rectangle"``
        (of `subjects`), or ``"polygon"`` (`polygon`). Default: ``"area"``
        when `area` is given, else ``"convex_hull"``; ``"polygon"`` when
        `polygon` is given.
    polygon
        The window for ``kind="polygon"``, in the CRS of `subjects`.
    occupied_only
        For ``kind="area"``: use only the polygons that hold a subject (the
        default), or every polygon of `area`.

    Returns
    -------
    StudyWindow
        The window, its kind and its area.

    Raises
    ------
    AnalysisError
        If the kind cannot be built (no area, too few points) or subjects
        lie outside the window.

    Examples
    --------
    >>> import geo_stunting as gs
    >>> from geo_stunting.pattern._window import make_window
    >>> study = gs.load_study(gs.demo_study_path())
    >>> window = make_window(study.subjects, area=study.area)
    >>> window.kind, round(window.area_m2 / 1e6, 1)
    ('area', 111.1)
    """
    if kind is None:
        kind = "polygon" if polygon is not None else ("area" if area is not None else "convex_hull")
    if kind not in WINDOW_KINDS:
        raise AnalysisError(
            Problem(
                f"unknown window kind {kind!r}",
                fix=f"use one of {', '.join(WINDOW_KINDS)}",
            )
        )
    xy = _coordinates(subjects)
    notes: tuple[str, ...] = ()
    if kind == "area" and occupied_only and area is not None and len(area):
        area, notes = occupied_areas(area, xy)
    geometry, more = _window_geometry(kind, xy, area, polygon)
    notes += more
    if kind == "area":  # subjects the study file kept just outside it ([area] outside_m)
        geometry, more = reach_subjects(geometry, xy)
        notes += more
    geometry = shapely.orient_polygons(geometry, exterior_cw=False)
    if kind in ("area", "polygon") and len(xy) >= 3:
        hull_area = float(shapely.area(shapely.convex_hull(shapely.multipoints(xy))))
        window_area = float(shapely.area(geometry))
        ratio = window_area / max(hull_area, 1.0)
        if ratio > LARGE_WINDOW_RATIO:
            big, small = window_area / 1e6, hull_area / 1e6
            note = (
                f"the window ({big:,.1f} km²) is {ratio:,.0f} times the subjects' convex hull "
                f"({small:,.1f} km²): against randomness in it any group of children looks "
                "clustered; the case-control tests do not depend on it"
            )
            notes += (note,)
    window = _finish(kind, geometry, notes)
    outside = ~window.contains(xy)
    if outside.any():
        ids = subjects["subject_id"].to_numpy()[outside] if "subject_id" in subjects else None
        shown = ", ".join(map(str, ids[:5])) if ids is not None else f"{int(outside.sum())}"
        raise AnalysisError(
            Problem(
                f"{int(outside.sum())} subject(s) lie outside the study window "
                f"({window.description}): {shown}",
                fix='reject points outside the area (outside = "reject" in [area], the '
                "default), or give a window that contains every subject (make_window("
                'kind="convex_hull" or polygon=...)',
            )
        )
    log.info("study window: %s, %.0f m²", window.description, window.area_m2)
    return window


def _coordinates(subjects: gpd.GeoDataFrame) -> np.ndarray:
    if not isinstance(subjects, gpd.GeoDataFrame):
        raise AnalysisError(
            Problem(
                f"subjects must be a GeoDataFrame, got {type(subjects).__name__}",
                fix="pass study.subjects",
            )
        )
    if subjects.crs is not None and not subjects.crs.is_projected:
        raise AnalysisError(
            Problem(
                "subjects are in a geographic CRS; distances would be in degrees",
                fix="project them first (study.subjects already is)",
            )
        )
    geoms = np.asarray(subjects.geometry.array)
    return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]).astype(float)


def _window_geometry(
    kind: str, xy: np.ndarray, area: gpd.GeoDataFrame | None, polygon: BaseGeometry | None
) -> tuple[BaseGeometry, tuple[str, ...]]:
    if kind == "area":
        if area is None or len(area) == 0:
            raise AnalysisError(
                Problem(
                    'window kind "area" needs study-area polygons, and the study has none',
                    fix='add an [area] section, or use kind="convex_hull"',
                )
            )
        return area_union(area)
    if kind == "polygon":
        if polygon is None:
            raise AnalysisError(
                Problem('window kind "polygon" needs a polygon', fix="pass polygon=...")
            )
        geometry = shapely.make_valid(polygon)
    else:
        if len(xy) < 3:
            raise AnalysisError(
                Problem(
                    f"a {kind.replace('_', ' ')} window needs at least 3 subjects, got {len(xy)}"
                )
            )
        points = shapely.multipoints(xy)
        hull = shapely.convex_hull(points) if kind == "convex_hull" else shapely.envelope(points)
        geometry = cast("BaseGeometry", hull)
    return _polygonal(geometry, kind), ()


def _polygonal(geometry: BaseGeometry, kind: str) -> BaseGeometry:
    """The polygons of `geometry` (dropping lines and points make_valid may leave)."""
    polygons = [g for g in shapely.get_parts(geometry) if shapely.get_type_id(g) == 3]
    polygons += [
        p
        for g in shapely.get_parts(geometry)
        if shapely.get_type_id(g) in (6, 7)
        for p in shapely.get_parts(g)
        if shapely.get_type_id(p) == 3
    ]
    polygons = [p for p in polygons if p.area > 0]
    if not polygons:
        raise AnalysisError(
            Problem(
                f"the {_DESCRIPTIONS[kind]} has no area (are the subjects on one line?)",
                fix='use kind="area" or give a polygon',
            )
        )
    return shapely.union_all(np.asarray(polygons, dtype=object))


def occupied_areas(
    area: gpd.GeoDataFrame, xy: np.ndarray
) -> tuple[gpd.GeoDataFrame, tuple[str, ...]]:
    """The study-area polygons that hold at least one of the points `xy`, and a note.

    A point on a shared boundary counts for every polygon it touches. When no
    polygon holds a point (the points are not in the area), `area` is returned
    unchanged, and the outside points are reported by the caller.
    """
    geoms = shapely.make_valid(np.asarray(area.geometry.array))
    tree = shapely.STRtree(geoms)
    points = np.asarray(shapely.points(xy), dtype=object)
    found, hit = tree.query(points, predicate="intersects")
    keep = np.zeros(len(area), dtype=bool)
    keep[np.unique(hit)] = True
    alone = np.setdiff1d(np.arange(len(xy)), found)  # in no polygon: kept just outside?
    if len(alone):
        _, nearest = tree.query_nearest(points[alone], max_distance=OUTSIDE_M_MAX)
        keep[nearest] = True
    if keep.all() or not keep.any():
        return area, ()
    left = int((~keep).sum())
    dropped = float(np.sum(shapely.area(geoms[~keep])))
    note = (
        f"{left} of {len(area)} study-area polygons hold no subject ({dropped / 1e6:,.1f} km²) "
        "and are left out of the window"
    )
    return area[keep], (note,)


def reach_subjects(geometry: BaseGeometry, xy: np.ndarray) -> tuple[BaseGeometry, tuple[str, ...]]:
    """`geometry` with a disc around each point just outside it, reaching it, and a note.

    A subject the study file kept up to `OUTSIDE_M_MAX` outside the study
    area (``[area] outside_m``: boundary files and GPS fixes disagree by tens
    of metres) gets a disc centred on it whose radius is its distance to the
    area plus 2 m, so that the window holds it and stays the area everywhere
    else. Points farther out are left outside (the caller decides).

    >>> square = shapely.box(0, 0, 100, 100)
    >>> grown, notes = reach_subjects(square, np.array([[50.0, 50.0], [110.0, 50.0]]))
    >>> bool(grown.contains(shapely.Point(110, 50))), round(grown.area - square.area)
    (True, 432)
    """
    points = np.asarray(shapely.points(xy), dtype=object)
    shapely.prepare(geometry)
    out = np.flatnonzero(~shapely.dwithin(geometry, points, INSIDE_TOLERANCE_M))
    if len(out) == 0:
        return geometry, ()
    distance = shapely.distance(geometry, points[out])
    near = distance <= OUTSIDE_M_MAX
    if not near.any():
        return geometry, ()
    discs = shapely.buffer(points[out][near], distance[near] + 2 * INSIDE_TOLERANCE_M)
    grown = _polygonal(shapely.union_all([geometry, *discs]), "area")
    added = float(shapely.area(grown) - shapely.area(geometry))
    note = (
        f"{int(near.sum())} subject(s) lie up to {float(distance[near].max()):,.0f} m outside the "
        "study area (kept with outside_m in [area]): the window adds a disc around each, "
        f"reaching the area ({added / 1e6:,.3f} km²)"
    )
    return grown, (note,)


def area_union(area: gpd.GeoDataFrame) -> tuple[BaseGeometry, tuple[str, ...]]:
    """The union of study-area polygons, with gaps narrower than `SLIVER_WIDTH_M` filled.

    Real village boundaries leave thin slivers between neighbours; they are
    not part of any village, so they are filled (and said so in the notes).
    Every step that uses "the union of the study-area polygons" uses this.
    """
    union = shapely.union_all(shapely.make_valid(np.asarray(area.geometry.array)))
    geometry, filled = _fill_slivers(_polygonal(union, "area"))
    if not filled:
        return geometry, ()
    note = (
        f"{filled} gap(s) narrower than {SLIVER_WIDTH_M:g} m between neighbouring areas were filled"
    )
    return geometry, (note,)


def _fill_slivers(geometry: BaseGeometry) -> tuple[BaseGeometry, int]:
    """Drop holes narrower than `SLIVER_WIDTH_M`; return the geometry and how many."""
    filled = 0
    parts = []
    for polygon in shapely.get_parts(geometry):
        keep = []
        for ring in polygon.interiors:
            hole = shapely.Polygon(ring)
            if 2 * hole.area / max(hole.length, 1e-12) < SLIVER_WIDTH_M:
                filled += 1
            else:
                keep.append(ring)
        parts.append(shapely.Polygon(polygon.exterior, keep))
    if not filled:
        return geometry, 0
    return shapely.union_all(np.asarray(parts, dtype=object)), filled


def _finish(kind: str, geometry: BaseGeometry, notes: tuple[str, ...] = ()) -> StudyWindow:
    triangles = [
        np.asarray(tri.exterior.coords, dtype=float)[:3]
        for polygon in shapely.get_parts(geometry)
        for tri in shapely.get_parts(shapely.constrained_delaunay_triangles(polygon))
    ]
    tri_xy = np.asarray(triangles, dtype=float).reshape(-1, 3, 2)
    ab = tri_xy[:, 1] - tri_xy[:, 0]
    ac = tri_xy[:, 2] - tri_xy[:, 0]
    tri_area = 0.5 * np.abs(ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0])
    return StudyWindow(
        kind=kind,
        geometry=geometry,
        area_m2=float(geometry.area),
        perimeter_m=float(geometry.length),
        description=_DESCRIPTIONS[kind],
        _triangles=tri_xy,
        _cumulative=np.cumsum(tri_area),
        notes=notes,
    )
