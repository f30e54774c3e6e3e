"""How the ``areas`` step's layers are drawn: choropleths, LISA cluster maps, change maps.

The layer names carry the period (``areas_2021``, ``areas_change_2021_2022``),
so their entries are made here from the name rather than listed in
`geo_stunting.outputs.map._layers.LAYER_STYLES`. Classes come from the layer's
``rate_class_label`` column ("2/5 · 22.0–23.0 %", written by the step with
mapclassify); the legend shows the class bounds in class order. LISA colours
are GeoDa's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from geo_stunting.outputs.map._layers import Group, LayerStyle, MapContext, Public, Ramp

__all__ = ["CLASS_COLOURS", "GEODA_LISA", "area_layer_style"]

#: Sequential palette (ColorBrewer YlOrRd, 9 classes); k classes take k evenly spaced colours.
CLASS_COLOURS = (
    "#ffffcc",
    "#ffeda0",
    "#fed976",
    "#feb24c",
    "#fd8d3c",
    "#fc4e2a",
    "#e31a1c",
    "#bd0026",
    "#800026",
)
#: GeoDa's LISA cluster map colours.
GEODA_LISA = {
    "HH": "#ff0000",
    "LL": "#0000ff",
    "LH": "#a7adf9",
    "HL": "#f4ada8",
    "not significant": "#eeeeee",
    "isolate": "#464646",
}
_LISA_LEGEND = {
    "HH": "High-High: high rate among high",
    "LL": "Low-Low: low rate among low",
    "LH": "Low-High: low rate among high",
    "HL": "High-Low: high rate among low",
    "not significant": "not significant",
    "isolate": "no neighbours",
}
_LABEL = re.compile(r"^(\d+)/(\d+) · (.*)$")
_OUTLINE = {"color": "#444444", "weight": 1, "opacity": 1, "fillOpacity": 0.85}
_OPAQUE = {**_OUTLINE, "fillOpacity": 1}


class _ClassStyles(Mapping[str, Mapping[str, Any]]):
    """Fill colour of a class label ``"i/k · bounds"``: the i-th of k spread over the palette."""

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        match = _LABEL.match(str(key))
        if match is None:
            raise KeyError(key)
        i, k = int(match.group(1)), int(match.group(2))
        pos = 0 if k <= 1 else round((i - 1) * (len(CLASS_COLOURS) - 1) / (k - 1))
        return {"fillColor": CLASS_COLOURS[pos]}

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, key: object) -> bool:
        return False


class _ClassLegend(Mapping[str, str]):
    """Legend text of a class label: its bounds."""

    def __getitem__(self, key: str) -> str:
        match = _LABEL.match(str(key))
        if match is None:
            raise KeyError(key)
        return match.group(3)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _shown(period: str) -> Any:
    def show(_value: Any, ctx: MapContext) -> bool:
        section = ctx.sections.get("areas") or {}
        periods = section.get("periods") or []
        return bool(periods) and period == periods[-1] and section.get("mode") != "aggregate"

    return show


def _lisa_present(column: str) -> Any:
    def where(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
        if column not in frame:
            return np.zeros(len(frame), dtype=bool)
        return frame[column].notna().to_numpy(dtype=bool)

    return where


def _in_cluster(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "scan_cluster" not in frame:
        return np.zeros(len(frame), dtype=bool)
    clusters = pd.to_numeric(frame["scan_cluster"], errors="coerce").fillna(0)
    return (clusters > 0).to_numpy(dtype=bool)


def _period_style(period: str) -> LayerStyle:
    label = period or "all"
    return LayerStyle(
        groups=(
            Group(
                f"Stunting rate {label} (%), classes ({{n}} areas)",
                where=_lisa_present("rate_class_label"),
                style=_OUTLINE,
                style_by=("rate_class_label", _ClassStyles()),
                legend=_ClassLegend(),
                show=_shown(period),
                tooltip="{area_name}: {rate} %",
            ),
            Group(
                f"LISA clusters {label} (p ≤ 0.05, uncorrected)",
                where=_lisa_present("lisa_label"),
                style=_OPAQUE,
                style_by=("lisa_label", {k: {"fillColor": v} for k, v in GEODA_LISA.items()}),
                legend=_LISA_LEGEND,
                tooltip="{area_name}: LISA {lisa_label}, p = {lisa_p}",
            ),
            Group(
                f"LISA clusters {label} (false discovery rate 5 %)",
                where=_lisa_present("lisa_label_fdr"),
                style=_OPAQUE,
                style_by=("lisa_label_fdr", {k: {"fillColor": v} for k, v in GEODA_LISA.items()}),
                legend=_LISA_LEGEND,
                tooltip="{area_name}: LISA {lisa_label_fdr} (FDR)",
            ),
            Group(
                f"Poisson scan clusters {label}",
                where=_in_cluster,
                style={"fill": False, "color": "#7a0177", "weight": 3, "opacity": 1},
                tooltip="{area_name}: scan cluster {scan_cluster}",
            ),
        ),
        popup_first=("area_name", "code", "rate", "rate_eb", "lisa_label", "gi_star_z"),
        # rates stay public; counts go (small counts of a village identify children)
        public=Public("keep", drop=("source_row", "cases", "population", "expected", "excess")),
    )


def _change_style(start: str, end: str) -> LayerStyle:
    return LayerStyle(
        groups=(
            Group(
                f"Change {start} → {end} (percentage points, {{n}} areas)",
                style=_OUTLINE,
                ramp=Ramp(
                    "difference_pp",
                    ("#1a9850", "#a6d96a", "#f7f7f7", "#fdae61", "#d73027"),
                    domain="symmetric",
                    label=f"Change {start} → {end} (points; red: higher)",
                ),
                tooltip="{area_name}: {difference_pp} points ({change})",
            ),
        ),
        popup_first=("area_name", "difference_pp", "ci_low_pp", "ci_high_pp", "change"),
        public=Public("keep", drop=("source_row",)),
    )


def area_layer_style(name: str) -> LayerStyle | None:
    """The map entry of an ``areas`` layer, or ``None`` for other layers.

    Examples
    --------
    >>> area_layer_style("areas_2021").groups[0].title
    'Stunting rate 2021 (%), classes ({n} areas)'
    >>> area_layer_style("subjects") is None
    True
    """
    change = re.match(r"^areas_change_(.+?)_(.+)$", name)
    if change:
        return _change_style(change.group(1), change.group(2))
    if name == "areas":
        return _period_style("")
    period = re.match(r"^areas_(.+)$", name)
    if period:
        return _period_style(period.group(1))
    return None
