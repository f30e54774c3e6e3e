"""The dask engine decodes CSV parts by the study readers' one encoding rule (issue 12, item 8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pyproj import CRS

pytest.importorskip("dask_geopandas")

from geo_stunting.scale._io import read_subjects
from geo_stunting.study._readers import read_table

if TYPE_CHECKING:
    from pathlib import Path

HEADER = "id;status;lat;lon;desa"


def _text(prefix: str) -> str:
    rows = [
        f"{prefix}1;case;-3,2154;104,6311;Désa Satu",
        f"{prefix}2;control;-3.22;104.64;Tanjung Séng",
    ]
    return "\n".join([HEADER, *rows]) + "\n"


def _parts(folder: Path) -> None:
    folder.mkdir()
    (folder / "a_utf16.csv").write_bytes(_text("S").encode("utf-16"))  # Excel's "Unicode Text"
    (folder / "b_utf32.csv").write_bytes(_text("T").encode("utf-32"))
    head, first, second = _text("U").splitlines(keepends=True)
    (folder / "c_mixed.csv").write_bytes((head + first).encode() + second.encode("cp1252"))
    (folder / "d_bom.csv").write_bytes(("\ufeff" + _text("V")).encode())


def test_dask_csv_parts_read_every_encoding_as_the_local_reader(tmp_path: Path) -> None:
    _parts(tmp_path / "parts")
    frame, names = read_subjects(tmp_path / "parts", crs=CRS.from_epsg(32748))
    got = frame.compute(scheduler="sync").sort_values("subject_id")
    assert names == ("a_utf16.csv", "b_utf32.csv", "c_mixed.csv", "d_bom.csv")
    assert got["__reason__"].isna().all()  # every row read, coordinates and status understood
    villages = dict(zip(got["subject_id"], got["desa"], strict=True))
    # before: the UTF-16 part failed ("no id column") and the mixed part read "DÃ©sa Satu"
    assert villages["S1"] == villages["U1"] == villages["V1"] == "Désa Satu"
    assert villages["S2"] == villages["U2"] == villages["T2"] == "Tanjung Séng"
    for name in names:  # and the same cells as the local engine's reader
        local = read_table(tmp_path / "parts" / name)
        assert list(local.frame["desa"]) == ["Désa Satu", "Tanjung Séng"]
