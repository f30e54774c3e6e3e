"""Join area polygons to a table of counts or prevalence by area code, checking every row.

Codes are compared after `normalise_code`: the BPS/Kemendagri code
``16.10`` and ``1610`` are the same area. Every table row ends up either in
the data or in the rejects (missing count, zero population, cases above the
population, prevalence outside 0–100 %, no polygon with that code,
duplicates), and every polygon without a usable row is listed too.

Beware: BPS and Kemendagri number some regencies differently (BPS 1608 is
Kemendagri 16.09, OKU Selatan); join on the same coding system as the
polygons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_stunting.errors import InputError, Problem
from geo_stunting.study._readers import RawTable
from geo_stunting.study._validate import REJECT_COLUMNS, RowChecks, cell_text, is_missing

__all__ = ["AreaData", "join_areas", "join_raw_tables", "normalise_code", "same_name"]

_SEPARATORS = str.maketrans("", "", ". -/_")
ColumnSpec = str | Mapping[str, str] | None


def normalise_code(value: object) -> str:
    """Return an area code without separators, so that ``16.10`` matches ``1610``.

    Examples
    --------
    >>> normalise_code("16.10"), normalise_code(1610), normalise_code(" 16.10.01.2005 ")
    ('1610', '1610', '1610012005')
    """
    return cell_text(value).translate(_SEPARATORS).upper()


@dataclass(frozen=True)
class AreaData:
    """Polygons joined to their counts or prevalence, period by period.

    Attributes
    ----------
    polygons
        One row per analysed area: ``area_code`` (normalised), ``code`` (as
        written in the polygons), ``area_name``, ``source_row``, geometry.
    values
        Long table: ``area_code``, ``period``, ``cases``, ``population``
        (NaN when only a percentage is known), ``prevalence_pct``,
        ``source_row``.
    periods
        The periods in order (``""`` for a single unnamed period).
    mode
        ``"counts"`` (cases and population), ``"prevalence"`` (percent, with
        sample sizes when ``has_counts``) or ``"aggregate"`` (from points).
    has_counts
        Whether every value has a population at risk (needed by empirical
        Bayes, the probability map, the scan and confidence intervals).
    rejects
        Rejected table rows (layer ``areas``) and polygons without data
        (layer ``areas_polygons``), in the columns of ``rejects.csv``.
    rows_read
        Table rows read.
    name_mismatches
        Rows whose name (``table_name``) differs from their polygon's name
        although the codes match: ``row``, ``code``, ``table``, ``polygon``.
    """

    polygons: gpd.GeoDataFrame
    values: pd.DataFrame
    periods: tuple[str, ...]
    mode: str
    has_counts: bool
    rejects: pd.DataFrame
    rows_read: int
    name_mismatches: tuple[dict[str, Any], ...] = ()

    def period_frame(self, period: str) -> gpd.GeoDataFrame:
        """The polygons with the period's ``cases``, ``population`` and ``prevalence_pct``."""
        values = self.values[self.values["period"] == period].set_index("area_code")
        out = self.polygons.copy()
        for column in ("cases", "population", "prevalence_pct"):
            out[column] = out["area_code"].map(values[column]).astype(float)
        return out


