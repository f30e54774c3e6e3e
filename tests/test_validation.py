"""Every bad input gets a clear reason; every row is either loaded or rejected."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import shapely

from geo_stunting import InputError, ProjectionError, load_study, study_from_frames
from tests.conftest import FACILITIES_CSV, SUBJECT_HEADER, VILLAGES, good_rows


def csv_text(*extra: str, header: str = SUBJECT_HEADER) -> str:
    return "\n".join([header, *good_rows(), *extra]) + "\n"


def rejected(study, row: int) -> dict:
    found = study.rejects[study.rejects["row"] == row]
    assert len(found) == 1, f"row {row} not rejected: {study.rejects}"
    return found.iloc[0].to_dict()


def assert_accounted(study) -> None:
    loaded = {"subjects": len(study.subjects)}
    if study.facilities is not None:
        loaded["facilities"] = len(study.facilities)
    if study.area is not None:
        loaded["area"] = len(study.area)
    for layer, read in study.rows_read.items():
        assert loaded[layer] + int((study.rejects["layer"] == layer).sum()) == read


def test_clean_study_loads_everything(write_study):
    study = load_study(write_study())
    assert (study.n_cases, study.n_controls) == (4, 6)
    assert len(study.rejects) == 0
    assert study.crs_code == "EPSG:32748"
    assert list(study.subjects.columns[:4]) == ["subject_id", "status", "stratum", "source_row"]
    assert study.subjects["income"].dtype.kind in "if"  # numbers stay numbers
    assert set(study.facilities["kind"]) == {"puskesmas", "posyandu"}
    assert_accounted(study)


@pytest.mark.parametrize(
    ("row", "column", "match"),
    [
        ("S100,case,Desa A,,104.62,1", "lat", r"missing value"),
        ("S100,case,Desa A,-3.22,abc,1", "lon", r"'abc' is not a number"),
        ("S100,case,Desa A,-3.22,104.658.1,1", "lon", r"more than one decimal point"),
        ("S100,stunted,Desa A,-3.22,104.62,1", "status", r"status 'stunted' is neither a case"),
        ("S100,,Desa A,-3.22,104.62,1", "status", r"^missing status; enter a case value"),
        (
            "S100,case,Desa A,,,1",
            "lon/lat",
            r"^no coordinates \(both cells empty\); enter where the home is, or remove the row$",
        ),
        (",case,Desa A,-3.22,104.62,1", "id", r"missing id"),
        ("S001,case,Desa A,-3.22,104.62,1", "id", r"duplicate id 'S001' \(first on row 2\)"),
        ("S100,case,Desa A,0,0,1", "lon/lat", r"0, 0 are what a GPS app writes"),
        ("S100,case,Desa A,-93.5,104.62,1", "lon/lat", r"outside -180..180 / -90..90"),
    ],
)
def test_bad_row_is_rejected_with_its_reason(write_study, row, column, match):
    study = load_study(write_study(subjects=csv_text(row)))
    reject = rejected(study, 12)
    assert reject["file"] == "subjects.csv"
    assert reject["layer"] == "subjects"
    assert reject["column"] == column
    assert re.search(match, reject["reason"]), reject["reason"]
    assert len(study.subjects) == 10
    assert_accounted(study)


def test_several_problems_in_one_row_are_all_listed(write_study):
    study = load_study(write_study(subjects=csv_text("S001,sick,Desa A,,104.62,1")))
    reject = rejected(study, 12)
    assert reject["column"] == "id;lat;status"
    assert "duplicate id" in reject["reason"]
    assert "neither a case" in reject["reason"]
    assert "missing value" in reject["reason"]


def test_swapped_latitude_longitude_is_detected_and_fixed(write_study):
    study = load_study(write_study(subjects=csv_text("S100,case,Desa A,104.62,-3.22,1")))
    assert len(study.rejects) == 0
    fixed = study.subjects.set_index("subject_id").loc["S100"]
    expected = study.subjects.set_index("subject_id").geometry  # same place as given unswapped
    ref = gpd.GeoSeries([shapely.Point(104.62, -3.22)], crs=4326).to_crs(study.crs).iloc[0]
    assert fixed.geometry.distance(ref) < 1e-6
    assert any("row 12: x and y were swapped" in n for n in study.notes)
    assert len(expected) == 11


def test_swap_detected_inside_valid_range_when_area_says_so(write_study):
    # Both orders are valid degrees; only the area tells that they are swapped.
    area = {"type": "FeatureCollection", "features": [_square(10.0, 20.0, 0.2)]}
    rows = ["P1,case,A,20.05,10.05,1", "P2,control,A,10.1,20.1,1", "P3,control,A,20.1,10.1,1"]
    path = write_study(subjects="\n".join([SUBJECT_HEADER, *rows]), villages=area, facilities=None)
    study = load_study(path)
    assert len(study.subjects) == 3
    assert [n for n in study.notes if "swapped" in n] == [
        (
            "subjects.csv: row 3: x and y were swapped; swapping them puts the point where the "
            "rest of the study is, so they were swapped back"
        )
    ]


def test_whole_file_with_swapped_columns_is_fixed(write_study):
    path = write_study(subjects_section='x = "lat"\ny = "lon"')
    study = load_study(path)
    assert len(study.subjects) == 10
    assert sum("x and y were swapped" in n for n in study.notes) == 10


def test_point_outside_area_rejected_with_distance(write_study):
    study = load_study(write_study(subjects=csv_text("S100,case,Desa A,-3.30,104.62,1")))
    reason = rejected(study, 12)["reason"]
    assert "outside the study area: 5,527 m from the nearest area (Desa A)" in reason
    assert 'outside = "keep"' in reason


def test_outside_points_can_be_kept(write_study):
    path = write_study(
        subjects=csv_text("S100,case,Desa A,-3.30,104.62,1"), area_section='outside = "keep"'
    )
    study = load_study(path)
    assert len(study.rejects) == 0
    assert len(study.subjects) == 11


def test_missing_minus_sign_is_hinted(write_study):
    study = load_study(write_study(subjects=csv_text("S100,case,Desa A,3.22,104.62,1")))
    assert (
        "flipping the sign of the latitude puts it inside the study area"
        in (rejected(study, 12)["reason"])
    )


def test_far_outlier_without_area_is_rejected(write_study):
    path = write_study(subjects=csv_text("S100,case,X,-6.2,106.8,1"), villages=None)
    study = load_study(path)
    assert "km from the centre of the other subjects" in rejected(study, 12)["reason"]
    assert_accounted(study)


def test_degree_forms_from_field_spreadsheets(write_study):
    text = "\n".join(
        [
            "id;status;village;lat;lon;income",
            "A1;case;Desa A;-3,2154;104,6120;1",
            "A2;control;Desa A;3°13'12\" S;104° 37' 12\" E;2",
            "A3;control;Desa B;3°13'12\" LS;104°40'12\" BT;3",
            "A4;case;Desa B;104°40'12\" BT;3°13'12\" LS;4",
        ]
    )
    study = load_study(write_study(subjects=text))
    assert len(study.rejects) == 0, study.rejects
    lonlat = study.subjects.to_crs(4326).geometry
    assert lonlat.iloc[1].y == pytest.approx(-3.22, abs=1e-9)
    assert lonlat.iloc[1].x == pytest.approx(104.62, abs=1e-9)
    assert lonlat.iloc[3].x == pytest.approx(104.67, abs=1e-9)  # hemisphere letters win
    assert study.subjects["income"].tolist() == [1, 2, 3, 4]


def test_ragged_row_names_the_delimiter_fix(write_study):
    study = load_study(write_study(subjects=csv_text("S100,case,Desa A,-3,22,104,62,1")))
    reason = rejected(study, 12)["reason"]
    assert "row has 8 fields but the header has 6" in reason
    assert "use ';' as the delimiter" in reason


def test_missing_column_names_key_and_closest(write_study):
    text = csv_text().replace("lat,lon", "Latitude,lon")
    with pytest.raises(
        InputError,
        match=r"column 'lat' not found \(\[subjects\] y = 'lat'\).*"
        r"set \[subjects\] y = \"Latitude\"",
    ):
        load_study(write_study(subjects=text))


def test_column_names_match_ignoring_case(write_study):
    study = load_study(write_study(subjects=csv_text().replace("lat,lon", "LAT,Lon")))
    assert len(study.subjects) == 10
    assert any("column 'LAT' used for [subjects] y" in n for n in study.notes)


def test_empty_and_header_only_files(write_study):
    with pytest.raises(InputError, match=r"subjects.csv: the file is empty"):
        load_study(write_study(subjects=""))
    with pytest.raises(InputError, match=r"subjects.csv: the file has no data rows"):
        load_study(write_study(subjects=SUBJECT_HEADER + "\n"))


def test_every_problem_of_every_file_is_reported_together(write_study, tmp_path):
    path = write_study(subjects=csv_text().replace("status", "state"))
    (tmp_path / "facilities.csv").unlink()
    with pytest.raises(InputError) as info:
        load_study(path)
    assert len(info.value.problems) == 1  # facilities missing stops reading first
    assert "facilities.csv: file not found" in str(info.value)


def test_no_usable_rows_stops_with_a_summary(write_study):
    text = "\n".join([SUBJECT_HEADER, "A,case,X,,,1", "B,case,X,,,1"])
    with pytest.raises(
        InputError, match=r"no usable subjects rows: all 2 were rejected \(2 × no coordinates"
    ):
        load_study(write_study(subjects=text))


def test_metres_given_as_degrees(write_study):
    text = "\n".join([SUBJECT_HEADER, "A,case,X,9645870,452130,1", "B,control,X,9645900,452160,1"])
    with pytest.raises(InputError, match=r"look like metres.*set crs = \"EPSG:32748\""):
        load_study(write_study(subjects=text, villages=None))


def test_degrees_given_with_projected_crs(write_study):
    path = write_study(subjects_section='crs = "EPSG:32748"', villages=None)
    with pytest.raises(InputError, match=r"look like degrees.*set crs = \"EPSG:4326\""):
        load_study(path)


def test_projected_input_is_reprojected_and_logged(write_study, tmp_path):
    study = load_study(write_study())
    utm = study.subjects.to_crs(32748)
    rows = [
        f"{r.subject_id},{r.status},{r.stratum},{r.geometry.y:.3f},{r.geometry.x:.3f},1"
        for r in utm.itertuples()
    ]
    path = write_study(
        subjects="\n".join([SUBJECT_HEADER, *rows]),
        subjects_section='crs = "EPSG:32748"',
        analysis='crs = "EPSG:23833"',  # DGN95 / Indonesia TM-3 zone 48.1: another metric CRS
    )
    again = load_study(path)
    assert again.crs_code == "EPSG:23833"
    assert any("reprojected from EPSG:32748 to EPSG:23833" in n for n in again.notes)
    back = again.subjects.to_crs(32748)
    assert back.geometry.distance(utm.geometry).max() < 0.01


def test_area_without_crs_is_an_error(write_study, tmp_path):
    path = write_study()
    villages = gpd.read_file(tmp_path / "villages.geojson")
    villages.to_file(tmp_path / "villages.shp")
    (tmp_path / "villages.prj").unlink()
    text = path.read_text().replace("villages.geojson", "villages.shp")
    path.write_text(text)
    with pytest.raises(InputError, match=r"villages.shp: the file has no CRS.*crs = \"EPSG:4326\""):
        load_study(path)
    path.write_text(text.replace('name = "nama"', 'name = "nama"\ncrs = "EPSG:4326"'))
    assert len(load_study(path).area) == 2


def test_area_names_are_found_without_name_in_the_study_file(write_study, tmp_path):
    path = write_study()
    path.write_text(path.read_text().replace('name = "nama"\n', ""))
    study = load_study(path)
    assert sorted(study.area["name"]) == ["Desa A", "Desa B"]  # not "area 2", "area 3"
    assert any("area names from column 'nama'" in n for n in study.notes)
    # a file with another naming: the only text column with a value per polygon
    villages = json.loads((tmp_path / "villages.geojson").read_text())
    for feature in villages["features"]:
        feature["properties"] = {"WADMKC_X": feature["properties"]["nama"], "luas": 1.5}
    (tmp_path / "villages.geojson").write_text(json.dumps(villages))
    assert sorted(load_study(path).area["name"]) == ["Desa A", "Desa B"]


def test_area_in_other_crs_is_reprojected(write_study, tmp_path):
    path = write_study()
    villages = gpd.read_file(tmp_path / "villages.geojson").to_crs(23890)
    villages.to_file(tmp_path / "villages.gpkg", layer="desa")
    path.write_text(path.read_text().replace("villages.geojson", "villages.gpkg"))
    study = load_study(path)
    assert study.area.crs == study.crs
    assert study.area.geometry.area.sum() == pytest.approx(2 * 5560**2 * 0.995, rel=0.01)


def test_multi_layer_geopackage_needs_a_layer(write_study, tmp_path):
    path = write_study()
    villages = gpd.read_file(tmp_path / "villages.geojson")
    villages.to_file(tmp_path / "v.gpkg", layer="desa")
    villages.to_file(tmp_path / "v.gpkg", layer="kecamatan")
    path.write_text(path.read_text().replace("villages.geojson", "v.gpkg"))
    with pytest.raises(InputError, match=r"v.gpkg: the file has 2 layers.*layer = "):
        load_study(path)


def test_invalid_polygon_is_repaired_and_lines_rejected(write_study):
    bowtie = {
        "type": "Feature",
        "properties": {"nama": "Bowtie"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[104.6, -3.3], [104.7, -3.2], [104.7, -3.3], [104.6, -3.2], [104.6, -3.3]]
            ],
        },
    }
    line = {
        "type": "Feature",
        "properties": {"nama": "Road"},
        "geometry": {"type": "LineString", "coordinates": [[104.6, -3.3], [104.7, -3.2]]},
    }
    villages = {"type": "FeatureCollection", "features": [*VILLAGES["features"], bowtie, line]}
    study = load_study(write_study(villages=villages))
    assert len(study.area) == 3
    assert any("Bowtie" in n and "repaired" in n for n in study.notes)
    assert rejected(study, 4)["reason"] == "geometry is a LineString, not a polygon"
    assert_accounted(study)


def test_geographic_analysis_crs_is_refused(write_study):
    with pytest.raises(ProjectionError, match=r"is geographic \(degrees\).*crs = \"auto\""):
        load_study(write_study(analysis='crs = "EPSG:4326"'))


def test_analysis_crs_in_feet_is_refused(write_study):
    with pytest.raises(ProjectionError, match=r"not metres"):
        load_study(write_study(analysis='crs = "EPSG:2263"'))


def test_unknown_crs_is_refused(write_study):
    with pytest.raises(ProjectionError, match=r"CRS 'EPSG:999999' is not known"):
        load_study(write_study(analysis='crs = "EPSG:999999"'))


def test_only_cases_is_loaded_with_a_note(write_study):
    text = "\n".join([SUBJECT_HEADER, *good_rows(n_cases=5, n_controls=0)])
    study = load_study(write_study(subjects=text))
    assert study.n_controls == 0
    assert any("no controls" in n for n in study.notes)


def test_vector_subjects_reject_non_points(write_study, tmp_path):
    study = load_study(write_study())
    gdf = study.subjects.to_crs(4326)[["subject_id", "status", "geometry"]].rename(
        columns={"subject_id": "id"}
    )
    gdf.loc[2, "geometry"] = gdf.geometry.iloc[2].buffer(0.001)
    gdf.loc[3, "geometry"] = None
    gdf.to_file(tmp_path / "subjects.gpkg", layer="anak")
    path = write_study(subjects="unused")
    path.write_text(
        path.read_text()
        .replace('"subjects.csv"', '"subjects.gpkg"')
        .replace('stratum = "village"', "")
    )
    again = load_study(path)
    assert len(again.subjects) == 8
    assert "geometry is a Polygon, not a point" in rejected(again, 3)["reason"]
    assert rejected(again, 4)["reason"] == "missing geometry"


def test_excel_rows_are_numbered_as_excel_shows_them(write_study, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "status", "village", "lat", "lon", "income"])
    sheet.append(["E1", "case", "Desa A", -3.21, 104.62, 1])
    sheet.append([None, None, None, None, None, None])  # a blank row in the middle
    sheet.append(["E2", 1, "Desa A", "-3,215", "104,63", 2])
    sheet.append(["E3", 0, "Desa B", "abc", 104.66, 3])
    sheet.append([4, "control", "Desa B", -3.22, 104.67, 4.0])
    book.save(tmp_path / "anak.xlsx")
    path = write_study(subjects="unused", subjects_name="unused.csv")
    path.write_text(path.read_text().replace("unused.csv", "anak.xlsx"))
    study = load_study(path)
    assert study.subjects["subject_id"].tolist() == ["E1", "E2", "4"]
    assert study.subjects["source_row"].tolist() == [2, 4, 6]
    assert rejected(study, 5)["column"] == "lat"


def test_from_frames_validates_the_same_way(write_study):
    study = load_study(write_study())
    subjects = study.subjects.to_crs(4326)
    subjects.loc[0, "status"] = "unknown"
    again = study_from_frames(
        subjects,
        study.facilities,
        gpd.GeoDataFrame.from_features(VILLAGES["features"], crs=4326),
        area_name="nama",
        stratum="stratum",
    )
    assert len(again.subjects) == 9
    assert again.rejects.iloc[0]["file"] == "<subjects>"
    assert again.rejects.iloc[0]["row"] == 1
    assert again.crs_code == "EPSG:32748"


def test_from_frames_requires_geodataframes():
    with pytest.raises(InputError, match=r"subjects must be a GeoDataFrame, got list"):
        study_from_frames([1, 2])  # type: ignore[arg-type]


def _square(lon: float, lat: float, size: float) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {
        "type": "Feature",
        "properties": {"nama": "Sq"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_messy_file_accounting(write_study, tmp_path):
    extra = [
        "S100,case,Desa A,,104.62,1",
        "S101,case,Desa A,104.62,-3.22,1",
        "S102,control,Desa A,-3.30,104.62,1",
        "S001,control,Desa A,-3.22,104.62,1",
        "S103,oops,Desa A,-3.22,104.62,1",
    ]
    study = load_study(write_study(subjects=csv_text(*extra)))
    assert study.rows_read["subjects"] == 15
    assert len(study.subjects) == 11
    assert sorted(study.rejects["row"]) == [12, 14, 15, 16]
    assert_accounted(study)
    json.dumps(study.rejects.to_dict(orient="records"))  # plain values only


def test_facilities_keep_name_and_kind_defaults(write_study):
    text = "id,name,type,lat,lon\nF1,,,-3.215,104.625\nF2,Posyandu Dua,POSYANDU,-3.23,104.675"
    study = load_study(write_study(facilities=text))
    assert study.facilities["name"].tolist() == ["F1", "Posyandu Dua"]
    assert study.facilities["kind"].tolist() == ["unknown", "posyandu"]


def test_far_facility_is_rejected_but_nearby_outside_one_kept(write_study):
    text = (
        FACILITIES_CSV
        + "\nF3,Puskesmas Tetangga,puskesmas,-3.27,104.62\nF4,Jakarta,hospital,-6.2,106.8"
    )
    study = load_study(write_study(facilities=text))
    assert study.facilities["facility_id"].tolist() == ["F1", "F2", "F3"]
    reject = study.rejects[study.rejects["layer"] == "facilities"].iloc[0]
    assert reject["id"] == "F4"
    assert "far from the study area" in reject["reason"]
