"""National scale: the access analysis for millions of children, with dask.

The single-process `geo_stunting.access._coverage` step holds every subject in memory. This engine
streams them, partition by partition, through a dask cluster (a local one by default):

1. read a folder of GeoParquet or CSV parts (or a dask-geopandas frame); rows that cannot
   be used are kept aside with the reason and written to ``rejects/``;
2. partition the subjects along a Hilbert curve (one survey pass finds the curve's
   quantiles; one shuffle moves the rows), so each partition is a compact patch of the
   country — queries of nearby points hit the same branches of the k-d tree, and the
   written GeoParquet can be read back by bounding box;
3. on every partition: the nearest facility overall and per kind by exact distance (the
   same `scipy.spatial.cKDTree` queries, or the same geodesic search, as
   `geo_stunting.access.coverage` — identical ids and bit-identical distances), the
   coverage flag ``distance_m <= buffer_m``, and the village each subject lies in;
   the facilities (300,000 fit easily) are broadcast once to every worker with their
   k-d trees already built;
4. write ``subjects_access/part.NNNNN.parquet`` and gather 13 bytes per subject on the
   client for the exact cases-vs-controls comparison and the area aggregates
   (`area_access_<level>`: village, district, regency) with exact medians.

`access_dask` is the library entry; `run_scale` runs a study file's access analysis this
way (the ``engine = "dask"`` of the command line).
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from geo_stunting.access._compare import compare_within
from geo_stunting.access._core import check_frames, check_radius, single_utm_zone
from geo_stunting.access._coverage import Metric
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.scale._areas import AreaIndex, area_tables, build_area_index
from geo_stunting.scale._cluster import open_scheduler, peak_rss_bytes
from geo_stunting.scale._io import read_subjects, require_dask
from geo_stunting.scale._parts import (
    FacilityIndex,
    PartSummary,
    Survey,
    build_facility_index,
    hilbert_key,
    process_partition,
    survey_partition,
    with_key,
)
from geo_stunting.scale._result import ScaleResult
from geo_stunting.scale._sample import sample_study, scale_results

__all__ = [
    "FacilityIndex",
    "ScaleResult",
    "access_dask",
    "build_facility_index",
    "hilbert_key",
    "run_scale",
    "scale_results",
]

log = logging.getLogger(__name__)

#: Rows per partition after the Hilbert shuffle.
PARTITION_ROWS = 500_000
_LEVEL = 16
_SAMPLE = 256


# --------------------------------------------------------------------------- engine


def _check_options(metric: object, partition: object, trees: object, outside: object) -> None:
    problems = []
    for name, value, options in (
        ("metric", metric, ("auto", "planar", "geodesic")),
        ("partition", partition, ("hilbert", "input")),
        ("trees", trees, ("broadcast", "rebuild")),
        ("outside", outside, ("keep", "reject")),
    ):
        if value not in options:
            problems.append(
                Problem(
                    f"`{name}` must be one of {list(options)}, got {value!r}",
                    fix=f"{name}={options[0]!r}",
                )
            )
    if problems:
        raise AnalysisError(problems)


def _frame_bounds(
    facilities: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None
) -> tuple[float, float, float, float]:
    """The Hilbert curve's frame: the facilities' and areas' bounds (known without a pass)."""
    boxes = [np.asarray(facilities.total_bounds, dtype=float)]
    if areas is not None:
        boxes.append(np.asarray(areas.total_bounds, dtype=float))
    stacked = np.vstack(boxes)
    return (
        float(stacked[:, 0].min()),
        float(stacked[:, 1].min()),
        float(stacked[:, 2].max()),
        float(stacked[:, 3].max()),
    )


def _zones(surveys: list[Survey], crs: CRS) -> tuple[int, ...]:
    """UTM zones spanned by every subject, as `_access_core.utm_zones_spanned` finds them."""
    boxes = np.array([s.bounds for s in surveys if s.n_valid], dtype=float)
    if len(boxes) == 0:
        return ()
    bounds = (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )
    zone = single_utm_zone(bounds, crs)
    if zone is not None:
        return (zone,)
    first = min(s.zones[0] for s in surveys if s.n_valid)
    last = max(s.zones[1] for s in surveys if s.n_valid)
    if first <= last:
        return tuple(range(first, last + 1))
    return tuple(range(first, 61)) + tuple(range(1, last + 1))  # pragma: no cover


