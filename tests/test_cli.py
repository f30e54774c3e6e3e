"""The command line: clear output, exit codes 0 / 2 / 1, never a traceback for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo_stunting import cli
from geo_stunting.study._demo import demo_study_path
from tests.conftest import SUBJECT_HEADER

runner = CliRunner()


def test_demo_writes_every_output(tmp_path):
    result = runner.invoke(cli.app, ["demo", "--out", str(tmp_path / "demo"), "--quiet"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "demo").iterdir())
    tables = [f"risk_factors_{t}.csv" for t in ("table1", "table2", "table3", "logistic")]
    assert names == sorted(
        [
            "layers.gpkg",
            "layers.qgz",
            "map.html",
            "rejects.csv",
            "report.html",
            "results.json",
            "run.json",
            "tables.xlsx",
            "map.pdf",
            "map.png",
            "map_access.png",
            "map_clusters.png",
            *tables,
        ]
    )
    assert "67 cases, 134 controls" in result.output


def test_analyze_with_overrides(write_study, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        cli.app,
        [
            "analyze",
            str(write_study()),
            "--out",
            str(out),
            "--seed",
            "3",
            "--permutations",
            "19",
            "--only",
            "access",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["seed"] == 3
    assert results["settings"]["permutations"] == 19
    assert list(results["steps"]) == ["access"]


def test_only_takes_several_steps_with_commas(write_study, tmp_path):
    out = tmp_path / "out"
    args = ["analyze", str(write_study()), "--out", str(out), "--permutations", "19", "-q"]
    result = runner.invoke(cli.app, [*args, "--only", "access, risk_factors"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert list(results["steps"]) == ["access", "risk_factors"]


def test_unknown_step_is_bad_input(write_study, tmp_path):
    result = runner.invoke(cli.app, ["analyze", str(write_study()), "--only", "acess", "-q"])
    assert result.exit_code == 2
    assert "unknown step 'acess'" in result.output
    assert "did you mean 'access'" in result.output
    assert "Traceback" not in result.output


def test_bad_input_exits_2_with_one_line_per_problem(write_study):
    path = write_study(subjects_section='stratm = "village"\nidd = "id"')
    result = runner.invoke(cli.app, ["validate", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 2
    assert "did you mean 'stratum'" in lines[0]
    assert "Traceback" not in result.output


def test_validate_lists_rejected_rows(write_study, tmp_path):
    text = "\n".join(
        [
            SUBJECT_HEADER,
            "A,case,Desa A,-3.21,104.61,1",
            "B,sick,Desa A,-3.21,104.62,1",
            "C,control,Desa A,-3.22,104.62,1",
        ]
    )
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(
        cli.app, ["validate", str(write_study(subjects=text)), "--rejects", str(rejects)]
    )
    assert result.exit_code == 0, result.output
    assert "subjects.csv, row 3, column 'status' value 'sick'" in result.output
    assert rejects.read_text().count("\n") == 2


def test_unusable_study_exits_2(write_study):
    text = "\n".join([SUBJECT_HEADER, "A,case,Desa A,,,1"])
    result = runner.invoke(cli.app, ["analyze", str(write_study(subjects=text)), "-q"])
    assert result.exit_code == 2
    assert "error: subjects.csv: no usable subjects rows" in result.output


def test_internal_error_exits_1_without_traceback(write_study, monkeypatch):
    def boom(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(cli, "load_study", boom)
    result = runner.invoke(cli.app, ["analyze", str(write_study()), "-q"])
    assert result.exit_code == 1
    assert "internal error (ZeroDivisionError: oops)" in result.output
    assert "--debug" in result.output
    assert "Traceback" not in result.output


def test_help_explains_the_commands():
    result = runner.invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "analyze", "validate"):
        assert command in result.output
    assert "geo-stunting demo" in result.output


@pytest.mark.parametrize("args", [["--version"], ["validate", "--help"]])
def test_console_script_runs(args):
    # The installed entry point, as a user runs it.
    result = subprocess.run(
        [sys.executable, "-m", "geo_stunting.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_validate_quiet_prints_one_summary_line(write_study):
    result = runner.invoke(cli.app, ["validate", str(write_study()), "-q"])
    assert result.exit_code == 0
    assert result.output.strip() == (
        "Test study: 10 subjects loaded (4 cases, 6 controls), 0 rows rejected"
    )


def test_dask_engine_gives_the_local_access_results(tmp_path):
    pytest.importorskip("dask_geopandas")
    demo = demo_study_path().parent
    (tmp_path / "subjects").mkdir()
    subjects = pd.read_csv(demo / "subjects.csv")
    subjects.iloc[:100].to_csv(tmp_path / "subjects" / "a.csv", index=False)
    subjects.iloc[100:].to_csv(tmp_path / "subjects" / "b.csv", index=False)
    for name in ("facilities.csv", "villages.geojson", "study.toml"):
        (tmp_path / name).write_bytes((demo / name).read_bytes())
    study = tmp_path / "study.toml"
    text = study.read_text().split("[risk_factors]")[0]
    study.write_text(text.replace('path = "subjects.csv"', 'path = "subjects/"'))
    local = runner.invoke(cli.app, ["analyze", str(study), "--out", str(tmp_path / "a"), "-q"])
    assert local.exit_code == 2  # a folder of parts is for the dask engine only
    result = runner.invoke(
        cli.app,
        ["analyze", str(study), "--engine", "dask", "--out", str(tmp_path / "d"), "-q"],
    )
    assert result.exit_code == 0, result.output
    dask_access = json.loads((tmp_path / "d" / "results.json").read_text())["access"]
    reference = runner.invoke(
        cli.app, ["analyze", str(demo / "study.toml"), "--only", "access", "--out",
                  str(tmp_path / "l"), "-q"],
    )  # fmt: skip
    assert reference.exit_code == 0, reference.output
    local_access = json.loads((tmp_path / "l" / "results.json").read_text())["access"]
    for key in (
        "cases_within",
        "controls_within",
        "distance",
        "test",
        "mann_whitney",
        "odds_ratio",
    ):
        assert dask_access[key] == local_access[key], key
    bad = runner.invoke(cli.app, ["analyze", str(study), "--engine", "spark", "-q"])
    assert bad.exit_code == 2
    assert "--engine must be 'local' or 'dask'" in bad.output


def test_square_brackets_in_messages_are_printed(write_study):
    result = runner.invoke(
        cli.app, ["analyze", str(write_study(facilities=None)), "-q", "--only", "access"]
    )
    assert result.exit_code == 0, result.output
    assert "add a [facilities] section" in result.output
