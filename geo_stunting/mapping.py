"""The interactive map of a run: villages, facilities, cases and controls.

Every layer is one ``folium.GeoJson`` (not one object per point), shown in
longitude/latitude as web maps require; attribute values enter the page as
data for tooltips, never as markup. The page is self-contained: Leaflet's
script and style are inlined from the XStatic-Leaflet package (images as data
URIs), so it opens with no internet; the villages make the base map.
"""

from __future__ import annotations

import base64
import html
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import folium

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_stunting.pipeline import Results
    from geo_stunting.study import Study

__all__ = ["KIND_COLOURS", "STATUS_COLOURS", "make_map"]

STATUS_COLOURS = {"case": "#d7301f", "control": "#2b8cbe"}
KIND_COLOURS = {
    "puskesmas": "#006d2c",
    "pustu": "#41ab5d",
    "posyandu": "#a1d99b",
    "hospital": "#54278f",
}
_OTHER_KIND = "#636363"


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


def _offline(fmap: folium.Map) -> None:
    """Replace folium's CDN links with inlined Leaflet."""
    fmap.default_js = []
    fmap.default_css = []
    script, style = _leaflet_assets()
    header = fmap.get_root().header  # type: ignore[attr-defined]
    header.add_child(folium.Element(f"<style>{style}</style>"), name="leaflet_css", index=0)
    header.add_child(folium.Element(f"<script>{script}</script>"), name="leaflet_js", index=1)


def _display(gdf: gpd.GeoDataFrame, fields: list[str]) -> gpd.GeoDataFrame:
    keep = [f for f in fields if f in gdf.columns]
    frame = gdf[[*keep, gdf.geometry.name]].to_crs(4326)
    for column in keep:
        frame[column] = frame[column].astype(str)
    return frame


def make_map(results: Results) -> folium.Map:
    """Build the run's map.

    Parameters
    ----------
    results
        What `geo_stunting.analyze` returned.

    Returns
    -------
    folium.Map
        Save it with ``.save("map.html")``.
    """
    study = results.study
    bounds_source = study.area if study.area is not None else study.subjects
    minx, miny, maxx, maxy = bounds_source.to_crs(4326).total_bounds
    fmap = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    _offline(fmap)
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])

    if study.area is not None:
        folium.GeoJson(
            _display(study.area, ["name"]),
            name="Study area",
            style_function=lambda _: {"color": "#555555", "weight": 1.5, "fillOpacity": 0.05},
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["Area"]),
        ).add_to(fmap)

    fields = ["subject_id", "status", "stratum"]
    for status in ("control", "case"):
        group = study.subjects[study.subjects["status"] == status]
        if len(group) == 0:
            continue
        colour = STATUS_COLOURS[status]
        folium.GeoJson(
            _display(group, fields),
            name=f"{status.title()}s ({len(group)})",
            marker=folium.CircleMarker(radius=4, weight=1, color="#ffffff", fill=True),
            style_function=lambda _, c=colour: {"fillColor": c, "fillOpacity": 0.9},
            tooltip=folium.GeoJsonTooltip(
                fields=[f for f in fields if f in group.columns],
                aliases=["Id", "Status", "Stratum"][: len([f for f in fields if f in group])],
            ),
        ).add_to(fmap)

    if study.facilities is not None:
        for kind, group in study.facilities.groupby("kind", sort=True):
            colour = KIND_COLOURS.get(str(kind), _OTHER_KIND)
            folium.GeoJson(
                _display(group, ["facility_id", "name", "kind"]),
                name=f"Facilities: {kind}",
                marker=folium.CircleMarker(radius=9, weight=3, color="#000000", fill=True),
                style_function=lambda _, c=colour: {"fillColor": c, "fillOpacity": 0.9},
                tooltip=folium.GeoJsonTooltip(
                    fields=["name", "kind", "facility_id"], aliases=["Facility", "Kind", "Id"]
                ),
            ).add_to(fmap)

    folium.LayerControl(collapsed=False).add_to(fmap)
    _legend(fmap, study)
    title = html.escape(study.name)
    summary = (
        f"{study.n_cases} cases, {study.n_controls} controls"
        + ("" if study.facilities is None else f", {len(study.facilities)} facilities")
        + f" · CRS {html.escape(study.crs_code)} · shows identifiable home locations"
    )
    fmap.get_root().html.add_child(  # type: ignore[attr-defined]
        folium.Element(
            '<div style="position:fixed;top:10px;left:60px;z-index:1000;background:white;'
            "padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
            f'font:14px sans-serif"><b>{title}</b><br><small>{summary}</small></div>'
        )
    )
    return fmap


def _legend(fmap: folium.Map, study: Study) -> None:
    """A fixed legend of the symbols on the map."""
    items = [
        (STATUS_COLOURS["case"], "circle", "case"),
        (STATUS_COLOURS["control"], "circle", "control"),
    ]
    if study.facilities is not None:
        items += [
            (KIND_COLOURS.get(str(kind), _OTHER_KIND), "ring", f"facility: {kind}")
            for kind in sorted(study.facilities["kind"].unique())
        ]
    rows = "".join(
        f'<div><span style="display:inline-block;width:11px;height:11px;margin-right:6px;'
        f"background:{colour};border:{'3px solid #000' if shape == 'ring' else '1px solid #333'};"
        f'border-radius:50%"></span>{html.escape(label)}</div>'
        for colour, shape, label in items
    )
    fmap.get_root().html.add_child(  # type: ignore[attr-defined]
        folium.Element(
            '<div style="position:fixed;bottom:30px;right:10px;z-index:1000;background:white;'
            "padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
            f'font:12px sans-serif">{rows}</div>'
        )
    )
