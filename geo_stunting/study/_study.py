"""The `Study`: cases, controls, facilities and villages, validated and projected.

One way through: read (or take GeoDataFrames) → check every row → detect
swapped coordinates → choose the analysis CRS → project → reject points
outside the study area → `Study`. Every input row ends up either in the
study or in `Study.rejects`, with its file, row, column, value and reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo_stunting.errors import InputError, Problem
from geo_stunting.study._config import (
    DEFAULT_CASE_VALUES,
    DEFAULT_CONTROL_VALUES,
    AnalysisSettings,
    AreaSpec,
    FacilitiesSpec,
    StudyConfig,
    SubjectsSpec,
    read_study_file,
)
from geo_stunting.study._layers import (
    WGS84,
    area_layer,
    facilities_frame,
    nothing_left,
    place_points,
    point_layer,
    study_centre,
    subjects_frame,
)
from geo_stunting.study._projection import choose_analysis_crs
from geo_stunting.study._readers import RawTable, read_table
from geo_stunting.study._strata import harmonise_strata
from geo_stunting.study._validate import (
    OUTSIDE_M_MAX,
    REJECT_COLUMNS,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from geo_stunting.areas._io import AreaData
    from geo_stunting.areas._spec import AreasSpec

__all__ = ["Study", "build_study", "load_study", "read_tables", "study_from_frames"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Study:
    """A validated, projected case-control study.

    Attributes
    ----------
    name
        The study's name.
    subjects
        Cases and controls: ``subject_id``, ``status`` (``"case"`` or
        ``"control"``), ``stratum`` (if given), ``source_row`` and every other
        input column, as points in the analysis CRS.
    facilities
        ``facility_id``, ``name``, ``kind`` and ``source_row``, or ``None``.
    area
        Study-area polygons with ``name``, or ``None``.
    crs
        The analysis CRS (projected, metres).
    crs_reason
        Why this CRS.
    settings
        Analysis settings (buffer, permutations, seed, weights, steps).
    rejects
        Every rejected input row: layer, file, row, id, column, value, reason.
    rows_read
        Rows read per layer; for each, loaded + rejected = rows read.
    notes
        What validation noticed and handled (swaps, reprojections, defaults).
    risk_factors
        The ``[risk_factors]`` table of the study file, or ``None``.
    source
        The study file, when loaded from one.
    source_sha256
        SHA-256 of the study file.
    areas
        Area polygons joined to their counts or prevalence (``[areas]``), or
        ``None``; an area study has no subjects.
    """

    name: str
    subjects: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame | None
    area: gpd.GeoDataFrame | None
    crs: CRS
    crs_reason: str
    settings: AnalysisSettings
    rejects: pd.DataFrame
    rows_read: dict[str, int]
    notes: tuple[str, ...] = ()
    risk_factors: dict[str, Any] | None = None
    source: Path | None = None
    source_sha256: str | None = None
    _counts: dict[str, int] = field(default_factory=dict, repr=False)
    areas: AreaData | None = None
    areas_spec: AreasSpec | None = None

    @property
    def n_cases(self) -> int:
        """Number of cases."""
        return int((self.subjects["status"] == "case").sum())

    @property
    def n_controls(self) -> int:
        """Number of controls."""
        return int((self.subjects["status"] == "control").sum())

    @property
    def crs_code(self) -> str:
        """The analysis CRS as ``"EPSG:32748"``."""
        auth = self.crs.to_authority()
        return f"{auth[0]}:{auth[1]}" if auth else self.crs.name

    def with_settings(self, settings: AnalysisSettings) -> Study:
        """Return the same study with other analysis settings."""
        return replace(self, settings=settings)


def load_study(path: str | Path) -> Study:
    """Load, validate and project the study described by a study file.

    Parameters
    ----------
    path
        The TOML study file (see the README for its keys).

    Returns
    -------
    Study
        Rows with problems are in ``study.rejects``, not in the layers.

    Raises
    ------
    StudyFileError
        If the study file itself is wrong.
    InputError
        If the data cannot be read or leave nothing to analyse; one line per
        problem, naming file, row, column and the fix.
    ProjectionError
        If the analysis CRS is geographic or not in metres.

    Examples
    --------
    >>> import geo_stunting as gs
    >>> study = gs.load_study(gs.demo_study_path())
    >>> study.n_cases, study.n_controls, study.crs_code
    (67, 134, 'EPSG:32748')
    """
    config = read_study_file(path)
    study = build_study(config, read_tables(config))
    return replace(study, source=config.path, source_sha256=config.sha256)


def read_tables(
    config: StudyConfig,
    *,
    layers: Sequence[str] = ("subjects", "facilities", "area", "areas"),
) -> dict[str, RawTable]:
    """Read the files of a study's `layers`, reporting every unreadable file at once.

    Raises
    ------
    InputError
        With one problem per file that is missing or cannot be read.
    """
    specs: dict[str, Any] = {
        "subjects": config.subjects,
        "facilities": config.facilities,
        "area": config.area,
        "areas": None if config.areas is None or config.areas.table is None else config.areas,
    }
    problems: list[Problem] = []
    tables: dict[str, RawTable] = {}
    for layer in layers:
        spec = specs[layer]
        if spec is None:
            continue
        try:
            path = spec.table if layer == "areas" else spec.path
            tables[layer] = read_table(
                path, sheet=getattr(spec, "sheet", None), layer=getattr(spec, "layer", None)
            )
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return tables


def study_from_frames(
    subjects: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None = None,
    area: gpd.GeoDataFrame | None = None,
    *,
    name: str = "Study",
    id: str = "subject_id",  # noqa: A002 - the study-file key is called id
    status: str = "status",
    case: Sequence[str] | str = DEFAULT_CASE_VALUES,
    control: Sequence[str] | str = DEFAULT_CONTROL_VALUES,
    stratum: str | None = None,
    facility_id: str = "facility_id",
    facility_name: str | None = "name",
    facility_kind: str | None = "kind",
    area_name: str | None = "name",
    outside: str = "reject",
    outside_m: float = 0.0,
    settings: AnalysisSettings | None = None,
    risk_factors: dict[str, Any] | None = None,
) -> Study:
    """Build a `Study` from GeoDataFrames, with the same checks as `load_study`.

    Parameters
    ----------
    subjects
        Points of cases and controls, with a CRS.
    facilities, area
        Optional facility points and study-area polygons, with CRSs.
    name
        The study's name.
    id, status, case, control, stratum
        Column names and status values, as in ``[subjects]`` of a study file.
    facility_id, facility_name, facility_kind
        Column names in `facilities`.
    area_name
        Name column in `area`.
    outside, outside_m
        Subjects outside `area`: ``"reject"`` them (the default) or ``"keep"``
        them; and how far outside (metres, 0 to 2,000) a subject is kept anyway,
        counted in the nearest area, as in ``[area]`` of a study file.
    settings
        Analysis settings; the defaults otherwise.
    risk_factors
        A ``[risk_factors]`` table as in a study file (factors are inferred
        from the columns when ``None``).

    Returns
    -------
    Study
        The validated, projected study. Row numbers in its rejects count the
        frame's rows from 1.
    """
    if outside not in ("reject", "keep") or not 0.0 <= outside_m <= OUTSIDE_M_MAX:
        raise InputError(
            Problem(
                f"outside must be 'reject' or 'keep' and outside_m from 0 to 2000 m, got "
                f"{outside!r} and {outside_m!r}",
                fix='study_from_frames(..., outside="reject", outside_m=150)',
            )
        )
    frames: dict[str, gpd.GeoDataFrame] = {"subjects": subjects}
    if facilities is not None:
        frames["facilities"] = facilities
    if area is not None:
        frames["area"] = area
    tables = {}
    for layer, gdf in frames.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise InputError(
                Problem(
                    f"{layer} must be a GeoDataFrame, got {type(gdf).__name__}",
                    fix="build one with geopandas.GeoDataFrame(df, geometry=geopandas."
                    "points_from_xy(df.lon, df.lat), crs='EPSG:4326')",
                )
            )
        if len(gdf) == 0:
            raise InputError(Problem(f"{layer} is empty", file=f"<{layer}>"))
        attributes = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).astype(object)
        tables[layer] = RawTable(
            f"<{layer}>",
            attributes.reset_index(drop=True),
            tuple(range(1, len(gdf) + 1)),
            geometry=gdf.geometry.reset_index(drop=True),
            crs=gdf.crs,
        )
    placeholder = Path()
    config = StudyConfig(
        name=name,
        subjects=SubjectsSpec(
            path=placeholder,
            id=id,
            status=status,
            case=tuple(str(v).strip().lower() for v in _values(case)),
            control=tuple(str(v).strip().lower() for v in _values(control)),
            stratum=stratum,
        ),
        facilities=None
        if facilities is None
        else FacilitiesSpec(
            path=placeholder, id=facility_id, name=facility_name, kind=facility_kind
        ),
        area=None
        if area is None
        else AreaSpec(path=placeholder, name=area_name, outside=outside, outside_m=outside_m),
        analysis=settings or AnalysisSettings(),
        risk_factors=risk_factors,
    )
    return build_study(config, tables)


# --------------------------------------------------------------------------- build


def build_study(config: StudyConfig, tables: dict[str, RawTable]) -> Study:
    """Validate and project the tables of a parsed study file (see `load_study`)."""
    problems: list[Problem] = []
    notes: list[str] = []
    for table in tables.values():
        notes.extend(table.notes)

    area_rejects: list[dict[str, Any]] = []
    area = None
    if config.area is not None:
        area, area_rejects = area_layer(tables["area"], config.area, problems, notes)

    if config.subjects is None:
        return _area_study(config, tables, area, area_rejects, problems, notes)
    subjects = point_layer(tables["subjects"], config.subjects, "subjects", problems, notes)
    facilities = None
    if config.facilities is not None:
        facilities = point_layer(
            tables["facilities"], config.facilities, "facilities", problems, notes
        )
    if problems:
        raise InputError(problems)
    assert subjects is not None

    area_wgs = None if area is None else area.to_crs(WGS84)
    centre = study_centre(subjects, area_wgs, problems)
    if centre is None:
        raise InputError(problems)
    chosen = choose_analysis_crs(
        config.analysis.crs, centroid_lonlat=centre, extent_lonlat=_extent(area_wgs)
    )
    area_proj = None if area is None else area.to_crs(chosen.crs)

    subject_xy = place_points(subjects, chosen, area_proj, config, notes, role="subjects")
    facility_xy = None
    if facilities is not None:
        facility_xy = place_points(
            facilities, chosen, area_proj, config, notes, role="facilities", reference=subject_xy
        )

    subject_gdf = subjects_frame(subjects, subject_xy, config.subjects, chosen.crs, notes)
    if len(subject_gdf) == 0:
        raise InputError(nothing_left("subjects", subjects))
    subject_gdf, strata_notes = harmonise_strata(subject_gdf, area_proj)
    notes.extend(strata_notes)
    facility_gdf = None
    if facilities is not None and facility_xy is not None and config.facilities is not None:
        facility_gdf = facilities_frame(facilities, facility_xy, config.facilities, chosen.crs)

    rejects = pd.DataFrame(
        subjects.checks.rejects(subjects.points.ids)
        + ([] if facilities is None else facilities.checks.rejects(facilities.points.ids))
        + area_rejects,
        columns=list(REJECT_COLUMNS),
    )
    rows_read = {layer: len(table) for layer, table in tables.items() if layer != "areas"}
    _check_accounting(rows_read, rejects, subject_gdf, facility_gdf, area_proj)
    for message in _group_notes(subject_gdf):
        log.warning(message)
        notes.append(message)
    areas = _join_areas(config, tables, area_proj)
    if areas is not None:
        rejects = _stack(rejects, areas.rejects)
        rows_read["areas"] = areas.rows_read if "areas" in tables else 0
    return Study(
        name=config.name,
        subjects=subject_gdf,
        facilities=facility_gdf,
        area=area_proj,
        crs=chosen.crs,
        crs_reason=chosen.reason,
        settings=config.analysis,
        rejects=rejects,
        rows_read=rows_read,
        notes=tuple(notes),
        risk_factors=config.risk_factors,
        areas=areas,
        areas_spec=config.areas,
    )


def _join_areas(
    config: StudyConfig, tables: dict[str, RawTable], area: gpd.GeoDataFrame | None
) -> AreaData | None:
    """Join the [area] polygons to the [areas] table (codes read as written)."""
    if config.areas is None or area is None:
        return None
    from geo_stunting.areas._io import join_raw_tables  # noqa: PLC0415

    spec = config.areas
    if spec.mode == "aggregate":
        return None
    data = join_raw_tables(
        tables["area"],
        area,
        tables.get("areas"),
        code=spec.code,
        table_code=spec.table_code,
        name=config.area.name if config.area is not None else None,
        columns={
            "cases": spec.cases,
            "population": spec.population,
            "prevalence": spec.prevalence,
            "sample_size": spec.sample_size,
        },
        period=spec.period,
        table_name=spec.table_name,
    )
    if spec.group is None:
        return data
    from geo_stunting.areas._groups import group_areas, groups_from_columns  # noqa: PLC0415

    raw = tables["area"]
    cells = raw.frame.assign(source_row=list(raw.rows))
    groups = groups_from_columns(data, cells, column=spec.group, name=spec.group_name)
    return group_areas(data, groups, level=spec.group)


def _area_study(
    config: StudyConfig,
    tables: dict[str, RawTable],
    area: gpd.GeoDataFrame | None,
    area_rejects: list[dict[str, Any]],
    problems: list[Problem],
    notes: list[str],
) -> Study:
    """A study of counts or prevalence per area: polygons and a table, no home points."""
    if area is None or problems:
        raise InputError(problems or [Problem("an area study needs [area] polygons")])
    if len(area) == 0:
        raise InputError(Problem("no usable polygon in the [area] file", file=tables["area"].name))
    if config.areas is None or config.areas.mode == "aggregate":
        raise InputError(
            Problem(
                "a study without [subjects] needs counts or prevalence per area",
                fix='add cases = "..." and population = "...", or prevalence = "...", to [areas]',
            )
        )
    centre = shapely.centroid(shapely.union_all(np.asarray(area.to_crs(WGS84).geometry.array)))
    chosen = choose_analysis_crs(
        config.analysis.crs, centroid_lonlat=(float(centre.x), float(centre.y))
    )
    area_proj = area.to_crs(chosen.crs)
    areas = _join_areas(config, tables, area_proj)
    assert areas is not None
    subjects = gpd.GeoDataFrame(
        {
            "subject_id": pd.Series(dtype=object),
            "status": pd.Series(dtype=object),
            "source_row": pd.Series(dtype=int),
        },
        geometry=gpd.GeoSeries([], crs=chosen.crs),
        crs=chosen.crs,
    )
    rejects = pd.DataFrame(area_rejects, columns=list(REJECT_COLUMNS))
    rows_read = {"area": len(tables["area"])}
    _check_accounting(rows_read, rejects, subjects, None, area_proj)
    rejects = _stack(rejects, areas.rejects)
    rows_read["areas"] = areas.rows_read
    settings = config.analysis
    if settings.steps is None:  # the point steps have nothing to work on
        settings = replace(settings, steps=("areas",))
    return Study(
        name=config.name,
        subjects=subjects,
        facilities=None,
        area=area_proj,
        crs=chosen.crs,
        crs_reason=chosen.reason,
        settings=settings,
        rejects=rejects,
        rows_read=rows_read,
        notes=tuple(notes),
        risk_factors=config.risk_factors,
        areas=areas,
        areas_spec=config.areas,
    )


def _stack(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Rows of both reject tables (pandas warns on concatenating an empty one)."""
    if len(second) == 0:
        return first
    if len(first) == 0:
        return second.reset_index(drop=True)
    return pd.concat([first, second], ignore_index=True)


