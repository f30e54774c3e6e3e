"""Risk-factor tables: each factor of the study compared between cases and controls.

What the published case-control studies of stunting report, with the test
chosen by the data and the reason given on every row:

- **categorical** factors (mother's knowledge, income below the minimum
  wage, exclusive breastfeeding, infectious disease): the cross-table of
  levels × case/control with row percentages; chi-square with Yates'
  correction (2×2), Pearson's chi-square (more levels), or — when an
  expected count is below 5 — Fisher's exact test (2×2) or the exact
  Fisher–Freeman–Halton test (more levels); the sample odds ratio of each
  level against the reference level with Woolf's 95 % CI.
- **ordinal** factors (mother's education): the same table, and the
  chi-square test for trend (Cochran–Armitage) as the main test.
- **continuous** factors (lighting, humidity, water manganese …): mean ± SD
  and median [IQR] by group; the point-biserial (Pearson) and Spearman
  correlations with the case indicator; Welch's t test when Shapiro–Wilk
  finds both groups compatible with normality (p ≥ 0.05), else the
  Mann–Whitney U test.
- an optional **multivariable logistic regression** (statsmodels) with
  adjusted odds ratios.

The factors, their types, reference levels and labels come from the study
file's ``[risk_factors]`` section (see `geo_stunting.study._risk_spec`) or, without
one, are inferred from the subjects' columns. Checked against R in
``tests/reference/risk_factors/``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo_stunting.errors import AnalysisError, Problem, StudyFileError
from geo_stunting.pipeline import StepOutput, register_step
from geo_stunting.risk_factors._logistic import (
    LogisticResult,
    SeparationError,
    logistic_regression,
)
from geo_stunting.risk_factors._respondents import join_respondents
from geo_stunting.risk_factors._tables import risk_factor_tables, risk_factor_tables_csv
from geo_stunting.stats._tables import (
    ContingencyTest,
    Correlation,
    contingency_test,
    describe,
    pearson,
    shapiro_wilk,
    spearman,
    trend_test,
    welch_t,
)
from geo_stunting.stats._twobytwo import MannWhitney, OddsRatio, mann_whitney, odds_ratio_woolf
from geo_stunting.study._config import DEFAULT_SEED
from geo_stunting.study._risk_spec import (
    ResolvedFactor,
    RiskFactorSpec,
    parse_risk_factor_section,
    resolve_factors,
)

if TYPE_CHECKING:
    from geo_stunting.study._study import Study

__all__ = [
    "FactorResult",
    "RiskFactorResults",
    "analyze_factor",
    "analyze_risk_factors",
    "parse_risk_factor_section",
    "risk_factor_section",
    "risk_factor_tables",
    "risk_factor_tables_csv",
    "risk_factors_step",
]

log = logging.getLogger(__name__)

#: Shapiro–Wilk p-value at or above which a group counts as compatible with normality.
NORMALITY_ALPHA = 0.05
_OR_METHOD = (
    "sample odds ratio (a*d)/(b*c) of being a case, this level vs the reference level; Woolf "
    "(logit) 95% CI; 0.5 added to every cell when a cell is 0 (Haldane-Anscombe)"
)


@dataclass(frozen=True)
class FactorResult:
    """One factor compared between cases and controls (one entry of ``risk_factors.factors``).

    Attributes
    ----------
    factor, label, type
        Column, label and ``"categorical"``, ``"ordinal"`` or ``"continuous"``.
    n, n_missing, n_cases, n_controls
        Subjects with a value (and without), cases and controls among them.
    reference, reference_reason
        The reference (unexposed) level and why it was chosen.
    levels
        Per level: ``level``, ``cases``, ``controls``, ``total``,
        ``row_pct_cases`` (% of the level's subjects who are cases),
        ``row_pct_controls``, ``pct_of_cases`` (% of cases with this level),
        ``pct_of_controls``, ``reference``, ``odds_ratio``, ``ci95``, ``haldane``.
    test, statistic, df, p_value, reason, method
        The main test, and why it was chosen.
    odds_ratio, ci95
        For a two-level factor, the odds ratio of the exposed level vs the reference.
    correlation_pearson, correlation_spearman
        Continuous factors: correlation with the case indicator (1 = case).
    details
        The other results: ``association`` (ordinal), ``groups``, ``normality``,
        ``mann_whitney``, ``welch`` (continuous).
    """

    factor: str
    label: str
    type: str
    n: int
    n_missing: int
    n_cases: int
    n_controls: int
    test: str
    statistic: float | None
    df: float | None
    p_value: float | None
    reason: str
    method: str = ""
    reference: str | None = None
    reference_reason: str = ""
    levels: tuple[dict[str, Any], ...] = ()
    odds_ratio: OddsRatio | None = None
    correlation_pearson: Correlation | None = None
    correlation_spearman: Correlation | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-able entry of ``results.json → risk_factors.factors``."""
        odds = self.odds_ratio
        return {
            "factor": self.factor,
            "label": self.label,
            "type": self.type,
            "n": self.n,
            "n_missing": self.n_missing,
            "n_cases": self.n_cases,
            "n_controls": self.n_controls,
            "reference": self.reference,
            "reference_reason": self.reference_reason,
            "levels": [dict(level) for level in self.levels],
            "test": self.test,
            "statistic": self.statistic,
            "df": self.df,
            "p_value": self.p_value,
            "reason": self.reason,
            "method": self.method,
            "odds_ratio": None if odds is None else odds.odds_ratio,
            "ci95": None if odds is None or odds.ci95 is None else list(odds.ci95),
            "correlation_pearson": None
            if self.correlation_pearson is None
            else self.correlation_pearson.to_dict(),
            "correlation_spearman": None
            if self.correlation_spearman is None
            else self.correlation_spearman.to_dict(),
            **self.details,
        }


@dataclass(frozen=True)
class RiskFactorResults:
    """Every factor of a study, the optional model, and how the factors were chosen."""

    factors: tuple[FactorResult, ...]
    n_cases: int
    n_controls: int
    inferred: bool
    logistic: dict[str, Any] | None = None
    respondents: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()
    seed: int = DEFAULT_SEED

    def to_dict(self) -> dict[str, Any]:
        """Return the ``risk_factors`` section of ``results.json``."""
        return {
            "source": "inferred from the subjects' columns"
            if self.inferred
            else "study file [risk_factors]",
            "n_cases": self.n_cases,
            "n_controls": self.n_controls,
            "factors": [f.to_dict() for f in self.factors],
            "logistic": self.logistic,
            "respondents": self.respondents,
            "notes": list(self.notes),
            "seed": self.seed,
            # every test of this section (tables, trend, correlations, logistic Wald) is two-sided
            "alternative": "two-sided",
        }


# --------------------------------------------------------------------------- one factor


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _level_rows(
    factor: ResolvedFactor, values: pd.Series, case: np.ndarray
) -> tuple[list[dict[str, Any]], np.ndarray, dict[str, OddsRatio]]:
    table = np.array(
        [
            [
                int(((values == lv).to_numpy() & case).sum()),
                int(((values == lv).to_numpy() & ~case).sum()),
            ]
            for lv in factor.levels
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    n_cases, n_controls = int(table[:, 0].sum()), int(table[:, 1].sum())
    ref = factor.levels.index(factor.reference) if factor.reference in factor.levels else None
    odds: dict[str, OddsRatio] = {}
    rows = []
    for pos, level in enumerate(factor.levels):
        a, b = (int(v) for v in table[pos])
        entry: dict[str, Any] = {
            "level": level,
            "cases": a,
            "controls": b,
            "total": a + b,
            "row_pct_cases": _pct(a, a + b),
            "row_pct_controls": _pct(b, a + b),
            "pct_of_cases": _pct(a, n_cases),
            "pct_of_controls": _pct(b, n_controls),
            "reference": pos == ref,
            "odds_ratio": None,
            "ci95": None,
            "haldane": False,
        }
        if ref is not None and pos != ref and a + b > 0:
            result = replace(odds_ratio_woolf([table[pos], table[ref]]), method=_OR_METHOD)
            odds[level] = result
            entry.update(
                odds_ratio=result.odds_ratio,
                ci95=None if result.ci95 is None else list(result.ci95),
                haldane=result.haldane,
            )
        rows.append(entry)
    return rows, table, odds


def _categorical(factor: ResolvedFactor, case_all: np.ndarray, seed: int) -> FactorResult:
    present = factor.values.notna().to_numpy()
    values, case = factor.values[present], case_all[present]
    rows, table, odds = _level_rows(factor, values, case)
    test: ContingencyTest = contingency_test(table, seed=seed)
    shape = f"{int((table.sum(axis=1) > 0).sum())}×2 table"
    details: dict[str, Any] = {"min_expected": test.min_expected}
    name, statistic, df, p_value = test.name, test.statistic, test.df, test.p_value
    reason, method = f"{shape}: {test.reason}", test.method
    if factor.kind == "ordinal":
        trend = trend_test(table[:, 0], table.sum(axis=1))
        details = {"association": test.to_dict()}
        details["trend"] = trend.to_dict()
        name, statistic, df, p_value = trend.name, trend.statistic, trend.df, trend.p_value
        reason = (
            f"ordered levels ({' < '.join(factor.levels)}): chi-square test for trend in the "
            "share of cases across the levels, scores 1, 2, 3, … (as R prop.trend.test); the "
            f"test without order is in 'association' ({test.name})"
        )
        method = "as R prop.trend.test"
    exposed = [lv for lv in factor.levels if lv != factor.reference]
    single = odds.get(exposed[0]) if len(factor.levels) == 2 and exposed else None
    return FactorResult(
        factor=factor.column,
        label=factor.label,
        type=factor.kind,
        n=len(values),
        n_missing=int((~present).sum()),
        n_cases=int(case.sum()),
        n_controls=int((~case).sum()),
        test=name,
        statistic=statistic,
        df=df,
        p_value=p_value,
        reason=reason,
        method=method,
        reference=factor.reference,
        reference_reason=factor.reference_reason,
        levels=tuple(rows),
        odds_ratio=single,
        details=details,
    )


def _choose_group_test(cases: np.ndarray, controls: np.ndarray) -> tuple[str, str, dict[str, Any]]:
    sw_cases, sw_controls = shapiro_wilk(cases), shapiro_wilk(controls)
    normality = {"cases": sw_cases.to_dict(), "controls": sw_controls.to_dict()}
    if len(cases) > 5000 and len(controls) > 5000:
        return "Welch t", "both groups exceed 5,000 values: the means are near normal", normality
    checks = {"cases": sw_cases.p_value, "controls": sw_controls.p_value}
    failed = {g: p for g, p in checks.items() if p is None or p < NORMALITY_ALPHA}
    if not failed:
        shown = ", ".join(f"{g} {p:.3g}" for g, p in checks.items() if p is not None)
        return (
            "Welch t",
            (
                f"Shapiro-Wilk p >= {NORMALITY_ALPHA:g} in both groups ({shown}): compatible "
                "with a normal distribution, so Welch's t test of the means (no equal-variance "
                "assumption)"
            ),
            normality,
        )
    shown = ", ".join(
        f"{g} {'not testable (fewer than 3 distinct values)' if p is None else f'{p:.3g}'}"
        for g, p in failed.items()
    )
    return (
        "Mann-Whitney U",
        (
            f"Shapiro-Wilk p < {NORMALITY_ALPHA:g} or not testable ({shown}): not normal, so the "
            "rank-based Mann-Whitney U test"
        ),
        normality,
    )


def _continuous(factor: ResolvedFactor, case_all: np.ndarray) -> FactorResult:
    x = factor.values.to_numpy(dtype=float)
    present = np.isfinite(x)
    x, case = x[present], case_all[present]
    cases, controls = x[case], x[~case]
    groups = {
        "all": describe(x).to_dict(),
        "cases": describe(cases).to_dict(),
        "controls": describe(controls).to_dict(),
    }
    indicator = case.astype(float)
    r_pb, rho = pearson(x, indicator), spearman(x, indicator)
    details: dict[str, Any] = {"groups": groups}
    if len(cases) == 0 or len(controls) == 0:
        name, reason = "not tested", "no values in one of the groups"
        statistic = p_value = df = None
        method = ""
    else:
        name, reason, normality = _choose_group_test(cases, controls)
        mw: MannWhitney = mann_whitney(cases, controls)
        welch = welch_t(cases, controls)
        details.update(normality=normality, mann_whitney=mw.to_dict(), welch=welch.to_dict())
        if name == "Welch t":
            statistic, df, p_value = welch.statistic, welch.df, welch.p_value
            method = "as R t.test(cases, controls) (Welch); statistic t of cases minus controls"
        else:
            statistic, df, p_value = mw.statistic, None, mw.p_value
            method = mw.method
    return FactorResult(
        factor=factor.column,
        label=factor.label,
        type="continuous",
        n=len(x),
        n_missing=int((~present).sum()),
        n_cases=len(cases),
        n_controls=len(controls),
        test=name,
        statistic=statistic,
        df=df,
        p_value=p_value,
        reason=reason,
        method=method,
        correlation_pearson=r_pb,
        correlation_spearman=rho,
        details=details,
    )


def analyze_factor(
    factor: ResolvedFactor, is_case: Any, *, seed: int = DEFAULT_SEED
) -> FactorResult:
    """Compare one factor between cases and controls.

    Parameters
    ----------
    factor
        A resolved factor (`geo_stunting.study._risk_spec.resolve_factors`).
    is_case
        ``True`` for cases, ``False`` for controls, aligned with ``factor.values``.
    seed
        Seed of the Monte Carlo fallback of the exact test (large tables only).

    Returns
    -------
    FactorResult
        The tables, the test chosen and why, odds ratios or correlations.
    """
    case = np.asarray(is_case, dtype=bool)
    if case.shape != (len(factor.values),):
        raise AnalysisError(Problem("is_case must have one value per subject"))
    if factor.kind == "continuous":
        return _continuous(factor, case)
    return _categorical(factor, case, seed)


# --------------------------------------------------------------------------- all factors


def analyze_risk_factors(
    subjects: pd.DataFrame,
    *,
    spec: RiskFactorSpec | Mapping[str, Any] | None = None,
    base: Path | None = None,
    seed: int = DEFAULT_SEED,
    rejected_ids: set[str] | None = None,
) -> RiskFactorResults:
    """Compare every risk factor between cases and controls.

    Parameters
    ----------
    subjects
        One row per subject with ``subject_id``, ``status`` (``"case"`` /
        ``"control"``) and the factor columns (a GeoDataFrame works too).
    spec
        The ``[risk_factors]`` section (a dict as read from TOML, or parsed);
        ``None`` infers the factors from the columns.
    base
        Folder that a relative respondents path is relative to.
    seed
        Seed of the Monte Carlo fallback of exact tests.
    rejected_ids
        Ids of subjects rejected at validation (to explain unjoined respondents).

    Returns
    -------
    RiskFactorResults
        Use ``.to_dict()`` for ``results.json``.

    Raises
    ------
    StudyFileError
        If the section is wrong or does not match the data.
    AnalysisError
        If there are no cases or no controls.

    Examples
    --------
    >>> import geo_stunting as gs
    >>> study = gs.load_study(gs.demo_study_path())
    >>> spec = {"categorical": ["mother_knowledge"], "reference": {"mother_knowledge": "good"}}
    >>> factor = analyze_risk_factors(study.subjects, spec=spec).factors[0]
    >>> factor.test, round(factor.odds_ratio.odds_ratio, 2)
    ('chi-square (Yates)', 4.4)
    """
    if spec is None:
        spec = RiskFactorSpec()
    elif not isinstance(spec, RiskFactorSpec):
        spec = parse_risk_factor_section(spec, base=base)
    status = subjects["status"].astype(str).to_numpy()
    keep = np.isin(status, ["case", "control"])
    data = pd.DataFrame(subjects.drop(columns="geometry", errors="ignore")).loc[keep]
    data = data.reset_index(drop=True)
    case = (data["status"] == "case").to_numpy()
    if case.all() or not case.any():
        raise AnalysisError(
            Problem(
                "risk factors compare cases with controls; there are no "
                + ("controls" if case.all() else "cases")
            )
        )
    notes: list[str] = []
    respondents = None
    if spec.respondents is not None:
        data, respondents, join_notes = join_respondents(
            data, spec.respondents, rejected_ids=rejected_ids
        )
        notes.extend(join_notes)
    factors, resolve_notes = resolve_factors(spec, data)
    notes.extend(resolve_notes)
    results = tuple(analyze_factor(f, case, seed=seed) for f in factors)
    logistic: dict[str, Any] | None = None
    if spec.logistic:
        by_name = {f.column: f for f in factors}
        wanted = [by_name[_match(name, by_name, spec.source)] for name in spec.logistic]
        try:
            model: LogisticResult = logistic_regression(wanted, case)
            logistic = model.to_dict()
        except AnalysisError as exc:
            logistic = {"status": "skipped", "factors": list(spec.logistic), "reason": str(exc)}
            if isinstance(exc, SeparationError):
                logistic["separated_terms"] = list(exc.terms)
            notes.append(f"logistic regression not fitted: {exc}")
    return RiskFactorResults(
        factors=results,
        n_cases=int(case.sum()),
        n_controls=int((~case).sum()),
        inferred=not spec.factors,
        logistic=logistic,
        respondents=respondents,
        notes=tuple(notes),
        seed=seed,
    )


def _match(name: str, factors: Mapping[str, ResolvedFactor], source: str) -> str:
    if name in factors:
        return name
    folded = {k.lower(): k for k in factors}
    if name.lower() in folded:
        return folded[name.lower()]
    raise StudyFileError(
        Problem(
            f"logistic names {name!r}, which is not a factor",
            file=source,
            column="[risk_factors] logistic",
            fix=f"use one of {sorted(factors)}",
        )
    )


def risk_factor_section(study: Study) -> dict[str, Any] | None:
    """The raw ``[risk_factors]`` table of a study, or ``None`` (factors inferred)."""
    return None if study.risk_factors is None else dict(study.risk_factors)


@register_step("risk_factors", title="Risk-factor tables", needs={"cases", "controls"})
def risk_factors_step(study: Study) -> StepOutput:
    """The ``risk_factors`` step: one entry per factor, and the optional logistic model."""
    section = risk_factor_section(study)
    source = str(study.source) if study.source is not None else "[risk_factors]"
    base = Path(study.source).parent if study.source is not None else None
    spec = (
        RiskFactorSpec(source=source)
        if section is None
        else parse_risk_factor_section(section, base=base, source=source)
    )
    rejected = {str(i) for i in study.rejects.get("id", pd.Series(dtype=object)) if str(i)}
    result = analyze_risk_factors(
        study.subjects, spec=spec, base=base, seed=study.settings.seed, rejected_ids=rejected
    )
    return StepOutput(section=result.to_dict(), notes=result.notes)
