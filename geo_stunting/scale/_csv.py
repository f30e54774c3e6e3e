"""CSV parts of the dask engine, decoded by the one encoding rule of the study readers.

`csv_header_line` and `read_csv_part` use `geo_stunting.study._encoding`
(BOM first, then UTF-8, Windows-1252, or both line by line), so a part saved
as Excel's "Unicode Text" or with one Windows-1252 line reads as it does with
the local engine.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo_stunting.study._encoding import decode_file, detect_encoding, detect_file_encoding

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["csv_header_line", "read_csv_part"]

log = logging.getLogger(__name__)


def csv_header_line(path: Path) -> str:
    """The first line of a CSV part, decoded by the encoding rule of the study readers."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    found = detect_encoding(head, final=len(head) < 1 << 16)
    text = head[found.bom :].decode(found.codec or "utf-8", errors="replace")
    return text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""


def read_csv_part(
    path: Path, *, sep: str, nrows: int | None = None, **options: Any
) -> pd.DataFrame:
    """Read a CSV part as text columns, decoded as the study readers decode (`study._encoding`).

    UTF-8 (with or without BOM) is read straight from the file; UTF-16/32 with a BOM and
    Windows-1252 are decoded first, and a UTF-8 file with some Windows-1252 lines is
    decoded line by line, those lines named in the log.

    Raises
    ------
    InputError
        If a file that starts with a byte-order mark is not that encoding throughout.
    """
    found = detect_file_encoding(path)
    source: Any = path
    encoding: str | None = "utf-8-sig"
    if found.codec != "utf-8":
        text, name = decode_file(path)
        if found.codec is None:
            log.warning("%s: read as %s", path.name, name)
        source, encoding = io.StringIO(text), None
    frame: pd.DataFrame = pd.read_csv(
        source,
        sep=sep,
        dtype=str,
        keep_default_na=False,
        nrows=nrows,
        encoding=encoding,
        **options,
    )
    return frame
