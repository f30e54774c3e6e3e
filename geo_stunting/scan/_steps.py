"""The ``scan`` and ``relative_risk`` steps and their map layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.pipeline import StepOutput, register_step
from geo_stunting.scan._bernoulli import ScanResult, scan_bernoulli
from geo_stunting.scan._relative_risk import RelativeRiskResult, relative_risk_surface

if TYPE_CHECKING:
    from geo_stunting.study._study import Study

__all__ = ["relative_risk_layers", "relative_risk_step", "scan_layers", "scan_step"]


def scan_layers(
    subjects: gpd.GeoDataFrame, result: ScanResult, *, id_column: str = "subject_id"
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Map layers of a scan: cluster circles, and subjects with their cluster.

    Parameters
    ----------
    subjects
        The subjects the scan ran on (not changed).
    result
        What `scan_bernoulli` returned for them.
    id_column
        The identifier column used by the scan.

    Returns
    -------
    clusters, subjects_scan
        Circles (radius at least 1 m, so single-location clusters show) with
        the cluster statistics; and a copy of `subjects` with
        ``scan_cluster``, the rank of the subject's cluster or null.
    """
    records = []
    for c in result.clusters:
        record = c.to_dict()
        record["subject_ids"] = ", ".join(c.subject_ids)
        record["significant"] = c.p_value is not None and c.p_value < 0.05
        records.append(record)
    circles = [
        shapely.Point(c.centre_x, c.centre_y).buffer(max(c.radius_m, 1.0), 64)
        for c in result.clusters
    ]
    columns = list(records[0]) if records else ["rank", "llr", "p_value"]
    clusters = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records, columns=columns),
        geometry=gpd.GeoSeries(circles, crs=subjects.crs),
        crs=subjects.crs,
    )
    ids = (
        subjects[id_column].astype(str)
        if id_column in subjects.columns
        else pd.Series(subjects.index.astype(str), index=subjects.index)
    )
    rank_of = {sid: c.rank for c in result.clusters for sid in c.subject_ids}
    out = subjects.copy()
    out["scan_cluster"] = pd.array([rank_of.get(s) for s in ids], dtype="Int64")
    return clusters, out


@register_step("scan", title="Bernoulli spatial scan", needs={"cases", "controls"})
def scan_step(study: Study) -> StepOutput:
    """The ``scan`` step: Bernoulli spatial scan of cases against controls."""
    settings = study.settings
    options = settings.scan
    result = scan_bernoulli(
        study.subjects,
        max_share=options.max_share,
        max_radius_m=options.max_radius_m,
        direction=options.direction,
        permutations=settings.permutations,
        seed=settings.seed,
    )
    clusters, subjects_scan = scan_layers(study.subjects, result)
    notes = []
    if result.clusters:
        top = result.clusters[0]
        notes.append(
            f"most likely cluster: {top.n} subjects, {top.cases} cases, radius "
            f"{top.radius_m:,.0f} m, LLR {top.llr:.3f}, p = {top.p_value}"
        )
    else:
        notes.append("no window has a higher proportion of cases than outside it")
    return StepOutput(
        section=result.to_dict(),
        layers={"scan_clusters": clusters, "subjects_scan": subjects_scan},
        notes=tuple(notes),
    )


def relative_risk_layers(
    result: RelativeRiskResult, *, crs: Any
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Map layers: grid cells with their values, and raised-risk polygons.

    Returns
    -------
    grid, high
        ``relative_risk_grid``: square cells with ``log_rr``, ``p_case``,
        ``p_value`` and ``significant_high``; ``relative_risk_high``: the
        union of significant raised-risk cells, clipped to the window, one
        row per part with ``area_m2`` and ``max_log_rr``.
    """
    # cell edges from the grid lines, so that neighbouring cells share exact edges
    xmin, ymin = (float(v) for v in shapely.bounds(result.window)[:2])
    col = np.round((result.x - xmin) / result.cell_m - 0.5)
    row = np.round((result.y - ymin) / result.cell_m - 0.5)
    cells = shapely.box(
        xmin + col * result.cell_m,
        ymin + row * result.cell_m,
        xmin + (col + 1) * result.cell_m,
        ymin + (row + 1) * result.cell_m,
    )
    high = result.significant_high
    grid = gpd.GeoDataFrame(
        {
            "log_rr": result.log_rr,
            "p_case": result.p_case,
            "p_value": result.p_value,
            "significant_high": high,
        },
        geometry=cells,
        crs=crs,
    )
    parts: list[shapely.Geometry] = []
    if high.any():
        joined = shapely.intersection(shapely.union_all(cells[high]), result.window)
        parts = [p for p in shapely.get_parts(joined) if shapely.area(p) > 0]
    records = []
    for part in parts:
        touched = shapely.intersects(part, cells) & high
        records.append(
            {
                "area_m2": float(shapely.area(part)),
                "max_log_rr": float(np.nanmax(result.log_rr[touched])),
            }
        )
    polygons = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records, columns=["area_m2", "max_log_rr"]),
        geometry=gpd.GeoSeries(parts, crs=crs),
        crs=crs,
    )
    return grid, polygons


@register_step("relative_risk", title="Kernel relative risk", needs={"cases", "controls"})
def relative_risk_step(study: Study) -> StepOutput:
    """The ``relative_risk`` step: log relative-risk surface and raised-risk areas."""
    settings = study.settings
    options = settings.relative_risk
    result = relative_risk_surface(
        study.subjects,
        area=study.area,
        bandwidth_m=options.bandwidth_m,
        cell_m=options.cell_m,
        edge=options.edge,
        permutations=settings.permutations,
        seed=settings.seed,
    )
    grid, high = relative_risk_layers(result, crs=study.crs)
    section = result.to_dict()
    return StepOutput(
        section=section,
        layers={"relative_risk_grid": grid, "relative_risk_high": high},
        notes=(
            (
                f"bandwidth {result.bandwidth_m:,.0f} m ({result.bandwidth_method}); window: "
                f"{result.window_source}; {section['share_window_significant_high']:.1%} of the "
                "window has significantly raised risk"
            ),
        ),
    )
