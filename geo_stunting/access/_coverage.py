"""Access to health facilities: nearest facility, coverage, buffers, cases vs controls.

The question of the Ogan Ilir study — does every stunted child live within
2 km of a health facility? — answered exactly:

- `nearest_facility`: the nearest facility of every subject, overall and
  per facility kind, by exact Euclidean distance in the analysis CRS
  (`scipy.spatial.cKDTree`), or by exact WGS 84 geodesic distance when the
  subjects span more than one UTM zone.
- `coverage`: the same plus ``within_buffer`` — distance ≤ `buffer_m`, a tie
  counting as within. Never by containment in a buffer polygon: polygons
  lie inside the circle they approximate.
- `access_arrays`: the fast path on coordinate arrays (no per-row Python):
  nearest facility, coverage flag and per-village counts.
- `facility_buffers`, `coverage_polygons`, `area_coverage`, `nearest_lines`:
  polygons and lines for maps and area figures.
- `compare_access`: the 2×2 table (chi-square with Yates' correction, or
  Fisher's exact test), the sample odds ratio with Woolf CI and the
  Mann–Whitney test of distances.
- `access_step`: the ``access`` step of `geo_stunting.analyze`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from geo_stunting.access._compare import AccessComparison, compare_access
from geo_stunting.access._core import (
    NearestArrays,
    check_frames,
    check_radius,
    facility_labels,
    geodesic_distance,
    kind_key,
    nearest_geodesic,
    nearest_planar,
    point_coordinates,
    to_lonlat,
    utm_zones_spanned,
)
from geo_stunting.access._overlay import (
    AREA_COLUMNS,
    area_coverage,
    coverage_polygons,
    facility_buffers,
    locate_in_areas,
    nearest_ends,
    nearest_lines,
    start_coverage,
)
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.pipeline import StepOutput, register_step
from geo_stunting.stats._twobytwo import distance_summary
from geo_stunting.study._study import Study

__all__ = [
    "NEAREST_LINES_MAX",
    "STEP_RINGS_M",
    "AccessArrays",
    "AccessComparison",
    "GeodesicCheck",
    "access_arrays",
    "access_step",
    "area_coverage",
    "compare_access",
    "coverage",
    "coverage_polygons",
    "distance_metric",
    "facility_buffers",
    "geodesic_check",
    "locate_in_areas",
    "nearest_facility",
    "nearest_lines",
]

log = logging.getLogger(__name__)

Metric = Literal["auto", "planar", "geodesic"]
#: Radii of the coverage rings the step draws, besides the buffer itself.
STEP_RINGS_M: tuple[float, ...] = (1000.0, 2000.0, 5000.0)
#: The step writes ``nearest_lines`` (a line per subject) for at most this many subjects, unless
#: ``[analysis] nearest_lines`` says otherwise: above it the lines cost more than the rest of the
#: access outputs and hide the map.
NEAREST_LINES_MAX = 20_000
_GEODESIC_METHOD = (
    "planar distance in the analysis CRS vs pyproj Geod(ellps='WGS84').inv after transforming "
    "to EPSG:4326, for every subject and its nearest facility; max |planar - geodesic| / geodesic"
)


# --------------------------------------------------------------------------- fast path


@dataclass(frozen=True)
class AccessArrays:
    """Nearest facility, coverage flag and per-area counts, as arrays.

    Attributes
    ----------
    nearest
        Position (0-based row) of each subject's nearest facility.
    distance_m
        Distance to it, in metres.
    within
        ``distance_m <= buffer_m``.
    buffer_m
        The buffer radius.
    subjects_within, subjects_outside, cases_within, cases_outside
        Counts per area position (``None`` without `area_index`; case counts
        ``None`` without `is_case`).
    """

    nearest: np.ndarray
    distance_m: np.ndarray
    within: np.ndarray
    buffer_m: float
    subjects_within: np.ndarray | None = None
    subjects_outside: np.ndarray | None = None
    cases_within: np.ndarray | None = None
    cases_outside: np.ndarray | None = None


def _xy_array(value: Any, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise AnalysisError(
            Problem(f"`{name}` must be an (n, 2) array of x, y, got shape {array.shape}")
        )
    if not np.isfinite(array).all():
        raise AnalysisError(Problem(f"`{name}` holds NaN or infinite coordinates"))
    return array


def access_arrays(
    subject_xy: Any,
    facility_xy: Any,
    *,
    buffer_m: float,
    is_case: Any = None,
    area_index: Any = None,
    n_areas: int | None = None,
    workers: int = 1,
) -> AccessArrays:
    """Nearest facility, coverage flags and per-area counts on coordinate arrays.

    The fast path behind `coverage`: one k-d tree query, one comparison and
    a few `numpy.bincount` calls; no Python loop over subjects.

    Parameters
    ----------
    subject_xy, facility_xy
        (n, 2) and (m, 2) projected coordinates in metres (same CRS).
    buffer_m
        Within means distance ≤ `buffer_m`.
    is_case
        Boolean per subject, for the case counts.
    area_index
        Area position per subject (-1: in no area), e.g. from `locate_in_areas`.
    n_areas
        Number of areas (default: ``max(area_index) + 1``).
    workers
        Threads for the k-d tree query (-1: all cores); results do not depend on it.

    Returns
    -------
    AccessArrays
        Planar (Euclidean) distances.

    Examples
    --------
    >>> import numpy as np
    >>> out = access_arrays([[0, 0], [2000, 0], [2000.01, 0]], [[0, 0]], buffer_m=2000)
    >>> out.within.tolist()
    [True, True, False]
    """
    radius = check_radius(buffer_m, "buffer_m")
    subjects = _xy_array(subject_xy, "subject_xy")
    facilities = _xy_array(facility_xy, "facility_xy")
    found = nearest_planar(subjects, facilities, workers=workers)
    within = found.distance_m <= radius
    if area_index is None:
        return AccessArrays(found.index, found.distance_m, within, radius)
    position = np.asarray(area_index, dtype=np.int64)
    if position.shape != (len(subjects),):
        raise AnalysisError(Problem("`area_index` must hold one area position per subject"))
    size = int(position.max()) + 1 if n_areas is None else int(n_areas)
    if position.max() >= size or position.min() < -1:
        raise AnalysisError(Problem(f"`area_index` must lie in -1..{size - 1}"))
    inside = position >= 0
    inside_within = inside & within
    subjects_within = np.bincount(position[inside_within], minlength=size)
    subjects_outside = np.bincount(position[inside & ~within], minlength=size)
    cases_within = cases_outside = None
    if is_case is not None:
        case = np.asarray(is_case, dtype=bool)
        if case.shape != (len(subjects),):
            raise AnalysisError(Problem("`is_case` must hold one flag per subject"))
        cases_within = np.bincount(position[inside_within & case], minlength=size)
        cases_outside = np.bincount(position[inside & ~within & case], minlength=size)
    return AccessArrays(
        found.index,
        found.distance_m,
        within,
        radius,
        subjects_within,
        subjects_outside,
        cases_within,
        cases_outside,
    )


# --------------------------------------------------------------------------- frames


def distance_metric(subjects: gpd.GeoDataFrame) -> Literal["planar", "geodesic"]:
    """``"geodesic"`` when the subjects span more than one UTM zone, else ``"planar"``.

    The zones are those of the longitude extent of the subjects (standard
    6° zones). Within one zone, UTM distances differ from geodesic ones by at
    most about 0.1 %.
    """
    crs = check_frames({"subjects": subjects})
    return _metric_for(point_coordinates(subjects, "subjects"), crs)


def _metric_for(xy: np.ndarray, crs: CRS) -> Literal["planar", "geodesic"]:
    zones = utm_zones_spanned(xy, crs)
    metric: Literal["planar", "geodesic"] = "geodesic" if len(zones) > 1 else "planar"
    log.info("subjects span UTM zone(s) %s: %s distances", list(zones), metric)
    return metric


def _nearest(
    subject_xy: np.ndarray,
    facility_xy: np.ndarray,
    subject_lonlat: np.ndarray | None,
    facility_lonlat: np.ndarray | None,
    workers: int,
) -> NearestArrays:
    if subject_lonlat is None or facility_lonlat is None:
        return nearest_planar(subject_xy, facility_xy, workers=workers)
    return nearest_geodesic(subject_lonlat, facility_lonlat, workers=workers)


def _check_metric(metric: object) -> None:
    if metric not in ("auto", "planar", "geodesic"):
        raise AnalysisError(
            Problem(
                f"`metric` must be 'auto', 'planar' or 'geodesic', got {metric!r}",
                fix="metric='auto'",
            )
        )


def nearest_facility(
    subjects: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    by_kind: bool = True,
    metric: Metric = "auto",
    workers: int = 1,
) -> gpd.GeoDataFrame:
    """The nearest facility of every subject, overall and per facility kind.

    Parameters
    ----------
    subjects
        Subject points in a projected CRS in metres.
    facilities
        Facility points in the same CRS, with ``facility_id`` and optional
        ``name`` and ``kind``.
    by_kind
        Also find the nearest facility of each kind.
    metric
        ``"planar"``: Euclidean distance in the CRS; ``"geodesic"``: WGS 84
        ellipsoidal distance (exact nearest); ``"auto"``: geodesic when the
        subjects span more than one UTM zone (`distance_metric`).
    workers
        Threads for the k-d tree queries (-1: all cores).

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame: the subjects' columns plus ``nearest_facility_id``,
        ``nearest_facility_name``, ``nearest_facility_kind``, ``distance_m``
        and, per kind ``k`` (made column-safe, e.g. ``rumah_sakit``),
        ``nearest_k_id``, ``nearest_k_name`` and ``distance_k_m``. An input
        column of the same name is kept as ``<name>_input``.
    """
    _check_metric(metric)
    crs = check_frames({"subjects": subjects, "facilities": facilities})
    ids, names, kinds = facility_labels(facilities)
    subject_xy = point_coordinates(subjects, "subjects")
    facility_xy = point_coordinates(facilities, "facilities")
    used = _metric_for(subject_xy, crs) if metric == "auto" else metric
    subject_ll = facility_ll = None
    if used == "geodesic":
        subject_ll, facility_ll = to_lonlat(subject_xy, crs), to_lonlat(facility_xy, crs)
    found = _nearest(subject_xy, facility_xy, subject_ll, facility_ll, workers)
    # Taking from small arrays of pandas' default string dtype builds the columns fast.
    id_array, name_array, kind_array = (pd.Series(v.tolist()).array for v in (ids, names, kinds))
    columns: dict[str, Any] = {
        "nearest_facility_id": id_array.take(found.index),
        "nearest_facility_name": name_array.take(found.index),
        "nearest_facility_kind": kind_array.take(found.index),
        "distance_m": found.distance_m,
    }
    if by_kind:
        taken: set[str] = set()
        for kind in sorted(set(kinds)):
            key = kind_key(kind, taken)
            mask = kinds == kind
            part = (
                found  # one kind: its nearest facility is the nearest of all (same query)
                if mask.all()
                else _nearest(
                    subject_xy,
                    facility_xy[mask],
                    subject_ll,
                    None if facility_ll is None else facility_ll[mask],
                    workers,
                )
            )
            positions = np.flatnonzero(mask)[part.index]
            columns[f"nearest_{key}_id"] = id_array.take(positions)
            columns[f"nearest_{key}_name"] = name_array.take(positions)
            columns[f"distance_{key}_m"] = part.distance_m
    return _attach(subjects, columns)


def _attach(subjects: gpd.GeoDataFrame, columns: dict[str, Any]) -> gpd.GeoDataFrame:
    clash = {c: f"{c}_input" for c in columns if c in subjects.columns}
    if clash:
        log.warning("subjects already have column(s) %s; kept as %s", list(clash), clash)
    return subjects.rename(columns=clash).assign(**columns)


def coverage(
    subjects: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    buffer_m: float,
    by_kind: bool = True,
    metric: Metric = "auto",
    workers: int = 1,
) -> gpd.GeoDataFrame:
    """Nearest facility and whether each subject lives within `buffer_m` of it.

    Parameters
    ----------
    subjects, facilities, by_kind, metric, workers
        As in `nearest_facility`.
    buffer_m
        Within means distance ≤ `buffer_m` (exact distance; a tie is within).

    Returns
    -------
    geopandas.GeoDataFrame
        `nearest_facility`'s frame plus ``within_buffer`` (bool): the
        ``subjects_access`` layer.

    Examples
    --------
    >>> import geo_stunting as gs
    >>> study = gs.load_study(gs.demo_study_path())
    >>> access = coverage(study.subjects, study.facilities, buffer_m=2000)
    >>> int(access.loc[access["status"] == "case", "within_buffer"].sum())
    67
    """
    radius = check_radius(buffer_m, "buffer_m")
    out = nearest_facility(subjects, facilities, by_kind=by_kind, metric=metric, workers=workers)
    return _attach(out, {"within_buffer": out["distance_m"].to_numpy() <= radius})


# --------------------------------------------------------------------------- geodesic check


@dataclass(frozen=True)
class GeodesicCheck:
    """How far planar distances in the analysis CRS are from geodesic ones.

    Attributes
    ----------
    max_relative_difference
        Largest ``|planar − geodesic| / geodesic`` over subject–nearest
        facility pairs (pairs at distance 0 left out).
    n_pairs
        Pairs compared.
    utm_zones
        UTM zone numbers the subjects span (more than one: ``metric="auto"``
        reports geodesic distances).
    method
        How it was computed.
    """

    max_relative_difference: float
    n_pairs: int
    utm_zones: tuple[int, ...]
    method: str = _GEODESIC_METHOD

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return {
            "max_relative_difference": float(self.max_relative_difference),
            "method": self.method,
            "n_pairs": self.n_pairs,
            "utm_zones": list(self.utm_zones),
        }


def geodesic_check(
    subjects_access: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame
) -> GeodesicCheck:
    """Compare planar with geodesic distances for every subject and its nearest facility.

    Parameters
    ----------
    subjects_access
        From `nearest_facility` or `coverage`.
    facilities
        The facilities measured to (unique ``facility_id``).

    Returns
    -------
    GeodesicCheck
        The largest relative difference, for ``run.json``.
    """
    crs = check_frames({"subjects_access": subjects_access, "facilities": facilities})
    start, end = nearest_ends(subjects_access, facilities)
    zones = utm_zones_spanned(start, crs)
    return _geodesic_check(start, end, crs, zones)


def _geodesic_check(
    start: np.ndarray, end: np.ndarray, crs: CRS, zones: tuple[int, ...]
) -> GeodesicCheck:
    planar = np.hypot(*(start - end).T)
    geodesic = geodesic_distance(to_lonlat(start, crs), to_lonlat(end, crs))
    positive = geodesic > 0
    relative = np.abs(planar[positive] - geodesic[positive]) / geodesic[positive]
    return GeodesicCheck(
        float(relative.max()) if len(relative) else 0.0,
        int(positive.sum()),
        zones,
    )


# --------------------------------------------------------------------------- step


def _median(values: np.ndarray) -> float | None:
    return distance_summary(values).median_m


@register_step("access", title="Access to health facilities", needs={"facilities"})
def access_step(study: Study) -> StepOutput:
    """The ``access`` step: coverage, cases vs controls, buffers and overlay.

    Parameters
    ----------
    study
        A study with facilities.

    Returns
    -------
    StepOutput
        The ``access`` section of ``results.json`` and the layers
        ``subjects`` (the study's subjects with the access columns),
        ``facility_buffers``, ``coverage``, ``area_coverage`` (with a study
        area) and ``nearest_lines`` (see `NEAREST_LINES_MAX`; when left out,
        the section's ``nearest_lines`` says why and how to get them).
    """
    facilities = study.facilities
    if facilities is None or len(facilities) == 0:
        raise AnalysisError(Problem("the study has no facilities"))
    buffer_m = float(study.settings.buffer_m)
    rings = sorted({*STEP_RINGS_M, buffer_m})
    covering = start_coverage(facilities, radius_m=buffer_m, rings_m=rings)  # beside the rest
    notes: list[str] = []
    metric = distance_metric(study.subjects)
    access = coverage(study.subjects, facilities, buffer_m=buffer_m, by_kind=True, metric=metric)
    status = access["status"].to_numpy()
    distance = access["distance_m"].to_numpy(dtype=float)
    within = access["within_buffer"].to_numpy(dtype=bool)
    case, control = status == "case", status == "control"
    section: dict[str, Any] = {
        "buffer_m": buffer_m,
        "metric": metric,
        "n_subjects": len(access),
        "n_facilities": len(facilities),
        "cases_within": int((within & case).sum()),
        "cases_outside": int((~within & case).sum()),
        "controls_within": int((within & control).sum()),
        "controls_outside": int((~within & control).sum()),
        "share_cases_within": float(within[case].mean()) if case.any() else None,
        "share_controls_within": float(within[control].mean()) if control.any() else None,
        "distance": {
            "cases": distance_summary(distance[case]).to_dict(),
            "controls": distance_summary(distance[control]).to_dict(),
        },
        "test": None,
        "mann_whitney": None,
        "odds_ratio": None,
        "ci95": None,
    }
    try:
        section.update(compare_access(access, buffer_m=buffer_m).to_dict())
    except AnalysisError as exc:
        notes.append(f"cases vs controls not compared: {exc}")
    _, _, kinds = facility_labels(facilities)
    per_kind: dict[str, Any] = {}
    taken: set[str] = set()
    for kind in sorted(set(kinds)):
        column = f"distance_{kind_key(kind, taken)}_m"
        values = access[column].to_numpy(dtype=float)
        per_kind[kind] = {
            "n_facilities": int((kinds == kind).sum()),
            "column": column,
            "cases_median_m": _median(values[case]),
            "controls_median_m": _median(values[control]),
        }
    section["per_kind"] = per_kind

    buffers, cover = covering.result()
    section["rings_m"] = [float(r) for r in rings]
    layers: dict[str, gpd.GeoDataFrame] = {
        "subjects": access,
        "facility_buffers": buffers,
        "coverage": cover,
    }
    if study.area is not None and len(study.area):
        at_buffer = cover.loc[cover["radius_m"] == buffer_m]
        per_area = area_coverage(study.area, access, at_buffer)
        layers["area_coverage"] = per_area
        name = per_area["name"] if "name" in per_area.columns else per_area.index.astype(str)
        section["per_area"] = [
            {"name": str(n)} | {c: _plain(row[c]) for c in AREA_COLUMNS}
            for n, (_, row) in zip(name, per_area.iterrows(), strict=True)
        ]
        unplaced = len(access) - int(
            per_area["subjects_within"].sum() + per_area["subjects_outside"].sum()
        )
        if unplaced:
            notes.append(f"{unplaced} subject(s) lie in no study-area polygon (not in per_area)")
    else:
        section["per_area"] = None
        notes.append("per_area skipped: the study has no study area")
    lines = _lines_choice(len(access), study.settings.nearest_lines)
    if lines["written"]:
        layers["nearest_lines"] = nearest_lines(access, facilities)
    else:
        section["nearest_lines"] = lines  # results.json says so only when they are left out
        notes.append(f"nearest_lines left out: {lines['reason']}; {lines['fix']}")
    start, end = nearest_ends(access, facilities)
    zones = utm_zones_spanned(start, study.crs)
    section["geodesic_check"] = _geodesic_check(start, end, study.crs, zones).to_dict()
    if metric == "geodesic":
        notes.append(
            f"the subjects span UTM zones {list(zones)}: distances are geodesic (WGS 84); "
            "buffer polygons are planar circles in the analysis CRS"
        )
    return StepOutput(
        section=section,
        layers=layers,
        notes=tuple(notes),
        provenance={"geodesic_check": section["geodesic_check"], "nearest_lines": lines},
    )


def _lines_choice(n_subjects: int, asked: bool | None) -> dict[str, Any]:
    """Whether the step writes ``nearest_lines``, why, and how to change it.

    >>> _lines_choice(25_000, None)["written"], _lines_choice(25_000, True)["written"]
    (False, True)
    """
    if asked is None:
        written = n_subjects <= NEAREST_LINES_MAX
        reason = (
            f"{n_subjects:,} subjects, "
            f"{'at most' if written else 'more than'} {NEAREST_LINES_MAX:,} (the default limit)"
        )
    else:
        written = asked
        reason = f"[analysis] nearest_lines = {'true' if asked else 'false'}"
    fix = (
        "to leave them out, write nearest_lines = false under [analysis] in the study file"
        if written
        else "to get them, write nearest_lines = true under [analysis] in the study file"
    )
    return {"written": written, "reason": reason, "fix": fix}


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if np.isfinite(number) else None
    return value
