"""Row-level checks: turn the cells of a `RawTable` into candidate records.

Every problem with a row is recorded against that row (file, row, column,
value, reason); a row with any problem is rejected as a whole and listed in
``rejects.csv``. Problems that make a whole file unusable (a missing column,
coordinates that are all in the wrong units) are collected as `Problem`
records and raised together by the caller.
"""

from __future__ import annotations

import difflib
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo_stunting.errors import Problem
from geo_stunting.study._coordinates import parse_coordinate_column
from geo_stunting.study._readers import RawTable

__all__ = [
    "BORDER_TOLERANCE_M",
    "OUTSIDE_M_MAX",
    "REJECT_COLUMNS",
    "Candidates",
    "RowChecks",
    "cell_text",
    "cell_texts",
    "guess_area_name",
    "missing_mask",
    "points_from_table",
    "resolve_column",
]

#: A subject this close outside the study area (metres) counts as inside: a straight edge
#: in degrees is a curve in metres (millimetres off over a few km), and GPS fixes and
#: digitised boundaries are good to metres at best.
BORDER_TOLERANCE_M = 1.0
#: The largest ``outside_m`` of ``[area]``: subjects kept this close outside the study area
#: count in the nearest area (`geo_stunting.access.locate_in_areas`) and widen the windows.
OUTSIDE_M_MAX = 2000.0

#: Column names that hold an area's name, most likely first (compared ignoring case): BPS/BIG
#: boundary files use nama / namobj / wadmkd (village), wadmkc (kecamatan), wadmkk (kabupaten).
AREA_NAMES = (
    "nama", "name", "namobj", "nama_desa", "desa", "village", "wadmkd", "kelurahan",
    "nama_kec", "kecamatan", "wadmkc", "district", "nama_kab", "kabupaten", "wadmkk",
)  # fmt: skip

#: Columns of ``rejects.csv``, in order.
REJECT_COLUMNS = ("layer", "file", "row", "id", "column", "value", "reason")
_RAGGED = "__row_problem__"
_MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "#n/a", "?"})


def guess_area_name(table: RawTable) -> str | None:
    """The column of a polygon file that most likely names its areas (None: none found).

    A column named as in `AREA_NAMES`, else the first whose cells are all text,
    each different.
    """
    folded = {str(c).strip().lower(): str(c) for c in table.frame.columns}
    for name in AREA_NAMES:
        if name in folded:
            return folded[name]
    for column in table.frame.columns:
        cells = table.frame[column]
        if cells.map(lambda v: isinstance(v, str)).all() and cells.nunique() == len(cells):
            return str(column)
    return None


