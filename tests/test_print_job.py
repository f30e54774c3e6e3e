"""The print maps drawn in a worker process beside the other outputs (outputs/_print_job.py)."""

from __future__ import annotations

import json
import os
import warnings

import pytest
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting import cli
from geo_stunting.errors import InputError
from geo_stunting.outputs import _print
from geo_stunting.outputs._export import write_outputs
from geo_stunting.outputs._print_job import fork_available, print_maps_beside

needs_fork = pytest.mark.skipif(not fork_available(), reason="no safe fork here (Windows, macOS)")


@pytest.fixture(scope="module")
def results():
    return gs.analyze(gs.load_study(gs.demo_study_path()), steps=["access"])


def _broken(*args, **kwargs):
    raise RuntimeError("no ink left")


@pytest.mark.parametrize("worker", [pytest.param(True, marks=needs_fork), False])
def test_same_files_in_a_worker_or_here(results, tmp_path, worker):
    folder = tmp_path / str(worker)
    folder.mkdir()
    with print_maps_beside(results.layers, results.sections, folder, worker=worker) as job:
        outcome = job.result()
    assert outcome.status == "done"
    assert outcome.worker is worker
    assert outcome.files == _print.PRINT_FILES
    assert sorted(p.name for p in folder.iterdir()) == sorted(_print.PRINT_FILES)
    assert all((folder / name).stat().st_size > 10_000 for name in _print.PRINT_FILES)
    assert outcome.to_dict() == {
        "status": "done",
        "files": list(_print.PRINT_FILES),
        "worker": worker,
    }


@pytest.mark.parametrize("worker", [pytest.param(True, marks=needs_fork), False])
def test_a_failure_is_an_outcome(results, tmp_path, monkeypatch, worker):
    monkeypatch.setattr(_print, "write_print_maps", _broken)  # the fork inherits the patch
    with print_maps_beside(results.layers, results.sections, tmp_path, worker=worker) as job:
        outcome = job.result()
    assert outcome.status == "failed"
    assert outcome.files == ()
    assert outcome.reason == "internal error (RuntimeError: no ink left); please report it"
    assert outcome.to_dict()["reason"] == outcome.reason


@needs_fork
def test_a_worker_that_dies_is_a_failure(results, tmp_path, monkeypatch):
    monkeypatch.setattr(_print, "write_print_maps", lambda *a, **k: os._exit(3))
    with print_maps_beside(results.layers, results.sections, tmp_path, worker=True) as job:
        outcome = job.result()
    assert outcome.status == "failed"
    assert "stopped without an answer (exit code 3)" in (outcome.reason or "")


@needs_fork
def test_the_workers_warnings_come_back(results, tmp_path, monkeypatch):
    def warn(*args, **kwargs):
        warnings.warn("a legend overflows", UserWarning, stacklevel=1)
        return ["map.pdf"]

    monkeypatch.setattr(_print, "write_print_maps", warn)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # in the worker a warning is a warning, not an error
        with (
            pytest.warns(UserWarning, match="a legend overflows"),
            print_maps_beside(results.layers, results.sections, tmp_path, worker=True) as job,
        ):
            outcome = job.result()
    assert outcome.status == "done"
    assert outcome.files == ("map.pdf",)


@needs_fork
def test_an_error_beside_stops_the_worker(results, tmp_path, monkeypatch):
    monkeypatch.setattr(_print, "write_print_maps", lambda *a, **k: os.pause())  # never ends
    started = []

    def write_the_rest():
        with print_maps_beside(results.layers, results.sections, tmp_path, worker=True) as job:
            started.append(job._process)
            raise ValueError("the GeoPackage failed")

    with pytest.raises(ValueError, match="the GeoPackage failed"):
        write_the_rest()
    (process,) = started
    assert process is not None
    assert not process.is_alive()
    assert process.exitcode == -9  # killed


def test_an_unknown_paper_raises_at_once(results, tmp_path):
    with (
        pytest.raises(InputError, match="paper must be 'a4' or 'a3', got 'letter'"),
        print_maps_beside(results.layers, results.sections, tmp_path, paper="letter"),
    ):
        pytest.fail("the block must not run")


def test_write_outputs_records_a_failed_print_and_writes_the_rest(results, tmp_path, monkeypatch):
    monkeypatch.setattr(_print, "write_print_maps", _broken)
    written = write_outputs(results, tmp_path / "out")
    out = tmp_path / "out"
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["steps"]["print_maps"]["status"] == "failed"
    assert "no ink left" in run["steps"]["print_maps"]["reason"]
    assert run["print"]["files"] == []
    for name in ("results.json", "layers.gpkg", "map.html", "report.html", "tables.xlsx"):
        assert (out / name).is_file(), name
        assert name in run["files"]
    assert not any((out / name).exists() for name in _print.PRINT_FILES)
    assert set(written) == {*run["files"], "run.json"}
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "map.png" not in report
    said = "The print-ready maps could not be drawn (internal error (RuntimeError: no ink left)"
    assert said in report
    assert "Peta siap cetak tidak dapat dibuat" in report  # the Indonesian page says it too


def test_write_outputs_lists_the_print_maps_drawn_beside(results, tmp_path):
    write_outputs(results, tmp_path / "out")
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["steps"]["print_maps"] == {
        "status": "done",
        "files": list(_print.PRINT_FILES),
        "worker": fork_available(),
    }
    assert set(_print.PRINT_FILES) <= set(run["files"])


def test_the_command_says_so_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.setattr(_print, "write_print_maps", _broken)
    out = tmp_path / "out"
    args = ["analyze", str(gs.demo_study_path()), "--only", "access", "--out", str(out), "-q"]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 1, result.output
    assert "print maps failed: print_maps: internal error (RuntimeError: no ink left)" in (
        " ".join(result.output.split())
    )
    assert (out / "results.json").is_file()
    assert (out / "map.html").is_file()


def test_the_map_command_says_so_and_exits_1_when_public_print_maps_fail(tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["analyze", str(gs.demo_study_path()), "--only", "access", "--out", str(out), "-q"]
    assert CliRunner().invoke(cli.app, args).exit_code == 0
    assert CliRunner().invoke(cli.app, ["map", str(out), "-q"]).exit_code == 0  # no print maps
    monkeypatch.setattr(_print, "write_print_maps", _broken)
    public = ["map", str(out), "--public", "--mask-seed", "5", "-q"]
    result = CliRunner().invoke(cli.app, public)
    assert result.exit_code == 1, result.output
    assert "print maps failed: print_maps_public: internal error (RuntimeError: no ink left)" in (
        " ".join(result.output.split())
    )
    assert (out / "public" / "map.html").is_file()
