"""Tests for geo_stunting.scan._relative_risk: the kernel relative-risk surface against spatstat.

Reference values: tests/reference/relrisk/relrisk.json, written by
tests/reference/relrisk/relrisk.R (spatstat 3.0-3: bw.relrisk, relrisk, densityfun)
on the grave data in a square window.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.spatial import cKDTree

import geo_stunting as gs
from geo_stunting import AnalysisError
from geo_stunting.scan import _relative_risk
from geo_stunting.scan._relative_risk import (
    bandwidth_relrisk,
    relative_risk_surface,
    relative_risk_xy,
)
from geo_stunting.scan._steps import relative_risk_layers

HERE = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((HERE / "relrisk" / "relrisk.json").read_text())


@pytest.fixture(scope="module")
def grave() -> pd.DataFrame:
    return pd.read_csv(HERE / "grave" / "grave_points.csv")


@pytest.fixture(scope="module")
def window(ref: dict) -> shapely.Geometry:
    (x0, x1), (y0, y1) = ref["window"]["xrange"], ref["window"]["yrange"]
    return shapely.box(x0, y0, x1, y1)


@pytest.fixture(params=["dense", "footprints"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of computing the surface: one dense product, or footprints per labelling."""
    if request.param == "footprints":
        monkeypatch.setattr(_relative_risk, "DENSE_MAX_TERMS", 0)
    return str(request.param)


def _as_float(values: list) -> np.ndarray:
    return np.array([float(v) for v in values])  # jsonlite writes Inf as "Inf"


def test_bandwidth_is_spatstat_bw_relrisk(grave, window, ref) -> None:
    choice = bandwidth_relrisk(grave["x"], grave["y"], grave["status"] == "case", window=window)
    np.testing.assert_allclose(choice.candidates_m, ref["bw"]["h"], rtol=1e-12)
    want = _as_float(ref["bw"]["cv"])
    finite = np.isfinite(want)
    assert np.array_equal(np.isfinite(choice.criterion), finite)
    np.testing.assert_allclose(choice.criterion[finite], want[finite], rtol=1e-10)
    assert choice.bandwidth_m == pytest.approx(ref["bw"]["sigma"], rel=1e-12)
    assert not choice.at_edge


def _on_spatstat_pixels(grave, window, ref, edge):
    (x0, x1) = ref["window"]["xrange"]
    result = relative_risk_xy(
        grave["x"],
        grave["y"],
        grave["status"] == "case",
        window=window,
        bandwidth_m=ref["bw"]["sigma"],
        cell_m=(x1 - x0) / 64,
        edge=edge,
        permutations=0,
        extent="window",  # spatstat's pixel grid over the whole window
        support_min_subjects=0,
    )
    pixels = ref["pixels"]
    xcol, yrow = np.array(pixels["xcol"]), np.array(pixels["yrow"])
    col = np.round((result.x - x0) / result.cell_m - 0.5).astype(int)
    row = np.round((result.y - ref["window"]["yrange"][0]) / result.cell_m - 0.5).astype(int)
    np.testing.assert_allclose(result.x, xcol[col], rtol=1e-12)
    np.testing.assert_allclose(result.y, yrow[row], rtol=1e-12)
    assert len(result.x) == 64 * 64  # the window is the grid's square
    return result, row, col


def test_surface_equals_spatstat_exact_kernel_sums(grave, window, ref, path) -> None:
    result, row, col = _on_spatstat_pixels(grave, window, ref, "uniform")
    want = np.array(ref["pixels"]["exact_p_case_uniform"], dtype=float)[row, col]
    # spatstat cuts the kernel at 8 sigma; that matters only far from every point
    np.testing.assert_allclose(result.p_case, want, atol=5e-5)
    near = cKDTree(grave[["x", "y"]].to_numpy()).query(np.column_stack([result.x, result.y]))[0]
    close = near < 4 * result.bandwidth_m
    assert close.mean() > 0.8
    np.testing.assert_allclose(result.p_case[close], want[close], rtol=1e-9, atol=1e-10)
    # log relative risk = logit(p_case) - log(n_case / n_control)
    n_case = int((grave["status"] == "case").sum())
    expected = np.log(want / (1 - want)) - math.log(n_case / (len(grave) - n_case))
    np.testing.assert_allclose(result.log_rr[close], expected[close], atol=1e-6)


def test_diggle_edge_correction_matches_spatstat(grave, window, ref, path) -> None:
    result, row, col = _on_spatstat_pixels(grave, window, ref, "diggle")
    want = np.array(ref["pixels"]["exact_p_case_diggle"], dtype=float)[row, col]
    np.testing.assert_allclose(result.p_case, want, atol=2e-4)  # our edge mass is on a raster
    uniform = np.array(ref["pixels"]["exact_p_case_uniform"], dtype=float)[row, col]
    assert np.abs(want - uniform).max() > 1e-2  # so the check above is not vacuous


