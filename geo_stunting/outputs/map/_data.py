"""Turn a run's layers into the compact JSON the map page draws from.

Each layer becomes a *table*: its geometry in longitude/latitude (points as
one flat coordinate array, other geometries as GeoJSON, coordinates rounded
to 6 decimals, about 0.1 m) and its columns stored column-wise (repeated
strings as categories, floats rounded to 6 significant digits). Layers that
only add columns to the subjects or the villages (``extends`` in the
registry) are joined into that table, so every child's point is sent once.
Each registry `Group` becomes a list of row numbers of a table and a style.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo_stunting.outputs.map._area_layers import area_layer_style
from geo_stunting.outputs.map._bins import GRID_LAYER, HIGHLIGHT_MAX, MAP_POINTS_MAX, grid_counts
from geo_stunting.outputs.map._columns import column_format, column_label
from geo_stunting.outputs.map._layers import (
    GENERIC_STYLE,
    LAYER_STYLES,
    Group,
    LayerStyle,
    MapContext,
    Ramp,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    import geopandas as gpd

__all__ = ["MapData", "build_map_data", "dumps_for_html", "registry_order"]

log = logging.getLogger(__name__)

COORD_DECIMALS = 6
SIMPLIFY_M = 1.0
#: Villages are labelled on the map when there are at most this many.
MAX_LABELS = 150


@dataclass
class _Table:
    name: str
    frame: pd.DataFrame  # attributes only, RangeIndex
    geometry: gpd.GeoSeries  # EPSG:4326
    points: bool
    first: list[str]
    link: tuple[str, str, str, str] | None = None


@dataclass(frozen=True)
class MapData:
    """The page's data: tables, groups (draw order) and the bounds to show."""

    tables: dict[str, dict[str, Any]]
    groups: list[dict[str, Any]]
    bounds: list[list[float]] | None
    #: How the children are drawn when they are counted per cell ("" when drawn as points).
    binned: str = ""

    def to_json(self) -> str:
        """The JSON text (not yet escaped for HTML)."""
        return json.dumps(
            {"tables": self.tables, "groups": self.groups, "bounds": self.bounds},
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )


def dumps_for_html(text: str) -> str:
    r"""Make JSON text safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` can only occur inside JSON strings, where their
    ``\\u`` escapes mean the same; so no value can close the script element.
    """
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def registry_order(layers: Mapping[str, Any]) -> list[str]:
    """Layer names in draw order: the registry's order, then unknown layers."""
    known = [name for name in LAYER_STYLES if name in layers]
    return known + [name for name in layers if name not in LAYER_STYLES]


