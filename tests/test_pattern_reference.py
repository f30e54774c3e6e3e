"""Clark–Evans, K, L and G against spatstat.

Reference values: tests/reference/pattern/spatstat_reference.R (spatstat
3.0) → spatstat_reference.json, and simulation_reference.R →
simulation_reference.json for the simulated envelopes. The fixture is a
concave window with a hole and 150 clustered subjects, three pairs of them
sharing a location.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from geo_stunting import AnalysisError
from geo_stunting.pattern._kfunction import envelope, envelope_ranks, g_function, k_function
from geo_stunting.pattern._nearest_neighbour import average_nearest_neighbour, clark_evans
from geo_stunting.pattern._window import make_window
from tests.pattern_fixture import (
    PATTERN,
    as_array,
    fixture_subjects,
    fixture_window,
    load_json,
    rectangle_window,
)

REF = load_json(PATTERN / "spatstat_reference.json")
SIM = load_json(PATTERN / "simulation_reference.json")
SUBJECTS = fixture_subjects()
WINDOW = fixture_window(SUBJECTS)
RECTANGLE = rectangle_window(SUBJECTS)
GROUPS = {
    "all": SUBJECTS,
    "cases": SUBJECTS[SUBJECTS["status"] == "case"],
    "controls": SUBJECTS[SUBJECTS["status"] == "control"],
}


def close(ours: np.ndarray, theirs: list[Any], rtol: float = 1e-9) -> None:
    np.testing.assert_allclose(ours, as_array(theirs), rtol=rtol, atol=1e-9)


def test_window_area_matches_spatstat() -> None:
    assert pytest.approx(REF["window_area"], rel=1e-12) == WINDOW.area_m2
    assert pytest.approx(REF["rect_area"], rel=1e-12) == RECTANGLE.area_m2


@pytest.mark.parametrize("group", ["all", "cases", "controls"])
def test_clark_evans_matches_spatstat(group: str) -> None:
    ref = REF[group]["clarkevans"]
    result = clark_evans(GROUPS[group], window=WINDOW, permutations=0)
    assert result.n == REF[group]["n"]
    assert result.R_naive == pytest.approx(ref["naive"], rel=1e-12)
    assert result.R_cdf == pytest.approx(ref["cdf"], rel=1e-12)
    # R computes 2 * (1 - pnorm(|Z|)), which keeps about 7 significant digits near 1e-9
    assert result.p_value == pytest.approx(ref["z_p_value"], rel=1e-5)
    assert result.R_donnelly is None  # not a rectangle


@pytest.mark.parametrize("group", ["all", "cases"])
def test_clark_evans_donnelly_in_rectangle_matches_spatstat(group: str) -> None:
    ref = REF[group]["clarkevans_rect"]
    result = clark_evans(GROUPS[group], window=RECTANGLE, permutations=0)
    assert result.R_naive == pytest.approx(ref["naive"], rel=1e-12)
    assert result.R_donnelly == pytest.approx(ref["Donnelly"], rel=1e-12)
    assert result.R_cdf == pytest.approx(ref["cdf"], rel=1e-12)


def test_clark_evans_monte_carlo_is_seeded_and_detects_clustering() -> None:
    a = clark_evans(GROUPS["cases"], window=WINDOW, permutations=199, seed=3)
    b = clark_evans(GROUPS["cases"], window=WINDOW, permutations=199, seed=3)
    assert a == b
    # the fixture's cases are tightly clustered: no CSR simulation comes close
    assert a.p_mc == pytest.approx(2 / 200)
    assert a.n_shared_locations == 6


def test_nearest_neighbour_table_as_qgis_computes_it() -> None:
    xy = np.column_stack([SUBJECTS["x"], SUBJECTS["y"]])
    table = average_nearest_neighbour(SUBJECTS)
    area = np.ptp(xy[:, 0]) * np.ptp(xy[:, 1])
    observed = float(np.mean(as_array(REF["all"]["nndist"])))
    expected = 0.5 / np.sqrt(150 / area)
    assert table.area_m2 == pytest.approx(area)
    assert table.observed_mean_m == pytest.approx(observed, rel=1e-12)
    assert table.expected_mean_m == pytest.approx(expected)
    assert table.z == pytest.approx(
        (observed - expected) / (0.26136 / np.sqrt(150**2 / area)), rel=1e-4
    )
    assert "bounding rectangle" in table.area_used
    windowed = average_nearest_neighbour(SUBJECTS, window=WINDOW)
    assert windowed.index == pytest.approx(REF["all"]["clarkevans"]["naive"], rel=1e-12)


@pytest.mark.parametrize("group", ["all", "cases", "controls"])
def test_k_function_three_corrections_match_spatstat(group: str) -> None:
    ref = REF[group]["K"]
    k = k_function(
        GROUPS[group],
        window=WINDOW,
        r_m=ref["r"],
        corrections=("isotropic", "translate", "border", "none"),
    )
    close(k.K["isotropic"], ref["iso"])
    close(k.K["border"], ref["border"])
    close(k.K["none"], ref["un"])
    # ours are exact polygon overlaps: equal to edge.Trans(exact = TRUE) ...
    close(k.K["translate"], ref["trans_exact"])
    # ... and within 1 % of Kest's pixel approximation
    close(k.K["translate"], ref["trans"], rtol=0.01)
    close(k.L("isotropic"), REF[group]["L"]["iso"])
    close(k.theo, ref["theo"])


@pytest.mark.parametrize("group", ["all", "cases"])
def test_k_function_in_rectangle_matches_spatstat(group: str) -> None:
    ref = REF[group]["K_rect"]
    k = k_function(GROUPS[group], window=RECTANGLE, r_m=ref["r"])
    # spatstat's rectangle engine counts d <= r, its polygon code d < r: equal for r > 0
    # except at exact ties; the fixture's only ties are the shared locations (d = 0)
    close(k.K["isotropic"][1:], ref["iso"][1:])
    close(k.K["translate"][1:], ref["trans"][1:])
    close(k.K["border"], ref["border_polygon"])
    close(k.K["isotropic"], ref["iso_polygon"])


@pytest.mark.parametrize("group", ["all", "cases", "controls"])
def test_g_function_matches_spatstat(group: str) -> None:
    ref = REF[group]["G"]
    g = g_function(
        GROUPS[group], window=WINDOW, r_m=ref["r"], corrections=("km", "rs", "han", "none")
    )
    close(g.G["km"], ref["km"])
    close(g.G["rs"], ref["rs"])
    close(g.G["none"], ref["raw"])
    # Hanisch: our eroded areas are exact, spatstat's come from a pixel mask
    close(g.G["han"], ref["han"], rtol=0.02)


def test_envelope_ranks() -> None:
    assert envelope_ranks(999, 0.05) == (25, 50)
    assert envelope_ranks(99, 0.05) == (2, 5)
    assert envelope_ranks(19, 0.05) == (1, 1)


def test_csr_envelope_of_l_matches_spatstat_within_monte_carlo_error() -> None:
    ref = SIM["envelope_L"]
    r = as_array(ref["r"])
    env = envelope(GROUPS["cases"], window=WINDOW, statistic="L", permutations=999, r_m=r, seed=11)
    assert env.nrank == 25
    sd = as_array(ref["sd"])
    mid = slice(5, None)  # r > 0 where the simulated L varies
    sims_mean = (env.lo + env.hi) / 2
    ref_mid = (as_array(ref["lo"]) + as_array(ref["hi"])) / 2
    np.testing.assert_array_less(np.abs(sims_mean - ref_mid)[mid], (0.25 * sd + 1e-9)[mid])
    # 2.5 % / 97.5 % quantiles of 999 draws: Monte Carlo sd about 0.12 sd; allow 4 of them
    np.testing.assert_array_less(np.abs(env.lo - as_array(ref["lo"]))[mid], (0.5 * sd)[mid])
    np.testing.assert_array_less(np.abs(env.hi - as_array(ref["hi"]))[mid], (0.5 * sd)[mid])
    # global band: theo ± the 50th largest maximum deviation
    critical = float(np.max(as_array(ref["global_hi"]) - r))
    ours = float(np.max(env.global_hi - r))
    assert ours == pytest.approx(critical, rel=0.1)
    # the cases are clustered: observed L above the global band
    assert env.p_global == pytest.approx(1 / 1000)


def test_csr_envelope_of_g_matches_spatstat_within_monte_carlo_error() -> None:
    ref = SIM["envelope_G"]
    r = as_array(ref["r"])
    env = envelope(
        GROUPS["cases"],
        window=WINDOW,
        statistic="G",
        correction="km",
        permutations=999,
        r_m=r,
        seed=5,
    )
    np.testing.assert_allclose(env.observed, as_array(ref["obs"]), rtol=1e-10, atol=1e-12)
    sd = as_array(ref["sd"])
    varies = sd > 0.01
    # Pointwise 2.5 % / 97.5 % quantiles of 999 simulations: within half a simulated sd,
    # plus one step of G (1/n: G of n points moves in steps of about 1/n).
    tol = 0.5 * sd[varies] + 1 / len(GROUPS["cases"])
    np.testing.assert_array_less(np.abs(env.lo - as_array(ref["lo"]))[varies], tol)
    np.testing.assert_array_less(np.abs(env.hi - as_array(ref["hi"]))[varies], tol)
    # on average over r, within the Monte Carlo error of a 97.5 % quantile of 999 draws
    assert np.abs(env.hi - as_array(ref["hi"]))[varies].mean() < 0.15 * sd[varies].mean()


def test_envelope_rejects_unknown_statistic() -> None:
    with pytest.raises(AnalysisError, match="unknown statistic 'J'"):
        envelope(GROUPS["cases"], window=WINDOW, statistic="J", permutations=9)


def test_k_function_needs_points_inside_the_window() -> None:
    inside = GROUPS["cases"].iloc[:3]
    small = make_window(inside, kind="convex_hull")
    with pytest.raises(AnalysisError, match=r"\d+ point\(s\) lie outside the window"):
        k_function(GROUPS["all"], window=small)
