"""How each output layer is drawn on the map: one declarative entry per layer name.

`LAYER_STYLES` maps a layer name (a key of ``results.layers``) to a
`LayerStyle`: the groups it shows in the layer control (each a filter of its
rows, a style, a tooltip, on or off by default), the popup's first fields,
which table it adds columns to (``extends``) and what the public map keeps of
it (``public``). Adding a step's layer to the map is one entry here; a layer
without an entry is still drawn, off by default, and left out of public maps.

Styles are Leaflet path options plus ``shape`` (circle, square, diamond,
triangle, cross) and ``radius`` for points. Colours are constants of this
module, never data, so that they can go into markup unescaped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "GENERIC_STYLE",
    "KIND_STYLES",
    "LAYER_STYLES",
    "LISA_COLOURS",
    "Group",
    "LayerStyle",
    "MapContext",
    "Public",
    "Ramp",
]

Style = Mapping[str, Any]
GroupKind = Literal["features", "heat", "labels"]


@dataclass(frozen=True)
class MapContext:
    """What registry entries may look at: the run's settings and the map mode."""

    buffer_m: float
    online: bool
    public: bool
    sections: Mapping[str, Any]

    @property
    def buffer_text(self) -> str:
        """The coverage radius in words, e.g. ``"2 km"``."""
        return distance_text(self.buffer_m)


def distance_text(metres: float) -> str:
    """``2000 → "2 km"``, ``1500 → "1.5 km"``, ``500 → "500 m"``."""
    if metres >= 1000:
        return f"{metres / 1000:g} km"
    return f"{metres:g} m"


@dataclass(frozen=True)
class Ramp:
    """A colour ramp of a numeric column (linear between the stops).

    ``domain="symmetric"`` centres a diverging ramp on 0 with the largest
    absolute value at both ends; ``"data"`` spans the column's minimum and
    maximum; a tuple fixes the domain.
    """

    column: str
    colours: tuple[str, ...]
    domain: Literal["symmetric", "data"] | tuple[float, float] = "data"
    prop: str = "fillColor"
    label: str = ""

    def bounds(self, values: Any) -> tuple[float, float]:
        """The ramp's ``(low, high)`` for these values (the web map and QGIS share it)."""
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
        finite = numbers[np.isfinite(numbers)]
        if isinstance(self.domain, tuple):
            return float(self.domain[0]), float(self.domain[1])
        if len(finite) == 0:
            return 0.0, 1.0
        if self.domain == "symmetric":
            high = float(np.max(np.abs(finite))) or 1.0
            return -high, high
        low, high = float(finite.min()), float(finite.max())
        return (low, low + 1.0) if low == high else (low, high)


Where = Callable[[pd.DataFrame, MapContext], "np.ndarray[Any, np.dtype[np.bool_]]"]
Categorise = Callable[[pd.DataFrame], "pd.Series[str]"]


@dataclass(frozen=True)
class Group:
    """One entry of the layer control: a subset of a layer's rows and its style.

    Attributes
    ----------
    title
        The entry's name; ``{n}`` is replaced by the number of features,
        ``{value}`` by the `split_by` value and ``{buffer}`` by the coverage
        radius in words.
    where
        Which rows (all when None).
    split_by
        One group per distinct value of this column.
    style
        Leaflet path options (+ ``shape``, ``radius``); `offline_style` is
        merged on top when the map has no tiles.
    style_by
        ``(column, {value: style})``: per-value styles merged over `style`
        (booleans as ``"true"``/``"false"``; ``"*"`` styles other values); the
        column may be a function of the frame giving each row's value.
    ramp
        A colour ramp of a numeric column.
    show
        On when the map opens (a callable gets the `split_by` value).
    show_max
        Off when the map opens if it has more features than this (a few
        highlighted children help; tens of thousands hide the map).
    tooltip
        A template such as ``"Cluster {rank}: p = {p_value}"``; values are
        formatted and inserted as text.
    legend
        Labels of the `style_by` values in the legend.
    needs
        Columns the group needs: without them it is left out (of the map,
        the QGIS style and the print maps) instead of drawn empty.
    binned
        A group of every child: on a web map of more children than
        `geo_stunting.outputs.map._bins.MAP_POINTS_MAX` the grid counts
        (``subjects_grid``) are drawn instead.
    """

    title: str
    kind: GroupKind = "features"
    where: Where | None = None
    split_by: str | None = None
    style: Style = field(default_factory=dict)
    offline_style: Style = field(default_factory=dict)
    style_by: tuple[str | Categorise, Mapping[str, Style]] | None = None
    ramp: Ramp | None = None
    show: bool | Callable[[Any, MapContext], bool] = False
    show_max: int | None = None
    tooltip: str = ""
    legend: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    binned: bool = False


