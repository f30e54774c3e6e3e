"""Area aggregates of the dask engine: counts and exact medians per village, district, regency.

Subjects are placed once, in the finest polygons (villages, `locate_in_areas` rules:
the first polygon containing the point; none: not counted). A coarser level (district,
regency) is a column of the village polygons naming the unit each village belongs to,
e.g. BPS codes ``kode_kec`` and ``kode_kab``; its geometry is the union of its villages.

Medians are exact: the client holds, per subject, the village position (int32), the
distance (float64) and the status (int8) — 13 bytes a subject, 260 MB for 20 million —
and sorts them by (unit, distance) once per level. A median of an even count is the mean
of the two middle values, as `numpy.median` computes it (bit for bit).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.access._core import check_frames
from geo_stunting.errors import AnalysisError, Problem

__all__ = [
    "LEVEL_COLUMNS",
    "AreaIndex",
    "area_tables",
    "build_area_index",
    "digest",
    "group_medians",
]

log = logging.getLogger(__name__)

#: Columns of every ``area_access_<level>`` layer, besides the unit and geometry.
LEVEL_COLUMNS = (
    "n_polygons",
    "area_m2",
    "n_subjects",
    "n_cases",
    "n_controls",
    "subjects_within",
    "subjects_outside",
    "cases_within",
    "cases_outside",
    "share_within",
    "share_cases_within",
    "median_distance_m",
    "cases_median_distance_m",
)


@dataclass(frozen=True, eq=False)
class AreaIndex:
    """The village polygons and the unit of each village at every level.

    Attributes
    ----------
    polygons
        The polygons subjects are placed in (geometry only), in the analysis CRS.
    levels
        Level names, finest first, e.g. ``("village", "district", "regency")``.
    columns
        Per level, the column of the area frame naming the unit (``None``: each
        polygon is its own unit).
    labels
        Per level, the label of each unit (object array).
    texts
        Per level, the labels as a pandas string array with a final missing value
        (taken for subjects in no polygon).
    unit_of_area
        Per level, the unit position of each polygon (-1: none).
    token
        A content hash, so dask does not hash the polygons again.
    """

    polygons: gpd.GeoDataFrame
    levels: tuple[str, ...]
    columns: tuple[str | None, ...]
    labels: tuple[np.ndarray, ...]
    texts: tuple[Any, ...]
    unit_of_area: tuple[np.ndarray, ...]
    token: str

    def __dask_tokenize__(self) -> str:
        return self.token

    def unit_labels(self, area_position: np.ndarray) -> dict[str, Any]:
        """Per level, the unit label of each subject (missing outside every polygon)."""
        out: dict[str, Any] = {}
        inside = area_position >= 0
        for level, text, units in zip(self.levels, self.texts, self.unit_of_area, strict=True):
            missing = len(text) - 1
            unit = np.full(len(area_position), missing, dtype=np.int64)
            unit[inside] = units[area_position[inside]]
            out[f"area_{level}"] = text.take(np.where(unit >= 0, unit, missing))
        return out


def _labels(areas: gpd.GeoDataFrame, column: str | None) -> tuple[np.ndarray, np.ndarray]:
    if column is None:
        names = areas["name"] if "name" in areas.columns else pd.Series(range(len(areas)))
        return names.astype(str).to_numpy(dtype=object), np.arange(len(areas), dtype=np.int64)
    values = areas[column]
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    return np.asarray(uniques.astype(str), dtype=object), np.asarray(codes, dtype=np.int64)


def build_area_index(
    areas: gpd.GeoDataFrame, *, levels: Mapping[str, str | None] | None = None
) -> AreaIndex:
    """Check the area polygons and the level columns; build the `AreaIndex`.

    Parameters
    ----------
    areas
        The finest polygons (villages) in the analysis CRS.
    levels
        ``{level name: column}``, finest first, e.g. ``{"village": None, "district":
        "kode_kec", "regency": "kode_kab"}``; ``None`` (or ``"*"``, for TOML) as column:
        each polygon is its own unit, labelled by its ``name`` column. Default
        ``{"village": None}``.

    Raises
    ------
    AnalysisError
        Naming unknown columns and bad level names, all at once.
    """
    check_frames({"areas": areas}, geom_types={"areas": (3, 6)})
    wanted = {
        level: None if column in (None, "*") else column
        for level, column in (dict(levels) if levels else {"village": None}).items()
    }
    problems = []
    for level, column in wanted.items():
        if not str(level).isidentifier():
            problems.append(
                Problem(
                    f"level name {level!r} is not a plain name",
                    fix='use names such as "village", "district", "regency"',
                )
            )
        if column is not None and column not in areas.columns:
            problems.append(
                Problem(
                    f"level {level!r}: the areas have no column {column!r}",
                    fix=f"pick one of {[c for c in areas.columns if c != areas.geometry.name]}",
                )
            )
    if problems:
        raise AnalysisError(problems)
    labels, units = [], []
    for column in wanted.values():
        label, unit = _labels(areas, column)
        labels.append(label)
        units.append(unit)
    polygons = gpd.GeoDataFrame(geometry=areas.geometry.reset_index(drop=True), crs=areas.crs)
    token = digest(
        shapely.get_coordinates(np.asarray(polygons.geometry.array, dtype=object)),
        *units,
        *labels,
        list(wanted.items()),
    )
    texts = tuple(pd.array([*lab.tolist(), None], dtype="str") for lab in labels)
    return AreaIndex(
        polygons, tuple(wanted), tuple(wanted.values()), tuple(labels), texts, tuple(units), token
    )


def digest(*parts: Any) -> str:
    """A content hash of arrays and texts, fast on large inputs (for ``__dask_tokenize__``)."""
    hasher = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray) and part.dtype != object:
            hasher.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, np.ndarray | list | tuple):
            hasher.update("\x1f".join(map(str, part)).encode("utf-8", "surrogatepass"))
        else:
            hasher.update(repr(part).encode())
        hasher.update(b"\x1e")
    return hasher.hexdigest()


def _sorted_medians(units: np.ndarray, values: np.ndarray, n_units: int) -> np.ndarray:
    """Medians per unit of values sorted by (unit, value); unit -1 (sorted first) is skipped."""
    counts = np.bincount(units[units >= 0], minlength=n_units)
    starts = int((units < 0).sum()) + np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_units, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (values[lo] + values[hi]) / 2
    return out


def group_medians(
    unit: np.ndarray, distance: np.ndarray, n_units: int, *, order: np.ndarray | None = None
) -> np.ndarray:
    """Exact median of `distance` per unit (NaN for a unit without values).

    Parameters
    ----------
    unit
        Unit position of each value (-1: none).
    distance
        The values.
    n_units
        Number of units.
    order
        ``numpy.argsort(distance, kind="stable")`` if already known (saves a sort).

    Returns
    -------
    numpy.ndarray
        The mean of the two middle values of each unit's sorted values, as `numpy.median`.
    """
    if order is None:
        order = np.argsort(distance, kind="stable")
    small = np.int16 if n_units < 2**15 else np.int32  # int16: numpy's radix sort
    by_distance = unit[order].astype(small)
    regroup = np.argsort(by_distance, kind="stable")
    return _sorted_medians(by_distance[regroup], distance[order][regroup], n_units)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, part / np.maximum(whole, 1), np.nan)


def area_tables(
    index: AreaIndex,
    areas: gpd.GeoDataFrame,
    *,
    area_position: np.ndarray,
    distance_m: np.ndarray,
    status: np.ndarray,
    buffer_m: float,
) -> dict[str, gpd.GeoDataFrame]:
    """The ``area_access_<level>`` layers from the gathered per-subject arrays.

    Parameters
    ----------
    index
        From `build_area_index`.
    areas
        The village polygons with their attributes (the finest level keeps them).
    area_position
        Village position of each subject (-1: in none).
    distance_m
        Distance to the nearest facility.
    status
        1 case, 0 control, -1 neither.
    buffer_m
        Within: distance ≤ `buffer_m`.

    Returns
    -------
    dict
        ``{"area_access_<level>": GeoDataFrame}``, one row per unit; columns the unit
        label (named after the level), `LEVEL_COLUMNS`, and the geometry (the village
        itself, or the union of the unit's villages).
    """
    within = distance_m <= buffer_m
    case, control = status == 1, status == 0
    order = np.argsort(distance_m, kind="stable")
    inside = area_position >= 0
    polygon_area = shapely.area(np.asarray(areas.geometry.array, dtype=object))
    out: dict[str, gpd.GeoDataFrame] = {}
    for level, column, labels, units in zip(
        index.levels, index.columns, index.labels, index.unit_of_area, strict=True
    ):
        n = len(labels)
        unit = np.full(len(area_position), -1, dtype=np.int64)
        unit[inside] = units[area_position[inside]]
        placed = unit >= 0

        def count(
            mask: np.ndarray, unit: np.ndarray = unit, placed: np.ndarray = placed, n: int = n
        ) -> np.ndarray:
            return np.bincount(unit[placed & mask], minlength=n).astype(np.int64)

        n_subjects = count(np.ones(len(unit), dtype=bool))
        n_cases = count(case)
        subjects_within, cases_within = count(within), count(within & case)
        order_units = units[units >= 0]
        stats: dict[str, Any] = {
            "n_polygons": np.bincount(order_units, minlength=n).astype(np.int64),
            "area_m2": np.bincount(order_units, weights=polygon_area[units >= 0], minlength=n),
            "n_subjects": n_subjects,
            "n_cases": n_cases,
            "n_controls": count(control),
            "subjects_within": subjects_within,
            "subjects_outside": n_subjects - subjects_within,
            "cases_within": cases_within,
            "cases_outside": n_cases - cases_within,
            "share_within": _share(subjects_within, n_subjects),
            "share_cases_within": _share(cases_within, n_cases),
            "median_distance_m": group_medians(unit, distance_m, n, order=order),
            "cases_median_distance_m": group_medians(
                np.where(case, unit, -1), distance_m, n, order=order
            ),
        }
        if column is None:
            clash = {c: f"{c}_input" for c in stats if c in areas.columns}
            frame = areas.rename(columns=clash).reset_index(drop=True).assign(**stats)
            frame.insert(0, level, labels)
        else:
            geoms = _dissolve(areas, units, n)
            frame = gpd.GeoDataFrame({level: labels} | stats, geometry=geoms, crs=areas.crs)
        out[f"area_access_{level}"] = frame
        log.info("area_access_%s: %d unit(s), %d subject(s) placed", level, n, int(placed.sum()))
    return out


def _dissolve(areas: gpd.GeoDataFrame, units: np.ndarray, n: int) -> np.ndarray:
    geoms = np.asarray(areas.geometry.array, dtype=object)
    keep = units >= 0
    order = np.argsort(units[keep], kind="stable")
    sorted_units, sorted_geoms = units[keep][order], geoms[keep][order]
    bounds = np.searchsorted(sorted_units, np.arange(n + 1))
    return np.array(
        [shapely.union_all(sorted_geoms[bounds[i] : bounds[i + 1]]) for i in range(n)],
        dtype=object,
    )
