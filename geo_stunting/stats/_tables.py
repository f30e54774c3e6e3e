"""Tests of tables and of two groups, generalising `geo_stunting.access._compare`.

The risk-factor step compares cases with controls for many factors. Its
tests are those of R, checked against R in ``tests/reference/risk_factors/``:

- `contingency_test`: a table of factor levels (rows) × case/control
  (columns). A 2×2 table is `geo_stunting.stats.table_test`
  (chi-square with Yates' correction, or Fisher's exact test when an
  expected count is below 5). A larger table gets Pearson's chi-square
  (R's ``chisq.test``; no continuity correction exists for it) or, when an
  expected count is below 5, the Fisher–Freeman–Halton exact test (R's
  ``fisher.test``). SciPy's ``fisher_exact`` computes larger tables only by
  Monte Carlo, so the exact p-value of an r×2 (or 2×c) table is computed
  here by enumerating every table with the observed margins, pruned as in
  the network algorithm; tables with both dimensions above 2 (or beyond
  `MAX_EXACT_STATES`) fall back to a seeded Monte Carlo test, which says so.
- `trend_test`: the chi-square test for trend in proportions
  (Cochran–Armitage, R's ``prop.trend.test``) for ordered levels.
- `pearson` (point-biserial with a 0/1 case indicator) and `spearman`, as
  R's ``cor.test`` (Spearman's p-value from the t approximation, R's
  ``exact = FALSE``, which R also uses whenever there are ties).
- `welch_t` (R's ``t.test``), `shapiro_wilk` (R's ``shapiro.test``) and
  `describe` (mean, SD, quartiles of R's type 7).

Mann–Whitney and the Woolf odds ratio are taken from `geo_stunting.stats._twobytwo`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.stats._describe import NumericSummary, describe, finite_or_none
from geo_stunting.stats._twobytwo import MIN_EXPECTED, table_test

__all__ = [
    "MAX_EXACT_STATES",
    "MONTE_CARLO_DRAWS",
    "ContingencyTest",
    "Correlation",
    "NumericSummary",
    "ShapiroWilk",
    "TrendTest",
    "WelchT",
    "contingency_test",
    "describe",
    "fisher_freeman_halton",
    "pearson",
    "shapiro_wilk",
    "spearman",
    "trend_test",
    "welch_t",
]

#: Partial tables kept at any step of the exact enumeration before falling back to Monte Carlo.
MAX_EXACT_STATES = 2_000_000
#: Monte Carlo tables drawn when an exact Fisher test is out of reach.
MONTE_CARLO_DRAWS = 99_999
#: Tables whose probability is within this relative tolerance of the observed count as ties (R).
_REL_ERR = 1 + 1e-7
#: The normal 97.5 % quantile, stats.norm.ppf(0.975) (tests/test_stats_import.py checks it):
#: a literal, so that importing the package does not import scipy.stats (0.8 s).
_Z975 = 1.959963984540054


@dataclass(frozen=True)
class ContingencyTest:
    """The test of a levels × case/control table.

    Attributes
    ----------
    name
        ``"chi-square (Yates)"``, ``"chi-square (Pearson)"``, ``"Fisher exact"``,
        ``"Fisher-Freeman-Halton exact"``, ``"Fisher-Freeman-Halton (Monte Carlo)"``
        or ``"not tested"``.
    statistic
        The chi-square statistic; ``None`` for exact tests.
    df
        Degrees of freedom of the chi-square test, else ``None``.
    p_value
        Two-sided p-value, or ``None`` when the table cannot be tested.
    min_expected
        The smallest expected count under independence.
    reason
        Why this test.
    method
        How the p-value was computed (exact, or Monte Carlo draws and seed).
    """

    name: str
    statistic: float | None
    df: int | None
    p_value: float | None
    min_expected: float | None
    reason: str
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "name": self.name,
            "statistic": finite_or_none(self.statistic),
            "df": self.df,
            "p_value": finite_or_none(self.p_value),
            "min_expected": finite_or_none(self.min_expected),
            "reason": self.reason,
            "method": self.method,
        }


@dataclass(frozen=True)
class TrendTest:
    """Chi-square test for trend in proportions (Cochran–Armitage), as R's ``prop.trend.test``.

    Attributes
    ----------
    statistic
        Chi-square with 1 degree of freedom.
    p_value
        Two-sided p-value.
    scores
        The score of each level (1, 2, 3, … by default).
    slope
        Change in the proportion of cases per score unit (weighted least squares);
        positive: more cases at higher levels.
    """

    statistic: float
    p_value: float | None
    scores: tuple[float, ...]
    slope: float | None
    name: str = "chi-square for trend (Cochran-Armitage)"
    df: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "name": self.name,
            "statistic": finite_or_none(self.statistic),
            "df": self.df,
            "p_value": finite_or_none(self.p_value),
            "scores": list(self.scores),
            "slope": finite_or_none(self.slope),
        }


@dataclass(frozen=True)
class Correlation:
    """A correlation with its test, as R's ``cor.test``.

    Attributes
    ----------
    method
        ``"pearson"`` or ``"spearman"``.
    estimate
        r (Pearson) or rho (Spearman); ``None`` when a variable is constant.
    statistic
        t (Pearson, ``df = n - 2``) or S (Spearman, R's statistic).
    p_value
        Two-sided p-value.
    ci95
        Fisher-z 95 % interval (Pearson with n ≥ 4), else ``None``.
    n
        Pairs used.
    """

    method: str
    estimate: float | None
    statistic: float | None
    p_value: float | None
    ci95: tuple[float, float] | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (``r`` or ``rho`` names the estimate)."""
        key = "r" if self.method == "pearson" else "rho"
        return {
            key: finite_or_none(self.estimate),
            "statistic": finite_or_none(self.statistic),
            "p_value": finite_or_none(self.p_value),
            "ci95": None if self.ci95 is None else [self.ci95[0], self.ci95[1]],
            "n": self.n,
        }


@dataclass(frozen=True)
class WelchT:
    """Welch's two-sample t test (R's ``t.test(x, y)``), x minus y."""

    statistic: float | None
    df: float | None
    p_value: float | None
    mean_difference: float | None
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "statistic": finite_or_none(self.statistic),
            "df": finite_or_none(self.df),
            "p_value": finite_or_none(self.p_value),
            "mean_difference": finite_or_none(self.mean_difference),
            "ci95": None if self.ci95 is None else [self.ci95[0], self.ci95[1]],
        }


