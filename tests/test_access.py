"""Tests for geo_stunting.access._coverage: nearest facility, coverage, buffers, cases vs controls.

Statistical reference values come from R: tests/reference/access/access_tests.R
(chisq.test, fisher.test, wilcox.test, quantile) run on the committed fixtures
tables_2x2.csv and distances.csv, written to access_tests.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer

import geo_stunting as gs
from geo_stunting.access import _coverage as acc
from geo_stunting.access._compare import compare_within
from geo_stunting.access._core import utm_zones_spanned
from geo_stunting.access._overlay import area_positions_exact, area_positions_xy
from geo_stunting.errors import AnalysisError
from geo_stunting.stats._twobytwo import (
    distance_summary,
    mann_whitney,
    odds_ratio_woolf,
    table_test,
)

REFERENCE = Path(__file__).parent / "reference" / "access"
UTM48S = "EPSG:32748"
GEOD = Geod(ellps="WGS84")
FX, FY = 460_000.0, 9_650_000.0  # a facility in UTM 48S near Indralaya


# --------------------------------------------------------------------------- helpers


def points(xy: Any, crs: str = UTM48S, **columns: Any) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=shapely.points(xy), crs=crs)


def facilities_frame(xy: Any, kinds: list[str] | None = None) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    return points(
        xy,
        facility_id=[f"F{i}" for i in range(n)],
        name=[f"Facility {i}" for i in range(n)],
        kind=kinds or ["puskesmas"] * n,
    )


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    # Produced by tests/reference/access/access_tests.R
    data: dict[str, Any] = json.loads((REFERENCE / "access_tests.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def demo() -> gs.Study:
    return gs.load_study(gs.demo_study_path())


@pytest.fixture(scope="module")
def demo_results(demo: gs.Study) -> gs.Results:
    return gs.analyze(demo, steps=["access"])


def plain_json(value: Any) -> None:
    """Fail unless `value` is built only from plain Python JSON types."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            plain_json(item)
    elif isinstance(value, list):
        for item in value:
            plain_json(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), (value, type(value))
        if type(value) is float:
            assert math.isfinite(value)


# --------------------------------------------------------------------------- R references


def test_table_tests_match_r(reference: dict[str, Any]) -> None:
    for name, ref in reference["tables"].items():
        table = [[ref["a"], ref["b"]], [ref["c"], ref["d"]]]
        result = table_test(table)
        assert result.name == ref["test"], name
        assert result.min_expected == pytest.approx(ref["min_expected"], rel=1e-12), name
        if ref["test"] == "Fisher exact":
            assert result.statistic is None
            assert result.p_value == pytest.approx(ref["fisher_p_value"], rel=1e-6, abs=1e-12)
        else:
            assert result.statistic == pytest.approx(ref["chisq_statistic"], rel=1e-6)
            assert result.p_value == pytest.approx(ref["chisq_p_value"], rel=1e-6, abs=1e-12)


def test_both_tests_cover_fisher_and_chi_square_and_zero_cells(reference: dict[str, Any]) -> None:
    tables = reference["tables"].values()
    assert {t["test"] for t in tables} == {"Fisher exact", "chi-square (Yates)"}
    assert sum(t["haldane"] for t in tables) >= 2


def test_odds_ratio_and_woolf_ci_match_r(reference: dict[str, Any]) -> None:
    for name, ref in reference["tables"].items():
        result = odds_ratio_woolf([[ref["a"], ref["b"]], [ref["c"], ref["d"]]])
        assert result.haldane == ref["haldane"], name
        if ref["odds_ratio"] is None:
            assert result.odds_ratio is None
            assert result.ci95 is None
            continue
        assert result.odds_ratio == pytest.approx(ref["odds_ratio"], rel=1e-6), name
        assert result.ci95 is not None
        assert result.ci95 == pytest.approx(ref["ci95"], rel=1e-6), name


def test_sample_odds_ratio_is_not_fishers_conditional_mle(reference: dict[str, Any]) -> None:
    # We report the sample OR; R's fisher.test prints the conditional MLE, which differs.
    ref = reference["tables"]["t01"]
    result = odds_ratio_woolf([[ref["a"], ref["b"]], [ref["c"], ref["d"]]])
    assert result.odds_ratio == pytest.approx(30 * 25 / (20 * 10))
    assert result.odds_ratio != pytest.approx(ref["fisher_conditional_mle"], rel=1e-3)


