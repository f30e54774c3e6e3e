"""Case-control tests under random labelling: K difference and Cuzick–Edwards.

Reference values: tests/reference/pattern/simulation_reference.R →
simulation_reference.json (random labelling written out with spatstat's Kest
and spdep's knearneigh) and spatstat_reference.json for the K functions.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo_stunting import AnalysisError
from geo_stunting.autocorrelation._neighbours import k_nearest
from geo_stunting.pattern import _casecontrol
from geo_stunting.pattern._casecontrol import (
    Relabeller,
    cuzick_edwards,
    k_difference,
    sharing_pairs,
)
from geo_stunting.pattern._labelled import pack_labels, packed_link_counts
from tests.pattern_fixture import (
    PATTERN,
    as_array,
    fixture_subjects,
    fixture_window,
    load_json,
    shared_mask,
)

SIM = load_json(PATTERN / "simulation_reference.json")
REF = load_json(PATTERN / "spatstat_reference.json")
SUBJECTS = fixture_subjects()
WINDOW = fixture_window(SUBJECTS)


def test_kdiff_observed_is_kest_cases_minus_kest_controls() -> None:
    r = as_array(REF["cases"]["K"]["r"])
    result = k_difference(SUBJECTS, window=WINDOW, permutations=19, r_m=r, seed=1)
    np.testing.assert_allclose(result.K_case, as_array(REF["cases"]["K"]["iso"]), rtol=1e-9)
    np.testing.assert_allclose(result.K_control, as_array(REF["controls"]["K"]["iso"]), rtol=1e-9)
    np.testing.assert_allclose(result.kdiff, result.K_case - result.K_control)


def test_kdiff_random_labelling_matches_r_within_monte_carlo_error() -> None:
    ref = SIM["kdiff"]
    r = as_array(ref["r"])
    result = k_difference(SUBJECTS, window=WINDOW, permutations=999, r_m=r, seed=5)
    np.testing.assert_allclose(result.kdiff, as_array(ref["observed"]), rtol=1e-9, atol=1e-6)
    sd = as_array(ref["sd"])
    mid = slice(5, None)
    # pointwise 2.5 % / 97.5 % quantiles of 999 relabellings: Monte Carlo sd about 0.12 sd
    np.testing.assert_array_less(np.abs(result.lo - as_array(ref["lo"]))[mid], (0.5 * sd)[mid])
    np.testing.assert_array_less(np.abs(result.hi - as_array(ref["hi"]))[mid], (0.5 * sd)[mid])
    # D+ p-value: R's 0.017 from 999 relabellings; binomial sd about 0.004 each
    assert result.p_value == pytest.approx(ref["p_dplus"], abs=0.02)
    assert result.labelling == "random"
    assert result.nrank == 25


def test_kdiff_is_byte_identical_for_a_seed() -> None:
    a = k_difference(SUBJECTS, window=WINDOW, permutations=49, seed=8, strata="stratum")
    b = k_difference(SUBJECTS, window=WINDOW, permutations=49, seed=8, strata="stratum")
    assert a.lo.tobytes() == b.lo.tobytes()
    assert a.p_value == b.p_value
    assert a.labelling == "within strata"


def test_relabelling_within_strata_keeps_cases_per_stratum() -> None:
    is_case = (SUBJECTS["status"] == "case").to_numpy()
    strata = SUBJECTS["stratum"].to_numpy(dtype=object)
    relabel = Relabeller(is_case, strata, np.random.default_rng(0))
    before = pd.Series(is_case).groupby(strata).sum()
    for _ in range(20):
        draw = relabel.draw()
        assert pd.Series(draw).groupby(strata).sum().equals(before)
    plain = Relabeller(is_case, None, np.random.default_rng(0)).draw()
    assert plain.sum() == is_case.sum()
    assert not np.array_equal(plain, is_case)


def test_cuzick_edwards_matches_r_on_tie_free_subjects() -> None:
    subjects = SUBJECTS[~shared_mask(SUBJECTS)].reset_index(drop=True)
    results = cuzick_edwards(
        subjects, ks=(1, 3, 5, 10), permutations=9999, strata="stratum", seed=2
    )
    for ours, ref in zip(results, SIM["cuzick_edwards"], strict=True):
        assert ours.k == ref["k"]
        assert ref["T"] == ours.T
        assert ours.expected == pytest.approx(ref["expected"], rel=1e-12)
        # expected under relabelling within strata: exact here, simulated in R
        assert ours.expected_strata == pytest.approx(ref["mean_sim_strata"], rel=0.01)
        for p_ours, p_ref in ((ours.p_mc, ref["p_mc"]), (ours.p_mc_strata, ref["p_mc_strata"])):
            assert p_ours is not None
            error = 4 * np.sqrt(2 * p_ref * (1 - p_ref) / 9999) + 2e-4
            assert p_ours == pytest.approx(p_ref, abs=error)


def test_cuzick_edwards_counts_shared_locations_as_nearest_neighbours() -> None:
    # hand-worked: two twins (cases) at one spot, two controls far away
    subjects = gpd.GeoDataFrame(
        {"status": ["case", "case", "control", "control"]},
        geometry=gpd.points_from_xy([0, 0, 1000, 1010], [0, 0, 0, 0]),
        crs="EPSG:32748",
    )
    (t1,) = cuzick_edwards(subjects, ks=(1,), permutations=99, seed=1)
    assert t1.T == 2  # each twin's nearest neighbour is the other twin
    assert t1.n_links == 4
    assert t1.expected == pytest.approx(4 * 2 * 1 / (4 * 3))


def test_knn_ties_are_all_included_and_independent_of_row_order() -> None:
    # the 2nd nearest of point 0 is tied between points 2 and 3
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [50.0, 50.0]])
    nb = k_nearest(xy, 2)
    assert nb.lists()[0] == [1, 2, 3]
    assert nb.lists()[1] == [0, 2, 3]
    order = np.array([4, 3, 2, 1, 0])
    shuffled = k_nearest(xy[order], 2).matrix.toarray()
    np.testing.assert_array_equal(shuffled, nb.matrix.toarray()[np.ix_(order, order)])


def test_case_control_tests_need_both_groups() -> None:
    only_cases = SUBJECTS.assign(status="case")
    with pytest.raises(AnalysisError, match="at least 2 cases and 2 controls"):
        k_difference(only_cases, window=WINDOW, permutations=9)
    with pytest.raises(AnalysisError, match="no column 'village'"):
        cuzick_edwards(SUBJECTS, strata="village", permutations=9)


def test_sharing_pairs_finds_the_pairs_once_with_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subjects = SUBJECTS.assign(stratum=np.arange(len(SUBJECTS)) % 4)
    alone = [
        k_difference(subjects, window=WINDOW, permutations=9, strata=strata, seed=2)
        for strata in (None, "stratum")
    ]
    calls = []
    real = _casecontrol.labelled_pairs

    def counted(*args: object) -> object:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_casecontrol, "labelled_pairs", counted)
    with sharing_pairs():
        shared = [
            k_difference(subjects, window=WINDOW, permutations=9, strata=strata, seed=2)
            for strata in (None, "stratum")
        ]
    assert len(calls) == 1
    for a, b in zip(alone, shared, strict=True):
        assert a.lo.tobytes() == b.lo.tobytes()
        assert a.kdiff.tobytes() == b.kdiff.tobytes()
        assert a.p_value == b.p_value
    k_difference(subjects, window=WINDOW, permutations=9, seed=2)
    assert len(calls) == 2  # outside the block nothing is kept


def test_packed_link_counts_are_cuzick_edwards_t_of_each_labelling() -> None:
    rng = np.random.default_rng(21)
    xy = np.round(rng.uniform(0, 50, (400, 2)))  # whole metres: ties at the k-th distance
    matrix = k_nearest(xy, 5).matrix
    assert matrix.nnz > 5 * len(xy)
    labels = rng.random((64, len(xy))) < 0.3
    counts = packed_link_counts(
        matrix.indptr.astype(np.int64),
        matrix.indices.astype(np.int64),
        pack_labels(labels),
        64,
    )
    y = labels.astype(float)
    expected = np.einsum("ij,ij->i", y, (matrix @ y.T).T)
    assert counts.tolist() == expected.astype(np.int64).tolist()


def test_cuzick_edwards_packed_and_sparse_counts_give_the_same_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subjects = SUBJECTS.assign(stratum=np.arange(len(SUBJECTS)) % 4)
    runs = []
    for packed_from in (0, 10**9):  # every study packed, then none
        monkeypatch.setattr(_casecontrol, "_PACKED_FROM", packed_from)
        runs.append(
            [
                c.to_dict()
                for c in cuzick_edwards(
                    subjects, ks=(1, 3), permutations=130, strata="stratum", seed=3
                )
            ]
        )
    assert runs[0] == runs[1]
    assert 0 < runs[0][0]["p_mc"] < 1
