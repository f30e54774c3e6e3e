"""The masking guarantee: every published point moved by min_m..max_m, or not published."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from geo_stunting import AnalysisError, cli
from geo_stunting.outputs._masking import donut_mask, public_layers

CRS = "EPSG:32748"
MIN_M, MAX_M = 100.0, 500.0


def _adversarial_villages() -> gpd.GeoDataFrame:
    """Tiny, fragmented, sliver, ring-shaped and ordinary villages."""
    two_far_squares = shapely.MultiPolygon(
        [shapely.box(0, 0, 40, 40), shapely.box(28_000, 0, 28_040, 40)]
    )  # the case: 0.0 m before
    sliver = shapely.box(10_000, 0, 13_000, 3)  # 3 km long, 3 m wide
    annulus = shapely.Point(20_000, 0).buffer(400).difference(shapely.Point(20_000, 0).buffer(390))
    comb = shapely.union_all(
        [shapely.box(40_000 + 30 * i, 0, 40_000 + 30 * i + 2, 800) for i in range(20)]
    )
    small = shapely.box(50_000, 0, 50_150, 150)  # some ring points fit, most do not
    big = shapely.box(60_000, 0, 65_000, 5_000)
    return gpd.GeoDataFrame(
        {"nama": ["two squares", "sliver", "annulus", "comb", "small", "big"]},
        geometry=[two_far_squares, sliver, annulus, comb, small, big],
        crs=CRS,
    )


def _points_in(villages: gpd.GeoDataFrame, n_each: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    pts = []
    for geom in villages.geometry:
        minx, miny, maxx, maxy = geom.bounds
        found = 0
        while found < n_each:
            xy = rng.uniform((minx, miny), (maxx, maxy), size=(4000, 2))
            xy = xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])][: n_each - found]
            pts.extend(shapely.points(xy))
            found += len(xy)
    n = len(pts)
    return gpd.GeoDataFrame(
        {"subject_id": [f"S{i}" for i in range(n)], "status": ["case", "control"] * (n // 2)},
        geometry=pts,
        crs=CRS,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_published_point_keeps_the_guarantee_in_adversarial_villages(seed):
    villages = _adversarial_villages()
    points = _points_in(villages, 20, seed)
    layers = {"subjects": points, "area": villages}
    public, report = public_layers(layers, min_m=MIN_M, max_m=MAX_M, seed=seed)
    masked, _ = donut_mask(points, min_m=MIN_M, max_m=MAX_M, seed=seed, areas=villages)
    shown = masked.geometry.notna()
    moved = masked.geometry[shown].distance(points.geometry[shown])
    assert (moved >= MIN_M).all(), moved.min()
    assert (moved <= MAX_M).all(), moved.max()
    # published points stay inside the village they came from
    home = gpd.sjoin(points[shown], villages, predicate="within")["nama"]
    after = gpd.sjoin(masked[shown], villages, predicate="within")["nama"]
    assert home.sort_index().equals(after.sort_index())
    # the hidden ones are counted, in the report, the public layers and the map's words
    assert report.n_suppressed == int((~shown).sum()) > 0
    assert len(public["subjects"]) == int(shown.sum())
    assert report.to_dict()["n_left_out"]["subjects"] == report.n_suppressed
    assert f"{report.n_suppressed} not shown" in report.describe()
    # no published point lies at (or within min_m of) any real home of a hidden child
    hidden = shapely.MultiPoint(list(points.geometry[~shown]))
    assert public["subjects"].distance(hidden).min() > 0


def test_a_row_missing_from_the_subjects_layer_is_not_published_at_zero_metres():
    villages = _adversarial_villages().iloc[[5]]
    points = _points_in(villages, 10, 0)
    other = points.copy()
    other.loc[0, "subject_id"] = "NOT-A-SUBJECT"  # before: fillna(0.0) published it unmoved
    layers = {"subjects": points, "subjects_scan": other, "area": villages}
    public, report = public_layers(layers, min_m=MIN_M, max_m=MAX_M, seed=4)
    assert len(public["subjects_scan"]) == 9
    assert report.n_left_out == {"subjects_scan": 1}
    assert public["subjects_scan"].distance(points.geometry.iloc[0]).min() >= MIN_M


@pytest.mark.parametrize(("low", "high"), [(0, 1e-9), (0, 5), (100, 1e7)])
def test_masks_too_small_or_too_large_are_refused(low, high):
    points = _points_in(_adversarial_villages().iloc[[5]], 2, 0)
    with pytest.raises(AnalysisError, match=r"10 ≤ max_m ≤ 100000"):
        donut_mask(points, min_m=low, max_m=high, seed=1)


def test_the_command_line_refuses_a_mask_of_a_nanometre(write_study, tmp_path):
    result = CliRunner().invoke(
        cli.app,
        ["analyze", str(write_study()), "--public", "--mask-max-m", "1e-9", "--mask-min-m", "0"],
    )
    assert result.exit_code == 2
    assert "10 ≤ --mask-max-m" in result.output