def _divisions(surveys: list[Survey], n_parts: int) -> list[int]:
    """Hilbert-key boundaries giving `n_parts` partitions of about equal size."""
    keys = np.concatenate([s.keys for s in surveys] + [np.zeros(0, dtype=np.int64)])
    weights = np.concatenate(
        [np.full(len(s.keys), s.n_valid / max(len(s.keys), 1)) for s in surveys] + [np.zeros(0)]
    )
    top = 4**_LEVEL
    if len(keys) == 0 or n_parts <= 1:
        return [0, top]
    order = np.argsort(keys, kind="stable")
    cumulative = np.cumsum(weights[order])
    targets = cumulative[-1] * np.arange(1, n_parts) / n_parts
    inner = keys[order][np.searchsorted(cumulative, targets)]
    return sorted({0, *(int(k) for k in inner if 0 < k < top), top})


def _compute(collection: Any, client: Any) -> Any:
    if client is None:
        return collection.compute()
    return client.compute(collection, sync=True)


def _share(obj: Any, client: Any) -> Any:
    """Broadcast a large object to every worker once; without a cluster, pass it as is."""
    if client is None:
        return obj
    return client.scatter(obj, broadcast=True, hash=False)


def _summaries(frame: pd.DataFrame) -> list[Any]:
    return list(frame["summary"])