def _group_notes(subjects: gpd.GeoDataFrame) -> list[str]:
    counts = subjects["status"].value_counts()
    return [
        f"the study has no {group}s: steps that compare cases with controls will be skipped"
        for group in ("case", "control")
        if counts.get(group, 0) == 0
    ]


def _check_accounting(
    rows_read: dict[str, int],
    rejects: pd.DataFrame,
    subjects: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    area: gpd.GeoDataFrame | None,
) -> None:
    loaded = {"subjects": len(subjects)}
    if facilities is not None:
        loaded["facilities"] = len(facilities)
    if area is not None:
        loaded["area"] = len(area)
    rejected = rejects["layer"].value_counts()
    for layer, read in rows_read.items():
        total = loaded.get(layer, 0) + int(rejected.get(layer, 0))
        if total != read:  # pragma: no cover - a bug, not an input problem
            msg = f"internal accounting error for {layer}: {total} != {read} rows read"
            raise AssertionError(msg)


def _extent(area_wgs: gpd.GeoDataFrame | None) -> list[tuple[float, float]]:
    """Corners of the study area in longitude/latitude (none without an area)."""
    if area_wgs is None or len(area_wgs) == 0:
        return []
    minx, miny, maxx, maxy = (float(v) for v in area_wgs.total_bounds)
    return [(minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)]


def _values(given: Sequence[str] | str) -> tuple[str, ...]:
    """``case="case"`` means the one value "case", not the letters c, a, s, e."""
    return (given,) if isinstance(given, str) else tuple(given)
