"""Area statistics against R spdep on spData's auckland and NY8 (tests/reference/areas/).

The values were computed by ``tests/reference/areas/make_reference.R`` (spdep
1.2-7); the fixtures are small derived files of spData (CC0).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph

from geo_stunting.areas import (
    area_weights,
    eb_moran,
    eb_standardise,
    empirical_bayes,
    getis_ord_rates,
    local_empirical_bayes,
    local_moran_rates,
    moran_rates,
    probability_map,
    weights_from_graph,
)
from geo_stunting.areas._autocorrelation import _row_standard
from geo_stunting.stats._permutation import conditional_draws, conditional_lags, two_sided_p

HERE = Path(__file__).parent / "reference" / "areas"
REF = json.loads((HERE / "reference.json").read_text())
RTOL = 1e-9


def _auckland() -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray]:
    frame = gpd.read_file(HERE / "auckland.geojson")
    return frame, frame["M77_85"].to_numpy(float), 9 * frame["Und5_81"].to_numpy(float)


def _ny8() -> tuple[Graph, np.ndarray, np.ndarray]:
    data = pd.read_csv(HERE / "ny8.csv")
    edges = pd.read_csv(HERE / "ny8_queen_edges.csv")
    graph = Graph.from_arrays(edges["from"].to_numpy(), edges["to"].to_numpy(), np.ones(len(edges)))
    return graph, data["Cases"].to_numpy(float), data["POP8"].to_numpy(float)


@pytest.fixture(scope="module", params=["auckland", "ny8"])
def case(request: pytest.FixtureRequest) -> dict[str, object]:
    if request.param == "auckland":
        frame, n, x = _auckland()
        weights = area_weights(frame, rule="queen", id_column="area_id")
    else:
        graph, n, x = _ny8()
        weights = weights_from_graph(graph)
    return {"ref": REF[request.param], "n": n, "x": x, "weights": weights}


def test_queen_and_rook_match_poly2nb() -> None:
    frame, _, _ = _auckland()
    queen = area_weights(frame, rule="queen", id_column="area_id")
    rook = area_weights(frame, rule="rook", id_column="area_id")
    edges = pd.read_csv(HERE / "auckland_queen_edges.csv")
    found = set(zip(*queen.matrix.nonzero(), strict=True))
    assert found == set(zip(edges["from"], edges["to"], strict=True))
    np.testing.assert_array_equal(rook.cardinalities, REF["auckland"]["rook_card"])
    rook_edges = pd.read_csv(HERE / "auckland_rook_edges.csv")
    assert set(zip(*rook.matrix.nonzero(), strict=True)) == set(
        zip(rook_edges["from"], rook_edges["to"], strict=True)
    )
    assert queen.islands == ()
    assert queen.n_components == 1


def test_empirical_bayes_matches_ebest(case: dict) -> None:
    ref = case["ref"]
    eb = empirical_bayes(case["n"], case["x"])
    np.testing.assert_allclose(eb.raw, ref["ebest_raw"], rtol=RTOL)
    np.testing.assert_allclose(eb.smoothed, ref["ebest_est"], rtol=RTOL)
    assert eb.a == pytest.approx(ref["ebest_a"], rel=RTOL)
    assert eb.b == pytest.approx(ref["ebest_b"], rel=RTOL)


def test_local_empirical_bayes_matches_eblocal(case: dict) -> None:
    est = local_empirical_bayes(case["n"], case["x"], case["weights"].matrix)
    np.testing.assert_allclose(est, case["ref"]["eblocal_est"], rtol=RTOL)


def test_probability_map_matches_probmap(case: dict) -> None:
    ref = case["ref"]
    pmap = probability_map(case["n"], case["x"])
    np.testing.assert_allclose(pmap["expected"], ref["probmap_expected"], rtol=RTOL)
    np.testing.assert_allclose(pmap["smr_pct"], ref["probmap_relrisk"], rtol=RTOL)
    np.testing.assert_allclose(pmap["p_low"], ref["probmap_p"], rtol=1e-8)
    # the other tail: P[X >= n] = 1 - P[X <= n - 1]
    assert ((pmap["p_low"] + pmap["p_high"]) >= 1 - 1e-12).all()


def test_moran_matches_moran_test(case: dict) -> None:
    ref = case["ref"]
    result = moran_rates(case["n"] / case["x"], weights=case["weights"], permutations=0)
    assert pytest.approx(ref["moran_I"], rel=RTOL) == result.I
    assert result.expected == pytest.approx(ref["moran_EI"], rel=RTOL)
    assert result.variance_rand == pytest.approx(ref["moran_var_randomisation"], rel=RTOL)
    assert result.p_rand == pytest.approx(ref["moran_p_randomisation_two_sided"], rel=1e-7)
    assert result.variance_normal == pytest.approx(ref["moran_var_normality"], rel=RTOL)
    # R's normality p-value was one-sided (greater); ours is two-sided
    assert result.p_normal / 2 == pytest.approx(ref["moran_p_normality_greater"], rel=1e-7)
    assert result.to_dict()["p_rand_alternative"] == "two-sided"


def test_moran_permutation_p_is_seeded_and_agrees_with_analytic(case: dict) -> None:
    rate = case["n"] / case["x"]
    first = moran_rates(rate, weights=case["weights"], permutations=499, seed=7)
    again = moran_rates(rate, weights=case["weights"], permutations=499, seed=7)
    assert first.p_sim == again.p_sim
    assert first.alternative_sim == "greater"
    one_sided = case["ref"]["moran_p_randomisation_two_sided"] / 2
    if one_sided < 0.001:
        assert first.p_sim == pytest.approx(1 / 500)
    else:  # the permutation and normal approximations agree within Monte Carlo error
        assert abs(first.p_sim - one_sided) < 0.05


def test_eb_moran_matches_ebimoran(case: dict) -> None:
    ref = case["ref"]
    z = eb_standardise(case["n"], case["x"])
    np.testing.assert_allclose(z, ref["eb_z"], rtol=RTOL)
    result = eb_moran(case["n"], case["x"], weights=case["weights"], permutations=999, seed=1)
    assert pytest.approx(ref["ebimoran_I"], rel=RTOL) == result.I
    # R's permutation p is 0.001 for both; ours differs only by Monte Carlo error
    assert ref["ebimoran_p_greater_seed1"] == pytest.approx(0.001)
    assert result.p_sim <= 0.01
    assert result.p_rand is None


def test_local_moran_matches_localmoran(case: dict) -> None:
    ref = case["ref"]
    z = eb_standardise(case["n"], case["x"])
    lisa = local_moran_rates(z, weights=case["weights"], permutations=0)
    np.testing.assert_allclose(lisa["lisa_I"], ref["local_moran_Ii"], rtol=1e-8)
    np.testing.assert_allclose(lisa["lisa_E"], ref["local_moran_E"], rtol=1e-8)
    np.testing.assert_allclose(lisa["lisa_var"], ref["local_moran_var"], rtol=1e-8)
    np.testing.assert_allclose(lisa["lisa_z"], ref["local_moran_z"], rtol=1e-8)
    np.testing.assert_allclose(lisa["lisa_p_normal"], ref["local_moran_p_two_sided"], rtol=1e-7)


def test_local_moran_permutation_labels(case: dict) -> None:
    z = eb_standardise(case["n"], case["x"])
    lisa = local_moran_rates(z, weights=case["weights"], permutations=199, seed=3)
    again = local_moran_rates(z, weights=case["weights"], permutations=199, seed=3)
    pd.testing.assert_frame_equal(lisa, again)
    significant = lisa["lisa_label"] != "not significant"
    assert (lisa.loc[significant, "lisa_p"] <= 0.05).all()
    assert (lisa.loc[significant, "lisa_label"] == lisa.loc[significant, "lisa_quadrant"]).all()
    # FDR never labels more areas than the uncorrected rule
    assert (lisa["lisa_label_fdr"] != "not significant").sum() <= significant.sum()
    high = lisa["lisa_quadrant"] == "HH"
    assert (z[high.to_numpy()] >= 0).all()


def test_gi_star_matches_localg(case: dict) -> None:
    gi = getis_ord_rates(case["n"] / case["x"], weights=case["weights"])
    np.testing.assert_allclose(gi["gi_star_z"], case["ref"]["gistar_z"], rtol=1e-8)


def test_lisa_permutation_p_equals_the_shared_conditional_scheme(case: dict) -> None:
    """The compiled tail count gives the two-sided p-values of stats._permutation (esda scheme)."""
    z = eb_standardise(case["n"], case["x"])
    weights = case["weights"]
    lisa = local_moran_rates(z, weights=weights, permutations=199, seed=11)
    rng = np.random.default_rng(11)
    centred = z - z.mean()
    m2 = float(centred @ centred) / len(z)
    standard = _row_standard(weights)
    draws = conditional_draws(len(z), int(weights.cardinalities.max()), 199, rng)
    sims = centred[None, :] / m2 * conditional_lags(centred, standard, draws)
    expected = two_sided_p(sims, centred / m2 * (standard @ centred))
    np.testing.assert_allclose(lisa["lisa_p"], expected)
