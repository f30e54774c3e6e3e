"""The report's languages: gettext catalogues read at run time, and numbers in each locale.

English is the source language: every message id in the code and the
templates is the English text. Each other language is one file,
``<folder>/<lang>/LC_MESSAGES/geo_stunting.po``, found in the package's
``geo_stunting/locale`` folder and in the folders named by the environment
variable ``GEO_STUNTING_LOCALE_PATH`` (separated like ``PATH``). The ``.po``
files are read with Babel when a report is made (no compile step), so adding
a language is dropping one file; a message the file leaves untranslated (or
marks fuzzy) is shown in English.

The page holds every language at once: `t` returns a `Text`, the message in
each language of the page, which renders as one ``<span class="xx">`` per
language (a single plain text when all languages agree); the page's style
shows one language and a button switches. Numbers are `Text` too, formatted
with the locale's separators by Babel (``1,234.5`` in English, ``1.234,5`` in
Indonesian).
"""

from __future__ import annotations

import gettext
import math
import os
import re
import string
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po
from babel.numbers import (
    format_decimal,
    format_percent,
    get_decimal_symbol,
    parse_pattern,
)
from markupsafe import Markup, escape

__all__ = [
    "ANALYSIS",
    "DOMAIN",
    "ENV_LOCALE_PATH",
    "LANGUAGE_NAME_MESSAGE",
    "LOCALE_DIR",
    "N_",
    "SOURCE_LANGUAGE",
    "Catalogue",
    "Text",
    "available_languages",
    "catalogue",
    "fmt",
    "fmt_p",
    "language_name",
    "languages",
    "locale_dirs",
    "pN_",
    "page_languages",
    "pct",
    "percent",
    "pt",
    "t",
    "tn",
    "translate_analysis",
]

#: The gettext domain: the catalogues are ``<lang>/LC_MESSAGES/geo_stunting.po``.
DOMAIN = "geo_stunting"
#: The language of the message ids.
SOURCE_LANGUAGE = "en"
#: The package's own catalogues.
LOCALE_DIR = Path(__file__).parents[2] / "locale"
#: More catalogue folders, separated by ``os.pathsep``; they come before the package's.
ENV_LOCALE_PATH = "GEO_STUNTING_LOCALE_PATH"
#: Context of the sentences that the analysis writes into results.json (matched, not looked up).
ANALYSIS = "analysis"
_LANGUAGE_NAME = "language name"
_CODE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark `message` for extraction without translating it (it is translated where shown)."""
    return message


def pN_(context: str, message: str) -> str:  # noqa: N802 - the gettext convention
    """Mark `message` (in `context`) for extraction; return it unchanged."""
    del context
    return message


#: The message whose translation is the language's name in itself ("Bahasa Indonesia").
LANGUAGE_NAME_MESSAGE = pN_("language name", "English")

# --------------------------------------------------------------------------- catalogues


@dataclass(frozen=True)
class Catalogue:
    """The messages of one language, read from its ``.po`` file."""

    code: str
    path: Path | None
    messages: Mapping[tuple[str | None, str], str | tuple[str, ...]]
    plural_expr: str = "(n != 1)"

    def plural_index(self, n: int) -> int:
        """Which plural form `n` takes in this language."""
        return int(_plural_function(self.plural_expr)(abs(int(n))))

    def lookup(self, message: str, context: str | None = None) -> str | None:
        """The translation of `message`, or ``None`` when untranslated."""
        found = self.messages.get((context, message))
        if isinstance(found, tuple):
            found = found[0]
        return found or None

    def lookup_plural(self, singular: str, plural: str, n: int) -> str:
        """The form of `singular`/`plural` for `n`; English rules when untranslated."""
        found = self.messages.get((None, singular))
        if isinstance(found, tuple):
            index = self.plural_index(n)
            if index < len(found) and found[index]:
                return found[index]
        return singular if n == 1 else plural


@lru_cache(maxsize=64)
def _plural_function(expr: str) -> Any:
    return gettext.c2py(expr)


def locale_dirs() -> list[Path]:
    """The catalogue folders: those of ``GEO_STUNTING_LOCALE_PATH`` first, then the package's."""
    extra = [Path(p) for p in os.environ.get(ENV_LOCALE_PATH, "").split(os.pathsep) if p]
    return [*extra, LOCALE_DIR]


