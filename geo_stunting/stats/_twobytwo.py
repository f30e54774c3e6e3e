"""Two groups and a 2×2 table: chi-square or Fisher, Woolf odds ratio, Mann–Whitney.

The one home of these statistics: the access step compares cases with
controls inside and outside the buffer with them, and the risk-factor tables
use them for every two-level factor.

The 2×2 table is laid out as epidemiology tables are::

                 case   control
    exposed       a        b
    unexposed     c        d

- The test is Pearson's chi-square with Yates' continuity correction (R's
  ``chisq.test(x, correct = TRUE)``), or Fisher's exact test (R's
  ``fisher.test(x)``, two-sided) when an expected count is below 5.
- The odds ratio is the *sample* odds ratio ``(a·d) / (b·c)``. Its 95 %
  interval is Woolf's (logit): ``exp(log OR ± 1.959964·√(1/a + 1/b + 1/c +
  1/d))``. When a cell is zero, 0.5 is added to every cell first
  (Haldane–Anscombe). This is *not* the conditional maximum-likelihood
  estimate that R's ``fisher.test`` prints.
- Two groups of values are compared with the two-sided Mann–Whitney U test
  using the normal approximation with continuity correction and the
  tie-corrected variance, as R's ``wilcox.test(x, y, exact = FALSE,
  correct = TRUE)``; the statistic is U of the first group (R's ``W``).

Reference values: tests/reference/access/access_tests.R.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.stats._describe import describe, finite_or_none

__all__ = [
    "MIN_EXPECTED",
    "DistanceSummary",
    "MannWhitney",
    "OddsRatio",
    "TableTest",
    "distance_summary",
    "mann_whitney",
    "odds_ratio_woolf",
    "table_test",
]

#: Below this expected count the chi-square test gives way to Fisher's exact test.
MIN_EXPECTED = 5.0
#: The normal 97.5 % quantile, stats.norm.ppf(0.975) (tests/test_stats_import.py checks it):
#: a literal, so that importing the package does not import scipy.stats (0.8 s).
_Z975 = 1.959963984540054
_MW_METHOD = (
    "two-sided Mann-Whitney U test, normal approximation with continuity correction and "
    "tie-corrected variance (as R wilcox.test(cases, controls, exact = FALSE, correct = TRUE)); "
    "statistic = U of the cases (R's W)"
)
_OR_METHOD = (
    "sample odds ratio (a*d)/(b*c) of living within the buffer, cases vs controls; Woolf (logit) "
    "95% CI; 0.5 added to every cell when a cell is 0 (Haldane-Anscombe)"
)


@dataclass(frozen=True)
class TableTest:
    """The test of a 2×2 table.

    Attributes
    ----------
    name
        ``"chi-square (Yates)"`` or ``"Fisher exact"``.
    statistic
        The chi-square statistic; ``None`` for Fisher's exact test (it has none).
    p_value
        Two-sided p-value.
    min_expected
        The smallest expected count under independence.
    reason
        Why this test was chosen.
    """

    name: str
    statistic: float | None
    p_value: float
    min_expected: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "name": self.name,
            "statistic": finite_or_none(self.statistic),
            "p_value": finite_or_none(self.p_value),
            "min_expected": float(self.min_expected),
            "reason": self.reason,
            "alternative": "two-sided",
        }


@dataclass(frozen=True)
class OddsRatio:
    """Sample odds ratio with its Woolf 95 % confidence interval.

    Attributes
    ----------
    odds_ratio
        ``(a·d) / (b·c)`` after the Haldane correction if applied; ``None`` when
        a row or column of the table is empty (not estimable).
    ci95
        Lower and upper Woolf (logit) limits, or ``None``.
    haldane
        Whether 0.5 was added to every cell because a cell was zero.
    method
        A sentence saying how it was computed and in which direction.
    """

    odds_ratio: float | None
    ci95: tuple[float, float] | None
    haldane: bool
    method: str = _OR_METHOD

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "odds_ratio": finite_or_none(self.odds_ratio),
            "ci95": None if self.ci95 is None else [float(self.ci95[0]), float(self.ci95[1])],
            "haldane": self.haldane,
            "method": self.method,
        }


@dataclass(frozen=True)
class MannWhitney:
    """Two-sided Mann–Whitney U test of cases' against controls' distances.

    Attributes
    ----------
    statistic
        U of the first group (the cases), R's ``W``.
    p_value
        Two-sided p-value; ``None`` when every distance is tied (R gives NA).
    method
        How the p-value was computed.
    """

    statistic: float
    p_value: float | None
    method: str = _MW_METHOD

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "statistic": float(self.statistic),
            "p_value": finite_or_none(self.p_value),
            "method": self.method,
            "alternative": "two-sided",
        }


@dataclass(frozen=True)
class DistanceSummary:
    """Distances of one group: n, median, quartiles (R type 7), IQR and maximum, in metres."""

    n: int
    median_m: float | None
    q1_m: float | None
    q3_m: float | None
    iqr_m: float | None
    max_m: float | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "n": self.n,
            "median_m": finite_or_none(self.median_m),
            "q1_m": finite_or_none(self.q1_m),
            "q3_m": finite_or_none(self.q3_m),
            "iqr_m": finite_or_none(self.iqr_m),
            "max_m": finite_or_none(self.max_m),
        }


def _table(table: Any) -> np.ndarray:
    array = np.asarray(table)
    if array.shape != (2, 2) or not np.issubdtype(array.dtype, np.number):
        raise AnalysisError(Problem(f"a 2×2 table of counts is needed, got shape {array.shape}"))
    if (array < 0).any() or not np.array_equal(array, np.round(array)):
        raise AnalysisError(Problem("the 2×2 table must hold non-negative whole counts"))
    return array.astype(np.int64)


def table_test(table: Any) -> TableTest:
    """Test a 2×2 table: chi-square with Yates' correction, or Fisher's exact test.

    Parameters
    ----------
    table
        ``[[a, b], [c, d]]`` counts (rows within/outside, columns case/control).

    Returns
    -------
    TableTest
        Fisher's exact test (two-sided, as R's ``fisher.test``) when an expected
        count is below 5, else Pearson's chi-square with Yates' continuity
        correction (as R's ``chisq.test(correct = TRUE)``).
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    counts = _table(table)
    total = counts.sum()
    expected = (
        np.outer(counts.sum(axis=1), counts.sum(axis=0)) / total if total else np.zeros((2, 2))
    )
    min_expected = float(expected.min())
    if min_expected < MIN_EXPECTED:
        result = stats.fisher_exact(counts, alternative="two-sided")
        return TableTest(
            "Fisher exact",
            None,
            float(result.pvalue),
            min_expected,
            f"an expected count is below {MIN_EXPECTED:g} ({min_expected:.3g})",
        )
    chi2 = stats.chi2_contingency(counts, correction=True)
    return TableTest(
        "chi-square (Yates)",
        float(chi2.statistic),
        float(chi2.pvalue),
        min_expected,
        f"every expected count is at least {MIN_EXPECTED:g}",
    )


def odds_ratio_woolf(table: Any) -> OddsRatio:
    """Sample odds ratio ``(a·d)/(b·c)`` with Woolf's (logit) 95 % confidence interval.

    Parameters
    ----------
    table
        ``[[a, b], [c, d]]`` counts: rows within/outside, columns case/control,
        so the ratio is the odds of being within for cases over that of controls.

    Returns
    -------
    OddsRatio
        With 0.5 added to every cell when any cell is 0 (Haldane–Anscombe);
        ``None`` when a whole row or column is 0 (the ratio is not estimable).
    """
    counts = _table(table).astype(float)
    if (counts.sum(axis=0) == 0).any() or (counts.sum(axis=1) == 0).any():
        return OddsRatio(None, None, haldane=False)
    haldane = bool((counts == 0).any())
    if haldane:
        counts = counts + 0.5
    (a, b), (c, d) = counts
    log_or = math.log(a) + math.log(d) - math.log(b) - math.log(c)
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return OddsRatio(
        math.exp(log_or),
        (math.exp(log_or - _Z975 * se), math.exp(log_or + _Z975 * se)),
        haldane=haldane,
    )


def mann_whitney(x: Any, y: Any) -> MannWhitney:
    """Two-sided Mann–Whitney U test, normal approximation with continuity correction.

    Parameters
    ----------
    x, y
        The two samples (cases first); NaN values are dropped.

    Returns
    -------
    MannWhitney
        U of `x` and the p-value of R's ``wilcox.test(x, y, exact = FALSE,
        correct = TRUE)``; the p-value is ``None`` when all values are tied.
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        raise AnalysisError(Problem("the Mann-Whitney test needs values in both groups"))
    result = stats.mannwhitneyu(
        a, b, alternative="two-sided", use_continuity=True, method="asymptotic"
    )
    tied = np.unique(np.concatenate([a, b])).size == 1
    return MannWhitney(float(result.statistic), None if tied else float(result.pvalue))


def distance_summary(distances: Any) -> DistanceSummary:
    """Median, quartiles (linear interpolation, R's type 7), IQR and maximum."""
    s = describe(distances)
    if s.n == 0:
        return DistanceSummary(0, None, None, None, None, None)
    q1, q3 = float(s.q1 or 0.0), float(s.q3 or 0.0)  # both set when n > 0
    return DistanceSummary(s.n, s.median, q1, q3, q3 - q1, s.max)
