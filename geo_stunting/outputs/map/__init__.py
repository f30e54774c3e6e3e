"""The offline interactive map (map.html): Leaflet, our layers, legend and popups.

- `_render`: `make_map`, `render_map`, `map_html`; `_data`: the data the page draws;
- `_layers`: the layer registry and styles; `_columns`: popup columns;
- `_summary`: the headline panel; ``runtime.js`` and ``style.css``: the page's own assets;
- `_bins`: counts per grid cell instead of points on a map of very many children.

folium is slow to import, so the public names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["make_map", "map_html", "render_map"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("geo_stunting.outputs.map._render"), name)
    msg = f"module 'geo_stunting.outputs.map' has no attribute {name!r}"
    raise AttributeError(msg)
