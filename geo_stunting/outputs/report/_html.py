"""HTML building blocks of the report, drawn by the jinja2 templates in ``templates/``.

The markup lives in ``templates/blocks.html.j2`` (autoescaped); these
functions only call its macros. Text arguments are either plain values
(escaped by the template) or `Markup`/`Text` made here or by
`geo_stunting.outputs.report._i18n` (texts from the catalogues, formatted
numbers), which are HTML already.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from geo_stunting.outputs.report._i18n import Text, fmt, fmt_p, pct, t, tn

__all__ = [
    "Markup",
    "cell",
    "details",
    "dig",
    "environment",
    "figure",
    "fmt",
    "fmt_p",
    "heading",
    "html_join",
    "macro",
    "notice",
    "para",
    "pct",
    "table",
]


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The report's jinja2 environment: package templates, autoescape on, strict undefined."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("geo_stunting.outputs.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.tests["cell_with_attributes"] = lambda value: isinstance(value, tuple)
    env.globals.update(t=t, tn=tn)
    return env


def macro(name: str, *args: Any) -> Markup:
    """Call the macro `name` of ``blocks.html.j2`` (autoescaped: it returns `Markup`)."""
    out = getattr(environment().get_template("blocks.html.j2").module, name)(*args)
    if not isinstance(out, Markup):  # pragma: no cover - autoescape is on
        raise TypeError(f"macro {name} did not return Markup")
    return out


def html_join(parts: Iterable[Any], separator: str = "") -> Markup:
    """Pieces of HTML (or text, escaped) joined into one."""
    return escape(separator).join(parts)


def heading(level: int, anchor: str, title: Text | str) -> Markup:
    """A section heading with an anchor for the table of contents."""
    return macro("heading", level, anchor, title)


def para(text: Any, *, cls: str = "") -> Markup:
    """A paragraph."""
    return macro("para", text, cls)


def notice(text: Any) -> Markup:
    """A highlighted note (a step not run, skipped, or missing data)."""
    return macro("notice", text)


def figure(svg: Markup, caption: Any) -> Markup:
    """A plot (SVG made by `geo_stunting.outputs.report._svg`) with its caption."""
    return macro("figure", svg, caption)


def details(summary: Any, items: Sequence[Any]) -> Markup:
    """A folded list (notes) under a summary line."""
    return macro("details", summary, list(items))


def cell(content: Any, **attributes: Any) -> tuple[Any, dict[str, Any]]:
    """A table cell with attributes (``rowspan=2``, ``class_="group"``)."""
    return content, {k.rstrip("_"): v for k, v in attributes.items()}


def table(
    headers: Sequence[Any],
    rows: Sequence[Sequence[Any]],
    *,
    caption: Any = "",
    cls: str = "",
    row_classes: Sequence[str] | None = None,
) -> Markup:
    """A table: headers, cells and caption are text (escaped) or Markup; a cell may be `cell`."""
    return macro("table", list(headers), [list(r) for r in rows], caption, cls, row_classes)


def dig(section: Any, *keys: Any) -> Any:
    """``section[k1][k2]…`` or ``None`` when any step is missing."""
    value = section
    for key in keys:
        found = (isinstance(value, Mapping) and key in value) or (
            isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value)
        )
        if not found:
            return None
        value = value[key]
    return value
