"""Multivariable logistic regression of case status on risk factors (statsmodels).

The model is R's ``glm(case ~ ..., family = binomial)``: the log-odds of
being a case on an intercept, one indicator per non-reference level of each
categorical or ordinal factor (treatment coding), and each continuous factor
per unit. Subjects with a missing value in any model factor are left out
(complete cases) and counted. Adjusted odds ratios are ``exp(coefficient)``
with Wald 95 % intervals ``exp(b ± 1.959964·SE)`` (R's ``confint.default``)
and Wald z p-values, as R's ``summary.glm``.

statsmodels is a dependency, imported only when a model is fitted (it is slow to import).
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.risk_factors._separation import separated_terms

if TYPE_CHECKING:
    from geo_stunting.study._risk_spec import ResolvedFactor

__all__ = [
    "INSTALL_HINT",
    "LogisticResult",
    "ModelTerm",
    "SeparationError",
    "logistic_regression",
]

INSTALL_HINT = "pip install statsmodels"
_Z975 = float(stats.norm.ppf(0.975))
#: Fewer cases (or controls) than this per model term makes the estimates unstable.
MIN_EVENTS_PER_TERM = 10
METHOD = (
    "logistic regression (statsmodels GLM, binomial family, logit link; as R glm(family = "
    "binomial)); complete cases; treatment coding against each factor's reference level; "
    "adjusted odds ratio = exp(coefficient × per), Wald 95% CI exp((b ± 1.96 SE) × per) as R "
    "confint.default (per = 1 unless set in [risk_factors] per); Wald z p-values"
)


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class ModelTerm:
    """One coefficient: a level of a factor against its reference, or a continuous factor."""

    term: str
    factor: str
    level: str | None
    coefficient: float
    se: float
    z: float
    p_value: float
    odds_ratio: float
    ci95: tuple[float, float]
    per: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "term": self.term,
            "factor": self.factor,
            "level": self.level,
            "coefficient": _num(self.coefficient),
            "se": _num(self.se),
            "z": _num(self.z),
            "p_value": _num(self.p_value),
            "odds_ratio": _num(self.odds_ratio),
            "ci95": [_num(self.ci95[0]), _num(self.ci95[1])],
            "per": self.per,
        }


@dataclass(frozen=True)
class LogisticResult:
    """A fitted multivariable logistic regression.

    Attributes
    ----------
    factors
        The model's factors.
    references
        The reference level of each categorical or ordinal factor.
    n, n_cases, n_controls
        Subjects used (complete cases).
    n_excluded
        Subjects left out for a missing value.
    intercept
        The intercept (its ``odds_ratio`` is the odds at the reference levels and 0).
    terms
        One per coefficient other than the intercept.
    log_likelihood, deviance, null_deviance, aic
        Fit statistics, as R's ``logLik``, ``deviance``, ``null.deviance``, ``AIC``.
    converged, iterations
        IRLS convergence.
    warnings
        Problems noticed (separation, few cases per term, dropped levels).
    """

    factors: tuple[str, ...]
    references: dict[str, str]
    n: int
    n_cases: int
    n_controls: int
    n_excluded: int
    intercept: ModelTerm
    terms: tuple[ModelTerm, ...]
    log_likelihood: float
    deviance: float
    null_deviance: float
    aic: float
    converged: bool
    iterations: int
    warnings: tuple[str, ...] = ()
    method: str = field(default=METHOD)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``risk_factors.logistic`` section of ``results.json``."""
        return {
            "status": "done",
            "factors": list(self.factors),
            "references": dict(self.references),
            "n": self.n,
            "n_cases": self.n_cases,
            "n_controls": self.n_controls,
            "n_excluded_missing": self.n_excluded,
            "intercept": self.intercept.to_dict(),
            "terms": [t.to_dict() for t in self.terms],
            "log_likelihood": _num(self.log_likelihood),
            "deviance": _num(self.deviance),
            "null_deviance": _num(self.null_deviance),
            "aic": _num(self.aic),
            "converged": self.converged,
            "iterations": self.iterations,
            "warnings": list(self.warnings),
            "method": self.method,
        }


