"""geo_stunting: spatial epidemiology of child stunting.

Load cases, controls, health facilities and villages; check every row;
project to metres; measure access; test clustering; export a map, a
GeoPackage and ``results.json``.

>>> import geo_stunting as gs
>>> study = gs.load_study(gs.demo_study_path())
>>> results = gs.analyze(study)
>>> results.sections["access"]["cases_within"]
67
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and editors; at run time each name loads on first use
    from geo_stunting.access import (
        AccessComparison,
        area_coverage,
        compare_access,
        coverage,
        coverage_polygons,
        facility_buffers,
        nearest_facility,
    )
    from geo_stunting.areas import (
        AreaData,
        AreaMoran,
        AreaWeights,
        GlobalEB,
        PoissonCluster,
        PoissonScan,
        aggregate_points,
        analyze_areas,
        area_rates,
        area_weights,
        demo_areas_study_path,
        eb_moran,
        empirical_bayes,
        getis_ord_rates,
        join_areas,
        local_empirical_bayes,
        local_moran_rates,
        moran_rates,
        normalise_code,
        probability_map,
        rate_differences,
        scan_poisson,
        weights_from_graph,
    )
    from geo_stunting.autocorrelation import (
        build_neighbours,
        getis_ord,
        join_counts,
        local_moran,
        moran,
    )
    from geo_stunting.errors import (
        AnalysisError,
        GeoStuntingError,
        InputError,
        Problem,
        ProjectionError,
        StudyFileError,
    )
    from geo_stunting.outputs import (
        MaskingReport,
        PublicOptions,
        donut_mask,
        public_layers,
        read_outputs,
        write_map,
        write_outputs,
    )
    from geo_stunting.outputs.map import (
        make_map,
        map_html,
        render_map,
    )
    from geo_stunting.outputs.report import (
        make_report,
    )
    from geo_stunting.pattern import (
        average_nearest_neighbour,
        clark_evans,
        cuzick_edwards,
        envelope,
        g_function,
        k_difference,
        k_function,
        make_window,
    )
    from geo_stunting.pipeline import (
        Results,
        StepOutput,
        analyze,
        available_steps,
        register_step,
    )
    from geo_stunting.risk_factors import (
        analyze_risk_factors,
        risk_factor_tables_csv,
    )
    from geo_stunting.scale import (
        ScaleResult,
        access_dask,
        run_scale,
        scale_results,
    )
    from geo_stunting.scan import (
        RelativeRiskResult,
        ScanCluster,
        ScanResult,
        relative_risk_surface,
        scan_bernoulli,
        scan_bernoulli_xy,
    )
    from geo_stunting.study import (
        STEP_NAMES,
        AnalysisSettings,
        Study,
        choose_analysis_crs,
        demo_study_path,
        load_study,
        read_study_file,
        study_from_frames,
        utm_crs_for,
    )

#: Where each public name lives. Nothing is imported with the package: ``import
#: geo_stunting`` is instant, and the ``geo-stunting`` command starts its background
#: compile (`geo_stunting._compile_ahead`) before geopandas, esda, … load.
_LAZY = {
    "AccessComparison": "geo_stunting.access",
    "area_coverage": "geo_stunting.access",
    "compare_access": "geo_stunting.access",
    "coverage": "geo_stunting.access",
    "coverage_polygons": "geo_stunting.access",
    "facility_buffers": "geo_stunting.access",
    "nearest_facility": "geo_stunting.access",
    "AnalysisError": "geo_stunting.errors",
    "GeoStuntingError": "geo_stunting.errors",
    "InputError": "geo_stunting.errors",
    "Problem": "geo_stunting.errors",
    "ProjectionError": "geo_stunting.errors",
    "StudyFileError": "geo_stunting.errors",
    "PublicOptions": "geo_stunting.outputs",
    "read_outputs": "geo_stunting.outputs",
    "write_map": "geo_stunting.outputs",
    "write_outputs": "geo_stunting.outputs",
    "Results": "geo_stunting.pipeline",
    "StepOutput": "geo_stunting.pipeline",
    "analyze": "geo_stunting.pipeline",
    "available_steps": "geo_stunting.pipeline",
    "register_step": "geo_stunting.pipeline",
    "STEP_NAMES": "geo_stunting.study",
    "AnalysisSettings": "geo_stunting.study",
    "Study": "geo_stunting.study",
    "choose_analysis_crs": "geo_stunting.study",
    "demo_study_path": "geo_stunting.study",
    "load_study": "geo_stunting.study",
    "read_study_file": "geo_stunting.study",
    "study_from_frames": "geo_stunting.study",
    "utm_crs_for": "geo_stunting.study",
    "ScanCluster": "geo_stunting.scan",
    "ScanResult": "geo_stunting.scan",
    "scan_bernoulli": "geo_stunting.scan",
    "scan_bernoulli_xy": "geo_stunting.scan",
    "RelativeRiskResult": "geo_stunting.scan",
    "relative_risk_surface": "geo_stunting.scan",
    "analyze_risk_factors": "geo_stunting.risk_factors",
    "risk_factor_tables_csv": "geo_stunting.risk_factors",
    "make_report": "geo_stunting.outputs.report",
    "make_window": "geo_stunting.pattern",
    "clark_evans": "geo_stunting.pattern",
    "average_nearest_neighbour": "geo_stunting.pattern",
    "k_function": "geo_stunting.pattern",
    "g_function": "geo_stunting.pattern",
    "envelope": "geo_stunting.pattern",
    "k_difference": "geo_stunting.pattern",
    "cuzick_edwards": "geo_stunting.pattern",
    "build_neighbours": "geo_stunting.autocorrelation",
    "moran": "geo_stunting.autocorrelation",
    "join_counts": "geo_stunting.autocorrelation",
    "local_moran": "geo_stunting.autocorrelation",
    "getis_ord": "geo_stunting.autocorrelation",
    "access_dask": "geo_stunting.scale",
    "ScaleResult": "geo_stunting.scale",
    "run_scale": "geo_stunting.scale",
    "scale_results": "geo_stunting.scale",
    "make_map": "geo_stunting.outputs.map",
    "render_map": "geo_stunting.outputs.map",
    "map_html": "geo_stunting.outputs.map",
    "donut_mask": "geo_stunting.outputs",
    "public_layers": "geo_stunting.outputs",
    "MaskingReport": "geo_stunting.outputs",
    "AreaData": "geo_stunting.areas",
    "join_areas": "geo_stunting.areas",
    "normalise_code": "geo_stunting.areas",
    "AreaWeights": "geo_stunting.areas",
    "area_weights": "geo_stunting.areas",
    "weights_from_graph": "geo_stunting.areas",
    "GlobalEB": "geo_stunting.areas",
    "area_rates": "geo_stunting.areas",
    "empirical_bayes": "geo_stunting.areas",
    "local_empirical_bayes": "geo_stunting.areas",
    "probability_map": "geo_stunting.areas",
    "AreaMoran": "geo_stunting.areas",
    "moran_rates": "geo_stunting.areas",
    "eb_moran": "geo_stunting.areas",
    "local_moran_rates": "geo_stunting.areas",
    "getis_ord_rates": "geo_stunting.areas",
    "PoissonScan": "geo_stunting.areas",
    "PoissonCluster": "geo_stunting.areas",
    "scan_poisson": "geo_stunting.areas",
    "rate_differences": "geo_stunting.areas",
    "analyze_areas": "geo_stunting.areas",
    "aggregate_points": "geo_stunting.areas",
    "demo_areas_study_path": "geo_stunting.areas",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    msg = f"module 'geo_stunting' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("geo_stunting")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


__all__ = [
    "STEP_NAMES",
    "AccessComparison",
    "AnalysisError",
    "AnalysisSettings",
    "AreaData",
    "AreaMoran",
    "AreaWeights",
    "GeoStuntingError",
    "GlobalEB",
    "InputError",
    "MaskingReport",
    "PoissonCluster",
    "PoissonScan",
    "Problem",
    "ProjectionError",
    "PublicOptions",
    "RelativeRiskResult",
    "Results",
    "ScaleResult",
    "ScanCluster",
    "ScanResult",
    "StepOutput",
    "Study",
    "StudyFileError",
    "__version__",
    "access_dask",
    "aggregate_points",
    "analyze",
    "analyze_areas",
    "analyze_risk_factors",
    "area_coverage",
    "area_rates",
    "area_weights",
    "available_steps",
    "average_nearest_neighbour",
    "build_neighbours",
    "choose_analysis_crs",
    "clark_evans",
    "compare_access",
    "coverage",
    "coverage_polygons",
    "cuzick_edwards",
    "demo_areas_study_path",
    "demo_study_path",
    "donut_mask",
    "eb_moran",
    "empirical_bayes",
    "envelope",
    "facility_buffers",
    "g_function",
    "getis_ord",
    "getis_ord_rates",
    "join_areas",
    "join_counts",
    "k_difference",
    "k_function",
    "load_study",
    "local_empirical_bayes",
    "local_moran",
    "local_moran_rates",
    "make_map",
    "make_report",
    "make_window",
    "map_html",
    "moran",
    "moran_rates",
    "nearest_facility",
    "normalise_code",
    "probability_map",
    "public_layers",
    "rate_differences",
    "read_outputs",
    "read_study_file",
    "register_step",
    "relative_risk_surface",
    "render_map",
    "risk_factor_tables_csv",
    "run_scale",
    "scale_results",
    "scan_bernoulli",
    "scan_bernoulli_xy",
    "scan_poisson",
    "study_from_frames",
    "utm_crs_for",
    "weights_from_graph",
    "write_map",
    "write_outputs",
]
