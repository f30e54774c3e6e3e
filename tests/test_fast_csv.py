"""The fast CSV reader gives exactly what the careful line-by-line reader gives, or steps aside."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from geo_stunting.study import _readers
from geo_stunting.study._fast_csv import read_csv_fast
from geo_stunting.study._readers import read_table

if TYPE_CHECKING:
    from pathlib import Path

# (name, bytes, whether the fast reader may read it; otherwise it must step aside)
CASES = [
    ("plain", b"id,lon,lat\n1,104.6,-3.2\n2,104.7,-3.3\n", True),
    ("crlf no final newline", b"id,lon,lat\r\n1,104.6,-3.2\r\n2,104.7,-3.3", True),
    ("cr only", b"id,lon,lat\r1,104.6,-3.2\r2,104.7,-3.3\r", True),
    ("utf-8 bom", "\ufeffid;désa\n1;Désa\n".encode(), True),
    ("semicolon decimal commas", b"id;lon;lat\n1;104,6;-3,2\n", True),
    ("tab", b"id\tlon\tlat\n1\t104.6\t-3.2\n", True),
    ("blank lines", b"\n\nid,lon,lat\n\n1,104.6,-3.2\n,,\n  ,\t, \n2,1,2\n\n", True),
    ("quoted delimiter", b'id,lon,lat\n1,"104,6","-3,2"\n2," x ",y\n', True),
    ("doubled quotes", b'id,name\n1,"a ""b"" c"\n2,a"b\n', True),
    ("spaces kept", b"id,name\n 1 , x \n", True),
    ("dms", "id,lon,lat\n1,104°39'7.2\" E,3°12'55\" S\n".encode(), True),
    ("utf-16", "id,désa\n1,Désa\n".encode("utf-16"), True),
    ("utf-32", "id,désa\n1,Désa\n".encode("utf-32"), True),
    ("cp1252", "id,désa\n1,Désa\n".encode("cp1252"), True),
    ("mixed encodings", "id,désa\n1,Désa\n".encode() + "2,Désa\n".encode("cp1252"), False),
    ("ragged long", b"id,lon,lat\n1,2,3,4\n", False),
    ("ragged blank extra", b"id,lon,lat\n1,2,3,\n", False),
    ("ragged short", b"id,lon,lat\n1,2\n", False),
    ("quoted newline", b'id,name\n1,"a\nb"\n2,c\n', False),
    ("quoted header newline", b'"i\nd",name\n1,c\n', False),
    ("nul bytes", b"id,x\n1,\x002\n", False),
    ("header only", b"id,lon,lat\n", True),
]


@pytest.mark.parametrize(("name", "data", "fast"), CASES, ids=[c[0] for c in CASES])
def test_fast_reader_equals_careful_reader(
    tmp_path: Path, name: str, data: bytes, fast: bool
) -> None:
    path = tmp_path / "subjects.csv"
    path.write_bytes(data)
    found = read_csv_fast(path)
    assert (found is not None) == fast, name
    careful = _readers._read_csv_careful(path)
    table = _readers._read_csv(path)
    pd.testing.assert_frame_equal(table.frame, careful.frame)
    assert tuple(table.rows) == tuple(careful.rows)
    assert table.notes == careful.notes


def test_unclosed_quote_gets_the_careful_message(tmp_path: Path) -> None:
    path = tmp_path / "subjects.csv"
    path.write_bytes(b'id,lon,lat\n1,104.6,-3.2\n2,"104.7,-3.3\n')
    assert read_csv_fast(path) is None
    table = read_table(path)  # the csv module reads to the end of the file
    assert len(table) == 2


def test_large_file_is_read_by_the_fast_reader(tmp_path: Path) -> None:
    path = tmp_path / "subjects.csv"
    lines = [
        f"S{k},{104 + k / 1e6:.6f},-3.2,{'case' if k % 3 else 'control'}" for k in range(50_000)
    ]
    path.write_text("id,lon,lat,status\n" + "\n".join(lines) + "\n", encoding="utf-8")
    found = read_csv_fast(path)
    assert found is not None
    assert found.rows[0] == 2
    assert found.rows[-1] == 50_001
    assert found.frame["lon"].iloc[-1] == f"{104 + 49_999 / 1e6:.6f}"
