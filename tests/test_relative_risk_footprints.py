"""The footprint path of the relative-risk surface (scan._footprints) against the dense product.

Above `DENSE_MAX_TERMS` the surface is computed by adding kernel footprints
per labelling; these tests check that it gives the dense product's p-values
exactly and its sums to rounding, whichever group is counted, with Diggle
weights, and when the truncated sums decide almost nothing (every comparison
then falls back to the exact sum).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from geo_stunting.scan import _footprints, _relative_risk
from geo_stunting.scan._footprints import (
    GridSpec,
    footprint_surface,
    footprint_tables,
    grid_sums,
)
from geo_stunting.scan._relative_risk import relative_risk_xy


def _clustered(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(1_000, 9_000, size=(6, 2))
    xy = centres[rng.integers(0, 6, n)] + rng.normal(0, 400, size=(n, 2))
    return np.clip(xy, 10, 9_990), rng


def _both(monkeypatch: pytest.MonkeyPatch, **kwargs):
    monkeypatch.setattr(_relative_risk, "DENSE_MAX_TERMS", 10**18)
    dense = relative_risk_xy(**kwargs)
    monkeypatch.setattr(_relative_risk, "DENSE_MAX_TERMS", 0)
    fast = relative_risk_xy(**kwargs)
    return dense, fast


@pytest.mark.parametrize(
    ("case_share", "edge"), [(0.2, "uniform"), (0.7, "uniform"), (0.3, "diggle")]
)
def test_same_p_values_and_sums_as_the_dense_product(
    monkeypatch: pytest.MonkeyPatch, case_share: float, edge: str
) -> None:
    xy, rng = _clustered(400, 5)
    is_case = rng.random(len(xy)) < case_share
    window = shapely.box(0, 0, 10_000, 10_000)
    dense, fast = _both(
        monkeypatch,
        x=xy[:, 0],
        y=xy[:, 1],
        is_case=is_case,
        window=window,
        bandwidth_m=350.0,
        edge=edge,
        permutations=99,
        seed=4,
    )
    assert dense.supported.sum() > 100
    tested = dense.supported
    assert np.array_equal(fast.supported, tested)
    np.testing.assert_array_equal(fast.p_value, dense.p_value)
    assert np.isnan(fast.p_value[~tested]).all()
    assert (dense.p_value[tested] < 0.05).any()  # raised risk somewhere: not a vacuous check
    assert (dense.p_value[tested] > 0.5).any()
    np.testing.assert_allclose(fast.p_case, dense.p_case, rtol=1e-12, atol=0)
    finite = np.isfinite(dense.log_rr)
    assert np.array_equal(np.isfinite(fast.log_rr), finite)
    # both take the control density as total minus cases: rounding of the total, relative to
    # the smaller of the two densities
    p = dense.p_case[finite]
    bound = 1e-13 / np.minimum(p, 1 - p)
    assert np.all(np.abs(fast.log_rr[finite] - dense.log_rr[finite]) <= bound)


def _surface_inputs(seed: int, case_share: float):
    xy, rng = _clustered(300, seed)
    cases = rng.random(len(xy)) < case_share
    grid = GridSpec(0.0, 0.0, 250.0, 40, 40)
    cells = np.arange(40 * 40)
    return xy, cases, grid, cells


@pytest.mark.parametrize("case_share", [0.25, 0.75])
def test_a_short_reach_falls_back_to_exact_sums_with_the_same_p_values(case_share: float) -> None:
    xy, cases, grid, cells = _surface_inputs(7, case_share)
    weights = np.ones(len(xy))
    sigma = 300.0
    tested = np.ones(len(cells), dtype=bool)
    runs = {}
    for exponent in (_footprints.P_VALUE_EXPONENT, 0.02):
        runs[exponent] = footprint_surface(
            xy,
            weights,
            cases,
            grid,
            sigma,
            cells=cells,
            tested=tested,
            permutations=49,
            rng=np.random.default_rng(3),
            exponent=exponent,
        )
    centres = np.column_stack(grid.centres(cells))
    dense_p = _footprints.dense_surface(
        centres, xy, weights, cases, tested, 49, np.random.default_rng(3), sigma
    )[2]
    for _, _, p_value in runs.values():
        np.testing.assert_array_equal(p_value, dense_p)


def test_the_fallback_is_taken_when_the_reach_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    xy, cases, grid, cells = _surface_inputs(8, 0.3)
    seen: list[int] = []
    original = _footprints.labelling_counts

    def spy(*args, **kwargs):
        counts, exact = original(*args, **kwargs)
        seen.append(exact)
        return counts, exact

    monkeypatch.setattr(_footprints, "labelling_counts", spy)
    centres = np.column_stack(grid.centres(cells))
    near = ((centres[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2) <= 300.0**2
    tested = near.sum(axis=1) >= 5  # the support
    for exponent in (_footprints.P_VALUE_EXPONENT, 0.02):
        footprint_surface(
            xy,
            np.ones(len(xy)),
            cases,
            grid,
            300.0,
            cells=cells,
            tested=tested,
            permutations=19,
            rng=np.random.default_rng(1),
            exponent=exponent,
        )
    comparisons = 19 * tested.sum()
    assert seen[0] < 0.001 * comparisons  # 5 bandwidths decide nearly every comparison
    assert seen[1] > 0.5 * comparisons  # a fifth of a bandwidth decides few


def test_grid_sums_are_every_kernel_term() -> None:
    xy, _, grid, cells = _surface_inputs(9, 0.5)
    weights = np.linspace(0.5, 2.0, len(xy))
    sigma = 180.0
    centres = np.column_stack(grid.centres(cells))
    d2 = ((centres[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    want = np.exp(-d2 / (2 * sigma * sigma)) @ weights
    got = grid_sums(xy, weights, np.arange(len(xy)), grid, sigma).ravel()[cells]
    positive = want > 1e-290  # below, both are subnormal or zero
    np.testing.assert_allclose(got[positive], want[positive], rtol=1e-12)
    assert np.all(got[~positive] < 1e-280)


@pytest.mark.parametrize("exponent", [_footprints.P_VALUE_EXPONENT, 2.0])
def test_footprints_hold_the_terms_within_their_reach(exponent: float) -> None:
    xy, _, grid, cells = _surface_inputs(10, 0.5)
    xy = np.vstack([xy, [[-500.0, 5_000.0], [10_400.0, 10_300.0]]])  # two outside the grid
    weights = np.linspace(0.5, 2.0, len(xy))
    sigma = 200.0
    tables = footprint_tables(xy, weights, grid, sigma, exponent=exponent)
    out = np.zeros((grid.ny, grid.nx))
    _footprints._add_footprints(out, np.arange(len(xy)), *tables.unpack())
    centres = np.column_stack(grid.centres(cells))
    d2 = ((centres[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    reach2 = 2 * exponent * sigma * sigma
    inside = d2 <= reach2 * (1 - 1e-12)
    borderline = np.abs(d2 - reach2) <= 1e-9 * reach2
    assert not borderline.any()
    want = (np.exp(-d2 / (2 * sigma * sigma)) * inside) @ weights
    np.testing.assert_allclose(out.ravel()[cells], want, rtol=1e-12, atol=1e-300)
    assert math.isclose(
        float(np.exp(-reach2 / (2 * sigma * sigma))), math.exp(-exponent), rel_tol=1e-12
    )


def test_the_time_model_follows_the_footprint_path() -> None:
    from geo_stunting import estimate  # noqa: PLC0415

    assert estimate._DENSE_MAX_TERMS == _relative_risk.DENSE_MAX_TERMS
    cells = math.pi * 2 * _footprints.P_VALUE_EXPONENT * _relative_risk.CELLS_PER_BANDWIDTH**2
    assert round(cells) == estimate._FOOTPRINT_CELLS
