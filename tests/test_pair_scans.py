"""The fast paths of the pair scans give the same numbers as the full scan."""

from __future__ import annotations

import numpy as np
import pytest

from geo_stunting.pattern._pairs import breaks_from_r, k_estimates
from tests.pattern_fixture import fixture_subjects, fixture_window

WINDOW = fixture_window(fixture_subjects())


@pytest.mark.parametrize(
    "r",
    [np.linspace(0.0, 900.0, 101), np.r_[0.0, np.geomspace(1.0, 900.0, 40)]],
    ids=["even", "uneven"],
)
def test_border_alone_equals_border_of_the_full_scan(r: np.ndarray) -> None:
    xy = WINDOW.random_points(3000, rng=np.random.default_rng(11))
    breaks = breaks_from_r(r)
    full = k_estimates(xy, WINDOW, breaks, corrections=("border", "none"))["border"]
    alone = k_estimates(xy, WINDOW, breaks, corrections=("border",), threads=1)["border"]
    shared = k_estimates(xy, WINDOW, breaks, corrections=("border",), threads=3)["border"]
    assert np.isfinite(full[1:]).all()
    assert alone.tobytes() == full.tobytes()
    assert shared.tobytes() == full.tobytes()