def _po_path(folder: Path, code: str) -> Path:
    return folder / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def available_languages() -> tuple[str, ...]:
    """English, then every language with a catalogue, by code.

    >>> available_languages()[:2]
    ('en', 'id')
    """
    found = {SOURCE_LANGUAGE}
    for folder in locale_dirs():
        if folder.is_dir():
            found |= {
                p.name
                for p in folder.iterdir()
                if _CODE.match(p.name) and _po_path(folder, p.name).is_file()
            }
    return (SOURCE_LANGUAGE, *sorted(found - {SOURCE_LANGUAGE}))


@lru_cache(maxsize=32)
def _read(path: Path, mtime_ns: int, code: str) -> Catalogue:
    del mtime_ns  # part of the cache key: an edited file is read again
    with path.open("rb") as handle:
        po = read_po(handle, locale=None, domain=DOMAIN)
    messages: dict[tuple[str | None, str], str | tuple[str, ...]] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        key_id = message.id[0] if isinstance(message.id, tuple | list) else message.id
        value = message.string
        messages[(message.context, str(key_id))] = (
            tuple(str(s) for s in value) if isinstance(value, tuple | list) else str(value)
        )
    plural_expr = "(n != 1)"
    header = po.mime_headers
    for name, value in header:
        if name.lower() == "plural-forms" and "plural=" in value:
            plural_expr = value.split("plural=", 1)[1].strip().rstrip(";")
    return Catalogue(code=code, path=path, messages=messages, plural_expr=plural_expr)


def catalogue(code: str) -> Catalogue:
    """The catalogue of language `code` (empty for English); the first folder holding it wins."""
    for folder in locale_dirs():
        path = _po_path(folder, code)
        if path.is_file():
            return _read(path, path.stat().st_mtime_ns, code)
    return Catalogue(code=code, path=None, messages={})


@lru_cache(maxsize=32)
def _locale(code: str) -> Locale:
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)


# --------------------------------------------------------------------------- the page's languages

_PAGE: ContextVar[tuple[str, ...] | None] = ContextVar("report_languages", default=None)


def page_languages() -> tuple[str, ...]:
    """The languages of the page being made (all available ones outside `languages`)."""
    return _PAGE.get() or available_languages()


@contextmanager
def languages(codes: Sequence[str]) -> Iterator[tuple[str, ...]]:
    """Make texts in these languages inside the ``with`` block."""
    token = _PAGE.set(tuple(codes))
    try:
        yield tuple(codes)
    finally:
        _PAGE.reset(token)


class Text:
    """One text in each language of the page, as escaped HTML per language.

    ``str(text)`` and ``text.__html__()`` give the spans (``<span
    class="en">…</span><span class="id">…</span>``) or, when every language
    reads the same, the text alone.
    """

    __slots__ = ("by_lang",)

    def __init__(self, by_lang: Mapping[str, Any]) -> None:
        self.by_lang: dict[str, Markup] = {k: escape(v) for k, v in by_lang.items()}

    @classmethod
    def same(cls, value: Any) -> Text:
        """The same (escaped) text in every language."""
        return cls(dict.fromkeys(page_languages(), escape(value)))

    def get(self, code: str) -> Markup:
        """The text in language `code` (English when the text lacks it)."""
        if code in self.by_lang:
            return self.by_lang[code]
        return self.by_lang.get(SOURCE_LANGUAGE, next(iter(self.by_lang.values()), Markup("")))

    def parts(self) -> list[tuple[str | None, Markup]]:
        """``[(None, text)]`` when all languages agree, else ``(code, text)`` per language."""
        values = list(self.by_lang.values())
        if not values:
            return [(None, Markup(""))]
        if all(v == values[0] for v in values):
            return [(None, values[0])]
        return list(self.by_lang.items())

    def __html__(self) -> Markup:
        parts = self.parts()
        if parts[0][0] is None:
            return parts[0][1]
        return Markup("").join(
            Markup('<span class="{}">{}</span>').format(code, text) for code, text in parts
        )

    def __str__(self) -> str:
        return str(self.__html__())

    def __add__(self, other: Any) -> Text:
        return Text({c: self.get(c) + _in(other, c) for c in self.by_lang})

    def __radd__(self, other: Any) -> Text:
        return Text({c: _in(other, c) + self.get(c) for c in self.by_lang})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and self.by_lang == other.by_lang

    def __hash__(self) -> int:
        return hash(tuple(self.by_lang.items()))

    def __repr__(self) -> str:
        return f"Text({self.by_lang!r})"


