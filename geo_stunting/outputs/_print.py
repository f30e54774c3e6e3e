"""Print-ready maps: ``map.pdf`` (a page per view) and a 300 dpi PNG per view.

Drawn offline with matplotlib through geopandas, in the colours and symbols
of the web map (the same registry, `geo_stunting.outputs.map._layers`). The
views:

1. ``map.png`` — study area: villages, facilities, cases and controls;
2. ``map_access.png`` — access: the share of each village within the
   coverage radius, the dissolved coverage, facilities;
3. ``map_clusters.png`` — scan clusters and raised relative risk.

Each page has a title, legend, scale bar, north arrow (grid north), source,
date and a confidentiality line. Pages are A4 landscape, or A3.

Privacy: the private output folder's maps show no home location: cases and
controls are counted per village (``points="aggregate"``) and scan circles
are drawn around centres rounded to 1 km, so a printed report stays free of
home locations. The public folder's maps (``points="masked"``) draw the
geomasked points of ``public/layers.gpkg``.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from geo_stunting.outputs._print_marks import declutter, north_arrow, scale_bar, village_labels
from geo_stunting.outputs.map._layers import LAYER_STYLES, Group, MapContext

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "PAPER_SIZES_IN",
    "PRINT_FILES",
    "RASTER_ABOVE",
    "Points",
    "check_paper",
    "write_print_maps",
]

#: Paper sizes, landscape, in inches (width, height).
PAPER_SIZES_IN = {"a4": (11.69, 8.27), "a3": (16.54, 11.69)}
#: The files written, in view order (the PDF has one page per view).
PRINT_FILES = ("map.pdf", "map.png", "map_access.png", "map_clusters.png")
Points = Literal["aggregate", "masked"]
_DPI = 300
#: Point layers larger than this are drawn into the PDF as one 300 dpi image, not as
#: one vector mark per point (100,000 marks: seconds to write, a slow PDF to open).
RASTER_ABOVE = 5_000
_AXES = (0.03, 0.1, 0.66, 0.79)  # left, bottom, width, height of the map on the page
_PT = 0.75  # one CSS pixel in points
_MARKERS = {"circle": "o", "square": "s", "diamond": "D", "triangle": "^", "cross": "P"}
_LEAFLET = {"color": "#3388ff", "weight": 3, "opacity": 1.0, "fillOpacity": 0.2, "radius": 10}
_CASE_RAMP = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")


@dataclass(frozen=True)
class _Page:
    key: str
    title: str
    subtitle: str


def _style(group: Group, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    style = {**_LEAFLET, **group.style, **group.offline_style, **(extra or {})}
    style.setdefault("fillColor", style["color"])
    return style


def _rgba(colour: str, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba  # noqa: PLC0415

    return to_rgba(colour, max(0.0, min(1.0, alpha)))


def _dashes(style: Mapping[str, Any]) -> Any:
    dash = style.get("dashArray")
    if not dash:
        return "solid"
    return (0, tuple(float(p) * _PT for p in str(dash).replace(",", " ").split()))


def _draw(ax: Axes, frame: gpd.GeoDataFrame, style: Mapping[str, Any], zorder: float) -> None:
    if frame.empty:
        return
    kinds = set(frame.geom_type.dropna())
    filled = bool(style.get("fill", True))
    stroke = bool(style.get("stroke", True))
    edge = _rgba(style["color"], float(style["opacity"])) if stroke else "none"
    width = float(style["weight"]) * _PT
    if kinds <= {"Point", "MultiPoint"}:
        face = _rgba(style["fillColor"], float(style["fillOpacity"])) if filled else "none"
        size = (2 * float(style["radius"]) * _PT * 0.8) ** 2
        marker = _MARKERS.get(str(style.get("shape", "circle")), "o")
        frame.plot(
            ax=ax, marker=marker, markersize=size, facecolor=face, edgecolor=edge,
            linewidth=width, zorder=zorder, rasterized=len(frame) > RASTER_ABOVE,
        )  # fmt: skip
    elif kinds <= {"LineString", "MultiLineString"}:
        frame.plot(ax=ax, color=edge, linewidth=width, linestyle=_dashes(style), zorder=zorder)
    else:
        face = _rgba(style["fillColor"], float(style["fillOpacity"])) if filled else "none"
        frame.plot(
            ax=ax, facecolor=face, edgecolor=edge, linewidth=width,
            linestyle=_dashes(style), zorder=zorder,
        )  # fmt: skip


def _handle(style: Mapping[str, Any], geom: str, label: str) -> Any:
    from matplotlib.lines import Line2D  # noqa: PLC0415
    from matplotlib.patches import Patch  # noqa: PLC0415

    filled = bool(style.get("fill", True))
    stroke = bool(style.get("stroke", True))
    edge = _rgba(style["color"], float(style["opacity"])) if stroke else "none"
    face = _rgba(style["fillColor"], float(style["fillOpacity"])) if filled else "none"
    if geom == "point":
        return Line2D(
            [], [], linestyle="none", marker=_MARKERS.get(str(style.get("shape")), "o"),
            markersize=min(12.0, 2 * float(style["radius"]) * _PT * 0.8), markerfacecolor=face,
            markeredgecolor=edge, markeredgewidth=float(style["weight"]) * _PT, label=label,
        )  # fmt: skip
    if geom == "line":
        return Line2D(
            [], [], color=edge, linewidth=float(style["weight"]) * _PT,
            linestyle=_dashes(style), label=label,
        )  # fmt: skip
    return Patch(
        facecolor=face, edgecolor=edge, linewidth=float(style["weight"]) * _PT,
        linestyle=_dashes(style), label=label,
    )  # fmt: skip


def _geom(frame: gpd.GeoDataFrame) -> str:
    kinds = set(frame.geom_type.dropna())
    if kinds <= {"Point", "MultiPoint"}:
        return "point"
    if kinds <= {"LineString", "MultiLineString"}:
        return "line"
    return "polygon"


def _title(template: str, ctx: MapContext, **values: Any) -> str:
    text = template.replace("{buffer}", ctx.buffer_text)
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _categories(by: Any, frame: pd.DataFrame) -> pd.Series[str]:
    values = by(frame) if callable(by) else frame[by]
    out = pd.Series(values, index=frame.index).astype(object)
    return out.map(
        lambda v: ("true" if v else "false") if isinstance(v, bool | np.bool_) else str(v)
    )


def _draw_group(
    ax: Axes,
    frame: gpd.GeoDataFrame,
    group: Group,
    ctx: MapContext,
    zorder: float,
    extra: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Draw one registry group on `ax`; return its legend handles."""
    if group.kind != "features" or frame.empty:
        return []
    mask = np.ones(len(frame), dtype=bool)
    if group.where is not None:
        mask = np.asarray(group.where(frame, ctx), dtype=bool)
    rows = frame[mask]
    if rows.empty:
        return []
    handles = []
    geom = _geom(rows)
    if group.split_by is not None and group.split_by in rows:
        for value in sorted(rows[group.split_by].dropna().astype(str).unique()):
            part = rows[rows[group.split_by].astype(str) == value]
            own: dict[str, Any] = {}
            if group.style_by is not None:
                styles = group.style_by[1]
                own = dict(styles.get(value, styles.get("*", {})))
            style = _style(group, {**own, **(extra or {})})
            _draw(ax, part, style, zorder)
            label = _title(group.title, ctx, value=value, n=f"{len(part):,}")
            handles.append(_handle(style, geom, label))
        return handles
    if group.style_by is not None:
        by, styles = group.style_by
        keys = _categories(by, rows)
        for key in [k for k in styles if k != "*"] + sorted(set(keys) - set(styles)):
            part = rows[(keys == key).to_numpy()]
            if part.empty:
                continue
            style = _style(group, {**styles.get(key, styles.get("*", {})), **(extra or {})})
            _draw(ax, part, style, zorder)
            label = _title(group.legend.get(key, key), ctx)
            handles.append(_handle(style, geom, f"{_title(group.title, ctx)}: {label}"))
        return handles
    style = _style(group, extra)
    _draw(ax, rows, style, zorder)
    return [_handle(style, geom, _title(group.title, ctx, n=f"{len(rows):,}"))]


