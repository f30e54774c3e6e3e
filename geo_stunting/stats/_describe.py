"""Summaries of one numeric variable, and the rule for numbers that JSON cannot hold."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["NumericSummary", "describe", "finite_or_none"]


def finite_or_none(value: float | None) -> float | None:
    """Return `value` as a float, or None when it is missing, NaN or infinite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class NumericSummary:
    """n, missing, mean, SD (n − 1), median, quartiles (R's type 7), minimum, maximum."""

    n: int
    n_missing: int
    mean: float | None
    sd: float | None
    median: float | None
    q1: float | None
    q3: float | None
    min: float | None
    max: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "n": self.n,
            "n_missing": self.n_missing,
            "mean": finite_or_none(self.mean),
            "sd": finite_or_none(self.sd),
            "median": finite_or_none(self.median),
            "q1": finite_or_none(self.q1),
            "q3": finite_or_none(self.q3),
            "min": finite_or_none(self.min),
            "max": finite_or_none(self.max),
        }


def describe(values: Any) -> NumericSummary:
    """Mean, SD (n − 1), median and quartiles (R's type 7), min and max; NaN counted as missing."""
    v = np.asarray(values, dtype=float)
    missing = int((~np.isfinite(v)).sum())
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return NumericSummary(0, missing, None, None, None, None, None, None, None)
    q1, median, q3 = (float(q) for q in np.quantile(v, [0.25, 0.5, 0.75]))
    return NumericSummary(
        len(v),
        missing,
        float(v.mean()),
        float(v.std(ddof=1)) if len(v) > 1 else None,
        median,
        q1,
        q3,
        float(v.min()),
        float(v.max()),
    )
