"""Moran's I, join counts, LISA and Gi* of the case indicator against spdep.

Reference values: tests/reference/autocorrelation/spdep_reference.R (spdep
1.2) → spdep_reference.json. Two neighbour rules: 5 nearest neighbours on the
fixture subjects whose location is not shared (no ties), and an 800 m band on
all subjects (shared locations and one isolate included).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from libpysal.weights import KNN

import geo_stunting as gs
from geo_stunting import AnalysisError
from geo_stunting.autocorrelation._statistics import (
    build_neighbours,
    getis_ord,
    join_counts,
    local_moran,
    moran,
)
from geo_stunting.autocorrelation._step import autocorrelation_step
from tests.pattern_fixture import (
    AUTOCORRELATION,
    as_array,
    fixture_subjects,
    load_json,
    shared_mask,
)

REF = load_json(AUTOCORRELATION / "spdep_reference.json")
ALL = fixture_subjects()
TIE_FREE = ALL[~shared_mask(ALL)].reset_index(drop=True)
CASES = {
    "knn5": (TIE_FREE, "knn:5"),
    "band800": (ALL, "distance:800"),
}


@pytest.mark.parametrize("key", ["knn5", "band800"])
def test_neighbours_match_spdep(key: str) -> None:
    subjects, rule = CASES[key]
    nb = build_neighbours(subjects, weights=rule)
    ref = [sorted(v) if isinstance(v, list) else [v] for v in REF[key]["neighbours"]]
    assert nb.lists() == ref


@pytest.mark.parametrize("key", ["knn5", "band800"])
def test_moran_matches_spdep(key: str) -> None:
    subjects, rule = CASES[key]
    ref = REF[key]["moran"]
    result = moran(
        subjects, neighbours=build_neighbours(subjects, weights=rule), permutations=9999, seed=4
    )
    assert pytest.approx(ref["I"], rel=1e-12) == result.I
    assert result.expected == pytest.approx(ref["expected"], rel=1e-12)
    assert result.variance_rand == pytest.approx(ref["variance"], rel=1e-10)
    assert result.z_rand == pytest.approx(ref["z"], rel=1e-10)
    # one-sided, alternative "greater": moran.test(alternative = "greater") and moran.mc
    assert result.alternative == "greater"
    assert result.p_rand == pytest.approx(ref["p_greater"], rel=1e-10)
    p = ref["p_sim_greater_9999"]
    assert result.p_sim == pytest.approx(p, abs=4 * np.sqrt(2 * p * (1 - p) / 9999) + 2e-4)


@pytest.mark.parametrize("key", ["knn5", "band800"])
def test_join_counts_match_spdep(key: str) -> None:
    subjects, rule = CASES[key]
    ref = REF[key]["joincount_bb"]
    result = join_counts(
        subjects, neighbours=build_neighbours(subjects, weights=rule), permutations=9999, seed=4
    )
    assert result.bb == ref["bb"]
    assert result.expected_bb == pytest.approx(ref["expected"], rel=1e-12)
    assert result.variance_bb == pytest.approx(ref["variance"], rel=1e-10)
    assert result.z_bb == pytest.approx(ref["z"], rel=1e-10)
    assert result.p_bb == pytest.approx(ref["p"], rel=1e-9)
    p = ref["p_sim_9999"]
    assert result.p_sim_bb == pytest.approx(p, abs=4 * np.sqrt(2 * p * (1 - p) / 9999) + 2e-4)
    assert result.bb + result.bw + result.ww == pytest.approx(result.joins)


@pytest.mark.parametrize("key", ["knn5", "band800"])
def test_local_moran_matches_spdep(key: str) -> None:
    subjects, rule = CASES[key]
    ref = REF[key]["localmoran"]
    result = local_moran(
        subjects, neighbours=build_neighbours(subjects, weights=rule), permutations=9999, seed=4
    )
    np.testing.assert_allclose(result["lisa_I"], as_array(ref["Ii"]), rtol=1e-10, atol=1e-12)
    folded = as_array(ref["p_folded_sim"])
    p_ref = np.minimum(1.0, 2 * folded)  # two-sided: twice the nearer tail
    ours = result["lisa_p"].to_numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(p_ref))
    ok = ~np.isnan(p_ref)
    error = 2 * (4 * np.sqrt(2 * folded[ok] * (1 - folded[ok]) / 9999) + 2e-4)
    np.testing.assert_array_less(np.abs(ours[ok] - p_ref[ok]), error)


@pytest.mark.parametrize("key", ["knn5", "band800"])
def test_getis_ord_gi_star_matches_spdep_localg(key: str) -> None:
    subjects, rule = CASES[key]
    result = getis_ord(
        subjects, neighbours=build_neighbours(subjects, weights=rule), permutations=0
    )
    np.testing.assert_allclose(result["gi_star_z"], as_array(REF[key]["localG_z"]), rtol=1e-10)


def test_isolates_are_reported_and_unlabelled() -> None:
    nb = build_neighbours(ALL, weights="distance:800")
    assert len(nb.isolates) == 1
    result = moran(ALL, neighbours=nb, permutations=0)
    assert result.n_isolates == 1
    assert result.isolates == [ALL["subject_id"].iloc[nb.isolates[0]]]
    lisa = local_moran(ALL, neighbours=nb, permutations=99, seed=1)
    assert lisa["lisa_label"].iloc[nb.isolates[0]] == "isolate"
    assert np.isnan(lisa["lisa_p"].iloc[nb.isolates[0]])


def test_callers_libpysal_weights_are_not_changed() -> None:
    xy = np.column_stack([TIE_FREE["x"], TIE_FREE["y"]])
    with warnings.catch_warnings():  # libpysal warns that the graph is disconnected
        warnings.simplefilter("ignore")
        w = KNN(xy, k=5)
    w.transform = "b"
    before = copy.deepcopy(w.sparse.toarray())
    moran(TIE_FREE, neighbours=w, permutations=9, seed=1)
    join_counts(TIE_FREE, neighbours=w, permutations=9, seed=1)
    local_moran(TIE_FREE, neighbours=w, permutations=9, seed=1)
    getis_ord(TIE_FREE, neighbours=w, permutations=9, seed=1)
    assert w.transform == "B"
    np.testing.assert_array_equal(w.sparse.toarray(), before)
    # and a W gives the same I as our own 5-nearest-neighbour rule (no ties here)
    ours = moran(TIE_FREE, neighbours=build_neighbours(TIE_FREE, weights="knn:5"), permutations=0)
    assert pytest.approx(ours.I, rel=1e-12) == moran(TIE_FREE, neighbours=w, permutations=0).I


def test_fdr_labels_fewer_or_equal_significant() -> None:
    nb = build_neighbours(ALL, weights="knn:5")
    plain = local_moran(ALL, neighbours=nb, permutations=199, seed=2, fdr=False)
    fdr = local_moran(ALL, neighbours=nb, permutations=199, seed=2)
    assert (fdr["lisa_label_uncorrected"] == plain["lisa_label"]).all()
    # the default is corrected: the same decisions as esda's Benjamini-Hochberg threshold
    import esda  # noqa: PLC0415 - the independent reference

    finite = fdr["lisa_p"].notna().to_numpy()
    p = fdr["lisa_p"].to_numpy()[finite]
    threshold = esda.fdr(p, 0.05)
    expect = np.where(p <= threshold, fdr["lisa_quadrant"].to_numpy()[finite], "not significant")
    assert (fdr["lisa_label"].to_numpy()[finite] == expect).all()
    assert ((fdr["lisa_p_fdr"].to_numpy()[finite] <= 0.05) == (p <= threshold)).all()
    gi = getis_ord(ALL, neighbours=nb, permutations=199, seed=2)
    p_gi = gi["gi_star_p_sim"].to_numpy()
    hot_or_cold = gi["gi_star_label"] != "not significant"
    assert (hot_or_cold.to_numpy() == (p_gi <= esda.fdr(p_gi, 0.05))).all()
    assert (
        (gi.loc[hot_or_cold, "gi_star_z"] > 0)
        .eq(gi.loc[hot_or_cold, "gi_star_label"] == "hot spot")
        .all()
    )
    significant = ~plain["lisa_label"].isin(["not significant", "isolate"])
    significant_fdr = ~fdr["lisa_label"].isin(["not significant", "isolate"])
    assert significant_fdr.sum() <= significant.sum()
    assert not (significant_fdr & ~significant).any()
    assert set(plain["lisa_quadrant"]) <= {"HH", "LH", "LL", "HL"}
    cases = ALL["status"].eq("case").to_numpy()
    assert plain["lisa_quadrant"][cases].isin(["HH", "HL"]).all()


def test_too_many_neighbours_is_an_error_with_a_fix() -> None:
    with pytest.raises(AnalysisError, match=r"asks for 500 neighbours.*use fewer neighbours"):
        build_neighbours(ALL, weights="knn:500")


def test_step_is_byte_identical_for_a_seed_and_differs_for_another() -> None:
    study = gs.load_study(gs.demo_study_path())
    a = gs.analyze(study, steps=["autocorrelation"], permutations=99)
    b = gs.analyze(study, steps=["autocorrelation"], permutations=99)
    assert a.sections["steps"]["autocorrelation"] == {"status": "done"}
    assert a.to_json() == b.to_json()
    c = gs.analyze(study, steps=["autocorrelation"], permutations=99, seed=1)
    assert (
        c.sections["autocorrelation"]["moran"]["I"] == a.sections["autocorrelation"]["moran"]["I"]
    )
    assert (
        c.sections["autocorrelation"]["moran"]["seed"]
        != a.sections["autocorrelation"]["moran"]["seed"]
    )
    study = study.with_settings(study.settings.with_overrides(permutations=99))
    layer = autocorrelation_step(study).layers["subjects_autocorrelation"]
    assert {"lisa_label", "lisa_p", "gi_star_z", "gi_star_p"} <= set(layer.columns)
    assert len(layer) == len(study.subjects)


def test_moran_equals_esda_moran_on_the_same_weights() -> None:
    import esda  # noqa: PLC0415 - the second reference, beside spdep
    from libpysal.graph import Graph  # noqa: PLC0415

    nb = build_neighbours(ALL, weights="knn:5")  # with ties: rows of 5 or 6 neighbours
    y = ALL["status"].eq("case").to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = esda.Moran(
            y, Graph.from_sparse(nb.matrix.copy()), permutations=0, two_tailed=False
        )
    ours = moran(ALL, neighbours=nb, permutations=0)
    assert pytest.approx(reference.I, rel=1e-12) == ours.I
    assert ours.expected == pytest.approx(reference.EI, rel=1e-12)
    assert ours.variance_rand == pytest.approx(reference.VI_rand, rel=1e-10)
    assert ours.z_rand == pytest.approx(reference.z_rand, rel=1e-10)
    assert ours.p_rand == pytest.approx(reference.p_rand, rel=1e-9)
