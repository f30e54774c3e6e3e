"""Nearest facility by exact distance, on arrays, and the checks of the input frames.

- Planar: a `scipy.spatial.cKDTree` on the facilities' projected
  coordinates; distances are exact Euclidean distances in metres.
- Geodesic (used when the subjects span more than one UTM zone): exact
  nearest by ellipsoidal (WGS 84) distance. The straight chord between two
  points on the ellipsoid is never longer than the geodesic between them, so
  every facility geodesically closer than a candidate at geodesic distance
  ``g`` lies within chord distance ``g``. Candidates are taken by chord from a
  k-d tree on Earth-centred (EPSG:4978) coordinates until that bound is
  covered, and the nearest is chosen among them by `pyproj.Geod` distance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from scipy.spatial import cKDTree

from geo_stunting.errors import AnalysisError, Problem

__all__ = [
    "NearestArrays",
    "check_frames",
    "check_radius",
    "facility_labels",
    "geodesic_distance",
    "kind_key",
    "nearest_geodesic",
    "nearest_planar",
    "point_coordinates",
    "single_utm_zone",
    "to_lonlat",
    "utm_zone",
    "utm_zones_spanned",
]

GEOD = Geod(ellps="WGS84")
_WGS84 = CRS.from_epsg(4326)
_ECEF = CRS.from_epsg(4978)
#: Margin (degrees) around a transformed bounding box before trusting it for the UTM-zone test.
_BOUNDS_MARGIN_DEG = 0.01


@dataclass(frozen=True)
class NearestArrays:
    """Position of the nearest facility and the distance to it, per subject."""

    index: np.ndarray
    distance_m: np.ndarray


def nearest_planar(
    subject_xy: np.ndarray, facility_xy: np.ndarray, *, workers: int = 1
) -> NearestArrays:
    """Nearest facility by Euclidean distance in a projected CRS (k-d tree)."""
    tree = cKDTree(facility_xy)
    distance, index = tree.query(subject_xy, k=1, workers=workers)
    return NearestArrays(np.asarray(index, dtype=np.int64), np.asarray(distance, dtype=float))


def geodesic_distance(lonlat_a: np.ndarray, lonlat_b: np.ndarray) -> np.ndarray:
    """WGS 84 ellipsoidal distance in metres between paired lon/lat points."""
    if len(lonlat_a) == 0:
        return np.empty(0)
    _, _, dist = GEOD.inv(lonlat_a[:, 0], lonlat_a[:, 1], lonlat_b[:, 0], lonlat_b[:, 1])
    return np.asarray(dist, dtype=float)


def _ecef(lonlat: np.ndarray) -> np.ndarray:
    transformer = Transformer.from_crs(_WGS84, _ECEF, always_xy=True)
    x, y, z = transformer.transform(lonlat[:, 0], lonlat[:, 1], np.zeros(len(lonlat)))
    return np.column_stack([x, y, z]).astype(float)


def nearest_geodesic(
    subject_lonlat: np.ndarray, facility_lonlat: np.ndarray, *, workers: int = 1
) -> NearestArrays:
    """Exact nearest facility by WGS 84 geodesic distance.

    Ties (equal geodesic distances) go to the facility with the smaller chord
    distance, then the smaller position.
    """
    n, m = len(subject_lonlat), len(facility_lonlat)
    tree = cKDTree(_ecef(facility_lonlat))
    subject_ecef = _ecef(subject_lonlat)
    best = np.full(n, -1, dtype=np.int64)
    best_d = np.full(n, np.inf)
    todo = np.arange(n)
    k = min(4, m)
    while len(todo):
        chord, index = tree.query(subject_ecef[todo], k=k, workers=workers)
        chord = np.asarray(chord).reshape(len(todo), k)
        index = np.asarray(index, dtype=np.int64).reshape(len(todo), k)
        pairs_a = np.repeat(subject_lonlat[todo], k, axis=0)
        geo = geodesic_distance(pairs_a, facility_lonlat[index.ravel()]).reshape(len(todo), k)
        pick = np.argmin(geo, axis=1)  # first minimum: smallest chord among equals
        rows = np.arange(len(todo))
        best[todo] = index[rows, pick]
        best_d[todo] = geo[rows, pick]
        # Complete when every facility within chord <= best geodesic was among the k.
        bound = best_d[todo] * (1 + 1e-9) + 1e-6
        complete = (chord[:, -1] > bound) | (k == m)
        todo = todo[~complete]
        k = min(2 * k, m)
    return NearestArrays(best, best_d)


def to_lonlat(xy: np.ndarray, crs: CRS) -> np.ndarray:
    """Transform projected (n, 2) coordinates to WGS 84 longitude/latitude."""
    transformer = Transformer.from_crs(crs, _WGS84, always_xy=True)
    lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat]).astype(float)


def utm_zone(lon: np.ndarray) -> np.ndarray:
    """UTM zone number (1–60) of each longitude (standard zones, no Norway exceptions)."""
    return (np.floor((np.asarray(lon, dtype=float) + 180.0) / 6.0).astype(np.int64) % 60) + 1


def single_utm_zone(bounds: tuple[float, float, float, float], crs: CRS) -> int | None:
    """The one UTM zone a projected bounding box lies in, or ``None`` if it may span more."""
    xmin, ymin, xmax, ymax = bounds
    transformer = Transformer.from_crs(crs, _WGS84, always_xy=True)
    west, _, east, _ = transformer.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=21)
    if np.isfinite([west, east]).all() and west <= east:
        zones = utm_zone(np.array([west - _BOUNDS_MARGIN_DEG, east + _BOUNDS_MARGIN_DEG]))
        if zones[0] == zones[1]:
            return int(zones[0])
    return None


def utm_zones_spanned(xy: np.ndarray, crs: CRS) -> tuple[int, ...]:
    """UTM zone numbers spanned by the longitude extent of projected points.

    A bounding box transformed to lon/lat (with a margin) settles the common
    case of one zone without transforming every point; otherwise every point
    is transformed.
    """
    if len(xy) == 0:
        return ()
    xmin, xmax = float(xy[:, 0].min()), float(xy[:, 0].max())  # per column: fast on (n, 2)
    ymin, ymax = float(xy[:, 1].min()), float(xy[:, 1].max())
    zone = single_utm_zone((xmin, ymin, xmax, ymax), crs)
    if zone is not None:
        return (zone,)
    lon = to_lonlat(xy, crs)[:, 0]
    first, last = (int(z) for z in utm_zone(np.array([lon.min(), lon.max()])))
    if first <= last:
        return tuple(range(first, last + 1))
    return tuple(range(first, 61)) + tuple(range(1, last + 1))  # across 180°


# --------------------------------------------------------------------------- input checks


def _is_metric(crs: CRS) -> bool:
    return bool(crs.is_projected) and all(
        axis.unit_name in ("metre", "meter") for axis in crs.axis_info
    )


def check_frames(
    frames: dict[str, Any], *, geom_types: dict[str, tuple[int, ...]] | None = None
) -> CRS:
    """Check GeoDataFrames for an analysis in metres; collect every problem, raise once.

    Parameters
    ----------
    frames
        ``{argument name: GeoDataFrame}``; the first one's CRS is the reference.
    geom_types
        Allowed shapely type ids per argument (default: points, id 0).

    Returns
    -------
    CRS
        The common projected CRS.

    Raises
    ------
    AnalysisError
        Naming each argument, what is wrong and how to fix it.
    """
    problems: list[Problem] = []
    reference: CRS | None = None
    first = next(iter(frames))
    for name, gdf in frames.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            problems.append(
                Problem(
                    f"`{name}` must be a GeoDataFrame, got {type(gdf).__name__}",
                    fix="pass study.subjects / study.facilities / study.area, or build one "
                    "with geopandas.GeoDataFrame(..., crs=...)",
                )
            )
            continue
        if len(gdf) == 0:
            problems.append(Problem(f"`{name}` is empty", fix="pass at least one row"))
            continue
        if gdf.crs is None:
            problems.append(
                Problem(f"`{name}` has no CRS", fix=f"set it: {name}.set_crs('EPSG:...')")
            )
            continue
        crs = CRS(gdf.crs)
        if not _is_metric(crs):
            problems.append(
                Problem(
                    f"`{name}` is in {crs.to_string()}, not a projected CRS in metres",
                    fix=f"project it first: {name}.to_crs(study.crs) or "
                    f"{name}.to_crs({name}.estimate_utm_crs())",
                )
            )
            continue
        if reference is None:
            reference = crs
        elif crs != reference:
            problems.append(
                Problem(
                    f"`{name}` is in {crs.to_string()} but `{first}` is in {reference.to_string()}",
                    fix=f"{name}.to_crs({first}.crs)",
                )
            )
        allowed = (geom_types or {}).get(name, (0,))
        geoms = np.asarray(gdf.geometry.array, dtype=object)
        type_ids = shapely.get_type_id(geoms)
        wrong = ~np.isin(type_ids, allowed)
        if allowed != (0,):  # empty points are caught by point_coordinates, more cheaply
            wrong |= shapely.is_empty(geoms)
        bad = np.flatnonzero(wrong)
        if len(bad):
            wanted = "points" if allowed == (0,) else "polygons"
            found = "missing or empty" if type_ids[bad[0]] < 0 else geoms[bad[0]].geom_type
            problems.append(
                Problem(
                    f"`{name}` must hold non-empty {wanted}: {len(bad)} row(s) do not, e.g. "
                    f"position {int(bad[0])} ({found})",
                    fix=f"drop them, or explode multi-part geometries: {name}.explode()",
                )
            )
    if problems or reference is None:
        raise AnalysisError(problems or [Problem("nothing to analyse")])
    return reference


def check_radius(value: object, name: str) -> float:
    """Return `value` as a positive finite float, or raise naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise AnalysisError(
            Problem(f"`{name}` must be a number of metres, got {value!r}", fix=f"{name}=2000")
        )
    number = float(value)
    if not (number > 0 and np.isfinite(number)):
        raise AnalysisError(
            Problem(f"`{name}` must be positive and finite, got {value!r}", fix=f"{name}=2000")
        )
    return number


