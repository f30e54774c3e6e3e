"""Tests for geo_stunting.scale._engine: the dask engine gives exactly the single-process results.

The reference for every per-subject value is the single-process engine itself
(`geo_stunting.access.coverage` / `access_arrays`, tested against R in test_access.py);
area medians are checked against `numpy.median` per group, the Hilbert key against the
curve's defining properties and a hand-worked order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

pytest.importorskip("dask_geopandas")
pytest.importorskip("distributed")

import geo_stunting as gs
from geo_stunting.access import _coverage as acc
from geo_stunting.errors import AnalysisError, InputError
from geo_stunting.scale._areas import group_medians
from geo_stunting.scale._engine import access_dask, hilbert_key, run_scale, scale_results
from geo_stunting.study._config import read_study_file

UTM48S = "EPSG:32748"
X0, Y0, SIDE = 440_000.0, 9_630_000.0, 24_000.0
ACCESS_COLUMNS = (
    "nearest_facility_id",
    "nearest_facility_name",
    "nearest_facility_kind",
    "distance_m",
    "nearest_posyandu_id",
    "nearest_posyandu_name",
    "distance_posyandu_m",
    "nearest_puskesmas_id",
    "nearest_puskesmas_name",
    "distance_puskesmas_m",
    "nearest_pustu_id",
    "nearest_pustu_name",
    "distance_pustu_m",
    "within_buffer",
)
LEVELS = {"village": "*", "district": "kecamatan", "regency": "kabupaten"}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def data() -> dict[str, gpd.GeoDataFrame]:
    rng = np.random.default_rng(8)
    n, m = 4000, 150
    subject_xy = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), (n, 2))
    subject_xy[:40] = np.round(subject_xy[:40], -2)  # some exact ties in distance
    facility_xy = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), (m, 2))
    facility_xy[:10] = np.round(facility_xy[:10], -2)
    subjects = gpd.GeoDataFrame(
        {
            "subject_id": [f"S{i:05d}" for i in range(n)],
            "status": np.where(rng.random(n) < 0.3, "case", "control"),
            "age_months": rng.integers(0, 60, n),
        },
        geometry=shapely.points(subject_xy),
        crs=UTM48S,
    )
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:03d}" for i in range(m)],
            "name": [f"Facility {i}" for i in range(m)],
            "kind": np.array(["puskesmas", "pustu", "posyandu"])[rng.integers(0, 3, m)],
        },
        geometry=shapely.points(facility_xy),
        crs=UTM48S,
    )
    grid = 6  # 6 × 6 villages of 4 km, inside a slightly smaller square than the subjects
    cell = (SIDE - 2000) / grid
    boxes, kec, kab = [], [], []
    for j in range(grid):
        for i in range(grid):
            x, y = X0 + 1000 + i * cell, Y0 + 1000 + j * cell
            boxes.append(shapely.box(x, y, x + cell, y + cell))
            kec.append(f"K{i // 2}{j // 3}")
            kab.append(f"B{j // 3}")
    villages = gpd.GeoDataFrame(
        {"name": [f"Desa {k}" for k in range(grid * grid)], "kecamatan": kec, "kabupaten": kab},
        geometry=boxes,
        crs=UTM48S,
    )
    return {"subjects": subjects, "facilities": facilities, "villages": villages}


@pytest.fixture(scope="module")
def local(data: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    out = acc.coverage(data["subjects"], data["facilities"], buffer_m=1500)
    position = acc.locate_in_areas(data["subjects"], data["villages"]).to_numpy()
    return out.assign(area_position=position).set_index("subject_id")


@pytest.fixture(scope="module")
def hilbert_run(
    data: dict[str, gpd.GeoDataFrame], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, gpd.GeoDataFrame]:
    out = tmp_path_factory.mktemp("scale")
    result = access_dask(
        data["subjects"],
        data["facilities"],
        buffer_m=1500,
        areas=data["villages"],
        levels=LEVELS,
        out=out,
        scheduler="sync",
        partition_rows=700,
    )
    written = gpd.read_parquet(out / "subjects_access").set_index("subject_id")
    return result, written


def assert_same_access(local: pd.DataFrame, written: pd.DataFrame) -> None:
    assert sorted(written.index) == sorted(local.index)
    other = written.loc[local.index]
    for column in ACCESS_COLUMNS:
        assert np.array_equal(local[column].to_numpy(), other[column].to_numpy()), column


# --------------------------------------------------------------------------- hilbert


def test_hilbert_key_level_one_order_is_the_hand_worked_u():
    xy = np.array([[0.25, 0.25], [0.25, 0.75], [0.75, 0.75], [0.75, 0.25]])
    assert hilbert_key(xy, (0, 0, 1, 1), level=1).tolist() == [0, 1, 2, 3]


def test_hilbert_key_visits_every_cell_once_through_neighbours():
    side = 8
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([i.ravel() + 0.5, j.ravel() + 0.5])
    key = hilbert_key(xy, (0, 0, side, side), level=3)
    assert sorted(key.tolist()) == list(range(side * side))
    path = xy[np.argsort(key)]
    steps = np.abs(np.diff(path, axis=0)).sum(axis=1)
    assert (steps == 1).all()  # consecutive keys are edge neighbours


def test_hilbert_key_clips_outside_points_and_nan():
    key = hilbert_key(np.array([[-5.0, -5.0], [np.nan, 1.0], [50.0, 0.1]]), (0, 0, 1, 1), level=2)
    assert key[0] == 0
    assert key[1] == 0
    assert key[2] == hilbert_key(np.array([[0.99, 0.1]]), (0, 0, 1, 1), level=2)[0]


# --------------------------------------------------------------------------- identity


def test_dask_engine_gives_identical_nearest_distances_and_flags(hilbert_run, local):
    result, written = hilbert_run
    assert result.section["engine"]["n_partitions"] >= 5  # 4000 rows in parts of 700
    assert_same_access(local, written)
    assert result.section["metric"] == "planar"
    # The written parts are compact patches: in input order each part's bounding box
    # would cover nearly the whole square; along the Hilbert curve, a fraction of it.
    parts = sorted((Path(result.subjects_access)).glob("part.*.parquet"))
    assert len(parts) == result.section["engine"]["n_partitions"]
    boxes = [shapely.box(*gpd.read_parquet(p).total_bounds).area for p in parts]
    assert sum(boxes) < 0.5 * len(parts) * SIDE**2


def test_dask_engine_counts_per_village_match_access_arrays(hilbert_run, local, data):
    result, _ = hilbert_run
    subjects = data["subjects"]
    position = acc.locate_in_areas(subjects, data["villages"]).to_numpy()
    arrays = acc.access_arrays(
        shapely.get_coordinates(subjects.geometry.array),
        shapely.get_coordinates(data["facilities"].geometry.array),
        buffer_m=1500,
        is_case=(subjects["status"] == "case").to_numpy(),
        area_index=position,
        n_areas=len(data["villages"]),
    )
    village = result.layers["area_access_village"]
    for column in ("subjects_within", "subjects_outside", "cases_within", "cases_outside"):
        assert village[column].tolist() == getattr(arrays, column).tolist(), column
    assert result.section["subjects_in_no_area"] == int((position < 0).sum())


def test_area_medians_are_exact_at_every_level(hilbert_run, local, data):
    result, written = hilbert_run
    villages = data["villages"]
    placed = local[local["area_position"] >= 0]
    for level, column in LEVELS.items():
        labels = (villages["name"] if column == "*" else villages[column]).to_numpy()[
            placed["area_position"].to_numpy()
        ]
        layer = result.layers[f"area_access_{level}"].set_index(level)
        for label, group in placed.groupby(labels):
            row = layer.loc[label]
            assert row["n_subjects"] == len(group)
            assert row["median_distance_m"] == np.median(group["distance_m"])
            cases = group.loc[group["status"] == "case", "distance_m"]
            assert row["cases_median_distance_m"] == np.median(cases)
        # Each subject's level label is written with it.
        expected = pd.Series(labels, index=placed.index)
        assert written.loc[placed.index, f"area_{level}"].tolist() == expected.tolist()
    district = result.layers["area_access_district"]
    assert district["n_polygons"].sum() == len(villages)
    assert district.geometry.area.sum() == pytest.approx(villages.area.sum())


def test_section_matches_the_single_process_comparison(hilbert_run, local):
    result, _ = hilbert_run
    expected = acc.compare_access(local.reset_index(), buffer_m=1500).to_dict()
    for key, value in expected.items():
        assert result.section[key] == value, key
    assert result.section["n_subjects"] == len(local)
    assert result.section["per_kind"]["pustu"]["column"] == "distance_pustu_m"


def test_input_partitions_rebuilt_trees_threads_give_the_same(data, local, tmp_path):
    parts = gs_parts(data["subjects"], tmp_path / "in", n_parts=3)
    result = access_dask(
        parts,
        data["facilities"],
        buffer_m=1500,
        out=tmp_path / "out",
        scheduler="threads",
        partition="input",
        trees="rebuild",
        metric="planar",
    )
    written = gpd.read_parquet(tmp_path / "out" / "subjects_access").set_index("subject_id")
    assert_same_access(local, written)
    assert result.section["engine"]["n_partitions"] == 3
    assert result.layers == {}
    assert result.rejects is None


def gs_parts(subjects: gpd.GeoDataFrame, folder: Path, *, n_parts: int) -> Path:
    folder.mkdir(parents=True)
    for k, chunk in enumerate(np.array_split(np.arange(len(subjects)), n_parts)):
        subjects.iloc[chunk].to_parquet(folder / f"part.{k}.parquet", index=False)
    return folder


def test_geodesic_when_subjects_span_two_utm_zones(tmp_path):
    # Around 108° E, the border of UTM zones 48 and 49, in zone 48's CRS.
    rng = np.random.default_rng(3)
    to_utm = Transformer.from_crs("EPSG:4326", UTM48S, always_xy=True)
    lon = rng.uniform(107.8, 108.2, 300)
    lat = rng.uniform(-7.0, -6.8, 300)
    f_lon, f_lat = rng.uniform(107.8, 108.2, 40), rng.uniform(-7.0, -6.8, 40)
    subjects = gpd.GeoDataFrame(
        {"subject_id": [f"S{i}" for i in range(300)], "status": ["case", "control"] * 150},
        geometry=shapely.points(np.column_stack(to_utm.transform(lon, lat))),
        crs=UTM48S,
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": [f"F{i}" for i in range(40)], "kind": ["pustu", "posyandu"] * 20},
        geometry=shapely.points(np.column_stack(to_utm.transform(f_lon, f_lat))),
        crs=UTM48S,
    )
    expected = acc.coverage(subjects, facilities, buffer_m=2000).set_index("subject_id")
    result = access_dask(
        subjects, facilities, buffer_m=2000, out=tmp_path, scheduler="sync", partition_rows=100
    )
    assert result.section["metric"] == "geodesic"
    assert result.section["utm_zones"] == [48, 49]
    written = gpd.read_parquet(tmp_path / "subjects_access").set_index("subject_id")
    other = written.loc[expected.index]
    for column in ("nearest_facility_id", "distance_m", "distance_pustu_m", "within_buffer"):
        assert np.array_equal(expected[column].to_numpy(), other[column].to_numpy()), column


def test_one_local_cluster_run(data, local, tmp_path):
    # Thread workers start in a second, process workers (the default) in several; the
    # distributed path is the same: scatter, peer-to-peer shuffle, gather.
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        result = access_dask(
            data["subjects"],
            data["facilities"],
            buffer_m=1500,
            areas=data["villages"],
            out=tmp_path,
            scheduler=client,
            partition_rows=1000,
        )
    assert result.scheduler.kind == "cluster"
    assert result.scheduler.n_workers == 2
    assert len(result.worker_peak_rss) == 2
    assert all(v > 0 for v in result.worker_peak_rss.values())
    written = gpd.read_parquet(tmp_path / "subjects_access").set_index("subject_id")
    assert_same_access(local, written)


# --------------------------------------------------------------------------- medians


def test_group_medians_equal_numpy_median_bit_for_bit():
    rng = np.random.default_rng(11)
    unit = rng.integers(-1, 40, 5000)
    values = rng.random(5000) * 3000
    values[::3] = np.round(values[::3])  # ties
    medians = group_medians(unit, values, 42)
    for k in range(42):
        chosen = values[unit == k]
        if len(chosen):
            assert medians[k] == np.median(chosen)
        else:
            assert np.isnan(medians[k])


# --------------------------------------------------------------------------- study files


def write_scale_study(tmp_path: Path) -> None:
    """Three CSV parts of subjects (some rows bad) plus the same rows as one CSV."""
    header = "id,status,lat,lon"
    rows = []
    rng = np.random.default_rng(5)
    for i in range(90):
        lon, lat = rng.uniform(104.605, 104.695), rng.uniform(-3.245, -3.205)
        status = "stunting" if i % 3 == 0 else "normal"
        rows.append(f"S{i:03d},{status},{lat:.6f},{lon:.6f}")
    rows[4] = "S004,case,,104.62"  # missing latitude
    rows[10] = "S010,maybe,-3.21,104.62"  # unknown status
    rows[20] = "S020,case,-3.30,104.62"  # outside both villages
    rows[30] = 'S030,control,"-3,2154",104.6311'  # decimal comma
    rows[40] = "S040,case,3°13'0\" LS,104°38'0\" BT"  # degrees, minutes, seconds
    parts = tmp_path / "parts"
    parts.mkdir()
    for k, chunk in enumerate((rows[:30], rows[30:60], rows[60:])):
        (parts / f"subjects_{k}.csv").write_text(
            "\n".join([header, *chunk]) + "\n", encoding="utf-8"
        )
    (tmp_path / "all.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def test_run_scale_on_csv_parts_matches_load_study_and_analyze(write_study, tmp_path):
    path = write_study(subjects="id\n", subjects_section="")
    write_scale_study(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace('path = "subjects.csv"', 'path = "all.csv"').replace(
        'stratum = "village"', ""
    )
    path.write_text(text, encoding="utf-8")
    study = gs.load_study(path)
    expected = gs.analyze(study, steps=["access"]).sections["access"]
    scaled_path = tmp_path / "scaled.toml"
    scaled_path.write_text(text.replace('path = "all.csv"', 'path = "parts"'), encoding="utf-8")
    result, sample = run_scale(read_study_file(scaled_path), out=tmp_path / "out", scheduler="sync")
    assert sample.crs_code == study.crs_code
    for key in (
        "cases_within",
        "controls_within",
        "cases_outside",
        "controls_outside",
        "distance",
        "test",
        "mann_whitney",
        "odds_ratio",
        "ci95",
    ):
        assert result.section[key] == expected[key], key
    assert result.section["n_subjects"] == len(study.subjects)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert sorted(rejects["id"]) == ["S004", "S010", "S020"]
    assert result.section["n_rejected"] == 3
    assert len(study.rejects) == 3  # the same rows
    found = rejects.set_index("id")
    assert found.loc["S004", "file"] == "subjects_0.csv"
    assert found.loc["S004", "row"] == 6  # header on line 1, S000 on line 2
    assert "neither a case value" in found.loc["S010", "reason"]
    assert "outside the study area" in found.loc["S020", "reason"]
    village = result.layers["area_access_village"]
    per_area = {a["name"]: a for a in expected["per_area"]}
    for _, row in village.iterrows():
        assert row["subjects_within"] == per_area[row["village"]]["subjects_within"]
        assert row["cases_outside"] == per_area[row["village"]]["cases_outside"]
    written = gpd.read_parquet(tmp_path / "out" / "subjects_access")
    assert set(written["source_file"]) == {"subjects_0.csv", "subjects_1.csv", "subjects_2.csv"}
    json.dumps(result.to_dict()["section"], default=str)
    results = scale_results(result, sample)
    summary = results.sections["study"]
    assert summary["n_subjects"] == len(study.subjects)
    assert (summary["n_cases"], summary["n_controls"]) == (study.n_cases, study.n_controls)
    assert summary["rows"]["subjects"] == {"read": 90, "rejected": 3}
    assert results.sections["steps"]["access"] == {"status": "done"}
    assert results.sections["steps"]["scan"]["status"] == "skipped"
    assert "area_access_district" not in results.layers  # no levels given: villages only
    assert set(results.layers) == {"facilities", "area", "area_access_village"}


# --------------------------------------------------------------------------- errors


def test_options_are_checked_all_at_once(data):
    with pytest.raises(AnalysisError, match=r"`metric` must be one of(.|\n)*`trees` must be"):
        access_dask(data["subjects"], data["facilities"], buffer_m=1500, metric="fast", trees="x")


def test_levels_need_a_known_column(data):
    with pytest.raises(AnalysisError, match="no column 'desa'"):
        access_dask(
            data["subjects"],
            data["facilities"],
            buffer_m=1500,
            areas=data["villages"],
            levels={"village": "desa"},
            scheduler="sync",
        )


def test_an_unknown_scheduler_address_is_explained(data):
    with pytest.raises(AnalysisError, match="scheduler 'localhost:8786' is not understood"):
        access_dask(data["subjects"], data["facilities"], buffer_m=1500, scheduler="localhost:8786")


def test_no_subject_files_is_an_input_error(data, tmp_path):
    with pytest.raises(InputError, match="no GeoParquet"):
        access_dask(tmp_path / "missing", data["facilities"], buffer_m=1500, scheduler="sync")


def test_missing_dask_gives_the_install_command(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_geopandas", None)
    with pytest.raises(AnalysisError, match=r"geo_stunting\[scale\]"):
        access_dask(data["subjects"], data["facilities"], buffer_m=1500)
