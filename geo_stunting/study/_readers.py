"""Read the tables a study is made of: CSV, Excel, GeoJSON, GeoPackage, Shapefile.

Readers keep every cell as it was written (text stays text) and remember, for
each row, the row number a person sees in a text editor or a spreadsheet, so
that every later message can point at it. Interpreting the cells is the job
of validation, not of the readers.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo_stunting.errors import InputError, Problem
from geo_stunting.study._encoding import decode_file, sniff_delimiter
from geo_stunting.study._fast_csv import read_csv_fast, text_columns

if TYPE_CHECKING:
    import geopandas as gpd
    from pyproj import CRS

__all__ = ["TABLE_SUFFIXES", "VECTOR_SUFFIXES", "RawTable", "read_table"]

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb", ".parquet")


@dataclass(frozen=True)
class RawTable:
    """Cells as read from one file, with the row number of each record.

    Attributes
    ----------
    name
        The file name shown in messages.
    frame
        One column per input column, cells as read (object dtype).
    rows
        For each record, its row number as a person sees it (header = row 1 in
        CSV and Excel; feature number from 1 in vector files): a tuple, or a
        `range` when the rows follow each other (a large CSV file without blank lines).
    geometry
        The geometries of a vector file, else ``None``.
    crs
        The CRS stored in a vector file, else ``None``.
    notes
        What the reader noticed and handled (delimiter, sheet, blank lines).
    """

    name: str
    frame: pd.DataFrame
    rows: Sequence[int]
    geometry: gpd.GeoSeries | None = None
    crs: CRS | None = None
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)


def read_table(path: str | Path, *, sheet: str | None = None, layer: str | None = None) -> RawTable:
    """Read a CSV, Excel or vector file into a `RawTable`.

    Parameters
    ----------
    path
        The file. Its suffix decides the reader.
    sheet
        Excel sheet name (default: the first sheet).
    layer
        Layer of a GeoPackage holding several (default: the only layer).

    Raises
    ------
    InputError
        If the file is missing, unreadable, of an unknown kind, or has no rows.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise InputError(
            Problem("file not found", file=str(path), fix="check path = ... in the study file")
        )
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        table = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        table = _read_excel(path, sheet)
    elif suffix == ".xls":
        raise InputError(
            Problem(
                "old Excel .xls files are not supported",
                file=name,
                fix="open it in Excel or LibreOffice and save it as .xlsx or .csv",
            )
        )
    elif suffix in VECTOR_SUFFIXES:
        table = _read_vector(path, layer)
    else:
        raise InputError(
            Problem(
                f"unknown file type {suffix!r}",
                file=name,
                fix="use .csv, .xlsx, .geojson, .gpkg or .shp",
            )
        )
    if len(table) == 0:
        raise InputError(
            Problem("the file has no data rows", file=name, fix="check that it is the right file")
        )
    duplicated = list(table.frame.columns[table.frame.columns.duplicated()])
    if duplicated:
        raise InputError(
            Problem(
                f"column name(s) {sorted(set(map(str, duplicated)))} appear more than once",
                file=name,
                row=1,
                fix="give every column in the header row a different name",
            )
        )
    return table


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` with their endings, one at a time (as ``StringIO(newline="")``)."""
    for match in _LINE.finditer(text):
        yield match.group()


def _read_csv(path: Path) -> RawTable:
    """Read a CSV file: at compiled speed when it is well formed, else line by line."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else None
    fast = read_csv_fast(path, delimiter=delimiter)
    if fast is None:
        return _read_csv_careful(path)
    notes = [f"{path.name}: read as CSV ({fast.encoding}, delimiter {fast.delimiter!r})"]
    if fast.blank:
        notes.append(f"{path.name}: skipped {fast.blank} blank line(s)")
    return RawTable(path.name, fast.frame, fast.rows, notes=tuple(notes))


def _read_csv_careful(path: Path) -> RawTable:
    """Read a CSV file line by line with `csv`: ragged rows, quoted line breaks, mixed encodings."""
    text, encoding = decode_file(path)
    text = text.replace("\x00", "")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(first)
    reader = csv.reader(_lines(text), delimiter=delimiter)
    header: list[str] | None = None
    columns: list[list[str]] = []
    seen: list[dict[str, str]] = []  # one copy of each repeated value per column
    rows: list[int] = []
    notes: list[str] = []
    blank = 0
    ragged: list[Problem] = []
    line_end = 0
    try:
        for record in reader:
            line_start = line_end + 1
            line_end = reader.line_num
            if not any(cell.strip() for cell in record):
                if header is not None:
                    blank += 1
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                columns = [[] for _ in header]
                seen = [{} for _ in header]
                continue
            if len(record) > len(header):
                extra = record[len(header) :]
                if any(cell.strip() for cell in extra):
                    ragged.append(
                        Problem(
                            f"row has {len(record)} fields but the header has {len(header)}",
                            file=path.name,
                            row=line_start,
                            fix=(
                                "a value contains the delimiter: quote it, or with decimal "
                                "commas use ';' as the delimiter"
                            ),
                        )
                    )
            for pos, column in enumerate(columns):
                cell = record[pos] if pos < len(record) else ""
                column.append(seen[pos].setdefault(cell, cell))
            rows.append(line_start)
    except csv.Error as exc:
        raise InputError(
            Problem(
                f"the CSV file cannot be parsed ({exc})",
                file=path.name,
                row=line_end + 1,
                fix="check for an unclosed quote on that line",
            )
        ) from None
    if header is None:
        raise InputError(Problem("the file is empty", file=path.name, fix="check the path"))
    frame = text_columns(dict(enumerate(columns)))
    frame.columns = pd.Index(header, dtype=object)
    notes.append(f"{path.name}: read as CSV ({encoding}, delimiter {delimiter!r})")
    if blank:
        notes.append(f"{path.name}: skipped {blank} blank line(s)")
    table = RawTable(path.name, frame, tuple(rows), notes=tuple(notes))
    if ragged:
        return _with_ragged(table, ragged)
    return table


def _with_ragged(table: RawTable, ragged: list[Problem]) -> RawTable:
    # Rows with too many fields are kept as rows (validation rejects them),
    # marked in a private column that validation reads.
    frame = table.frame.copy()
    frame["__row_problem__"] = None
    position = {row: i for i, row in enumerate(table.rows)}
    for problem in ragged:
        assert problem.row is not None
        frame.iloc[position[problem.row], -1] = problem.message + "; " + (problem.fix or "")
    return RawTable(table.name, frame, table.rows, notes=table.notes)


def _read_excel(path: Path, sheet: str | None) -> RawTable:
    import openpyxl  # noqa: PLC0415 - only needed for Excel input

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
        raise InputError(
            Problem(
                f"the Excel file cannot be opened ({type(exc).__name__}: {exc})",
                file=path.name,
                fix="open it in Excel or LibreOffice and save it again as .xlsx",
            )
        ) from None
    try:
        names = list(book.sheetnames)
        if sheet is None:
            chosen = names[0]
        elif sheet in names:
            chosen = sheet
        else:
            raise InputError(
                Problem(
                    f"sheet {sheet!r} not found; the sheets are {names}",
                    file=path.name,
                    fix="set sheet = ... to one of them",
                )
            )
        header: list[str] | None = None
        records: list[list[Any]] = []
        rows: list[int] = []
        for number, values in enumerate(book[chosen].iter_rows(values_only=True), start=1):
            cells = list(values)
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            if header is None:
                header = ["" if c is None else str(c).strip() for c in cells]
                continue
            cells = cells[: len(header)] + [None] * (len(header) - len(cells))
            records.append(cells)
            rows.append(number)
    finally:
        book.close()
    if header is None:
        raise InputError(Problem(f"sheet {chosen!r} is empty", file=path.name))
    frame = pd.DataFrame(records, columns=header, dtype=object)
    notes = [f"{path.name}: read sheet {chosen!r}" + (f" of {names}" if len(names) > 1 else "")]
    return RawTable(path.name, frame, tuple(rows), notes=tuple(notes))


def _read_vector(path: Path, layer: str | None) -> RawTable:
    import pyogrio  # noqa: PLC0415 - heavy import, only for vector files

    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # noqa: BLE001 - GDAL errors come in many kinds
        raise InputError(
            Problem(
                f"the file cannot be read as a vector data set ({exc})",
                file=path.name,
                fix="check that it opens in QGIS; a Shapefile needs its .shx and .dbf beside it",
            )
        ) from None
    if layer is None and len(layers) > 1:
        raise InputError(
            Problem(
                f"the file has {len(layers)} layers: {layers}",
                file=path.name,
                fix='say which with layer = "..." in the study file',
            )
        )
    if layer is not None and layer not in layers:
        raise InputError(
            Problem(
                f"layer {layer!r} not found; the layers are {layers}",
                file=path.name,
                fix="set layer = ... to one of them",
            )
        )
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # noqa: BLE001
        raise InputError(Problem(f"the file cannot be read ({exc})", file=path.name)) from None
    geometry = gdf.geometry if "geometry" in gdf.columns else None
    frame = pd.DataFrame(gdf.drop(columns="geometry", errors="ignore")).astype(object)
    frame = frame.reset_index(drop=True)
    if geometry is not None:
        geometry = geometry.reset_index(drop=True)
    rows = tuple(range(1, len(frame) + 1))
    note = f"{path.name}: read {len(frame)} feature(s)" + (
        f" from layer {layer!r}" if layer else ""
    )
    crs = None if geometry is None else geometry.crs
    return RawTable(path.name, frame, rows, geometry=geometry, crs=crs, notes=(note,))
