"""The map page without a browser: offline assets, layer groups, data encoding, escaping."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geo_stunting as gs
from geo_stunting.outputs._masking import public_layers
from geo_stunting.outputs.map._data import build_map_data, encode_shapes, encode_values
from geo_stunting.outputs.map._layers import LAYER_STYLES, MapContext
from geo_stunting.outputs.map._render import make_map, map_html, render_map
from geo_stunting.outputs.map._summary import headlines
from tests.map_fixture import XSS, demo_results, expected_counts


@pytest.fixture(scope="module")
def results() -> gs.Results:
    return demo_results()


@pytest.fixture(scope="module")
def offline_html(results) -> str:
    return map_html(make_map(results))


def _data(html: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="gs-data">(.*?)</script>', html, re.DOTALL
    )
    assert match is not None
    return json.loads(match.group(1))


# ------------------------------------------------------------------------------------ offline
class _Resources(HTMLParser):
    """Every place in a page that makes the browser fetch something."""

    FETCHING: ClassVar[dict[str, tuple[str, ...]]] = {
        "script": ("src",),
        "link": ("href",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "frame": ("src",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "embed": ("src",),
        "object": ("data",),
        "input": ("src",),
        "image": ("href", "xlink:href"),
        "use": ("href", "xlink:href"),
    }

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name in self.FETCHING.get(tag, ()):
            if values.get(name):
                self.references.append(values[name])
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.references.append(values.get("content") or "")
        if values.get("style"):
            self.styles.append(values["style"])
        if values.get("background"):
            self.references.append(values["background"])
        self._in = tag if tag in {"style", "script"} else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            self.scripts.append(data)


URL = re.compile(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`<>)\\]*", re.IGNORECASE)
COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
#: URLs that remain in the inlined scripts once comments are removed, and why they are not
#: fetched: an XML namespace name, and the href of Leaflet's attribution link.
NOT_FETCHED = {"http://www.w3.org/2000/svg", "https://leafletjs.com"}


def test_offline_page_fetches_nothing(offline_html):
    page = _Resources()
    page.feed(offline_html)
    assert page.references == []  # no src/href/data attribute at all: everything is inline
    css_urls = [u for css in page.styles for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css)]
    assert css_urls  # Leaflet's images are there ...
    # ... as data URIs; "#default#VML" is an old-IE behaviour named inside the page
    assert all(u.startswith(("data:", "#")) for u in css_urls)
    assert not any("@import" in COMMENT.sub("", css) for css in page.styles)
    left = {u for js in page.scripts for u in URL.findall(COMMENT.sub("", js))}
    assert left <= NOT_FETCHED
    assert "L.tileLayer" not in offline_html


def test_online_page_links_leaflet_and_offers_tiles(results):
    html = map_html(make_map(results, online=True))
    page = _Resources()
    page.feed(html)
    assert any(r.startswith("https://") and r.endswith("leaflet.js") for r in page.references)
    assert "tile.openstreetmap.org" in html
    assert "World_Imagery" in html
    assert "Plain (no tiles)" in html


# ------------------------------------------------------------------------------------- groups
def _ctx(results, **kw) -> MapContext:
    return MapContext(
        buffer_m=2000.0,
        online=kw.get("online", False),
        public=kw.get("public", False),
        sections=results.sections,
    )


def test_every_layer_control_entry_has_the_rows_of_its_frame(results):
    data = build_map_data(results.layers, _ctx(results))
    titles = {g["title"]: g for g in data.groups}
    assert {t: g["n"] for t, g in titles.items()} == expected_counts(results)
    shown = {t for t, g in titles.items() if g["show"]}
    assert shown == {
        "Villages (9)",
        "Village names",
        "Within 2 km of a facility",
        "Raised relative risk (one-sided, FDR 5 %)",
        "Scan clusters",
        "Beyond 2 km of any facility",
        "Controls (134)",
        "Cases (67)",
        "Facilities: posyandu (8)",
        "Facilities: puskesmas (1)",
        "Facilities: pustu (3)",
    }
    # draw order: areas at the bottom, then zones, lines, facilities, halos, children on top
    # (a facility symbol would hide the children around it at a regency's zoom)
    ranks = [g["rank"] for g in data.groups]
    assert ranks == sorted(ranks)
    assert data.groups[0]["title"] == "Villages (9)"
    titles = [g["title"] for g in data.groups]
    last_facility = max(i for i, t in enumerate(titles) if t.startswith("Facilities"))
    assert titles.index("Cases (67)") > last_facility
    assert titles.index("Controls (134)") > last_facility


def test_styles_follow_the_values(results):
    data = build_map_data(results.layers, _ctx(results))
    by_title = {g["title"]: g for g in data.groups}
    lisa = by_title["LISA clusters (two-sided, FDR 5 %)"]
    colours = [lisa["styles"][k]["fillColor"] for k in lisa["cats"]]
    assert colours == ["#e31a1c"] * 4 + ["#a6bddb"] * 2 + ["#2166ac", "#fcae91"]  # GeoDa
    gi = by_title["Gi* hot and cold spots (two-sided, FDR 5 %)"]
    assert [gi["styles"][k]["color"] for k in gi["cats"]] == ["#b2182b"] * 3 + ["#2166ac"] * 2
    scan = by_title["Scan clusters"]
    assert [scan["styles"][k].get("dashArray") for k in scan["cats"]] == [None, "6 5"]
    assert [e["label"] for e in scan["legend"]] == ["significant (p < 0.05)", "not significant"]
    grid = by_title["Log relative risk (kernel surface)"]
    stops = [s[0] for s in grid["ramp"]["stops"]]
    assert stops[0] == pytest.approx(-2.0)  # symmetric around 0: max |log RR| = 2
    assert stops[-1] == pytest.approx(2.0)
    kinds = {g["title"]: g["style"]["shape"] for g in data.groups if "Facilities" in g["title"]}
    assert kinds == {
        "Facilities: posyandu (8)": "triangle",
        "Facilities: puskesmas (1)": "square",
        "Facilities: pustu (3)": "diamond",
    }
    cases, controls = by_title["Cases (67)"]["style"], by_title["Controls (134)"]["style"]
    assert (cases["shape"], cases["fillColor"]) != (controls["shape"], controls["fillColor"])


def test_layers_that_extend_the_subjects_add_columns_not_points(results):
    data = build_map_data(results.layers, _ctx(results))
    assert set(data.tables) >= {"subjects", "nearest_lines"}
    assert "subjects_autocorrelation" not in data.tables
    subjects = data.tables["subjects"]
    assert subjects["n"] == 201
    names = [c["name"] for c in subjects["columns"]]
    assert names[:3] == ["subject_id", "status", "stratum"]
    assert {"distance_m", "lisa_label", "gi_star_z", "scan_cluster"} <= set(names)
    lisa = next(c for c in subjects["columns"] if c["name"] == "lisa_label")
    assert [lisa["values"]["c"][k] for k in lisa["values"]["k"][:8]] == [
        "HH", "HH", "HH", "HH", "LH", "LH", "LL", "HL",
    ]  # fmt: skip


def test_a_layer_without_an_entry_is_drawn_but_off(results):
    extra = results.layers["subjects"].iloc[:7][["subject_id", "geometry"]]
    data = build_map_data({**results.layers, "new_step_points": extra}, _ctx(results))
    group = next(g for g in data.groups if g["layer"] == "new_step_points")
    assert (group["title"], group["n"], group["show"]) == ("New step points (7)", 7, False)
    assert group["rank"] == max(g["rank"] for g in data.groups)


def test_nearest_lines_go_as_pairs_of_rows(results):
    data = build_map_data(results.layers, _ctx(results))
    lines = data.tables["nearest_lines"]
    assert "links" in lines
    pairs = np.asarray(lines["links"]["rows"]).reshape(-1, 2)
    subjects = results.layers["subjects"]
    facilities = data.tables["facilities"]
    fac_ids = next(c for c in facilities["columns"] if c["name"] == "facility_id")["values"]
    ids = fac_ids if isinstance(fac_ids, list) else [fac_ids["c"][k] for k in fac_ids["k"]]
    nearest = results.layers["nearest_lines"]
    assert [ids[j] for j in pairs[:, 1]] == list(nearest["facility_id"])
    assert list(pairs[:, 0]) == list(range(len(subjects)))


def _decode(shape: dict) -> list[np.ndarray]:
    xy = np.cumsum(np.asarray(shape["xy"], dtype=np.int64).reshape(-1, 2), axis=0) / 1e6
    rings = shape.get("rings")
    out = []
    for g in range(len(shape["geoms"]) - 1):
        parts = range(shape["geoms"][g], shape["geoms"][g + 1])
        if rings is None:
            out.append(np.vstack([xy[shape["parts"][p] : shape["parts"][p + 1]] for p in parts]))
        else:
            out.append(
                np.vstack(
                    [
                        xy[rings[r] : rings[r + 1]]
                        for p in parts
                        for r in range(shape["parts"][p], shape["parts"][p + 1])
                    ]
                )
            )
    return out


def test_shapes_decode_to_their_coordinates():
    geoms = np.array(
        [
            shapely.box(104.6, -3.2, 104.61, -3.19),
            shapely.MultiPolygon(
                [
                    shapely.box(104.7, -3.3, 104.71, -3.29).difference(
                        shapely.box(104.703, -3.297, 104.705, -3.295)
                    ),
                    shapely.box(104.72, -3.3, 104.73, -3.29),
                ]
            ),
        ]
    )
    decoded = _decode(encode_shapes(geoms)["shape"])
    for geom, coords in zip(geoms, decoded, strict=True):
        np.testing.assert_allclose(coords, shapely.get_coordinates(geom), atol=1e-6)
    lines = np.array([shapely.LineString([(104.1, -3.1), (104.2, -3.25), (104.3, -3.0)])])
    shape = encode_shapes(lines)["shape"]
    assert shape["family"] == "line"
    np.testing.assert_allclose(_decode(shape)[0], shapely.get_coordinates(lines[0]), atol=1e-6)


def test_values_are_compact_and_keep_what_is_shown():
    assert encode_values(pd.Series(["a", "b", "a", None])) == {"c": ["a", "b"], "k": [0, 1, 0, -1]}
    assert encode_values(pd.Series([True, False, None], dtype="boolean")) == [1, 0, None]
    assert encode_values(pd.Series([1, None], dtype="Int64")) == [1, None]
    assert encode_values(pd.Series([1234.567, np.nan, np.inf]), fmt="m") == [1235, None, None]
    assert encode_values(pd.Series([12.3456, 0.5]), fmt="m") == [12.3, 0.5]
    assert encode_values(pd.Series([0.012345, 1.0]), fmt="p") == [0.0123, 1.0]
    assert encode_values(pd.Series([2.345678, -0.1]), fmt="num") == [2.3457, -0.1]
    unique = pd.Series([f"S{i}" for i in range(40)])
    assert encode_values(unique) == list(unique)


# ----------------------------------------------------------------------------------- escaping
def test_markup_in_names_never_reaches_the_page_as_markup(write_study, tmp_path):
    path = write_study(
        facilities="\n".join(
            ["id,name,type,lat,lon", f"F1,{XSS.replace(',', ' ')},{XSS},-3.215,104.625"]
        )
    )
    path.write_text(path.read_text().replace('"Test study"', json.dumps(XSS)))
    results = gs.analyze(gs.load_study(path), steps=["access"])
    html = map_html(make_map(results))
    assert "<img" not in html
    # layer names go through Leaflet's innerHTML, so they are HTML-escaped (and then
    # written as a JSON string, where & is \u0026)
    assert "Facilities: \\u0026lt;img src=x onerror=" in html
    assert "\\u003cimg src=x onerror=" in html  # values travel as JSON string escapes
    assert "&lt;img src=x onerror=" in html.split('id="gs-title">')[1][:200]


def test_the_same_run_gives_the_same_page(results, offline_html):
    assert map_html(make_map(results)) == offline_html


# -------------------------------------------------------------------------- words and privacy
def test_headlines_say_the_results_in_plain_words(results):
    lines = headlines(results.sections)
    assert lines[0] == (
        "67 cases and 134 controls in 9 villages; 12 health facilities "
        "(8 posyandu, 1 puskesmas, 3 pustu)."
    )
    within = results.sections["access"]["controls_within"]
    assert f"All 67 cases live within 2 km of a facility ({within} of 134 controls)." in lines
    assert any(line.startswith("Most likely cluster of cases: 20 cases among 30") for line in lines)


def test_headlines_for_partial_access_and_changed_sections():
    sections = {
        "access": {
            "buffer_m": 1500.0,
            "cases_within": 60,
            "cases_outside": 7,
            "controls_within": 0,
            "controls_outside": 10,
        },
        "autocorrelation": {"moran": {"renamed": 1}, "summary": ["Cases cluster a bit."]},
        "relative_risk": {"share_window_significant_high": 0.0, "bandwidth_m": 812.0},
        "steps": {"scan": {"status": "skipped", "reason": "the study has no controls"}},
    }
    assert headlines(sections) == [
        "60 of 67 cases (90 %) live within 1.5 km of a facility (0 of 10 controls).",
        "Cases cluster a bit.",
        (
            "The kernel relative-risk surface has no area of significantly raised risk "
            "(bandwidth 810 m)."
        ),
    ]


def test_private_map_warns_and_public_map_has_no_ids(results, offline_html):
    assert "shows the home locations of identifiable children" in offline_html
    masked, report = public_layers(results.layers, seed=9)
    html = map_html(render_map(masked, results.sections, masking=report))
    assert "Public version: home locations moved 100–500 m" in html
    data = _data(html)
    columns = {c["name"] for t in data["tables"].values() for c in t["columns"]}
    assert not columns & {"subject_id", "subject_ids", "source_row", "distance_m"}
    assert "S001" not in html
    assert "nearest_lines" not in data["tables"]


def test_every_registry_entry_is_well_formed():
    for name, spec in LAYER_STYLES.items():
        assert spec.groups, name
        assert spec.public.action in {"keep", "mask", "mask_circles", "drop"}, name
        if spec.extends:
            assert spec.extends in LAYER_STYLES, name
            assert spec.key, name
        for group in spec.groups:
            for style in [group.style, *(group.style_by[1].values() if group.style_by else [])]:
                for key in ("color", "fillColor"):
                    if key in style:
                        assert re.fullmatch(r"#[0-9a-f]{6}", style[key]), (name, key)


def test_no_area_no_facilities_still_draws_the_children():
    subjects = gpd.GeoDataFrame(
        {"subject_id": ["a", "b", "c"], "status": ["case", "control", "case"]},
        geometry=shapely.points([(0, 0), (100, 0), (0, 100)]),
        crs="EPSG:32748",
    )
    html = map_html(render_map({"subjects": subjects}, {"study": {"name": "Tiny"}}))
    titles = [g["title"] for g in _data(html)["groups"]]
    assert titles == ["Controls (1)", "Cases (2)", "Heat map of cases"]


def test_simplification_never_loses_a_small_or_narrow_polygon():
    """The fast simplification would drop shapes narrower than the tolerance; they stay."""
    from geo_stunting.outputs.map._data import SIMPLIFY_M, _simplified  # noqa: PLC0415

    shapes = gpd.GeoSeries(
        [
            shapely.box(0, 0, 0.5, 0.5),  # smaller than the tolerance
            shapely.Polygon([(0, 0), (100, 0.4), (200, 0), (200, 0.8), (0, 0.8)]),  # a sliver
            shapely.Point(0, 0).buffer(2000, quad_segs=64),  # a facility buffer
        ],
        crs="EPSG:32748",
    )
    assert shapes.simplify(SIMPLIFY_M, preserve_topology=False).is_empty.any()  # what it avoids
    simple = _simplified(shapes, SIMPLIFY_M)
    assert not simple.is_empty.any()
    assert simple.is_valid.all()
    assert simple.area.iloc[2] == pytest.approx(shapes.area.iloc[2], rel=1e-3)