@dataclass(frozen=True)
class Public:
    """What the public map and GeoPackage keep of a layer.

    ``action``: ``"keep"`` as it is (minus `drop` columns), ``"mask"`` the
    subjects' points (geomasked, keeping only `columns`), ``"mask_circles"``
    (polygons centred on a subject: moved with that subject), ``"drop"``.
    ``keep_if`` may veto keeping a layer (for example a window drawn around
    the subjects' points).
    """

    action: Literal["keep", "mask", "mask_circles", "drop"] = "drop"
    columns: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    keep_if: Callable[[pd.DataFrame], bool] | None = None


@dataclass(frozen=True)
class LayerStyle:
    """How one layer appears on the map and in public outputs.

    Attributes
    ----------
    groups
        Its entries in the layer control, in order.
    extends
        ``"subjects"`` or ``"area"``: the layer has the same rows as that
        layer plus columns (joined on `key`); the columns are added to that
        table's popups instead of drawing the features twice.
    key
        The join column for `extends`.
    popup_first
        Fields shown first in popups (the others follow).
    public
        What public outputs keep.
    columns
        The only columns sent to the page (all when None).
    link
        ``(from_layer, from_key, to_layer, to_key)``: the layer's lines join
        a point of one layer to a point of another (matched on the keys), and
        are sent as two row numbers instead of coordinates.
    """

    groups: tuple[Group, ...] = ()
    extends: str | None = None
    key: str = ""
    popup_first: tuple[str, ...] = ()
    public: Public = field(default_factory=Public)
    columns: tuple[str, ...] | None = None
    link: tuple[str, str, str, str] | None = None


# ------------------------------------------------------------------------ colours and symbols
CASE = "#d7301f"
CONTROL = "#2b8cbe"
KIND_STYLES: dict[str, Style] = {
    "puskesmas": {"shape": "square", "fillColor": "#006d2c", "radius": 8},
    "pustu": {"shape": "diamond", "fillColor": "#31a354", "radius": 7},
    "posyandu": {"shape": "triangle", "fillColor": "#a1d99b", "radius": 7},
    "hospital": {"shape": "cross", "fillColor": "#6a51a3", "radius": 8},
    "rumah sakit": {"shape": "cross", "fillColor": "#6a51a3", "radius": 8},
}
OTHER_KIND: Style = {"shape": "circle", "fillColor": "#969696", "radius": 6}
# GeoDa's LISA cluster colours
LISA_COLOURS = {"HH": "#e31a1c", "LH": "#a6bddb", "LL": "#2166ac", "HL": "#fcae91"}
LISA_LABELS = {
    "HH": "HH: case among cases",
    "LH": "LH: control among cases",
    "LL": "LL: control among controls",
    "HL": "HL: case among controls",
}
GENERIC_STYLE: Style = {
    "color": "#7a0177",
    "weight": 1.5,
    "fillColor": "#c51b8a",
    "fillOpacity": 0.15,
    "radius": 4,
}

_POINT = {"weight": 1, "color": "#ffffff", "opacity": 1, "fillOpacity": 0.95}
_FACILITY = {"weight": 1.5, "color": "#111111", "opacity": 1, "fillOpacity": 1}
_HALO = {"stroke": False, "fillOpacity": 0.55, "radius": 10, "interactive": True}


