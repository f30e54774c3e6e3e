"""Risk-factor tables of cases versus controls, and the logistic model.

- `_analysis`: one factor's tables and tests, and the ``risk_factors`` step;
- `_tables`: the tables as CSV and their number formats;
- `_logistic`: the logistic model (statsmodels);
- `_respondents`: joining a questionnaire table to the subjects.
"""

from __future__ import annotations

from geo_stunting.risk_factors._analysis import (
    FactorResult,
    RiskFactorResults,
    analyze_risk_factors,
    risk_factor_tables_csv,
)
from geo_stunting.risk_factors._logistic import LogisticResult, logistic_regression

__all__ = [
    "FactorResult",
    "LogisticResult",
    "RiskFactorResults",
    "analyze_risk_factors",
    "logistic_regression",
    "risk_factor_tables_csv",
]
