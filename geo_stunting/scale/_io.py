"""Inputs of the dask engine (`geo_stunting.scale._engine`).

- `require_dask`: the optional dependencies, imported lazily with the install command.
- `input_files`, `read_subjects`: a folder, glob or file of GeoParquet or CSV parts (or a
  dask-geopandas / geopandas frame) as one dask-geopandas frame in the analysis CRS. Rows
  that cannot be used keep their place but carry a ``__reason__`` and no geometry; they are
  written to the rejects, never silently dropped.
"""

from __future__ import annotations

import glob
import importlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo_stunting.errors import AnalysisError, InputError, Problem
from geo_stunting.scale._csv import csv_header_line, read_csv_part
from geo_stunting.study._config import DEFAULT_CASE_VALUES, DEFAULT_CONTROL_VALUES, SubjectsSpec
from geo_stunting.study._coordinates import parse_coordinate_column

__all__ = [
    "INSTALL_HINT",
    "REASON_COLUMNS",
    "input_files",
    "optional",
    "read_geoparquet",
    "read_subjects",
    "require_dask",
]

log = logging.getLogger(__name__)

INSTALL_HINT = 'pip install "geo_stunting[scale]"  (dask[distributed], dask-geopandas, pyarrow)'
#: Internal columns of a rejected row: why, which column, which value.
REASON_COLUMNS = ("__reason__", "__column__", "__value__")
_WGS84 = CRS.from_epsg(4326)
_TYPE_NAMES = np.array(
    [
        "missing",
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ],
    dtype=object,
)
_SUFFIXES = {".parquet": "parquet", ".geoparquet": "parquet", ".csv": "csv", ".txt": "csv"}


def require_dask() -> Any:
    """Import dask-geopandas (and check dask.distributed, pyarrow) or say how to install them.

    Raises
    ------
    AnalysisError
        Naming the missing package and the install command.
    """
    try:
        for name in ("pyarrow", "distributed", "dask_geopandas"):
            module = importlib.import_module(name)
    except ImportError as exc:
        raise AnalysisError(
            Problem(
                f"the dask engine needs the optional packages of geo_stunting[scale] "
                f"({exc.name} is not installed)",
                fix=INSTALL_HINT,
            )
        ) from None
    return module


def optional(name: str) -> Any:
    """An optional module (typed ``Any``: dask and pyarrow ship no complete stubs)."""
    return importlib.import_module(name)


# --------------------------------------------------------------------------- inputs


