"""tables.xlsx: a sheet per table, styled frozen headers, numbers as numbers, safe cells."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from openpyxl import load_workbook

import geo_stunting as gs
from geo_stunting.outputs._workbook import P_VALUE_FORMAT, SHEETS, write_workbook


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    results = gs.analyze(gs.load_study(gs.demo_study_path()))
    sections = json.loads(results.to_json())
    rejects = pd.DataFrame(
        {"layer": ["subjects"], "file": ["s.csv"], "row": [7], "id": ['=HYPERLINK("x")'],
         "column": ["lat"], "value": ["-91"], "reason": ["latitude outside -90..90"]}
    )  # fmt: skip
    path = tmp_path_factory.mktemp("xlsx") / "tables.xlsx"
    write_workbook(sections, path, rejects=rejects)
    return sections, load_workbook(path)


def _rows(sheet):
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_one_sheet_per_table_with_a_frozen_styled_header(book):
    _, wb = book
    assert wb.sheetnames == list(SHEETS)
    for sheet in wb.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet["A1"].font.bold, sheet.title
        assert sheet.column_dimensions["A"].width > 5, sheet.title


def test_values_read_back_as_numbers(book):
    sections, wb = book
    villages = _rows(wb["Access per village"])
    assert [v["name"] for v in villages] == [a["name"] for a in sections["access"]["per_area"]]
    first = sections["access"]["per_area"][0]
    assert villages[0]["covered_pct"] == pytest.approx(first["covered_pct"])
    assert isinstance(villages[0]["subjects_within"], int)
    clusters = _rows(wb["Scan clusters"])
    assert len(clusters) == len(sections["scan"]["clusters"])
    assert clusters[0]["p_value"] == pytest.approx(sections["scan"]["clusters"][0]["p_value"])
    assert clusters[0]["subject_ids"].startswith("S001, ")
    summary = {r["item"]: r["value"] for r in _rows(wb["Summary"])}
    assert summary["cases"] == 67
    assert summary["controls"] == 134
    assert summary["access test p-value"] == pytest.approx(sections["access"]["test"]["p_value"])
    moran = _rows(wb["Autocorrelation"])[0]
    assert moran["value"] == pytest.approx(sections["autocorrelation"]["moran"]["I"])
    table2 = _rows(wb["Table 2"])
    assert table2
    assert "p" not in table2[0]  # the text copy of p_value is for CSV only
    factors = {f["factor"]: f for f in sections["risk_factors"]["factors"]}
    row = next(r for r in table2 if r["p_value"] is not None)
    assert row["p_value"] == pytest.approx(factors[row["factor"]]["p_value"])
    logistic = _rows(wb["Logistic model"])
    assert len(logistic) == len(sections["risk_factors"]["logistic"]["terms"])


def test_p_values_are_formatted(book):
    _, wb = book
    sheet = wb["Scan clusters"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("p_value") + 1)
    assert cell.number_format == P_VALUE_FORMAT
    llr = sheet.cell(row=2, column=header.index("llr") + 1)
    assert llr.number_format != P_VALUE_FORMAT


def test_cells_cannot_run_as_formulas(book):
    _, wb = book
    (reject,) = _rows(wb["Rejects"])
    assert reject["id"] == '\'=HYPERLINK("x")'
    assert reject["value"] == "'-91"
    assert reject["row"] == 7
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
