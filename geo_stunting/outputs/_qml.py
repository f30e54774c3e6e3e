"""QGIS styles (QML) of the output layers, derived from the web map's registry.

`layer_qml` turns a layer's `~geo_stunting.outputs.map._layers.LayerStyle`
into a QGIS rule-based renderer: one rule per group of the layer control, with
the same colours, symbols, labels and classes as ``map.html``. Each group's
``where`` (a Python function of the frame) becomes a QGIS expression through
`filter_expression`; a function it does not know is left out with a warning,
so a new web-map group never breaks the export (a test checks that every
function of the registry is known and selects the same rows in QGIS).

Leaflet sizes are CSS pixels; QGIS gets millimetres at 96 dpi. Heat maps (a
whole-layer renderer in QGIS) are not translated: the web map's heat map is
off when it opens, and the cases' points carry the same information.
"""

from __future__ import annotations

import inspect
import logging
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo_stunting.outputs.map._layers import GENERIC_STYLE, LAYER_STYLES, Group, LayerStyle

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from geo_stunting.outputs.map._layers import MapContext, Ramp

__all__ = ["QGIS_VERSION", "RuleSpec", "filter_expression", "layer_qml", "layer_rules"]

log = logging.getLogger(__name__)

#: The QGIS version written into styles and projects (the oldest LTR we target).
QGIS_VERSION = "3.22.0-Białowieża"
_PX_MM = 25.4 / 96  # one CSS pixel in millimetres
_LEAFLET = {
    "color": "#3388ff",
    "weight": 3,
    "opacity": 1.0,
    "fillOpacity": 0.2,
    "radius": 10,
    "stroke": True,
}
_SHAPES = {
    "circle": "circle",
    "square": "square",
    "diamond": "diamond",
    "triangle": "triangle",
    "cross": "cross_fill",
}


def _field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        return repr(float(value)) if isinstance(value, float | np.floating) else str(value)
    return "'" + str(value).replace("'", "''") + "'"


# The registry's row filters and category functions, as QGIS expressions. Each
# entry is keyed by the function's name in geo_stunting.outputs.map._layers.
_WHERE: dict[str, Callable[[MapContext], str]] = {
    "_radius_is_buffer": lambda ctx: f'abs("radius_m" - {ctx.buffer_m!r}) <= 1e-6',
    "_radius_not_buffer": lambda ctx: f'abs("radius_m" - {ctx.buffer_m!r}) > 1e-6',
    "_beyond_buffer": lambda _ctx: '"within_buffer" = false',
    "_lisa_cluster": lambda _ctx: "\"lisa_label\" IN ('HH', 'LH', 'LL', 'HL')",
    # the FDR-corrected class (every layer written since the correction carries gi_star_label)
    "_gi_star_spot": lambda _ctx: "\"gi_star_label\" IN ('hot spot', 'cold spot')",
    "_in_scan_cluster": lambda _ctx: '"scan_cluster" IS NOT NULL',
}
_CATEGORISE: dict[str, str] = {
    "_gi_star_sign": "CASE WHEN \"gi_star_z\" > 0 THEN 'hot' ELSE 'cold' END",
}


def filter_expression(where: Callable[..., Any] | None, ctx: MapContext) -> str | None:
    """The QGIS expression selecting the rows a registry ``where`` selects.

    Returns ``""`` for all rows and None when the function is unknown.

    >>> from geo_stunting.outputs.map._layers import LAYER_STYLES
    >>> where = LAYER_STYLES["subjects"].groups[0].where
    >>> print(filter_expression(where, None))
    "status" = 'control'
    """
    if where is None:
        return ""
    name = getattr(where, "__qualname__", "")
    if name.startswith("_equals."):
        bound = inspect.getclosurevars(where).nonlocals
        return f"{_field(bound['column'])} = {_literal(bound['value'])}"
    make = _WHERE.get(getattr(where, "__name__", ""))
    return None if make is None else make(ctx)


def _category_expression(by: str | Callable[..., Any]) -> str | None:
    if callable(by):
        return _CATEGORISE.get(getattr(by, "__name__", ""))
    return _field(by)


def _category_filter(expression: str, key: str, *, boolean: bool) -> str:
    if boolean and key in {"true", "false"}:
        return f"{expression} = {key}"
    return f"{expression} = {_literal(key)}"


