"""The bundled demo: reproducible from its generator, and shaped like the published study."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
FILES = ("study.toml", "subjects.csv", "facilities.csv", "villages.geojson")


def _utm(frame: pd.DataFrame) -> np.ndarray:
    points = gpd.GeoSeries(gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326).to_crs(32748)
    return np.column_stack([points.x, points.y])


@pytest.fixture(scope="module")
def demo() -> dict:
    return {
        "subjects": pd.read_csv(DEMO / "subjects.csv"),
        "facilities": pd.read_csv(DEMO / "facilities.csv"),
        "villages": gpd.read_file(DEMO / "villages.geojson"),
    }


def test_generator_reproduces_the_committed_files(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "data" / "generate_demo.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_counts_follow_the_published_design(demo):
    subjects = demo["subjects"]
    assert (subjects["status"] == "case").sum() == 67
    assert (subjects["status"] == "control").sum() == 134
    assert subjects["id"].is_unique
    assert len(demo["villages"]) == 9
    kinds = demo["facilities"]["type"].value_counts()
    assert set(kinds.index) == {"puskesmas", "pustu", "posyandu"}
    assert 10 <= len(demo["facilities"]) <= 14


def test_every_case_within_2_km_and_some_controls_not(demo):
    subjects = demo["subjects"]
    distance, _ = cKDTree(_utm(demo["facilities"])).query(_utm(subjects))
    case = (subjects["status"] == "case").to_numpy()
    assert distance[case].max() <= 2000.0
    assert 5 <= (distance[~case] > 2000.0).sum() <= 15


def test_every_subject_lies_in_its_village(demo):
    subjects = demo["subjects"]
    points = gpd.GeoDataFrame(
        subjects[["id", "village"]],
        geometry=gpd.points_from_xy(subjects["lon"], subjects["lat"]),
        crs=4326,
    )
    joined = points.sjoin(demo["villages"][["nama", "geometry"]], predicate="within")
    assert len(joined) == len(subjects)
    assert (joined["village"] == joined["nama"]).all()


def test_villages_tile_without_overlap_near_indralaya(demo):
    villages = demo["villages"].to_crs(32748)
    overlap = sum(
        villages.geometry.iloc[i].intersection(villages.geometry.iloc[j]).area
        for i in range(len(villages))
        for j in range(i + 1, len(villages))
    )
    assert overlap < 1.0  # m²: shared edges only
    minx, miny, maxx, maxy = demo["villages"].total_bounds
    assert minx > 104.5
    assert maxx < 104.8
    assert miny > -3.35
    assert maxy < -3.05
    assert (villages["note"] == "synthetic").all()


def test_there_is_a_planted_cluster_of_cases(demo):
    subjects = demo["subjects"]
    xy = _utm(subjects)
    case = (subjects["status"] == "case").to_numpy()
    tree = cKDTree(xy)
    # The densest 600 m neighbourhood of cases holds far more cases than the 1 in 3 overall.
    shares = [case[tree.query_ball_point(p, 600.0)].mean() for p in xy[case]]
    assert max(shares) >= 0.7


def test_twins_share_a_home(demo):
    subjects = demo["subjects"]
    duplicated = subjects.duplicated(["lat", "lon"], keep=False)
    assert 4 <= duplicated.sum() <= 8
