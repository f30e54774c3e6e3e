"""The fast way through a well-formed CSV file: pyarrow's parser, block by block.

`read_csv_fast` reads a CSV file with `pyarrow.csv` (compiled, one 4 MiB block at a
time) into text columns held by Arrow (a few bytes per
cell instead of a Python string each), and gives exactly what the careful
line-by-line reader of `geo_stunting.study._readers` gives: the header from
the first non-blank line, blank lines skipped and counted, cells as written
(text, never converted), and each record's line number. It gives up
(returns ``None``) whenever that could differ — a record spread over several
lines, a row with more or fewer fields than the header, NUL bytes, a file
with lines in two encodings, or any parser error — and the careful reader,
whose messages name the line and the fix, reads the file instead.
"""

from __future__ import annotations

import csv
import importlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo_stunting.study._encoding import (
    TextEncoding,
    decode_text,
    detect_file_encoding,
    sniff_delimiter,
)

__all__ = ["FastCsv", "read_csv_fast", "text_columns"]

log = logging.getLogger(__name__)

#: Bytes parsed at a time: the text of 4 MiB of file is the most held besides the columns.
_BLOCK = 1 << 22


@dataclass(frozen=True)
class FastCsv:
    """What `read_csv_fast` read."""

    frame: pd.DataFrame
    rows: Sequence[int]
    encoding: str
    delimiter: str
    blank: int


def text_columns(columns: dict[Any, Any]) -> pd.DataFrame:
    """A frame of text columns held by Arrow (`pandas.StringDtype("pyarrow")`)."""
    dtype = pd.StringDtype("pyarrow")
    out = {}
    for key, values in columns.items():
        if hasattr(values, "type"):  # an Arrow array: wrapped, not copied
            out[key] = pd.Series(pd.arrays.ArrowStringArray(values), copy=False)
        else:
            out[key] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(out, copy=False)


def _count_lines(source: Any) -> tuple[int, bool]:
    """Lines as the careful reader counts them (LF, CRLF or CR ends one); NUL bytes seen."""
    lf = cr = crlf = 0
    nul = False
    last = b""
    while block := source.read(_BLOCK):
        lf += block.count(b"\n")
        cr += block.count(b"\r")
        crlf += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
        nul = nul or b"\x00" in block
        last = block[-1:]
    lines = lf + cr - crlf + (last not in (b"", b"\n", b"\r"))
    return lines, nul


def _header(source: Any, delimiter: str | None) -> tuple[list[str], int, str] | None:
    """The header cells, the lines up to and including it, and the delimiter."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    chosen = delimiter
    try:
        for number, line in enumerate(text, start=1):
            if line.count('"') % 2:
                return None  # a quoted header cell spread over lines: the careful reader
            if chosen is None and line.strip():  # as the careful reader: the first line with text
                chosen = sniff_delimiter(line.rstrip("\r\n"))
            cells = next(csv.reader([line], delimiter=chosen or ","), [])
            if any(cell.strip() for cell in cells):
                return [cell.strip() for cell in cells], number, chosen or ","
    finally:
        text.detach()
    return None


def read_csv_fast(path: Path, *, delimiter: str | None = None) -> FastCsv | None:
    """Read a well-formed CSV file at compiled speed, or ``None`` to leave it to the careful reader.

    Parameters
    ----------
    path
        The file.
    delimiter
        The delimiter, or ``None`` to detect it from the header line.
    """
    try:  # typed Any: pyarrow ships no complete stubs
        pa: Any = importlib.import_module("pyarrow")
        pc: Any = importlib.import_module("pyarrow.compute")
        pacsv: Any = importlib.import_module("pyarrow.csv")
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    found: TextEncoding = detect_file_encoding(path)
    if found.codec is None:
        return None  # two encodings: the careful reader decodes line by line, naming them
    if found.codec == "utf-8":
        opener: Any = lambda: path.open("rb")  # noqa: E731
    else:  # UTF-16/32 or Windows-1252: decoded once, handed on as UTF-8
        try:
            data = decode_text(path.read_bytes())[0].encode("utf-8")
        except UnicodeDecodeError:
            return None
        opener = lambda: io.BytesIO(data)  # noqa: E731
    with opener() as source:
        lines, nul = _count_lines(source)
    if nul:
        return None
    with opener() as source:
        head = _header(source, delimiter)
    if head is None:
        return None
    header, before, chosen = head
    names = [f"f{i}" for i in range(len(header))]
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    try:
        with opener() as source:
            table = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(
                    skip_rows=before, column_names=names, block_size=_BLOCK
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=chosen,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                ),
            ).read_all()
    except (pa.ArrowException, ValueError, OSError) as exc:
        log.debug("%s: the fast CSV reader gave up (%s)", path.name, exc)
        return None
    if invalid or before + table.num_rows != lines:
        return None  # ragged rows, or records over several lines: the careful reader
    blank = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        trimmed = pc.utf8_trim_whitespace(column)
        blank &= pc.equal(trimmed, "").to_numpy(zero_copy_only=False)
    if blank.any():
        table = table.filter(pa.array(~blank))
    rows: Sequence[int] = range(before + 1, before + 1 + len(blank))
    if blank.any():
        rows = tuple(np.asarray(rows)[~blank].tolist())
    frame = text_columns({pos: table.column(pos) for pos in range(table.num_columns)})
    frame.columns = pd.Index(header, dtype=object)
    return FastCsv(frame, rows, found.name, chosen, int(blank.sum()))