def build_map_data(layers: Mapping[str, gpd.GeoDataFrame], ctx: MapContext) -> MapData:
    """Encode `layers` for the map page.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame (any projected or geographic CRS).
    ctx
        Settings and mode of the map.

    Returns
    -------
    MapData
        Tables and groups; groups with no feature are left out. With more
        than `MAP_POINTS_MAX` subjects, their counts per grid cell replace
        their points (see `geo_stunting.outputs.map._bins`).
    """
    subjects = layers.get("subjects")
    binned = subjects is not None and len(subjects) > MAP_POINTS_MAX
    said = ""
    if binned and subjects is not None:
        grid = grid_counts(subjects)
        if grid is not None:
            layers = {**layers, GRID_LAYER: grid}
            said = (
                f"{len(subjects):,} children, more than the {MAP_POINTS_MAX:,} this map draws "
                f"one by one: cases and controls are counted per {grid['cell'].iloc[0]} cell. "
                "The points themselves are in layers.gpkg."
            )
    tables: dict[str, _Table] = {}
    home: dict[str, str] = {}  # layer name → table holding its rows
    order = registry_order(layers)
    for extending in (False, True):  # base tables first, then the layers that extend them
        for name in order:
            spec = _style_of(name)
            if bool(spec is not None and spec.extends) != extending:
                continue
            gdf = layers[name]
            if spec is not None and spec.extends and _join(tables, spec, gdf, layers):
                home[name] = spec.extends
                continue
            table = _make_table(name, gdf, spec)
            if table is not None:
                tables[name] = table
                home[name] = name

    groups: list[dict[str, Any]] = []
    for name in order:
        if name not in home:
            continue
        spec = _style_of(name) or _generic_spec(name)
        table = tables[home[name]]
        if binned and spec.link is not None and "subjects" in (spec.link[0], spec.link[2]):
            log.info("map: %s not drawn (%s subjects: counted per cell)", name, len(table.frame))
            continue
        for entry in spec.groups:
            expanded = _expand(entry, table, ctx, layer=name)
            if (
                binned
                and table.name == "subjects"
                and (entry.binned or sum(g["n"] for g in expanded) > HIGHLIGHT_MAX)
            ):
                continue  # the grid's counts say it
            groups.extend(expanded)
    for rank, group in enumerate(groups):
        group["rank"] = rank
        group["id"] = f"g{rank}"
    drawn = {
        name: _for_display(_used_rows(table, groups))
        for name, table in tables.items()
        if any(g["table"] == name for g in groups)
    }
    encoded = {name: _encode_table(table, drawn) for name, table in drawn.items()}
    _encode_rows(groups, {name: t["n"] for name, t in encoded.items()})
    return MapData(encoded, groups, _bounds(drawn), binned=said)


def _encode_rows(groups: list[dict[str, Any]], sizes: Mapping[str, int]) -> None:
    """Encode each group's rows compactly.

    ``null`` (every row), ``{"delta": [...]}`` (ascending row numbers, each
    minus the previous) or ``{"same": k}`` (the rows of group k).
    """
    seen: dict[tuple[str, bytes], int] = {}
    for index, group in enumerate(groups):
        rows = np.asarray(group.pop("_rows"), dtype=np.int64)
        if len(rows) == sizes[group["table"]]:
            group["rows"] = None
            continue
        key = (group["table"], rows.tobytes())
        if key in seen:
            group["rows"] = {"same": seen[key]}
        else:
            seen[key] = index
            group["rows"] = {"delta": np.diff(rows, prepend=0).tolist()}


def _used_rows(table: _Table, groups: list[dict[str, Any]]) -> _Table:
    """Keep only the rows some group draws, and renumber the groups' rows."""
    mine = [g for g in groups if g["table"] == table.name]
    used = np.zeros(len(table.frame), dtype=bool)
    for group in mine:
        used[group["_rows"]] = True
    if used.all():
        return table
    new_index = np.cumsum(used) - 1
    for group in mine:
        group["_rows"] = new_index[group["_rows"]]
    kept = np.flatnonzero(used)
    return _Table(
        table.name,
        table.frame.iloc[kept].reset_index(drop=True),
        table.geometry.iloc[kept].reset_index(drop=True),
        table.points,
        table.first,
        table.link,
    )


# ------------------------------------------------------------------------------------ tables
def _for_display(table: _Table) -> _Table:
    """Polygons simplified by `SIMPLIFY_M` (metres), everything in longitude/latitude.

    The count grid's cells are squares of 100 m or more, which simplifying
    leaves as they are: they are not simplified.
    """
    geoms = table.geometry
    crs = geoms.crs
    polygons = geoms.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    polygons = polygons & (table.name != GRID_LAYER)
    if polygons.any() and crs is not None and crs.is_projected:
        simple = geoms.copy()
        simple[polygons] = _simplified(geoms[polygons], SIMPLIFY_M)
        geoms = simple
    if crs is not None and not crs.equals("EPSG:4326"):
        geoms = geoms.to_crs(4326)
    return _Table(table.name, table.frame, geoms, table.points, table.first, table.link)


