"""What the dask engine runs on every partition (on the workers).

- `hilbert_key`: the position of each point along a Hilbert curve over a fixed frame.
- `FacilityIndex`: the facilities as every worker needs them (labels, coordinates and
  k-d trees built once), broadcast to every worker.
- `with_key`: plain columns for the shuffle (points as x/y, the Hilbert key).
- `survey_partition`: the first, light pass — valid rows, bounding box, UTM zones and a
  sorted sample of Hilbert keys (for the shuffle's partition boundaries).
- `process_partition`: nearest facility overall and per kind, coverage flag, village and
  level labels; writes the partition's GeoParquet and rejects; returns a `PartSummary`
  (13 bytes per subject) for the exact aggregates on the client.

The nearest-facility queries are those of `geo_stunting.access.nearest_facility`: the same
k-d trees (built on the same coordinates in the same order) queried with ``k=1``, or the
same `nearest_geodesic` search, so ids are identical and distances bit-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.spatial import cKDTree

from geo_stunting.access._core import (
    NearestArrays,
    check_frames,
    facility_labels,
    kind_key,
    nearest_geodesic,
    point_coordinates,
    to_lonlat,
    utm_zone,
)
from geo_stunting.access._overlay import locate_in_areas
from geo_stunting.scale._areas import digest
from geo_stunting.scale._io import REASON_COLUMNS

if TYPE_CHECKING:
    from geo_stunting.scale._areas import AreaIndex

__all__ = [
    "FacilityIndex",
    "PartSummary",
    "Survey",
    "build_facility_index",
    "hilbert_key",
    "nearest_columns",
    "process_partition",
    "survey_partition",
    "with_key",
]

_WGS84 = CRS.from_epsg(4326)
_BOUNDS_MARGIN_DEG = 0.01
_SUMMARY = "summary"


# --------------------------------------------------------------------------- hilbert


def hilbert_key(
    xy: np.ndarray, bounds: tuple[float, float, float, float], *, level: int = 16
) -> np.ndarray:
    """Distance along a Hilbert curve of each point, on a ``2**level`` grid over `bounds`.

    Points outside `bounds` are clipped to its edge; a point with a NaN or infinite
    coordinate gets key 0.

    Parameters
    ----------
    xy
        (n, 2) coordinates.
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the frame the curve fills.
    level
        Bits per axis (1–31).

    Returns
    -------
    numpy.ndarray
        int64 keys in ``0 .. 4**level - 1``; nearby keys are nearby cells.
    """
    side = 1 << level
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    width, height = max(xmax - xmin, 1e-9), max(ymax - ymin, 1e-9)
    raw = np.asarray(xy, dtype=float).reshape(-1, 2)
    finite = np.isfinite(raw).all(axis=1)
    coords = np.where(finite[:, None], raw, [xmin, ymin])
    x = np.clip(np.floor((coords[:, 0] - xmin) / width * side), 0, side - 1).astype(np.int64)
    y = np.clip(np.floor((coords[:, 1] - ymin) / height * side), 0, side - 1).astype(np.int64)
    key = np.zeros(len(coords), dtype=np.int64)
    s = side >> 1
    while s:
        rx = (x & s) > 0
        ry = (y & s) > 0
        key += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        flip = rx & ~ry
        x = np.where(flip, side - 1 - x, x)
        y = np.where(flip, side - 1 - y, y)
        x, y = np.where(ry, x, y), np.where(ry, y, x)
        s >>= 1
    return key


# --------------------------------------------------------------------------- facilities


@dataclass(frozen=True, eq=False)
class FacilityIndex:
    """The facilities as every worker needs them: labels, coordinates and k-d trees.

    Attributes
    ----------
    ids, names, kinds
        Facility labels (pandas string arrays, for fast ``take``).
    kind_keys
        ``(kind, column key)`` per kind, sorted by kind as `geo_stunting.access._coverage` does.
    groups
        Facility positions of each tree: all facilities first, then each kind.
    xy
        Projected coordinates (m, 2).
    lonlat
        Longitude/latitude (geodesic metric only).
    metric
        ``"planar"`` or ``"geodesic"``.
    crs_wkt
        The analysis CRS.
    trees
        One `cKDTree` per group, built once (``None``: built in every partition).
    token
        A content hash, so dask does not hash the arrays again.
    """

    ids: Any
    names: Any
    kinds: Any
    kind_keys: tuple[tuple[str, str], ...]
    groups: tuple[np.ndarray, ...]
    xy: np.ndarray
    lonlat: np.ndarray | None
    metric: Literal["planar", "geodesic"]
    crs_wkt: str
    trees: tuple[Any, ...] | None
    token: str

    def __dask_tokenize__(self) -> str:
        return self.token

    def tree(self, group: int) -> Any:
        """The k-d tree of a group (built now when not prebuilt)."""
        if self.trees is not None:
            return self.trees[group]
        return cKDTree(self.xy[self.groups[group]])


def build_facility_index(
    facilities: gpd.GeoDataFrame,
    *,
    metric: Literal["planar", "geodesic"] = "planar",
    prebuild: bool = True,
) -> FacilityIndex:
    """Prepare the facilities for broadcasting to the workers.

    Parameters
    ----------
    facilities
        Facility points (``facility_id``, optional ``name`` and ``kind``) in the analysis CRS.
    metric
        ``"planar"`` (k-d trees on projected coordinates) or ``"geodesic"``.
    prebuild
        Build the planar k-d trees now, once, so workers receive them ready (``False``:
        every partition rebuilds them from the coordinates).

    Returns
    -------
    FacilityIndex
    """
    crs = check_frames({"facilities": facilities})
    ids, names, kinds = facility_labels(facilities)
    xy = point_coordinates(facilities, "facilities")
    taken: set[str] = set()
    kind_keys = tuple((k, kind_key(k, taken)) for k in sorted(set(kinds)))
    groups = (np.arange(len(xy)), *(np.flatnonzero(kinds == k) for k, _ in kind_keys))
    lonlat = to_lonlat(xy, crs) if metric == "geodesic" else None
    trees = None
    if prebuild and metric == "planar":
        trees = tuple(cKDTree(xy[g]) for g in groups)
    token = digest(xy, ids, names, kinds, metric, prebuild, crs.to_wkt())
    id_text, name_text, kind_text = (
        pd.Series(v.tolist(), dtype="str").array for v in (ids, names, kinds)
    )
    return FacilityIndex(
        id_text,
        name_text,
        kind_text,
        kind_keys,
        groups,
        xy,
        lonlat,
        metric,
        crs.to_wkt(),
        trees,
        token,
    )


def with_key(
    part: gpd.GeoDataFrame, *, bounds: tuple[float, float, float, float], level: int
) -> pd.DataFrame:
    """Plain columns for the shuffle: the point as ``__x__``/``__y__`` and its Hilbert key.

    Dask's peer-to-peer shuffle moves Arrow tables, which hold no shapely geometries;
    float coordinates travel bit for bit and the points are rebuilt after the shuffle.
    """
    geoms = np.asarray(part.geometry.array, dtype=object)
    xy = np.full((len(part), 2), np.nan)
    ok = ~shapely.is_missing(geoms)
    if ok.any():
        xy[ok] = shapely.get_coordinates(geoms[ok])
    frame = pd.DataFrame(part.drop(columns=part.geometry.name))
    objects = [c for c in frame.columns if frame[c].dtype == object]
    if objects:
        frame = frame.astype(dict.fromkeys(objects, "str"))
    return frame.assign(
        __x__=xy[:, 0], __y__=xy[:, 1], __key__=hilbert_key(xy, bounds, level=level)
    )


@dataclass(frozen=True)
class Survey:
    """One partition seen by the survey pass.

    Attributes
    ----------
    n_valid
        Rows without a reject reason.
    bounds
        ``(xmin, ymin, xmax, ymax)`` of the valid points (NaN when none).
    zones
        First and last UTM zone of the valid points.
    keys
        Sorted sample of their Hilbert keys (each standing for ``n_valid / len(keys)`` rows).
    """

    n_valid: int
    bounds: tuple[float, float, float, float]
    zones: tuple[int, int]
    keys: np.ndarray


@dataclass(frozen=True)
class PartSummary:
    """What the client keeps of one processed partition.

    Attributes
    ----------
    number
        The partition number.
    area
        Village position per subject (int32, -1: none).
    distance
        Distance to the nearest facility (float64).
    status
        1 case, 0 control, -1 neither (int8).
    rejected
        Rejected rows per column concerned.
    n_rejected
        Total rejected rows.
    """

    number: int
    area: np.ndarray
    distance: np.ndarray
    status: np.ndarray
    rejected: dict[str, int]
    n_rejected: int


def _valid_xy(part: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    valid = part["__reason__"].isna().to_numpy(dtype=bool)
    geoms = np.asarray(part.geometry.array, dtype=object)[valid]
    xy = shapely.get_coordinates(geoms) if len(geoms) else np.zeros((0, 2))
    return valid, xy


def _one(summary: Any) -> pd.DataFrame:
    return pd.DataFrame({_SUMMARY: pd.Series([summary], dtype=object)})


def survey_partition(
    part: gpd.GeoDataFrame,
    *,
    bounds: tuple[float, float, float, float],
    crs_wkt: str,
    sample: int,
    level: int,
) -> pd.DataFrame:
    """The survey of one partition, as a one-row frame holding a `Survey`."""
    _, xy = _valid_xy(part)
    n = len(xy)
    if n == 0:
        return _one(Survey(0, (np.nan,) * 4, (0, 0), np.zeros(0, dtype=np.int64)))
    box = (
        float(xy[:, 0].min()),
        float(xy[:, 1].min()),
        float(xy[:, 0].max()),
        float(xy[:, 1].max()),
    )
    crs = CRS.from_wkt(crs_wkt)
    transformer = Transformer.from_crs(crs, _WGS84, always_xy=True)
    west, _, east, _ = transformer.transform_bounds(*box, densify_pts=21)
    zones = utm_zone(np.array([west - _BOUNDS_MARGIN_DEG, east + _BOUNDS_MARGIN_DEG]))
    if not (np.isfinite([west, east]).all() and west <= east and zones[0] == zones[1]):
        lon = to_lonlat(xy, crs)[:, 0]
        zones = utm_zone(np.array([lon.min(), lon.max()]))
    keys = np.zeros(0, dtype=np.int64)
    if sample:
        ordered = np.sort(hilbert_key(xy, bounds, level=level))
        keys = ordered[np.unique(np.linspace(0, n - 1, min(n, sample)).astype(np.int64))]
    return _one(Survey(n, box, (int(zones[0]), int(zones[1])), keys))


def nearest_columns(index: FacilityIndex, xy: np.ndarray) -> dict[str, Any]:
    """The columns `geo_stunting.access.nearest_facility` adds, for points `xy`."""
    subject_ll = None
    if index.metric == "geodesic":
        subject_ll = to_lonlat(xy, CRS.from_wkt(index.crs_wkt))
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for group, positions in enumerate(index.groups):
        if subject_ll is None:
            distance, nearest = index.tree(group).query(xy, k=1)
            result = NearestArrays(
                np.asarray(nearest, dtype=np.int64), np.asarray(distance, dtype=float)
            )
        else:
            assert index.lonlat is not None
            result = nearest_geodesic(subject_ll, index.lonlat[positions])
        found.append((positions[result.index], result.distance_m))
    overall, overall_d = found[0]
    columns: dict[str, Any] = {
        "nearest_facility_id": index.ids.take(overall),
        "nearest_facility_name": index.names.take(overall),
        "nearest_facility_kind": index.kinds.take(overall),
        "distance_m": overall_d,
    }
    for (_, key), (positions, distance) in zip(index.kind_keys, found[1:], strict=True):
        columns[f"nearest_{key}_id"] = index.ids.take(positions)
        columns[f"nearest_{key}_name"] = index.names.take(positions)
        columns[f"distance_{key}_m"] = distance
    return columns


def _attach(frame: pd.DataFrame, columns: dict[str, Any]) -> pd.DataFrame:
    clash = {c: f"{c}_input" for c in columns if c in frame.columns}
    return frame.rename(columns=clash).assign(**columns)


def _rejects_frame(rows: pd.DataFrame, files: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "layer": "subjects",
            "file": np.asarray(files, dtype=object)[rows["__file__"].to_numpy(dtype=np.int64)],
            "row": rows["source_row"].to_numpy(dtype=np.int64),
            "id": rows["subject_id"].astype("str").to_numpy(),
            "column": rows["__column__"].astype("str").to_numpy(),
            "value": rows["__value__"].astype("str").to_numpy(),
            "reason": rows["__reason__"].astype("str").to_numpy(),
        }
    )


def _for_parquet(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Object columns as text, so every part has the same Parquet schema."""
    objects = [c for c in frame.columns if c != frame.geometry.name and frame[c].dtype == object]
    return frame.astype(dict.fromkeys(objects, "str")) if objects else frame


