"""The interactive map of a run: every layer, a legend, headline results; works offline.

`make_map` draws a `Results`; `render_map` draws layers and ``results.json``
sections read back from an output folder (``geo-stunting map OUTDIR``).

How layers look is declared in `geo_stunting.outputs.map._layers.LAYER_STYLES`, one
entry per layer name. The data go into the page once, as JSON inside a
``<script type="application/json">`` element, and are drawn by a small
script of ours (``_map_runtime.js``) on one canvas renderer: one Leaflet
group per entry of the layer control, not one folium object per point.
Attribute values are inserted as text (``textContent``), never as markup, and
every label that Leaflet inserts as HTML (the layer control) is escaped.

Offline (the default) the page is self-contained: Leaflet (XStatic-Leaflet,
images as data URIs), the heat-map plugin (shipped in the folium wheel), our
script and style are inlined; there are no tiles, and the villages make the
base map on a plain background. ``online=True`` loads Leaflet from folium's
CDN links and adds OpenStreetMap and Esri World Imagery tiles.
"""

from __future__ import annotations

import base64
import html
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import folium.plugins
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from folium.template import Template

from geo_stunting.outputs.map._data import build_map_data, dumps_for_html
from geo_stunting.outputs.map._layers import KIND_STYLES, LAYER_STYLES, MapContext
from geo_stunting.outputs.map._summary import headlines, step_notes

if TYPE_CHECKING:
    from collections.abc import Mapping

    import geopandas as gpd

    from geo_stunting.outputs._masking import MaskingReport
    from geo_stunting.pipeline import Results

__all__ = ["KIND_STYLES", "LAYER_STYLES", "make_map", "map_html", "render_map"]

_DEFAULT_BUFFER_M = 2000.0
_TILES = (
    ("OpenStreetMap", "OpenStreetMap"),
    ("Esri.WorldImagery", "Satellite (Esri World Imagery)"),
)


@cache
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's script and style, from XStatic-Leaflet, with images as data URIs."""
    import xstatic.pkg.leaflet as xleaflet  # noqa: PLC0415

    base = Path(xleaflet.BASE_DIR)
    script = (base / "leaflet.js").read_text(encoding="utf-8")
    style = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((base / match.group(1)).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    style = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, style)
    script = script.replace("//# sourceMappingURL=leaflet.js.map", "")
    return script, style


@cache
def _heat_script() -> str:
    """Leaflet.heat, as shipped inside the folium wheel (folium/templates)."""
    return (Path(folium.__file__).parent / "templates" / "leaflet_heat.min.js").read_text(
        encoding="utf-8"
    )


@cache
def _own_assets() -> tuple[str, str]:
    """Our runtime script and style (package data of geo_stunting)."""
    here = resources.files("geo_stunting.outputs.map")
    script = (here / "runtime.js").read_text(encoding="utf-8")
    style = (here / "style.css").read_text(encoding="utf-8")
    return script, style


def _inline_script(text: str) -> str:
    # a script's text ends at the first "</script" ("<!--" can hide that end); none of
    # the inlined scripts contains either
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered:  # pragma: no cover - guards asset updates
        msg = "an inlined script contains </script or <!--"
        raise ValueError(msg)
    return f"<script>{text}</script>"


class _Raw(Element):
    """Markup put into the page as it is, not as a Jinja template.

    A 20 MB data element would take seconds to compile, and inlined scripts
    may contain ``{{``.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **_: Any) -> str:
        return self.text


class _Call(MacroElement):
    """``geoStunting.<function>(map, *args)`` at this point of the page's script."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "geoStunting.{{ this.function }}({{ this._parent.get_name() }}"
        "{% for arg in this.args %}, {{ arg }}{% endfor %});"
        "{% endmacro %}"
    )

    def __init__(self, function: str, *, ident: str, args: tuple[str, ...] = ()) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "GeoStunting"
        self._id = ident
        self.function = function
        self.args = args  # names of other objects of the page's script


class _DataLayer(folium.map.Layer):
    """One entry of the layer control, drawn by the runtime from the page's data.

    The runtime adds the visible groups itself, bottom to top, so this layer
    does not add itself to the map as folium layers do.
    """

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "var {{ this.get_name() }} = geoStunting.group({{ this._parent.get_name() }}, "
        "{{ this.index }});"
        "{% endmacro %}"
    )

    def __init__(self, title: str, index: int, *, show: bool) -> None:
        # Leaflet's layer control inserts names as HTML: escape them
        super().__init__(name=html.escape(title), overlay=True, control=True, show=show)
        self._name = "Group"
        self._id = f"g{index}"
        self.index = index

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        MacroElement.render(self, **kwargs)  # type: ignore[no-untyped-call]


class _EmptyBase(folium.map.Layer):
    """A base layer without tiles (the villages on a plain background)."""

    _template = Template(
        "{% macro script(this, kwargs) %}var {{ this.get_name() }} = L.layerGroup();{% endmacro %}"
    )

    def __init__(self) -> None:
        super().__init__(name="Plain (no tiles)", overlay=False, control=True, show=False)
        self._name = "Plain"
        self._id = "base"


def make_map(
    results: Results, *, online: bool = False, masking: MaskingReport | None = None
) -> folium.Map:
    """Build the map of a run.

    Parameters
    ----------
    results
        What `geo_stunting.analyze` returned.
    online
        Load Leaflet from the internet and add tile layers (OpenStreetMap,
        satellite); by default the page works offline.
    masking
        The report of `geo_stunting.outputs.public_layers` when `results`
        holds public (masked) layers; the title then says so.

    Returns
    -------
    folium.Map
        Save it with ``.save("map.html")``.
    """
    return render_map(results.layers, results.sections, online=online, masking=masking)


