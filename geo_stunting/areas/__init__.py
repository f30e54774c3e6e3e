"""Area-level analysis: stunting counts or prevalence per village, kecamatan or kabupaten.

- `_spec`: the study file's ``[areas]`` section;
- `_groups`: villages added up to kecamatan or kabupaten;
- `_io`: polygons joined to a count/prevalence table by BPS/Kemendagri code, every row checked;
- `_rates`: crude, empirical-Bayes (global and local) rates, SMR and the Poisson probability map;
- `_weights`: queen/rook contiguity or nearest areas, islands and components reported;
- `_autocorrelation`: Moran's I on rates, the EB Moran index, local Moran (LISA), Gi*;
- `_scan`: Kulldorff's discrete Poisson scan on area centroids;
- `_periods`: change between periods with confidence intervals;
- `_classes`: choropleth classes (quantiles, equal intervals) as mapclassify makes them;
- `_step`: the ``areas`` step of the pipeline.
"""

from __future__ import annotations

from geo_stunting.areas._autocorrelation import (
    LISA_COLOURS,
    AreaMoran,
    eb_moran,
    eb_standardise,
    getis_ord_rates,
    local_moran_rates,
    moran_rates,
)
from geo_stunting.areas._demo import demo_areas_study_path
from geo_stunting.areas._groups import group_areas
from geo_stunting.areas._io import AreaData, join_areas, normalise_code
from geo_stunting.areas._periods import rate_differences
from geo_stunting.areas._rates import (
    GlobalEB,
    area_rates,
    empirical_bayes,
    local_empirical_bayes,
    probability_map,
)
from geo_stunting.areas._scan import PoissonCluster, PoissonScan, poisson_llr, scan_poisson
from geo_stunting.areas._spec import AreasSpec, parse_areas_section
from geo_stunting.areas._step import aggregate_points, analyze_areas, classify
from geo_stunting.areas._weights import AreaWeights, area_weights, weights_from_graph

__all__ = [
    "LISA_COLOURS",
    "AreaData",
    "AreaMoran",
    "AreaWeights",
    "AreasSpec",
    "GlobalEB",
    "PoissonCluster",
    "PoissonScan",
    "aggregate_points",
    "analyze_areas",
    "area_rates",
    "area_weights",
    "classify",
    "demo_areas_study_path",
    "eb_moran",
    "eb_standardise",
    "empirical_bayes",
    "getis_ord_rates",
    "group_areas",
    "join_areas",
    "local_empirical_bayes",
    "local_moran_rates",
    "moran_rates",
    "normalise_code",
    "parse_areas_section",
    "poisson_llr",
    "probability_map",
    "rate_differences",
    "scan_poisson",
    "weights_from_graph",
]
