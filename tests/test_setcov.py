"""The set covariance table behind the translation correction of large patterns.

Checked against exact polygon overlaps (shapely), which are themselves what
spatstat's ``edge.Trans(exact = TRUE)`` computes (see test_pattern_reference).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

import geo_stunting as gs
from geo_stunting.pattern import _pairs
from geo_stunting.pattern._pairs import breaks_from_r, k_estimates
from geo_stunting.pattern._setcov import TRANSLATION_RTOL, coverage_raster, set_covariance
from geo_stunting.pattern._window import StudyWindow, make_window


def _star_window() -> StudyWindow:
    angles = np.linspace(0, 2 * np.pi, 41)[:-1]
    radius = np.where(np.arange(40) % 2 == 0, 5000.0, 2200.0)
    star = shapely.Polygon(np.column_stack([radius * np.cos(angles), radius * np.sin(angles)]))
    hole = shapely.Point(600.0, -300.0).buffer(900.0, quad_segs=12)
    polygon = star.difference(hole)
    points = gpd.GeoDataFrame(geometry=[shapely.Point(0.0, 1500.0)], crs="EPSG:32748")
    return make_window(points, polygon=polygon)


def _demo_window() -> StudyWindow:
    study = gs.load_study(gs.demo_study_path())
    return make_window(study.subjects, area=study.area)


def _exact(window: StudyWindow, v: np.ndarray) -> np.ndarray:
    g = window.geometry
    moved = [shapely.affinity.translate(g, dx, dy) for dx, dy in v]
    return np.asarray(shapely.area(shapely.intersection(g, np.asarray(moved, dtype=object))))


def test_coverage_raster_is_exact_for_a_hand_worked_square() -> None:
    # the square [0.5, 2.5]² on unit pixels: corners 1/4, edges 1/2, centre 1
    square = shapely.orient_polygons(shapely.box(0.5, 0.5, 2.5, 2.5), exterior_cw=False)
    xy = np.asarray(square.exterior.coords)
    edges = np.column_stack([xy[:-1], xy[1:]])
    f = coverage_raster(edges, origin=(0.0, 0.0), pixel=1.0, shape=(4, 4))
    expected = np.array(
        [
            [0.25, 0.5, 0.25, 0],
            [0.5, 1.0, 0.5, 0],
            [0.25, 0.5, 0.25, 0],
            [0, 0, 0, 0],
        ]
    )
    np.testing.assert_allclose(f, expected, atol=1e-12)


@pytest.mark.parametrize("make", [_star_window, _demo_window], ids=["star_with_hole", "villages"])
def test_set_covariance_within_stated_bound_of_exact_overlaps(make: object) -> None:
    window = make()  # type: ignore[operator]
    minx, miny, maxx, maxy = window.bounds
    reach = min(maxx - minx, maxy - miny) / 4
    table = set_covariance(window, reach)
    rng = np.random.default_rng(7)
    v = rng.uniform(-reach, reach, size=(150, 2))
    v = np.vstack([v, [[0.0, 0.0], [reach, 0.0], [0.0, -reach], [1.0, 2.0]]])
    exact = _exact(window, v)
    approx = table(v[:, 0], v[:, 1])
    # each weight area/C is off by the relative error of C
    np.testing.assert_allclose(approx, exact, rtol=TRANSLATION_RTOL)
    # and the table is not merely within the bound but close (typically 1e-4)
    assert np.median(np.abs(approx / exact - 1)) < TRANSLATION_RTOL / 10


def test_tabulated_translate_k_matches_exact_within_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = _star_window()
    rng = np.random.default_rng(3)
    xy = window.random_points(400, rng=rng)
    r = np.linspace(0.0, 2500.0, 51)
    breaks = breaks_from_r(r)
    monkeypatch.setattr(_pairs, "EXACT_TRANSLATION_WORK", float("inf"))
    exact = k_estimates(xy, window, breaks, corrections=("translate",))["translate"]
    monkeypatch.setattr(_pairs, "EXACT_TRANSLATION_WORK", 0)
    tabulated = k_estimates(xy, window, breaks, corrections=("translate",))["translate"]
    assert np.all(exact[10:] > 0)
    np.testing.assert_allclose(tabulated, exact, rtol=TRANSLATION_RTOL, atol=1e-9)