# ------------------------------------------------------------------------------------ symbols
def _rgba(colour: str, alpha: float) -> str:
    text = colour.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(max(0.0, min(1.0, alpha)) * 255)}"


def _mm(px: float) -> str:
    return f"{px * _PX_MM:.3g}"


def _dash(style: Mapping[str, Any]) -> str | None:
    dash = style.get("dashArray")
    if not dash:
        return None
    parts = [float(p) for p in str(dash).replace(",", " ").split()]
    return ";".join(_mm(p) for p in parts)


def _line_layer(style: Mapping[str, Any]) -> dict[str, str]:
    props = {
        "line_color": _rgba(style["color"], float(style["opacity"])),
        "line_width": _mm(float(style["weight"])),
        "line_width_unit": "MM",
        "line_style": "solid" if style.get("stroke", True) else "no",
        "capstyle": "round",
        "joinstyle": "round",
    }
    dash = _dash(style)
    if dash:
        props.update(customdash=dash, customdash_unit="MM", use_custom_dash="1")
    return props


def _symbol(style: Mapping[str, Any], geom: str, name: str) -> ET.Element:
    s = {**_LEAFLET, **style}
    s.setdefault("fillColor", s["color"])
    filled = bool(s.get("fill", geom != "line"))
    fill_alpha = float(s["fillOpacity"]) if filled else 0.0
    kind = {"point": "marker", "line": "line", "polygon": "fill"}[geom]
    symbol = ET.Element(
        "symbol",
        {"type": kind, "name": name, "alpha": "1", "clip_to_extent": "1", "force_rhr": "0"},
    )
    layers: list[tuple[str, dict[str, str]]] = []
    if geom == "point":
        stroke = bool(s.get("stroke", True))
        layers.append(
            (
                "SimpleMarker",
                {
                    "name": _SHAPES.get(str(s.get("shape", "circle")), "circle"),
                    "color": _rgba(s["fillColor"], fill_alpha),
                    "outline_color": _rgba(s["color"], float(s["opacity"])),
                    "outline_style": "solid" if stroke else "no",
                    "outline_width": _mm(float(s["weight"])),
                    "outline_width_unit": "MM",
                    "size": _mm(2 * float(s["radius"])),
                    "size_unit": "MM",
                    "scale_method": "diameter",
                    "joinstyle": "round",
                },
            )
        )
    elif geom == "line":
        layers.append(("SimpleLine", _line_layer(s)))
    else:
        layers.append(
            (
                "SimpleFill",
                {
                    "color": _rgba(s["fillColor"], fill_alpha),
                    "style": "solid" if filled else "no",
                    "outline_style": "no",
                    "outline_color": "0,0,0,0",
                },
            )
        )
        if s.get("stroke", True):
            layers.append(("SimpleLine", _line_layer(s)))
    for cls, props in layers:
        layer = ET.SubElement(
            symbol, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"}
        )
        options = ET.SubElement(layer, "Option", {"type": "Map"})
        for key, value in props.items():
            ET.SubElement(options, "Option", {"name": key, "value": value, "type": "QString"})
    return symbol


# -------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class RuleSpec:
    """One rule of a layer's renderer: its label, filter, style and state.

    ``filter`` is a QGIS expression ("" for every row); ``children`` refine
    it (categories of ``style_by``, classes of a ramp).
    """

    label: str
    filter: str
    style: Mapping[str, Any]
    active: bool
    children: tuple[RuleSpec, ...] = ()


def _fill_in(template: str, ctx: MapContext, **values: Any) -> str:
    text = template.replace("{buffer}", ctx.buffer_text)
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _mask(group: Group, frame: pd.DataFrame, ctx: MapContext) -> np.ndarray[Any, Any]:
    if group.where is None:
        return np.ones(len(frame), dtype=bool)
    return np.asarray(group.where(frame, ctx), dtype=bool)


def _interpolate(colours: tuple[str, ...], t: float) -> str:
    rgb = [tuple(int(c.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)) for c in colours]
    pos = min(max(t, 0.0), 1.0) * (len(rgb) - 1)
    i = min(int(pos), len(rgb) - 2)
    f = pos - i
    mixed = [round(a + (b - a) * f) for a, b in zip(rgb[i], rgb[i + 1], strict=True)]
    return "#" + "".join(f"{v:02x}" for v in mixed)


