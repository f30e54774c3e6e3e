"""Tests for geo_stunting.pattern._window: kinds, areas, containment, CSR simulation."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo_stunting import AnalysisError
from geo_stunting.pattern._window import area_union, make_window
from geo_stunting.scan._relative_risk import study_window
from tests.pattern_fixture import fixture_polygon, fixture_subjects, fixture_window


def _points(xy: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"subject_id": [f"S{i}" for i in range(len(xy))]},
        geometry=gpd.points_from_xy(*zip(*xy, strict=True)),
        crs="EPSG:32748",
    )


def test_area_union_of_adjacent_squares_is_their_total_area() -> None:
    area = gpd.GeoDataFrame(
        {"name": ["A", "B"]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs="EPSG:32748",
    )
    window = make_window(_points([(500, 500), (1500, 500)]), area=area)
    assert window.kind == "area"
    assert window.area_m2 == pytest.approx(2_000_000)
    assert window.perimeter_m == pytest.approx(6000)
    assert window.is_rectangle
    assert window.to_dict()["kind"] == "area"


def test_default_without_area_is_convex_hull_of_points() -> None:
    pts = _points([(0, 0), (4000, 0), (0, 3000), (1000, 1000)])
    window = make_window(pts)
    assert window.kind == "convex_hull"
    assert window.area_m2 == pytest.approx(0.5 * 4000 * 3000)
    rect = make_window(pts, kind="rectangle")
    assert rect.area_m2 == pytest.approx(4000 * 3000)
    assert rect.is_rectangle


def test_polygon_with_hole_area_and_edges_orientation() -> None:
    window = fixture_window()
    assert window.area_m2 == pytest.approx(9000 * 3500 + 5200 * 3000 - 1100 * 1000)
    edges = window.edges()
    # interior on the left of every edge: the signed area of the edges is +area
    signed = 0.5 * np.sum(edges[:, 0] * edges[:, 3] - edges[:, 2] * edges[:, 1])
    assert signed == pytest.approx(window.area_m2)


def test_subjects_outside_the_window_are_an_error_naming_them() -> None:
    pts = _points([(500, 500), (5000, 5000)])
    with pytest.raises(AnalysisError, match=r"1 subject\(s\) lie outside .*S1"):
        make_window(pts, kind="polygon", polygon=shapely.box(0, 0, 1000, 1000))


def test_area_kind_without_area_says_what_to_do() -> None:
    with pytest.raises(AnalysisError, match=r"needs study-area polygons.*convex_hull"):
        make_window(_points([(0, 0), (1, 1), (0, 1)]), kind="area")


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(AnalysisError, match="unknown window kind 'circle'"):
        make_window(_points([(0, 0), (1, 1), (0, 1)]), kind="circle")  # type: ignore[arg-type]


def test_random_points_are_inside_uniform_and_seeded() -> None:
    window = fixture_window()
    a = window.random_points(20_000, rng=np.random.default_rng(1))
    b = window.random_points(20_000, rng=np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert window.contains(a).all()
    # uniform: the share in the hole-free lower block is its share of the area
    lower = shapely.box(440_000, 9_640_000, 449_000, 9_643_500)
    share = np.mean(shapely.contains_xy(lower, a[:, 0], a[:, 1]))
    expected = lower.area / window.area_m2
    assert share == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / 20_000))
    # and none in the hole
    hole = shapely.box(441_500, 9_644_200, 442_600, 9_645_200)
    assert not shapely.contains_xy(hole, a[:, 0], a[:, 1]).any()


def test_window_frame_keeps_crs() -> None:
    subjects = fixture_subjects()
    frame = make_window(subjects, kind="polygon", polygon=fixture_polygon()).to_frame(subjects.crs)
    assert frame.crs == subjects.crs
    assert frame["area_m2"].iloc[0] == pytest.approx(frame.geometry.area.iloc[0])


def test_thin_gaps_between_villages_are_filled_but_lakes_kept() -> None:
    # two villages whose boundaries leave a 2 m gap, and a 200 m lake in one of them
    left = shapely.Polygon(
        [
            (0, 0),
            (1000, 0),
            (1000, 400),
            (998, 400),
            (998, 600),
            (1000, 600),
            (1000, 1000),
            (0, 1000),
        ],
        [[(200, 200), (400, 200), (400, 400), (200, 400)]],
    )
    right = shapely.box(1000, 0, 2000, 1000)
    area = gpd.GeoDataFrame({"name": ["A", "B"]}, geometry=[left, right], crs="EPSG:32748")
    window = make_window(_points([(500, 500), (1500, 500)]), area=area)
    assert window.area_m2 == pytest.approx(2_000_000 - 200 * 200)
    assert window.notes == ("1 gap(s) narrower than 10 m between neighbouring areas were filled",)
    assert len(shapely.get_parts(window.geometry)[0].interiors) == 1


def test_area_union_fills_slivers_for_every_step():
    # Four villages leave a 2 m wide digitising gap between them (filled); one has a
    # 300 m x 400 m courtyard, a real hole such as a pond (kept).
    top, bottom = shapely.box(0, 1000, 1000, 1100), shapely.box(0, -100, 1000, 0)
    left = shapely.box(0, 0, 499, 1000)
    right = shapely.box(501, 0, 1000, 1000).difference(shapely.box(600, 300, 900, 700))
    area = gpd.GeoDataFrame({"name": list("tblr")}, geometry=[top, bottom, left, right], crs=32748)
    union, notes = area_union(area)
    assert union.area == pytest.approx(1000 * 1200 - 300 * 400)
    assert notes == ("1 gap(s) narrower than 10 m between neighbouring areas were filled",)
    window, source = study_window(area.iloc[:0], area)
    assert window.equals(union)
    assert "gap(s) narrower than 10 m" in source


def test_random_points_are_the_numpy_formula_to_the_last_bit() -> None:
    """The compiled draw equals the plain NumPy one: pick a triangle by area, then a point in it."""
    window = fixture_window()
    rng = np.random.default_rng(21)
    draws = rng.random(20000)
    uv = rng.random((20000, 2))
    cumulative = window._cumulative
    pick = np.searchsorted(cumulative, draws * cumulative[-1], side="right")
    pick = np.minimum(pick, len(window._triangles) - 1)
    flip = uv.sum(axis=1) > 1.0
    uv[flip] = 1.0 - uv[flip]
    tri = window._triangles[pick]
    a = tri[:, 0]
    expected = a + uv[:, :1] * (tri[:, 1] - a) + uv[:, 1:] * (tri[:, 2] - a)
    ours = window.random_points(20000, rng=np.random.default_rng(21))
    assert ours.tobytes() == expected.tobytes()
    assert window.contains(ours).all()