def join_areas(
    polygons: gpd.GeoDataFrame,
    table: pd.DataFrame | None = None,
    *,
    code: str,
    table_code: str | None = None,
    name: str | None = None,
    cases: ColumnSpec = None,
    population: ColumnSpec = None,
    prevalence: ColumnSpec = None,
    sample_size: ColumnSpec = None,
    period: str | None = None,
    table_name: str | None = None,
) -> AreaData:
    """Join polygons to a table of counts or prevalence by code.

    Parameters
    ----------
    polygons
        Area polygons with a code column.
    table
        One row per area (and period, for a long table); ``None`` reads the
        columns from `polygons` itself.
    code, table_code
        The code columns (`table_code` defaults to `code`).
    name
        Name column of `polygons` (the code when ``None``).
    cases, population
        Count columns: one name, or ``{period: column}`` for a wide table.
    prevalence, sample_size
        Percent (0–100) and the optional number of children measured.
    period
        The period column of a long table.
    table_name
        Name column of the table: rows whose name differs from their
        polygon's are listed in ``name_mismatches`` (codes from two coding
        systems match the wrong areas).

    Returns
    -------
    AreaData
        Matched polygons, the values and every rejected row or polygon.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> polys = gpd.GeoDataFrame({"kode": ["16.10", "16.11"]},
    ...                          geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=3857)
    >>> table = pd.DataFrame({"kode": ["1610", "1611"], "pct": ["29.2", "101"]})
    >>> data = join_areas(polys, table, code="kode", prevalence="pct")
    >>> data.values["prevalence_pct"].tolist(), data.rejects["reason"].tolist()
    ([29.2], ['prevalence 101 is outside 0–100 %', 'no usable row in the table'])
    """
    attributes = pd.DataFrame(polygons.drop(columns=polygons.geometry.name)).astype(object)
    polygon_table = RawTable(
        "<polygons>",
        attributes.reset_index(drop=True),
        tuple(range(1, len(polygons) + 1)),
        geometry=polygons.geometry.reset_index(drop=True),
        crs=polygons.crs,
    )
    raw = (
        None
        if table is None
        else RawTable(
            "<table>", table.astype(object).reset_index(drop=True), tuple(range(2, len(table) + 2))
        )
    )
    columns = {
        "cases": _pairs(cases),
        "population": _pairs(population),
        "prevalence": _pairs(prevalence),
        "sample_size": _pairs(sample_size),
    }
    data = join_raw_tables(
        polygon_table,
        polygons.reset_index(drop=True).assign(source_row=list(polygon_table.rows)),
        raw,
        code=code,
        table_code=table_code,
        name=name,
        columns=columns,
        period=period,
        table_name=table_name,
    )
    return data


def _pairs(spec: ColumnSpec) -> tuple[tuple[str, str], ...]:
    if spec is None:
        return ()
    if isinstance(spec, str):
        return (("", spec),)
    return tuple((str(k), str(v)) for k, v in spec.items())


def join_raw_tables(
    polygon_table: RawTable,
    polygons: gpd.GeoDataFrame,
    table: RawTable | None,
    *,
    code: str,
    table_code: str | None,
    name: str | None,
    columns: Mapping[str, tuple[tuple[str, str], ...]],
    period: str | None,
    table_name: str | None = None,
) -> AreaData:
    """Join checked polygons (with ``source_row``) to a raw table; see `join_areas`.

    `polygon_table` is the polygons' file as read: codes are taken from its
    cells as written (a number-looking code such as ``16.10`` must not
    become 16.1).
    """
    problems: list[Problem] = []
    _require(polygon_table, [code] + ([name] if name else []), "[areas] code", problems)
    source = table if table is not None else polygon_table
    wanted = [table_code or code] + [c for pairs in columns.values() for _, c in pairs]
    wanted += [table_name] if table_name else []
    _require(source, wanted + ([period] if period else []), "[areas]", problems)
    if problems:
        raise InputError(problems)
    position = {row: pos for pos, row in enumerate(polygon_table.rows)}
    codes: list[str] = []
    written: list[str] = []
    names: list[str] = []
    poly_rejects: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    keep = np.ones(len(polygons), dtype=bool)
    for i, row in enumerate(polygons["source_row"].to_numpy()):
        cell = polygon_table.frame[code].iloc[position[int(row)]]
        text = cell_text(cell)
        norm = normalise_code(text)
        label = cell_text(polygon_table.frame[name].iloc[position[int(row)]]) if name else text
        codes.append(norm)
        written.append(text)
        names.append(label or text)
        reason = None
        if not norm:
            reason = "polygon has no area code"
        elif norm in first:
            reason = f"duplicate area code {text!r} (also on feature {first[norm]})"
        if reason is not None:
            keep[i] = False
            poly_rejects.append(_poly_reject(polygon_table.name, int(row), code, text, reason))
        else:
            first[norm] = int(row)
    gdf = gpd.GeoDataFrame(
        {
            "area_code": codes,
            "code": written,
            "area_name": names,
            "source_row": polygons["source_row"].to_numpy(),
        },
        geometry=polygons.geometry.to_numpy(),
        crs=polygons.crs,
    )[keep]
    values, table_rejects = _read_values(
        source, table_code or code, columns, period, set(gdf["area_code"])
    )
    mode = "counts" if columns["cases"] else "prevalence"
    used = set(values["area_code"])
    poly_rejects.extend(
        _poly_reject(polygon_table.name, int(row), code, text, "no usable row in the table")
        for norm, row, text in zip(gdf["area_code"], gdf["source_row"], gdf["code"], strict=True)
        if norm not in used
    )
    gdf = gdf[gdf["area_code"].isin(used)].reset_index(drop=True)
    if len(gdf) == 0:
        raise InputError(
            Problem(
                f"no area of the table matches a polygon: the polygons' codes look like "
                f"{written[:3]}, the table's like "
                f"{[cell_text(v) for v in source.frame[table_code or code].head(3)]}",
                file=source.name,
                column=table_code or code,
                fix="check code and table_code in [areas]; both must use the same coding "
                "(BPS and Kemendagri codes differ for some regencies)",
            )
        )
    periods = tuple(dict.fromkeys(values["period"]))
    has_counts = bool(values["population"].notna().all())
    rejects = pd.DataFrame(table_rejects + poly_rejects, columns=list(REJECT_COLUMNS))
    return AreaData(
        polygons=gdf,
        values=values,
        periods=periods,
        mode=mode,
        has_counts=has_counts,
        rejects=rejects,
        rows_read=len(source),
        name_mismatches=_name_mismatches(source, table_name, values, gdf),
    )


