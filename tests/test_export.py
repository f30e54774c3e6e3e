"""Outputs: every file written, atomically, and readable by GIS tools."""

from __future__ import annotations

import json

import pandas as pd
import pyogrio
import pytest

import geo_stunting as gs
from geo_stunting.outputs import _export as export


@pytest.fixture(scope="module")
def demo_results():
    return gs.analyze(gs.load_study(gs.demo_study_path()))


def test_writes_every_output(demo_results, tmp_path):
    written = gs.write_outputs(demo_results, tmp_path / "out")
    tables = [f"risk_factors_{t}.csv" for t in ("table1", "table2", "table3", "logistic")]
    assert sorted(written) == sorted([*export.OUTPUT_FILES, *tables])
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Table 1" in report
    # the report shows the print maps (files beside it), and printing does not hide them
    for name in ("map.png", "map_access.png", "map_clusters.png"):
        assert f'<img src="{name}"' in report
    print_css = report.split("@media print")[1].split("</style>")[0]
    assert "print-map { display: none" not in print_css
    assert "img" not in print_css.split("{")[0]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["study"]["n_cases"] == 67
    layers = dict(pyogrio.list_layers(tmp_path / "out" / "layers.gpkg"))
    assert {"subjects": "Point", "facilities": "Point", "area": "Polygon"}.items() <= layers.items()
    assert set(layers) == {*demo_results.layers, "layer_styles", "scan_cluster_members"}
    subjects = pyogrio.read_dataframe(tmp_path / "out" / "layers.gpkg", layer="subjects")
    assert subjects.crs.to_epsg() == 32748
    assert len(subjects) == 201
    assert "lighting_lux" in subjects.columns
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert list(rejects.columns) == ["layer", "file", "row", "id", "column", "value", "reason"]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["seed"] == 20231
    assert run["crs"] == "EPSG:32748"
    assert len(run["study_file_sha256"]) == 64
    assert {"geopandas", "pyproj", "shapely", "GDAL", "PROJ"} <= set(run["versions"])
    check = run["steps"]["access"]["geodesic_check"]
    assert 0 < check["max_relative_difference"] < 1e-3  # UTM scale error near the equator
    html = (tmp_path / "out" / "map.html").read_text()
    assert "Ogan Ilir demo (synthetic)" in html
    assert list((tmp_path / "out").glob(".geo_stunting-*")) == []


def test_failed_run_leaves_earlier_outputs_untouched(demo_results, tmp_path, monkeypatch):
    out = tmp_path / "out"
    gs.write_outputs(demo_results, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "write_gpkg", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        gs.write_outputs(demo_results, out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after.keys() == before.keys()
    assert after["results.json"] == before["results.json"]


def test_failed_first_run_leaves_no_files(demo_results, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "write_gpkg", lambda *a, **k: (_ for _ in ()).throw(OSError("x")))
    with pytest.raises(OSError, match="x"):
        gs.write_outputs(demo_results, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder or lock file left beside it


def test_map_escapes_markup_in_the_title(write_study, tmp_path):
    path = write_study()
    path.write_text(path.read_text().replace('"Test study"', '"<script>alert(1)</script>"'))
    results = gs.analyze(gs.load_study(path))
    html = gs.write_outputs(results, tmp_path / "o")["map.html"].read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
