"""Writing maps: public outputs, run.json records, and `geo-stunting map OUTDIR`."""

from __future__ import annotations

import json

import pyogrio
import pytest
from typer.testing import CliRunner

from geo_stunting import cli
from geo_stunting.outputs import _export as export
from geo_stunting.outputs._export import PublicOptions, write_map, write_outputs
from geo_stunting.outputs.map._data import build_map_data
from geo_stunting.outputs.map._layers import MapContext
from tests.map_fixture import demo_results

runner = CliRunner()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    files = write_outputs(demo_results(), out, public=PublicOptions(seed=123, max_m=400))
    return out, files


def test_public_outputs_go_to_their_own_folder(written):
    out, files = written
    assert sorted(files) == sorted([*export.OUTPUT_FILES, *export.PUBLIC_FILES])
    assert (out / "public" / "map.html").is_file()
    public = dict(pyogrio.list_layers(out / "public" / "layers.gpkg"))
    assert "nearest_lines" not in public
    assert {"subjects", "facilities", "area", "scan_clusters"} <= set(public)
    for name in public:
        columns = pyogrio.read_info(out / "public" / "layers.gpkg", layer=name)["fields"]
        assert not {"subject_id", "subject_ids", "distance_m"} & set(columns), name
    html = (out / "public" / "map.html").read_text(encoding="utf-8")
    assert "Public version: home locations moved 100–400 m" in html
    assert "S001" not in html
    assert list(out.glob(".geo_stunting-*")) == []


def test_run_json_records_the_masking_and_keeps_it_private(written):
    out, _ = written
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    public = run["map"]["public"]
    assert (public["method"], public["min_m"], public["max_m"], public["seed"]) == (
        "donut",
        100.0,
        400.0,
        123,
    )
    assert public["within"] == "village"
    assert public["layers"]["nearest_lines"] == "left out"
    assert run["map"]["online"] is False
    assert '"seed"' not in (out / "public" / "map.html").read_text(encoding="utf-8")
    assert not (out / "public" / "run.json").exists()


def test_map_command_redraws_from_the_folder(written):
    out, _ = written
    before = (out / "results.json").read_bytes()
    (out / "map.html").write_text("old", encoding="utf-8")
    result = runner.invoke(cli.app, ["map", str(out), "--online", "-q"])
    assert result.exit_code == 0, result.output
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in html
    assert "Ogan Ilir demo (synthetic)" in html
    assert (out / "results.json").read_bytes() == before
    assert json.loads((out / "run.json").read_text())["map"]["online"] is True


def test_map_from_the_folder_equals_the_map_of_the_run(written, tmp_path):
    out, _ = written
    layers, sections = export.read_outputs(out)
    assert sections["study"]["n_cases"] == 67
    ctx = MapContext(buffer_m=2000.0, online=False, public=False, sections=sections)
    again = {g["title"]: g["n"] for g in build_map_data(layers, ctx).groups}
    first = {g["title"]: g["n"] for g in build_map_data(demo_results().layers, ctx).groups}
    assert again == first


def test_a_folder_from_before_the_one_subjects_layer_draws_its_children_as_subjects(tmp_path):
    """Older folders kept the access columns in `subjects_access` beside a plain `subjects`."""
    out = tmp_path / "old"
    write_outputs(demo_results(), out)
    gpkg = out / "layers.gpkg"
    subjects = pyogrio.read_dataframe(gpkg, layer="subjects")
    plain = subjects.drop(columns=["within_buffer", "distance_m", "nearest_facility_name"])
    pyogrio.write_dataframe(subjects, gpkg, layer="subjects_access")
    pyogrio.write_dataframe(plain, gpkg, layer="subjects")
    layers, _ = export.read_outputs(out)
    assert "subjects_access" not in layers
    assert {"within_buffer", "distance_m"} <= set(layers["subjects"].columns)
    assert len(layers["subjects"]) == 201
    result = runner.invoke(cli.app, ["map", str(out), "-q"])
    assert result.exit_code == 0, result.output
    html = (out / "map.html").read_text(encoding="utf-8")
    assert "subjects_access" not in html
    assert "Beyond 2 km of any facility" in html


def test_map_command_public_with_the_same_seed_gives_the_same_files(written):
    out, _ = written
    first = (out / "public" / "map.html").read_bytes()  # from the run, seed 123
    args = ["map", str(out), "--public", "--mask-seed", "123", "--mask-max-m", "400", "-q"]
    assert runner.invoke(cli.app, args).exit_code == 0
    assert (out / "public" / "map.html").read_bytes() == first
    assert json.loads((out / "run.json").read_text())["map"]["public"]["seed"] == 123


def test_without_a_seed_each_public_map_gets_a_fresh_secret_one():
    seeds = {cli._public_options(True, 100.0, 500.0, None).seed for _ in range(5)}
    assert len(seeds) == 5
    assert cli._public_options(True, 100.0, 500.0, 9).seed == 9
    assert cli._public_options(False, 100.0, 500.0, None) is None


def test_map_command_on_a_folder_without_outputs_is_bad_input(tmp_path):
    result = runner.invoke(cli.app, ["map", str(tmp_path), "-q"])
    assert result.exit_code == 2
    assert "results.json not found" in result.output
    assert "run it first" in result.output
    assert "Traceback" not in result.output


def test_map_command_refuses_a_bad_ring(written):
    out, _ = written
    result = runner.invoke(
        cli.app, ["map", str(out), "--public", "--mask-min-m", "600", "--mask-max-m", "500"]
    )
    assert result.exit_code == 2
    assert "--mask-min-m < --mask-max-m" in result.output


def test_write_map_alone_leaves_the_public_files(written):
    out, _ = written
    files = write_map(out)
    assert sorted(files) == ["map.html", "run.json"]
    assert (out / "public" / "layers.gpkg").is_file()


def test_analyze_public_writes_both(write_study, tmp_path):
    out = tmp_path / "o"
    args = ["analyze", str(write_study()), "--out", str(out), "--public", "--only", "access"]
    result = runner.invoke(cli.app, [*args, "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "map.html").is_file()
    assert (out / "public" / "map.html").is_file()
    assert isinstance(json.loads((out / "run.json").read_text())["map"]["public"]["seed"], int)
