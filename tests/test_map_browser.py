"""The map in a real browser: Debian's Chromium driven by playwright.

Skipped, with the reason, when playwright or /usr/bin/chromium is missing
(``apt-get install chromium``; never ``playwright install``). One browser is
shared by the module; each test opens its own page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import pytest
import xstatic.pkg.leaflet as xleaflet

import geo_stunting as gs
from geo_stunting.outputs._masking import public_layers
from geo_stunting.outputs.map._render import make_map, map_html, render_map
from tests.map_fixture import XSS, demo_results, expected_counts

CHROMIUM = Path("/usr/bin/chromium")
FACILITY_XSS = "<img src=x onerror=window.__xss=2>"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@dataclass
class Opened:
    page: Any
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _problems(console: list[str]) -> list[str]:
    """Console messages other than Chromium's hint to the heat-map plugin about readbacks."""
    return [m for m in console if "willReadFrequently" not in m]


def _open(browser: Any, html: str, folder: Path) -> Opened:
    path = folder / "map.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1600, "height": 900})  # the wide layout
    opened = Opened(page)
    page.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: opened.console.append(f"pageerror: {e}"))
    page.on("request", lambda r: opened.requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.geoStunting && window.geoStunting.ready", timeout=20_000)
    return opened


@pytest.fixture(scope="module")
def demo_page(browser, tmp_path_factory) -> Iterator[Opened]:
    html = map_html(make_map(demo_results()))
    opened = _open(browser, html, tmp_path_factory.mktemp("demo"))
    yield opened
    opened.page.close()


def _switch_all_on(page: Any) -> None:
    for box in page.query_selector_all(".leaflet-control-layers-overlays input"):
        if not box.is_checked():
            box.click()


DRAWN = """() => geoStunting.groups.map(g => {
  const on = geoStunting.map.hasLayer(g);
  let n = 0;
  if (g.gsSpec.kind === "heat") { n = on ? g._latlngs.length : 0; }
  else { g.eachLayer(l => { if (l._map && (l._point || l._rings || l._parts || l._icon)) n++; }); }
  return [g.gsSpec.title, on, n];
})"""


def test_demo_map_loads_offline_without_errors(demo_page):
    assert _problems(demo_page.console) == []
    external = [u for u in demo_page.requests if not u.startswith(("file://", "data:"))]
    assert external == []
    assert demo_page.page.title() == "Ogan Ilir demo (synthetic) · geo_stunting map"
    text = demo_page.page.inner_text("#gs-side")
    within = demo_results().sections["access"]["controls_within"]
    assert f"All 67 cases live within 2 km of a facility ({within} of 134 controls)." in text
    assert "identifiable children" in text
    assert demo_page.page.inner_text(".leaflet-control-scale").strip().endswith(("km", "m"))


def test_every_layer_in_the_control_draws_its_features(demo_page):
    page = demo_page.page
    expected = expected_counts(demo_results())
    labels = [s.strip() for s in page.eval_on_selector_all(
        ".leaflet-control-layers-overlays label", "ls => ls.map(l => l.innerText)"
    )]  # fmt: skip
    assert sorted(labels) == sorted(expected)
    _switch_all_on(page)
    drawn = {title: (on, n) for title, on, n in page.evaluate(DRAWN)}
    assert drawn == {title: (True, n) for title, n in expected.items()}
    legend = page.inner_text(".gs-legend")
    for words in ("HH: case among cases", "hot spot", "Facilities: puskesmas (1)"):
        assert words in legend
    assert _problems(demo_page.console) == []


def test_a_click_opens_the_popup_of_that_child(demo_page):
    page = demo_page.page
    subjects = demo_results().layers["subjects"].to_crs(4326)
    case = subjects[subjects["status"] == "case"].iloc[20]
    page.evaluate(
        "([lat, lng]) => { geoStunting.map.closePopup(); geoStunting.map.setView([lat, lng], 17,"
        " {animate: false}); }",
        [case.geometry.y, case.geometry.x],
    )
    point = page.evaluate(
        "([lat, lng]) => geoStunting.map.latLngToContainerPoint([lat, lng])",
        [case.geometry.y, case.geometry.x],
    )
    box = page.query_selector(".folium-map").bounding_box()
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_selector(".leaflet-tooltip")
    assert case["subject_id"] in page.inner_text(".leaflet-tooltip")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_selector(".leaflet-popup-content")
    popup = page.inner_text(".leaflet-popup-content")
    assert popup.startswith("Cases (67)")
    assert case["subject_id"] in popup
    assert "Distance to the nearest facility" in popup


SYMBOL_RADII = """(zoom) => {
  const m = geoStunting.map;
  m.setZoom(zoom, {animate: false});
  const radii = {};
  geoStunting.groups.forEach(g => {
    if (!m.hasLayer(g) || g.gsSpec.kind === "heat" || g.gsSpec.kind === "labels") { return; }
    g.eachLayer(l => {
      if (l._point && l._radius !== undefined && radii[g.gsSpec.title] === undefined) {
        radii[g.gsSpec.title] = [l._radius, l.options.radius];
      }
    });
  });
  return radii;
}"""


def test_symbols_shrink_at_a_district_zoom_and_keep_their_size_close_up(demo_page):
    """A district overview (zoom 10) of hundreds of posyandu must not be a carpet of symbols."""
    page = demo_page.page
    _switch_all_on(page)
    start = page.evaluate("geoStunting.map.getZoom()")
    close, far, middle = (page.evaluate(SYMBOL_RADII, z) for z in (14, 10, 12))
    page.evaluate("(z) => { geoStunting.map.setZoom(z, {animate: false}); }", start)
    assert {"Cases (67)", "Facilities: puskesmas (1)"} <= set(close)
    for title, (drawn, legend) in close.items():
        assert drawn == pytest.approx(legend), title  # the legend's size from zoom 13 on
        assert far[title][0] == pytest.approx(0.4 * legend), title  # the smallest scale
        assert middle[title][0] == pytest.approx(0.7 * legend), title
    assert _problems(demo_page.console) == []


@pytest.fixture(scope="module")
def xss_results(tmp_path_factory) -> gs.Results:
    folder = tmp_path_factory.mktemp("xss")
    demo = gs.demo_study_path().parent
    for name in ("subjects.csv", "facilities.csv", "villages.geojson", "study.toml"):
        (folder / name).write_bytes((demo / name).read_bytes())
    villages = json.loads((folder / "villages.geojson").read_text(encoding="utf-8"))
    villages["features"][0]["properties"]["nama"] = XSS
    (folder / "villages.geojson").write_text(json.dumps(villages), encoding="utf-8")
    lines = (folder / "facilities.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("name")] = FACILITY_XSS
    row[header.index("type")] = "<b onmouseover=window.__xss=1>klinik</b>"
    (folder / "facilities.csv").write_text("\n".join([lines[0], ",".join(row), *lines[2:]]))
    study = (folder / "study.toml").read_text(encoding="utf-8")
    (folder / "study.toml").write_text(
        study.replace('"Ogan Ilir demo (synthetic)"', json.dumps(XSS)), encoding="utf-8"
    )
    return gs.analyze(gs.load_study(folder / "study.toml"), steps=["access"])


def test_markup_in_names_shows_as_text_and_never_runs(browser, xss_results, tmp_path):
    opened = _open(browser, map_html(make_map(xss_results)), tmp_path)
    page = opened.page
    _switch_all_on(page)
    # hover and click every village and facility, so that tooltips and popups open
    page.evaluate(
        """() => geoStunting.groups.forEach(g => { if (g.eachLayer) g.eachLayer(l => {
             if (l.fire) { l.fire("mouseover"); } if (l.openPopup) { l.openPopup(); } }); })"""
    )
    for group in ("Villages", "Facilities"):
        page.evaluate(
            """(prefix) => { const g = geoStunting.groups.find(
                 x => x.gsSpec.title.startsWith(prefix) && x.gsSpec.kind === "features");
               const l = g.getLayers()[0];
               g.openPopup(l.getLatLng ? l.getLatLng() : l.getBounds().getCenter(), l);
               l.fire("mouseover"); }""",
            group,
        )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__xss") is None
    assert not [u for u in opened.requests if u.endswith("/x")]  # no <img src=x> was made
    assert XSS in page.inner_text("#gs-title")
    assert FACILITY_XSS in page.inner_text(".leaflet-popup-content")
    assert "<b onmouseover=window.__xss=1>klinik</b>" in page.inner_text(".leaflet-control-layers")
    assert page.evaluate(
        "() => [...document.querySelectorAll('.gs-label span')].some("
        "s => s.textContent.includes('<img src=x'))"
    )
    assert page.query_selector("img[src='x']") is None
    assert _problems(opened.console) == []
    page.close()


def test_public_map_loads_and_draws_masked_children(browser, tmp_path):
    results = demo_results()
    masked, report = public_layers(results.layers, seed=4)
    opened = _open(
        browser, map_html(render_map(masked, results.sections, masking=report)), tmp_path
    )
    page = opened.page
    assert "Public version" in page.inner_text("#gs-side")
    drawn = {title: n for title, _, n in page.evaluate(DRAWN)}
    assert drawn["Cases (67)"] == 67
    assert drawn["Controls (134)"] == 134
    assert _problems(opened.console) == []
    page.close()


def test_online_map_offers_tiles_and_still_draws_everything(browser, tmp_path):
    """With the CDN answered from the local copies (no network here) and empty tiles."""
    local = {
        "leaflet.js": Path(xleaflet.BASE_DIR) / "leaflet.js",
        "leaflet.css": Path(xleaflet.BASE_DIR) / "leaflet.css",
        "leaflet_heat.min.js": Path(folium.__file__).parent / "templates" / "leaflet_heat.min.js",
    }
    page = browser.new_page(viewport={"width": 1600, "height": 900})  # the wide layout
    asked: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def answer(route: Any) -> None:
        url = route.request.url
        if not url.startswith("http"):
            route.continue_()
            return
        asked.append(url)
        name = url.rsplit("/", 1)[-1]
        if name in local:
            route.fulfill(body=local[name].read_bytes())
        else:
            route.fulfill(body=b"", content_type="image/png")

    page.route("**/*", answer)
    path = tmp_path / "online.html"
    path.write_text(map_html(make_map(demo_results(), online=True)), encoding="utf-8")
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.geoStunting && window.geoStunting.ready", timeout=20_000)
    bases = page.eval_on_selector_all(
        ".leaflet-control-layers-base label", "ls => ls.map(l => l.innerText.trim())"
    )
    assert bases == ["OpenStreetMap", "Satellite (Esri World Imagery)", "Plain (no tiles)"]
    assert any("tile.openstreetmap.org" in u for u in asked)
    drawn = {title: n for title, _, n in page.evaluate(DRAWN)}
    assert drawn["Cases (67)"] == 67
    assert errors == []
    page.close()


def test_a_map_of_very_many_children_draws_cells(browser, tmp_path, monkeypatch):
    from geo_stunting.outputs.map import _data  # noqa: PLC0415

    monkeypatch.setattr(_data, "MAP_POINTS_MAX", 200)  # the demo's 201 children count as many
    results = demo_results()
    masked, report = public_layers(results.layers, seed=4)
    opened = _open(
        browser, map_html(render_map(masked, results.sections, masking=report)), tmp_path
    )
    page = opened.page
    assert "counted per 100 m cell" in page.inner_text("#gs-side")
    _switch_all_on(page)
    drawn = {title: n for title, _, n in page.evaluate(DRAWN)}
    cells = drawn["Cases per 100 m cell"]
    assert cells == drawn["Children per 100 m cell"] > 0
    assert not [t for t in drawn if t.startswith(("Cases (", "Controls ("))]
    assert "Cases per 100 m cell" in page.inner_text(".gs-legend")
    assert _problems(opened.console) == []
    page.close()
