"""layers.gpkg for QGIS: styled layers, real field types, a related table, and a project.

Written with plain Python (pyogrio, sqlite3 and XML), so QGIS need not be
installed:

- the GeoPackage is version 1.2 (``application_id`` ``GPKG``,
  ``user_version`` 10200), which QGIS 3.22 and its GDAL read without the
  "may only be partially supported" warning that 1.4 gives;
- each layer's QGIS style (QML from the web map's registry, see
  `geo_stunting.outputs._qml`) is in the ``layer_styles`` table, as QGIS
  itself stores it, set as the layer's default, with a description; the
  description is also the layer's ``gpkg_contents.description``;
- dates are dates, counts integers; ``scan_clusters.subject_ids`` becomes
  the table ``scan_cluster_members`` (``cluster_rank``, ``subject_id``),
  registered as a many-to-many relation of the GeoPackage Related Tables
  extension (``gpkgext_relations``: ``base_id`` = ``scan_clusters.fid``,
  ``related_id`` = ``subjects.fid``);
- ``layers.qgz`` beside it opens every layer, styled, in groups, with paths
  relative to the project (see `write_project`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sqlite3
import uuid
import xml.etree.ElementTree as ET
import zipfile
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo_stunting.outputs._qml import QGIS_VERSION, layer_qml, layer_rules, style_elements
from geo_stunting.outputs.map._layers import MapContext

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    import geopandas as gpd

__all__ = [
    "GPKG_VERSION",
    "LAYER_DESCRIPTIONS",
    "MEMBERS_TABLE",
    "read_layers",
    "write_project",
    "write_styled_gpkg",
]

log = logging.getLogger(__name__)

#: The GeoPackage version written (``user_version``): 1.2.0.
GPKG_VERSION = 10200
#: The table of scan-cluster members (one row per cluster and subject).
MEMBERS_TABLE = "scan_cluster_members"
_STYLE_TABLE = "layer_styles"
_RTE = "http://www.geopackage.org/18-000.html"
_DEFAULT_BUFFER_M = 2000.0

LAYER_DESCRIPTIONS: dict[str, str] = {
    "subjects": "Cases and controls at their home points, with the input attributes "
    "and, after the access step, the distance (m) to the nearest facility, overall and per "
    "kind, and whether it lies within the coverage radius "
    "(identifiable health data: do not share).",
    "facilities": "Health facilities (puskesmas, pustu, posyandu, hospitals) by kind.",
    "area": "Study-area polygons (villages).",
    "facility_buffers": "Circles of each coverage radius around each facility.",
    "coverage": "The area within each radius of any facility (dissolved).",
    "area_coverage": "Per village: the share of its area and the subjects within the "
    "coverage radius.",
    "nearest_lines": "A line from each subject to its nearest facility.",
    "window": "The analysis window of the point-pattern tests.",
    "subjects_autocorrelation": "Each subject with its local Moran's I (LISA) and Getis-Ord "
    "Gi* values and p-values.",
    "scan_clusters": "Bernoulli spatial scan clusters, ordered by log-likelihood ratio; "
    f"members in {MEMBERS_TABLE}.",
    "subjects_scan": "Each subject with the rank of its scan cluster (empty outside clusters).",
    "relative_risk_grid": "Kernel log relative-risk surface (cases vs controls) with "
    "pointwise Monte Carlo p-values (alternative: greater).",
    "relative_risk_high": "Where the relative risk is raised (pointwise p < alpha, alternative "
    "greater).",
    MEMBERS_TABLE: "Members of each scan cluster: cluster_rank (scan_clusters.rank) and "
    "subject_id (subjects.subject_id).",
}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Columns that hold counts or ranks but may be empty (written as integers).
_NULLABLE_INTEGERS = ("scan_cluster",)


def _context(sections: Mapping[str, Any] | None, *, public: bool) -> MapContext:
    sections = sections or {}
    settings = sections.get("settings") or {}
    access = sections.get("access") or {}
    buffer_m = float(settings.get("buffer_m") or access.get("buffer_m") or _DEFAULT_BUFFER_M)
    return MapContext(buffer_m=buffer_m, online=False, public=public, sections=sections)


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _typed(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Real field types: text stays text, dates become dates, counts integers."""
    out = frame.copy()
    dates = []
    for column in out.columns:
        if column == out.geometry.name:
            continue
        series = out[column]
        if column in _NULLABLE_INTEGERS and pd.api.types.is_float_dtype(series.dtype):
            numbers = series.to_numpy(dtype=float)
            finite = numbers[np.isfinite(numbers)]
            if np.all(finite == np.round(finite)):
                out[column] = series.astype("Int64")
            continue
        if series.dtype != object and not pd.api.types.is_string_dtype(series.dtype):
            continue
        present = series.dropna()
        # all(...) over a generator stops at the first value that is not a date (ids, names)
        if len(present) and all(_is_date(v) for v in present):
            out[column] = series.map(lambda v: None if pd.isna(v) else v.isoformat())
            dates.append(column)
        elif len(present) and all(_ISO_DATE.match(str(v)) for v in present):
            parsed = pd.to_datetime(present.astype(str), format="%Y-%m-%d", errors="coerce")
            out[column] = _as_text(series)
            if parsed.notna().all():
                dates.append(column)
        elif series.dtype == object:
            out[column] = _as_text(series)
    return out, dates


