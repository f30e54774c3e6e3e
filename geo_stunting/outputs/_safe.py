"""Cells that a spreadsheet cannot run: the one rule for every CSV and XLSX we write.

OWASP's rule against CSV (formula) injection: a text cell that begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with a single
quote, so Excel, LibreOffice and Google Sheets show it as text instead of
evaluating it. Numbers are never changed (``-3.5`` stays a number); only text is.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "neutralise_cell", "neutralise_frame"]

#: A text cell starting with one of these is read as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """Return `value`, with a leading ``'`` when it is text a spreadsheet would evaluate.

    >>> neutralise_cell("=SUM(A1:A9)")
    "'=SUM(A1:A9)"
    >>> neutralise_cell(-3.5)
    -3.5
    >>> neutralise_cell("Desa Tanjung")
    'Desa Tanjung'
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `frame` whose text cells (and column names) cannot run as formulas."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(neutralise_cell)
    out.columns = [neutralise_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out
