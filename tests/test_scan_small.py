"""The scan of a small study in NumPy gives the compiled scan's results, bit for bit.

`geo_stunting.scan._small` runs the demo-sized scan without numba (a first
run then compiles none of the scan kernels); here both paths scan the same
studies (ties, shared places, radius limits, every direction, several chunks)
and must agree on every cluster and every replicate ratio.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from geo_stunting.scan import _kernels, _small
from geo_stunting.scan._bernoulli import scan_bernoulli_xy
from geo_stunting.scan._neighbours import nearest_sorted_small, window_lists


def _study(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 220
    if kind == "ties":  # shared places and many equal distances
        xy = rng.integers(0, 15, size=(n, 2)).astype(float)
    else:
        xy = rng.uniform(0, 1_000, size=(n, 2))
    is_case = rng.random(n) < np.where(xy[:, 0] < np.median(xy[:, 0]) / 2, 0.6, 0.3)
    return xy, is_case


def _scan(
    xy: np.ndarray, is_case: np.ndarray, *, small: bool, seed: int, **options: object
) -> tuple[dict[str, Any], bytes]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_small, "SMALL_SCAN_SUBJECTS", 10**9 if small else 0)
        result = scan_bernoulli_xy(xy[:, 0], xy[:, 1], is_case, seed=seed, **options)  # type: ignore[arg-type]
    return result.to_dict(), result.simulated_llr.tobytes()


@pytest.mark.parametrize("kind", ["uniform", "ties"])
@pytest.mark.parametrize("direction", ["high", "low", "both"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_scan_is_the_compiled_scan(kind: str, direction: str, seed: int) -> None:
    xy, is_case = _study(kind, seed)
    radius = 4.0 if kind == "ties" else 250.0
    for options in (
        {"max_share": 0.5, "max_radius_m": None},
        {"max_share": 0.2, "max_radius_m": radius},
    ):
        small = _scan(
            xy, is_case, small=True, seed=seed, direction=direction, permutations=99, **options
        )
        compiled = _scan(
            xy, is_case, small=False, seed=seed, direction=direction, permutations=99, **options
        )
        assert small == compiled


@pytest.mark.parametrize("direction", ["high", "both"])
def test_small_scan_follows_the_chunks_and_the_observed_floor(
    direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several chunks: the observed thresholds rise between them in both paths alike."""
    xy, is_case = _study("uniform", 5)
    monkeypatch.setattr(_kernels, "CHUNK_ENTRIES", 2_000)
    small = _scan(xy, is_case, small=True, seed=5, direction=direction, permutations=150)
    compiled = _scan(xy, is_case, small=False, seed=5, direction=direction, permutations=150)
    assert small == compiled
    assert len(small[0]["clusters"]) >= 1


def test_the_ratio_table_is_the_compiled_ratio() -> None:
    n_total, c_total = 37, 12
    table = _small.llr_table(20, n_total, c_total)
    for n in range(1, 21):
        for c in range(min(n, c_total) + 1):
            expected = _kernels.llr_bernoulli(n, c, n_total, c_total)
            assert table[n, c] == expected  # the same float
    # by hand: 5 cases of 5 inside, 7 of 32 outside, 12 of 37 under the null
    inside_outside = 7 * math.log(7 / 32) + 25 * math.log(25 / 32)
    null = 12 * math.log(12 / 37) + 25 * math.log(25 / 37)
    assert table[5, 5] == pytest.approx(inside_outside - null)


@pytest.mark.parametrize("radius", [math.inf, 30.0])
def test_numpy_window_lists_are_the_compiled_lists(radius: float) -> None:
    rng = np.random.default_rng(2)
    xy = np.ascontiguousarray(rng.integers(0, 60, size=(150, 2)).astype(float))
    pop = rng.integers(1, 4, size=150)
    idx, dist = nearest_sorted_small(xy, 0, 150, 90, radius)
    for max_pop in (1, 40, 200):
        for a, b in zip(
            _small.window_lists_small(idx, dist, pop, max_pop),
            window_lists(idx, dist, pop, max_pop),
            strict=True,
        ):
            assert a.dtype == b.dtype
            assert np.array_equal(a, b)
