"""Small inline SVG plots for the study report (no plotting library, no network).

Each function returns one ``<svg>`` element as `Markup`, to be placed in
the page as is. Text that depends on the language is given as a `Text`
(`geo_stunting.outputs.report._i18n`) and written once per language, with
the language code as class, which the page's style shows or hides.
Points are spread sideways by a fixed pattern (never random), so the same
results give the same picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from markupsafe import Markup, escape

from geo_stunting.outputs.report._i18n import Text, fmt, t

__all__ = [
    "CASE_COLOUR",
    "CONTROL_COLOUR",
    "MAX_DOTS",
    "box_strip",
    "envelope_plot",
    "forest_plot",
    "moran_scatter",
    "nice_ticks",
    "sample_index",
]

#: Colours of cases and controls, as on the map (geo_stunting.outputs.map._render.STATUS_COLOURS).
CASE_COLOUR = "#d7301f"
CONTROL_COLOUR = "#2b8cbe"
_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 20, 50
Values = Sequence[float] | np.ndarray


def _t(x: float, y: float, text: Text | str, *, anchor: str = "middle", size: int = 12,
       rotate: bool = False, weight: str = "normal") -> str:  # fmt: skip
    transform = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if rotate else ""
    style = f'font-size="{size}" text-anchor="{anchor}" font-weight="{weight}"{transform}'
    parts = text.parts() if isinstance(text, Text) else [(None, escape(text))]
    return "".join(
        f'<text{f" class={chr(34)}{code}{chr(34)}" if code else ""} x="{x:.1f}" y="{y:.1f}" '
        f"{style}>{value}</text>"
        for code, value in parts
    )


def _svg(body: list[str], title: Text, *, height: int = _H) -> Markup:
    names = " / ".join(str(value) for _, value in title.parts())
    # every text in `body` was escaped where it was made (`_t`, `Text`); the rest are numbers
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" role="img" '
        f'class="plot" font-family="sans-serif"><title>{names}'
        "</title>" + "".join(body) + "</svg>"
    )


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values covering ``lo..hi``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(n, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 10))
    return ticks


def _fmt(value: float) -> Text:
    """A tick label in the locale: ``1,500`` / ``1.500``, ``0.5`` / ``0,5``."""
    if value == 0 or abs(value) >= 1000 or float(value).is_integer():
        return fmt(round(value))
    shown = f"{value:g}"
    decimals = len(shown.split(".")[1]) if "." in shown and "e" not in shown else 2
    return fmt(value, decimals)


class _Axes:
    """A linear mapping from data to the plot area, with axes drawn."""

    def __init__(self, x: Sequence[float], y: Sequence[float], *, height: int = _H) -> None:
        self.xt = nice_ticks(min(x), max(x))
        self.yt = nice_ticks(min(y), max(y))
        self.height = height
        self.x0, self.x1 = _LEFT, _W - _RIGHT
        self.y0, self.y1 = height - _BOTTOM, _TOP

    def px(self, v: float) -> float:
        lo, hi = self.xt[0], self.xt[-1]
        return self.x0 + (v - lo) / (hi - lo) * (self.x1 - self.x0)

    def py(self, v: float) -> float:
        lo, hi = self.yt[0], self.yt[-1]
        return self.y0 + (v - lo) / (hi - lo) * (self.y1 - self.y0)

    def draw(self, xlabel: Text, ylabel: Text, *, x_ticks: bool = True) -> list[str]:
        out = [
            (
                f'<rect x="{self.x0}" y="{self.y1}" width="{self.x1 - self.x0}" '
                f'height="{self.y0 - self.y1}" fill="none" stroke="#999"/>'
            )
        ]
        for v in self.yt:
            y = self.py(v)
            out.append(
                f'<line x1="{self.x0}" x2="{self.x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            )
            out.append(_t(self.x0 - 6, y + 4, _fmt(v), anchor="end", size=11))
        if x_ticks:
            for v in self.xt:
                x = self.px(v)
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{self.y0}" y2="{self.y0 + 4}" '
                    'stroke="#999"/>'
                )
                out.append(_t(x, self.y0 + 17, _fmt(v), size=11))
        out.append(_t((self.x0 + self.x1) / 2, self.height - 8, xlabel))
        out.append(_t(16, (self.y0 + self.y1) / 2, ylabel, rotate=True))
        return out


def _spread(n: int, width: float) -> np.ndarray:
    """Fixed sideways offsets in ``[-width/2, width/2]`` (golden-ratio sequence)."""
    return ((np.arange(n) * 0.6180339887498949) % 1.0 - 0.5) * width


#: At most this many dots per plot; above it a fixed-seed random sample is drawn (the
#: statistics still use every value), so report.html stays small at any study size.
MAX_DOTS = 2000


def sample_index(n: int, limit: int = MAX_DOTS) -> np.ndarray:
    """Indices of the dots to draw: all of them, or `limit` chosen with a fixed seed, in order.

    >>> len(sample_index(10)), len(sample_index(10**6))
    (10, 2000)
    """
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def box_strip(
    groups: Sequence[tuple[Text, Values, str]],
    *,
    ylabel: Text,
    title: Text,
    reference: tuple[float, Text] | None = None,
) -> Markup:
    """Box plots (Tukey whiskers) with every value as a dot, one box per group.

    Parameters
    ----------
    groups
        ``(label, values, colour)`` per group.
    ylabel, title
        Axis label and title, each a `Text` in every language of the page.
    reference
        A horizontal dashed line: ``(value, label)``.
    """
    clean = [(label, np.asarray(v, float)[np.isfinite(v)], c) for label, v, c in groups]
    values = np.concatenate([v for _, v, _ in clean] + [np.zeros(1)])
    top = float(values.max()) if len(values) else 1.0
    if reference is not None:
        top = max(top, reference[0])
    axes = _Axes([0.0, 1.0], [0.0, top * 1.05 or 1.0])
    body = axes.draw(Text.same(""), ylabel, x_ticks=False)
    slot = (axes.x1 - axes.x0) / max(len(clean), 1)
    for pos, (label, v, colour) in enumerate(clean):
        cx = axes.x0 + slot * (pos + 0.5)
        body.append(_t(cx, axes.y0 + 18, label, weight="bold"))
        if len(v) == 0:
            continue
        q1, med, q3 = (float(q) for q in np.quantile(v, [0.25, 0.5, 0.75]))
        iqr = q3 - q1
        low = float(v[v >= q1 - 1.5 * iqr].min())
        high = float(v[v <= q3 + 1.5 * iqr].max())
        half = min(60.0, slot * 0.3)
        body.append(
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{axes.py(low):.1f}" y2="{axes.py(high):.1f}" '
            f'stroke="{colour}"/>'
            f'<rect x="{cx - half:.1f}" y="{axes.py(q3):.1f}" width="{2 * half:.1f}" '
            f'height="{max(axes.py(q1) - axes.py(q3), 0.5):.1f}" fill="{colour}" '
            f'fill-opacity="0.15" stroke="{colour}"/>'
            f'<line x1="{cx - half:.1f}" x2="{cx + half:.1f}" y1="{axes.py(med):.1f}" '
            f'y2="{axes.py(med):.1f}" stroke="{colour}" stroke-width="2.5"/>'
        )
        shown = v[sample_index(len(v))]  # the box uses every value; the dots a sample
        if len(shown) < len(v):
            words = t("dots: {shown} of {total}", shown=fmt(len(shown)), total=fmt(len(v)))
            body.append(_t(cx, axes.y0 + 32, words))
        offsets = _spread(len(shown), 1.6 * half)
        body.extend(
            f'<circle cx="{cx + dx:.1f}" cy="{axes.py(float(val)):.1f}" r="2.6" '
            f'fill="{colour}" fill-opacity="0.55"/>'
            for val, dx in zip(shown, offsets, strict=True)
        )
    if reference is not None:
        y = axes.py(reference[0])
        body.append(
            f'<line x1="{axes.x0}" x2="{axes.x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#444" '
            'stroke-dasharray="6 4"/>'
        )
        body.append(_t(axes.x1 - 4, y - 5, reference[1], anchor="end", size=11))
    return _svg(body, title)


def envelope_plot(
    x: Values,
    y: Values,
    lo: Values,
    hi: Values,
    *,
    xlabel: Text,
    ylabel: Text,
    title: Text,
    global_band: tuple[Values, Values] | None = None,
) -> Markup:
    """An observed curve with its simulation envelope (grey) and an optional global band."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    la, ha = np.asarray(lo, float), np.asarray(hi, float)
    extent = [ya, la, ha] + ([np.asarray(b, float) for b in global_band] if global_band else [])
    values = np.concatenate([e[np.isfinite(e)] for e in extent] + [np.zeros(1)])
    axes = _Axes([float(xa.min()), float(xa.max())], [float(values.min()), float(values.max())])
    body = axes.draw(xlabel, ylabel)

    def path(xs: np.ndarray, ys: np.ndarray) -> str:
        return " ".join(
            f"{'M' if i == 0 else 'L'}{axes.px(float(a)):.1f},{axes.py(float(b)):.1f}"
            for i, (a, b) in enumerate(zip(xs, ys, strict=True))
        )

    band = path(xa, ha) + " " + path(xa[::-1], la[::-1]).replace("M", "L", 1) + " Z"
    body.append(f'<path d="{band}" fill="#bbb" fill-opacity="0.5" stroke="none"/>')
    if global_band is not None:
        for edge in global_band:
            body.append(
                f'<path d="{path(xa, np.asarray(edge, float))}" fill="none" stroke="#777" '
                'stroke-dasharray="5 4"/>'
            )
    zero = axes.py(0.0)
    body.append(
        f'<line x1="{axes.x0}" x2="{axes.x1}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#444"/>'
    )
    body.append(f'<path d="{path(xa, ya)}" fill="none" stroke="{CASE_COLOUR}" stroke-width="2"/>')
    return _svg(body, title)


