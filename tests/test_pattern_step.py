"""The pattern step on the demo study: sections, layers, seeds, duplicates."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely

import geo_stunting as gs
import geo_stunting.pattern._step
from geo_stunting.pattern._kfunction import k_function
from geo_stunting.pattern._nearest_neighbour import clark_evans, shared_location_count
from geo_stunting.pattern._pairs import nn_distances
from geo_stunting.pattern._window import make_window

STUDY = gs.load_study(gs.demo_study_path())


@pytest.fixture(scope="module")
def results() -> gs.Results:
    return gs.analyze(STUDY, steps=["pattern"], permutations=39)


def test_pattern_section_has_the_documented_keys(results: gs.Results) -> None:
    section = results.sections["pattern"]
    assert results.sections["steps"]["pattern"] == {"status": "done"}
    assert section["window"]["kind"] == "area"
    assert section["window"]["area_m2"] == pytest.approx(results.sections["study"]["area_m2"])
    for group in ("cases", "controls", "all"):
        entry = section["clark_evans"][group]
        assert {
            "n",
            "mean_nnd_m",
            "expected_nnd_m",
            "R_naive",
            "R_cdf",
            "z",
            "p_value",
            "p_mc",
        } <= set(entry)
    assert section["clark_evans"]["cases"]["n"] == STUDY.n_cases
    for group in ("cases", "controls"):
        k = section["k_function"][group]
        assert {"r_m", "K", "L", "correction"} <= set(k)
        assert k["correction"] == "isotropic"
        assert len(k["r_m"]) == len(k["K"]) == len(k["L_lo"]) == 101
    for group in ("cases", "controls"):
        g = section["g_function"][group]
        assert {"r_m", "G_km", "G_theo", "G_lo", "G_hi", "G_global_lo", "p_global"} <= set(g)
        assert len(g["G_lo"]) == len(g["r_m"])
        assert all(lo <= hi for lo, hi in zip(g["G_lo"], g["G_hi"], strict=True))
    assert {"r_m", "kdiff", "lo", "hi", "p_value"} <= set(section["kdiff"])
    assert section["kdiff_within_strata"]["labelling"] == "within strata"
    assert [c["k"] for c in section["cuzick_edwards"]] == [1, 3, 5, 10]
    assert {"k", "T", "expected", "p_mc"} <= set(section["cuzick_edwards"][0])
    table = section["nearest_neighbour_table"]["cases"]
    assert "bounding rectangle" in table["bounding_rectangle"]["area_used"]


def test_summary_gives_the_naive_and_the_case_control_answer(results: gs.Results) -> None:
    text = " ".join(results.sections["pattern"]["summary"])
    assert "The usual answer" in text
    assert "controls look" in text
    assert "The case-control answer" in text
    assert "within each village" in text
    assert "share their location" in text  # the demo has twins


def test_window_layer_is_in_the_analysis_crs(results: gs.Results) -> None:
    window = results.layers["window"]
    assert window.crs == STUDY.crs
    assert window["area_m2"].iloc[0] == pytest.approx(window.geometry.area.iloc[0])


def test_same_seed_gives_byte_identical_results(results: gs.Results) -> None:
    again = gs.analyze(STUDY, steps=["pattern"], permutations=39)
    assert again.to_json() == results.to_json()
    other = json.loads(gs.analyze(STUDY, steps=["pattern"], permutations=39, seed=99).to_json())
    mine = json.loads(results.to_json())
    assert other["pattern"]["kdiff"]["lo"] != mine["pattern"]["kdiff"]["lo"]
    assert other["pattern"]["kdiff"]["kdiff"] == mine["pattern"]["kdiff"]["kdiff"]


def _twins() -> gpd.GeoDataFrame:
    # four subjects: two share a location (twins), two elsewhere
    return gpd.GeoDataFrame(
        {"subject_id": ["a", "b", "c", "d"], "status": ["case", "case", "control", "control"]},
        geometry=gpd.points_from_xy([100, 100, 600, 300], [100, 100, 800, 500]),
        crs="EPSG:32748",
    )


def test_shared_locations_have_nearest_neighbour_distance_zero() -> None:
    twins = _twins()
    xy = np.column_stack([twins.geometry.x, twins.geometry.y])
    nnd = nn_distances(xy)
    assert nnd[0] == 0
    assert nnd[1] == 0
    assert nnd[3] == pytest.approx(np.hypot(300, 300))
    assert shared_location_count(xy) == 2
    window = make_window(twins, kind="polygon", polygon=shapely.box(0, 0, 1000, 1000))
    result = clark_evans(twins, window=window, permutations=0)
    assert result.mean_nnd_m == pytest.approx((0 + 0 + np.hypot(300, 300) * 2) / 4)
    assert result.n_shared_locations == 2


def test_k_counts_shared_locations_from_the_first_positive_r() -> None:
    twins = _twins()
    window = make_window(twins, kind="polygon", polygon=shapely.box(0, 0, 1000, 1000))
    k = k_function(twins, window=window, r_m=[0.0, 1.0, 2.0], corrections=("none",))
    # spatstat's convention: K(r) counts pairs closer than r, so K(0) = 0, and the
    # twin pair (both orders) counts from r = 1 on
    assert k.K["none"][0] == 0
    assert k.K["none"][1] == pytest.approx(2 / (4 * 3 / 1e6))