def _simplified(geoms: gpd.GeoSeries, tolerance_m: float) -> gpd.GeoSeries:
    """Douglas–Peucker simplification; topology-preserving where that lost a shape.

    Plain Douglas–Peucker is 10–15 times faster (3,000 facility buffers: 0.06
    s instead of 0.76 s, the same vertices kept); a shape it would lose (a
    polygon narrower than the tolerance collapses to nothing) or leave invalid
    is simplified the slow, safe way, so every village and buffer stays drawn.
    """
    fast = geoms.simplify(tolerance_m, preserve_topology=False)
    broken = (~fast.is_valid.to_numpy() | fast.is_empty.to_numpy()) & (
        geoms.is_valid.to_numpy() & ~geoms.is_empty.to_numpy()
    )
    if broken.any():
        fast[broken] = geoms[broken].simplify(tolerance_m, preserve_topology=True)
    return fast


def _make_table(name: str, gdf: gpd.GeoDataFrame, spec: LayerStyle | None) -> _Table | None:
    geometry = gdf.geometry
    keep = geometry.notna().to_numpy() & ~geometry.is_empty.to_numpy()
    if not keep.any():
        return None
    gdf = gdf[keep]
    points = bool((gdf.geom_type == "Point").all())
    geoms = gdf.geometry
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    if spec is not None and spec.columns is not None:
        frame = frame[[c for c in spec.columns if c in frame.columns]]
    first = list(spec.popup_first) if spec else []
    link = spec.link if spec is not None else None
    return _Table(name, frame, geoms.reset_index(drop=True), points, first, link)


def _join(
    tables: dict[str, _Table],
    spec: LayerStyle,
    gdf: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
) -> bool:
    """Add the columns of an ``extends`` layer to its base table; False if they cannot join.

    Rows are matched on the registry's key, or, when neither has it (public
    layers carry no ids), by position when both hold the same points in the
    same order.
    """
    base = tables.get(spec.extends or "")
    if base is None:
        return False
    key = spec.key
    new = [c for c in gdf.columns if c != gdf.geometry.name and c not in base.frame.columns]
    if key in base.frame and key in gdf:
        base_keys = pd.Index(base.frame[key].astype(str).to_numpy(dtype=object))
        ext_keys = pd.Index(gdf[key].astype(str).to_numpy(dtype=object))
        if not (base_keys.is_unique and ext_keys.is_unique):
            return False
        where = ext_keys.get_indexer(base_keys)
        if (where < 0).any():
            return False
        values = pd.DataFrame(gdf[new]).iloc[where].reset_index(drop=True)
    elif key not in gdf and len(gdf) == len(base.frame) and _same_points(gdf, base, layers):
        values = pd.DataFrame(gdf[new]).reset_index(drop=True)
    else:
        return False
    for column in new:
        base.frame[column] = values[column].to_numpy()
    base.first += [c for c in spec.popup_first if c not in base.first]
    return True


def _same_points(
    gdf: gpd.GeoDataFrame, base: _Table, layers: Mapping[str, gpd.GeoDataFrame]
) -> bool:
    source = layers.get(base.name)
    if source is None or len(source) != len(gdf):
        return False
    a = shapely.get_coordinates(source.geometry.to_numpy())
    b = shapely.get_coordinates(gdf.geometry.to_numpy())
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=1e-6))


def _style_of(name: str) -> LayerStyle | None:
    """The registry entry of a layer, or the entry made from an ``areas`` layer's name."""
    return LAYER_STYLES.get(name) or area_layer_style(name)


def _generic_spec(name: str) -> LayerStyle:
    """A layer without a registry entry: drawn plainly, off by default."""
    title = name.replace("_", " ").capitalize()
    return LayerStyle(groups=(Group(f"{title} ({{n}})", style=GENERIC_STYLE),))


def _encode_table(table: _Table, tables: Mapping[str, _Table]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(table.frame)}
    links = _links(table, tables) if table.link else None
    if table.points:
        xy = np.round(shapely.get_coordinates(table.geometry.to_numpy()), COORD_DECIMALS)
        out["points"] = xy.ravel().tolist()
    elif links is not None:
        out["links"] = links
    else:
        out.update(encode_shapes(table.geometry.to_numpy()))
    order = [c for c in table.first if c in table.frame] + [
        c for c in table.frame.columns if c not in table.first
    ]
    out["columns"] = [_encode_column(str(c), table.frame[c]) for c in order]
    return out