def facility_labels(facilities: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facility ids, names and kinds as object arrays (name defaults to id, kind to "facility")."""
    if "facility_id" not in facilities.columns:
        raise AnalysisError(
            Problem(
                "`facilities` has no column 'facility_id'",
                fix="rename the id column: facilities.rename(columns={'id': 'facility_id'})",
            )
        )
    ids = facilities["facility_id"].astype(str).to_numpy(dtype=object)
    names = (
        facilities["name"].astype(str).to_numpy(dtype=object)
        if "name" in facilities.columns
        else ids.copy()
    )
    kinds = (
        facilities["kind"].astype(str).str.lower().to_numpy(dtype=object)
        if "kind" in facilities.columns
        else np.full(len(ids), "facility", dtype=object)
    )
    return ids, names, kinds


def kind_key(kind: str, taken: set[str]) -> str:
    """A column-safe key for a facility kind (``"pustu"``, ``"rumah_sakit"``), unique in `taken`."""
    key = re.sub(r"[^0-9a-z]+", "_", kind.lower()).strip("_") or "unknown"
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}_{n}", n + 1
    taken.add(candidate)
    return candidate


def point_coordinates(gdf: gpd.GeoDataFrame, name: str) -> np.ndarray:
    """The (n, 2) coordinates of a point frame checked by `check_frames`; no empty or NaN points."""
    xy = shapely.get_coordinates(np.asarray(gdf.geometry.array, dtype=object))
    if len(xy) != len(gdf) or not np.isfinite(xy).all():
        empty = np.flatnonzero(shapely.is_empty(np.asarray(gdf.geometry.array, dtype=object)))
        where = f"position {int(empty[0])}" if len(empty) else "some rows"
        raise AnalysisError(
            Problem(
                f"`{name}` must hold non-empty points with finite coordinates ({where} does not)",
                fix=f"drop them: {name}[~{name}.geometry.is_empty]",
            )
        )
    return xy