def _as_text(series: pd.Series[Any]) -> pd.Series[Any]:
    """Every present value as ``str(value)``, missing values as None (a NULL field)."""
    if pd.api.types.infer_dtype(series, skipna=True) == "string":  # str already: no per-row call
        return series.astype(object).where(series.notna(), None)
    return series.map(lambda v: None if pd.isna(v) else str(v))


def _members(clusters: gpd.GeoDataFrame, subjects: gpd.GeoDataFrame | None) -> pd.DataFrame:
    ids = subjects["subject_id"].astype(str).tolist() if subjects is not None else []
    position = {sid: i + 1 for i, sid in enumerate(ids)}
    rows = []
    for i, (rank, joined) in enumerate(zip(clusters["rank"], clusters["subject_ids"], strict=True)):
        if joined is None or (isinstance(joined, float) and np.isnan(joined)):
            continue
        for part in str(joined).split(","):
            sid = part.strip()
            if sid:
                rows.append((i + 1, position.get(sid), int(rank), sid))
    members = pd.DataFrame(rows, columns=["base_id", "related_id", "cluster_rank", "subject_id"])
    members["base_id"] = members["base_id"].astype("int64")
    members["related_id"] = members["related_id"].astype("Int64")
    members["cluster_rank"] = members["cluster_rank"].astype("int64")
    return members


def write_styled_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: Path,
    *,
    sections: Mapping[str, Any] | None = None,
    public: bool = False,
) -> list[str]:
    """Write `layers` to a styled GeoPackage 1.2 at `path` (a new file).

    Returns
    -------
    list of str
        The tables written, in order (the layers, the members table if any).
    """
    import pyogrio  # noqa: PLC0415

    with _unsynced(pyogrio):
        return _write_styled(pyogrio, layers, path, sections=sections, public=public)


@contextmanager
def _unsynced(pyogrio: Any) -> Iterator[None]:
    """SQLite without a flush to disk per transaction, and a larger page cache.

    The GeoPackage is a new file in the run's staging folder, which is swapped
    in only once every file is complete (`geo_stunting.outputs._folder`); like
    the run's other files it is left to the operating system to write out.
    A flush per transaction (a third of the time for 300,000 features) buys
    nothing here: a crashed run never replaces the previous folder.
    """
    options = {"OGR_SQLITE_SYNCHRONOUS": "OFF", "OGR_SQLITE_CACHE": "512"}  # cache in MB
    before = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