def _ramp_rules(ramp: Ramp, frame: pd.DataFrame, style: Mapping[str, Any]) -> tuple[RuleSpec, ...]:
    low, high = ramp.bounds(frame[ramp.column])
    k = len(ramp.colours)
    edges = [low + (high - low) * i / k for i in range(k + 1)]
    column = _field(ramp.column)
    rules = []
    for i in range(k):
        lower = f"{column} >= {edges[i]!r}" if i else ""
        upper = f"{column} < {edges[i + 1]!r}" if i < k - 1 else ""
        condition = " AND ".join(c for c in (lower, upper) if c) or f"{column} IS NOT NULL"
        colour = _interpolate(ramp.colours, (i + 0.5) / k)
        rules.append(
            RuleSpec(
                f"{edges[i]:.3g} – {edges[i + 1]:.3g}",
                condition,
                {**style, ramp.prop: colour},
                active=True,
            )
        )
    return tuple(rules)


def _group_rules(group: Group, frame: pd.DataFrame, ctx: MapContext, layer: str) -> list[RuleSpec]:
    expression = filter_expression(group.where, ctx)
    if expression is None:
        log.warning("QGIS style of %s: group %r has no QGIS filter, left out", layer, group.title)
        return []
    try:
        mask = _mask(group, frame, ctx)
    except (KeyError, TypeError, ValueError):
        mask = np.zeros(len(frame), dtype=bool)
    style = {**group.style, **group.offline_style}
    parts: list[tuple[Any, str, np.ndarray[Any, Any]]] = [(None, expression, mask)]
    if group.split_by is not None and group.split_by in frame:
        column = frame[group.split_by].astype(str)
        parts = []
        for v in sorted(frame[group.split_by][mask].dropna().astype(str).unique()):
            same = f"{_field(group.split_by)} = {_literal(v)}"
            condition = f"{expression} AND {same}" if expression else same
            parts.append((v, condition, mask & (column == v).to_numpy()))
    rules = []
    for value, condition, selected in parts:
        n = int(selected.sum())
        show = group.show(value, ctx) if callable(group.show) else group.show
        if group.show_max is not None and n > group.show_max:
            show = False
        title = _fill_in(group.title, ctx, n=f"{n:,}", value="" if value is None else value)
        children: tuple[RuleSpec, ...] = ()
        own = dict(style)
        if group.style_by is not None:
            by, styles = group.style_by
            category = _category_expression(by)
            boolean = not callable(by) and by in frame and frame[by].dtype == bool
            if category is not None:
                known = [k for k in styles if k != "*"]
                if value is not None and not callable(by) and by == group.split_by:
                    own.update(styles.get(str(value), styles.get("*", {})))
                else:
                    kids = [
                        RuleSpec(
                            _fill_in(group.legend.get(k, k), ctx),
                            _category_filter(category, k, boolean=boolean),
                            {**style, **styles[k]},
                            active=True,
                        )
                        for k in known
                    ]
                    if "*" in styles:
                        kids.append(RuleSpec("other", "ELSE", {**style, **styles["*"]}, True))
                    children = tuple(kids)
        if group.ramp is not None and group.ramp.column in frame:
            children = _ramp_rules(group.ramp, frame[selected], own)
            title = f"{title} ({_fill_in(group.ramp.label, ctx)})" if group.ramp.label else title
        rules.append(RuleSpec(title, condition, own, bool(show), children))
    return rules


def layer_rules(name: str, frame: pd.DataFrame, ctx: MapContext) -> list[RuleSpec]:
    """The renderer rules of layer `name` (its registry entry, or the generic style)."""
    spec = LAYER_STYLES.get(name)
    if spec is None:
        spec = LayerStyle(groups=(Group(name, style=GENERIC_STYLE),))
    rules = []
    for group in spec.groups:
        if group.kind == "features" and all(c in frame for c in group.needs):
            rules += _group_rules(group, frame, ctx, name)
    return rules