@dataclass(frozen=True)
class ShapiroWilk:
    """Shapiro–Wilk test of normality (R's ``shapiro.test``); ``None`` when n < 3 or > 5000."""

    W: float | None
    p_value: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {"W": finite_or_none(self.W), "p_value": finite_or_none(self.p_value), "n": self.n}


# --------------------------------------------------------------------------- tables


def _counts(table: Any) -> np.ndarray:
    array = np.asarray(table)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        raise AnalysisError(Problem(f"a 2-D table of counts is needed, got shape {array.shape}"))
    if (array < 0).any() or not np.array_equal(array, np.round(array)):
        raise AnalysisError(Problem("the table must hold non-negative whole counts"))
    return array.astype(np.int64)


def contingency_test(table: Any, *, seed: int | None = None) -> ContingencyTest:
    """Test a levels × groups table for independence.

    Parameters
    ----------
    table
        Counts, rows the factor's levels and columns the groups (case, control).
        Rows and columns that are all zero are left out first.
    seed
        Seed of the Monte Carlo fallback (used only for tables with both
        dimensions above 2 and small expected counts, or too many to enumerate).

    Returns
    -------
    ContingencyTest
        2×2: `geo_stunting.stats.table_test` (chi-square with Yates'
        correction, or Fisher's exact test when an expected count is below 5).
        Larger: Pearson's chi-square, or the Fisher–Freeman–Halton exact test
        when an expected count is below 5.
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    counts = _counts(table)
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return ContingencyTest(
            "not tested",
            None,
            None,
            None,
            None,
            "fewer than two levels (or groups) have subjects",
        )
    if counts.shape == (2, 2):
        test = table_test(counts)
        return ContingencyTest(
            test.name,
            test.statistic,
            1 if test.statistic is not None else None,
            test.p_value,
            test.min_expected,
            test.reason,
            "two-sided, as R fisher.test" if test.statistic is None else "as R chisq.test",
        )
    total = counts.sum()
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / total
    min_expected = float(expected.min())
    if min_expected >= MIN_EXPECTED:
        chi2 = stats.chi2_contingency(counts, correction=False)
        return ContingencyTest(
            "chi-square (Pearson)",
            float(chi2.statistic),
            int(chi2.dof),
            float(chi2.pvalue),
            min_expected,
            f"every expected count is at least {MIN_EXPECTED:g} "
            f"({counts.shape[0]}×{counts.shape[1]} table: no continuity correction)",
            "as R chisq.test",
        )
    p_value, method = fisher_freeman_halton(counts, seed=seed)
    exact = method.startswith("exact")
    return ContingencyTest(
        "Fisher-Freeman-Halton exact" if exact else "Fisher-Freeman-Halton (Monte Carlo)",
        None,
        None,
        p_value,
        min_expected,
        f"an expected count is below {MIN_EXPECTED:g} ({min_expected:.3g})",
        method,
    )


def fisher_freeman_halton(table: Any, *, seed: int | None = None) -> tuple[float, str]:
    """Two-sided Fisher–Freeman–Halton p-value of an r×c table.

    The p-value is the total probability, given the margins, of every table
    no more probable than the observed one (relative tolerance 1e-7, as R).

    Parameters
    ----------
    table
        Counts; exact when a dimension is 2, else by seeded Monte Carlo.
    seed
        Seed of the Monte Carlo fallback.

    Returns
    -------
    tuple
        The p-value and how it was computed.
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    counts = _counts(table)
    if counts.shape[1] != 2 and counts.shape[0] == 2:
        counts = counts.T
    if counts.shape[1] == 2:
        exact = _exact_rx2(counts)
        if exact is not None:
            return (
                exact,
                "exact: every table with the observed margins enumerated (as R fisher.test)",
            )
    result = stats.fisher_exact(
        counts,
        method=stats.MonteCarloMethod(
            n_resamples=MONTE_CARLO_DRAWS, rng=np.random.default_rng(seed)
        ),
    )
    return float(result.pvalue), (
        f"Monte Carlo: {MONTE_CARLO_DRAWS} random tables with the observed margins, seed {seed} "
        "(the exact enumeration was too large)"
    )