def _exp(value: float) -> float:
    """``exp`` that gives ``inf`` (written as null) instead of raising OverflowError."""
    return math.exp(value) if value < 709.0 else math.inf


class SeparationError(AnalysisError):
    """Cases and controls are separated by some of the model's terms: no finite estimate."""

    def __init__(self, problem: Problem, *, terms: list[str]) -> None:
        super().__init__(problem)
        self.terms = tuple(terms)


def _separation_problem(terms: list[str], design: pd.DataFrame, y: np.ndarray) -> Problem:
    alone = []
    for name in terms:
        column = design[name].to_numpy()
        has = column == 1.0
        n_case, n_control = int(y[has].sum()), int((1 - y[has]).sum())
        if set(np.unique(column)) <= {0.0, 1.0} and 0 in (n_case, n_control):
            alone.append(f"{name} is seen in {n_case} case(s) and {n_control} control(s)")
    found = (
        "; ".join(alone)
        if alone
        else (
            f"together, {', '.join(terms)} separate the {int(y.sum())} cases from the "
            f"{int(len(y) - y.sum())} controls ({design.shape[1]} coefficients)"
        )
    )
    return Problem(
        f"quasi-complete separation in the logistic model: {found}. The likelihood has no "
        "maximum, so these odds ratios are infinite and the model is not reported",
        column="[risk_factors] logistic",
        fix="merge the rare level with a neighbouring one, or leave the factor out of "
        "logistic (a Firth-penalised model, as R's logistf, can also estimate it)",
    )


def _design(
    factors: Sequence[ResolvedFactor], is_case: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, str, str | None, float]], list[str], int]:
    complete = np.ones(len(is_case), dtype=bool)
    for factor in factors:
        values = factor.values
        if factor.kind == "continuous":
            complete &= np.isfinite(values.to_numpy(dtype=float))
        else:
            complete &= values.notna().to_numpy()
    columns: dict[str, np.ndarray] = {"(Intercept)": np.ones(int(complete.sum()))}
    terms: list[tuple[str, str, str | None, float]] = []
    notes: list[str] = []
    for factor in factors:
        values = factor.values[complete]
        if factor.kind == "continuous":
            columns[factor.column] = values.to_numpy(dtype=float)
            terms.append((factor.column, factor.column, None, factor.per))
            continue
        present = set(values)
        if factor.reference not in present:
            raise AnalysisError(
                Problem(
                    f"no complete case has the reference level {factor.reference!r} of "
                    f"{factor.column!r}; the model cannot be fitted",
                    fix="choose another reference level or leave the factor out of logistic",
                )
            )
        for level in factor.levels:
            if level == factor.reference:
                continue
            if level not in present:
                notes.append(f"{factor.column} = {level!r} has no complete case; left out")
                continue
            name = f"{factor.column}[{level}]"
            columns[name] = (values == level).to_numpy(dtype=float)
            terms.append((name, factor.column, level, 1.0))
    design = pd.DataFrame(columns)
    return design, is_case[complete].astype(float), terms, notes, int((~complete).sum())