def _geometry_kind(frame: pd.DataFrame) -> str:
    geometry = getattr(frame, "geometry", None)
    if geometry is None:
        return "polygon"
    import shapely  # noqa: PLC0415

    # shapely's type ids (-1 missing, 0 point, 1 line, 2 ring, 3 polygon, 4 multipoint, 5
    # multiline): one C pass, not 100k type names
    ids = set(np.unique(shapely.get_type_id(np.asarray(geometry.array))).tolist())
    if ids & {0, 4}:
        return "point"
    if ids & {1, 5}:
        return "line"
    return "polygon"


def _key(*parts: str) -> str:
    """A stable rule key, so that the same run writes the same style."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "geo_stunting/" + "/".join(parts))) + "}"


def _rule_element(rule: RuleSpec, geom: str, symbols: list[ET.Element]) -> ET.Element:
    attrs = {"key": _key(geom, str(len(symbols)), rule.label), "label": rule.label}
    if rule.filter:
        attrs["filter"] = rule.filter
    if not rule.active:
        attrs["checkstate"] = "0"
    if not rule.children:
        attrs["symbol"] = str(len(symbols))
        symbols.append(_symbol(rule.style, geom, str(len(symbols))))
    element = ET.Element("rule", attrs)
    for child in rule.children:
        element.append(_rule_element(child, geom, symbols))
    return element


def _labeling(spec: LayerStyle | None, frame: pd.DataFrame) -> ET.Element | None:
    for group in spec.groups if spec else ():
        column = str(group.options.get("column", "name"))
        if group.kind == "labels" and column in frame:
            labeling = ET.Element("labeling", {"type": "simple"})
            settings = ET.SubElement(labeling, "settings", {"calloutType": "simple"})
            text = ET.SubElement(
                settings,
                "text-style",
                {
                    "fieldName": column,
                    "isExpression": "0",
                    "fontSize": "8",
                    "fontSizeUnit": "Point",
                    "textColor": "51,51,51,255",
                    "fontItalic": "1",
                    "textOpacity": "1",
                },
            )
            ET.SubElement(
                text,
                "text-buffer",
                {
                    "bufferDraw": "1",
                    "bufferSize": "0.8",
                    "bufferSizeUnits": "MM",
                    "bufferColor": "255,255,255,255",
                    "bufferOpacity": "0.9",
                },
            )
            ET.SubElement(settings, "placement", {"placement": "1", "centroidInside": "1"})
            ET.SubElement(
                settings,
                "rendering",
                {"drawLabels": "1", "obstacle": "1", "displayAll": "0", "upsidedownLabels": "0"},
            )
            return labeling
    return None


def layer_qml(name: str, frame: pd.DataFrame, ctx: MapContext) -> str:
    """The QML of layer `name`: its rule-based renderer and labels.

    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> from geo_stunting.outputs.map._layers import MapContext
    >>> frame = gpd.GeoDataFrame({"status": ["case"]}, geometry=[Point(0, 0)])
    >>> ctx = MapContext(buffer_m=2000.0, online=False, public=False, sections={})
    >>> qml = layer_qml("subjects", frame, ctx)
    >>> 'label="Cases (1)"' in qml and "215,48,31,242" in qml
    True
    """
    elements = style_elements(name, frame, ctx)
    labelled = "1" if any(e.tag == "labeling" for e in elements) else "0"
    root = ET.Element(
        "qgis",
        {
            "version": QGIS_VERSION,
            "styleCategories": "Symbology|Labeling",
            "labelsEnabled": labelled,
        },
    )
    for element in elements:
        root.append(element)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body + "\n"


def style_elements(name: str, frame: pd.DataFrame, ctx: MapContext) -> list[ET.Element]:
    """The style's elements (renderer, labels), as they go in a QML or a project's layer."""
    geom = _geometry_kind(frame)
    renderer = ET.Element(
        "renderer-v2",
        {"type": "RuleRenderer", "symbollevels": "0", "enableorderby": "0", "forceraster": "0"},
    )
    rules = ET.SubElement(renderer, "rules", {"key": _key(name)})
    symbols: list[ET.Element] = []
    for rule in layer_rules(name, frame, ctx):
        rules.append(_rule_element(rule, geom, symbols))
    holder = ET.SubElement(renderer, "symbols")
    holder.extend(symbols)
    elements = [renderer]
    labeling = _labeling(LAYER_STYLES.get(name), frame)
    if labeling is not None:
        elements.append(labeling)
    return elements