def moran_scatter(
    z: Values,
    lag: Values,
    colours: Sequence[str],
    *,
    slope: float,
    xlabel: Text,
    ylabel: Text,
    title: Text,
) -> Markup:
    """Moran scatter plot: standardised values against their spatial lag, with slope I."""
    za, la = np.asarray(z, float), np.asarray(lag, float)
    spread = 0.25 * (float(np.ptp(za)) or 1.0) / 2
    jitter = _spread(len(za), spread)
    axes = _Axes(
        [float(za.min()) - spread, float(za.max()) + spread], [float(la.min()), float(la.max())]
    )
    body = axes.draw(xlabel, ylabel)
    x0, y0 = axes.px(0.0), axes.py(0.0)
    body.append(
        f'<line x1="{x0:.1f}" x2="{x0:.1f}" y1="{axes.y0}" y2="{axes.y1}" stroke="#999"/>'
        f'<line x1="{axes.x0}" x2="{axes.x1}" y1="{y0:.1f}" y2="{y0:.1f}" stroke="#999"/>'
    )
    keep = sample_index(len(za))  # the slope uses every point; the dots a sample
    body.extend(
        f'<circle cx="{axes.px(float(za[i]) + jitter[i]):.1f}" cy="{axes.py(float(la[i])):.1f}" '
        f'r="2.6" fill="{colours[i]}" fill-opacity="0.55"/>'
        for i in keep
    )
    lo_x, hi_x = axes.xt[0], axes.xt[-1]
    ylo, yhi = axes.yt[0], axes.yt[-1]
    xs = [lo_x, hi_x]
    ys = [max(min(slope * v, yhi), ylo) for v in xs]
    body.append(
        f'<line x1="{axes.px(xs[0]):.1f}" y1="{axes.py(ys[0]):.1f}" x2="{axes.px(xs[1]):.1f}" '
        f'y2="{axes.py(ys[1]):.1f}" stroke="#222" stroke-width="1.5"/>'
    )
    return _svg(body, title)


