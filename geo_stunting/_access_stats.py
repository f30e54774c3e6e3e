"""Cases versus controls for facility access: the 2×2 table, odds ratio, Mann–Whitney.

The 2×2 table is laid out as epidemiology tables are::

                 case   control
    within        a        b
    outside       c        d

- The test is Pearson's chi-square with Yates' continuity correction (R's
  ``chisq.test(x, correct = TRUE)``), or Fisher's exact test (R's
  ``fisher.test(x)``, two-sided) when an expected count is below 5.
- The odds ratio is the *sample* odds ratio ``(a·d) / (b·c)``: the odds of
  living within the buffer for cases divided by those odds for controls
  (above 1: cases more often within). Its 95 % interval is Woolf's (logit):
  ``exp(log OR ± 1.959964·√(1/a + 1/b + 1/c + 1/d))``. When a cell is zero,
  0.5 is added to every cell first (Haldane–Anscombe). This is *not* the
  conditional maximum-likelihood estimate that R's ``fisher.test`` prints.
- Distances are compared with the two-sided Mann–Whitney U test using the
  normal approximation with continuity correction and the tie-corrected
  variance, as R's ``wilcox.test(cases, controls, exact = FALSE,
  correct = TRUE)``; the statistic is U of the cases (R's ``W``).

Reference values: tests/reference/access/access_tests.R.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geo_stunting._errors import AnalysisError, Problem

__all__ = [
    "AccessComparison",
    "DistanceSummary",
    "MannWhitney",
    "OddsRatio",
    "TableTest",
    "compare_access",
    "compare_within",
    "distance_summary",
    "mann_whitney",
    "odds_ratio_woolf",
    "table_test",
]

#: Below this expected count the chi-square test gives way to Fisher's exact test.
MIN_EXPECTED = 5.0
_Z975 = float(stats.norm.ppf(0.975))
_MW_METHOD = (
    "two-sided Mann-Whitney U test, normal approximation with continuity correction and "
    "tie-corrected variance (as R wilcox.test(cases, controls, exact = FALSE, correct = TRUE)); "
    "statistic = U of the cases (R's W)"
)
_OR_METHOD = (
    "sample odds ratio (a*d)/(b*c) of living within the buffer, cases vs controls; Woolf (logit) "
    "95% CI; 0.5 added to every cell when a cell is 0 (Haldane-Anscombe)"
)


def _float_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


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
            "statistic": _float_or_none(self.statistic),
            "p_value": _float_or_none(self.p_value),
            "min_expected": float(self.min_expected),
            "reason": self.reason,
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
            "odds_ratio": _float_or_none(self.odds_ratio),
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
            "p_value": _float_or_none(self.p_value),
            "method": self.method,
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
            "median_m": _float_or_none(self.median_m),
            "q1_m": _float_or_none(self.q1_m),
            "q3_m": _float_or_none(self.q3_m),
            "iqr_m": _float_or_none(self.iqr_m),
            "max_m": _float_or_none(self.max_m),
        }


@dataclass(frozen=True)
class AccessComparison:
    """Access of cases compared with controls at one buffer distance.

    Attributes
    ----------
    buffer_m
        The buffer radius; within means distance ≤ `buffer_m`.
    cases_within, cases_outside, controls_within, controls_outside
        The 2×2 table.
    share_cases_within, share_controls_within
        Shares within the buffer.
    test
        Chi-square (Yates) or Fisher's exact test of the table.
    odds
        Sample odds ratio of being within, cases vs controls, with Woolf CI.
    distance
        Distance summaries: ``{"cases": ..., "controls": ...}``.
    mann_whitney
        Mann–Whitney U test of the distances.
    """

    buffer_m: float
    cases_within: int
    cases_outside: int
    controls_within: int
    controls_outside: int
    share_cases_within: float
    share_controls_within: float
    test: TableTest
    odds: OddsRatio
    distance: Mapping[str, DistanceSummary]
    mann_whitney: MannWhitney

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able dict used in ``results.json["access"]``."""
        odds = self.odds.to_dict()
        return {
            "buffer_m": float(self.buffer_m),
            "cases_within": self.cases_within,
            "cases_outside": self.cases_outside,
            "controls_within": self.controls_within,
            "controls_outside": self.controls_outside,
            "share_cases_within": float(self.share_cases_within),
            "share_controls_within": float(self.share_controls_within),
            "distance": {group: s.to_dict() for group, s in self.distance.items()},
            "test": self.test.to_dict(),
            "mann_whitney": self.mann_whitney.to_dict(),
            "odds_ratio": odds["odds_ratio"],
            "ci95": odds["ci95"],
            "odds_ratio_method": odds["method"],
            "odds_ratio_haldane": odds["haldane"],
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
    values = np.asarray(distances, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return DistanceSummary(0, None, None, None, None, None)
    q1, median, q3 = (float(v) for v in np.quantile(values, [0.25, 0.5, 0.75]))
    return DistanceSummary(len(values), median, q1, q3, q3 - q1, float(values.max()))


def compare_within(distance_m: Any, is_case: Any, *, buffer_m: float) -> AccessComparison:
    """Compare cases with controls from arrays of distances and case flags.

    Parameters
    ----------
    distance_m
        Distance of each subject to the nearest facility, in metres.
    is_case
        ``True`` for cases, ``False`` for controls.
    buffer_m
        Within means distance ≤ `buffer_m` (a tie counts as within).

    Returns
    -------
    AccessComparison
        The 2×2 table, its test, the odds ratio and the distance comparison.

    Raises
    ------
    AnalysisError
        If there are no cases or no controls, or a distance is missing.
    """
    distance = np.asarray(distance_m, dtype=float)
    case = np.asarray(is_case, dtype=bool)
    if distance.shape != case.shape or distance.ndim != 1:
        raise AnalysisError(Problem("distance_m and is_case must be 1-D and of equal length"))
    if np.isnan(distance).any():
        raise AnalysisError(
            Problem(
                f"{int(np.isnan(distance).sum())} distance(s) are missing",
                fix="compute them with geo_stunting.access.coverage",
            )
        )
    n_cases, n_controls = int(case.sum()), int((~case).sum())
    if n_cases == 0 or n_controls == 0:
        missing = "cases" if n_cases == 0 else "controls"
        raise AnalysisError(
            Problem(
                f"the comparison needs cases and controls; there are no {missing}",
                fix="add them, or read only the coverage figures",
            )
        )
    within = distance <= buffer_m
    a, c = int((within & case).sum()), int((~within & case).sum())
    b, d = int((within & ~case).sum()), int((~within & ~case).sum())
    table = [[a, b], [c, d]]
    return AccessComparison(
        buffer_m=float(buffer_m),
        cases_within=a,
        cases_outside=c,
        controls_within=b,
        controls_outside=d,
        share_cases_within=a / n_cases,
        share_controls_within=b / n_controls,
        test=table_test(table),
        odds=odds_ratio_woolf(table),
        distance={
            "cases": distance_summary(distance[case]),
            "controls": distance_summary(distance[~case]),
        },
        mann_whitney=mann_whitney(distance[case], distance[~case]),
    )


def compare_access(
    subjects_access: pd.DataFrame, *, buffer_m: float, distance_column: str = "distance_m"
) -> AccessComparison:
    """Compare the access of cases with that of controls.

    Parameters
    ----------
    subjects_access
        Subjects with ``status`` (``"case"``/``"control"``) and a distance
        column, e.g. from `geo_stunting.access.coverage`.
    buffer_m
        Within means distance ≤ `buffer_m`; any radius may be asked for, not
        only the one the flags were computed with.
    distance_column
        The distance to compare, e.g. ``"distance_puskesmas_m"``.

    Returns
    -------
    AccessComparison
        Use ``.to_dict()`` for ``results.json``.

    Raises
    ------
    AnalysisError
        If a column is missing, or there are no cases or no controls.
    """
    missing = [c for c in ("status", distance_column) if c not in subjects_access.columns]
    if missing:
        raise AnalysisError(
            Problem(
                f"subjects_access has no column(s) {missing}",
                fix="compute it with geo_stunting.access.coverage(subjects, facilities, "
                "buffer_m=...)",
            )
        )
    if not buffer_m > 0 or not math.isfinite(buffer_m):
        raise AnalysisError(Problem(f"buffer_m must be a positive number, got {buffer_m!r}"))
    status = subjects_access["status"].to_numpy()
    groups = np.isin(status, ["case", "control"])
    return compare_within(
        subjects_access[distance_column].to_numpy(dtype=float)[groups],
        (status == "case")[groups],
        buffer_m=buffer_m,
    )