def _as_points(part: pd.DataFrame, crs_wkt: str) -> gpd.GeoDataFrame:
    """Rebuild the points of a shuffled partition from ``__x__``/``__y__`` (bit for bit)."""
    if "__x__" not in part.columns:
        return gpd.GeoDataFrame(part)
    xy = part[["__x__", "__y__"]].to_numpy(dtype=float)
    ok = np.isfinite(xy).all(axis=1)
    geometry = np.full(len(part), None, dtype=object)
    geometry[ok] = shapely.points(xy[ok])
    return gpd.GeoDataFrame(
        part.drop(columns=["__x__", "__y__"]), geometry=geometry, crs=CRS.from_wkt(crs_wkt)
    )


def process_partition(
    part: gpd.GeoDataFrame,
    index: FacilityIndex,
    areas: AreaIndex | None,
    *,
    buffer_m: float,
    out: str | None,
    sort_bounds: tuple[float, float, float, float] | None,
    level: int,
    outside: str,
    files: tuple[str, ...],
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Access of one partition; write it; return a one-row frame holding a `PartSummary`."""
    number = int(partition_info["number"]) if partition_info else 0
    part = _as_points(part.reset_index(drop=True), index.crs_wkt)
    valid, xy = _valid_xy(part)
    rejected = part.loc[~valid]
    good = part.loc[valid].drop(columns=list(REASON_COLUMNS)).reset_index(drop=True)
    if sort_bounds is not None and len(good):
        order = np.argsort(hilbert_key(xy, sort_bounds, level=level), kind="stable")
        good, xy = good.take(order).reset_index(drop=True), xy[order]
    area = np.full(len(good), -1, dtype=np.int64)
    if areas is not None and len(good):
        area = locate_in_areas(good, areas.polygons).to_numpy(dtype=np.int64)
        if outside == "reject":
            away = area < 0
            if away.any():
                moved = good.loc[away].assign(
                    __column__="geometry",
                    __value__=[f"{x:.1f}, {y:.1f}" for x, y in xy[away]],
                    __reason__="outside the study area (in no area polygon); correct the "
                    'point, or keep such points with outside = "keep" in [area]',
                )
                rejected = pd.concat([rejected, moved], ignore_index=True)
                good, xy, area = good.loc[~away].reset_index(drop=True), xy[~away], area[~away]
    if len(good):
        columns = nearest_columns(index, xy)
        columns["within_buffer"] = columns["distance_m"] <= buffer_m
        if areas is not None:
            columns |= areas.unit_labels(area)
        source = pd.Categorical.from_codes(
            good["__file__"].to_numpy(dtype=np.int64), categories=pd.Index(list(files))
        )
        frame = _attach(good.drop(columns="__file__").assign(source_file=source), columns)
        distance = np.asarray(columns["distance_m"], dtype=float)
    else:
        frame, distance = good.drop(columns="__file__"), np.zeros(0)
    status = np.full(len(good), -1, dtype=np.int8)
    if "status" in good.columns:
        text = good["status"].to_numpy(dtype=object)
        status[text == "case"] = 1
        status[text == "control"] = 0
    if out is not None:
        if len(frame):
            target = Path(out) / "subjects_access" / f"part.{number:05d}.parquet"
            _for_parquet(gpd.GeoDataFrame(frame)).to_parquet(target, index=False)
        if len(rejected):
            target = Path(out) / "rejects" / f"part.{number:05d}.parquet"
            _rejects_frame(rejected, files).to_parquet(target, index=False)
    counts = rejected["__column__"].astype("str").value_counts() if len(rejected) else {}
    return _one(
        PartSummary(
            number,
            area.astype(np.int32),
            distance,
            status,
            {str(k): int(v) for k, v in dict(counts).items()},
            len(rejected),
        )
    )
