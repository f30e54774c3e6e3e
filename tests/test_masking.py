"""Geomasking for public maps: distances, villages, seeds, and what public layers keep."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_stunting import AnalysisError
from geo_stunting.outputs._masking import donut_mask, public_layers

CRS = "EPSG:32748"


def _village(x0: float, y0: float, side: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + side, y0 + side)


@pytest.fixture
def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["Big", "Tiny"]},
        geometry=[_village(0, 0, 5000), _village(6000, 0, 60)],
        crs=CRS,
    )


@pytest.fixture
def points() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(0)
    xy = rng.uniform(500, 4500, size=(400, 2))
    return gpd.GeoDataFrame(
        {"subject_id": [f"S{i}" for i in range(400)], "status": ["case", "control"] * 200},
        geometry=shapely.points(xy),
        crs=CRS,
    )


def test_every_point_moves_within_the_ring_and_stays_in_its_village(points, villages):
    before = points.copy()
    masked, report = donut_mask(points, min_m=100, max_m=500, seed=3, areas=villages)
    moved = masked.distance(points)
    assert moved.min() >= 100 - 1e-9
    assert moved.max() <= 500 + 1e-9
    assert masked.within(villages.geometry.iloc[0]).all()
    assert report.n_points == 400
    assert report.n_constrained == 400
    assert report.n_fallback == 0
    assert report.min_displacement_m == pytest.approx(moved.min())
    pd.testing.assert_frame_equal(pd.DataFrame(points), pd.DataFrame(before))  # not mutated
    assert list(masked.columns) == list(points.columns)
    assert masked.index.equals(points.index)


def test_distances_are_uniform_over_the_ring_area(points):
    # half of a ring's area lies within r = sqrt((min² + max²) / 2) = 360.6 m of the centre
    many = pd.concat([points] * 10, ignore_index=True)
    masked, _ = donut_mask(many, min_m=100, max_m=500, seed=11)
    inner = (masked.distance(many) < np.sqrt((100**2 + 500**2) / 2)).mean()
    assert inner == pytest.approx(0.5, abs=0.03)  # 4,000 draws: sd of the share 0.008
    angles = np.arctan2(
        masked.geometry.y - many.geometry.y, masked.geometry.x - many.geometry.x
    ).to_numpy()
    assert np.histogram(angles, bins=4, range=(-np.pi, np.pi))[0].min() > 900


def test_same_seed_same_points_other_seed_other_points(points, villages):
    a, _ = donut_mask(points, min_m=100, max_m=500, seed=7, areas=villages)
    b, _ = donut_mask(points, min_m=100, max_m=500, seed=7, areas=villages)
    c, _ = donut_mask(points, min_m=100, max_m=500, seed=8, areas=villages)
    assert a.geometry.equals(b.geometry)
    assert not a.geometry.geom_equals(c.geometry).all()


def test_a_village_smaller_than_the_ring_hides_its_point_instead_of_moving_it_too_little(
    villages,
):
    # the 60 m square around (6030, 30) holds no point 100-500 m away: before, the point
    # was published 20-42 m from the home; now it is not published at all, and counted
    inside_tiny = gpd.GeoDataFrame(geometry=[shapely.Point(6030, 30)], crs=CRS)
    masked, report = donut_mask(inside_tiny, min_m=100, max_m=500, seed=1, areas=villages)
    assert report.n_suppressed == 1
    assert report.n_fallback == 0
    assert masked.geometry.isna().all()
    assert "1 not shown" in report.describe()


def test_points_outside_every_village_move_freely(villages):
    outside = gpd.GeoDataFrame(geometry=[shapely.Point(-3000, -3000)], crs=CRS)
    masked, report = donut_mask(outside, min_m=100, max_m=500, seed=1, areas=villages)
    assert report.n_constrained == 0
    assert 100 <= masked.distance(outside).iloc[0] <= 500


@pytest.mark.parametrize(("low", "high"), [(500, 100), (-1, 10), (100, 100)])
def test_bad_distances_say_what_to_give(points, low, high):
    with pytest.raises(AnalysisError, match=r"0 ≤ min_m < max_m.*min_m=100 and max_m=500"):
        donut_mask(points, min_m=low, max_m=high, seed=1)


def test_geographic_points_are_refused_with_the_fix(points):
    with pytest.raises(AnalysisError, match=r"projected CRS in metres.*estimate_utm_crs"):
        donut_mask(points.to_crs(4326), min_m=100, max_m=500, seed=1)


def test_a_seed_is_required(points):
    with pytest.raises(AnalysisError, match="needs a seed"):
        donut_mask(points, min_m=100, max_m=500)


def _run_layers(points, villages):
    subjects = points.assign(stratum="Big", income=np.arange(len(points))).assign(
        distance_m=np.arange(len(points)) * 10.0,
        within_buffer=True,
        nearest_facility_name="Puskesmas A",
        nearest_facility_kind="puskesmas",
    )
    auto = subjects[["subject_id", "status", "geometry"]].assign(
        lisa_label="HH", lisa_p=0.01, gi_star_z=2.0, gi_star_p=0.02
    )
    scan_subjects = subjects.assign(scan_cluster=pd.array([1] + [None] * 399, dtype="Int64"))
    centre = subjects.geometry.iloc[5]
    clusters = gpd.GeoDataFrame(
        {
            "rank": [1],
            "centre_x": [centre.x],
            "centre_y": [centre.y],
            "subject_ids": ["S5, S6"],
            "p_value": [0.01],
        },
        geometry=[centre.buffer(300)],
        crs=CRS,
    )
    lines = gpd.GeoDataFrame(
        {"subject_id": subjects["subject_id"], "distance_m": 1.0},
        geometry=shapely.linestrings([[(p.x, p.y), (0.0, 0.0)] for p in subjects.geometry]),
        crs=CRS,
    )
    return {
        "subjects": subjects,
        "area": villages,
        "subjects_autocorrelation": auto,
        "subjects_scan": scan_subjects,
        "scan_clusters": clusters,
        "nearest_lines": lines,
        "someone_elses_layer": subjects[["subject_id", "geometry"]],
    }


def test_public_layers_keep_no_ids_and_move_every_copy_of_a_home_alike(points, villages):
    layers = _run_layers(points, villages)
    public, report = public_layers(layers, min_m=100, max_m=500, seed=42)
    assert set(public) == {
        "subjects",
        "area",
        "subjects_autocorrelation",
        "subjects_scan",
        "scan_clusters",
    }
    assert report.layers["nearest_lines"] == "left out"
    assert report.layers["someone_elses_layer"] == "left out"
    assert list(public["subjects"].columns) == [
        "status",
        "stratum",
        "within_buffer",
        "nearest_facility_name",
        "nearest_facility_kind",
        "geometry",
    ]  # no distance_m: distance + facility → home
    for name in ("subjects_autocorrelation", "subjects_scan"):
        assert "subject_id" not in public[name]
        # the same child is at the same masked place in every layer (no averaging attack)
        assert public[name].geometry.geom_equals(public["subjects"].geometry).all()
    assert "subject_ids" not in public["scan_clusters"]
    assert "centre_x" not in public["scan_clusters"]
    # rows are shuffled: the public order does not follow the input file
    masked_xy = shapely.get_coordinates(public["subjects"].geometry.to_numpy())
    true_xy = shapely.get_coordinates(points.geometry.to_numpy())
    nearest = np.argmin(
        np.hypot(*(masked_xy[:, None, :] - true_xy[None, :, :]).transpose(2, 0, 1)), axis=1
    )
    assert (nearest != np.arange(len(points))).mean() > 0.5
    assert report.seed == 42
    assert report.min_displacement_m >= 100


def test_scan_circles_move_with_the_child_at_their_centre(points, villages):
    layers = _run_layers(points, villages)
    public, _ = public_layers(layers, min_m=100, max_m=500, seed=42)
    masked, _ = donut_mask(
        layers["subjects"], min_m=100, max_m=500, rng=np.random.default_rng(42), areas=villages
    )
    shift = np.subtract(
        *shapely.get_coordinates([masked.geometry.iloc[5], layers["subjects"].geometry.iloc[5]])
    )
    moved = np.subtract(
        *shapely.get_coordinates(
            [
                public["scan_clusters"].geometry.iloc[0].centroid,
                layers["scan_clusters"].geometry.iloc[0].centroid,
            ]
        )
    )
    np.testing.assert_allclose(moved, shift, atol=1e-6)
    assert public["scan_clusters"].geometry.iloc[0].area == pytest.approx(
        layers["scan_clusters"].geometry.iloc[0].area
    )
