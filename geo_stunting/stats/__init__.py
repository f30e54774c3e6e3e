"""Statistics shared by several steps, each with one home.

- `_twobytwo`: a 2×2 table's chi-square or Fisher test, the Woolf odds ratio,
  and Mann–Whitney for two groups (the access step and the risk-factor tables);
- `_tables`: larger tables, trend, correlations, Welch, Shapiro–Wilk;
- `_describe`: summaries of one numeric variable;
- `_permutation`: conditional permutations, one- and two-sided permutation p-values and
  the Benjamini–Hochberg correction (the package's rule on alternatives);
- `_alternatives`: the check that every p-value in ``results.json`` states its alternative.
"""

from __future__ import annotations

from geo_stunting.stats._describe import NumericSummary, describe
from geo_stunting.stats._tables import ContingencyTest, contingency_test, trend_test
from geo_stunting.stats._twobytwo import (
    MannWhitney,
    OddsRatio,
    TableTest,
    mann_whitney,
    odds_ratio_woolf,
    table_test,
)

__all__ = [
    "ContingencyTest",
    "MannWhitney",
    "NumericSummary",
    "OddsRatio",
    "TableTest",
    "contingency_test",
    "describe",
    "mann_whitney",
    "odds_ratio_woolf",
    "table_test",
    "trend_test",
]
