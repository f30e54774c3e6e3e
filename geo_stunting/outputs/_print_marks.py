"""Page furniture of the print maps: scale bar, north arrow and village labels.

`geo_stunting.outputs._print` draws the views; these are the marks every
page carries (text grows with the page: an A3 page has text 1.41 times the
A4 size).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "A4_WIDTH_IN",
    "LABEL_GID",
    "declutter",
    "nice_length",
    "north_arrow",
    "page_scale",
    "scale_bar",
    "village_labels",
]

#: The width of an A4 page, landscape (inches): the page size text is set for.
A4_WIDTH_IN = 11.69
#: The gid of village-name labels (decluttered once the map's extent is set).
LABEL_GID = "village-label"


def page_scale(ax: Axes) -> float:
    """How much larger than A4 the page is (text grows with it)."""
    figure: Any = ax.get_figure()
    return 1.0 if figure is None else float(figure.get_figwidth()) / A4_WIDTH_IN


def nice_length(span_m: float) -> float:
    """The longest 1, 2 or 5 × 10ⁿ m that fits in a fifth of `span_m`.

    >>> nice_length(12_000.0), nice_length(600.0)
    (2000.0, 100.0)
    """
    target = span_m / 5
    power = 10.0 ** math.floor(math.log10(target))
    return float(max(f * power for f in (1, 2, 5) if f * power <= target))


def scale_bar(ax: Axes) -> None:
    from matplotlib.patches import Rectangle  # noqa: PLC0415

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length(x1 - x0)
    height = (y1 - y0) * 0.008
    left, bottom = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.045
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, bottom), length / 2, height,
                facecolor="black" if i == 0 else "white", edgecolor="black", linewidth=0.6,
                zorder=50,
            )
        )  # fmt: skip
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    for x, label in ((left, "0"), (left + length, text)):
        ax.text(
            x, bottom + height * 1.8, label, ha="center", va="bottom",
            fontsize=7 * page_scale(ax), zorder=50,
        )  # fmt: skip


def north_arrow(ax: Axes) -> None:
    ax.annotate(
        "N", xy=(0.955, 0.95), xytext=(0.955, 0.85), xycoords="axes fraction",
        ha="center", va="center", fontsize=11, fontweight="bold", zorder=50,
        arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3, "headwidth": 10},
    )  # fmt: skip


def village_labels(ax: Axes, area: gpd.GeoDataFrame, texts: Mapping[Any, str]) -> None:
    import matplotlib.patheffects as pe  # noqa: PLC0415

    halo = [pe.withStroke(linewidth=2.2, foreground="white")]
    anchors = area.geometry.representative_point()
    # largest villages first: where labels collide, `declutter` keeps the earlier one
    for index in area.geometry.area.sort_values(ascending=False).index:
        text, point = texts.get(index), anchors[index]
        if text:
            ax.text(
                point.x, point.y, text, ha="center", va="center", fontsize=7 * page_scale(ax),
                color="#333333", gid=LABEL_GID,
                fontstyle="italic", path_effects=halo, zorder=40,
            )  # fmt: skip


def declutter(fig: Figure, ax: Axes) -> None:
    """Remove village labels that would overlap an earlier one (as the web map hides them)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415

    renderer = FigureCanvasAgg(fig).get_renderer()  # type: ignore[no-untyped-call]
    placed: list[Any] = []
    for text in [t for t in ax.texts if t.get_gid() == LABEL_GID]:
        box = text.get_window_extent(renderer).expanded(1.05, 1.15)
        if any(box.overlaps(other) for other in placed):
            text.remove()
        else:
            placed.append(box)