def _log_choose(n: np.ndarray | int, k: np.ndarray | int) -> np.ndarray:
    from scipy import special  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    n_arr, k_arr = np.asarray(n, dtype=float), np.asarray(k, dtype=float)
    return np.asarray(
        special.gammaln(n_arr + 1) - special.gammaln(k_arr + 1) - special.gammaln(n_arr - k_arr + 1)
    )


def _exact_rx2(counts: np.ndarray) -> float | None:
    """Exact p-value of an r×2 table by pruned enumeration, or None when too large."""
    rows = counts.sum(axis=1)
    n1 = int(counts[:, 0].sum())
    r = len(rows)
    logc = [_log_choose(int(m), np.arange(int(m) + 1)) for m in rows]
    observed = float(sum(lc[x] for lc, x in zip(logc, counts[:, 0], strict=True)))
    threshold = observed + math.log(_REL_ERR)
    log_total = float(_log_choose(int(rows.sum()), n1))
    # Best and worst log-weights of the remaining rows k.. for each remaining sum s.
    hi = np.full((r + 1, n1 + 1), -np.inf)
    lo = np.full((r + 1, n1 + 1), np.inf)
    hi[r, 0] = lo[r, 0] = 0.0
    for k in range(r - 1, -1, -1):
        for x in range(min(int(rows[k]), n1) + 1):
            hi[k, x:] = np.maximum(hi[k, x:], logc[k][x] + hi[k + 1, : n1 + 1 - x])
            lo[k, x:] = np.minimum(lo[k, x:], logc[k][x] + lo[k + 1, : n1 + 1 - x])
    remaining = np.concatenate([np.cumsum(rows[::-1])[::-1], [0]])
    total = 0.0
    taken = np.zeros(1, dtype=np.int64)  # cases placed so far
    weight = np.zeros(1)  # sum of log C over the rows done
    mult = np.ones(1)  # how many partial tables share (taken, weight)
    for k in range(r + 1):
        need = n1 - taken
        feasible = np.isfinite(hi[k, need])
        best = weight + hi[k, need]
        worst = weight + lo[k, need]
        whole = feasible & (best <= threshold)
        if whole.any():
            # every completion is at least as extreme: add them all (Vandermonde's identity)
            total += float(
                np.sum(
                    mult[whole]
                    * np.exp(
                        weight[whole] + _log_choose(int(remaining[k]), need[whole]) - log_total
                    )
                )
            )
        open_ = feasible & ~whole & (worst <= threshold)
        if k == r or not open_.any():
            break
        taken, weight, mult = taken[open_], weight[open_], mult[open_]
        xs = np.arange(min(int(rows[k]), n1) + 1)
        taken = (taken[:, None] + xs[None, :]).ravel()
        weight = (weight[:, None] + logc[k][xs][None, :]).ravel()
        mult = np.repeat(mult, len(xs))
        keep = taken <= n1
        taken, weight, mult = taken[keep], weight[keep], mult[keep]
        # merge partial tables with the same cases placed and the same weight
        key = np.round(weight, 9)
        order = np.lexsort((key, taken))
        taken, weight, mult, key = taken[order], weight[order], mult[order], key[order]
        new = np.ones(len(taken), dtype=bool)
        new[1:] = (taken[1:] != taken[:-1]) | (key[1:] != key[:-1])
        starts = np.flatnonzero(new)
        mult = np.add.reduceat(mult, starts)
        taken, weight = taken[starts], weight[starts]
        if len(taken) > MAX_EXACT_STATES:
            return None
    return min(total, 1.0)