def _links(table: _Table, tables: Mapping[str, _Table]) -> dict[str, Any] | None:
    """Two-point lines from a point of one table to a point of another, as row pairs.

    None (send the coordinates) unless every line starts and ends exactly at
    the points its keys name.
    """
    assert table.link is not None
    source, source_key, target, target_key = table.link
    ends: list[np.ndarray[Any, np.dtype[np.intp]]] = []
    coords = shapely.get_coordinates(table.geometry.to_numpy())
    if len(coords) != 2 * len(table.frame):
        return None
    for name, key, offset in ((source, source_key, 0), (target, target_key, 1)):
        other = tables.get(name)
        if other is None or not other.points or key not in other.frame:
            return None
        if key not in table.frame:
            return None
        index = pd.Index(other.frame[key].astype(str).to_numpy(dtype=object))
        if not index.is_unique:
            return None
        rows = index.get_indexer(table.frame[key].astype(str).to_numpy(dtype=object))
        if (rows < 0).any():
            return None
        points = shapely.get_coordinates(other.geometry.to_numpy())[rows]
        if not np.allclose(points, coords[offset::2], rtol=0, atol=1e-7):
            return None
        ends.append(rows)
    pairs = np.column_stack(ends).ravel()
    return {"from": source, "to": target, "rows": pairs.tolist()}


_FAMILY = {1: "line", 5: "line", 3: "polygon", 6: "polygon", 4: "point"}