def access_dask(
    subjects: Any,
    facilities: gpd.GeoDataFrame,
    *,
    buffer_m: float,
    areas: gpd.GeoDataFrame | None = None,
    levels: Mapping[str, str | None] | None = None,
    out: str | Path | None = None,
    scheduler: Any = None,
    crs: Any = None,
    spec: Any = None,
    metric: Metric = "auto",
    outside: Literal["keep", "reject"] = "keep",
    partition: Literal["hilbert", "input"] = "hilbert",
    partition_rows: int = PARTITION_ROWS,
    trees: Literal["broadcast", "rebuild"] = "broadcast",
    n_workers: int | None = None,
    memory_limit: str | None = None,
) -> ScaleResult:
    """The access analysis of `geo_stunting.access._coverage` on data larger than memory, with dask.

    Parameters
    ----------
    subjects
        A folder, glob or file of GeoParquet or CSV parts, a dask-geopandas GeoDataFrame,
        or a geopandas GeoDataFrame. Needs an id (``subject_id`` or ``id``), a status
        (``case``/``control`` values as in ``[subjects]``; CSV also x/y columns).
    facilities
        Facility points in the analysis CRS (``facility_id``, ``name``, ``kind``).
    buffer_m
        Within means distance ≤ `buffer_m` (exact distance; a tie is within).
    areas
        Village polygons in the analysis CRS (optional): per-area aggregates.
    levels
        ``{level: column of areas}``, finest first, e.g. ``{"village": None, "district":
        "kode_kec", "regency": "kode_kab"}`` (see `geo_stunting.scale._areas`).
    out
        Folder to write ``subjects_access/`` and ``rejects/`` (partitioned GeoParquet /
        Parquet) into; ``None`` writes nothing per subject.
    scheduler
        ``None``: a local cluster; ``"tcp://host:8786"``: a running cluster (paths must
        be readable and `out` writable by every worker); a `distributed.Client`;
        ``"threads"`` or ``"sync"``: no cluster.
    crs
        The analysis CRS (default: the facilities' CRS).
    spec
        A `geo_stunting.study._config.SubjectsSpec` naming the input columns (CSV and Parquet).
    metric
        As `geo_stunting.access.nearest_facility`: ``"auto"`` is geodesic when the subjects
        span more than one UTM zone.
    outside
        ``"reject"``: subjects in no area polygon are rejected (as ``[area] outside``);
        ``"keep"``: kept, counted in no area.
    partition
        ``"hilbert"``: shuffle into Hilbert-curve partitions of `partition_rows`;
        ``"input"``: keep the input partitions (each sorted along the curve).
    partition_rows
        Rows per partition after the shuffle.
    trees
        ``"broadcast"``: build the k-d trees once and send them to every worker;
        ``"rebuild"``: send the coordinates and build the trees in every partition.
    n_workers, memory_limit
        For the local cluster (default: one worker per core, at most 4 GiB each).

    Returns
    -------
    ScaleResult
        The ``access`` section, the ``area_access_<level>`` layers and where the
        per-subject results were written.
    """
    started = time.perf_counter()
    require_dask()
    _check_options(metric, partition, trees, outside)
    radius = check_radius(buffer_m, "buffer_m")
    frames = {"facilities": facilities} | ({} if areas is None else {"areas": areas})
    fac_crs = check_frames(frames, geom_types={"areas": (3, 6)})
    analysis_crs = fac_crs if crs is None else CRS.from_user_input(crs)
    if not analysis_crs.equals(fac_crs):
        raise AnalysisError(
            Problem(
                f"`facilities` are in {fac_crs.to_string()}, not the analysis CRS "
                f"{analysis_crs.to_string()}",
                fix="facilities.to_crs(crs) (and areas.to_crs(crs))",
            )
        )
    if (
        isinstance(partition_rows, bool)
        or not isinstance(partition_rows, int)
        or partition_rows < 1
    ):
        raise AnalysisError(
            Problem("`partition_rows` must be a whole number ≥ 1", fix="partition_rows=500_000")
        )
    area_index = None if areas is None else build_area_index(areas, levels=levels)
    if area_index is None and levels:
        raise AnalysisError(Problem("`levels` needs `areas`", fix="pass areas=villages"))
    out_dir = None if out is None else Path(out)
    bounds = _frame_bounds(facilities, areas)
    timings: dict[str, float] = {}
    with open_scheduler(scheduler, n_workers=n_workers, memory_limit=memory_limit) as (
        client,
        info,
    ):
        ddf, files = read_subjects(subjects, crs=analysis_crs, spec=spec, piece_rows=partition_rows)
        surveys: list[Survey] = []
        if partition == "hilbert" or metric == "auto":
            tick = time.perf_counter()
            survey = ddf.map_partitions(
                survey_partition,
                bounds=bounds,
                crs_wkt=analysis_crs.to_wkt(),
                sample=_SAMPLE if partition == "hilbert" else 0,
                level=_LEVEL,
                meta=pd.DataFrame({"summary": pd.Series([], dtype=object)}),
            )
            surveys = _summaries(_compute(survey, client))
            timings["survey"] = time.perf_counter() - tick
        used: Literal["planar", "geodesic"]
        zones = _zones(surveys, analysis_crs) if surveys else ()
        if metric == "auto":
            used = "geodesic" if len(zones) > 1 else "planar"
            log.info("subjects span UTM zone(s) %s: %s distances", list(zones), used)
        else:
            used = metric
        index = build_facility_index(facilities, metric=used, prebuild=trees == "broadcast")
        if partition == "hilbert":
            n_valid = sum(s.n_valid for s in surveys)
            divisions = _divisions(surveys, max(1, -(-n_valid // partition_rows)))
            keyed = ddf.map_partitions(
                with_key,
                bounds=bounds,
                level=_LEVEL,
                meta=with_key(ddf._meta, bounds=bounds, level=_LEVEL),  # noqa: SLF001
            )
            ddf = keyed.set_index(
                "__key__",
                divisions=divisions,
                sorted=False,
                shuffle_method="p2p" if client is not None else "tasks",
            )
        token = uuid.uuid4().hex[:12]
        staging = None if out_dir is None else out_dir / f".staging-{token}"
        if staging is not None:
            (staging / "subjects_access").mkdir(parents=True)
            (staging / "rejects").mkdir(parents=True)
        tick = time.perf_counter()
        result = ddf.map_partitions(
            process_partition,
            _share(index, client),
            None if area_index is None else _share(area_index, client),
            buffer_m=radius,
            out=None if staging is None else str(staging),
            sort_bounds=bounds if partition == "input" else None,
            level=_LEVEL,
            outside=outside,
            files=files,
            meta=pd.DataFrame({"summary": pd.Series([], dtype=object)}),
        )
        try:
            parts: list[PartSummary] = _summaries(_compute(result, client))
        except BaseException:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)  # no half-written parts left
            raise
        timings["access"] = time.perf_counter() - tick
        peaks = {}
        if client is not None:
            peaks = {str(k): int(v) for k, v in client.run(peak_rss_bytes).items()}
    tick = time.perf_counter()
    section, layers = _summarise(
        parts, index, area_index, areas, radius, used, zones, len(facilities)
    )
    section["engine"]["partitioning"] = partition
    section["engine"]["trees"] = trees
    timings["aggregate"] = time.perf_counter() - tick
    written, rejects = _publish(staging, out_dir, parts)
    timings["total"] = time.perf_counter() - started
    return ScaleResult(section, layers, written, rejects, info, timings, peaks)


def _publish(
    staging: Path | None, out_dir: Path | None, parts: list[PartSummary]
) -> tuple[Path | None, Path | None]:
    """Move the finished parts from the staging folder into place (replacing an old run)."""
    if staging is None or out_dir is None:
        return None, None
    results = {}
    for name in ("subjects_access", "rejects"):
        target = out_dir / name
        if target.exists():
            shutil.rmtree(target)
        (staging / name).rename(target)
        results[name] = target
    shutil.rmtree(staging)
    any_rejects = any(p.n_rejected for p in parts)
    return results["subjects_access"], results["rejects"] if any_rejects else None


def _summarise(
    parts: list[PartSummary],
    index: FacilityIndex,
    area_index: AreaIndex | None,
    areas: gpd.GeoDataFrame | None,
    buffer_m: float,
    metric: str,
    zones: tuple[int, ...],
    n_facilities: int,
) -> tuple[dict[str, Any], dict[str, gpd.GeoDataFrame]]:
    distance = np.concatenate([p.distance for p in parts] + [np.zeros(0)])
    status = np.concatenate([p.status for p in parts] + [np.zeros(0, dtype=np.int8)])
    area = np.concatenate([p.area for p in parts] + [np.zeros(0, dtype=np.int32)])
    rejected: dict[str, int] = {}
    for p in parts:
        for column, n in p.rejected.items():
            rejected[column] = rejected.get(column, 0) + n
    within = distance <= buffer_m
    case, control = status == 1, status == 0
    section: dict[str, Any] = {
        "buffer_m": buffer_m,
        "metric": metric,
        "n_subjects": len(distance),
        "n_facilities": n_facilities,
        "cases_within": int((within & case).sum()),
        "cases_outside": int((~within & case).sum()),
        "controls_within": int((within & control).sum()),
        "controls_outside": int((~within & control).sum()),
        "share_cases_within": float(within[case].mean()) if case.any() else None,
        "share_controls_within": float(within[control].mean()) if control.any() else None,
        "test": None,
        "mann_whitney": None,
        "odds_ratio": None,
        "ci95": None,
    }
    groups = case | control
    try:
        section.update(compare_within(distance[groups], case[groups], buffer_m=buffer_m).to_dict())
    except AnalysisError as exc:
        section["comparison_note"] = f"cases vs controls not compared: {exc}"
    section["per_kind"] = {
        kind: {"n_facilities": len(index.groups[g + 1]), "column": f"distance_{key}_m"}
        for g, (kind, key) in enumerate(index.kind_keys)
    }
    section["utm_zones"] = list(zones)
    section["n_rejected"] = sum(rejected.values())
    section["rejected_by_column"] = dict(sorted(rejected.items()))
    section["engine"] = {"name": "dask", "n_partitions": len(parts)}  # scheduler: run.json
    layers: dict[str, gpd.GeoDataFrame] = {}
    if area_index is not None and areas is not None:
        layers = area_tables(
            area_index,
            areas,
            area_position=area,
            distance_m=distance,
            status=status,
            buffer_m=buffer_m,
        )
        section["subjects_in_no_area"] = int((area < 0).sum())
        section["levels"] = {
            level: {
                "column": column,
                "n_units": len(labels),
                "layer": f"area_access_{level}",
            }
            for level, column, labels in zip(
                area_index.levels, area_index.columns, area_index.labels, strict=True
            )
        }
    else:
        section["subjects_in_no_area"] = None
        section["levels"] = None
    return section, layers


# --------------------------------------------------------------------------- study files


def run_scale(
    config: Any,
    *,
    out: str | Path,
    scheduler: Any = None,
    levels: Mapping[str, str | None] | None = None,
    **options: Any,
) -> tuple[ScaleResult, Any]:
    """Run a study file's access analysis with the dask engine (``engine = "dask"``).

    The facilities and the study area are read and validated exactly as `load_study`
    does (against a sample of the subjects: up to 2,000 rows from up to 16 parts), which
    also chooses the analysis CRS; the subjects are then streamed by `access_dask`, with
    the row checks that can be made on one row at a time (coordinates, status, id present,
    inside the area when ``outside = "reject"``).

    Parameters
    ----------
    config
        A `geo_stunting.study.StudyConfig`; ``[subjects] path`` is a folder, glob or file
        of GeoParquet or CSV parts.
    out
        Output folder: ``subjects_access/`` and ``rejects/`` go there.
    scheduler, levels, options
        As in `access_dask`.

    Returns
    -------
    tuple
        The `ScaleResult` and the `geo_stunting.Study` built from the sample (its
        ``facilities``, ``area``, ``crs``, ``crs_reason`` and facility/area ``rejects``
        are those of the whole study; its ``subjects`` are only the sample).
    """
    study = sample_study(config)
    if study.facilities is None or len(study.facilities) == 0:
        raise AnalysisError(
            Problem("the study has no facilities", fix="add a [facilities] section")
        )
    outside: Literal["keep", "reject"] = (
        "reject" if config.area is not None and config.area.outside == "reject" else "keep"
    )
    result = access_dask(
        str(config.subjects.path),
        study.facilities,
        buffer_m=study.settings.buffer_m,
        areas=study.area,
        levels=levels,
        out=out,
        scheduler=scheduler,
        crs=study.crs,
        spec=config.subjects,
        outside=outside,
        **options,
    )
    return result, replace(study, name=config.name)
