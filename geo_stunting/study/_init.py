"""``geo-stunting init``: a first, commented study file written by looking at the data.

Each file is read with the study readers and given a role: polygons are the
study area, the table with a case/control column holds the subjects, another
point table holds the facilities. For each role the usual column names are
proposed (``lintang``/``bujur`` or ``lat``/``lon`` as y/x, ``desa`` as the
stratum, ``jenis`` as the facility kind, ``nama`` as the village name) and the
status values found are listed, sorted into case and control where their
word says which. What could not be decided is left as a comment saying what to
write. The result is a proposal to read and correct, and it says so.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from geo_stunting.errors import Problem, StudyFileError
from geo_stunting.study._file_schema import SCHEMA_DIRECTIVE, study_file_schema_text
from geo_stunting.study._readers import RawTable, read_table
from geo_stunting.study._validate import cell_text, guess_area_name, is_missing

__all__ = ["propose_study_file", "write_study_file"]

X_NAMES = ("lon", "long", "lng", "longitude", "bujur", "x", "easting")
Y_NAMES = ("lat", "latitude", "lintang", "y", "northing")
ID_NAMES = ("id", "subject_id", "id_anak", "id_balita", "kode", "code", "no", "nomor")
STATUS_NAMES = ("status", "kasus", "case_control", "kelompok", "group", "outcome", "stunting")
STRATUM_NAMES = ("village", "desa", "kelurahan", "desa_kelurahan", "nama_desa")
KIND_NAMES = ("type", "kind", "jenis", "tipe", "kategori", "jenis_faskes", "facility_type")
NAME_NAMES = ("name", "nama", "nama_faskes", "facility", "faskes")
CASE_WORDS = ("case", "kasus", "stunting", "stunted", "pendek", "sangat pendek", "1", "ya", "yes")
CONTROL_WORDS = ("control", "kontrol", "normal", "tidak", "bukan", "0", "no", "non-stunting")
#: A column with at most this many distinct values may be a status column.
MAX_STATUS_VALUES = 12


@dataclass
class _Found:
    path: Path
    table: RawTable
    columns: list[str] = field(default_factory=list)


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first of `names` among `columns`, compared in lower case, spaces as ``_``.

    >>> _pick(["No", "ID Balita", "Nama Desa"], ("id", "id_balita", "no"))
    'ID Balita'
    """
    folded = {re.sub(r"[\s.-]+", "_", c.strip().lower()): c for c in reversed(columns)}
    for name in names:
        if name in folded:
            return folded[name]
    return None


def _values(table: RawTable, column: str) -> Counter[str]:
    return Counter(cell_text(v).strip() for v in table.frame[column] if not is_missing(v))


def _status_column(found: _Found) -> str | None:
    named = _pick(found.columns, STATUS_NAMES)
    if named is not None:
        return named
    words = {w.lower() for w in CASE_WORDS + CONTROL_WORDS} - {"0", "1"}
    for column in found.columns:
        values = _values(found.table, column)
        if 2 <= len(values) <= MAX_STATUS_VALUES and {v.lower() for v in values} & words:
            return column
    return None


