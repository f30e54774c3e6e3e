"""The bandwidth search of a small study in NumPy chooses the compiled search's bandwidth.

`geo_stunting.scan._small_bandwidth` sums the same kernel terms as the
compiled `_truncated_sums`, in another order: the criterion agrees to
rounding and the chosen bandwidth is the same (ties, duplicate homes, one
far village, a lone case included). Agreement with spatstat's ``bw.relrisk``
is checked in `tests/test_relative_risk.py` on the grave data.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo_stunting.scan import _bandwidth


def _choose(xy: np.ndarray, is_case: np.ndarray, *, small: bool) -> _bandwidth.BandwidthChoice:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_bandwidth, "SMALL_BANDWIDTH_POINTS", 10**9 if small else 0)
        return _bandwidth.bandwidth_relrisk(
            xy[:, 0], xy[:, 1], is_case, window=shapely.box(-6_000, -6_000, 26_000, 26_000)
        )


@pytest.mark.parametrize("kind", ["uniform", "duplicates", "far village", "lone case"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_bandwidth_search_is_the_compiled_search(kind: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 201
    if kind == "duplicates":  # homes on a coarse grid: many equal distances, shared places
        xy = rng.integers(0, 20, size=(n, 2)) * 250.0
    elif kind == "far village":
        xy = np.vstack([rng.normal(0, 300, (150, 2)), rng.normal(20_000, 200, (n - 150, 2))])
    else:
        xy = rng.uniform(0, 5_000, size=(n, 2))
    is_case = rng.random(n) < np.where(xy[:, 0] < 1_500, 0.6, 0.25)
    if kind == "lone case":
        is_case[:] = False
        is_case[:2] = True
    small = _choose(xy, is_case, small=True)
    compiled = _choose(xy, is_case, small=False)
    assert small.bandwidth_m == compiled.bandwidth_m
    assert np.array_equal(small.candidates_m, compiled.candidates_m)
    finite = np.isfinite(compiled.criterion)
    assert np.array_equal(np.isfinite(small.criterion), finite)
    np.testing.assert_allclose(small.criterion[finite], compiled.criterion[finite], rtol=1e-13)
