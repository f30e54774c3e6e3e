"""Joining polygons to counts or prevalence: codes, per-row rejects, the [areas] section."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from libpysal.weights import W
from openpyxl import Workbook
from shapely.geometry import box

import geo_stunting as gs
from geo_stunting.areas import (
    area_weights,
    join_areas,
    normalise_code,
    rate_differences,
    weights_from_graph,
)
from geo_stunting.errors import AnalysisError, InputError, StudyFileError


def _grid(codes: list[str]) -> gpd.GeoDataFrame:
    """A row of unit squares in UTM 48S near Palembang, one per code."""
    x0, y0 = 470_000, 9_670_000
    return gpd.GeoDataFrame(
        {"kode": codes, "nama": [f"Area {c}" for c in codes]},
        geometry=[
            box(x0 + 1000 * i, y0, x0 + 1000 * (i + 1), y0 + 1000) for i in range(len(codes))
        ],
        crs="EPSG:32748",
    )


def test_codes_with_and_without_dots_match() -> None:
    assert normalise_code("16.10") == normalise_code("1610") == normalise_code(1610)
    assert normalise_code("16.10.01.2005") == "1610012005"
    polys = _grid(["16.10", "16.11", "16.12"])
    table = pd.DataFrame(
        {"kode": ["1610", "16 11", "16-12"], "n": ["100", "80", "50"], "c": ["20", "10", "5"]}
    )
    data = join_areas(polys, table, code="kode", cases="c", population="n")
    assert data.values["area_code"].tolist() == ["1610", "1611", "1612"]
    assert data.has_counts
    assert data.mode == "counts"
    assert len(data.rejects) == 0
    assert data.values["prevalence_pct"].tolist() == [20.0, 12.5, 10.0]


def test_every_bad_row_and_unmatched_polygon_is_rejected_with_its_reason() -> None:
    polys = _grid(["1601", "1602", "1603", "1604", "1605", "1606", "1607", "1608"])
    table = pd.DataFrame(
        {
            "kode": ["16.01", "16.02", "16.03", "16.04", "16.05", "16.99", "16.01", "", "16.06"],
            "stunted": ["10", "", "5", "30", "-1", "3", "4", "2", "1,5"],
            "measured": ["100", "80", "0", "20", "50", "40", "60", "10", "abc"],
        }
    )
    data = join_areas(polys, table, code="kode", cases="stunted", population="measured")
    rows = data.rejects[data.rejects["layer"] == "areas"]
    reasons = dict(zip(rows["row"], rows["reason"], strict=True))
    assert sorted(reasons) == list(range(3, 11))
    assert data.values["area_code"].tolist() == ["1601"]
    # table rows: header is row 1
    assert reasons[3] == "missing cases"
    assert reasons[4].startswith("population is 0")
    assert reasons[5] == "more cases than population"
    assert reasons[6] == "negative cases"
    assert reasons[7].startswith("no polygon has code '16.99'")
    assert reasons[8].startswith("a second row for area '16.01'")
    assert reasons[9] == "missing area code"
    assert reasons[10] == "population is not a number"
    polygon_rejects = data.rejects[data.rejects["layer"] == "areas_polygons"]
    assert sorted(polygon_rejects["id"]) == ["1602", "1603", "1604", "1605", "1606", "1607", "1608"]
    assert set(polygon_rejects["reason"]) == {"no usable row in the table"}


def test_prevalence_outside_0_100_and_wide_periods() -> None:
    polys = _grid(["1", "2", "3"])
    table = pd.DataFrame(
        {"kode": ["1", "2", "3"], "p21": ["29.2", "101", "20"], "p22": ["24.9", "20", "-3"]}
    )
    data = join_areas(polys, table, code="kode", prevalence={"2021": "p21", "2022": "p22"})
    assert data.periods == ("2021", "2022")
    assert not data.has_counts
    assert data.mode == "prevalence"
    rows = data.rejects[data.rejects["layer"] == "areas"]
    row_reasons = dict(zip(rows["row"], rows["reason"], strict=True))
    assert row_reasons[3] == "prevalence 101 is outside 0–100 % (2021)"
    assert row_reasons[4] == "prevalence -3 is outside 0–100 % (2022)"
    assert data.values["prevalence_pct"].tolist() == [29.2, 24.9]


def test_long_table_with_period_column_and_sample_sizes() -> None:
    polys = _grid(["1", "2"])
    table = pd.DataFrame(
        {
            "kode": ["1", "2", "1", "2", "2"],
            "tahun": ["2021", "2021", "2022", "2022", "2022"],
            "pct": ["30", "20", "20", "20", "25"],
            "n": ["100", "200", "100", "200", "300"],
        }
    )
    data = join_areas(polys, table, code="kode", prevalence="pct", sample_size="n", period="tahun")
    assert data.periods == ("2021", "2022")
    assert data.has_counts
    assert data.values["cases"].tolist() == [30.0, 40.0, 20.0, 40.0]
    assert data.rejects.iloc[0]["reason"].startswith("a second row for area '2' in period '2022'")
    diff = rate_differences(data, start="2021", end="2022")
    assert diff["difference_pp"].tolist() == pytest.approx([-10.0, 0.0])
    se = np.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100)
    assert diff["ci_low_pp"][0] == pytest.approx(100 * (-0.1 - 1.959963984540054 * se))
    assert diff["change"].tolist() == ["no clear change", "no clear change"]
    with pytest.raises(AnalysisError, match="no period '2030'"):
        rate_differences(data, start="2021", end="2030")


def test_no_match_at_all_says_which_codes_were_compared() -> None:
    polys = _grid(["16.01"])
    table = pd.DataFrame({"kode": ["3201"], "pct": ["10"]})
    with pytest.raises(InputError, match="BPS and Kemendagri codes differ"):
        join_areas(polys, table, code="kode", prevalence="pct")
    with pytest.raises(InputError, match="column 'prev' not found"):
        join_areas(polys, table, code="kode", prevalence="prev")


def test_join_does_not_change_its_inputs() -> None:
    polys = _grid(["1", "2"])
    table = pd.DataFrame({"kode": ["1", "2"], "pct": ["10", "20"]})
    before_polys, before_table = polys.copy(), table.copy()
    join_areas(polys, table, code="kode", prevalence="pct")
    pd.testing.assert_frame_equal(polys, before_polys)
    pd.testing.assert_frame_equal(table, before_table)


# ------------------------------------------------------------------------------- weights


def test_islands_are_joined_to_the_nearest_area_and_reported() -> None:
    polys = _grid(["1", "2", "3"])
    island = gpd.GeoDataFrame(
        {"kode": ["4"], "nama": ["Pulau"]},
        geometry=[box(475_000, 9_670_000, 476_000, 9_671_000)],
        crs="EPSG:32748",
    )
    areas = pd.concat([polys, island], ignore_index=True).rename(columns={"kode": "area_code"})
    joined = area_weights(areas, rule="queen")
    assert joined.islands == ("4",)
    assert joined.joined_islands == ("4",)
    assert joined.n_components == 1
    assert joined.isolates == ()
    assert joined.matrix[3].nonzero()[1].tolist() == [2]
    kept = area_weights(areas, rule="queen", island_knn=0)
    assert kept.isolates == ("4",)
    assert kept.n_components == 2
    assert kept.to_dict()["component_sizes"] == [3, 1]
    knn = area_weights(areas, rule="knn:2")
    assert knn.cardinalities.min() >= 2
    with pytest.raises(AnalysisError, match="asks for 9 neighbours"):
        area_weights(areas, rule="knn:9")
    with pytest.raises(StudyFileError, match="not understood"):
        area_weights(areas, rule="bishop")


def test_a_libpysal_graph_or_w_is_accepted_and_not_changed() -> None:
    graph = Graph.from_arrays([0, 1, 1, 2], [1, 0, 2, 1], [1.0, 1.0, 1.0, 1.0])
    weights = weights_from_graph(graph)
    assert weights.cardinalities.tolist() == [1, 2, 1]
    w = W({0: [1], 1: [0, 2], 2: [1]})
    w.transform = "r"
    from_w = weights_from_graph(w)
    assert from_w.matrix.toarray().tolist() == weights.matrix.toarray().tolist()
    assert w.transform == "R"
    with pytest.raises(AnalysisError, match="libpysal Graph or W"):
        weights_from_graph("queen")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- study file


def _write_study(tmp_path: Path, areas: str, *, table: str | None = None) -> Path:
    _grid(["16.01", "16.02", "16.03", "16.04", "16.05"]).to_crs(4326).to_file(
        tmp_path / "kab.geojson", driver="GeoJSON"
    )
    (tmp_path / "counts.csv").write_text(
        table
        or "kode,anak,stunting\n1601,120,30\n1602,90,20\n1603,200,25\n1604,60,21\n1605,150,18\n"
        "16,620,114\n",
        encoding="utf-8",
    )
    path = tmp_path / "study.toml"
    path.write_text(
        f'[study]\nname = "Test"\n[area]\npath = "kab.geojson"\nname = "nama"\n[areas]\n{areas}\n'
        "[analysis]\npermutations = 99\n",
        encoding="utf-8",
    )
    return path


def test_area_study_from_a_study_file(tmp_path: Path) -> None:
    path = _write_study(
        tmp_path,
        'table = "counts.csv"\ncode = "kode"\ncases = "stunting"\npopulation = "anak"\n'
        'weights = "rook"\nclassification = "fisher_jenks"\nclasses = 3\nmax_share = 0.3',
    )
    study = gs.load_study(path)
    assert study.n_cases == 0
    assert len(study.subjects) == 0
    assert study.areas is not None
    assert len(study.areas.polygons) == 5
    assert study.settings.steps == ("areas",)
    assert study.rows_read == {"area": 5, "areas": 6}
    assert study.rejects["row"].tolist() == [7]  # the province total
    results = gs.analyze(study)
    assert list(results.sections["steps"]) == ["areas"]
    section = results.sections["areas"]
    assert section["mode"] == "counts"
    assert section["has_counts"]
    assert section["weights"]["rule"].startswith("rook")
    part = section["by_period"]["all"]
    assert part["overall_rate_pct"] == pytest.approx(100 * 114 / 620)
    assert part["classification"]["method"] == "fisher_jenks"
    assert part["classification"]["classes"] == 3
    assert part["scan"]["status"] == "done"
    assert part["scan"]["max_share"] == 0.3
    assert part["eb_moran"]["p_sim_alternative"] == "greater"
    layer = results.layers["areas"]
    for column in (
        "rate",
        "rate_eb",
        "rate_eb_local",
        "smr_pct",
        "p_high",
        "lisa_label",
        "lisa_label_fdr",
        "gi_star_z",
        "rate_class_label",
        "scan_cluster",
    ):
        assert column in layer
    json.loads(results.to_json())


@pytest.mark.parametrize(
    ("areas", "match"),
    [
        ('table = "counts.csv"\ncases = "stunting"\npopulation = "anak"', "needs code"),
        ('code = "kode"\ntable = "counts.csv"\ncases = "stunting"', "go together"),
        (
            (
                'code = "kode"\ntable = "counts.csv"\ncases = "stunting"\npopulation = "anak"\n'
                'prevalence = "p"'
            ),
            "both cases and prevalence",
        ),
        ('code = "kode"\ntable = "counts.csv"\nprevalence = "p"\nweight = "queen"', "'weights'"),
        (
            'code = "kode"\ntable = "counts.csv"\nprevalence = "p"\nweights = "hex"',
            "not understood",
        ),
        (
            'code = "kode"\ntable = "counts.csv"\nprevalence = "p"\nclassification = "jenks"',
            "classification must be one of",
        ),
        ('code = "kode"\ntable = "counts.csv"\nprevalence = "p"\nmax_share = 0.9', "max_share"),
        (
            'code = "kode"\ntable = "counts.csv"\nprevalence = { "2021" = "a" }\nsample_size = "n"',
            "mixes one column",
        ),
        ('code = "kode"\ntable = "counts.csv"', "no cases/population or prevalence"),
    ],
)
def test_areas_section_errors_name_the_key_and_the_fix(
    tmp_path: Path, areas: str, match: str
) -> None:
    path = _write_study(tmp_path, areas)
    with pytest.raises(StudyFileError, match=match):
        gs.read_study_file(path)


def test_areas_without_area_polygons_and_without_counts(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('[areas]\ncode = "kode"\nprevalence = "p"\n', encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"needs the area polygons in an \[area\] section"):
        gs.read_study_file(path)
    path = _write_study(tmp_path, 'code = "kode"')
    with pytest.raises(InputError, match="needs counts or prevalence per area"):
        gs.load_study(path)


def test_a_code_written_1610_in_the_polygons_is_not_read_as_a_number(tmp_path: Path) -> None:
    # "16.10" looks like a number; read as one it would become 16.1 and match nothing
    polys = _grid(["16.10", "16.01"]).to_crs(4326)
    polys.to_file(tmp_path / "kab.geojson", driver="GeoJSON")
    (tmp_path / "counts.csv").write_text("kode,p\n1610,29.2\n1601,31.1\n", encoding="utf-8")
    path = tmp_path / "study.toml"
    path.write_text(
        '[area]\npath = "kab.geojson"\n[areas]\ntable = "counts.csv"\ncode = "kode"\n'
        'prevalence = "p"\n',
        encoding="utf-8",
    )
    study = gs.load_study(path)
    assert study.areas is not None
    assert sorted(study.areas.polygons["code"]) == ["16.01", "16.10"]
    assert len(study.rejects) == 0


def test_villages_add_up_to_kecamatan_and_percentages_do_not(tmp_path: Path) -> None:
    polys = _grid(["16.10.01.2001", "16.10.01.2002", "16.10.02.2001", "16.10.02.2002"])
    polys["kode_kec"] = ["16.10.01", "16.10.01", "16.10.02", "16.10.02"]
    polys["nama_kec"] = ["Indralaya", "Indralaya", "Tanjung Raja", "Tanjung Raja"]
    polys.to_crs(4326).to_file(tmp_path / "desa.geojson", driver="GeoJSON")
    (tmp_path / "counts.csv").write_text(
        "kode,anak,stunting,pct\n1610012001,100,30,30\n1610012002,50,5,10\n"
        "1610022001,80,20,25\n1610022002,20,2,10\n",
        encoding="utf-8",
    )
    path = tmp_path / "study.toml"
    path.write_text(
        '[area]\npath = "desa.geojson"\nname = "nama"\n[areas]\ntable = "counts.csv"\n'
        'code = "kode"\ncases = "stunting"\npopulation = "anak"\ngroup = "kode_kec"\n'
        'group_name = "nama_kec"\n[analysis]\npermutations = 19\n',
        encoding="utf-8",
    )
    study = gs.load_study(path)
    assert study.areas is not None
    kec = study.areas.polygons
    assert kec["code"].tolist() == ["16.10.01", "16.10.02"]
    assert kec["area_name"].tolist() == ["Indralaya", "Tanjung Raja"]
    assert kec.geometry.area.round().tolist() == [2e6, 2e6]
    values = study.areas.values
    assert values["cases"].tolist() == [35.0, 22.0]
    assert values["prevalence_pct"].tolist() == pytest.approx([100 * 35 / 150, 22.0])
    text = path.read_text(encoding="utf-8").replace(
        'cases = "stunting"\npopulation = "anak"', 'prevalence = "pct"'
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AnalysisError, match="percentages cannot be added up to kode_kec"):
        gs.load_study(path)


def test_excel_table_and_a_code_stored_as_a_number(tmp_path: Path) -> None:
    _grid(["16.10", "16.11"]).to_crs(4326).to_file(tmp_path / "kab.geojson", driver="GeoJSON")
    book = Workbook()
    sheet = book.active
    sheet.title = "2023"
    sheet.append(["kode", "pct"])
    sheet.append([1611, 32.6])  # a whole number: still 1611
    sheet.append([16.1, 22.9])  # "16.10" typed as a number: 16.1
    book.save(tmp_path / "prev.xlsx")
    path = tmp_path / "study.toml"
    path.write_text(
        '[area]\npath = "kab.geojson"\n[areas]\ntable = "prev.xlsx"\nsheet = "2023"\n'
        'code = "kode"\nprevalence = "pct"\n',
        encoding="utf-8",
    )
    study = gs.load_study(path)
    assert study.areas is not None
    assert study.areas.values["area_code"].tolist() == ["1611"]
    table_rejects = study.rejects[study.rejects["layer"] == "areas"]
    assert table_rejects["row"].tolist() == [3]
    assert "format the code column as text" in table_rejects["reason"].iloc[0]