def test_mann_whitney_and_summaries_match_r(reference: dict[str, Any]) -> None:
    table = pd.read_csv(REFERENCE / "distances.csv")
    for name, ref in reference["distances"].items():
        part = table[table["set"] == name]
        cases = part.loc[part["group"] == "case", "distance_m"].to_numpy()
        controls = part.loc[part["group"] == "control", "distance_m"].to_numpy()
        result = mann_whitney(cases, controls)
        assert result.statistic == pytest.approx(ref["W"], rel=1e-12), name
        if ref["p_value"] is None:
            assert result.p_value is None
        else:
            assert result.p_value == pytest.approx(ref["p_value"], rel=1e-6, abs=1e-12), name
        for group, values in (("cases", cases), ("controls", controls)):
            summary = distance_summary(values).to_dict()
            for key, expected in ref[group].items():
                assert summary[key] == pytest.approx(expected, rel=1e-9), (name, group, key)


def test_distance_fixtures_have_ties() -> None:
    table = pd.read_csv(REFERENCE / "distances.csv")
    for name in ("d1", "d2"):
        values = table.loc[table["set"] == name, "distance_m"]
        assert values.duplicated().any(), name


# --------------------------------------------------------------------------- comparison


def test_compare_within_table_and_direction() -> None:
    # 8 cases: 6 within; 10 controls: 3 within -> OR = (6*7)/(3*2) = 7, cases more often within.
    distance = np.array(
        [100, 200, 300, 400, 500, 2000, 2500, 3000] + [100, 1500, 1999] + [2001] * 7
    )
    is_case = np.array([True] * 8 + [False] * 10)
    result = compare_within(distance, is_case, buffer_m=2000)
    assert (result.cases_within, result.cases_outside) == (6, 2)
    assert (result.controls_within, result.controls_outside) == (3, 7)
    assert result.share_cases_within == pytest.approx(6 / 8)
    assert result.odds.odds_ratio == pytest.approx(7.0)
    d = result.to_dict()
    assert d["odds_ratio"] == pytest.approx(7.0)
    assert d["test"]["name"] == "Fisher exact"
    plain_json(d)


def test_compare_access_needs_both_groups() -> None:
    frame = pd.DataFrame({"status": ["case", "case"], "distance_m": [1.0, 2.0]})
    with pytest.raises(AnalysisError, match="no controls"):
        acc.compare_access(frame, buffer_m=2000)
    with pytest.raises(AnalysisError, match="no column"):
        acc.compare_access(frame.drop(columns="distance_m"), buffer_m=2000)


# --------------------------------------------------------------------------- exact coverage


def test_tie_at_buffer_counts_as_within_and_a_centimetre_outside_does_not() -> None:
    facilities = facilities_frame([[FX, FY]])
    subjects = points(
        [[FX + 2000, FY], [FX + 1200, FY + 1600], [FX + 2000.01, FY], [FX, FY - 2000.01]],
        subject_id=["east", "diagonal", "cm-out", "cm-out-south"],
        status=["case", "case", "control", "control"],
    )
    out = acc.coverage(subjects, facilities, buffer_m=2000)
    assert out["distance_m"].tolist()[:2] == [2000.0, 2000.0]
    assert out["within_buffer"].tolist() == [True, True, False, False]
    arrays = acc.access_arrays(
        shapely.get_coordinates(subjects.geometry.array), [[FX, FY]], buffer_m=2000
    )
    assert arrays.within.tolist() == [True, True, False, False]


def test_polygon_buffer_would_miss_a_point_that_is_within_distance() -> None:
    facilities = facilities_frame([[FX, FY]])
    n = 4 * 64
    angle = math.pi / n  # half-way between two vertices of the buffer polygon
    r = 1999.9  # inside the circle, outside the polygon (apothem = 2000 cos(pi/256) = 1999.85)
    subjects = points([[FX + r * math.cos(angle), FY + r * math.sin(angle)]], status=["case"])
    flags = acc.coverage(subjects, facilities, buffer_m=2000)["within_buffer"]
    polygon = acc.facility_buffers(facilities, radius_m=2000).geometry.iloc[0]
    assert bool(flags.iloc[0]) is True
    assert not polygon.contains(subjects.geometry.iloc[0])


# --------------------------------------------------------------------------- geometry