def _draw_layer(
    ax: Axes,
    layers: Mapping[str, gpd.GeoDataFrame],
    name: str,
    ctx: MapContext,
    zorder: float,
    *,
    titles: tuple[str, ...] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[Any]:
    frame = layers.get(name)
    spec = LAYER_STYLES.get(name)
    if frame is None or spec is None:
        return []
    handles = []
    for group in spec.groups:
        if titles is None or group.title in titles:
            handles += _draw_group(ax, frame, group, ctx, zorder, extra)
    return handles


# ----------------------------------------------------------------------------------- the views
def _ramp_handles(
    colours: tuple[str, ...], labels: list[str], title: str, alpha: float = 1.0
) -> list[Any]:
    from matplotlib.patches import Patch  # noqa: PLC0415

    handles = [Patch(facecolor="none", edgecolor="none", label=title)]
    for colour, label in zip(colours, labels, strict=True):
        face = _rgba(colour, alpha)
        handles.append(Patch(facecolor=face, edgecolor="#4d4d4d", linewidth=0.5, label=label))
    return handles


def _count_classes(top: int, k: int) -> tuple[list[int], list[str]]:
    """Integer classes 0…`top` in at most `k` steps: their upper bounds and labels.

    >>> _count_classes(14, 5)
    ([3, 6, 8, 11, 14], ['0–3', '4–6', '7–8', '9–11', '12–14'])
    >>> _count_classes(2, 5)
    ([0, 1, 2], ['0', '1', '2'])
    """
    uppers = sorted({round(top * i / k) for i in range(1, k + 1)} | ({0} if top < k else set()))
    labels = []
    lower = 0
    for upper in uppers:
        labels.append(str(upper) if lower == upper else f"{lower}–{upper}")
        lower = upper + 1
    return uppers, labels


def _counts_per_village(
    area: gpd.GeoDataFrame, subjects: gpd.GeoDataFrame
) -> tuple[pd.Series[int], pd.Series[int]]:
    from geo_stunting.access import locate_in_areas  # noqa: PLC0415

    # as the access and areas steps count them: a subject kept just outside the area
    # ([area] outside_m) in the nearest village, one on a shared boundary in the first
    n = len(area)
    position = np.full(0, -1, dtype=np.int64)  # a study of published area figures: no child
    if len(subjects):
        position = locate_in_areas(subjects, area).to_numpy()
    status = subjects["status"].to_numpy()

    def count(group: str) -> pd.Series[int]:
        found = np.bincount(position[(position >= 0) & (status == group)], minlength=n)
        return pd.Series(found.astype(np.int64), index=area.index, dtype="int64")

    return count("case"), count("control")


def _overview(ax: Axes, layers: Mapping[str, Any], ctx: MapContext, points: Points) -> list[Any]:
    handles: list[Any] = []
    area = layers.get("area")
    names = {}
    if area is not None and "name" in area:
        names = {i: str(v) for i, v in area["name"].items() if pd.notna(v)}
    if points == "aggregate" and area is not None and "subjects" in layers:
        cases, controls = _counts_per_village(area, layers["subjects"])
        uppers, labels = _count_classes(int(cases.max()), len(_CASE_RAMP))
        index = np.searchsorted(uppers, cases.to_numpy(), side="left")
        palette = _CASE_RAMP[-len(uppers) :]
        area.plot(
            ax=ax, color=[palette[i] for i in index], edgecolor="#8c8c8c", linewidth=0.9, zorder=1
        )
        handles += _ramp_handles(palette, labels, "Cases per village (home points not shown)")
        names = {
            i: f"{names.get(i, '')}\n{cases[i]} cases · {controls[i]} controls" for i in area.index
        }
    else:
        handles += _draw_layer(ax, layers, "area", ctx, 1, titles=("Villages ({n})",))
        if points == "masked":  # without villages the private map has nothing to count children in
            handles += _draw_layer(
                ax, layers, "subjects", ctx, 20, titles=("Cases ({n})", "Controls ({n})")
            )
    if area is not None:
        village_labels(ax, area, names)
    handles += _draw_layer(ax, layers, "facilities", ctx, 30)
    return handles


def _access(ax: Axes, layers: Mapping[str, Any], ctx: MapContext, points: Points) -> list[Any]:
    handles: list[Any] = []
    if "area_coverage" in layers:
        handles += _ramp_view(ax, layers["area_coverage"], "area_coverage", ctx)
    else:
        handles += _draw_layer(ax, layers, "area", ctx, 1, titles=("Villages ({n})",))
    handles += _draw_layer(
        ax, layers, "coverage", ctx, 10, titles=("Within {buffer} of a facility",),
        extra={"fill": False, "weight": 2},
    )  # fmt: skip
    if points == "masked":
        handles += _draw_layer(
            ax, layers, "subjects", ctx, 20, titles=("Cases ({n})", "Controls ({n})")
        )
        handles += _draw_layer(
            ax, layers, "subjects", ctx, 25, titles=("Beyond {buffer} of any facility",)
        )
    area = layers.get("area_coverage")
    if area is not None and {"name", "covered_pct"} <= set(area.columns):
        village_labels(ax, area, {i: _access_label(r, ctx) for i, r in area.iterrows()})
    handles += _draw_layer(ax, layers, "facilities", ctx, 30)
    return handles


def _access_label(row: pd.Series[Any], ctx: MapContext) -> str:
    text = f"{row['name']}\n{row['covered_pct']:.0f} % within {ctx.buffer_text}"
    outside = row.get("subjects_outside")
    if outside is not None and pd.notna(outside) and int(outside) > 0:
        text += f"\n{int(outside)} {'child' if int(outside) == 1 else 'children'} beyond"
    return text


def _ramp_view(ax: Axes, frame: gpd.GeoDataFrame, name: str, ctx: MapContext) -> list[Any]:
    (group,) = [g for g in LAYER_STYLES[name].groups if g.ramp is not None]
    ramp = group.ramp
    assert ramp is not None
    low, high = ramp.domain if isinstance(ramp.domain, tuple) else (0.0, 100.0)
    k = len(ramp.colours)
    edges = [low + (high - low) * i / k for i in range(k + 1)]
    values = pd.to_numeric(frame[ramp.column], errors="coerce").to_numpy(dtype=float)
    index = np.clip(((values - low) / (high - low) * k).astype(int), 0, k - 1)
    style = _style(group)
    frame.plot(
        ax=ax, color=[ramp.colours[i] for i in index], edgecolor=_rgba(style["color"], 1.0),
        linewidth=float(style["weight"]) * _PT, alpha=float(style["fillOpacity"]), zorder=1,
    )  # fmt: skip
    labels = [f"{edges[i]:.0f}–{edges[i + 1]:.0f} %" for i in range(k)]
    return _ramp_handles(ramp.colours, labels, _title(ramp.label, ctx), float(style["fillOpacity"]))


def _rounded_circles(clusters: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Scan circles moved so that their centres are rounded to 1 km (no home location)."""
    import shapely  # noqa: PLC0415

    out = clusters.copy()
    centres = out.geometry.centroid
    dx = np.round(centres.x / 1000) * 1000 - centres.x
    dy = np.round(centres.y / 1000) * 1000 - centres.y
    out.geometry = [
        shapely.affinity.translate(g, xoff=x, yoff=y)
        for g, x, y in zip(out.geometry, dx, dy, strict=True)
    ]
    return out


def _clusters(ax: Axes, layers: Mapping[str, Any], ctx: MapContext, points: Points) -> list[Any]:
    handles = _draw_layer(ax, layers, "area", ctx, 1, titles=("Villages ({n})",))
    area = layers.get("area")
    if area is not None and "name" in area:
        village_labels(ax, area, {i: str(v) for i, v in area["name"].items() if pd.notna(v)})
    handles += _draw_layer(ax, layers, "relative_risk_high", ctx, 10)
    shown = dict(layers)
    if points == "aggregate" and "scan_clusters" in layers:
        shown["scan_clusters"] = _rounded_circles(layers["scan_clusters"])
    handles += _draw_layer(ax, shown, "scan_clusters", ctx, 15)
    if points == "masked":
        handles += _draw_layer(
            ax, layers, "subjects", ctx, 20, titles=("Cases ({n})", "Controls ({n})")
        )
    handles += _draw_layer(ax, layers, "facilities", ctx, 30)
    return handles


_VIEWS = (
    (_Page("map.png", "Study area", "Villages, health facilities, cases and controls"), _overview),
    (
        _Page("map_access.png", "Access", "Share of each village within {buffer} of a facility"),
        _access,
    ),
    (
        _Page(
            "map_clusters.png", "Clusters and raised risk", "Scan clusters and kernel relative risk"
        ),
        _clusters,
    ),
)


def _confidentiality(points: Points) -> str:
    if points == "masked":
        return (
            "For sharing: home points moved 100–500 m at random within their village "
            "(donut geomasking); no names or ids."
        )
    return (
        "CONFIDENTIAL health data. No home location is shown: children are counted per village "
        "and scan circles are centred on points rounded to 1 km."
    )


def _page(
    page: _Page,
    draw: Any,
    layers: Mapping[str, gpd.GeoDataFrame],
    ctx: MapContext,
    *,
    paper: str,
    points: Points,
    today: dt.date,
) -> Figure:
    from matplotlib.figure import Figure  # noqa: PLC0415

    width, height = PAPER_SIZES_IN[paper]
    fig = Figure(figsize=(width, height), facecolor="white")
    scale = width / PAPER_SIZES_IN["a4"][0]
    ax = fig.add_axes(_AXES)
    ax.set_facecolor("white")
    handles = draw(ax, layers, ctx, points)
    frame = layers.get("area")
    if frame is None or frame.empty:
        frame = next(g for g in layers.values() if len(g))
    xmin, ymin, xmax, ymax = frame.total_bounds
    pad = 0.04 * max(xmax - xmin, ymax - ymin)
    xmin, ymin, xmax, ymax = xmin - pad, ymin - pad, xmax + pad, ymax + pad
    box = (_AXES[2] * width) / (_AXES[3] * height)  # the axes' width / height on paper
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    half_w, half_h = (xmax - xmin) / 2, (ymax - ymin) / 2
    if half_w / half_h < box:
        half_w = half_h * box
    else:
        half_h = half_w / box
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_aspect("equal", adjustable="box")
    declutter(fig, ax)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")
    for spine in ax.spines.values():
        spine.set_edgecolor("#999999")
    scale_bar(ax)
    north_arrow(ax)
    study = (ctx.sections.get("study") or {}).get("name") or "Study"
    fig.text(0.03, 0.955, f"{study}: {page.title}", fontsize=16 * scale, fontweight="bold")
    subtitle = _title(page.subtitle, ctx)
    if page.key == "map.png" and points == "aggregate":
        subtitle = "Villages and health facilities; cases and controls counted per village"
    fig.text(0.03, 0.915, subtitle, fontsize=11 * scale, color="#444444")
    if handles:
        fig.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(0.715, 0.89), frameon=False,
            fontsize=8.5 * scale, title="Legend", title_fontsize=10 * scale, alignment="left",
            handlelength=2.2, borderaxespad=0,
        )  # fmt: skip
    crs = (ctx.sections.get("study") or {}).get("crs") or ""
    version = importlib.metadata.version("geo_stunting")
    fig.text(
        0.03, 0.06,
        f"Source: {study}; analysis by geo_stunting {version}. Coordinates {crs} (grid north). "
        f"Drawn {today.isoformat()}.",
        fontsize=7.5 * scale, color="#333333",
    )  # fmt: skip
    fig.text(
        0.03, 0.035, _confidentiality(points), fontsize=8 * scale, color="#99000d",
        fontweight="bold",
    )  # fmt: skip
    return fig


def check_paper(paper: str) -> None:
    """Raise `InputError` unless `paper` is a page size of the print maps (`PAPER_SIZES_IN`)."""
    if paper not in PAPER_SIZES_IN:
        from geo_stunting.errors import InputError, Problem  # noqa: PLC0415

        raise InputError(Problem(f"paper must be 'a4' or 'a3', got {paper!r}", fix="--paper a3"))


def write_print_maps(
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    folder: Path,
    *,
    paper: str = "a4",
    points: Points = "aggregate",
    today: dt.date | None = None,
) -> list[str]:
    """Write ``map.pdf`` and the view PNGs (300 dpi) into `folder`; return the file names.

    Parameters
    ----------
    layers, sections
        A run's layers and ``results.json`` sections.
    folder
        Where to write (`PRINT_FILES`).
    paper
        ``"a4"`` or ``"a3"``, landscape.
    points
        ``"aggregate"``: no home location (children counted per village, scan
        centres rounded to 1 km); ``"masked"``: draw the (already geomasked)
        points of public layers.
    today
        The date printed on the maps (today, UTC, by default).
    """
    import matplotlib as mpl  # noqa: PLC0415
    from matplotlib.backends.backend_pdf import PdfPages  # noqa: PLC0415

    check_paper(paper)
    settings = sections.get("settings") or {}
    ctx = MapContext(
        buffer_m=float(settings.get("buffer_m") or 2000.0),
        online=False,
        public=points == "masked",
        sections=sections,
    )
    day = today or dt.datetime.now(dt.UTC).date()
    written = []
    with (
        mpl.rc_context({"lines.scale_dashes": False, "font.family": "DejaVu Sans"}),
        PdfPages(folder / "map.pdf", metadata={"Creator": "geo_stunting"}) as pdf,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="print-png") as png,
    ):
        saved = []
        for page, draw in _VIEWS:
            fig = _page(page, draw, layers, ctx, paper=paper, points=points, today=day)
            pdf.savefig(fig, dpi=_DPI)  # the dpi of rasterised layers only; the rest stays vector
            # the PNG in a second thread, the figure no longer touched here: Pillow lets go of
            # the GIL while it compresses, so that overlaps the next page (the same bytes)
            saved.append(png.submit(_save_png, fig, folder / page.key))
            written.append(page.key)
        for future in saved:
            future.result()
    return ["map.pdf", *written]


def _save_png(fig: Figure, path: Path) -> None:
    # zlib level 1: a third less CPU than the default 6 for files about 15 % larger
    fig.savefig(path, dpi=_DPI, pil_kwargs={"compress_level": 1})