def trend_test(cases: Any, totals: Any, *, scores: Any = None) -> TrendTest:
    """Chi-square test for trend in the proportion of cases across ordered levels.

    Parameters
    ----------
    cases
        Cases at each level, in order.
    totals
        Subjects (cases + controls) at each level.
    scores
        Score of each level; default 1, 2, 3, … (R's ``prop.trend.test``).

    Returns
    -------
    TrendTest
        R's ``prop.trend.test(cases, totals, score)``: the regression sum of
        squares of the proportions on the scores, weighted by n / (p (1 − p)).
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    x = np.asarray(cases, dtype=float)
    n = np.asarray(totals, dtype=float)
    s = np.arange(1, len(x) + 1, dtype=float) if scores is None else np.asarray(scores, float)
    if not (x.shape == n.shape == s.shape) or x.ndim != 1:
        raise AnalysisError(Problem("cases, totals and scores must be 1-D and of equal length"))
    keep = n > 0
    x, n, s = x[keep], n[keep], s[keep]
    p = x.sum() / n.sum() if n.sum() else math.nan
    sbar = float(np.sum(n * s) / n.sum()) if n.sum() else math.nan
    sxx = float(np.sum(n * (s - sbar) ** 2))
    if len(x) < 2 or not 0 < p < 1 or sxx == 0:
        return TrendTest(math.nan, None, tuple(float(v) for v in s), None)
    sxy = float(np.sum(n * (s - sbar) * (x / n - p)))
    statistic = sxy**2 / (p * (1 - p) * sxx)
    return TrendTest(
        float(statistic),
        float(stats.chi2.sf(statistic, 1)),
        tuple(float(v) for v in s),
        sxy / sxx,
    )


# --------------------------------------------------------------------------- two groups


def _pairs(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise AnalysisError(Problem("x and y must be 1-D and of equal length"))
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def pearson(x: Any, y: Any) -> Correlation:
    """Pearson's r with R's ``cor.test`` t test and Fisher-z 95 % interval.

    With a 0/1 case indicator as `y` this is the point-biserial correlation
    (positive: higher values among cases). Pairs with a missing value are dropped.
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    a, b = _pairs(x, y)
    n = len(a)
    if n < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation("pearson", None, None, None, None, n)
    r = float(np.corrcoef(a, b)[0, 1])
    r = max(-1.0, min(1.0, r))
    df = n - 2
    if abs(r) == 1.0:
        t, p = math.copysign(math.inf, r), 0.0
    else:
        t = r * math.sqrt(df / (1 - r * r))
        p = float(2 * stats.t.sf(abs(t), df))
    ci = None
    if n >= 4 and abs(r) < 1:
        z, half = math.atanh(r), _Z975 / math.sqrt(n - 3)
        ci = (math.tanh(z - half), math.tanh(z + half))
    return Correlation("pearson", r, t, p, ci, n)


def spearman(x: Any, y: Any) -> Correlation:
    """Spearman's rho with the p-value of R's ``cor.test(method = "spearman", exact = FALSE)``.

    The statistic is R's S = (n³ − n)(1 − rho) / 6; the p-value comes from
    t = rho √((n − 2) / (1 − rho²)) with n − 2 degrees of freedom.
    """
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    a, b = _pairs(x, y)
    n = len(a)
    if n < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation("spearman", None, None, None, None, n)
    rho = float(np.corrcoef(stats.rankdata(a), stats.rankdata(b))[0, 1])
    rho = max(-1.0, min(1.0, rho))
    s_stat = (n**3 - n) * (1 - rho) / 6
    if abs(rho) == 1.0:
        p = 0.0
    else:
        t = rho * math.sqrt((n - 2) / (1 - rho * rho))
        p = float(2 * stats.t.sf(abs(t), n - 2))
    return Correlation("spearman", rho, s_stat, p, None, n)


def welch_t(x: Any, y: Any) -> WelchT:
    """Welch's t test of mean(x) − mean(y), as R's ``t.test(x, y)`` (NaN dropped)."""
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return WelchT(None, None, None, None, None)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(a.mean() - b.mean())
    se2 = va + vb
    if se2 == 0:
        return WelchT(None, None, None, diff, None)
    se = math.sqrt(se2)
    df = se2**2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = diff / se
    half = float(stats.t.ppf(0.975, df)) * se
    return WelchT(t, float(df), float(2 * stats.t.sf(abs(t), df)), diff, (diff - half, diff + half))


def shapiro_wilk(values: Any) -> ShapiroWilk:
    """Shapiro–Wilk W and p-value (R's ``shapiro.test``) for 3 ≤ n ≤ 5000, else ``None``."""
    from scipy import stats  # noqa: PLC0415 - on first use: the package imports in 0.8 s less

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n < 3 or n > 5000 or np.ptp(v) == 0:
        return ShapiroWilk(None, None, n)
    result = stats.shapiro(v)
    return ShapiroWilk(float(result.statistic), float(result.pvalue), n)