def test_buffer_area_is_pi_r_squared_within_polygon_error() -> None:
    r, quad_segs = 2000.0, 64
    n = 4 * quad_segs
    buffers = acc.facility_buffers(facilities_frame([[FX, FY]]), radius_m=r, quad_segs=quad_segs)
    area = buffers.geometry.iloc[0].area
    polygon_area = n / 2 * r**2 * math.sin(2 * math.pi / n)  # regular n-gon inscribed in r
    bound = 1 - math.sin(2 * math.pi / n) * n / (2 * math.pi)  # its relative shortfall
    assert area == pytest.approx(polygon_area, rel=1e-9)
    assert bound == pytest.approx(1.0e-4, rel=0.01)
    assert abs(area - math.pi * r**2) / (math.pi * r**2) <= bound * (1 + 1e-6)


def test_rings_and_dissolved_coverage() -> None:
    facilities = facilities_frame([[FX, FY], [FX + 3000, FY]], kinds=["puskesmas", "pustu"])
    buffers = acc.facility_buffers(facilities, radius_m=2000, rings_m=(1000, 5000, 2000))
    assert buffers["radius_m"].tolist() == [1000.0] * 2 + [2000.0] * 2 + [5000.0] * 2
    assert buffers["facility_id"].tolist() == ["F0", "F1"] * 3
    cover = acc.coverage_polygons(facilities, radius_m=2000, rings_m=(1000,))
    assert cover["radius_m"].tolist() == [1000.0, 2000.0]
    # Two 2 km discs 3 km apart: union = 2 discs - lens; hand-worked lens area.
    r, d = 2000.0, 3000.0
    lens = 2 * r**2 * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r**2 - d**2)
    expected = 2 * math.pi * r**2 - lens
    assert cover["area_m2"].iloc[1] == pytest.approx(expected, rel=3e-4)
    assert cover["area_m2"].iloc[0] == pytest.approx(2 * math.pi * 1000.0**2, rel=2e-4)


def test_village_half_covered_is_fifty_percent() -> None:
    # A 4 x 4 km village with a facility at its centre; a disc of area 8 km^2 covers half.
    x0, y0 = FX - 2000, FY - 2000
    village = gpd.GeoDataFrame(
        {"name": ["Half"]}, geometry=[shapely.box(x0, y0, x0 + 4000, y0 + 4000)], crs=UTM48S
    )
    r = math.sqrt(8_000_000 / math.pi)
    facilities = facilities_frame([[FX, FY]])
    subjects = points(
        [[FX + 100, FY], [FX + 1500, FY], [FX + 1700, FY + 1700], [FX - 1900, FY + 1900]],
        status=["case", "case", "control", "case"],
    )
    access = acc.coverage(subjects, facilities, buffer_m=r)
    cover = acc.coverage_polygons(facilities, radius_m=r)
    out = acc.area_coverage(village, access, cover)
    n = 4 * 64
    polygon_area = n / 2 * r**2 * math.sin(2 * math.pi / n)
    assert out["area_m2"].iloc[0] == pytest.approx(16e6)
    assert out["covered_pct"].iloc[0] == pytest.approx(100 * polygon_area / 16e6, rel=1e-9)
    assert out["covered_pct"].iloc[0] == pytest.approx(50.0, abs=0.01)
    assert out[["subjects_within", "subjects_outside", "cases_within", "cases_outside"]].iloc[
        0
    ].tolist() == [2, 2, 2, 1]


def test_area_coverage_with_several_radii_asks_for_one() -> None:
    facilities = facilities_frame([[FX, FY]])
    village = gpd.GeoDataFrame({"name": ["V"]}, geometry=[shapely.box(FX, FY, FX + 1, FY + 1)])
    village = village.set_crs(UTM48S)
    access = acc.coverage(points([[FX, FY]], status=["case"]), facilities, buffer_m=2000)
    cover = acc.coverage_polygons(facilities, radius_m=2000, rings_m=(1000,))
    with pytest.raises(AnalysisError, match="several radii"):
        acc.area_coverage(village, access, cover)
    fixed = acc.area_coverage(village, access, cover[cover["radius_m"] == 2000])
    assert fixed["covered_pct"].iloc[0] == pytest.approx(100.0)


