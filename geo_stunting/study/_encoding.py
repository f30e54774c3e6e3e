"""How a text file is written: its encoding and its delimiter, one rule for every CSV reader.

A byte-order mark decides (UTF-8, UTF-16 and UTF-32, as Excel's "Unicode
Text" writes); otherwise UTF-8 when the whole file is, Windows-1252 when no
line with non-ASCII bytes is UTF-8, and line by line when both occur (a
UTF-8 file with a line pasted from a Windows program), naming the lines read
as Windows-1252. The study readers (`geo_stunting.study._readers`) and the
dask engine's CSV parts (`geo_stunting.scale._io`) both call
`detect_encoding` / `decode_text`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from geo_stunting.errors import InputError, Problem

__all__ = [
    "TextEncoding",
    "decode_file",
    "decode_text",
    "detect_encoding",
    "detect_file_encoding",
    "sniff_delimiter",
]

_BOMS = (  # UTF-32 first: its little-endian BOM begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 LE"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with BOM"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
)
_BLOCK = 1 << 22  # bytes read at a time when checking a whole file
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class TextEncoding:
    """How to decode a file.

    Attributes
    ----------
    codec
        A Python codec for the whole file after its byte-order mark, or ``None``
        when its lines differ (UTF-8 with some Windows-1252 lines: `decode_text`
        decodes those line by line).
    name
        How the file was read, for the notes ("UTF-8", "UTF-16 LE", ...).
    bom
        Length of the byte-order mark in bytes (0 without one).
    """

    codec: str | None
    name: str
    bom: int = 0


def detect_encoding(raw: bytes, *, final: bool = True) -> TextEncoding:
    r"""The encoding of a file whose bytes (or first bytes, ``final=False``) are `raw`.

    Without a byte-order mark, a prefix that is UTF-8 so far says UTF-8 (a
    character cut at the end of the prefix is allowed).

    >>> detect_encoding("id\n".encode("utf-16"))
    TextEncoding(codec='utf-16-le', name='UTF-16 LE', bom=2)
    >>> detect_encoding("Désa\n".encode("cp1252")).name
    'Windows-1252'
    >>> detect_encoding("Désa\n".encode() + "Désa\n".encode("cp1252")).codec is None
    True
    """
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            return TextEncoding(codec, name, len(bom))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=final)
    except UnicodeDecodeError:
        pass
    else:
        return TextEncoding("utf-8", "UTF-8")
    lines = raw.splitlines()
    if not final and lines:
        lines = lines[:-1]  # the last line of a prefix may be cut in a character
    for line in lines:
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            return TextEncoding(None, "UTF-8 with some Windows-1252 lines")
    return TextEncoding("cp1252", "Windows-1252")


def detect_file_encoding(path: str | Path) -> TextEncoding:
    """`detect_encoding` of a whole file, read a few MiB at a time (never all at once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with Path(path).open("rb") as handle:
        head = handle.read(_BLOCK)
        found = detect_encoding(head, final=len(head) < _BLOCK)
        if found.codec != "utf-8" or len(head) < _BLOCK:
            return found
        try:
            decoder.decode(head[found.bom :])
            while block := handle.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            pass
        else:
            return found
    return detect_encoding(Path(path).read_bytes())


def decode_text(raw: bytes) -> tuple[str, str]:
    r"""Decode a text file's bytes; return the text and how it was read.

    >>> decode_text("id;Désa\n".encode("utf-16"))
    ('id;Désa\n', 'UTF-16 LE')
    >>> decode_text("Désa\n".encode() + "Désa\n".encode("cp1252"))
    ('Désa\nDésa\n', 'UTF-8, with line 2 in Windows-1252')

    Raises
    ------
    UnicodeDecodeError
        When a file that starts with a byte-order mark is not that encoding
        throughout; the reason names the line.
    """
    found = detect_encoding(raw)
    if found.codec is not None:
        try:
            return raw[found.bom :].decode(found.codec, errors="strict"), found.name
        except UnicodeDecodeError as exc:
            if not found.bom:  # Windows-1252 leaves five bytes undefined
                return raw.decode(found.codec, errors="replace"), found.name
            at = raw[: found.bom + exc.start].decode(found.codec, "replace").count("\n") + 1
            msg = f"the file starts as {found.name} but line {at} is not"
            raise UnicodeDecodeError(found.codec, raw, exc.start, exc.end, msg) from None
    texts: list[str] = []
    legacy: list[int] = []
    for number, line in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            texts.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(line.decode("cp1252", errors="replace"))
            legacy.append(number)
    shown = ", ".join(map(str, legacy[:10])) + (" …" if len(legacy) > 10 else "")
    plural = "s" if len(legacy) > 1 else ""
    return "".join(texts), f"UTF-8, with line{plural} {shown} in Windows-1252"


def decode_file(path: Path) -> tuple[str, str]:
    """`decode_text` of a file; an undecodable one is an `InputError` naming it and the fix."""
    try:
        return decode_text(path.read_bytes())
    except UnicodeDecodeError as exc:
        raise InputError(
            Problem(
                f"cannot read the text ({exc.reason})",
                file=path.name,
                fix="save it again as UTF-8 (in Excel: CSV UTF-8)",
            )
        ) from None


def sniff_delimiter(header: str) -> str:
    """The delimiter of a header line: the most frequent of , ; tab | outside quotes (else ,)."""
    counts = {d: _count_outside_quotes(header, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count
