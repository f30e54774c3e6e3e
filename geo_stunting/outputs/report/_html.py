"""HTML building blocks of the bilingual report: text in both languages, tables, numbers.

Every piece of text a reader sees is written in English and in Bahasa
Indonesia, as ``<span class="en">`` and ``<span class="id">``; the page's
style shows one of them. Values from the data (names, reasons, numbers) are
always escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = [
    "bi",
    "dig",
    "figure",
    "fmt",
    "fmt_p",
    "heading",
    "notice",
    "para",
    "pct",
    "table",
]


def bi(en: str, id_: str, *, raw: bool = False) -> str:
    """The same text in English and in Bahasa Indonesia (escaped unless `raw`)."""
    if not raw:
        en, id_ = escape(en), escape(id_)
    if en == id_:
        return en
    return f'<span class="en">{en}</span><span class="id">{id_}</span>'


def para(en: str, id_: str, *, raw: bool = False, cls: str = "") -> str:
    """A paragraph in both languages."""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{bi(en, id_, raw=raw)}</p>"


def heading(level: int, anchor: str, en: str, id_: str) -> str:
    """A section heading with an anchor for the table of contents."""
    return f'<h{level} id="{escape(anchor)}">{bi(en, id_)}</h{level}>'


def notice(en: str, id_: str) -> str:
    """A highlighted note (a step not run, skipped, or missing data)."""
    return f'<p class="notice">{bi(en, id_)}</p>'


def figure(svg: str, en: str, id_: str) -> str:
    """A plot with its caption in both languages."""
    return f"<figure>{svg}<figcaption>{bi(en, id_)}</figcaption></figure>"


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


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, decimals: int = 2) -> str:
    """A number with thousands separators; ``–`` when missing."""
    if not _finite(value):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{decimals}f}"


def pct(part: Any, whole: Any) -> str:
    """``part / whole`` as a percentage with one decimal."""
    if not (_finite(part) and _finite(whole)) or whole == 0:
        return "–"
    return f"{100 * part / whole:.1f}%"


def fmt_p(p: Any) -> str:
    """``p < 0.001`` or ``p = 0.023``; ``p not computed`` when missing."""
    if not _finite(p):
        return "p –"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    caption: str = "",
    cls: str = "",
    raw_rows: bool = True,
    row_classes: Sequence[str] | None = None,
) -> str:
    """A table; `headers` and `caption` are HTML, cells are HTML when `raw_rows`.

    A cell may be ``(html, attributes)`` to give it, say, ``rowspan="2"``.
    """
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for pos, row in enumerate(rows):
        cells = []
        for item in row:
            cell, attrs = item if isinstance(item, tuple) else (item, "")
            attrs = f" {attrs}" if attrs else ""
            cells.append(f"<td{attrs}>{cell if raw_rows else escape(str(cell))}</td>")
        klass = row_classes[pos] if row_classes is not None else ""
        body.append((f'<tr class="{klass}">' if klass else "<tr>") + "".join(cells) + "</tr>")
    cap = f'<div class="caption">{caption}</div>' if caption else ""
    attr = f' class="{cls}"' if cls else ""
    return (
        f'<div class="table-wrap">{cap}<table{attr}><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
