"""Cases versus controls for facility access: the 2×2 table, odds ratio, Mann–Whitney.

The table has cases and controls in its columns and "within the buffer" /
"outside" in its rows, so the odds ratio is the odds of living within the
buffer for cases divided by those odds for controls (above 1: cases more often
within). The test of the table, the Woolf odds ratio and the Mann–Whitney test
of the distances are those of `geo_stunting.stats` (R's ``chisq.test``/
``fisher.test`` and ``wilcox.test``; reference values in
tests/reference/access/access_tests.R).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.stats._twobytwo import (
    DistanceSummary,
    MannWhitney,
    OddsRatio,
    TableTest,
    distance_summary,
    mann_whitney,
    odds_ratio_woolf,
    table_test,
)

__all__ = ["AccessComparison", "compare_access", "compare_within"]


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
