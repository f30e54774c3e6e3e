"""The web map on a real screen: a laptop (1,366 × 768), the report's embedded map, a phone.

Measured in Debian's Chromium (skipped without it, as in test_map_browser.py): how much of
the map the panels cover, whether they open on demand, whether village names collide, and
whether children's points are hidden under facility symbols at the opening zoom.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geo_stunting.outputs.map._render import make_map, map_html
from tests.map_fixture import demo_results
from tests.test_map_browser import browser  # noqa: F401 - the shared Chromium fixture

#: Share of the map covered by the headline panel, the layer list and the legend (sampled
#: every 4 px), children whose centre lies under a facility symbol drawn above them, and
#: pairs of visible village names that overlap.
MEASURE = """() => {
  const GS = geoStunting, map = GS.map, size = map.getSize();
  const frame = map.getContainer().getBoundingClientRect();
  const boxes = ['#gs-side', '.leaflet-control-layers', '.gs-legend'].map(sel => {
    const r = document.querySelector(sel).getBoundingClientRect();
    return [r.left - frame.left, r.top - frame.top, r.right - frame.left, r.bottom - frame.top];
  });
  let covered = 0, total = 0;
  for (let x = 0; x < size.x; x += 4) for (let y = 0; y < size.y; y += 4) {
    total++;
    if (boxes.some(b => x >= b[0] && x < b[2] && y >= b[1] && y < b[3])) covered++;
  }
  const symbols = test => {
    const out = [];
    GS.groups.forEach(g => {
      if (!map.hasLayer(g) || g.gsSpec.kind !== 'features' || !test(g.gsSpec)) return;
      g.eachLayer(l => {
        if (l._point) out.push([l._point.x, l._point.y, l._radius, g.gsSpec.rank]);
      });
    });
    return out;
  };
  const facilities = symbols(s => s.table === 'facilities');
  const children = symbols(s => s.table === 'subjects' && /^(Cases|Controls)/.test(s.title));
  const hidden = children.filter(c => facilities.some(f => f[3] > c[3]
    && Math.abs(f[0] - c[0]) <= 1.35 * f[2] && Math.abs(f[1] - c[1]) <= 1.35 * f[2])).length;
  const labels = [...document.querySelectorAll('.gs-label span')]
    .filter(s => getComputedStyle(s).visibility !== 'hidden').map(s => s.getBoundingClientRect());
  let collisions = 0;
  labels.forEach((a, i) => labels.slice(i + 1).forEach(b => {
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) collisions++;
  }));
  return {covered: covered / total, children: children.length, facilities: facilities.length,
          hidden, labels: labels.length, collisions};
}"""


@pytest.fixture(scope="module")
def page_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("screen") / "map.html"
    path.write_text(map_html(make_map(demo_results())), encoding="utf-8")
    return path


def _open(chromium: Any, path: Path, width: int, height: int) -> Any:
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("window.geoStunting && window.geoStunting.ready", timeout=20_000)
    return page


@pytest.fixture(scope="module")
def laptop(browser, page_file) -> Iterator[Any]:  # noqa: F811 - the imported fixture
    page = _open(browser, page_file, 1366, 768)
    yield page
    page.close()


def test_at_1366_by_768_the_panels_leave_the_map_free(laptop):
    found = laptop.evaluate(MEASURE)
    assert found["covered"] < 0.15, found  # open, they covered 39 %
    assert not laptop.is_visible(".leaflet-control-layers-overlays")
    assert not laptop.is_visible("#gs-summary ul")
    assert laptop.is_visible(".gs-warning")  # the confidentiality notice stays in sight


def test_at_1366_by_768_children_are_drawn_above_facilities(laptop):
    found = laptop.evaluate(MEASURE)
    assert found["children"] == 201
    assert found["facilities"] == 12
    assert found["hidden"] == 0, found


DRAW_ORDER = """() => {
  const GS = geoStunting, order = new Map();
  let k = 0;
  for (let item = GS.renderer._drawFirst; item; item = item.next) order.set(item.layer, k++);
  const at = g => g.getLayers().map(l => order.get(l));
  const children = GS.groups.filter(g => /^(Cases|Controls)/.test(g.gsSpec.title)).flatMap(at);
  const facilities = GS.groups.filter(g => g.gsSpec.table === 'facilities').flatMap(at);
  const outlines = GS.outlines.flatMap(at);
  return {children: [Math.min(...children), Math.max(...children)],
          facilities: [Math.min(...facilities), Math.max(...facilities)],
          outlines: [Math.min(...outlines), Math.max(...outlines)], n_outlines: outlines.length};
}"""


def test_facility_outlines_are_drawn_above_the_children(laptop):
    found = laptop.evaluate(DRAW_ORDER)
    assert found["n_outlines"] == 12
    assert found["facilities"][1] < found["children"][0]  # the symbols below every child
    assert found["outlines"][0] > found["children"][1]  # their outlines above every child
    # switched off and on again, the order holds
    laptop.evaluate(
        "() => { const g = geoStunting.groups.find(x => x.gsSpec.title.startsWith('Cases'));"
        " geoStunting.map.removeLayer(g); g.addTo(geoStunting.map);"
        " geoStunting.map.fire('overlayadd', {layer: g}); }"
    )
    found = laptop.evaluate(DRAW_ORDER)
    assert found["outlines"][0] > found["children"][1]


def test_panels_open_on_demand_and_the_layer_list_closes_on_a_map_click(laptop):
    laptop.click(".leaflet-control-layers-toggle")
    assert laptop.is_visible(".leaflet-control-layers-overlays")
    assert "Cases (67)" in laptop.inner_text(".leaflet-control-layers-overlays")
    laptop.mouse.click(700, 700)
    assert not laptop.is_visible(".leaflet-control-layers-overlays")
    laptop.click("#gs-summary summary")
    assert "All 67 cases live within 2 km" in laptop.inner_text("#gs-summary")
    laptop.click("#gs-summary summary")
    assert laptop.is_visible(".gs-legend-row")
    laptop.click(".gs-legend .gs-toggle")
    assert not laptop.is_visible(".gs-legend-row")
    laptop.click(".gs-legend .gs-toggle")
    assert laptop.is_visible(".gs-legend-row")


@pytest.mark.parametrize(("width", "height"), [(1102, 522), (420, 800), (1366, 768)])
def test_village_names_never_collide(browser, page_file, width, height):  # noqa: F811
    page = _open(browser, page_file, width, height)
    try:
        for zoom in (None, 11, 12.5, 14):
            if zoom is not None:
                page.evaluate(f"() => {{ geoStunting.map.setZoom({zoom}, {{animate: false}}); }}")
            found = page.evaluate(MEASURE)
            assert found["collisions"] == 0, (zoom, found)
            assert found["labels"] >= 1
        # the report's embedded map (1,102 × 522) and a phone start with the legend closed
        assert page.is_visible(".gs-legend-row") == ((width, height) == (1366, 768))
    finally:
        page.close()


def test_a_wide_screen_keeps_every_panel_open(browser, page_file):  # noqa: F811
    page = _open(browser, page_file, 1920, 1080)
    try:
        assert page.is_visible(".leaflet-control-layers-overlays")
        assert "All 67 cases live within 2 km" in page.inner_text("#gs-summary")
        assert page.is_visible(".gs-legend-row")
    finally:
        page.close()
