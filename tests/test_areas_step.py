"""The areas step on the South Sumatra demo and on the point demo, and its outputs."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from libpysal.graph import Graph
from shapely.geometry import box
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting.areas import AreasSpec, analyze_areas, classify, join_areas
from geo_stunting.areas._demo import demo_areas_study_path
from geo_stunting.areas._step import areas_step
from geo_stunting.cli import app
from geo_stunting.errors import AnalysisError
from geo_stunting.outputs.map._area_layers import area_layer_style


@pytest.fixture(scope="module")
def sumsel() -> gs.Results:
    study = gs.load_study(demo_areas_study_path())
    return gs.analyze(study, permutations=99)


def test_demo_joins_kemendagri_codes_and_rejects_the_totals(sumsel: gs.Results) -> None:
    study = sumsel.study
    assert study.areas is not None
    assert len(study.areas.polygons) == 17
    assert study.areas.periods == ("2021", "2022", "2023")
    values = study.areas.values.set_index(["area_code", "period"])["prevalence_pct"]
    # Ogan Ilir 29.2 -> 24.9 -> 22.9 (README of the source table)
    assert [values[("1610", p)] for p in ("2021", "2022", "2023")] == [29.2, 24.9, 22.9]
    # Kemendagri 16.09 is OKU Selatan (BPS 1608): 24.8 in 2021
    names = study.areas.polygons.set_index("area_code")["area_name"]
    assert names["1609"] == "Kabupaten Ogan Komering Ulu Selatan"
    assert values[("1609", "2021")] == 24.8
    assert sorted(study.rejects["reason"].str[:20]) == ["missing area code", "no polygon has code "]


def test_demo_section_says_what_percentages_cannot_support(sumsel: gs.Results) -> None:
    section = sumsel.sections["areas"]
    assert section["mode"] == "prevalence"
    assert not section["has_counts"]
    assert section["periods"] == ["2021", "2022", "2023"]
    assert any("cannot support" in c for c in section["caveats"])
    for part in section["by_period"].values():
        assert part["eb_moran"] is None
        assert part["eb"] is None
        assert part["scan"]["status"] == "skipped"
        assert part["moran"]["p_sim_alternative"] == "greater"
        assert part["moran"]["n"] == 17
    change = section["changes"][0]
    assert change["start"] == "2021"
    assert change["end"] == "2022"
    assert not change["confidence_intervals"]
    assert change["changes"] == {"unknown": 17}
    # the 2021 -> 2022 mean change, by hand from the table
    table = sumsel.study.areas.values.pivot(
        index="area_code", columns="period", values="prevalence_pct"
    )
    expected = float((table["2022"] - table["2021"]).mean())
    assert change["mean_difference_pp"] == pytest.approx(expected)
    json.loads(sumsel.to_json())


def test_demo_layers_carry_classes_and_lisa(sumsel: gs.Results) -> None:
    layer = sumsel.layers["areas_2023"]
    assert len(layer) == 17
    assert layer["rate_class"].is_monotonic_increasing  # legend order
    classes = sumsel.sections["areas"]["by_period"]["2023"]["classification"]
    assert classes["method"] == "quantiles"
    assert classes["classes"] == 4
    assert classes["bounds"][-1] == pytest.approx(layer["rate"].max())
    assert set(layer["lisa_label"]) <= {"HH", "LL", "LH", "HL", "not significant", "isolate"}
    assert "areas_change_2022_2023" in sumsel.layers


def test_classify_matches_mapclassify_bounds() -> None:
    values = np.array([31.1, 32.2, 29.7, 22.8, 28.3, 23.0, 22.0, 24.8, 21.5, 29.2])
    eq = classify(values, method="equal_interval", classes=2)
    assert eq["bounds"] == pytest.approx([(21.5 + 32.2) / 2, 32.2])
    assert sum(eq["counts"]) == len(values)
    q = classify(values, method="quantiles", classes=2)
    assert q["bounds"][0] == pytest.approx(np.median(values))


def test_point_study_counts_cases_per_village_with_the_caveat() -> None:
    study = gs.load_study(gs.demo_study_path())
    results = gs.analyze(study, steps=["areas"], permutations=99)
    section = results.sections["areas"]
    assert section["mode"] == "aggregate"
    assert any("not a prevalence" in c for c in section["caveats"])
    layer = results.layers["areas"]
    inside = gpd.sjoin(study.subjects, study.area[["geometry"]], predicate="within")
    assert layer["cases"].sum() == (inside["status"] == "case").sum()
    assert layer["population"].sum() == len(inside)
    assert ((layer["rate"] >= 0) & (layer["rate"] <= 100)).all()


def test_cli_demo_areas_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "demo_areas"
    result = CliRunner().invoke(app, ["demo", "--areas", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    sections = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert sections["areas"]["n_areas"] == 17
    layers = set(pyogrio.list_layers(out / "layers.gpkg")[:, 0])
    assert {"areas_2021", "areas_2022", "areas_2023", "areas_change_2021_2022"} <= layers
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Stunting rate 2023 (%), classes" in page
    assert "An area study" in page
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Area-level rates" in report
    assert "Angka per wilayah" in report
    assert "cannot support" in report
    assert "tidak cukup" in report
    rejects = (out / "rejects.csv").read_text(encoding="utf-8")
    assert "no polygon has code '16'" in rejects


def test_public_outputs_keep_rates_and_drop_counts() -> None:
    style = area_layer_style("areas_2021")
    assert style is not None
    assert style.public.action == "keep"
    assert {"cases", "population", "source_row"} <= set(style.public.drop)
    assert area_layer_style("areas_change_2021_2022") is not None


def test_joining_on_the_bps_code_is_caught_by_the_names(tmp_path: Path) -> None:
    """BPS and Kemendagri number five South Sumatran regencies differently."""
    folder = demo_areas_study_path().parent
    text = (folder / "study.toml").read_text(encoding="utf-8")
    text = text.replace('table_code = "kode_kemendagri"', 'table_code = "kode_kab_bps"')
    for name in ("sumsel_kabupaten.geojson", "stunting_prevalence_sumsel_kabkota_2021_2023.csv"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    results = gs.analyze(gs.load_study(tmp_path / "study.toml"), permutations=19)
    section = results.sections["areas"]
    found = {m["code"]: (m["table"], m["polygon"]) for m in section["name_mismatches"]}
    assert sorted(found) == ["16.08", "16.09", "16.72", "16.73", "16.74"]
    assert found["16.08"] == ("Kab. Ogan Komering Ulu Selatan", "Kabupaten Ogan Komering Ulu Timur")
    assert any("different coding systems" in c for c in section["caveats"])
    assert sumsel_mismatches() == []


def sumsel_mismatches() -> list[dict[str, str]]:
    study = gs.load_study(demo_areas_study_path())
    assert study.areas is not None
    return list(study.areas.name_mismatches)


def test_an_island_left_alone_is_labelled_and_reported() -> None:
    cells = [
        box(i * 1000, j * 1000, (i + 1) * 1000, (j + 1) * 1000) for i in range(4) for j in range(4)
    ]
    cells.append(box(20_000, 20_000, 21_000, 21_000))
    codes = [f"A{i:02d}" for i in range(len(cells))]
    polys = gpd.GeoDataFrame({"kode": codes}, geometry=cells, crs="EPSG:32748")
    rng = np.random.default_rng(1)
    pop = rng.integers(50, 200, len(cells))
    table = pd.DataFrame(
        {"kode": codes, "c": rng.binomial(pop, 0.2).astype(str), "n": pop.astype(str)}
    )
    data = join_areas(polys, table, code="kode", cases="c", population="n")
    section, layers = analyze_areas(
        data, spec=AreasSpec(code="kode", island_knn=0), permutations=49, seed=3
    )
    assert section["weights"]["isolates"] == ["A16"]
    assert section["weights"]["n_components"] == 2
    layer = layers["areas"].set_index("code")
    assert layer.loc["A16", "lisa_label"] == "isolate"
    assert np.isnan(layer.loc["A16", "lisa_p"])
    assert section["by_period"]["all"]["lisa"]["isolate"] == 1
    joined, _ = analyze_areas(data, spec=AreasSpec(code="kode"), permutations=49, seed=3)
    assert joined["weights"]["joined_islands"] == ["A16"]
    assert joined["weights"]["isolates"] == []


def test_analyze_areas_accepts_a_libpysal_graph() -> None:
    cells = [box(i * 1000, 0, (i + 1) * 1000, 1000) for i in range(6)]
    codes = [f"A{i}" for i in range(6)]
    polys = gpd.GeoDataFrame({"kode": codes}, geometry=cells, crs="EPSG:32748")
    table = pd.DataFrame({"kode": codes, "p": ["10", "12", "15", "30", "32", "35"]})
    data = join_areas(polys, table, code="kode", prevalence="p")
    graph = Graph.build_contiguity(data.polygons, rook=True)
    section, _ = analyze_areas(data, spec=AreasSpec(code="kode"), permutations=19, weights=graph)
    built, _ = analyze_areas(data, spec=AreasSpec(code="kode", weights="rook"), permutations=19)
    assert section["weights"]["rule"].startswith("libpysal Graph")
    assert section["by_period"]["all"]["moran"]["I"] == pytest.approx(
        built["by_period"]["all"]["moran"]["I"]
    )
    with pytest.raises(AnalysisError, match="weights are for 5 areas"):
        analyze_areas(
            data, spec=AreasSpec(code="kode"), weights=graph.subgraph(graph.unique_ids[:5])
        )


def test_point_study_cases_added_up_to_a_larger_area() -> None:
    study = gs.load_study(gs.demo_study_path())
    assert study.area is not None
    halves = np.where(
        study.area.geometry.centroid.x < study.area.geometry.centroid.x.median(), "west", "east"
    )
    grouped = replace(
        study,
        area=study.area.assign(kec=halves),
        areas_spec=AreasSpec(code="name", group="kec", scan=False),
    )
    output = areas_step(grouped)
    layer = output.layers["areas"]
    assert sorted(layer["code"]) == ["east", "west"]
    inside = gpd.sjoin(study.subjects, study.area[["geometry"]], predicate="within")
    assert layer["population"].sum() == len(inside)
    assert layer["cases"].sum() == (inside["status"] == "case").sum()
    part = output.section["by_period"]["all"]
    assert part["moran"] is None
    assert part["autocorrelation_skipped"] == "Moran's I needs at least 4 areas, got 2"
    assert part["eb"] is not None


@pytest.mark.parametrize("method", ["quantiles", "equal_interval"])
def test_classes_are_mapclassify_value_for_value(method: str) -> None:
    """The NumPy classes give mapclassify's bounds, classes and counts exactly."""
    import mapclassify  # noqa: PLC0415 - the reference

    reference = {"quantiles": mapclassify.Quantiles, "equal_interval": mapclassify.EqualInterval}
    rng = np.random.default_rng(7)
    samples = [
        rng.normal(25, 6, 241),
        rng.uniform(0, 100, 17),
        np.round(rng.normal(30, 5, 500), 1),  # many ties
        rng.integers(0, 4, 60).astype(float) * 12.5,  # four values only
        np.array([31.1, 32.2, 29.7, 22.8, 28.3, 23.0, 22.0, 24.8, 21.5, 29.2]),
    ]
    for values in samples:
        for classes in (2, 3, 5, 7):
            ours = classify(values, method=method, classes=classes)
            with warnings.catch_warnings():  # mapclassify warns when tied quantiles merge
                warnings.simplefilter("ignore", UserWarning)
                theirs = reference[method](values, k=ours["classes"])
            assert ours["bounds"] == [float(b) for b in theirs.bins]
            assert ours["counts"] == [int(c) for c in theirs.counts]
            assert ours["class_of"] == [int(v) for v in theirs.yb]


def test_an_unknown_classification_is_refused() -> None:
    with pytest.raises(AnalysisError, match="unknown classification 'jenks'"):
        classify(np.array([1.0, 2.0, 3.0]), method="jenks")


def test_a_point_study_in_one_area_skips_the_area_step_and_says_why() -> None:
    """A field study in the regency polygon (one area): skipped with the fix, not failed."""
    study = gs.load_study(gs.demo_study_path())
    one = study.area.dissolve().assign(name="Ogan Ilir")[["name", "geometry"]]
    results = gs.analyze(replace(study, area=one), steps=["areas"])
    status = results.sections["steps"]["areas"]
    assert status["status"] == "skipped", status  # before: failed, "need at least 2 areas"
    assert "at least 2" in status["reason"]
    assert not results.failed_steps
