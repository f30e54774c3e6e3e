"""The layers of a study: the area polygons and the point layers (subjects, facilities).

Each row of an input table ends up either in its layer or in the rejects, with
its file, row, column, value and reason: coordinates parsed and checked,
swapped coordinates detected, points placed in the analysis CRS and tested
against the study area, far outliers and unit mistakes caught.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod, Transformer

from geo_stunting.errors import Problem
from geo_stunting.study._config import (
    AreaSpec,
    FacilitiesSpec,
    StudyConfig,
    SubjectsSpec,
)
from geo_stunting.study._projection import ChosenCRS, parse_crs
from geo_stunting.study._readers import RawTable
from geo_stunting.study._validate import (
    BORDER_TOLERANCE_M,
    OUTSIDE_M_MAX,
    Candidates,
    RowChecks,
    cell_text,
    cell_texts,
    check_ids,
    guess_area_name,
    missing_mask,
    normalise_status,
    points_from_table,
    resolve_column,
    to_attributes,
)

__all__ = [
    "FACILITY_REACH_M",
    "OUTLIER_MIN_M",
    "WGS84",
    "Layer",
    "area_layer",
    "facilities_frame",
    "nothing_left",
    "place_points",
    "point_layer",
    "study_centre",
    "subjects_frame",
]

log = logging.getLogger(__name__)

WGS84 = CRS.from_epsg(4326)
_GEOD = Geod(ellps="WGS84")
#: A subject farther than this from the others (no study area given) is rejected.
OUTLIER_MIN_M = 50_000.0
#: Facilities farther than this from the study area or subjects are rejected.
FACILITY_REACH_M = 50_000.0
_RESERVED = ("subject_id", "status", "stratum", "source_row", "geometry")


@dataclass
class Layer:
    """A point table during validation."""

    table: RawTable
    checks: RowChecks
    points: Candidates
    source_crs: CRS
    attributes: pd.DataFrame
    coord_column: str


def nothing_left(layer: str, found: Layer) -> list[Problem]:
    reasons = Counter(
        reason.split(";")[0].split(":")[0]
        for reason in (r["reason"] for r in found.checks.rejects(found.points.ids))
    )
    top = ", ".join(f"{n} × {reason}" for reason, n in reasons.most_common(3))
    return [
        Problem(
            f"no usable {layer} rows: all {len(found.table)} were rejected ({top})",
            file=found.table.name,
            fix="see rejects.csv (geo-stunting validate lists them) and check the column "
            "names and the crs in the study file",
        )
    ]


# --------------------------------------------------------------------------- area


def area_layer(
    table: RawTable, spec: AreaSpec, problems: list[Problem], notes: list[str]
) -> tuple[gpd.GeoDataFrame | None, list[dict[str, Any]]]:
    if table.geometry is None:
        problems.append(
            Problem(
                "the study-area file has no geometry",
                file=table.name,
                fix="give polygons as GeoJSON, GeoPackage or Shapefile",
            )
        )
        return None, []
    crs = _layer_crs(table, spec.crs, "area", problems)
    name_col = None
    if spec.name is not None:
        name_col = resolve_column(table, spec.name, "[area] name", problems, notes)
    else:  # the areas are named in the map, the report and results.json: find their names
        name_col = guess_area_name(table)
        if name_col is not None:
            notes.append(
                f'{table.name}: area names from column {name_col!r} (write name = "..." '
                "in [area] to use another)"
            )
    if crs is None or (spec.name is not None and name_col is None):
        return None, []
    checks = RowChecks(table, "area")
    geoms = np.asarray(table.geometry.array, dtype=object)
    names = []
    for pos, geom in enumerate(geoms):
        label = cell_text(table.frame[name_col].iloc[pos]) if name_col else ""
        names.append(label or f"area {table.rows[pos]}")
        if geom is None or shapely.is_empty(geom):
            checks.add(pos, "geometry", "", "missing geometry")
        elif shapely.get_type_id(geom) not in (3, 6):
            checks.add(
                pos, "geometry", geom.geom_type, f"geometry is a {geom.geom_type}, not a polygon"
            )
        elif not shapely.is_valid(geom):
            reason = shapely.is_valid_reason(geom)
            geoms[pos] = shapely.make_valid(geom, method="structure", keep_collapsed=False)
            notes.append(f"{table.name}: row {table.rows[pos]} ({label}) repaired ({reason})")
    ok = checks.ok()
    attrs = to_attributes(table.frame.loc[ok])
    gdf = gpd.GeoDataFrame(
        {"name": [n for n, keep in zip(names, ok, strict=True) if keep]}
        | {c: attrs[c].to_numpy() for c in attrs.columns if c not in ("name", "geometry")},
        geometry=list(geoms[ok]),
        crs=crs,
    )
    gdf["source_row"] = np.asarray(table.rows)[ok]
    ids = names
    return gdf, checks.rejects(ids)


def _layer_crs(
    table: RawTable, given: str | None, layer: str, problems: list[Problem]
) -> CRS | None:
    if given is not None:
        try:
            crs = parse_crs(given, where=f"[{layer}] crs")
        except Exception as exc:  # noqa: BLE001 - reported as a problem below
            problems.extend(getattr(exc, "problems", (Problem(str(exc)),)))
            return None
        if table.crs is not None and CRS(table.crs) != crs:
            problems.append(
                Problem(
                    f"the file says its CRS is {CRS(table.crs).to_string()} but the study file "
                    f"says crs = {given!r}",
                    file=table.name,
                    fix=f"remove crs from [{layer}] (the file's own CRS is used)",
                )
            )
            return None
        return crs
    if table.geometry is not None:
        if table.crs is None:
            problems.append(
                Problem(
                    "the file has no CRS (for a Shapefile: the .prj file is missing)",
                    file=table.name,
                    fix=f'say which with crs = "EPSG:4326" (or the right code) in [{layer}]',
                )
            )
            return None
        return CRS(table.crs)
    return WGS84


# --------------------------------------------------------------------------- points


def point_layer(
    table: RawTable,
    spec: SubjectsSpec | FacilitiesSpec,
    layer: str,
    problems: list[Problem],
    notes: list[str],
) -> Layer | None:
    section = f"[{layer}]"
    before = len(problems)
    id_col = resolve_column(table, spec.id, f"{section} id", problems, notes)
    x_col = y_col = None
    if table.geometry is None:
        x_col = resolve_column(table, spec.x, f"{section} x", problems, notes)
        y_col = resolve_column(table, spec.y, f"{section} y", problems, notes)
    extra: dict[str, str | None] = {}
    if isinstance(spec, SubjectsSpec):
        extra["status"] = resolve_column(table, spec.status, f"{section} status", problems, notes)
        if spec.stratum is not None:
            extra["stratum"] = resolve_column(
                table, spec.stratum, f"{section} stratum", problems, notes
            )
    else:
        for key in ("name", "kind"):
            wanted = getattr(spec, key)
            if wanted is not None:
                extra[key] = resolve_column(table, wanted, f"{section} {key}", problems, notes)
    crs = _layer_crs(table, spec.crs, layer, problems)
    if len(problems) > before or crs is None or id_col is None:
        return None

    checks = RowChecks(table, layer)
    ids = check_ids(table, id_col, checks)
    points = points_from_table(table, x_col=x_col, y_col=y_col, checks=checks, ids=ids)
    notes.extend(
        f"{table.name}: row {table.rows[pos]}: x and y swapped (the hemisphere letters say "
        "which is latitude)"
        for pos in np.flatnonzero(points.swapped_by_hemisphere).tolist()
    )
    used = [c for c in (id_col, x_col, y_col, *extra.values()) if c]
    if isinstance(spec, SubjectsSpec):
        status_col = extra["status"]
        assert status_col is not None
        extra_values: dict[str, list[str | None]] = {
            "status": list(normalise_status(table, status_col, spec.case, spec.control, checks))
        }
        if extra.get("stratum"):
            texts = cell_texts(table.frame[extra["stratum"]])
            missing = missing_mask(texts)
            extra_values["stratum"] = [
                None if gone else text for gone, text in zip(missing, texts, strict=True)
            ]
    else:
        extra_values = {}
        for key in ("name", "kind"):
            col = extra.get(key)
            extra_values[key] = [
                cell_text(v) if col else "" for v in (table.frame[col] if col else ids)
            ]
    _check_units(table, points, crs, x_col, y_col, checks, problems)
    others = [c for c in table.frame.columns if c not in used and c != "__row_problem__"]
    attributes = to_attributes(table.frame[others])
    renamed = {c: f"{c}_input" for c in attributes.columns if c in _RESERVED}
    if renamed:
        attributes = attributes.rename(columns=renamed)
        notes.append(
            f"{table.name}: column(s) {sorted(renamed)} renamed to {sorted(renamed.values())}"
        )
    for key, values in extra_values.items():
        attributes[f"__{key}__"] = values
    coord_column = "geometry" if x_col is None else f"{x_col}/{y_col}"
    return Layer(table, checks, points, crs, attributes, coord_column)


def _check_units(
    table: RawTable,
    points: Candidates,
    crs: CRS,
    x_col: str | None,
    y_col: str | None,
    checks: RowChecks,
    problems: list[Problem],
) -> None:
    """Catch metres given as degrees and degrees given as metres."""
    valid = np.isfinite(points.x) & np.isfinite(points.y)
    if not valid.any():
        return
    x, y = points.x[valid], points.y[valid]
    degree_like = (np.abs(x) <= 180) & (np.abs(y) <= 180)
    where = f"{table.name}"
    if crs.is_geographic and not degree_like.any():
        problems.append(
            Problem(
                f"the coordinates look like metres (e.g. x = {x[0]:,.1f}, y = {y[0]:,.1f}), "
                f"not degrees, but their CRS is {crs.to_string()}",
                file=where,
                column=f"{x_col}/{y_col}" if x_col else "geometry",
                fix='set crs = "EPSG:32748" (UTM 48S) or the CRS they were taken in',
            )
        )
    elif crs.is_projected and degree_like.all():
        problems.append(
            Problem(
                f"the coordinates look like degrees (e.g. x = {x[0]}, y = {y[0]}) but their CRS "
                f"is {crs.to_string()}",
                file=where,
                column=f"{x_col}/{y_col}" if x_col else "geometry",
                fix='set crs = "EPSG:4326" for longitude/latitude',
            )
        )
    if crs.is_geographic:
        zero = valid & (points.x == 0) & (points.y == 0)
        for pos in np.flatnonzero(zero):
            checks.add(
                int(pos),
                f"{x_col}/{y_col}" if x_col else "geometry",
                "0, 0",
                "coordinates 0, 0 are what a GPS app writes when it had no fix; "
                "take the point again",
            )


def study_centre(
    subjects: Layer, area_wgs: gpd.GeoDataFrame | None, problems: list[Problem]
) -> tuple[float, float] | None:
    if area_wgs is not None and len(area_wgs):
        centre = shapely.centroid(shapely.union_all(np.asarray(area_wgs.geometry.array)))
        return float(centre.x), float(centre.y)
    lon, lat, ok = _to_wgs84(subjects)
    swapped_lon, swapped_lat, swapped_ok = _to_wgs84(subjects, swap=True)
    usable = ok & subjects.checks.ok()
    if usable.sum() == 0:
        usable = swapped_ok & subjects.checks.ok()
        lon, lat = swapped_lon, swapped_lat
    if usable.sum() == 0:
        problems.extend(nothing_left("subjects", subjects))
        return None
    return float(np.median(lon[usable])), float(np.median(lat[usable]))


def _to_wgs84(layer: Layer, *, swap: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = (layer.points.y, layer.points.x) if swap else (layer.points.x, layer.points.y)
    finite = np.isfinite(x) & np.isfinite(y)
    if layer.source_crs.is_geographic:
        ok = finite & (np.abs(x) <= 180) & (np.abs(y) <= 90)
        if CRS(layer.source_crs).equals(WGS84):
            return x, y, ok
    else:
        ok = finite
    transformer = Transformer.from_crs(layer.source_crs, WGS84, always_xy=True)
    lon, lat = transformer.transform(np.where(ok, x, 0.0), np.where(ok, y, 0.0))
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    ok &= np.isfinite(lon) & np.isfinite(lat)
    return lon, lat, ok


def place_points(
    layer: Layer,
    chosen: ChosenCRS,
    area: gpd.GeoDataFrame | None,
    config: StudyConfig,
    notes: list[str],
    *,
    role: str,
    reference: np.ndarray | None = None,
) -> np.ndarray:
    """Project points; fix swapped x/y; reject points far from the study.

    Returns an (n, 2) array of projected coordinates (NaN for rejected rows).
    """
    table, checks = layer.table, layer.checks
    to_proj = Transformer.from_crs(WGS84, chosen.crs, always_xy=True)
    if not layer.source_crs.equals(WGS84):
        notes.append(
            f"{table.name}: reprojected from {layer.source_crs.to_string()} to {chosen.code}"
        )

    def project(swap: bool) -> tuple[np.ndarray, np.ndarray]:
        lon, lat, ok = _to_wgs84(layer, swap=swap)
        px, py = to_proj.transform(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
        xy = np.column_stack([px, py]).astype(float)
        xy[~ok] = np.nan
        return xy, ok

    given, given_ok = project(swap=False)
    swapped, swapped_ok = project(swap=True)
    union = None if area is None else shapely.union_all(np.asarray(area.geometry.array))
    if union is not None:
        shapely.prepare(union)

    def distance(xy: np.ndarray) -> np.ndarray:
        out = np.full(len(xy), np.inf)
        finite = np.isfinite(xy).all(axis=1)
        if union is not None:
            out[finite] = shapely.distance(union, shapely.points(xy[finite]))
        else:
            base = given if reference is None else reference
            inside = np.isfinite(base).all(axis=1)
            if role == "subjects":
                inside &= checks.ok()
            if inside.any():
                centre = np.median(base[inside], axis=0)
                out[finite] = np.hypot(*(xy[finite] - centre).T)
        return out

    d_given, d_swapped = distance(given), distance(swapped)
    near_m = 0.0  # subjects this far outside the area are kept ([area] outside_m)
    if role == "subjects" and config.area is not None:
        near_m = config.area.outside_m
    if union is not None:
        limit = max(BORDER_TOLERANCE_M, near_m) if role == "subjects" else FACILITY_REACH_M
    else:
        spread = d_given[np.isfinite(d_given) & checks.ok()]
        typical = float(np.quantile(spread, 0.9)) if len(spread) else 0.0
        limit = max(OUTLIER_MIN_M if role == "subjects" else FACILITY_REACH_M, 5 * typical)
    geographic = layer.source_crs.is_geographic
    out = np.full((len(table), 2), np.nan)
    keep_outside = role == "subjects" and config.area is not None and config.area.outside == "keep"
    pending = checks.ok()  # rows not rejected yet
    col = layer.coord_column
    moved = (~given_ok | (d_given > limit)) & swapped_ok & (d_swapped <= limit)
    moved &= pending
    out[moved] = swapped[moved]
    notes.extend(
        f"{table.name}: row {table.rows[pos]}: x and y were swapped; swapping them puts "
        "the point where the rest of the study is, so they were swapped back"
        for pos in np.flatnonzero(moved).tolist()
    )
    pending &= ~moved
    unreadable = pending & ~given_ok
    far = pending & given_ok & (d_given > limit) & (not keep_outside)
    for pos in np.flatnonzero(unreadable | far).tolist():
        x, y = layer.points.x[pos], layer.points.y[pos]
        reason = (
            _range_reason(x, y, geographic)
            if unreadable[pos]
            else _far_reason(layer, pos, d_given[pos], union, area, to_proj, role)
        )
        checks.add(pos, col, f"{x}, {y}", reason)
    placed = pending & given_ok & ~far
    out[placed] = given[placed]
    near = placed & (d_given > BORDER_TOLERANCE_M) & (d_given <= limit)
    if union is not None and near_m > 0 and near.any():
        notes.append(
            f"{table.name}: {int(near.sum())} row(s) lie outside the study area by up to "
            f"{_metres(float(d_given[near].max()))} (within outside_m = {near_m:g} in [area]): "
            "kept, each counted in the nearest area"
        )
    return out


def _outside_m_for(dist: float) -> float:
    """The ``outside_m`` that keeps a subject `dist` metres outside: rounded up to 50 m.

    >>> _outside_m_for(10.2), _outside_m_for(138.0), _outside_m_for(150.0)
    (50.0, 150.0, 150.0)
    """
    return min(OUTSIDE_M_MAX, 50.0 * math.ceil(dist / 50.0))


def _range_reason(x: float, y: float, geographic: bool) -> str:
    if geographic:
        return (
            f"longitude {x} / latitude {y} is outside -180..180 / -90..90 and swapping them does "
            "not help; check the value"
        )
    return "the coordinates cannot be transformed to the analysis CRS; check the value and crs"


def _far_reason(
    layer: Layer,
    pos: int,
    dist: float,
    union: shapely.Geometry | None,
    area: gpd.GeoDataFrame | None,
    to_proj: Transformer,
    role: str,
) -> str:
    hint = ""
    lon, lat, ok = _to_wgs84(layer)
    if ok[pos] and union is not None:
        for label, (fx, fy) in (
            ("latitude", (lon[pos], -lat[pos])),
            ("longitude", (-lon[pos], lat[pos])),
        ):
            px, py = to_proj.transform(fx, fy)
            if np.isfinite(px) and shapely.distance(union, shapely.Point(px, py)) == 0:
                hint = (
                    f"; flipping the sign of the {label} puts it inside the study area "
                    "(a missing minus sign or S/W?)"
                )
                break
    if union is not None and area is not None:
        px, py = to_proj.transform(lon[pos], lat[pos])
        nearest_name = ""
        if np.isfinite(px) and np.isfinite(py):  # a point beyond the projection has no nearest
            distances = shapely.distance(np.asarray(area.geometry.array), shapely.Point(px, py))
            nearest_name = f" ({area['name'].iloc[int(np.argmin(distances))]})"
        where = "outside the study area" if role == "subjects" else "far from the study area"
        if role != "subjects":
            return f"{where}: {dist:,.0f} m from the nearest area{hint}; check the coordinates"
        keep = (
            f"keep points this close with outside_m = {_outside_m_for(dist):g} in [area] "
            "(a boundary file and GPS fixes often disagree by tens of metres)"
            if dist <= OUTSIDE_M_MAX and not hint
            else 'keep such points with outside = "keep" in [area]'
        )
        found = f"{where}: {_metres(dist)} from the nearest area{nearest_name}{hint}"
        return f"{found}; correct the point, or {keep}"
    return (
        f"{dist / 1000:,.1f} km from the centre of the other subjects{hint}; check the coordinates"
    )


def subjects_frame(
    layer: Layer, xy: np.ndarray, spec: SubjectsSpec, crs: CRS, notes: list[str]
) -> gpd.GeoDataFrame:
    ok = layer.checks.ok() & np.isfinite(xy).all(axis=1)
    attrs = layer.attributes.loc[ok]
    data: dict[str, Any] = {
        "subject_id": _take(layer.points.ids, ok),
        "status": attrs["__status__"].to_numpy(),
    }
    if spec.stratum is not None:
        data["stratum"] = attrs["__stratum__"].to_numpy()
        missing = int(pd.isna(data["stratum"]).sum())
        if missing:
            notes.append(f"{missing} subject(s) have no {spec.stratum!r} (stratum)")
    data["source_row"] = np.asarray(layer.table.rows)[ok]
    for column in attrs.columns:
        if not column.startswith("__"):
            data[column] = attrs[column].to_numpy()
    return gpd.GeoDataFrame(
        pd.DataFrame(data), geometry=shapely.points(xy[ok]), crs=crs
    ).reset_index(drop=True)


def _take(ids: Any, ok: np.ndarray) -> Any:
    """The ids of the rows kept: Arrow-held text stays Arrow-held (pandas' default ``str``)."""
    if isinstance(ids, pd.api.extensions.ExtensionArray):
        return pd.Series(ids[ok], dtype="str").array
    return np.asarray(ids, dtype=object)[ok]


def facilities_frame(
    layer: Layer, xy: np.ndarray, spec: FacilitiesSpec, crs: CRS
) -> gpd.GeoDataFrame:
    ok = layer.checks.ok() & np.isfinite(xy).all(axis=1)
    attrs = layer.attributes.loc[ok]
    ids = np.asarray(layer.points.ids, dtype=object)[ok]
    names = [n or i for n, i in zip(attrs["__name__"], ids, strict=True)]
    kinds = (
        [k.lower() or "unknown" for k in attrs["__kind__"]]
        if spec.kind
        else ["facility"] * len(ids)
    )
    data: dict[str, Any] = {
        "facility_id": ids,
        "name": names,
        "kind": kinds,
        "source_row": np.asarray(layer.table.rows)[ok],
    }
    for column in attrs.columns:
        if not column.startswith("__") and column not in data:
            data[column] = attrs[column].to_numpy()
    return gpd.GeoDataFrame(
        pd.DataFrame(data), geometry=shapely.points(xy[ok]), crs=crs
    ).reset_index(drop=True)


def _metres(distance: float) -> str:
    """``"1,234 m"``, or ``"0.0015 m"`` below a metre (never a misleading "0 m")."""
    return f"{distance:,.0f} m" if distance >= 1 else f"{distance:.2g} m"