def cell_text(value: object) -> str:
    """Return a cell as stripped text; whole floats lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, np.floating) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def is_missing(value: object) -> bool:
    """Whether a cell is empty or a common spelling of 'not available'."""
    return cell_text(value).lower() in _MISSING_TEXT


@dataclass
class RowChecks:
    """Collects the problems of each row of one table."""

    table: RawTable
    layer: str
    reasons: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if _RAGGED in self.table.frame.columns:
            for pos, text in enumerate(self.table.frame[_RAGGED]):
                if text:
                    self.add(pos, "", "", str(text))

    def add(self, pos: int, column: str, value: object, reason: str) -> None:
        """Record one problem with the row at position `pos`."""
        self.reasons.setdefault(pos, []).append((column, _short(cell_text(value)), reason))

    def ok(self) -> np.ndarray:
        """Boolean mask of rows with no problem so far."""
        mask = np.ones(len(self.table), dtype=bool)
        mask[list(self.reasons)] = False
        return mask

    def rejects(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """One record per rejected row, its problems joined with '; '."""
        out = []
        for pos in sorted(self.reasons):
            found = self.reasons[pos]
            out.append(
                {
                    "layer": self.layer,
                    "file": self.table.name,
                    "row": self.table.rows[pos],
                    "id": ids[pos] if pos < len(ids) else "",
                    "column": ";".join(dict.fromkeys(c for c, _, _ in found if c)),
                    "value": ";".join(v for _, v, _ in found if v),
                    "reason": "; ".join(r for _, _, r in found),
                }
            )
        return out


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def resolve_column(
    table: RawTable, wanted: str, key: str, problems: list[Problem], notes: list[str]
) -> str | None:
    """Find column `wanted`, allowing differences of case and spaces.

    Appends a `Problem` naming the study-file key and the closest column when
    the column is not there, and returns ``None``.
    """
    columns = [str(c) for c in table.frame.columns if c != _RAGGED]
    if wanted in columns:
        return wanted
    folded = {c.strip().lower(): c for c in columns}
    match = folded.get(wanted.strip().lower())
    if match is not None:
        notes.append(f"{table.name}: column {match!r} used for {key} = {wanted!r}")
        return match
    close = _closest_column(wanted, columns)
    fix = f'set {key} = "{close}"' if close else f"set {key} to one of the columns"
    problems.append(
        Problem(
            f"column {wanted!r} not found ({key} = {wanted!r}); the columns are {columns}",
            file=table.name,
            row=1,
            column=wanted,
            fix=fix,
        )
    )
    return None


_SYNONYMS = {
    "lat": ("latitude", "lintang", "y"),
    "lon": ("longitude", "long", "lng", "bujur", "x"),
    "id": ("no", "nomor", "kode", "code"),
    "status": ("kasus", "stunting", "group", "kelompok"),
}


def _closest_column(wanted: str, columns: list[str]) -> str | None:
    """The column most likely meant: a synonym, a longer form, or a near spelling."""
    folded = {c.strip().lower(): c for c in columns}
    key = wanted.strip().lower()
    for synonym in _SYNONYMS.get(key, ()):
        if synonym in folded:
            return folded[synonym]
    for name, column in folded.items():
        if name and (name.startswith(key) or key.startswith(name)):
            return column
    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.4)
    return folded[close[0]] if close else None


@dataclass
class Candidates:
    """Identifiers and coordinates of the rows of one point table."""

    ids: Sequence[str]
    x: np.ndarray
    y: np.ndarray
    swapped_by_hemisphere: np.ndarray


def cell_texts(column: pd.Series[Any]) -> np.ndarray:
    """`cell_text` of every cell of a column, as an object array (text columns at once)."""
    if isinstance(column.dtype, pd.StringDtype):
        return np.asarray(column.str.strip().fillna("").to_numpy(dtype=object))
    return np.array([cell_text(v) for v in column], dtype=object)


def _folded(column: pd.Series[Any]) -> pd.Series[Any]:
    """The cells as stripped lower-case text (held by Arrow), as `cell_text(v).lower()`."""
    if isinstance(column.dtype, pd.StringDtype):
        return column.str.strip().str.lower().fillna("")
    return pd.Series(cell_texts(column), dtype=pd.StringDtype("pyarrow")).str.lower()


def missing_mask(texts: np.ndarray | pd.Series[Any]) -> np.ndarray:
    """`is_missing` of every cell of a column (or of its `cell_texts`)."""
    column = texts if isinstance(texts, pd.Series) else pd.Series(texts, dtype=object)
    return np.asarray(_folded(column).isin(list(_MISSING_TEXT)).to_numpy(dtype=bool))


def check_ids(table: RawTable, column: str, checks: RowChecks) -> Sequence[str]:
    """Read the id column, rejecting missing and duplicate ids.

    The ids of a text column stay held by Arrow (no Python string per row).
    """
    cells = table.frame[column]
    ids: Any
    if isinstance(cells.dtype, pd.StringDtype):
        pa = importlib.import_module("pyarrow")
        pc = importlib.import_module("pyarrow.compute")
        ids = cells.str.strip().fillna("").array
        encoded = pc.dictionary_encode(pa.chunked_array(ids.__arrow_array__()).combine_chunks())
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        del encoded
        pa.default_memory_pool().release_unused()  # the hash table's memory back to the system
    else:
        ids = cell_texts(cells)
        codes, _ = pd.factorize(ids)
    missing = missing_mask(cells)
    _, first_of_code = np.unique(codes, return_index=True)
    first = first_of_code[codes]
    for pos in np.flatnonzero(missing | (first != np.arange(len(ids)))).tolist():
        value = ids[pos]
        if missing[pos]:
            checks.add(pos, column, value, "missing id")
            continue
        checks.add(
            pos,
            column,
            value,
            f"duplicate id {value!r} (first on row {table.rows[first[pos]]}); "
            "give every row its own id",
        )
    return ids  # type: ignore[no-any-return]


def points_from_table(
    table: RawTable,
    *,
    x_col: str | None,
    y_col: str | None,
    checks: RowChecks,
    ids: Sequence[str],
) -> Candidates:
    """Read point coordinates from geometry or from x/y columns.

    Rows whose coordinates are missing or unreadable are recorded in `checks`;
    their coordinates are NaN.
    """
    n = len(table)
    hemisphere_swap = np.zeros(n, dtype=bool)
    if table.geometry is not None:
        x, y = _points_from_geometry(table, checks)
        return Candidates(ids, x, y, hemisphere_swap)
    assert x_col is not None
    assert y_col is not None
    x, x_errors, x_axes = parse_coordinate_column(table.frame[x_col])
    y, y_errors, y_axes = parse_coordinate_column(table.frame[y_col])
    x = np.array(x, dtype=float)
    y = np.array(y, dtype=float)
    x_cells, y_cells = table.frame[x_col], table.frame[y_col]
    both_missing = missing_mask(x_cells) & missing_mask(y_cells)
    for pos in np.flatnonzero(both_missing).tolist():  # one problem, said once
        checks.add(
            pos,
            f"{x_col}/{y_col}",
            "",
            "no coordinates (both cells empty); enter where the home is, or remove the row",
        )
    for pos, error in enumerate(x_errors):
        if error and not both_missing[pos]:
            checks.add(pos, x_col, x_cells.iloc[pos], str(error))
    for pos, error in enumerate(y_errors):
        if error and not both_missing[pos]:
            checks.add(pos, y_col, y_cells.iloc[pos], str(error))
    x_axis = np.asarray(x_axes, dtype=object)
    y_axis = np.asarray(y_axes, dtype=object)
    hemisphere_swap = ((x_axis == "lat") & ((y_axis == "lon") | pd.isna(y_axis))) | (
        (y_axis == "lon") & pd.isna(x_axis)
    )
    x, y = np.where(hemisphere_swap, y, x), np.where(hemisphere_swap, x, y)
    return Candidates(ids, x, y, hemisphere_swap)


def _points_from_geometry(table: RawTable, checks: RowChecks) -> tuple[np.ndarray, np.ndarray]:
    assert table.geometry is not None
    geoms = np.asarray(table.geometry.array, dtype=object)
    n = len(geoms)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    for pos, geom in enumerate(geoms):
        if geom is None or shapely.is_empty(geom):
            checks.add(pos, "geometry", "", "missing geometry")
            continue
        point = geom
        if shapely.get_type_id(geom) == 4 and shapely.get_num_geometries(geom) == 1:
            point = shapely.get_geometry(geom, 0)  # a MultiPoint of one point
        if shapely.get_type_id(point) != 0:
            checks.add(
                pos,
                "geometry",
                geom.geom_type,
                f"geometry is a {geom.geom_type}, not a point; "
                "use one point per child (QGIS: Vector > Geometry Tools > Centroids)",
            )
            continue
        x[pos], y[pos] = shapely.get_x(point), shapely.get_y(point)
    return x, y


def normalise_status(
    table: RawTable,
    column: str,
    case: tuple[str, ...],
    control: tuple[str, ...],
    checks: RowChecks,
) -> list[str]:
    """Map the status column to ``'case'``/``'control'``; reject anything else."""
    cells = table.frame[column]
    lowered = _folded(cells)
    is_case = lowered.isin(list(case)).to_numpy(dtype=bool)
    is_control = lowered.isin(list(control)).to_numpy(dtype=bool) & ~is_case
    out = np.full(len(cells), "", dtype=object)
    out[is_case], out[is_control] = "case", "control"
    missing = missing_mask(cells)
    for pos in np.flatnonzero(~is_case & ~is_control).tolist():
        raw = cells.iloc[pos]
        if missing[pos]:
            checks.add(
                pos,
                column,
                raw,
                f"missing status; enter a case value {list(case)} or a control value "
                f"{list(control)}, or remove the row",
            )
        else:
            checks.add(
                pos,
                column,
                raw,
                f"status {cell_text(raw)!r} is neither a case value {list(case)} nor a "
                f"control value {list(control)}; add it to case = [...] or control = [...] "
                "in [subjects], or correct the row",
            )
    return list(out)


def to_attributes(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn text columns that hold only numbers (or blanks) into numbers."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        texts = [cell_text(v) for v in column]
        present = [t for t in texts if not is_missing(t)]
        values: Any = column
        if present:
            numbers = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
            if numbers.isna().any() and all(
                t.replace(",", "", 1).lstrip("-").isdigit() for t in present
            ):
                numbers = pd.to_numeric(
                    pd.Series([t.replace(",", ".") for t in present], dtype=object),
                    errors="coerce",
                )
            if not numbers.isna().any():
                values = pd.to_numeric(
                    pd.Series(
                        [None if is_missing(t) else t.replace(",", ".") for t in texts],
                        dtype=object,
                    ),
                    errors="coerce",
                )
            else:
                values = pd.Series([None if is_missing(t) else t for t in texts], dtype="str")
        else:
            values = pd.Series([np.nan] * len(texts), dtype=float)
        out[str(name)] = list(values)
    return pd.DataFrame(out, index=frame.index)
