"""The ``scan`` and ``relative_risk`` steps and their map layers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.pipeline import StepOutput, register_step
from geo_stunting.scan._bernoulli import ScanResult, scan_bernoulli
from geo_stunting.scan._contours import raised_risk_areas
from geo_stunting.scan._maxsize import choose_max_share
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
    max_size: dict[str, Any]
    if options.max_share is None and options.max_radius_m is None:
        choice = choose_max_share(
            study.subjects,
            direction=options.direction,
            permutations=settings.permutations,
            seed=settings.seed,
        )
        result = choice.result
        max_size = choice.to_dict()
    else:
        share = 0.5 if options.max_share is None else options.max_share
        result = scan_bernoulli(
            study.subjects,
            max_share=share,
            max_radius_m=options.max_radius_m,
            direction=options.direction,
            permutations=settings.permutations,
            seed=settings.seed,
        )
        limits = [f"{share:.0%} of the subjects"]
        if options.max_radius_m is not None:
            limits.append(f"a radius of {options.max_radius_m:,.0f} m")
        max_size = {"max_share": share, "rule": " and ".join(limits) + ", set in the study file"}
    max_size["max_radius_m"] = options.max_radius_m
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
    section = result.to_dict()
    section["max_size"] = max_size
    notes.append(f"largest window: {max_size['rule']}")
    return StepOutput(
        section=section,
        layers={"scan_clusters": clusters, "subjects_scan": subjects_scan},
        notes=tuple(notes),
    )


def relative_risk_layers(
    result: RelativeRiskResult, *, crs: Any
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Map layers: the supported grid cells, and the raised-risk areas.

    Returns
    -------
    grid, high
        ``relative_risk_grid``: the square cells of the support only, with
        ``log_rr``, ``p_case``, ``p_value`` (one-sided, pointwise), ``p_fdr``
        (Benjamini–Hochberg adjusted), ``significant_high`` (after the
        correction unless it was turned off), ``significant_high_uncorrected``
        and ``n_within`` (subjects within one bandwidth); ``relative_risk_high``:
        the tolerance contours of raised risk that hold children, one row per
        area with ``area_m2``, ``max_log_rr`` and ``n_subjects``.
    """
    keep = result.supported
    x0, y0 = result.grid_origin
    half = result.cell_m / 2
    x, y = result.x[keep], result.y[keep]
    # cell edges from the grid lines, so that neighbouring cells share exact edges
    col = np.round((x - x0) / result.cell_m - 0.5)
    row = np.round((y - y0) / result.cell_m - 0.5)
    cells = shapely.box(
        x0 + col * result.cell_m,
        y0 + row * result.cell_m,
        x0 + col * result.cell_m + 2 * half,
        y0 + row * result.cell_m + 2 * half,
    )
    grid = gpd.GeoDataFrame(
        {
            "log_rr": result.log_rr[keep],
            "p_case": result.p_case[keep],
            "p_value": result.p_value[keep],
            "p_fdr": result.p_fdr[keep],
            "significant_high": result.significant_high[keep],
            "significant_high_uncorrected": result.significant_high_uncorrected[keep],
            "n_within": result.n_within[keep],
        },
        geometry=cells,
        crs=crs,
    )
    areas = raised_risk_areas(result)
    polygons = gpd.GeoDataFrame(
        pd.DataFrame.from_records(areas.records, columns=["area_m2", "max_log_rr", "n_subjects"]),
        geometry=gpd.GeoSeries(areas.polygons, crs=crs),
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
    section["raised_risk_areas"] = raised_risk_areas(result).to_dict()
    share = section["share_support_significant_high"]
    support_km2 = section["support"]["area_m2"] / 1e6
    return StepOutput(
        section=section,
        layers={"relative_risk_grid": grid, "relative_risk_high": high},
        notes=(
            (
                f"bandwidth {result.bandwidth_m:,.0f} m ({result.bandwidth_method}); window: "
                f"{result.window_source}; support ({result.support_rule}): {support_km2:,.2f} km²"
                + ("" if share is None else f", {share:.1%} of it with significantly raised risk")
            ),
        ),
    )
