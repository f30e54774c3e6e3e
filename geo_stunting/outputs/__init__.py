"""Everything a run writes: results.json, layers.gpkg, the map, the report, public copies.

- `_export`: the output folder (`write_outputs`, `write_map`, `read_outputs`);
- `_masking`: geomasking for public outputs;
- `_print_job`: the print maps drawn in a worker process beside the other files;
- `map/`: the offline interactive map; `report/`: the bilingual report.
"""

from __future__ import annotations

from geo_stunting.outputs._export import PublicOptions, read_outputs, write_map, write_outputs
from geo_stunting.outputs._masking import MaskingReport, donut_mask, public_layers

__all__ = [
    "MaskingReport",
    "PublicOptions",
    "donut_mask",
    "public_layers",
    "read_outputs",
    "write_map",
    "write_outputs",
]
