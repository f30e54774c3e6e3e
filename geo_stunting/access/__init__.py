"""Access to health facilities: nearest facility, coverage, overlay, cases vs controls.

- `_core`: exact planar and geodesic nearest-facility arrays (cKDTree);
- `_coverage`: the public functions and the ``access`` step;
- `_overlay`: buffers, dissolved coverage, rings and the per-village overlay;
- `_compare`: the 2×2 comparison of cases with controls (statistics from
  `geo_stunting.stats`).
"""

from __future__ import annotations

from geo_stunting.access._compare import AccessComparison, compare_access
from geo_stunting.access._coverage import (
    NEAREST_LINES_MAX,
    area_coverage,
    coverage,
    coverage_polygons,
    facility_buffers,
    locate_in_areas,
    nearest_facility,
)

__all__ = [
    "NEAREST_LINES_MAX",
    "AccessComparison",
    "area_coverage",
    "compare_access",
    "coverage",
    "coverage_polygons",
    "facility_buffers",
    "locate_in_areas",
    "nearest_facility",
]