def _write_styled(
    pyogrio: Any,
    layers: Mapping[str, gpd.GeoDataFrame],
    path: Path,
    *,
    sections: Mapping[str, Any] | None,
    public: bool,
) -> list[str]:
    ctx = _context(sections, public=public)
    written: list[str] = []
    date_columns: dict[str, list[str]] = {}
    frames: dict[str, pd.DataFrame] = {}
    for name, gdf in layers.items():
        frame, dates = _typed(gdf)
        if name == "scan_clusters" and "subject_ids" in frame:
            frames[MEMBERS_TABLE] = _members(frame, layers.get("subjects"))
            frame = frame.drop(columns="subject_ids")
        _write(pyogrio, path, name, frame)
        date_columns[name] = dates
        written.append(name)
    if MEMBERS_TABLE in frames:
        _write(pyogrio, path, MEMBERS_TABLE, frames[MEMBERS_TABLE])
        written.append(MEMBERS_TABLE)
    styles = pd.DataFrame(
        [
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": "geom",
                "styleName": name,
                "styleQML": layer_qml(name, layers[name], ctx),
                "styleSLD": "",
                "useAsDefault": True,
                "description": LAYER_DESCRIPTIONS.get(name, name),
                "owner": "geo_stunting",
                "ui": None,
                "update_time": pd.Timestamp(dt.datetime.now(dt.UTC)).tz_localize(None),
            }
            for name in layers
        ]
    )
    _write(pyogrio, path, _STYLE_TABLE, styles, description="QGIS styles of the layers")
    with closing(sqlite3.connect(path)) as db, db:
        for name, columns in date_columns.items():
            _dates_as_dates(db, name, columns)
        if MEMBERS_TABLE in frames:
            _register_relation(db)
    return written


def _write(
    pyogrio: Any, path: Path, name: str, frame: pd.DataFrame, *, description: str | None = None
) -> None:
    options = {"DESCRIPTION": description or LAYER_DESCRIPTIONS.get(name, name)}
    pyogrio.write_dataframe(
        frame,
        path,
        layer=name,
        driver="GPKG",
        dataset_options={"VERSION": "1.2"},
        layer_options=options,
        use_arrow=True,  # columns at once: 0.58 s vs 0.85 s for 100k points
    )


def _dates_as_dates(db: sqlite3.Connection, table: str, columns: list[str]) -> None:
    """Declare the ISO date columns (written as text) GeoPackage DATE columns.

    A GeoPackage DATE is text ``YYYY-MM-DD`` in a column declared DATE;
    pyogrio has no way to ask for one, so the declaration is changed after.
    """
    if not columns:
        return
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    for column in columns:
        sql = sql.replace(f'"{column}" TEXT', f'"{column}" DATE')
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = ? WHERE name = ? AND type = 'table'", (sql, table))
    db.execute("PRAGMA writable_schema = OFF")