def _is_polygons(table: RawTable) -> bool:
    if table.geometry is None or len(table.geometry) == 0:
        return False
    kinds = set(table.geometry.geom_type.dropna())
    return bool(kinds) and kinds <= {"Polygon", "MultiPolygon"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _list(values: list[str]) -> str:
    return "[" + ", ".join(_quote(v) for v in values) + "]"


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _xy_lines(found: _Found, role: str) -> list[str]:
    if found.table.geometry is not None:
        return [f"# x, y: not needed, the {role} file has point geometries and its own CRS"]
    x, y = _pick(found.columns, X_NAMES), _pick(found.columns, Y_NAMES)
    columns = ", ".join(found.columns)
    lines = [
        f"x = {_quote(x)}" if x else f"# x = ...  # no longitude column among: {columns}",
        f"y = {_quote(y)}" if y else f"# y = ...  # no latitude column among: {columns}",
    ]
    if x and y:
        xs = pd.to_numeric(found.table.frame[x].map(cell_text), errors="coerce").abs().max()
        ys = pd.to_numeric(found.table.frame[y].map(cell_text), errors="coerce").abs().max()
        if pd.notna(xs) and pd.notna(ys) and (xs > 180 or ys > 90):
            lines.append('crs = "EPSG:32748"  # the numbers look like metres: write their CRS here')
        else:
            lines.append('crs = "EPSG:4326"  # longitude and latitude in degrees (WGS 84)')
    return lines


def _subjects(found: _Found, folder: Path) -> list[str]:
    lines = [
        "[subjects]  # cases and controls, one row per child",
        f"path = {_quote(_relative(found.path, folder))}",
    ]
    id_column = _pick(found.columns, ID_NAMES)
    lines.append(
        f"id = {_quote(id_column)}"
        if id_column
        else f'# id = "..."  # no id column found; columns: {", ".join(found.columns)}'
    )
    lines += _xy_lines(found, "subjects")
    status = _status_column(found)
    if status is None:
        lines.append('# status = "..."  # no case/control column found: name it here')
    else:
        values = _values(found.table, status)
        case = [v for v in values if v.lower() in CASE_WORDS]
        control = [v for v in values if v.lower() in CONTROL_WORDS]
        other = [v for v in values if v not in case and v not in control]
        found_text = ", ".join(f"{v!r} ({n})" for v, n in values.most_common())
        lines += [f"status = {_quote(status)}", f"# values found in {status!r}: {found_text}"]
        lines.append(
            f"case = {_list(case)}" if case else '# case = ["..."]  # which values are cases?'
        )
        lines.append(
            f"control = {_list(control)}"
            if control
            else '# control = ["..."]  # which values are controls?'
        )
        if other:
            lines.append(
                f"# not sorted (rows with these are rejected unless listed above): {other}"
            )
    stratum = _pick(found.columns, STRATUM_NAMES)
    lines.append(
        f"stratum = {_quote(stratum)}  # the village of each child"
        if stratum
        else '# stratum = "village"  # optional: the village of each child'
    )
    return lines


def _facilities(found: _Found, folder: Path) -> list[str]:
    lines = [
        "[facilities]  # health facilities",
        f"path = {_quote(_relative(found.path, folder))}",
    ]
    id_column = _pick(found.columns, ID_NAMES)
    lines.append(f"id = {_quote(id_column)}" if id_column else '# id = "..."  # no id column found')
    name = _pick(found.columns, NAME_NAMES)
    lines.append(f"name = {_quote(name)}" if name else '# name = "..."  # optional: the name')
    kind = _pick(found.columns, KIND_NAMES)
    if kind:
        kinds = ", ".join(f"{v!r} ({n})" for v, n in _values(found.table, kind).most_common(10))
        lines += [f"kind = {_quote(kind)}", f"# kinds found in {kind!r}: {kinds}"]
    else:
        lines.append('# kind = "..."  # optional: puskesmas / pustu / posyandu / hospital …')
    return lines + _xy_lines(found, "facilities")


def _area(found: _Found, folder: Path) -> list[str]:
    lines = [
        "[area]  # the study-area polygons (villages)",
        f"path = {_quote(_relative(found.path, folder))}",
    ]
    name = guess_area_name(found.table)
    lines.append(
        f"name = {_quote(name)}  # the village name"
        if name
        else f'# name = "..."  # the village name; columns: {", ".join(found.columns)}'
    )
    if found.table.crs is None:
        lines.append('crs = "EPSG:4326"  # the file has no CRS: write the right one')
    lines.append('outside = "reject"  # subjects outside every polygon: "reject" or "keep"')
    lines.append("outside_m = 0  # keep subjects up to this far outside (metres, boundary error)")
    return lines


def propose_study_file(paths: list[Path], *, folder: Path) -> str:
    """The text of a commented study file for these data files.

    Parameters
    ----------
    paths
        Data files: subjects, facilities and study area in any order.
    folder
        The folder the study file will be written to (paths are relative to it).

    Raises
    ------
    StudyFileError
        When no file looks like the subjects (no case/control column).
    """
    found = []
    for path in paths:
        table = read_table(path)
        found.append(_Found(path, table, [str(c) for c in table.frame.columns]))
    area = next((f for f in found if _is_polygons(f.table)), None)
    points = [f for f in found if f is not area]
    subjects = next((f for f in points if _status_column(f) is not None), None)
    if subjects is None:
        raise StudyFileError(
            Problem(
                "none of the files has a case/control column",
                file=", ".join(str(p) for p in paths),
                fix=f"name the subjects' status column one of {list(STATUS_NAMES)}, "
                "or write the study file by hand (README: 'The study file')",
            )
        )
    others = [f for f in points if f is not subjects]
    facilities = others[0] if others else None
    name = subjects.path.parent.resolve().name.replace("_", " ").strip() or "My study"
    lines = [
        SCHEMA_DIRECTIVE,
        "# Study file written by `geo-stunting init`: a proposal from the data. Read it, correct",
        "# it, then run `geo-stunting validate` on it. Paths are relative to this file; every key",
        "# is described in the README ('The study file') and in study.schema.json.",
        "",
        "[study]",
        f"name = {_quote(name)}",
        "",
        *_subjects(subjects, folder),
    ]
    if facilities is not None:
        lines += ["", *_facilities(facilities, folder)]
    if area is not None:
        lines += ["", *_area(area, folder)]
    for extra in others[1:]:
        lines += ["", f"# not used: {_relative(extra.path, folder)} (only one facilities file)"]
    lines += [
        "",
        "[analysis]",
        'crs = "auto"  # the UTM zone of the study; or a projected CRS such as "EPSG:32748"',
        "buffer_m = 2000  # facility coverage radius, metres",
        "permutations = 999",
        "seed = 20231  # the same seed gives the same results",
        'weights = "knn:5"',
        "",
        "# [risk_factors]  # without this section the factors are inferred from the subjects'",
        "# columns; list them to choose types, reference levels and order (README).",
    ]
    return "\n".join(lines) + "\n"


def write_study_file(paths: list[Path], *, out: Path) -> Path:
    """Write `propose_study_file` to ``out`` and the JSON Schema beside it; never overwrite.

    Raises
    ------
    StudyFileError
        If ``out`` exists, or when no file looks like the subjects.
    """
    if out.exists():
        raise StudyFileError(
            Problem(
                "the study file already exists; init never overwrites it",
                file=str(out),
                fix="give another name with --out, or move the existing file away",
            )
        )
    text = propose_study_file(paths, folder=out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    (out.parent / "study.schema.json").write_text(study_file_schema_text(), encoding="utf-8")
    return out
