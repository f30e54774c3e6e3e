"""Property-based tests: malformed rows and files never escape as unhandled exceptions.

Whatever the file holds, loading either gives a study in which every row read
is loaded or rejected, or stops with a `GeoStuntingError` (exit code 2).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geo_stunting as gs
from tests.conftest import FACILITIES_CSV, VILLAGES

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

coordinate_like = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-3.25, max_value=-3.2).map(lambda v: f"{v:.5f}"),
    st.floats(min_value=104.6, max_value=104.7).map(lambda v: f"{v:.5f}".replace(".", ",")),
    st.sampled_from(["", "NA", "-", "3°12'55\" S", "104° 39' 7.2\" E", "0", "1e400", "-3,2,1"]),
    st.text(max_size=12),
)
status_like = st.sampled_from(
    ["case", "control", "CASE", " control ", "1", "0", "", "x", "stunting"]
)
id_like = st.one_of(st.sampled_from(["A", "B", "", "A "]), st.text(max_size=6))


@st.composite
def subject_rows(draw) -> str:
    rows = draw(
        st.lists(
            st.tuples(id_like, status_like, st.text(max_size=5), coordinate_like, coordinate_like),
            min_size=0,
            max_size=12,
        )
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "status", "village", "lat", "lon"])
    writer.writerows(rows)
    if draw(st.booleans()):
        buffer.write(draw(st.text(max_size=30)))  # a trailing fragment of anything
    return buffer.getvalue()


def _study_dir(tmp_path: Path, subjects: str | bytes, *, area: bool) -> Path:
    if isinstance(subjects, bytes):
        (tmp_path / "subjects.csv").write_bytes(subjects)
    else:
        (tmp_path / "subjects.csv").write_text(subjects, encoding="utf-8", errors="surrogatepass")
    (tmp_path / "facilities.csv").write_text(FACILITIES_CSV, encoding="utf-8")
    (tmp_path / "villages.geojson").write_text(json.dumps(VILLAGES), encoding="utf-8")
    text = (
        '[subjects]\npath = "subjects.csv"\n[facilities]\npath = "facilities.csv"\nkind = "type"\n'
    )
    if area:
        text += '[area]\npath = "villages.geojson"\nname = "nama"\n'
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    return tmp_path / "study.toml"


def _load_or_clear_error(path: Path) -> None:
    try:
        study = gs.load_study(path)
    except gs.GeoStuntingError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert all(line.strip() for line in message.splitlines())
        return
    for layer, read in study.rows_read.items():
        loaded = {"subjects": len(study.subjects), "facilities": len(study.facilities)}
        loaded["area"] = 0 if study.area is None else len(study.area)
        assert loaded[layer] + int((study.rejects["layer"] == layer).sum()) == read


@SETTINGS
@given(text=subject_rows(), area=st.booleans())
def test_malformed_rows_never_escape(tmp_path_factory, text, area):
    _load_or_clear_error(_study_dir(tmp_path_factory.mktemp("rows"), text, area=area))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_as_csv_never_escape(tmp_path_factory, data):
    _load_or_clear_error(_study_dir(tmp_path_factory.mktemp("bytes"), data, area=True))


@SETTINGS
@given(data=st.binary(max_size=200), suffix=st.sampled_from([".xlsx", ".geojson", ".gpkg", ".shp"]))
def test_arbitrary_bytes_as_other_formats_never_escape(tmp_path_factory, data, suffix):
    folder = tmp_path_factory.mktemp("fmt")
    path = _study_dir(folder, "", area=False)
    (folder / f"subjects{suffix}").write_bytes(data)
    path.write_text(path.read_text().replace("subjects.csv", f"subjects{suffix}"))
    _load_or_clear_error(path)


@SETTINGS
@given(
    toml=st.text(max_size=200).filter(lambda t: "\x00" not in t),
)
def test_arbitrary_study_files_never_escape(tmp_path_factory, toml):
    folder = tmp_path_factory.mktemp("toml")
    path = folder / "study.toml"
    path.write_text(toml, encoding="utf-8", errors="surrogatepass")
    _load_or_clear_error(path)
