"""Tests for geo_stunting.scan: the Bernoulli spatial scan against SaTScan and brute force.

Reference: tests/reference/grave (SaTScan v9.3.1 output on the grave data, see its README).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

import geo_stunting as gs
from geo_stunting import AnalysisError
from geo_stunting.scan._bernoulli import scan_bernoulli, scan_bernoulli_xy
from geo_stunting.scan._steps import scan_layers

GRAVE = Path(__file__).parent / "reference" / "grave" / "grave_points.csv"

# SaTScan v9.3.1 on grave (tests/reference/grave/README.md)
SATSCAN = [
    {
        "ids": "126, 124, 125, 132, 120, 113, 140, 141, 112, 41, 136, 30, 133, 108, 31, 143, "
        "110, 139, 75",
        "centre": (10324, 4389),
        "radius": 1359.71,
        "n": 19,
        "cases": 11,
        "expected": 3.99,
        "oe": 2.76,
        "rr": 3.78,
        "llr": 7.419340,
        "p": 0.050,
    },
    {
        "ids": "66, 89, 71",
        "centre": (6934, 6918),
        "radius": 362.46,
        "n": 3,
        "cases": 3,
        "expected": 0.63,
        "oe": 4.77,
        "rr": 5.19,
        "llr": 4.808517,
        "p": 0.665,
    },
    {
        "ids": "77, 78",
        "centre": (5305, 6065),
        "radius": 1.00,
        "n": 2,
        "cases": 2,
        "expected": 0.42,
        "oe": 4.77,
        "rr": 5.04,
        "llr": 3.177442,
        "p": 0.997,
    },
]


@pytest.fixture(scope="module")
def grave() -> pd.DataFrame:
    return pd.read_csv(GRAVE)


@pytest.fixture(scope="module")
def grave_result(grave: pd.DataFrame) -> gs.scan.ScanResult:  # type: ignore[name-defined]
    return scan_bernoulli_xy(
        grave["x"],
        grave["y"],
        grave["status"] == "case",
        ids=grave["id"].astype(str),
        permutations=999,
        seed=20231,
    )


def test_grave_reproduces_satscan_clusters(grave_result) -> None:
    clusters = grave_result.clusters
    assert len(clusters) == 3  # the 4th non-overlapping window (LLR 1.58) is below every replicate
    for got, want in zip(clusters, SATSCAN, strict=True):
        assert ", ".join(got.subject_ids) == want["ids"]
        assert (got.centre_x, got.centre_y) == want["centre"]
        assert round(got.radius_m, 2) == want["radius"]
        assert (got.n, got.cases) == (want["n"], want["cases"])
        assert round(got.expected, 2) == want["expected"]
        assert round(got.observed_expected, 2) == want["oe"]
        assert round(got.relative_risk, 2) == want["rr"]
        assert got.llr == pytest.approx(want["llr"], abs=5e-7)
        assert got.n_locations == got.n  # no two graves share coordinates


def test_grave_p_values_within_monte_carlo_error(grave_result) -> None:
    # Both SaTScan's and our p-values are estimates from 999 replications: allow four
    # standard deviations of the difference of two binomial proportions.
    r = grave_result.permutations
    for got, want in zip(grave_result.clusters, SATSCAN, strict=True):
        p = want["p"]
        tolerance = 4 * math.sqrt(2 * p * (1 - p) / r) + 1 / (r + 1)
        assert got.p_value == pytest.approx(p, abs=tolerance)


def test_grave_radius_is_distance_to_farthest_member(grave: pd.DataFrame, grave_result) -> None:
    xy = grave.set_index(grave["id"].astype(str))[["x", "y"]]
    for cluster in grave_result.clusters:
        d = np.hypot(
            *(xy.loc[list(cluster.subject_ids)].to_numpy() - (cluster.centre_x, cluster.centre_y)).T
        )
        assert cluster.radius_m == pytest.approx(d.max(), rel=1e-12)
        assert list(d) == sorted(d)  # nearest first, as SaTScan lists them


# --------------------------------------------------------------------------- brute force


def _llr(n: np.ndarray, c: np.ndarray, big_n: int, big_c: int) -> np.ndarray:
    def xlog(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        safe = np.where(x > 0, x / np.where(y > 0, y, 1), 1)
        return np.where(x > 0, x * np.log(safe), 0.0)

    null = xlog(big_c, big_n) + xlog(big_n - big_c, big_n)
    out_n, out_c = big_n - n, big_c - c
    return xlog(c, n) + xlog(n - c, n) + xlog(out_c, out_n) + xlog(out_n - out_c, out_n) - null


def _brute_force_max(xy, loc_cases, pop, max_pop, max_radius, direction) -> float:
    """Largest LLR over every circle centred on a location (plain NumPy)."""
    big_n, big_c = int(pop.sum()), int(loc_cases.sum())
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    best = 0.0
    for i in range(len(xy)):
        for r in np.unique(d[i]):
            if max_radius is not None and r > max_radius:
                continue
            inside = d[i] <= r
            n, c = int(pop[inside].sum()), int(loc_cases[inside].sum())
            if n > max_pop:
                continue
            excess = c * big_n - n * big_c
            if (excess > 0 and direction in ("high", "both")) or (
                excess < 0 and direction in ("low", "both")
            ):
                best = max(best, float(_llr(np.array(n), np.array(c), big_n, big_c)))
    return best


@pytest.fixture(scope="module")
def tied_points() -> tuple[np.ndarray, np.ndarray]:
    """Integer grid points: many equal distances, and some shared locations."""
    rng = np.random.default_rng(7)
    xy = rng.integers(0, 6, size=(40, 2)).astype(float)
    is_case = rng.random(40) < 0.35
    return xy, is_case


@pytest.mark.parametrize(
    ("direction", "max_share", "max_radius"),
    [("high", 0.5, None), ("low", 0.3, None), ("both", 0.5, 2.5)],
)
def test_scan_equals_brute_force(tied_points, direction, max_share, max_radius) -> None:
    xy, is_case = tied_points
    seed, reps = 3, 9
    result = scan_bernoulli_xy(
        xy[:, 0],
        xy[:, 1],
        is_case,
        max_share=max_share,
        max_radius_m=max_radius,
        direction=direction,
        permutations=reps,
        seed=seed,
    )
    locations, loc_of = np.unique(xy, axis=0, return_inverse=True)
    loc_of = loc_of.reshape(-1)
    pop = np.bincount(loc_of)
    max_pop = math.floor(max_share * len(xy) + 1e-9)

    def brute(labels: np.ndarray) -> float:
        cases = np.bincount(loc_of, weights=labels, minlength=len(locations)).astype(int)
        return _brute_force_max(locations, cases, pop, max_pop, max_radius, direction)

    assert result.clusters[0].llr == pytest.approx(brute(is_case.astype(np.uint8)), rel=1e-12)
    # replication r is rng.permuted() of the case indicator, in turn
    rng = np.random.default_rng(seed)
    expected = [brute(rng.permuted(is_case.astype(np.uint8))) for _ in range(reps)]
    np.testing.assert_allclose(result.simulated_llr, expected, rtol=1e-12, atol=1e-12)
    for cluster in result.clusters:
        rank = 1 + np.count_nonzero(np.asarray(expected) >= cluster.llr - 1e-9)
        assert cluster.p_value == rank / (reps + 1)


def test_shared_locations_form_one_location() -> None:
    x = np.array([0.0, 0.0, 0.0, 10.0, 11.0, 30.0, 31.0, 32.0, 50.0, 51.0])
    y = np.zeros(10)
    is_case = np.array([1, 1, 1, 0, 0, 0, 1, 0, 0, 0], dtype=bool)
    result = scan_bernoulli_xy(x, y, is_case, permutations=0)
    top = result.clusters[0]
    assert result.n_locations == 8
    assert (top.n, top.cases, top.n_locations, top.radius_m) == (3, 3, 1, 0.0)
    assert top.subject_ids == ("1", "2", "3")
    assert top.p_value is None
    # by hand: 3 of 3 inside, 1 of 7 outside, against 4 of 10 overall
    by_hand = math.log(1 / 7) + 6 * math.log(6 / 7) - 4 * math.log(0.4) - 6 * math.log(0.6)
    assert top.llr == pytest.approx(by_hand, rel=1e-12)
    assert top.relative_risk == pytest.approx(1 / (1 / 7))


def test_results_do_not_depend_on_thread_count(tied_points) -> None:
    xy, is_case = tied_points
    before = numba.get_num_threads()
    runs = []
    try:
        for threads in (1, before):
            numba.set_num_threads(threads)
            runs.append(scan_bernoulli_xy(xy[:, 0], xy[:, 1], is_case, permutations=99, seed=11))
    finally:
        numba.set_num_threads(before)
    assert runs[0].simulated_llr.tobytes() == runs[1].simulated_llr.tobytes()
    assert json.dumps(runs[0].to_dict()) == json.dumps(runs[1].to_dict())


def test_same_seed_same_result_other_seed_other_replicates(tied_points) -> None:
    xy, is_case = tied_points
    a = scan_bernoulli_xy(xy[:, 0], xy[:, 1], is_case, permutations=49, seed=5)
    b = scan_bernoulli_xy(xy[:, 0], xy[:, 1], is_case, permutations=49, seed=5)
    c = scan_bernoulli_xy(xy[:, 0], xy[:, 1], is_case, permutations=49, seed=6)
    assert a.simulated_llr.tobytes() == b.simulated_llr.tobytes()
    assert a.to_dict() == b.to_dict()
    assert a.simulated_llr.tobytes() != c.simulated_llr.tobytes()
    assert a.to_dict()["settings"] == {
        "max_share": 0.5,
        "max_radius_m": None,
        "direction": "high",
        "permutations": 49,
        "seed": 5,
    }


# --------------------------------------------------------------------------- errors


def test_bad_settings_are_reported_together(tied_points) -> None:
    xy, is_case = tied_points
    with pytest.raises(AnalysisError, match=r"max_share = 0.7 is outside[\s\S]*direction = 'up'"):
        scan_bernoulli_xy(xy[:, 0], xy[:, 1], is_case, max_share=0.7, direction="up")  # type: ignore[arg-type]


def test_needs_cases_and_controls() -> None:
    with pytest.raises(AnalysisError, match="needs cases and controls; found 0 case"):
        scan_bernoulli_xy([0, 1, 2], [0, 0, 0], [False, False, False])


def test_geographic_crs_is_refused() -> None:
    gdf = gpd.GeoDataFrame(
        {"subject_id": ["a", "b"], "status": ["case", "control"]},
        geometry=gpd.points_from_xy([104.6, 104.7], [-3.2, -3.1]),
        crs="EPSG:4326",
    )
    with pytest.raises(AnalysisError, match="geographic CRS; circles need metres"):
        scan_bernoulli(gdf)


# --------------------------------------------------------------------------- demo study


@pytest.fixture(scope="module")
def demo() -> gs.Study:
    return gs.load_study(gs.demo_study_path())


def test_demo_most_likely_cluster_is_significant(demo: gs.Study) -> None:
    results = gs.analyze(demo, steps=["scan"], permutations=199)
    section = results.sections["scan"]
    top = section["clusters"][0]
    assert top["p_value"] < 0.05
    assert top["cases"] / top["n"] > demo.n_cases / len(demo.subjects)
    assert section["settings"]["permutations"] == 199
    # the layers: circles, and subjects with the rank of their cluster
    circles = results.layers["scan_clusters"]
    assert circles.crs == demo.crs
    assert list(circles["rank"]) == [c["rank"] for c in section["clusters"]]
    assert circles.geometry.iloc[0].area == pytest.approx(math.pi * top["radius_m"] ** 2, rel=1e-3)
    flagged = results.layers["subjects_scan"]
    assert (flagged["scan_cluster"] == 1).sum() == top["n"]
    assert "scan_cluster" not in demo.subjects.columns


def test_demo_planted_cluster_is_found_with_a_radius_limit(demo: gs.Study) -> None:
    # data/generate_demo.py plants CLUSTER = 18 children, 14 of them cases, in a
    # 600 m disc of one village; the demo's other cases lie near facilities, which
    # makes the unrestricted most likely cluster a wider area that contains it.
    limited = scan_bernoulli(demo.subjects, max_radius_m=1000, permutations=199, seed=1)
    top = limited.clusters[0]
    assert (top.n, top.cases) == (18, 14)
    assert top.radius_m <= 1100  # homes lie within 550 m of the disc centre
    assert top.p_value is not None
    assert top.p_value < 0.05
    villages = demo.subjects.set_index("subject_id").loc[list(top.subject_ids), "stratum"]
    assert villages.nunique() == 1
    unlimited = scan_bernoulli(demo.subjects, permutations=0)
    assert set(top.subject_ids) <= set(unlimited.clusters[0].subject_ids)


def test_centre_lonlat_is_the_member_input_position(demo: gs.Study) -> None:
    result = scan_bernoulli(demo.subjects, permutations=0)
    top = result.clusters[0]
    raw = pd.read_csv(demo.source.parent / "subjects.csv").set_index("id")  # type: ignore[union-attr]
    to_utm = Transformer.from_crs("EPSG:4326", demo.crs, always_xy=True)
    x, y = to_utm.transform(raw["lon"].to_numpy(), raw["lat"].to_numpy())
    centre_row = np.argmin(np.hypot(x - top.centre_x, y - top.centre_y))
    assert top.centre_lon == pytest.approx(raw["lon"].iloc[centre_row], abs=1e-9)
    assert top.centre_lat == pytest.approx(raw["lat"].iloc[centre_row], abs=1e-9)
    clusters, subjects_scan = scan_layers(demo.subjects, result)
    in_clusters = sum(c.n for c in result.clusters)  # without replications every cluster shows
    assert subjects_scan["scan_cluster"].notna().sum() == in_clusters
    assert (subjects_scan["scan_cluster"] == 1).sum() == top.n
    assert clusters.loc[0, "subject_ids"].split(", ") == list(top.subject_ids)