def render_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    *,
    online: bool = False,
    masking: MaskingReport | None = None,
) -> folium.Map:
    """Build the map from layers and ``results.json`` sections.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame, as in ``results.layers`` or layers.gpkg.
    sections
        The content of ``results.json`` (title and headline results).
    online, masking
        As in `make_map`.

    Returns
    -------
    folium.Map
        The map; ``map_html(fmap)`` gives the page.
    """
    settings = sections.get("settings") or {}
    access = sections.get("access") or {}
    buffer_m = float(settings.get("buffer_m") or access.get("buffer_m") or _DEFAULT_BUFFER_M)
    ctx = MapContext(
        buffer_m=buffer_m, online=online, public=masking is not None, sections=sections
    )
    data = build_map_data(layers, ctx)

    fmap = folium.Map(tiles=None, prefer_canvas=True, zoom_start=12, zoom_snap=0.25, zoom_delta=0.5)
    fmap._id = "gs"  # noqa: SLF001 - stable names: the same run gives the same page
    if data.bounds is not None:
        (s, w), (n, e) = data.bounds
        fmap.location = [(s + n) / 2, (w + e) / 2]
    _add_assets(fmap, online=online)
    study = sections.get("study") or {}
    name = str(study.get("name") or "Study")
    root: Any = fmap.get_root()
    root.header.add_child(_Raw(f"<title>{html.escape(name)} · geo_stunting map</title>"))
    root.html.add_child(_side_panel(name, sections, masking, data.binned), name="gs_side")
    root.html.add_child(
        _Raw(
            f'<script type="application/json" id="gs-data">{dumps_for_html(data.to_json())}'
            "</script>"
        ),
        name="gs_data",
    )

    if online:
        for ident, (tiles, title) in enumerate(_TILES):
            layer = folium.TileLayer(tiles, name=title, overlay=False, show=ident == 0)
            layer._id = f"tiles{ident}"  # noqa: SLF001 - stable names
            layer.add_to(fmap)
        _EmptyBase().add_to(fmap)
    _Call("init", ident="init").add_to(fmap)
    # the layer control lists the top-most layer first, as GIS programs do
    for index in sorted(range(len(data.groups)), key=lambda i: -data.groups[i]["rank"]):
        group = data.groups[index]
        _DataLayer(group["title"], index, show=group["show"]).add_to(fmap)
    _Call("finish", ident="finish").add_to(fmap)
    control = folium.LayerControl(collapsed=False, position="topright")
    control._id = "layers"  # noqa: SLF001 - stable names
    control.add_to(fmap)
    # panels closed on compact screens (the runtime's COMPACT_BELOW_PX), opened on demand
    _Call("layout", ident="layout", args=(control.get_name(),)).add_to(fmap)
    return fmap


def map_html(fmap: folium.Map) -> str:
    """The page of a map made by `make_map` or `render_map`."""
    return str(fmap.get_root().render())


def _add_assets(fmap: folium.Map, *, online: bool) -> None:
    header = fmap.get_root().header  # type: ignore[attr-defined]
    script, style = _own_assets()
    fmap.default_js = []
    fmap.default_css = []
    if online:
        # folium's CDN links, placed before our script (folium would add them after it)
        leaflet = dict(folium.Map.default_js)["leaflet"]
        heat = dict(folium.plugins.HeatMap.default_js)["leaflet-heat.js"]
        css = dict(folium.Map.default_css)["leaflet_css"]
        header.add_child(CssLink(css), name="leaflet_css", index=0)
        header.add_child(JavascriptLink(leaflet), name="leaflet_js", index=1)
        header.add_child(JavascriptLink(heat), name="leaflet_heat")
    else:
        leaflet_js, leaflet_css = _leaflet_assets()
        header.add_child(_Raw(f"<style>{leaflet_css}</style>"), name="leaflet_css", index=0)
        header.add_child(_Raw(_inline_script(leaflet_js)), name="leaflet_js", index=1)
        header.add_child(_Raw(_inline_script(_heat_script())), name="leaflet_heat")
    header.add_child(_Raw(f"<style>{style}</style>"), name="gs_css")
    header.add_child(_Raw(_inline_script(script)), name="gs_js")
    if not online:
        header.add_child(
            _Raw("<style>.folium-map.leaflet-container { background: #dfe3dc; }</style>"),
            name="gs_offline",
        )


def _side_panel(
    name: str, sections: Mapping[str, Any], masking: MaskingReport | None, binned: str = ""
) -> _Raw:
    """Title, the privacy notice, how children are drawn and the headline results, as text."""
    study = sections.get("study") or {}
    if masking is None and not study.get("n_subjects") and "areas" in sections:
        note = (
            '<p class="gs-public">An area study: figures per area, no home locations of '
            "children.</p>"
        )
    elif masking is None:
        note = (
            '<p class="gs-warning">Confidential: this map shows the home locations of '
            "identifiable children (health data). Do not share it; share the public version "
            "instead (geo-stunting map OUTDIR --public).</p>"
        )
    else:
        note = f'<p class="gs-public">Public version: {html.escape(masking.describe())}.</p>'
    if binned:
        note += f'<p class="gs-note" id="gs-binned">{html.escape(binned)}</p>'
    items = "".join(f"<li>{html.escape(line)}</li>" for line in headlines(sections))
    notes = "".join(
        f'<li class="gs-note">{html.escape(line)}</li>' for line in step_notes(sections)
    )
    return _Raw(
        '<div class="gs-panel gs-side" id="gs-side">'
        f'<h1 id="gs-title">{html.escape(name)}</h1>{note}'
        '<details id="gs-summary" open><summary>Headline results</summary>'
        f"<ul>{items}{notes}</ul></details></div>"
    )