_ADMIN_WORDS = frozenset({"kabupaten", "kab", "kota", "kecamatan", "kec", "desa", "kelurahan"})


def _name_words(text: str) -> tuple[frozenset[str], str]:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    kept = [w for w in words if w not in _ADMIN_WORDS]
    return frozenset(kept), "".join(kept)


def same_name(first: str, second: str) -> bool:
    """Whether two area names are the same place, ignoring case, punctuation and admin words.

    Examples
    --------
    >>> same_name("Kota Lubuklinggau", "Kota Lubuk Linggau"), same_name("Kab. Lahat", "LAHAT")
    (True, True)
    >>> same_name("Kab. Ogan Komering Ulu Selatan", "Kabupaten Ogan Komering Ulu Timur")
    False
    """
    words_a, joined_a = _name_words(first)
    words_b, joined_b = _name_words(second)
    return words_a == words_b or joined_a == joined_b


def _name_mismatches(
    table: RawTable, column: str | None, values: pd.DataFrame, polygons: gpd.GeoDataFrame
) -> tuple[dict[str, Any], ...]:
    if column is None:
        return ()
    names = dict(zip(polygons["area_code"], polygons["area_name"], strict=True))
    written = dict(zip(polygons["area_code"], polygons["code"], strict=True))
    position = {row: pos for pos, row in enumerate(table.rows)}
    out = []
    seen: set[int] = set()
    for code, row in zip(values["area_code"], values["source_row"], strict=True):
        if int(row) in seen:
            continue
        seen.add(int(row))
        given = cell_text(table.frame[column].iloc[position[int(row)]])
        if given and not same_name(given, names[code]):
            out.append(
                {"row": int(row), "code": written[code], "table": given, "polygon": names[code]}
            )
    return tuple(out)


def _poly_reject(file: str, row: int, column: str, value: str, reason: str) -> dict[str, Any]:
    return {
        "layer": "areas_polygons",
        "file": file,
        "row": row,
        "id": value,
        "column": column,
        "value": value,
        "reason": reason,
    }


def _require(table: RawTable, wanted: list[str], key: str, problems: list[Problem]) -> None:
    columns = [str(c) for c in table.frame.columns]
    problems.extend(
        Problem(
            f"column {column!r} not found ({key}); the columns are {columns}",
            file=table.name,
            row=1,
            column=column,
            fix="correct the column name in [areas]",
        )
        for column in dict.fromkeys(wanted)
        if column not in columns
    )


def _number(value: object) -> float | None:
    """A cell as a number (decimal comma allowed), ``None`` when missing, NaN when unreadable."""
    if is_missing(value):
        return None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    text = cell_text(value).replace(" ", "").replace("%", "")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return math.nan


