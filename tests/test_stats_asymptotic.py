"""The access step's chi-square and Mann-Whitney without scipy.stats: SciPy's values bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from geo_stunting.stats._asymptotic import Z975, chi2_yates, mann_whitney_asymptotic


def test_the_normal_quantile_is_scipys() -> None:
    assert float(stats.norm.ppf(0.975)) == Z975


@pytest.mark.parametrize("seed", range(40))
def test_chi2_yates_is_scipys_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scale = [5, 50, 5_000, 500_000][seed % 4]
    counts = rng.integers(1, scale, size=(2, 2))
    if seed % 5 == 0:
        counts[0, 0] = counts[1, 1] = 7  # |O - E| below 0.5 in some cells: the capped correction
        counts[0, 1] = counts[1, 0] = 7
    expected = stats.chi2_contingency(counts, correction=True)
    assert chi2_yates(counts) == (float(expected.statistic), float(expected.pvalue))


@pytest.mark.parametrize("seed", range(40))
def test_mann_whitney_is_scipys_bit_for_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(1, 3_000, size=2)
    if seed % 3 == 0:  # many ties, as rounded distances have
        x, y = rng.integers(0, 20, n1).astype(float), rng.integers(0, 25, n2).astype(float)
    else:
        x, y = rng.exponential(900.0, n1), rng.exponential(1_100.0, n2)
    expected = stats.mannwhitneyu(
        x, y, alternative="two-sided", use_continuity=True, method="asymptotic"
    )
    assert mann_whitney_asymptotic(x, y) == (float(expected.statistic), float(expected.pvalue))


def test_all_tied_gives_what_scipy_gives() -> None:
    x, y = np.full(4, 3.0), np.full(6, 3.0)
    expected = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    got = mann_whitney_asymptotic(x, y)
    assert got[0] == float(expected.statistic)
    assert np.isnan(got[1]) == np.isnan(expected.pvalue)
