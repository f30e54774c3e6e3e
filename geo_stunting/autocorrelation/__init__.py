"""Spatial autocorrelation of case status: Moran's I, join counts, LISA, Gi*.

- `_neighbours`: k-nearest and distance-band neighbours of subjects;
- `_statistics`: the statistics and the ``autocorrelation`` step;
- `_kernels`: the compiled loop of the permutation test.
"""

from __future__ import annotations

from geo_stunting.autocorrelation._neighbours import Neighbours
from geo_stunting.autocorrelation._statistics import (
    JoinCounts,
    MoranResult,
    build_neighbours,
    getis_ord,
    join_counts,
    local_moran,
    moran,
)

__all__ = [
    "JoinCounts",
    "MoranResult",
    "Neighbours",
    "build_neighbours",
    "getis_ord",
    "join_counts",
    "local_moran",
    "moran",
]