def test_surface_close_to_spatstat_relrisk_image(grave, window, ref, path) -> None:
    # spatstat's relrisk image comes from an FFT on 64 x 64 pixels with the points
    # moved to pixel centres: agreement is to the discretisation error only.
    result, row, col = _on_spatstat_pixels(grave, window, ref, "uniform")
    image = np.array(ref["pixels"]["p_case_uniform"], dtype=float)[row, col]
    difference = np.abs(result.p_case - image)
    assert difference.max() < 0.1
    assert difference.mean() < 0.015


def test_pointwise_p_values_by_brute_force(path: str) -> None:
    rng = np.random.default_rng(2)
    xy = rng.uniform(0, 1000, size=(30, 2))
    is_case = np.arange(30) < 10
    window = shapely.box(0, 0, 1000, 1000)
    result = relative_risk_xy(
        xy[:, 0],
        xy[:, 1],
        is_case,
        window=window,
        bandwidth_m=150.0,
        cell_m=100.0,
        permutations=39,
        seed=9,
        support_min_subjects=0,
    )
    cells = np.column_stack([result.x, result.y])
    kernel = np.exp(-((cells[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2) / (2 * 150.0**2))
    observed = kernel[:, is_case].sum(axis=1)
    replay = np.random.default_rng(9)
    higher = np.zeros(len(cells))
    for _ in range(39):
        labels = replay.permuted(is_case.astype(float)).astype(bool)
        higher += kernel[:, labels].sum(axis=1) >= observed * (1 - 1e-9)
    np.testing.assert_array_equal(result.p_value, (1 + higher) / 40)
    np.testing.assert_allclose(result.p_case, observed / kernel.sum(axis=1), rtol=1e-12)


# --------------------------------------------------------------------------- study


@pytest.fixture(scope="module")
def demo() -> gs.Study:
    return gs.load_study(gs.demo_study_path())


def test_demo_step_layers_and_section(demo: gs.Study) -> None:
    results = gs.analyze(demo, steps=["relative_risk"], permutations=999, seed=3)
    section = results.sections["relative_risk"]
    assert section["bandwidth_method"].startswith("likelihood cross-validation")
    assert section["window"] == "union of the study-area polygons"
    assert (section["permutations"], section["seed"]) == (999, 3)
    assert section["cell_m"] <= section["bandwidth_m"] / 4 + 1e-9
    grid = results.layers["relative_risk_grid"]
    high = results.layers["relative_risk_high"]
    assert grid.crs == demo.crs
    assert high.crs == demo.crs
    # the map shows only the supported surface: >= 5 children within one bandwidth
    xy = np.column_stack([demo.subjects.geometry.x, demo.subjects.geometry.y])
    centres = np.column_stack([grid.geometry.centroid.x, grid.geometry.centroid.y])
    counts = (
        np.hypot(*(centres[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        <= (section["bandwidth_m"])
    ).sum(axis=1)
    assert (counts >= 5).all()
    np.testing.assert_array_equal(counts, grid["n_within"])
    assert section["support"]["n_cells"] == len(grid)
    assert section["support"]["area_m2"] == pytest.approx(grid.area.sum(), rel=1e-9)
    flagged = grid[grid["significant_high"]]
    assert ((flagged["p_fdr"] <= 0.05) & (flagged["log_rr"] > 0)).all()
    assert section["share_support_significant_high"] == pytest.approx(len(flagged) / len(grid))
    raw = grid["significant_high_uncorrected"]
    assert (grid["significant_high"] <= raw).all()  # the correction only removes cells
    assert section["alternative"] == "greater"
    # raised-risk areas: smoothed contours, inside the window, each holding children
    assert len(high) >= 1
    window = demo.area.geometry.union_all()
    assert high.geometry.union_all().within(window.buffer(1e-6))
    for polygon, n in zip(high.geometry, high["n_subjects"], strict=True):
        inside = int(demo.subjects.geometry.within(polygon).sum())
        assert inside == n
        assert inside >= 1
        assert len(polygon.exterior.coords) > 5
    areas = section["raised_risk_areas"]
    assert areas["n_areas"] == len(high)
    assert areas["area_m2"] == pytest.approx(high.area.sum(), rel=1e-9)
    json.dumps(results.to_json())


def test_contours_cover_the_significant_cells_and_nothing_far_away() -> None:
    rng = np.random.default_rng(5)
    homes = rng.uniform(0, 4000, size=(240, 2))
    is_case = rng.random(240) < 0.25
    near = np.hypot(homes[:, 0] - 1000, homes[:, 1] - 1000) < 500
    is_case[near] = True
    result = relative_risk_xy(
        homes[:, 0],
        homes[:, 1],
        is_case,
        window=shapely.box(-2000, -2000, 10000, 10000),  # far larger than the homes
        bandwidth_m=250.0,
        permutations=999,
        seed=1,
    )
    extent = np.ptp(homes, axis=0).max() + 4 * 250.0  # the homes padded by two bandwidths
    assert result.cell_m == pytest.approx(min(250.0 / 4, extent / 128))
    x0, y0 = result.grid_origin
    assert x0 >= homes[:, 0].min() - 2 * 250.0 - 1e-9  # the grid covers the homes, not the window
    assert y0 >= homes[:, 1].min() - 2 * 250.0 - 1e-9
    _, high = relative_risk_layers(result, crs="EPSG:32748")
    assert len(high) >= 1
    union = high.geometry.union_all()
    assert union.distance(shapely.Point(1000, 1000)) < 500  # at the planted cluster
    significant = result.significant_high
    cells = shapely.points(np.column_stack([result.x, result.y])[significant])
    assert np.mean(shapely.contains(union, cells)) > 0.9
    assert union.bounds[2] < 4000 + 250
    assert union.bounds[3] < 4000 + 250


def test_window_without_study_area_is_buffered_hull(demo: gs.Study) -> None:
    result = relative_risk_surface(demo.subjects, bandwidth_m=800.0, permutations=0)
    assert result.window_source.startswith("convex hull of the subjects buffered by")
    hull = shapely.convex_hull(demo.subjects.geometry.union_all())
    assert result.window.contains(hull)
    assert result.window.area > hull.area
    assert np.isnan(result.p_value).all()
    assert result.to_dict()["share_window_significant_high"] is None
    grid, high = relative_risk_layers(result, crs=demo.crs)
    assert len(grid) == int(result.supported.sum())
    assert len(high) == 0


def test_same_seed_same_surface(demo: gs.Study) -> None:
    a = relative_risk_surface(
        demo.subjects, area=demo.area, bandwidth_m=1000.0, permutations=19, seed=4
    )
    b = relative_risk_surface(
        demo.subjects, area=demo.area, bandwidth_m=1000.0, permutations=19, seed=4
    )
    assert a.p_value.tobytes() == b.p_value.tobytes()
    assert a.log_rr.tobytes() == b.log_rr.tobytes()
    assert a.to_dict() == b.to_dict()


def test_bad_settings_are_reported_together() -> None:
    window = shapely.box(0, 0, 10, 10)
    with pytest.raises(AnalysisError, match=r"bandwidth_m = -1 must be positive[\s\S]*edge = 'x'"):
        relative_risk_xy(
            [1, 2, 3, 4],
            [1, 2, 3, 4],
            [True, True, False, False],
            window=window,
            bandwidth_m=-1,
            edge="x",
        )  # type: ignore[arg-type]


def test_needs_two_cases_and_two_controls() -> None:
    with pytest.raises(AnalysisError, match="at least 2 cases and 2 controls; found 1 case"):
        relative_risk_xy([1, 2, 3], [1, 2, 3], [True, False, False], window=shapely.box(0, 0, 5, 5))


def test_geographic_crs_is_refused() -> None:
    gdf = gpd.GeoDataFrame(
        {"status": ["case", "control"]},
        geometry=gpd.points_from_xy([104.6, 104.7], [-3.2, -3.1]),
        crs="EPSG:4326",
    )
    with pytest.raises(AnalysisError, match="projected CRS"):
        relative_risk_surface(gdf)


def test_bandwidth_search_sums_within_the_stated_bound_of_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Leaving out terms below exp(-40) of a point's largest changes each sum by < (n-1)e-40."""
    from geo_stunting.scan import _bandwidth  # noqa: PLC0415

    rng = np.random.default_rng(8)
    xy = np.vstack([rng.normal(0, 300, (150, 2)), rng.uniform(-20_000, 20_000, (150, 2))])
    is_case = rng.random(300) < 0.3
    seen: dict[str, tuple] = {}
    original = _bandwidth._loo_sums

    def capture(*args: np.ndarray) -> tuple:
        seen["args"] = args
        seen["out"] = original(*args)
        return seen["out"]

    monkeypatch.setattr(_bandwidth, "_loo_sums", capture)
    monkeypatch.setattr(_bandwidth, "SMALL_BANDWIDTH_POINTS", 0)  # the compiled, truncated sums
    choice = _bandwidth.bandwidth_relrisk(
        xy[:, 0], xy[:, 1], is_case, window=shapely.box(-25_000, -25_000, 25_000, 25_000)
    )
    points, types, h, cut_all, cut_type = seen["args"]
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    kernel = np.exp(-d2[:, :, None] / (2 * h * h))
    total = (kernel * (d2[:, :, None] <= cut_all**2)).sum(axis=1)
    same_type = types[:, None] == types[None, :]
    within = d2[:, :, None] <= cut_type[types][:, None, :] ** 2
    same = (kernel * (same_type[:, :, None] & within)).sum(axis=1)
    # the terms left out, plus the rounding of sums of n terms in another order
    bound = (len(points) - 1) * (math.exp(-_bandwidth.TAIL_EXPONENT) + 2 * np.finfo(float).eps)
    for fast, exact in zip(seen["out"], (total, same), strict=True):
        positive = exact > 0
        assert np.all(fast[~positive] == 0)
        assert np.max(np.abs(fast[positive] - exact[positive]) / exact[positive]) <= bound
    with np.errstate(divide="ignore", invalid="ignore"):
        criterion = -np.mean(np.log(same / total), axis=0)
    criterion[np.isnan(criterion)] = np.inf
    assert choice.bandwidth_m == h[int(np.argmin(criterion))]