def logistic_regression(
    factors: Sequence[ResolvedFactor], is_case: Any, *, max_iterations: int = 100
) -> LogisticResult:
    """Fit ``glm(case ~ factors, family = binomial)`` and return adjusted odds ratios.

    Parameters
    ----------
    factors
        Resolved factors (from `geo_stunting.study._risk_spec.resolve_factors`).
    is_case
        ``True`` for cases, ``False`` for controls, aligned with the factors' values.
    max_iterations
        IRLS iterations at most.

    Returns
    -------
    LogisticResult
        Coefficients, adjusted odds ratios with Wald CIs, fit statistics, warnings.

    Raises
    ------
    AnalysisError
        If statsmodels is not installed (with the install command), if no
        factor is given, if the complete cases hold no case or no control, or
        if the fit fails.
    """
    try:
        # optional dependency; the GLM modules alone, not statsmodels.api (which also loads
        # its plots, time series and data sets: about 0.35 s more on a first import)
        glm = importlib.import_module("statsmodels.genmod.generalized_linear_model")
        families = importlib.import_module("statsmodels.genmod.families")
    except ImportError:
        raise AnalysisError(
            Problem(
                "the multivariable logistic regression needs statsmodels, which is not installed",
                fix=INSTALL_HINT,
            )
        ) from None
    if not factors:
        raise AnalysisError(Problem("logistic regression needs at least one factor"))
    case = np.asarray(is_case, dtype=bool)
    design, y, terms, notes, excluded = _design(factors, case)
    n_cases, n = int(y.sum()), len(y)
    if n_cases in (0, n):
        raise AnalysisError(
            Problem(
                f"the {n} complete cases hold no {'case' if n_cases == 0 else 'control'}",
                fix="check missing values of the model's factors",
            )
        )
    if np.linalg.matrix_rank(design.to_numpy()) < design.shape[1]:
        raise AnalysisError(
            Problem(
                "the model's factors are collinear (one is a combination of others)",
                fix="leave one of the overlapping factors out of logistic",
            )
        )
    separated = separated_terms(design.to_numpy(), y, list(design.columns))
    if separated:
        raise SeparationError(_separation_problem(separated, design, y), terms=separated)
    events = min(n_cases, n - n_cases)
    if events < MIN_EVENTS_PER_TERM * len(terms):
        smaller = "cases" if n_cases <= n - n_cases else "controls"
        notes.append(
            f"{events} {smaller} (the smaller group) for {len(terms)} coefficient(s): fewer "
            f"than {MIN_EVENTS_PER_TERM} per coefficient, so the adjusted odds ratios may be "
            "unstable"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = glm.GLM(y, design, family=families.Binomial()).fit(
                maxiter=max_iterations, tol=1e-12
            )
        except Exception as exc:  # noqa: BLE001 - statsmodels raises several kinds
            raise AnalysisError(
                Problem(
                    f"the logistic regression could not be fitted ({exc})",
                    fix="check for a level that is all cases or all controls (separation)",
                )
            ) from None
    for warning in caught:
        text = str(warning.message).split("\n")[0]
        if "separation" in text.lower():
            text = (
                "perfect or quasi-perfect separation: a factor level is (almost) all cases or "
                "all controls; its odds ratio is not estimable"
            )
        if text not in notes:
            notes.append(text)
    params = np.asarray(fit.params, dtype=float)
    ses = np.asarray(fit.bse, dtype=float)

    def term(pos: int, name: str, factor: str, level: str | None, per: float = 1.0) -> ModelTerm:
        b, se = float(params[pos]), float(ses[pos])
        z = b / se if se > 0 else math.nan
        return ModelTerm(
            term=name,
            factor=factor,
            level=level,
            coefficient=b,
            se=se,
            z=z,
            p_value=float(2 * stats.norm.sf(abs(z))),
            odds_ratio=_exp(b * per),
            ci95=(_exp((b - _Z975 * se) * per), _exp((b + _Z975 * se) * per)),
            per=per,
        )

    converged = bool(getattr(fit, "converged", True))
    if not converged:
        notes.append(f"the fit did not converge in {max_iterations} iterations")
    return LogisticResult(
        factors=tuple(f.column for f in factors),
        references={f.column: str(f.reference) for f in factors if f.kind != "continuous"},
        n=n,
        n_cases=n_cases,
        n_controls=n - n_cases,
        n_excluded=excluded,
        intercept=term(0, "(Intercept)", "(Intercept)", None),
        terms=tuple(term(i + 1, *t) for i, t in enumerate(terms)),
        log_likelihood=float(fit.llf),
        deviance=float(fit.deviance),
        null_deviance=float(fit.null_deviance),
        aic=float(fit.aic),
        converged=converged,
        iterations=int(getattr(fit, "fit_history", {}).get("iteration", 0)),
        warnings=tuple(notes),
    )
