"""Benchmark: geo_stunting's map against geopandas' explore() on the same data.

Data: a synthetic district of 60 × 60 km (UTM 48S) with 100 square villages,
N subjects (one third cases) and N/300 facilities of three kinds, run through
the real `access` step; LISA/Gi* and scan layers are added with synthetic
values so that their styles are drawn too. Nothing here is real data.

Measured for each map:

- generation: seconds to build the page and write it (tracemalloc peak of
  Python allocations in a separate, untimed run);
- size of the HTML file;
- load: headless Chromium (Debian's /usr/bin/chromium via playwright),
  milliseconds from navigation start until the map is drawn (ours: its
  ``geoStunting.ready`` flag; explore(): the load event plus two animation
  frames). explore() pages load Leaflet and its plugins from CDNs; with no
  network here, those requests are answered from the local XStatic-Leaflet
  copy (Leaflet) or with empty files (jQuery, Bootstrap, fonts), which favours
  explore() slightly.

    python benchmarks/maps.py --quick          # 10,000 subjects
    python benchmarks/maps.py                  # 10,000 and 100,000 subjects
    python benchmarks/maps.py --screenshot maps/screenshot-demo.png   # the README's picture
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import xstatic.pkg.leaflet as xleaflet
from playwright.sync_api import sync_playwright

import geo_stunting as gs
from geo_stunting.outputs.map._render import make_map, map_html

CRS = "EPSG:32748"
X0, Y0, SIDE, GRID = 430_000.0, 9_620_000.0, 60_000.0, 10
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def make_results(n: int, seed: int = 1) -> gs.Results:
    rng = np.random.default_rng(seed)
    cell = SIDE / GRID
    boxes = [
        shapely.box(X0 + i * cell, Y0 + j * cell, X0 + (i + 1) * cell, Y0 + (j + 1) * cell)
        for j in range(GRID)
        for i in range(GRID)
    ]
    villages = gpd.GeoDataFrame(
        {"name": [f"Desa {i:03d}" for i in range(len(boxes))]}, geometry=boxes, crs=CRS
    )
    # children cluster around 3 settlements per village
    centres = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), size=(GRID * GRID * 3, 2))
    xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 600, size=(n, 2))
    xy = np.clip(xy, (X0 + 1, Y0 + 1), (X0 + SIDE - 1, Y0 + SIDE - 1))
    subjects = gpd.GeoDataFrame(
        {
            "id": [f"S{i:06d}" for i in range(n)],
            "status": np.where(rng.random(n) < 1 / 3, "case", "control"),
            "age_months": rng.integers(6, 60, n),
            "sex": rng.choice(["F", "M"], n),
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )
    m = max(n // 300, 10)
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:04d}" for i in range(m)],
            "name": [f"Facility {i}" for i in range(m)],
            "kind": np.array(["puskesmas", "pustu", "posyandu"])[rng.integers(0, 3, m)],
        },
        geometry=shapely.points(rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), size=(m, 2))),
        crs=CRS,
    )
    study = gs.study_from_frames(subjects, facilities, villages, name="Benchmark", id="id")
    results = gs.analyze(study, steps=["access"])
    layers = dict(results.layers)
    base = layers["subjects"][["subject_id", "status", "geometry"]].copy()
    labels = np.array(["HH", "LH", "LL", "HL", "not significant"])
    base["lisa_label"] = labels[rng.choice(5, n, p=[0.03, 0.02, 0.03, 0.02, 0.9])]
    base["lisa_p"] = rng.uniform(0, 1, n)
    base["gi_star_z"] = rng.normal(0, 1.5, n)
    base["gi_star_p"] = rng.uniform(0, 1, n)
    layers["subjects_autocorrelation"] = base
    centre = shapely.get_coordinates(layers["subjects"].geometry.iloc[:5].to_numpy())
    layers["scan_clusters"] = gpd.GeoDataFrame(
        {
            "rank": range(1, 6),
            "cases": 40,
            "expected": 20.0,
            "relative_risk": 2.0,
            "p_value": 0.01,
            "significant": True,
        },
        geometry=shapely.buffer(shapely.points(centre), 1500),
        crs=CRS,
    )
    return gs.Results(results.study, results.sections, layers, results.timings)


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


def peak_mb(func: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def ours(results: gs.Results, path: Path) -> None:
    path.write_text(map_html(make_map(results)), encoding="utf-8")


def explore(results: gs.Results, path: Path) -> None:
    layers = results.layers
    fmap = layers["area"].explore(style_kwds={"fillOpacity": 0.05})
    layers["subjects"].explore(m=fmap, column="status", cmap=["#d7301f", "#2b8cbe"])
    layers["facilities"].explore(m=fmap, column="kind", marker_kwds={"radius": 6})
    fmap.save(str(path))


def load_ms(page: Any, path: Path, *, ours_page: bool) -> float:
    page.goto(path.as_uri(), wait_until="load", timeout=120_000)
    if ours_page:
        page.wait_for_function("window.geoStunting && window.geoStunting.ready", timeout=120_000)
        return float(page.evaluate("performance.now()"))
    return float(
        page.evaluate(
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
            "() => r(performance.now()))))"
        )
    )


def serve_cdn_locally(page: Any) -> None:
    """Answer CDN requests from the local Leaflet copy (others: empty files)."""
    base = Path(xleaflet.BASE_DIR)

    def handle(route: Any) -> None:
        url = route.request.url
        if not url.startswith(("http://", "https://")):
            route.continue_()
            return
        name = url.rsplit("/", 1)[-1].split("?")[0]
        if name in {"leaflet.js", "leaflet.css"}:
            kind = "application/javascript" if name.endswith(".js") else "text/css"
            route.fulfill(body=(base / name).read_bytes(), content_type=kind)
        else:
            route.fulfill(body=b"", content_type="text/plain")

    page.route("**/*", handle)


def browser_loads(paths: dict[str, Path]) -> dict[str, float]:
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, path in paths.items():
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            serve_cdn_locally(page)
            out[name] = load_ms(page, path, ours_page=name == "ours")
            page.close()
        browser.close()
    return out


def bench(n: int, folder: Path, *, browser: bool) -> None:
    print(f"\n== {n:,} subjects")
    t_data, results = timed(lambda: make_results(n))
    print(f"data + access step (not timed below): {t_data:.1f} s")
    paths = {"ours": folder / f"ours-{n}.html", "explore": folder / f"explore-{n}.html"}
    rows = []
    for name, func in (("ours", ours), ("explore", explore)):
        seconds, _ = timed(lambda f=func, p=paths[name]: f(results, p))
        memory = peak_mb(lambda f=func, p=paths[name]: f(results, p))
        rows.append((name, seconds, paths[name].stat().st_size / 2**20, memory))
    loads = browser_loads(paths) if browser else {}
    print(f"{'map':<9}{'generate s':>12}{'size MB':>10}{'peak MB':>10}{'load ms':>10}")
    for name, seconds, size, memory in rows:
        load = f"{loads[name]:.0f}" if name in loads else "–"
        print(f"{name:<9}{seconds:>12.2f}{size:>10.1f}{memory:>10.0f}{load:>10}")
    (o, e) = rows
    line = f"explore / ours: generation {e[1] / o[1]:.1f}×, size {e[2] / o[2]:.1f}×"
    if loads:
        line += f", load {loads['explore'] / loads['ours']:.1f}×"
    print(line)


def screenshot(path: Path) -> None:
    """Run the demo with every available step and photograph its map (the README's figure)."""
    results = gs.analyze(gs.load_study(gs.demo_study_path()))
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "map.html"
        ours(results, page_path)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 900})  # every panel open
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_function("window.geoStunting && window.geoStunting.ready")
            page.wait_for_timeout(300)
            page.screenshot(path=str(path))
            browser.close()
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 subjects only")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium loads")
    parser.add_argument("--screenshot", type=Path, help="photograph the demo map to this file")
    args = parser.parse_args()
    if args.screenshot:
        screenshot(args.screenshot)
        return
    sizes = (10_000,) if args.quick else (10_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            bench(n, Path(tmp), browser=not args.no_browser)


if __name__ == "__main__":
    main()
