"""Which subjects are cases: the one reading of ``status=`` / ``case=`` for every statistic."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo_stunting.errors import AnalysisError, Problem

__all__ = ["case_indicator"]


def case_indicator(
    subjects: pd.DataFrame, *, status: str = "status", case: str | Sequence[str] = "case"
) -> np.ndarray:
    """Return a boolean array: True where ``subjects[status]`` is a case value.

    Parameters
    ----------
    subjects
        The subjects (any frame with the status column).
    status
        The column that holds the status.
    case
        The value that marks a case, or several values; every other value is a control.
        A single string is one value (never split into characters).

    Raises
    ------
    AnalysisError
        If the column is missing.

    >>> import pandas as pd
    >>> case_indicator(pd.DataFrame({"status": ["case", "control", "case"]})).tolist()
    [True, False, True]
    >>> case_indicator(pd.DataFrame({"s": ["1", "0"]}), status="s", case="1").tolist()
    [True, False]
    """
    if status not in subjects:
        raise AnalysisError(
            Problem(
                f"subjects have no {status!r} column",
                fix="pass study.subjects, or name the status column with status=",
            )
        )
    values = [case] if isinstance(case, str) else list(case)
    return subjects[status].isin(values).to_numpy(dtype=bool)