def input_files(source: str | Path) -> tuple[Literal["parquet", "csv"], list[Path]]:
    """The part files of a subjects source: a folder, a glob pattern or one file.

    Parameters
    ----------
    source
        ``"subjects/"`` (every ``*.parquet`` or ``*.csv`` below it, sorted),
        ``"subjects/*.csv"`` or ``"subjects.parquet"``.

    Returns
    -------
    tuple
        The format (``"parquet"`` or ``"csv"``) and the sorted files.

    Raises
    ------
    InputError
        If nothing is found, or formats are mixed.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _SUFFIXES)
    elif path.is_file():
        files = [path]
    else:
        files = sorted(Path(p) for p in glob.glob(str(source)) if Path(p).is_file())  # noqa: PTH207
        files = [p for p in files if p.suffix.lower() in _SUFFIXES]
    if not files:
        raise InputError(
            Problem(
                "no GeoParquet (.parquet) or CSV (.csv) subject files found",
                file=str(source),
                fix="give a folder of part files, a glob such as 'subjects/*.csv', or one file",
            )
        )
    kinds = {_SUFFIXES[p.suffix.lower()] for p in files}
    if len(kinds) > 1:
        raise InputError(
            Problem(
                "the subject files mix GeoParquet and CSV",
                file=str(source),
                fix="keep one format in the folder (convert the CSVs to GeoParquet, or "
                "point at a glob such as 'subjects/*.parquet')",
            )
        )
    kind: Literal["parquet", "csv"] = "parquet" if kinds == {"parquet"} else "csv"
    return kind, files


@dataclass(frozen=True)
class _Columns:
    """Where the standard columns are in the input, and the status values."""

    id: str
    status: str | None
    case: tuple[str, ...]
    control: tuple[str, ...]
    x: str | None = None
    y: str | None = None
    source_crs: str | None = None


def _find(columns: list[str], wanted: str) -> str | None:
    exact = [c for c in columns if c == wanted]
    loose = [c for c in columns if c.strip().lower() == wanted.strip().lower()]
    found = exact or loose
    return found[0] if found else None


def _resolve(columns: list[str], spec: SubjectsSpec | None, where: str, *, csv: bool) -> _Columns:
    spec = spec or SubjectsSpec(path=Path())
    problems: list[Problem] = []
    id_candidates = [spec.id, "subject_id"] if spec.id == "id" else [spec.id]
    id_col = next((c for w in id_candidates if (c := _find(columns, w)) is not None), None)
    if id_col is None:
        problems.append(
            Problem(
                f"no id column {spec.id!r}",
                file=where,
                fix=f"name the id column in [subjects] id = ...; columns: {columns[:12]}",
            )
        )
    status = _find(columns, spec.status)
    x = y = None
    if csv:
        x, y = _find(columns, spec.x), _find(columns, spec.y)
        for key, col in (("x", x), ("y", y)):
            if col is None:
                problems.append(
                    Problem(
                        f"no coordinate column {getattr(spec, key)!r}",
                        file=where,
                        column=f"[subjects] {key}",
                        fix=f"name it in [subjects] {key} = ...; columns: {columns[:12]}",
                    )
                )
        if status is None:
            problems.append(
                Problem(
                    f"no status column {spec.status!r}",
                    file=where,
                    fix="name it in [subjects] status = ...",
                )
            )
    if problems:
        raise InputError(problems)
    assert id_col is not None
    return _Columns(
        id_col,
        status,
        spec.case or DEFAULT_CASE_VALUES,
        spec.control or DEFAULT_CONTROL_VALUES,
        x,
        y,
        spec.crs or "EPSG:4326",
    )


def _meta(attributes: list[str], crs: CRS, *, with_status: bool) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {"subject_id": pd.Series([], dtype="str")}
    if with_status:
        data["status"] = pd.Series([], dtype="str")
    data["__file__"] = pd.Series([], dtype="int32")
    data["source_row"] = pd.Series([], dtype="int64")
    for column in attributes:
        data[column] = pd.Series([], dtype="object")
    for column in REASON_COLUMNS:
        data[column] = pd.Series([], dtype="object")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


Check = tuple[np.ndarray, str | None, Any, Any]


def _reject(checks: dict[str, Check], n: int) -> tuple[np.ndarray, ...]:
    """The first failed check of each row: (reason, column, value), ``None`` where none failed."""
    out = [np.full(n, None, dtype=object) for _ in REASON_COLUMNS]
    free = np.ones(n, dtype=bool)
    for mask, column, value, reason in checks.values():
        new = np.asarray(mask, dtype=bool) & free
        if not new.any():
            continue
        out[0][new] = np.asarray(reason, dtype=object)[new] if np.ndim(reason) else reason
        out[1][new] = column
        out[2][new] = np.asarray(value, dtype=object)[new]
        free &= ~new
    return tuple(out)


def _status(raw: pd.Series, cols: _Columns) -> tuple[np.ndarray, np.ndarray]:
    text = raw.astype("str").str.strip().str.lower().to_numpy(dtype=object, na_value="")
    status = np.full(len(text), None, dtype=object)
    status[np.isin(text, list(cols.case))] = "case"
    status[np.isin(text, list(cols.control))] = "control"
    return status, text


def _finish(
    frame: pd.DataFrame,
    xy: np.ndarray,
    checks: dict[str, Check],
    cols: _Columns,
    attributes: list[str],
    file_number: int,
    rows: np.ndarray,
    crs: CRS,
    geometry: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """The standard columns; failed rows keep their place with a reason and no geometry."""
    n = len(frame)
    ids = frame[cols.id].astype("str").reset_index(drop=True)
    missing_id = (ids.isna() | (ids.str.strip() == "")).to_numpy(dtype=bool, na_value=True)
    checks = {"id": (missing_id, cols.id, ids.to_numpy(dtype=object), "missing id"), **checks}
    data: dict[str, Any] = {"subject_id": ids}
    if cols.status is not None:
        status, text = _status(frame[cols.status], cols)
        checks["status"] = (
            pd.isna(status),
            cols.status,
            text,
            (
                f"status is neither a case value {list(cols.case)} nor a control value "
                f"{list(cols.control)}; add it to case = [...] or control = [...] in [subjects]"
            ),
        )
        data["status"] = pd.array(status, dtype="str")
    reason, column, value = _reject(checks, n)
    bad = ~pd.isna(reason)
    if geometry is None:
        geometry = np.full(n, None, dtype=object)
        geometry[~bad] = shapely.points(xy[~bad])
    elif bad.any():
        geometry = geometry.copy()
        geometry[bad] = None
    data["__file__"] = np.full(n, file_number, dtype=np.int32)
    data["source_row"] = rows.astype(np.int64)
    for name in attributes:
        data[name] = frame[name].to_numpy()
    data |= dict(zip(REASON_COLUMNS, (reason, column, value), strict=True))
    return gpd.GeoDataFrame(data, geometry=geometry, crs=crs)


def _range_check(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    outside: np.ndarray = (np.abs(lon) > 180) | (np.abs(lat) > 90)
    return outside


def _read_csv_part(
    item: tuple[int, str],
    *,
    cols: _Columns,
    attributes: list[str],
    delimiter: str,
    crs_wkt: str,
) -> gpd.GeoDataFrame:
    number, path = item
    frame = read_csv_part(Path(path), sep=delimiter, skip_blank_lines=False)
    rows = np.arange(len(frame), dtype=np.int64) + 2  # the header is line 1
    blank = (frame.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    frame, rows = frame.loc[~blank].reset_index(drop=True), rows[~blank]
    values = {}
    errors = {}
    for key, column in (("x", cols.x), ("y", cols.y)):
        assert column is not None
        raw = frame[column]
        coordinate = np.array(pd.to_numeric(raw.str.strip(), errors="coerce"), dtype=float)
        slow = ~np.isfinite(coordinate)
        error = np.full(len(raw), None, dtype=object)
        if slow.any():
            parsed, messages, _ = parse_coordinate_column(raw[slow].tolist())
            coordinate[slow] = parsed
            error[slow] = np.asarray(messages, dtype=object)
        values[key], errors[key] = coordinate, error
    target = CRS.from_wkt(crs_wkt)
    source = CRS.from_user_input(cols.source_crs)
    x, y = values["x"], values["y"]
    coord = f"{cols.x}/{cols.y}"
    shown = (frame[cols.x] + ", " + frame[cols.y]).to_numpy(dtype=object)
    checks: dict[str, Any] = {
        "x": (~pd.isna(errors["x"]), cols.x, frame[cols.x].to_numpy(dtype=object), errors["x"]),
        "y": (~pd.isna(errors["y"]), cols.y, frame[cols.y].to_numpy(dtype=object), errors["y"]),
    }
    if source.is_geographic:
        checks["zero"] = (
            (x == 0) & (y == 0),
            coord,
            shown,
            "coordinates 0, 0 are what a GPS app writes when it had no fix; take the point again",
        )
        checks["range"] = (
            _range_check(x, y),
            coord,
            shown,
            (
                "longitude/latitude outside -180..180 / -90..90; check the value (swapped x "
                "and y are not fixed by the dask engine)"
            ),
        )
    transformer = Transformer.from_crs(source, target, always_xy=True)
    ok = np.isfinite(x) & np.isfinite(y)
    px, py = transformer.transform(np.where(ok, x, 0.0), np.where(ok, y, 0.0))
    xy = np.column_stack([px, py]).astype(float)
    checks["transform"] = (
        ok & ~np.isfinite(xy).all(axis=1),
        coord,
        shown,
        "the coordinates cannot be transformed to the analysis CRS; check the value and crs",
    )
    return _finish(frame, xy, checks, cols, attributes, number, rows, target)


def _standardise_geo_part(
    part: gpd.GeoDataFrame, *, cols: _Columns, attributes: list[str], crs_wkt: str
) -> gpd.GeoDataFrame:
    target = CRS.from_wkt(crs_wkt)
    if part.crs is not None and not CRS(part.crs).equals(target):
        part = part.to_crs(target)
    geoms = np.asarray(part.geometry.array, dtype=object)
    type_id = shapely.get_type_id(geoms)
    xy = np.full((len(part), 2), np.nan)
    is_point = type_id == 0
    xy[is_point] = shapely.get_coordinates(geoms[is_point]) if is_point.any() else xy[is_point]
    shown = _TYPE_NAMES[type_id + 1]
    checks: dict[str, Check] = {
        "geometry": (
            ~is_point | ~np.isfinite(xy).all(axis=1),
            "geometry",
            shown,
            "missing, empty or non-point geometry",
        )
    }
    rows = (
        part["source_row"].to_numpy(dtype=np.int64)
        if "source_row" in part.columns
        else np.zeros(len(part), dtype=np.int64)
    )
    frame = pd.DataFrame(part.drop(columns=part.geometry.name)).reset_index(drop=True)
    return _finish(frame, xy, checks, cols, attributes, 0, rows, target, geoms)


def _geo_attributes(columns: list[str], cols: _Columns, geometry: str) -> list[str]:
    used = {cols.id, cols.status, geometry, "source_row", "source_file", "__file__"}
    return [c for c in columns if c not in used and c not in REASON_COLUMNS]


def read_subjects(
    source: Any,
    *,
    crs: CRS,
    spec: SubjectsSpec | None = None,
    piece_rows: int = 500_000,
) -> tuple[Any, tuple[str, ...]]:
    """Subjects from part files or frames as a dask-geopandas frame in the analysis CRS.

    Parameters
    ----------
    source
        A folder / glob / file of GeoParquet or CSV parts, a dask-geopandas
        GeoDataFrame, or a geopandas GeoDataFrame (split into `npartitions`).
    crs
        The analysis CRS (projected, metres).
    spec
        Column names, CSV coordinate CRS and status values as in ``[subjects]``
        (defaults: id ``id`` or ``subject_id``, status ``status``, x ``lon``, y ``lat``,
        EPSG:4326).
    piece_rows
        Rows per partition of an in-memory frame; a Parquet file is split into pieces of
        whole row groups of at most this many rows (a CSV file is one partition).

    Returns
    -------
    tuple
        A dask-geopandas frame with ``subject_id``, ``status`` (``"case"``/``"control"``;
        absent when the input has no status column and is not CSV), ``__file__`` (a
        position in the names), ``source_row``, the other input columns, the point
        geometry, and ``__reason__``/``__column__``/``__value__`` (set, with no geometry,
        on rows that cannot be used); and the names of the input files.
    """
    dask_geopandas = require_dask()
    dd = optional("dask.dataframe")

    crs_wkt = crs.to_wkt()
    if isinstance(source, str | Path):
        kind, files = input_files(source)
        names = tuple(f.name for f in files)
        if kind == "csv":
            return _read_csv_files(files, spec, crs, crs_wkt, dd), names
        return _read_parquet_files(files, spec, crs_wkt, piece_rows, dd), names
    if isinstance(source, gpd.GeoDataFrame):
        parts = max(1, -(-len(source) // piece_rows))
        frame = dask_geopandas.from_geopandas(source.reset_index(drop=True), npartitions=parts)
    elif isinstance(source, dask_geopandas.GeoDataFrame):
        frame = source
    else:
        raise AnalysisError(
            Problem(
                f"`subjects` must be a path or a (dask-)GeoDataFrame, got {type(source).__name__}",
                fix="pass a folder of GeoParquet parts, or dask_geopandas.from_geopandas(gdf, "
                "npartitions=8)",
            )
        )
    columns = [str(c) for c in frame.columns]
    cols = _resolve(columns, spec, "<subjects>", csv=False)
    attributes = _geo_attributes(columns, cols, frame.geometry.name)
    meta = _meta(attributes, crs, with_status=cols.status is not None)
    standard = frame.map_partitions(
        _standardise_geo_part, cols=cols, attributes=attributes, crs_wkt=crs_wkt, meta=meta
    )
    return standard, ("<subjects>",)


def _geo_column(handle: Any, path: Path) -> tuple[str, CRS | None]:
    metadata = handle.schema_arrow.metadata or {}
    geo = json.loads(metadata[b"geo"]) if b"geo" in metadata else None
    column = None if geo is None else geo.get("primary_column")
    info = {} if geo is None or column is None else geo["columns"].get(column, {})
    if geo is None or column is None or str(info.get("encoding", "WKB")).upper() != "WKB":
        raise InputError(
            Problem(
                "not a GeoParquet file with a WKB geometry column",
                file=str(path),
                fix="write it with geopandas: gdf.to_parquet(path) (the default WKB encoding)",
            )
        )
    crs = info.get("crs", "OGC:CRS84")  # the GeoParquet default when the key is absent
    return column, None if crs is None else CRS.from_user_input(crs)


def read_geoparquet(
    path: str | Path, *, row_groups: tuple[int, ...] | None = None, rows: int | None = None
) -> gpd.GeoDataFrame:
    """Read a GeoParquet file, some of its row groups, or its first `rows` rows."""
    pa, pq = optional("pyarrow"), optional("pyarrow.parquet")

    handle = pq.ParquetFile(path)
    column, crs = _geo_column(handle, Path(path))
    if rows is not None:
        batch = next(handle.iter_batches(batch_size=rows), None) if rows > 0 else None
        table = (
            handle.schema_arrow.empty_table() if batch is None else pa.Table.from_batches([batch])
        )
    elif row_groups is not None:
        table = handle.read_row_groups(list(row_groups))
    else:
        table = handle.read()
    frame = table.to_pandas()
    geometry = shapely.from_wkb(frame[column].to_numpy(dtype=object))
    return gpd.GeoDataFrame(frame.drop(columns=[column]), geometry=geometry, crs=crs)


def _read_parquet_piece(
    item: tuple[int, str, tuple[int, ...], int],
    *,
    cols: _Columns,
    attributes: list[str],
    crs_wkt: str,
) -> gpd.GeoDataFrame:
    number, path, row_groups, first_row = item
    part = read_geoparquet(path, row_groups=row_groups)
    part["source_row"] = np.arange(len(part), dtype=np.int64) + first_row + 1  # feature number
    out = _standardise_geo_part(part, cols=cols, attributes=attributes, crs_wkt=crs_wkt)
    out["__file__"] = np.int32(number)
    return out


def _read_parquet_files(
    files: list[Path], spec: SubjectsSpec | None, crs_wkt: str, piece_rows: int, dd: Any
) -> Any:
    pq = optional("pyarrow.parquet")

    pieces: list[tuple[int, str, tuple[int, ...], int]] = []
    names: list[str] | None = None
    for number, path in enumerate(files):
        handle = pq.ParquetFile(path)
        _geo_column(handle, path)
        if names is None:
            names = list(handle.schema_arrow.names)
        elif list(handle.schema_arrow.names) != names:
            raise InputError(
                Problem(
                    f"the GeoParquet parts do not share one set of columns ({files[0].name}: "
                    f"{names[:8]}, {path.name}: {handle.schema_arrow.names[:8]})",
                    fix="write every part with the same columns",
                )
            )
        group: list[int] = []
        count = first = 0
        for rg in range(handle.metadata.num_row_groups):
            n = handle.metadata.row_group(rg).num_rows
            if group and count + n > piece_rows:
                pieces.append((number, str(path), tuple(group), first))
                first, group, count = first + count, [], 0
            group.append(rg)
            count += n
        if group:
            pieces.append((number, str(path), tuple(group), first))
    empty = read_geoparquet(files[0], rows=0)
    columns = [str(c) for c in empty.columns]
    cols = _resolve(columns, spec, files[0].name, csv=False)
    attributes = _geo_attributes(columns, cols, empty.geometry.name)
    meta = _meta(attributes, CRS.from_wkt(crs_wkt), with_status=cols.status is not None)
    return dd.from_map(
        _read_parquet_piece,
        pieces,
        cols=cols,
        attributes=attributes,
        crs_wkt=crs_wkt,
        meta=meta,
        label="read-subject-parquet",
        enforce_metadata=False,
    )


def _read_csv_files(
    files: list[Path], spec: SubjectsSpec | None, crs: CRS, crs_wkt: str, dd: Any
) -> Any:
    from geo_stunting.study._encoding import sniff_delimiter  # noqa: PLC0415 - shared CSV sniffing

    headers: dict[tuple[str, ...], Path] = {}
    delimiters = set()
    for path in files:
        first = csv_header_line(path)
        delimiter = sniff_delimiter(first)
        delimiters.add(delimiter)
        headers.setdefault(tuple(c.strip() for c in first.split(delimiter)), path)
    if len(headers) > 1 or len(delimiters) > 1:
        first_two = list(headers.values())[:2]
        raise InputError(
            Problem(
                "the CSV parts do not share one header and delimiter "
                f"(e.g. {first_two[0].name} and {first_two[-1].name})",
                fix="write every part with the same columns in the same order",
            )
        )
    columns = list(next(iter(headers)))
    cols = _resolve(columns, spec, files[0].name, csv=True)
    used = {cols.id, cols.status, cols.x, cols.y}
    attributes = [c for c in columns if c not in used]
    meta = _meta(attributes, crs, with_status=True)
    return dd.from_map(
        _read_csv_part,
        list(enumerate(str(f) for f in files)),
        cols=cols,
        attributes=attributes,
        delimiter=delimiters.pop(),
        crs_wkt=crs_wkt,
        meta=meta,
        label="read-subject-csv",
        enforce_metadata=False,
    )