def _in(value: Any, code: str) -> Markup:
    """`value` in language `code`, escaped: a `Text` gives its own language."""
    if isinstance(value, Text):
        return value.get(code)
    return escape(value)


def _fill(template: str, code: str, values: Mapping[str, Any]) -> Markup:
    return escape(template).format(**{k: _in(v, code) for k, v in values.items()})


def _translated(code: str, message: str, context: str | None = None) -> str:
    if code == SOURCE_LANGUAGE:
        return message
    return catalogue(code).lookup(message, context) or message


def t(message: str, /, **values: Any) -> Text:
    """`message` in every language of the page, with ``{name}`` filled from `values`.

    A value that is a `Text` is put in each language in that language;
    anything else is escaped. The message itself is escaped too: a
    translation holds text, never markup.
    """
    return Text({c: _fill(_translated(c, message), c, values) for c in page_languages()})


def pt(context: str, message: str, /, **values: Any) -> Text:
    """`t` for a message with a context (the same English in two meanings)."""
    return Text({c: _fill(_translated(c, message, context), c, values) for c in page_languages()})


def tn(singular: str, plural: str, n: int, /, **values: Any) -> Text:
    """The form of a message for count `n` in each language; ``{n}`` is `n`, formatted."""
    out = {}
    for code in page_languages():
        template = (
            (singular if n == 1 else plural)
            if code == SOURCE_LANGUAGE
            else catalogue(code).lookup_plural(singular, plural, n)
        )
        out[code] = _fill(template, code, {"n": fmt(n), **values})
    return Text(out)


# --------------------------------------------------------------------------- numbers


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@lru_cache(maxsize=32)
def _symbols(code: str) -> tuple[str, str, str] | None:
    """The (group, decimal, minus) signs Babel writes in the locale when it groups by threes.

    ``None`` for a locale grouped otherwise (Indian-style), which Babel formats itself.
    """
    locale = _locale(code)
    if parse_pattern(locale.decimal_formats[None].pattern).grouping != (3, 3):
        return None
    sample = format_decimal(-1234.5, format="#,##0.0", locale=locale)
    found = re.fullmatch(r"(\D*)1(\D+)234(\D+)5", sample)
    return None if found is None else (found.group(2), found.group(3), found.group(1))


def _number(value: float, decimals: int, code: str) -> str:
    """`value` with `decimals` in the locale's signs (Babel's format_decimal, 10× faster)."""
    symbols = _symbols(code)
    if symbols is None:
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return format_decimal(value, format=pattern, locale=_locale(code))
    group, decimal, minus = symbols
    text = f"{value:,.{decimals}f}"  # rounded as Python rounds: as the CSV tables are
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group).replace("-", minus)


def fmt(value: Any, decimals: int = 2) -> Text:
    """A number with the locale's separators (integers as integers); ``–`` when missing.

    >>> with languages(["en", "id"]):
    ...     str(fmt(1234.5, 1))
    '<span class="en">1,234.5</span><span class="id">1.234,5</span>'
    """
    if not _finite(value):
        return Text.same("–")
    places = 0 if isinstance(value, int) else decimals
    return Text({c: _number(value, places, c) for c in page_languages()})


