"""Print-ready maps: map.pdf (a page per view, A4 or A3 landscape) and 300 dpi PNGs."""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

import geo_stunting as gs
from geo_stunting.errors import InputError
from geo_stunting.outputs._print import (
    PRINT_FILES,
    RASTER_ABOVE,
    _rounded_circles,
    write_print_maps,
)
from geo_stunting.outputs._print_marks import declutter, village_labels


@pytest.fixture(scope="module")
def results():
    return gs.analyze(gs.load_study(gs.demo_study_path()))


def _pdf_pages(path):
    text = path.read_bytes()
    return text.count(b"/Type /Page\n") or text.count(b"/Type /Page ")


def _mediabox(path):
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", path.read_bytes())
    return float(box.group(1)), float(box.group(2))


@pytest.mark.parametrize(("paper", "size_pt"), [("a4", (842, 595)), ("a3", (1191, 842))])
def test_pages_and_sizes(results, tmp_path, paper, size_pt):
    written = write_print_maps(
        results.layers, results.sections, tmp_path, paper=paper, today=dt.date(2024, 5, 1)
    )
    assert written == list(PRINT_FILES)
    assert _pdf_pages(tmp_path / "map.pdf") == 3
    width, height = _mediabox(tmp_path / "map.pdf")
    assert (round(width), round(height)) == pytest.approx(size_pt, abs=1)
    for name in PRINT_FILES[1:]:
        image = imread(tmp_path / name)
        # 300 dpi: A4 landscape is 11.69 × 8.27 in
        expected = np.array(size_pt) / 72 * 300
        assert image.shape[1] == pytest.approx(expected[0], abs=2)
        assert image.shape[0] == pytest.approx(expected[1], abs=2)
        painted = (image[..., :3] < 0.97).any(axis=2).mean()
        assert painted > 0.15, name  # not blank: villages, symbols, legend


def test_private_maps_show_no_home_location(results, tmp_path):
    write_print_maps(results.layers, results.sections, tmp_path, today=dt.date(2024, 5, 1))
    # no case-red point anywhere: children are counted per village instead
    for name in ("map.png", "map_access.png", "map_clusters.png"):
        image = imread(tmp_path / name)[..., :3]
        case_red = np.array([0xD7, 0x30, 0x1F]) / 255
        assert not np.isclose(image, case_red, atol=0.02).all(axis=2).any(), name
    # scan circles are drawn around centres rounded to 1 km
    moved = _rounded_circles(results.layers["scan_clusters"])
    centres = moved.geometry.centroid
    for values in (centres.x, centres.y):
        assert np.allclose(np.round(values / 1000) * 1000, values, rtol=0, atol=1e-6)
    assert moved.geometry.area.to_numpy() == pytest.approx(
        results.layers["scan_clusters"].geometry.area.to_numpy()
    )


def test_public_maps_draw_the_masked_points(results, tmp_path):
    masked, _ = gs.public_layers(results.layers, min_m=100, max_m=500, seed=3)
    write_print_maps(masked, results.sections, tmp_path, points="masked")
    image = imread(tmp_path / "map.png")[..., :3]
    case_red = np.array([0xD7, 0x30, 0x1F]) / 255
    assert np.isclose(image, case_red, atol=0.02).all(axis=2).sum() > 100


def test_unknown_paper_is_refused(results, tmp_path):
    with pytest.raises(InputError, match="paper must be 'a4' or 'a3'"):
        write_print_maps(results.layers, results.sections, tmp_path, paper="letter")


def test_village_names_never_overlap_on_a_crowded_map():
    """241 villages on one page (the regency): names that would collide are left out."""

    cells = [
        shapely.box(x * 300, y * 300, x * 300 + 280, y * 300 + 280)
        for x in range(16)
        for y in range(16)
    ]
    area = gpd.GeoDataFrame(
        {"name": [f"Desa Tanjung Panjang {i}" for i in range(256)]}, geometry=cells
    )
    area.loc[0, "geometry"] = shapely.box(-3000, -3000, -20, -20)  # one large village
    fig = Figure(figsize=(11.69, 8.27))
    ax = fig.add_axes((0.05, 0.05, 0.7, 0.85))
    ax.set_xlim(-3200, 5000)
    ax.set_ylim(-3200, 5000)
    village_labels(ax, area, dict(area["name"].items()))
    declutter(fig, ax)
    renderer = FigureCanvasAgg(fig).get_renderer()
    kept = [t for t in ax.texts if t.get_gid() == "village-label"]
    boxes = [t.get_window_extent(renderer) for t in kept]
    assert 0 < len(kept) < len(area)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert "Desa Tanjung Panjang 0" in {
        t.get_text() for t in kept
    }  # the largest village keeps its name


def test_private_map_without_villages_shows_no_home_location(results, tmp_path):
    """No village to count children in: the children are left out, not drawn at home."""
    layers = {k: v for k, v in results.layers.items() if k not in ("area", "area_coverage")}
    write_print_maps(layers, results.sections, tmp_path, today=dt.date(2024, 5, 1))
    case_red = np.array([0xD7, 0x30, 0x1F]) / 255
    for name in ("map.png", "map_access.png", "map_clusters.png"):
        image = imread(tmp_path / name)[..., :3]
        assert not np.isclose(image, case_red, atol=0.02).all(axis=2).any(), name


def test_many_points_go_into_the_pdf_as_one_image(results, tmp_path):
    """Above RASTER_ABOVE points of one symbol: one raster in the PDF, not a mark per point."""
    masked, _ = gs.public_layers(results.layers, min_m=100, max_m=500, seed=3)
    subjects = masked["subjects"]
    rng = np.random.default_rng(0)
    many = subjects.sample(4 * RASTER_ABOVE, replace=True, random_state=0).copy()
    x0, y0, x1, y1 = masked["area"].total_bounds
    many.geometry = gpd.points_from_xy(
        rng.uniform(x0, x1, len(many)), rng.uniform(y0, y1, len(many)), crs=subjects.crs
    )
    few = {**masked, "subjects": many.iloc[: RASTER_ABOVE // 2]}
    write_print_maps({**masked, "subjects": many}, results.sections, tmp_path, points="masked")
    (tmp_path / "few").mkdir()
    write_print_maps(few, results.sections, tmp_path / "few", points="masked")
    raster = (tmp_path / "map.pdf").read_bytes()
    vector = (tmp_path / "few" / "map.pdf").read_bytes()
    assert raster.count(b"/Subtype /Image") > vector.count(b"/Subtype /Image")
    image = imread(tmp_path / "map.png")[..., :3]  # the PNG still draws the points
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    assert ((red > green + 0.3) & (red > blue + 0.3)).sum() > 10_000  # case-red marks