def _read_values(
    table: RawTable,
    code: str,
    columns: Mapping[str, tuple[tuple[str, str], ...]],
    period: str | None,
    known: set[str],
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    checks = RowChecks(table, "areas")
    labels = [label for label, _ in next(pairs for pairs in columns.values() if pairs)]
    records: list[dict[str, Any]] = []
    ids: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for pos in range(len(table)):
        text = cell_text(table.frame[code].iloc[pos])
        norm = normalise_code(text)
        ids.append(text)
        if not norm:
            checks.add(pos, code, text, "missing area code")
            continue
        if norm not in known:
            cell = table.frame[code].iloc[pos]
            hint = (
                "; the cell holds a number, not text: a spreadsheet turns 16.10 into 16.1 "
                "(format the code column as text)"
                if isinstance(cell, float | np.floating) and not float(cell).is_integer()
                else "; if it is a province or national total, leave it out, else check the code"
            )
            checks.add(
                pos, code, text, f"no polygon has code {text!r} (compared as {norm!r}){hint}"
            )
            continue
        row_periods = labels
        if period is not None:
            row_periods = [cell_text(table.frame[period].iloc[pos])]
            if not row_periods[0]:
                checks.add(pos, period, "", "missing period")
                continue
        for label in row_periods:
            key = (norm, label)
            if key in seen:
                checks.add(
                    pos,
                    code,
                    text,
                    f"a second row for area {text!r}"
                    + (f" in period {label!r}" if label else "")
                    + f" (first on row {table.rows[seen[key]]})",
                )
                continue
            seen[key] = pos
            record = _row_values(table, pos, columns, label if period is None else "", checks)
            if record is not None:
                records.append(
                    {"area_code": norm, "period": label, **record, "source_row": table.rows[pos]}
                )
    ok = checks.ok()
    rows_ok = {table.rows[pos] for pos in np.flatnonzero(ok).tolist()}
    values = pd.DataFrame(
        [r for r in records if r["source_row"] in rows_ok],
        columns=["area_code", "period", "cases", "population", "prevalence_pct", "source_row"],
    )
    return values.astype({"cases": float, "population": float, "prevalence_pct": float}), (
        checks.rejects(ids)
    )


def _cell(
    table: RawTable,
    pos: int,
    pairs: tuple[tuple[str, str], ...],
    label: str,
) -> tuple[str, float | None] | None:
    for period, column in pairs:
        if period == label:
            return column, _number(table.frame[column].iloc[pos])
    return None


def _row_values(
    table: RawTable,
    pos: int,
    columns: Mapping[str, tuple[tuple[str, str], ...]],
    label: str,
    checks: RowChecks,
) -> dict[str, float] | None:
    where = f" ({label})" if label else ""
    found: dict[str, tuple[str, float | None]] = {}
    for key, pairs in columns.items():
        cell = _cell(table, pos, pairs, label)
        if cell is not None:
            found[key] = cell
    bad = False
    for key, (column, number) in found.items():
        if number is None and key != "sample_size":
            checks.add(pos, column, "", f"missing {key.replace('_', ' ')}{where}")
            bad = True
        elif number is not None and not math.isfinite(number):
            checks.add(pos, column, table.frame[column].iloc[pos], f"{key} is not a number")
            bad = True
        elif number is not None and number < 0:
            reason = (
                f"prevalence {number:g} is outside 0–100 %{where}"
                if key == "prevalence"
                else f"negative {key.replace('_', ' ')}{where}"
            )
            checks.add(pos, column, table.frame[column].iloc[pos], reason)
            bad = True
    if bad:
        return None
    if "cases" in found:
        cases = found["cases"][1]
        pop_column, population = found["population"]
        assert cases is not None
        assert population is not None
        if population == 0:
            checks.add(pos, pop_column, "0", f"population is 0{where}: no child at risk, no rate")
            return None
        if cases > population:
            checks.add(
                pos,
                found["cases"][0],
                f"{cases:g} > {population:g}",
                f"more cases than population{where}",
            )
            return None
        return {
            "cases": cases,
            "population": population,
            "prevalence_pct": 100 * cases / population,
        }
    prev_column, prevalence = found["prevalence"]
    assert prevalence is not None
    if prevalence > 100:
        checks.add(
            pos,
            prev_column,
            f"{prevalence:g}",
            f"prevalence {prevalence:g} is outside 0–100 %{where}",
        )
        return None
    size = found.get("sample_size", ("", None))[1]
    if size is not None and size == 0:
        checks.add(pos, found["sample_size"][0], "0", f"sample size is 0{where}")
        return None
    population = math.nan if size is None else size
    cases = math.nan if size is None else round(prevalence * size / 100)
    return {"cases": cases, "population": population, "prevalence_pct": prevalence}