def _register_relation(db: sqlite3.Connection) -> None:
    """Declare scan_clusters ↔ subjects through the members table (Related Tables extension)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS gpkg_extensions (table_name TEXT, column_name TEXT, "
        "extension_name TEXT NOT NULL, definition TEXT NOT NULL, scope TEXT NOT NULL, "
        "CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS gpkgext_relations (id INTEGER PRIMARY KEY AUTOINCREMENT, "
        "base_table_name TEXT NOT NULL, base_primary_column TEXT NOT NULL DEFAULT 'id', "
        "related_table_name TEXT NOT NULL, related_primary_column TEXT NOT NULL DEFAULT 'id', "
        "relation_name TEXT NOT NULL, mapping_table_name TEXT NOT NULL UNIQUE)"
    )
    for table in ("gpkgext_relations", MEMBERS_TABLE):
        db.execute(
            "INSERT OR IGNORE INTO gpkg_extensions VALUES (?, NULL, 'related_tables', ?, "
            "'read-write')",
            (table, _RTE),
        )
    db.execute(
        "INSERT INTO gpkgext_relations (base_table_name, base_primary_column, "
        "related_table_name, related_primary_column, relation_name, mapping_table_name) "
        "VALUES ('scan_clusters', 'fid', 'subjects', 'fid', 'features', ?)",
        (MEMBERS_TABLE,),
    )


def read_layers(path: Path) -> dict[str, gpd.GeoDataFrame]:
    """Read the layers of a layers.gpkg as written, ``subject_ids`` joined back.

    The QGIS styles and the members table are not layers of the analysis;
    ``scan_clusters.subject_ids`` is rebuilt from the members table.
    """
    import pyogrio  # noqa: PLC0415

    names = [str(name) for name, _ in pyogrio.list_layers(path)]
    skip = {_STYLE_TABLE, MEMBERS_TABLE}
    layers = {n: pyogrio.read_dataframe(path, layer=n) for n in names if n not in skip}
    if MEMBERS_TABLE in names and "scan_clusters" in layers:
        members = pyogrio.read_dataframe(path, layer=MEMBERS_TABLE)
        joined = members.groupby("cluster_rank", sort=False)["subject_id"].agg(", ".join)
        clusters = layers["scan_clusters"].copy()
        clusters["subject_ids"] = clusters["rank"].map(joined)
        layers["scan_clusters"] = clusters
    return layers


# ------------------------------------------------------------------------------------ project
#: Groups of the project's layer tree, top (drawn last) to bottom.
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Study data", ("facilities", "subjects")),
    ("Access", ("nearest_lines", "facility_buffers", "coverage")),
    (
        "Clusters and risk",
        (
            "subjects_scan",
            "subjects_autocorrelation",
            "scan_clusters",
            "relative_risk_high",
            "relative_risk_grid",
        ),
    ),
    ("Villages", ("window", "area_coverage", "area")),
)


def _layer_id(name: str) -> str:
    return f"{name}_{uuid.uuid5(uuid.NAMESPACE_URL, 'geo_stunting/' + name).hex[:12]}"


def _srs(parent: ET.Element, crs: Any) -> None:
    ref = ET.SubElement(parent, "spatialrefsys")
    ET.SubElement(ref, "wkt").text = crs.to_wkt() if crs is not None else ""
    authority = crs.to_authority() if crs is not None else None
    ET.SubElement(ref, "authid").text = ":".join(authority) if authority else ""
    ET.SubElement(ref, "description").text = crs.name if crs is not None else ""


def _visible(name: str, frame: pd.DataFrame, ctx: MapContext) -> bool:
    return any(rule.active for rule in layer_rules(name, frame, ctx))


def _geometry_attr(frame: pd.DataFrame) -> str:
    geom_type = getattr(frame, "geom_type", pd.Series(dtype=str))
    types = {str(t) for t in geom_type.dropna().unique()}  # unique first: 100k rows in C
    if types & {"Point", "MultiPoint"}:
        return "Point"
    if types & {"LineString", "MultiLineString"}:
        return "Line"
    return "Polygon"


def write_project(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: Path,
    *,
    gpkg_name: str = "layers.gpkg",
    title: str = "geo_stunting",
    sections: Mapping[str, Any] | None = None,
    public: bool = False,
) -> None:
    """Write the QGIS project `path` (``.qgz``) that opens `gpkg_name` beside it, styled.

    Every layer gets the style of its ``layer_styles`` row; layers sit in
    groups (study data, access, clusters and risk, villages) in the web map's
    drawing order; layers off when the web map opens are off here too. Paths
    are relative (``./layers.gpkg``), so the folder can be moved or zipped.
    With a members table, the project declares its relations to
    ``scan_clusters`` (``cluster_rank`` → ``rank``) and ``subjects``
    (``subject_id``), so QGIS forms list a cluster's members.
    """
    ctx = _context(sections, public=public)
    crs = next((g.crs for g in layers.values() if getattr(g, "crs", None) is not None), None)
    root = ET.Element("qgis", {"projectname": title, "version": QGIS_VERSION})
    ET.SubElement(root, "homePath", {"path": ""})
    ET.SubElement(root, "title").text = title
    _srs(ET.SubElement(root, "projectCrs"), crs)
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    grouped = {name for _, names in _GROUPS for name in names}
    plan = [(g, [n for n in names if n in layers]) for g, names in _GROUPS]
    plan.append(("Other", [n for n in layers if n not in grouped]))
    members = MEMBERS_TABLE if "scan_clusters" in layers and not public else None
    for group, names in plan:
        if not names:
            continue
        node = ET.SubElement(
            tree,
            "layer-tree-group",
            {"name": group, "checked": "Qt::Checked", "expanded": "1"},
        )
        ET.SubElement(node, "customproperties")
        for name in names:
            checked = "Qt::Checked" if _visible(name, layers[name], ctx) else "Qt::Unchecked"
            ET.SubElement(
                node,
                "layer-tree-layer",
                {
                    "id": _layer_id(name),
                    "name": name,
                    "source": f"./{gpkg_name}|layername={name}",
                    "providerKey": "ogr",
                    "checked": checked,
                    "expanded": "0" if checked == "Qt::Unchecked" else "1",
                },
            )
    if members is not None:
        ET.SubElement(
            tree,
            "layer-tree-layer",
            {
                "id": _layer_id(members),
                "name": members,
                "source": f"./{gpkg_name}|layername={members}",
                "providerKey": "ogr",
                "checked": "Qt::Checked",
                "expanded": "0",
            },
        )
    relations = ET.SubElement(root, "relations")
    if members is not None:
        for referenced, field, target in (
            ("scan_clusters", "cluster_rank", "rank"),
            ("subjects", "subject_id", "subject_id"),
        ):
            if referenced not in layers:
                continue
            relation = ET.SubElement(
                relations,
                "relation",
                {
                    "id": f"{members}_{referenced}",
                    "name": f"{referenced} of {members}",
                    "referencingLayer": _layer_id(members),
                    "referencedLayer": _layer_id(referenced),
                    "strength": "Association",
                },
            )
            ET.SubElement(
                relation, "fieldRef", {"referencingField": field, "referencedField": target}
            )
    _canvas(root, layers, crs)
    holder = ET.SubElement(root, "projectlayers")
    for name, frame in layers.items():
        holder.append(_map_layer(name, frame, gpkg_name, crs, ctx))
    if members is not None:
        holder.append(_table_layer(members, gpkg_name))
    properties = ET.SubElement(root, "properties")
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", {"type": "bool"}).text = "false"
    ET.indent(root)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
    text += ET.tostring(root, encoding="unicode") + "\n"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(path.with_suffix(".qgs").name, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text)


def _canvas(root: ET.Element, layers: Mapping[str, gpd.GeoDataFrame], crs: Any) -> None:
    bounds = [g.total_bounds for g in layers.values() if len(g) and hasattr(g, "total_bounds")]
    canvas = ET.SubElement(root, "mapcanvas", {"name": "theMapCanvas", "annotationsVisible": "1"})
    ET.SubElement(canvas, "units").text = "meters"
    if bounds:
        b = np.asarray(bounds, dtype=float)
        xmin, ymin = np.nanmin(b[:, 0]), np.nanmin(b[:, 1])
        xmax, ymax = np.nanmax(b[:, 2]), np.nanmax(b[:, 3])
        extent = ET.SubElement(canvas, "extent")
        for key, value in zip(
            ("xmin", "ymin", "xmax", "ymax"), (xmin, ymin, xmax, ymax), strict=True
        ):
            ET.SubElement(extent, key).text = repr(float(value))
    ET.SubElement(canvas, "rotation").text = "0"
    _srs(ET.SubElement(canvas, "destinationsrs"), crs)


def _map_layer(
    name: str, frame: gpd.GeoDataFrame, gpkg_name: str, crs: Any, ctx: MapContext
) -> ET.Element:
    elements = style_elements(name, frame, ctx)
    labelled = any(e.tag == "labeling" for e in elements)
    layer = ET.Element(
        "maplayer",
        {
            "type": "vector",
            "geometry": _geometry_attr(frame),
            "labelsEnabled": "1" if labelled else "0",
            "styleCategories": "AllStyleCategories",
        },
    )
    ET.SubElement(layer, "id").text = _layer_id(name)
    ET.SubElement(layer, "datasource").text = f"./{gpkg_name}|layername={name}"
    ET.SubElement(layer, "layername").text = name
    _srs(ET.SubElement(layer, "srs"), frame.crs if frame.crs is not None else crs)
    meta = ET.SubElement(layer, "resourceMetadata")
    ET.SubElement(meta, "title").text = name
    ET.SubElement(meta, "abstract").text = LAYER_DESCRIPTIONS.get(name, name)
    ET.SubElement(layer, "provider", {"encoding": "UTF-8"}).text = "ogr"
    layer.extend(elements)
    return layer


def _table_layer(name: str, gpkg_name: str) -> ET.Element:
    layer = ET.Element("maplayer", {"type": "vector", "geometry": "No geometry"})
    ET.SubElement(layer, "id").text = _layer_id(name)
    ET.SubElement(layer, "datasource").text = f"./{gpkg_name}|layername={name}"
    ET.SubElement(layer, "layername").text = name
    meta = ET.SubElement(layer, "resourceMetadata")
    ET.SubElement(meta, "title").text = name
    ET.SubElement(meta, "abstract").text = LAYER_DESCRIPTIONS[name]
    ET.SubElement(layer, "provider", {"encoding": "UTF-8"}).text = "ogr"
    return layer
