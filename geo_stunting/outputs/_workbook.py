"""``tables.xlsx``: every table of a run in one Excel workbook, a sheet per table.

Sheets: Summary, Access per village, Table 1, Table 2, Table 3, Logistic
model, Scan clusters, Autocorrelation, Rejects (a sheet whose step did not run
says so in its first cell). Each header row is styled and frozen, columns are
sized to their content, numbers stay numbers (never text), p-values show as
``0.018`` or ``<0.001``, and every text cell goes through
`geo_stunting.outputs._safe.neutralise_cell`, so no cell runs as a formula.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo_stunting.outputs._safe import neutralise_cell
from geo_stunting.risk_factors._tables import risk_factor_tables

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["P_VALUE_FORMAT", "SHEETS", "is_p_value_column", "workbook_tables", "write_workbook"]

#: The sheets, in order.
SHEETS = (
    "Summary",
    "Access per village",
    "Table 1",
    "Table 2",
    "Table 3",
    "Logistic model",
    "Scan clusters",
    "Autocorrelation",
    "Rejects",
)
#: Excel number format of p-values: three decimals, ``<0.001`` below.
P_VALUE_FORMAT = '[<0.001]"<0.001";0.000'
_HEADER_FILL = "1F4E79"
_MAX_WIDTH = 60


def is_p_value_column(name: str) -> bool:
    """Whether column `name` holds p-values (``p_value``, ``p_sim``, ``rho_p_value`` …).

    >>> [is_p_value_column(c) for c in ("p_value", "p_sim_bb", "lisa_p", "llr", "per")]
    [True, True, True, False, False]
    """
    return name in {"p", "p_value"} or name.startswith("p_") or name.endswith(("_p", "_p_value"))


def _summary(sections: Mapping[str, Any]) -> pd.DataFrame:
    study = sections.get("study") or {}
    settings = sections.get("settings") or {}
    access = sections.get("access") or {}
    test = access.get("test") or {}
    scan = sections.get("scan") or {}
    clusters = scan.get("clusters") or []
    rr = sections.get("relative_risk") or {}
    rows: list[tuple[str, Any, str]] = [
        ("study", study.get("name"), ""),
        ("subjects", study.get("n_subjects"), "loaded"),
        ("cases", study.get("n_cases"), ""),
        ("controls", study.get("n_controls"), ""),
        ("facilities", study.get("n_facilities"), ""),
        ("study-area polygons", study.get("n_areas"), ""),
        ("rejected rows", study.get("n_rejected"), "see the Rejects sheet"),
        ("CRS", study.get("crs"), study.get("crs_reason") or ""),
        ("study area (km²)", _km2(study.get("area_m2")), "union of the polygons"),
        ("coverage radius (m)", settings.get("buffer_m"), ""),
        ("permutations", settings.get("permutations"), ""),
        ("seed", settings.get("seed"), ""),
    ]
    if access:
        rows += [
            ("cases within the radius", access.get("cases_within"), ""),
            ("controls within the radius", access.get("controls_within"), ""),
            ("share of cases within", access.get("share_cases_within"), "0–1"),
            ("share of controls within", access.get("share_controls_within"), "0–1"),
            ("odds ratio of living within", access.get("odds_ratio"), "cases vs controls"),
            ("access test p-value", test.get("p_value"), f"{test.get('name', '')}, two-sided"),
        ]
    if scan:
        best = clusters[0] if clusters else {}
        direction = (scan.get("settings") or {}).get("direction", "high")
        alternative = {"high": "greater (high rates)", "low": "less (low rates)"}.get(
            direction, f"{direction} (high or low rates)"
        )
        rows += [
            ("scan clusters", len(clusters), "Bernoulli spatial scan"),
            ("most likely cluster p-value", best.get("p_value"), f"Monte Carlo; {alternative}"),
        ]
    if rr:
        rows += [
            (
                "share of the window with raised risk",
                rr.get("share_window_significant_high"),
                "0–1; pointwise, alternative greater",
            )
        ]
    for step, info in (sections.get("steps") or {}).items():
        rows.append((f"step {step}", info.get("status"), info.get("reason") or ""))
    return pd.DataFrame(rows, columns=["item", "value", "note"])


def _km2(m2: Any) -> float | None:
    return None if m2 is None else float(m2) / 1e6


def _autocorrelation(section: Mapping[str, Any]) -> pd.DataFrame:
    columns = ["test", "statistic", "value", "expected", "z", "p_value", "p_sim", "alternative"]
    rows: list[dict[str, Any]] = []
    moran = section.get("moran") or {}
    if moran:
        rows.append(
            {
                "test": "Moran's I",
                "statistic": "I",
                "value": moran.get("I"),
                "expected": moran.get("expected"),
                "z": moran.get("z_rand"),
                "p_value": moran.get("p_rand"),
                "p_sim": moran.get("p_sim"),
                "alternative": "two-sided (randomisation); p_sim: pseudo p, folded",
            }
        )
    joins = section.get("join_counts") or {}
    if joins:
        rows.append(
            {
                "test": "join counts",
                "statistic": "BB (case–case joins)",
                "value": joins.get("bb"),
                "expected": joins.get("expected_bb"),
                "z": joins.get("z_bb"),
                "p_value": joins.get("p_bb"),
                "p_sim": joins.get("p_sim_bb"),
                "alternative": "greater",
            }
        )
    for key, title in (("lisa", "LISA (p ≤ 0.05)"), ("lisa_fdr", "LISA (FDR)")):
        for label, count in (section.get(key) or {}).items():
            rows.append({"test": title, "statistic": f"{label} (count)", "value": count})
    for label, count in (section.get("gi_star") or {}).items():
        rows.append({"test": "Gi*", "statistic": label, "value": count})
    return pd.DataFrame(rows, columns=columns)


def _records(items: Any) -> pd.DataFrame:
    rows = []
    for item in items or []:
        row = dict(item)
        for key, value in row.items():
            if isinstance(value, list | tuple):
                row[key] = ", ".join(str(v) for v in value)
        rows.append(row)
    return pd.DataFrame(rows)


def workbook_tables(
    sections: Mapping[str, Any], rejects: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """The workbook's tables by sheet name (`SHEETS`), from ``results.json``'s sections.

    A step that did not run gives an empty table.
    """
    risk = sections.get("risk_factors")
    tables = risk_factor_tables(risk) if risk else {}
    access = sections.get("access") or {}
    scan = sections.get("scan") or {}

    def tidy(frame: pd.DataFrame | None) -> pd.DataFrame:
        if frame is None:
            return pd.DataFrame()
        # the formatted copies ("p", "or_95ci" …) are for CSV readers; here numbers are formatted
        return frame.drop(columns=[c for c in ("p",) if c in frame.columns])

    return {
        "Summary": _summary(sections),
        "Access per village": _records(access.get("per_area")),
        "Table 1": tidy(tables.get("table1")),
        "Table 2": tidy(tables.get("table2")),
        "Table 3": tidy(tables.get("table3")),
        "Logistic model": tidy(tables.get("logistic")),
        "Scan clusters": _records(scan.get("clusters")),
        "Autocorrelation": _autocorrelation(sections.get("autocorrelation") or {}),
        "Rejects": rejects if rejects is not None else pd.DataFrame(),
    }


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return neutralise_cell(value)


def write_workbook(
    sections: Mapping[str, Any], path: Path, *, rejects: pd.DataFrame | None = None
) -> list[str]:
    """Write ``tables.xlsx`` to `path`; return its sheet names."""
    from openpyxl import Workbook  # noqa: PLC0415
    from openpyxl.styles import Alignment, Font, PatternFill  # noqa: PLC0415
    from openpyxl.utils import get_column_letter  # noqa: PLC0415

    book = Workbook()
    book.remove(book.active)
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor=_HEADER_FILL)
    for title, frame in workbook_tables(sections, rejects).items():
        sheet = book.create_sheet(title)
        if frame.empty and len(frame.columns) == 0:
            sheet["A1"] = "Not available: this step did not run (see Summary → step …)."
            sheet.column_dimensions["A"].width = 70
            continue
        columns = [str(c) for c in frame.columns]
        sheet.append([neutralise_cell(c) for c in columns])
        for cell in sheet[1]:
            cell.font = header_font
            cell.fill = header_fill
            cell.alignment = Alignment(vertical="top", wrap_text=False)
        for row in frame.itertuples(index=False, name=None):
            sheet.append([_cell(v) for v in row])
        sheet.freeze_panes = "A2"
        if len(frame):
            sheet.auto_filter.ref = sheet.dimensions
        widths = [len(c) for c in columns]
        # a row whose first cell names a p-value (the Summary sheet) is formatted as one
        p_rows = {i + 2 for i, v in enumerate(frame.iloc[:, 0]) if str(v).endswith("p-value")}
        for j, column in enumerate(columns, start=1):
            letter = get_column_letter(j)
            p_values = is_p_value_column(column)
            for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                value = cell.value
                if isinstance(value, float):
                    p_cell = p_values or cell.row in p_rows
                    cell.number_format = P_VALUE_FORMAT if p_cell else "0.000##"
                    text = f"{value:.5g}"
                else:
                    text = "" if value is None else str(value)
                widths[j - 1] = max(widths[j - 1], len(text))
            sheet.column_dimensions[letter].width = min(_MAX_WIDTH, widths[j - 1] + 2)
    book.save(path)
    return [sheet.title for sheet in book.worksheets]