def test_locate_in_areas_first_polygon_and_outside() -> None:
    area = gpd.GeoDataFrame(
        {"name": ["W", "E"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs=UTM48S,
    )
    subjects = points([[5, 5], [15, 5], [10, 5], [30, 30], [5, 2500]])
    subjects.index = [10, 11, 12, 13, 14]
    located = acc.locate_in_areas(subjects, area, near_m=0)
    assert located.to_dict() == {10: 0, 11: 1, 12: 0, 13: -1, 14: -1}
    # a subject kept just outside the area ([area] outside_m) counts in the nearest polygon
    located = acc.locate_in_areas(subjects, area)
    assert located.to_dict() == {10: 0, 11: 1, 12: 0, 13: 1, 14: -1}


def test_nearest_lines_join_subject_and_facility() -> None:
    facilities = facilities_frame([[FX, FY], [FX + 5000, FY]])
    subjects = points([[FX + 300, FY + 400], [FX + 4000, FY]], subject_id=["a", "b"])
    access = acc.coverage(subjects, facilities, buffer_m=2000)
    lines = acc.nearest_lines(access, facilities)
    assert lines["facility_id"].tolist() == ["F0", "F1"]
    assert lines.geometry.length.tolist() == pytest.approx([500.0, 1000.0])
    assert lines["distance_m"].tolist() == pytest.approx([500.0, 1000.0])


# --------------------------------------------------------------------------- nearest facility


def test_nearest_by_kind_and_columns() -> None:
    facilities = facilities_frame(
        [[FX, FY], [FX + 1000, FY], [FX + 10_000, FY]], kinds=["posyandu", "Rumah Sakit", "pustu"]
    )
    subjects = points([[FX + 900, FY]], subject_id=["s"], status=["case"])
    out = acc.nearest_facility(subjects, facilities)
    row = out.iloc[0]
    assert row["nearest_facility_id"] == "F1"
    assert row["nearest_facility_name"] == "Facility 1"
    assert row["nearest_facility_kind"] == "rumah sakit"
    assert row["distance_m"] == pytest.approx(100.0)
    assert row["distance_posyandu_m"] == pytest.approx(900.0)
    assert row["nearest_rumah_sakit_id"] == "F1"
    assert row["distance_pustu_m"] == pytest.approx(9100.0)
    assert "distance_pustu_m" not in acc.nearest_facility(subjects, facilities, by_kind=False)


def test_inputs_not_mutated_and_index_kept() -> None:
    facilities = facilities_frame([[FX, FY]])
    subjects = points([[FX + 10, FY], [FX + 20, FY]], status=["case", "control"])
    subjects["distance_m"] = [7.0, 8.0]  # an input column with a reserved name
    subjects.index = pd.Index([5, 3])
    before = subjects.copy()
    out = acc.coverage(subjects, facilities, buffer_m=2000)
    pd.testing.assert_frame_equal(subjects, before)
    assert out.index.tolist() == [5, 3]
    assert out["distance_m"].tolist() == pytest.approx([10.0, 20.0])
    assert out["distance_m_input"].tolist() == [7.0, 8.0]


def test_access_arrays_per_area_counts() -> None:
    subject_xy = [[0, 0], [100, 0], [5000, 0], [0, 5000], [9000, 9000]]
    result = acc.access_arrays(
        subject_xy,
        [[0, 0]],
        buffer_m=1000,
        is_case=[True, False, True, True, False],
        area_index=[0, 0, 1, 1, -1],
        n_areas=3,
    )
    assert result.within.tolist() == [True, True, False, False, False]
    assert result.subjects_within is not None
    assert result.subjects_within.tolist() == [2, 0, 0]
    assert result.subjects_outside is not None
    assert result.subjects_outside.tolist() == [0, 2, 0]
    assert result.cases_within is not None
    assert result.cases_within.tolist() == [1, 0, 0]
    assert result.cases_outside is not None
    assert result.cases_outside.tolist() == [0, 2, 0]


def test_geodesic_exact_across_utm_zones() -> None:
    # Subjects straddle the 102°E boundary of UTM zones 47 and 48 (analysis CRS: 48S).
    to_utm = Transformer.from_crs("EPSG:4326", UTM48S, always_xy=True)
    rng = np.random.default_rng(3)
    s_ll = np.column_stack([rng.uniform(101.6, 102.4, 60), rng.uniform(-2.6, -2.2, 60)])
    f_ll = np.column_stack([rng.uniform(101.5, 102.5, 40), rng.uniform(-2.7, -2.1, 40)])
    # A planted near-tie, 90 km south of the others: facilities 10 km west and 10.0003 km east
    # of subject 0; west is nearer on the ellipsoid, east on the plane (larger scale factor west).
    lon0, lat0 = s_ll[0] = (101.7, -3.5)
    west = GEOD.fwd(lon0, lat0, 270.0, 10_000.0)[:2]
    east = GEOD.fwd(lon0, lat0, 90.0, 10_000.3)[:2]
    f_ll = np.vstack([[west, east], f_ll])
    s_xy = np.column_stack(to_utm.transform(s_ll[:, 0], s_ll[:, 1]))
    f_xy = np.column_stack(to_utm.transform(f_ll[:, 0], f_ll[:, 1]))
    subjects = points(s_xy, status=["case"] * 60)
    facilities = facilities_frame(f_xy)
    assert utm_zones_spanned(s_xy, subjects.crs) == (47, 48)
    assert acc.distance_metric(subjects) == "geodesic"
    out = acc.nearest_facility(subjects, facilities, by_kind=False)
    # Brute force on the ellipsoid, every pair.
    si, fi = np.meshgrid(np.arange(60), np.arange(len(f_ll)), indexing="ij")
    dist = GEOD.inv(s_ll[si, 0], s_ll[si, 1], f_ll[fi, 0], f_ll[fi, 1])[2].reshape(si.shape)
    want = np.argmin(dist, axis=1)
    assert out["nearest_facility_id"].tolist() == [f"F{i}" for i in want]
    assert out["distance_m"].to_numpy() == pytest.approx(dist.min(axis=1), rel=1e-12)
    # The planted subject: planar nearest would be wrong.
    planar = acc.nearest_facility(subjects, facilities, by_kind=False, metric="planar")
    assert out["nearest_facility_id"].iloc[0] == "F0"
    assert planar["nearest_facility_id"].iloc[0] == "F1"


def test_errors_name_the_argument_and_the_fix_works() -> None:
    facilities = facilities_frame([[FX, FY]])
    subjects = points([[FX + 10, FY]], status=["case"])
    geographic = subjects.to_crs("EPSG:4326")
    with pytest.raises(AnalysisError, match=r"`subjects` is in EPSG:4326, not a projected CRS"):
        acc.coverage(geographic, facilities, buffer_m=2000)
    fixed = acc.coverage(geographic.to_crs(facilities.crs), facilities, buffer_m=2000)
    assert fixed["distance_m"].iloc[0] == pytest.approx(10.0, abs=1e-6)
    other = facilities.to_crs("EPSG:32747")
    with pytest.raises(AnalysisError, match=r"`facilities` is in EPSG:32747 but `subjects`"):
        acc.coverage(subjects, other, buffer_m=2000)
    with pytest.raises(AnalysisError, match="`buffer_m` must be positive"):
        acc.coverage(subjects, facilities, buffer_m=-5)
    with pytest.raises(AnalysisError, match="`metric` must be"):
        acc.nearest_facility(subjects, facilities, metric="manhattan")  # type: ignore[arg-type]
    lines = subjects.set_geometry([shapely.LineString([(FX, FY), (FX + 1, FY)])], crs=UTM48S)
    with pytest.raises(AnalysisError, match="must hold non-empty points"):
        acc.coverage(lines, facilities, buffer_m=2000)
    with pytest.raises(AnalysisError, match="no column 'facility_id'"):
        acc.coverage(subjects, facilities.drop(columns="facility_id"), buffer_m=2000)


# --------------------------------------------------------------------------- demo, end to end


def test_demo_every_case_within_2_km(demo_results: gs.Results) -> None:
    section = demo_results.sections["access"]
    assert demo_results.sections["steps"]["access"] == {"status": "done"}
    assert section["buffer_m"] == 2000.0
    assert section["cases_within"] == 67
    assert section["share_cases_within"] == 1.0
    assert section["metric"] == "planar"
    assert 0 < section["controls_outside"] <= 15


def test_demo_flags_match_brute_force_shapely(demo: gs.Study, demo_results: gs.Results) -> None:
    assert demo.facilities is not None
    access = demo_results.layers["subjects"]
    subject_geoms = np.asarray(demo.subjects.geometry.array)
    facility_geoms = np.asarray(demo.facilities.geometry.array)
    every = shapely.distance(subject_geoms[:, None], facility_geoms[None, :])
    brute = every.min(axis=1)
    assert access["within_buffer"].tolist() == (brute <= 2000.0).tolist()
    assert access["distance_m"].to_numpy() == pytest.approx(brute, rel=1e-12)
    ids = demo.facilities["facility_id"].to_numpy()
    assert access["nearest_facility_id"].tolist() == ids[every.argmin(axis=1)].tolist()
    for kind in ("posyandu", "puskesmas", "pustu"):
        mask = (demo.facilities["kind"] == kind).to_numpy()
        assert access[f"distance_{kind}_m"].to_numpy() == pytest.approx(
            every[:, mask].min(axis=1), rel=1e-12
        )


def test_demo_section_contract(demo: gs.Study, demo_results: gs.Results) -> None:
    section = demo_results.sections["access"]
    for key in (
        "buffer_m", "cases_within", "controls_within", "share_cases_within",
        "share_controls_within", "distance", "test", "mann_whitney", "odds_ratio", "ci95",
        "per_kind", "per_area", "geodesic_check",
    ):  # fmt: skip
        assert key in section, key
    plain_json(section)
    json.dumps(section, allow_nan=False)
    assert set(section["distance"]) == {"cases", "controls"}
    assert set(section["distance"]["cases"]) >= {"median_m", "iqr_m", "max_m"}
    assert set(section["test"]) >= {"name", "statistic", "p_value"}
    assert set(section["mann_whitney"]) >= {"statistic", "p_value"}
    assert set(section["per_kind"]) == {"posyandu", "puskesmas", "pustu"}
    assert [a["name"] for a in section["per_area"]] == demo.area["name"].tolist()  # type: ignore[index]
    assert sum(a["cases_within"] for a in section["per_area"]) == 67
    check = section["geodesic_check"]
    assert 0 < check["max_relative_difference"] < 1e-3
    assert isinstance(check["method"], str)
    # Same figure from the public function.
    again = acc.geodesic_check(demo_results.layers["subjects"], demo.facilities)
    assert again.max_relative_difference == pytest.approx(check["max_relative_difference"])


def test_demo_layers_contract(demo_results: gs.Results) -> None:
    layers = demo_results.layers
    assert "subjects_access" not in layers  # one subjects layer carries the access columns
    for name in (
        "subjects",
        "facility_buffers",
        "coverage",
        "area_coverage",
        "nearest_lines",
    ):
        assert name in layers, name
        assert layers[name].crs == UTM48S
    assert {
        "nearest_facility_id", "nearest_facility_name", "nearest_facility_kind", "distance_m",
        "within_buffer", "distance_posyandu_m", "distance_puskesmas_m", "distance_pustu_m",
    } <= set(layers["subjects"].columns)  # fmt: skip
    assert {
        "covered_m2", "covered_pct", "subjects_within", "subjects_outside", "cases_within",
        "cases_outside",
    } <= set(layers["area_coverage"].columns)  # fmt: skip
    assert "distance_m" in layers["nearest_lines"].columns
    assert set(layers["coverage"]["radius_m"]) == {1000.0, 2000.0, 5000.0}


def test_step_without_area_and_without_controls(demo: gs.Study) -> None:
    assert demo.facilities is not None
    cases = demo.subjects[demo.subjects["status"] == "case"]
    subjects = cases[["subject_id", "status", "geometry"]].to_crs("EPSG:4326")
    study = gs.study_from_frames(
        subjects, demo.facilities[["facility_id", "name", "kind", "geometry"]]
    )
    output = acc.access_step(study)
    assert output.section["per_area"] is None
    assert output.section["cases_within"] == 67
    assert output.section["test"] is None
    assert output.section["odds_ratio"] is None
    assert any("per_area skipped" in note for note in output.notes)
    assert any("no controls" in note for note in output.notes)
    assert "area_coverage" not in output.layers
    plain_json(dict(output.section))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_point_in_polygon_equals_the_exact_one(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = shapely.box(0, 0, 10_000, 8_000)
    cells = shapely.voronoi_polygons(
        shapely.multipoints(rng.uniform(0, 10_000, size=(30, 2))), extend_to=frame
    )
    polygons = shapely.intersection(np.asarray(shapely.get_parts(cells)), frame)
    polygons = np.append(polygons, shapely.box(2_000, 2_000, 5_000, 5_000))  # an overlap
    vertices = shapely.get_coordinates(polygons)
    edges = (vertices[:-1] + vertices[1:]) / 2  # mostly on boundaries
    xy = np.vstack(
        [rng.uniform(-500, 10_500, size=(20_000, 2)), vertices, edges, [[5_000.0, 5_000.0]]]
    )
    fast = area_positions_xy(xy, polygons)
    assert np.array_equal(fast, area_positions_exact(xy, polygons))
    assert (fast == -1).any()
    assert (fast >= 0).mean() > 0.6  # the frame covers 66 % of where points are drawn
