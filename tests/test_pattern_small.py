"""The pattern step's NumPy kernels for few points give the compiled kernels' results, bit for bit.

`geo_stunting.pattern._small` spares a demo-sized first run the compiling of
five numba kernels; each is compared here with its kernel on a window with a
hole and a jagged edge, with shared places and points on the boundary.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry.polygon import orient

from geo_stunting.pattern import _pairs, _setcov, _small
from geo_stunting.pattern._boundary import candidate_distances, edge_index
from geo_stunting.pattern._kernels import sector_total
from geo_stunting.pattern._labelled import labelled_pairs
from geo_stunting.pattern._uniform import points_in_triangles
from geo_stunting.pattern._window import StudyWindow, _finish


@pytest.fixture(scope="module")
def window() -> StudyWindow:
    angles = np.linspace(0, 2 * np.pi, 97)[:-1]
    radius = 5_000 + 900 * np.sin(7 * angles) + 300 * np.cos(23 * angles)
    outer = np.column_stack([radius * np.cos(angles), radius * np.sin(angles)])
    hole = shapely.box(-800, -600, 700, 900).exterior.coords
    polygon = orient(shapely.Polygon(outer, [hole]), sign=1.0)
    return _finish("polygon", polygon)


def _points(window: StudyWindow, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    inside = window.random_points(150, rng=rng)
    shared = np.repeat(inside[:10], 3, axis=0)  # shared places
    corners = window.edges()[:15, :2]  # vertices: on the boundary
    middles = 0.5 * (window.edges()[20:30, :2] + window.edges()[20:30, 2:])
    return np.vstack([inside, shared, corners, middles])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_points_are_the_compiled_points(window: StudyWindow, seed: int) -> None:
    rng = np.random.default_rng(seed)
    draws, uv = rng.random(500), rng.random((500, 2))
    draws[:3] = [0.0, window._cumulative[3] / window._cumulative[-1], np.nextafter(1.0, 0.0)]
    small = _small.points_in_triangles_small(draws, uv, window._cumulative, window._triangles)
    compiled = points_in_triangles(draws, uv, window._cumulative, window._triangles)
    assert small.tobytes() == compiled.tobytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_neighbour_distances_are_the_compiled_distances(
    window: StudyWindow, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    xy = _points(window, seed)
    small = _pairs.nn_distances(xy)
    monkeypatch.setattr(_small, "SMALL_PATTERN_POINTS", 0)
    compiled = _pairs.nn_distances(xy)
    assert small.tobytes() == compiled.tobytes()
    assert (small == 0).sum() >= 30  # the shared places


@pytest.mark.parametrize("seed", [0, 1])
def test_boundary_distances_and_angles_are_the_compiled_ones(
    window: StudyWindow, seed: int
) -> None:
    xy = _points(window, seed)
    index = edge_index(window)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    for cap in (150.0, 2_000.0, np.inf):
        args = (index.ox, index.oy, index.cs, index.ncx, index.ncy, index.estart, index.eidx)
        rest = (index.edges, index.nearest, float(cap))
        small = _small.candidate_distances_small(x, y, *args, *rest)
        compiled = candidate_distances(x, y, *args, *rest)
        assert small.tobytes() == compiled.tobytes()
    b = index.distances(xy, np.inf)
    assert (b < 1e-9).sum() >= 25  # the points on the boundary
    edges = window.edges()
    small = _small.sector_total_small(x, y, b, edges)
    compiled = sector_total(x, y, b, edges)
    assert small.tobytes() == compiled.tobytes()
    assert (small < 2 * np.pi).sum() >= 15  # the vertices


@pytest.mark.parametrize("pixel", [17.3, 61.0, 250.0])
def test_coverage_deposits_are_the_compiled_deposits(window: StudyWindow, pixel: float) -> None:
    edges = np.ascontiguousarray(window.edges())
    minx, miny, maxx, maxy = window.bounds
    origin = (minx - 2.7 * pixel, miny - 1.1 * pixel)
    nx = int((maxx - origin[0]) / pixel) + 3
    ny = int((maxy - origin[1]) / pixel) + 3
    small = _setcov._accumulate.py_func(edges, *origin, pixel, nx, ny)
    compiled = _setcov._accumulate(edges, *origin, pixel, nx, ny)
    assert small.tobytes() == compiled.tobytes()
    coverage = np.clip(np.abs(np.cumsum(small, axis=1)[:, :nx]), 0, 1)
    assert coverage.sum() * pixel**2 == pytest.approx(window.area_m2, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_labelled_pairs_are_the_compiled_pairs(
    window: StudyWindow, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pair counts and column sums (in pair order) as the compiled kernels give them."""
    xy = _points(window, seed)
    breaks = np.linspace(0.0, 2_500.0, 26)
    small = labelled_pairs(xy, window, breaks)
    monkeypatch.setattr(_small, "SMALL_PATTERN_POINTS", 0)
    compiled = labelled_pairs(xy, window, breaks)
    for name in ("rowptr", "wptr", "pj", "cell", "w", "columns", "total"):
        assert getattr(small, name).tobytes() == getattr(compiled, name).tobytes(), name
    assert small.wptr[-1] > 100  # pairs weighted for the edge