def forest_plot(
    rows: Sequence[tuple[str, float, float, float]], *, xlabel: Text, title: Text
) -> Markup:
    """Odds ratios with 95 % CIs on a log scale, one row each: ``(label, or, low, high)``."""
    usable = [r for r in rows if all(math.isfinite(v) and v > 0 for v in r[1:])]
    height = 60 + 22 * max(len(usable), 1)
    left = 250
    values = [v for r in usable for v in r[1:]] + [1.0]
    lo_log = math.floor(math.log10(min(values)) * 2) / 2
    hi_log = math.ceil(math.log10(max(values)) * 2) / 2
    if hi_log - lo_log < 1:
        lo_log, hi_log = lo_log - 0.5, hi_log + 0.5
    x0, x1 = left, _W - _RIGHT

    def px(v: float) -> float:
        return x0 + (math.log10(v) - lo_log) / (hi_log - lo_log) * (x1 - x0)

    body = []
    ticks = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
             if lo_log <= math.log10(v) <= hi_log]  # fmt: skip
    bottom = height - 40
    for tick in ticks:
        body.append(
            f'<line x1="{px(tick):.1f}" x2="{px(tick):.1f}" y1="{_TOP}" y2="{bottom}" '
            'stroke="#eee"/>'
        )
        body.append(_t(px(tick), bottom + 15, _fmt(tick), size=11))
    body.append(
        f'<line x1="{px(1):.1f}" x2="{px(1):.1f}" y1="{_TOP}" y2="{bottom}" stroke="#444"/>'
    )
    for i, (label, est, low, high) in enumerate(usable):
        y = _TOP + 14 + 22 * i
        colour = CASE_COLOUR if low > 1 else CONTROL_COLOUR if high < 1 else "#555"
        body.append(_t(left - 8, y + 4, label, anchor="end", size=11))
        body.append(
            f'<line x1="{px(low):.1f}" x2="{px(high):.1f}" y1="{y}" y2="{y}" stroke="{colour}" '
            'stroke-width="2"/>'
            f'<rect x="{px(est) - 4:.1f}" y="{y - 4}" width="8" height="8" fill="{colour}"/>'
        )
    body.append(_t((x0 + x1) / 2, height - 8, xlabel))
    return _svg(body, title, height=height)