def percent(value: Any, decimals: int = 1) -> Text:
    """`value` (already in percent, 0–100) in the locale's percent style.

    >>> with languages(["en", "id"]):
    ...     str(percent(12.34))
    '<span class="en">12.3%</span><span class="id">12,3%</span>'
    """
    if not _finite(value):
        return Text.same("–")
    out = {}
    for code in page_languages():
        locale = _locale(code)
        pattern = locale.percent_formats[None].pattern
        if decimals > 0:
            pattern = re.sub(r"0(?=[^0#,.]*%)", "0." + "0" * decimals, pattern, count=1)
        out[code] = format_percent(value / 100, format=pattern, locale=locale)
    return Text(out)


def pct(part: Any, whole: Any) -> Text:
    """``part / whole`` as a percentage with one decimal; ``–`` when undefined."""
    if not (_finite(part) and _finite(whole)) or whole == 0:
        return Text.same("–")
    return percent(100 * part / whole, 1)


def fmt_p(p: Any, *, prefix: bool = True) -> Text:
    """``p < 0.001`` or ``p = 0.023`` in the locale's decimals; ``p –`` when missing.

    Without `prefix`, as journals print it in a table: ``< 0.001`` or ``0.023``.
    """
    if not _finite(p):
        return Text.same("p –" if prefix else "–")
    head = "p " if prefix else ""
    if p < 0.001:
        return Text({c: f"{head}< {_number(0.001, 3, c)}" for c in page_languages()})
    return Text({c: f"{head}{'= ' if prefix else ''}{_number(p, 3, c)}" for c in page_languages()})


def language_name(code: str) -> str:
    """The name of language `code` in that language, as its catalogue gives it."""
    name = (
        catalogue(code).lookup(LANGUAGE_NAME_MESSAGE, _LANGUAGE_NAME)
        if code != SOURCE_LANGUAGE
        else None
    )
    if name:
        return name
    locale = _locale(code)
    return str(locale.get_display_name(locale) or code) if code != SOURCE_LANGUAGE else "English"


# --------------------------------------------------------------------------- analysis sentences

_FIELDS = string.Formatter()


@lru_cache(maxsize=256)
def _pattern(message: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    regex, names = "", []
    for literal, field, _, _ in _FIELDS.parse(message):
        regex += re.escape(literal)
        if field is not None:
            regex += f"(?P<{field}>.+?)"
            names.append(field)
    return re.compile(f"^{regex}$", re.DOTALL), tuple(names)


def _captured(value: str, sentences: Sequence[str], depth: int) -> Text:
    """A value inside an analysis sentence: a number in the locale, a known phrase translated."""
    if re.fullmatch(r"-?\d+\.\d+", value):
        places = len(value.split(".")[1])
        return Text({c: _number(float(value), places, c) for c in page_languages()})
    if re.fullmatch(r"-?\d+(\.\d+)?e[-+]\d+", value):  # 1.58e-09: only the decimal mark changes
        return Text(
            {c: value.replace(".", get_decimal_symbol(_locale(c))) for c in page_languages()}
        )
    grouped = re.fullmatch(r"(-?\d{1,3}(?:,\d{3})+)((?: [^\s\d]+)?)", value)  # 5,527 m
    if grouped:
        whole = float(grouped.group(1).replace(",", ""))
        return Text({c: _number(whole, 0, c) + grouped.group(2) for c in page_languages()})
    if re.fullmatch(r"-?\d+", value) or depth > 2:
        return Text.same(value)
    return _analysis(value, sentences, depth + 1)


def _analysis(value: str, sentences: Sequence[str], depth: int) -> Text:
    for message in sentences:
        regex, _ = _pattern(message)
        found = regex.match(value)
        if found is None:
            continue
        filled = {k: _captured(v, sentences, depth) for k, v in found.groupdict().items()}
        return Text(
            {c: _fill(_translated(c, message, ANALYSIS), c, filled) for c in page_languages()}
        )
    return Text.same(value)


def translate_analysis(text: Any, sentences: Sequence[str]) -> Text:
    """An English sentence written by the analysis, in each language of the page.

    `sentences` are English message ids (context ``analysis``) with ``{name}``
    placeholders; the first one that matches the whole `text` gives the
    translation. The matched values are shown in the locale too: a decimal
    number with the locale's separator, a value that is itself a known
    sentence (``cases``) translated. A text that matches none is shown as it
    is, in every language.
    """
    return _analysis(str(text), sentences, 0)