def encode_shapes(geoms: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Lines and polygons as delta-encoded integer microdegrees with offsets.

    ``{"shape": {"family", "xy", "rings", "parts", "geoms"}}``: ``xy`` holds
    round(coordinate × 10⁶) as x, y pairs, each minus the previous pair (the
    first as it is); ``rings`` (polygons only) gives each ring's first coordinate,
    ``parts`` each part's first ring (or coordinate, for lines) and ``geoms``
    each geometry's first part. Mixed geometry types go as GeoJSON.
    """
    try:
        kind, coords, offsets = shapely.to_ragged_array(geoms)
    except (ValueError, NotImplementedError):
        rounded = shapely.transform(geoms, lambda c: np.round(c, COORD_DECIMALS))
        return {"geojson": [json.loads(g) for g in shapely.to_geojson(rounded)]}
    code = int(kind)
    family = _FAMILY.get(code)
    if family is None:
        rounded = shapely.transform(geoms, lambda c: np.round(c, COORD_DECIMALS))
        return {"geojson": [json.loads(g) for g in shapely.to_geojson(rounded)]}
    ints = np.round(coords[:, :2] * 10**COORD_DECIMALS).astype(np.int64)
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel()
    single = np.arange(len(geoms) + 1)
    shape: dict[str, Any] = {"family": family, "xy": deltas.tolist()}
    if code == 3:  # Polygon: rings → coords, geometry → rings
        shape.update(rings=offsets[0].tolist(), parts=offsets[1].tolist(), geoms=single.tolist())
    elif code == 6:  # MultiPolygon: rings, polygons → rings, geometry → polygons
        shape.update(
            rings=offsets[0].tolist(), parts=offsets[1].tolist(), geoms=offsets[2].tolist()
        )
    elif code in (1, 4):  # LineString / MultiPoint: geometry → coords
        shape.update(parts=offsets[0].tolist(), geoms=single.tolist())
    else:  # MultiLineString: lines → coords, geometry → lines
        shape.update(parts=offsets[0].tolist(), geoms=offsets[1].tolist())
    return {"shape": shape}


def _encode_column(name: str, series: pd.Series[Any]) -> dict[str, Any]:
    fmt = column_format(name, series.dtype)
    values = encode_values(series, fmt=fmt)
    return {"name": name, "label": column_label(name), "fmt": fmt, "values": values}


def encode_values(series: pd.Series[Any], *, fmt: str = "num") -> Any:
    """Column values as JSON: numbers rounded, strings as categories when repeated.

    Floats keep what their display format shows: distances to 0.1 m (1 m
    beyond 100 m), p-values to 4 decimals, other numbers to 5 significant
    digits of the column's largest value.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_float_dtype(dtype)
    ):
        missing = series.isna().to_numpy()
        ints = series.astype("Int64").fillna(0).to_numpy(dtype=np.int64).astype(object)
        ints[missing] = None
        return ints.tolist()
    if pd.api.types.is_float_dtype(dtype):
        return round_floats(series.to_numpy(dtype=float), fmt=fmt)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    raw = np.asarray(uniques, dtype=object)
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        cats = [str(u) for u in raw.tolist()]
    else:
        cats = [_text(u) for u in raw.tolist()]
    if len(cats) <= max(16, len(series) // 4):
        return {"c": cats, "k": codes.tolist()}
    lookup = np.array([*cats, None], dtype=object)
    return lookup[codes].tolist()


def _text(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    return str(value)


def round_floats(
    values: np.ndarray[Any, np.dtype[np.float64]], *, fmt: str = "num"
) -> list[float | None]:
    """Round a column for display (see `encode_values`); NaN and inf → None."""
    finite = np.isfinite(values)
    if not finite.any():
        return [None] * len(values)
    largest = float(np.max(np.abs(values[finite])))
    if fmt == "m":
        decimals = 0 if largest >= 100 else 1
    elif fmt == "p":
        decimals = 4
    elif fmt in {"pct", "m2"}:
        decimals = 2 if largest < 1e5 else 0
    else:
        decimals = 6 if largest == 0 else min(10, max(0, 4 - math.floor(math.log10(largest))))
    rounded = np.round(np.where(finite, values, 0.0), decimals)
    out = (rounded.astype(np.int64) if decimals == 0 else rounded).astype(object)
    out[~finite] = None
    return list(out.tolist())


def _bounds(tables: Mapping[str, _Table]) -> list[list[float]] | None:
    for name in ("area", "subjects", *tables):
        if name in tables:
            minx, miny, maxx, maxy = tables[name].geometry.total_bounds
            if np.isfinite([minx, miny, maxx, maxy]).all():
                return [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    return None


# ------------------------------------------------------------------------------------ groups
def _expand(group: Group, table: _Table, ctx: MapContext, *, layer: str) -> list[dict[str, Any]]:
    frame = table.frame
    if group.where is None:
        mask = np.ones(len(frame), dtype=bool)
    else:
        try:
            mask = np.asarray(group.where(frame, ctx), dtype=bool)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("map: group %r of layer %s not drawn: %s", group.title, layer, exc)
            return []
    if group.split_by is None:
        parts: list[tuple[Any, np.ndarray[Any, np.dtype[np.bool_]]]] = [(None, mask)]
    elif group.split_by in frame:
        column = frame[group.split_by]
        values = sorted(column[mask].dropna().astype(str).unique())
        parts = [(v, mask & (column.astype(str) == v).to_numpy()) for v in values]
    else:
        parts = [(None, mask)]
    out = []
    for value, selected in parts:
        rows = np.flatnonzero(selected)
        if len(rows) == 0:
            continue
        show = group.show(value, ctx) if callable(group.show) else group.show
        if group.show_max is not None and len(rows) > group.show_max:
            show = False
        spec = _group_spec(group, table, ctx, rows, value=value, show=bool(show))
        spec["layer"] = layer
        out.append(spec)
    return out


def _fill_in(template: str, ctx: MapContext, **values: Any) -> str:
    text = template.replace("{buffer}", ctx.buffer_text)
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _group_spec(
    group: Group,
    table: _Table,
    ctx: MapContext,
    rows: np.ndarray[Any, np.dtype[np.intp]],
    *,
    value: Any,
    show: bool,
) -> dict[str, Any]:
    n = len(rows)
    title = _fill_in(group.title, ctx, n=f"{n:,}", value="" if value is None else value)
    style = dict(group.style)
    if not ctx.online:
        style.update(group.offline_style)
    geom = "point" if table.points else _geom_kind(table.geometry.iloc[int(rows[0])])
    spec: dict[str, Any] = {
        "title": title,
        "kind": group.kind,
        "table": table.name,
        "_rows": rows,
        "n": n,
        "show": show,
        "style": style,
        "geom": geom,
        "tooltip": _fill_in(group.tooltip, ctx),
        "options": dict(group.options),
    }
    legend: list[dict[str, Any]] = []
    if group.style_by is not None:
        keys = _categories(group.style_by[0], table.frame, rows)
        styles = group.style_by[1]
        present = [k for k in dict.fromkeys(keys) if k is not None]
        known = [k for k in styles if k in present] + [k for k in present if k not in styles]
        codes = {k: i for i, k in enumerate(known)}
        spec["styles"] = [{**styles.get(k, styles.get("*", {}))} for k in known]
        spec["cats"] = [codes.get(k, -1) if k is not None else -1 for k in keys]
        legend = [
            {
                "label": _fill_in(group.legend.get(k, k), ctx),
                "style": {**style, **spec["styles"][codes[k]]},
            }
            for k in known
        ]
    if group.ramp is not None and group.ramp.column in table.frame:
        spec["ramp"] = _ramp(group.ramp, table.frame[group.ramp.column].iloc[rows], ctx)
    if group.kind == "labels":
        column = str(group.options.get("column", "name"))
        if column not in table.frame or len(table.frame) > MAX_LABELS:
            spec["show"] = False
        anchors = table.geometry.iloc[rows].representative_point()
        if anchors.crs is not None and not anchors.crs.equals("EPSG:4326"):
            anchors = anchors.to_crs(4326)
        xy = shapely.get_coordinates(anchors.to_numpy())
        spec["anchors"] = np.round(xy, 5).ravel().tolist()
    if group.split_by is not None and "styles" in spec and len(spec["styles"]) == 1:
        # one value per group: its style is the group's style
        spec["style"] = {**style, **spec.pop("styles")[0]}
        spec.pop("cats")
        legend = [{"label": title, "style": spec["style"]}]
    if group.split_by is not None or not legend:
        legend = [{"label": title, "style": legend[0]["style"] if legend else style}]
    elif len(legend) == 1:
        legend = [{"label": f"{title}: {legend[0]['label']}", "style": legend[0]["style"]}]
    spec["legend"] = legend
    return spec


def _categories(
    by: Any, frame: pd.DataFrame, rows: np.ndarray[Any, np.dtype[np.intp]]
) -> list[str | None]:
    if not callable(by) and by not in frame:
        return [None] * len(rows)
    values = by(frame) if callable(by) else frame[by]
    selected = pd.Series(values).iloc[rows]
    out: list[str | None] = []
    for v in selected.astype(object):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(None)
        elif isinstance(v, bool | np.bool_):
            out.append("true" if v else "false")
        else:
            out.append(str(v))
    return out


def _ramp(ramp: Ramp, values: pd.Series[Any], ctx: MapContext) -> dict[str, Any]:
    low, high = ramp.bounds(values)
    k = len(ramp.colours)
    stops = [[low + (high - low) * i / (k - 1), c] for i, c in enumerate(ramp.colours)]
    return {
        "column": ramp.column,
        "prop": ramp.prop,
        "stops": stops,
        "label": _fill_in(ramp.label, ctx),
        "fmt": column_format(ramp.column, values.dtype),
    }


def _geom_kind(geom: Any) -> str:
    kind = str(getattr(geom, "geom_type", ""))
    if "Polygon" in kind:
        return "polygon"
    if "Line" in kind:
        return "line"
    return "point"
