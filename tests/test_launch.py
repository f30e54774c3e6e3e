"""The ``geo-stunting`` entry (`_launch`) and the lazy package: the compile starts first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer.main

import geo_stunting as gs
from geo_stunting import _compile_ahead as ahead
from geo_stunting import _launch
from geo_stunting.areas import demo_areas_study_path
from geo_stunting.cli import app

DEMO = str(gs.demo_study_path())
KERNEL_STEPS = ["pattern", "autocorrelation", "areas"]


def _run(code: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_package_imports_none_of_its_modules():
    report = _run(
        "import json, sys, geo_stunting\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'geo_stunting', 'numpy', 'pandas', 'geopandas', 'numba'})))"
    )
    assert report == ["geo_stunting"]


def test_every_public_name_resolves_and_is_listed():
    for name in gs.__all__:
        assert getattr(gs, name) is not None, name
    assert set(gs.__all__) <= set(dir(gs))
    assert gs.load_study.__module__ == "geo_stunting.study._study"
    assert gs.analyze.__module__ == "geo_stunting.pipeline"
    with pytest.raises(AttributeError, match="no attribute 'load_studies'"):
        gs.load_studies  # noqa: B018 - the attribute access is the test


@pytest.mark.parametrize(
    ("args", "steps"),
    [
        (["demo"], KERNEL_STEPS),
        (["demo", "--quiet", "--out", "x"], KERNEL_STEPS),
        (["demo", "--areas"], ["areas"]),  # an area study: no subjects, no pattern kernels
        (["analyze", DEMO], KERNEL_STEPS),
        (["analyze", "--out", "pattern", DEMO, "--seed", "3"], KERNEL_STEPS),
        (["analyze", DEMO, "--only", "pattern", "--only", "access"], ["pattern"]),
        (["analyze", DEMO, "--only=autocorrelation"], ["autocorrelation"]),
        (["analyze", DEMO, "--only", "access, pattern,areas"], ["pattern", "areas"]),
        (["analyze", DEMO, "--only", "access"], []),
        (["analyze", DEMO, "--engine", "dask"], []),
        (["analyze", "no_such_study.toml"], []),
        (["analyze"], []),
        (["demo", "--help"], []),
        (["--version"], []),
        (["validate", DEMO], []),
        (["map", "maps/demo"], []),
        ([], []),
    ],
)
def test_the_entry_starts_the_compile_only_for_steps_with_kernels(args, steps):
    assert _launch.kernel_steps(args) == steps


def test_the_steps_and_engine_of_the_study_file_count(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text('[subjects]\npath = "s.csv"\n[analysis]\nsteps = ["access", "pattern"]\n')
    assert _launch.kernel_steps(["analyze", str(study)]) == ["pattern"]
    assert _launch.kernel_steps(["analyze", str(study), "--only", "areas"]) == []  # no [area]
    study.write_text('[subjects]\npath = "s.csv"\n[analysis]\nengine = "dask"\n')
    assert _launch.kernel_steps(["analyze", str(study)]) == []
    assert _launch.kernel_steps(["analyze", str(study), "--engine", "local"]) == [
        "pattern",
        "autocorrelation",
    ]
    study.write_text("[analysis\n")  # not TOML: the command line says so, nothing starts
    assert _launch.kernel_steps(["analyze", str(study)]) == []


def test_the_value_options_are_those_of_the_analyze_command():
    command = typer.main.get_command(app).commands["analyze"]  # type: ignore[attr-defined]
    taking = {
        name
        for param in command.params
        if not getattr(param, "is_flag", False) and param.param_type_name == "option"
        for name in param.opts
    }
    assert taking == _launch.ANALYZE_VALUE_OPTIONS


def test_the_entry_finds_the_demo_study_files():
    assert _launch._demo_study(areas=False) == gs.demo_study_path()
    assert _launch._demo_study(areas=True) == demo_areas_study_path()


def test_the_entry_starts_the_compile_before_it_imports_the_command_line():
    code = (
        "import json, sys\n"
        "from geo_stunting import _compile_ahead, _launch\n"
        "def start(steps):\n"
        "    loaded = [m for m in ('geo_stunting.cli', 'pandas', 'numba') if m in sys.modules]\n"
        "    print(json.dumps({'steps': list(steps), 'loaded': loaded}))\n"
        "    sys.exit(0)\n"
        "_compile_ahead.start = start\n"
        "sys.argv = ['geo-stunting', 'demo', '--quiet']\n"
        "_launch.main()\n"
    )
    assert _run(code) == {"steps": KERNEL_STEPS, "loaded": []}


def test_the_start_imports_no_kernel_module(tmp_path):
    code = (
        "import json, sys\n"
        "from geo_stunting import _compile_ahead as ahead\n"
        "names = ahead.start(['pattern', 'autocorrelation'])\n"
        "loaded = [m for m in sys.modules if m.startswith(('numba', 'geo_stunting.pattern'))]\n"
        "ahead.close()\n"
        "print(json.dumps({'names': names, 'loaded': loaded}))\n"
    )
    report = _run(code, NUMBA_CACHE_DIR=str(tmp_path), **{ahead.ENV_SWITCH: "1"})
    assert report == {"names": ["scan_pairs", "packed_label_sums", "quadratic_form"], "loaded": []}
