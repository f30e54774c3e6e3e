"""The dask engine: the access step at national scale, partition by partition.

- `_io`: partitioned CSV/GeoParquet readers with the same row checks;
- `_parts`: the work done on one partition; `_areas`: area aggregates;
- `_cluster`: the scheduler; `_engine`: `access_dask` and `run_scale`;
- `_sample`: the sample study that the other steps run on; `_result`: `ScaleResult`.
"""

from __future__ import annotations

from geo_stunting.scale._engine import access_dask, run_scale
from geo_stunting.scale._result import ScaleResult
from geo_stunting.scale._sample import scale_results

__all__ = [
    "ScaleResult",
    "access_dask",
    "run_scale",
    "scale_results",
]