def _equals(column: str, value: Any) -> Where:
    def where(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
        if column not in frame:
            return np.zeros(len(frame), dtype=bool)
        return np.asarray((frame[column] == value).fillna(value=False), dtype=bool)

    return where


def _radius_is_buffer(frame: pd.DataFrame, ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    radius = pd.to_numeric(frame["radius_m"]).to_numpy(dtype=float)
    return np.asarray(np.isclose(radius, ctx.buffer_m), dtype=bool)


def _radius_not_buffer(frame: pd.DataFrame, ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return ~_radius_is_buffer(frame, ctx)


def _beyond_buffer(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "within_buffer" not in frame:
        return np.zeros(len(frame), dtype=bool)
    within = frame["within_buffer"].astype("boolean")
    return (within == False).fillna(value=False).to_numpy(dtype=bool)  # noqa: E712


def _lisa_cluster(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "lisa_label" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame["lisa_label"].isin(list(LISA_COLOURS)).to_numpy(dtype=bool)


def _gi_star_spot(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "gi_star_label" in frame:  # hot and cold spots after the false-discovery-rate correction
        return frame["gi_star_label"].isin(["hot spot", "cold spot"]).to_numpy(dtype=bool)
    if "gi_star_p" not in frame or "gi_star_z" not in frame:
        return np.zeros(len(frame), dtype=bool)
    p = pd.to_numeric(frame["gi_star_p"], errors="coerce").to_numpy(dtype=float)
    z = pd.to_numeric(frame["gi_star_z"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray((p <= 0.05) & (z != 0), dtype=bool)


def _in_scan_cluster(frame: pd.DataFrame, _ctx: MapContext) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if "scan_cluster" not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame["scan_cluster"].notna().to_numpy(dtype=bool)


def _window_of_area(frame: pd.DataFrame) -> bool:
    return "kind" in frame and bool((frame["kind"] == "area").all())


def _gi_star_sign(frame: pd.DataFrame) -> pd.Series[str]:
    z = pd.to_numeric(frame["gi_star_z"], errors="coerce")
    return pd.Series(np.where(z > 0, "hot", "cold"), index=frame.index, dtype=str)


# ------------------------------------------------------------------------------- the registry
LAYER_STYLES: dict[str, LayerStyle] = {
    "area": LayerStyle(
        groups=(
            Group(
                "Villages ({n})",
                style={
                    "color": "#6b6b6b",
                    "weight": 1.2,
                    "fillColor": "#ffffff",
                    "fillOpacity": 0.06,
                },
                offline_style={"fillColor": "#fbf8ef", "fillOpacity": 1, "color": "#8c8c8c"},
                show=True,
                tooltip="{name}",
            ),
            Group("Village names", kind="labels", show=True, options={"column": "name"}),
        ),
        popup_first=("name",),
        public=Public("keep", drop=("source_row",)),
    ),
    "area_coverage": LayerStyle(
        extends="area",
        key="source_row",
        groups=(
            Group(
                "Share of each village within {buffer} of a facility",
                ramp=Ramp(
                    "covered_pct",
                    ("#f7fcf5", "#c7e9c0", "#74c476", "#238b45", "#00441b"),
                    domain=(0.0, 100.0),
                    label="% of the village within {buffer}",
                ),
                style={"color": "#4d4d4d", "weight": 0.8, "fillOpacity": 0.75},
                tooltip="{name}: {covered_pct} within {buffer}",
            ),
        ),
        popup_first=("name", "covered_pct", "subjects_within", "subjects_outside"),
        public=Public("keep", drop=("source_row",)),
    ),
    "window": LayerStyle(
        groups=(
            Group(
                "Analysis window",
                style={"color": "#525252", "weight": 2, "dashArray": "6 4", "fill": False},
            ),
        ),
        public=Public("keep", keep_if=_window_of_area),
    ),
    "relative_risk_grid": LayerStyle(
        groups=(
            Group(
                "Log relative risk (kernel surface)",
                ramp=Ramp(
                    "log_rr",
                    ("#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"),
                    domain="symmetric",
                    label="log relative risk (0 = the study's average)",
                ),
                style={"stroke": False, "fillOpacity": 0.6},
                tooltip="log RR {log_rr}, p = {p_value}",
            ),
        ),
        public=Public("keep"),
    ),
    "coverage": LayerStyle(
        groups=(
            Group(
                "Within {buffer} of a facility",
                where=_radius_is_buffer,
                style={
                    "color": "#238b45",
                    "weight": 1.5,
                    "fillColor": "#74c476",
                    "fillOpacity": 0.18,
                },
                show=True,
                tooltip="Within {radius_m} of a facility",
            ),
            Group(
                "Other distance rings",
                where=_radius_not_buffer,
                style={"color": "#41ab5d", "weight": 1, "dashArray": "4 4", "fill": False},
                tooltip="Within {radius_m} of a facility",
            ),
        ),
        public=Public("keep"),
    ),
    "facility_buffers": LayerStyle(
        groups=(
            Group(
                "Facility buffers, {buffer}",
                where=_radius_is_buffer,
                style={"color": "#006d2c", "weight": 1, "dashArray": "3 3", "fill": False},
                tooltip="{name}: {radius_m}",
            ),
        ),
        popup_first=("name", "kind", "radius_m"),
        public=Public("keep"),
    ),
    "relative_risk_high": LayerStyle(
        groups=(
            Group(
                "Raised relative risk (one-sided, FDR 5 %)",
                style={
                    "color": "#99000d",
                    "weight": 2.5,
                    "fillColor": "#ef3b2c",
                    "fillOpacity": 0.12,
                },
                show=True,
                tooltip="Raised risk: up to log RR {max_log_rr}",
            ),
        ),
        public=Public("keep"),
    ),
    "scan_clusters": LayerStyle(
        groups=(
            Group(
                "Scan clusters",
                style={"weight": 2.5, "fillOpacity": 0.06},
                style_by=(
                    "significant",
                    {
                        "true": {"color": "#7a0177", "fillColor": "#c51b8a"},
                        "false": {
                            "color": "#737373",
                            "fillColor": "#bdbdbd",
                            "dashArray": "6 5",
                            "weight": 1.5,
                        },
                    },
                ),
                legend={"true": "significant (p < 0.05)", "false": "not significant"},
                show=True,
                tooltip="Cluster {rank}: {cases} cases, {expected} expected, RR {relative_risk}, "
                "p = {p_value}",
            ),
        ),
        popup_first=("rank", "n", "cases", "expected", "relative_risk", "llr", "p_value"),
        public=Public(
            "mask_circles",
            drop=("subject_ids", "centre_x", "centre_y", "centre_lon", "centre_lat"),
        ),
    ),
    "nearest_lines": LayerStyle(
        groups=(
            Group(
                "Lines to the nearest facility",
                style={"weight": 1, "opacity": 0.7, "interactive": True},
                style_by=(
                    "within_buffer",
                    {"true": {"color": "#969696"}, "false": {"color": "#e6550d", "weight": 2}},
                ),
                legend={"true": "within {buffer}", "false": "beyond {buffer}"},
                tooltip="{distance_m} to {facility_id}",
            ),
        ),
        columns=("subject_id", "facility_id", "distance_m", "within_buffer"),
        link=("subjects", "subject_id", "facilities", "facility_id"),
        public=Public("drop"),
    ),
    # children counted per cell, drawn instead of their points on a map of very many children
    # (made from the points the map is given: masked ones on a public map; see map._bins)
    "subjects_grid": LayerStyle(
        groups=(
            Group(
                "Cases per {value} cell",
                split_by="cell",
                ramp=Ramp(
                    "cases",
                    ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"),
                    label="cases in the cell",
                ),
                style={"color": "#737373", "weight": 0.3, "fillOpacity": 0.7},
                show=True,
                tooltip="{cases} cases, {controls} controls",
            ),
            Group(
                "Children per {value} cell",
                split_by="cell",
                ramp=Ramp(
                    "subjects",
                    ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"),
                    label="children (cases and controls) in the cell",
                ),
                style={"color": "#737373", "weight": 0.3, "fillOpacity": 0.7},
                tooltip="{subjects} children: {cases} cases, {controls} controls",
            ),
        ),
        columns=(
            "subjects",
            "cases",
            "controls",
            "share_cases_pct",
            "beyond_buffer",
            "cell",
        ),
        popup_first=("subjects", "cases", "controls", "share_cases_pct", "beyond_buffer"),
        public=Public("drop"),  # never published as such: the public map counts masked points
    ),
    # facilities below the children: at a regency's zoom a facility symbol would hide the
    # children living around it (runtime.js draws the facilities' outlines again on top)
    "facilities": LayerStyle(
        groups=(
            Group(
                "Facilities: {value} ({n})",
                split_by="kind",
                style=_FACILITY,
                style_by=("kind", {**KIND_STYLES, "*": OTHER_KIND}),
                show=True,
                tooltip="{name} ({kind})",
            ),
        ),
        popup_first=("name", "kind", "facility_id"),
        public=Public("keep", drop=("source_row",)),
    ),
    "subjects_autocorrelation": LayerStyle(
        extends="subjects",
        key="subject_id",
        groups=(
            Group(
                "LISA clusters (two-sided, FDR 5 %)",
                where=_lisa_cluster,
                style=_HALO,
                style_by=("lisa_label", {k: {"fillColor": v} for k, v in LISA_COLOURS.items()}),
                legend=LISA_LABELS,
                tooltip="LISA {lisa_label}, p = {lisa_p}",
            ),
            Group(
                "Gi* hot and cold spots (two-sided, FDR 5 %)",
                where=_gi_star_spot,
                style={"fill": False, "weight": 2.5, "radius": 12, "opacity": 0.9},
                style_by=(
                    _gi_star_sign,
                    {"hot": {"color": "#b2182b"}, "cold": {"color": "#2166ac"}},
                ),
                legend={"hot": "hot spot (Gi* z > 0)", "cold": "cold spot (Gi* z < 0)"},
                tooltip="Gi* z = {gi_star_z}, p = {gi_star_p}",
            ),
        ),
        popup_first=("lisa_label", "lisa_p", "gi_star_z", "gi_star_p"),
        public=Public(
            "mask",
            columns=("status", "lisa_label", "lisa_p", "gi_star_z", "gi_star_p", "gi_star_label"),
        ),
    ),
    "subjects_scan": LayerStyle(
        extends="subjects",
        key="subject_id",
        groups=(
            Group(
                "Subjects in a scan cluster",
                where=_in_scan_cluster,
                style={"fill": False, "color": "#7a0177", "weight": 1.5, "radius": 8},
                tooltip="In scan cluster {scan_cluster}",
            ),
        ),
        public=Public("mask", columns=("status", "scan_cluster")),
    ),
    "subjects": LayerStyle(
        groups=(
            Group(
                "Controls ({n})",
                where=_equals("status", "control"),
                style={**_POINT, "shape": "square", "fillColor": CONTROL, "radius": 4},
                show=True,
                tooltip="Control {subject_id} · {stratum}",
                binned=True,
            ),
            Group(
                "Cases ({n})",
                where=_equals("status", "case"),
                style={**_POINT, "shape": "circle", "fillColor": CASE, "radius": 5},
                show=True,
                tooltip="Case {subject_id} · {stratum}",
                binned=True,
            ),
            Group(
                "Heat map of cases",
                kind="heat",
                where=_equals("status", "case"),
                options={"radius": 22, "blur": 18, "minOpacity": 0.25, "maxZoom": 16},
                binned=True,
            ),
            # the access step's columns are on the subjects layer itself (one row per child)
            Group(
                "Beyond {buffer} of any facility",
                where=_beyond_buffer,
                style={"fill": False, "color": "#e6550d", "weight": 2.5, "radius": 10},
                show=True,
                show_max=2000,
                tooltip="{distance_m} from {nearest_facility_name}",
                needs=("within_buffer",),
            ),
        ),
        popup_first=(
            "subject_id",
            "status",
            "stratum",
            "distance_m",
            "nearest_facility_name",
            "nearest_facility_kind",
        ),
        # distance + facility would give the home back: the public layer keeps neither
        public=Public(
            "mask",
            columns=(
                "status",
                "stratum",
                "within_buffer",
                "nearest_facility_name",
                "nearest_facility_kind",
            ),
        ),
    ),
}
