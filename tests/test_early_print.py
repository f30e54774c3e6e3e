"""The print maps started while the analysis still runs (outputs/_early_print.py)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting import cli
from geo_stunting.outputs import _print
from geo_stunting.outputs._early_print import PRINT_LAYERS, PRINT_SECTIONS, EarlyPrint
from geo_stunting.outputs._print_job import fork_available

needs_fork = pytest.mark.skipif(not fork_available(), reason="no safe fork here (Windows, macOS)")


@pytest.fixture(scope="module")
def study():
    return gs.load_study(gs.demo_study_path())


@pytest.fixture(scope="module")
def plain(study):
    return gs.analyze(study, permutations=19)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix == ".png"}


def test_the_print_maps_need_only_these_layers_and_sections(plain, tmp_path):
    (tmp_path / "all").mkdir()
    (tmp_path / "some").mkdir()
    _print.write_print_maps(plain.layers, plain.sections, tmp_path / "all")
    layers = {name: plain.layers[name] for name in PRINT_LAYERS if name in plain.layers}
    sections = {name: plain.sections[name] for name in PRINT_SECTIONS}
    _print.write_print_maps(layers, sections, tmp_path / "some")
    assert len(_files(tmp_path / "all")) == 3
    assert _files(tmp_path / "some") == _files(tmp_path / "all")


class _Recorder:
    steps = ("access", "scan", "relative_risk")

    def __init__(self):
        self.calls = []

    def __call__(self, layers, sections):
        self.calls.append((dict(layers), {**sections, "steps": set(sections["steps"])}))


def test_analyze_runs_the_hooks_steps_first_and_calls_it_once(study, plain):
    ran: list[str] = []
    hook = _Recorder()
    results = gs.analyze(
        study, permutations=19, early=hook, progress=lambda name, title: ran.append(name)
    )
    assert ran[:3] == ["access", "scan", "relative_risk"]
    assert len(hook.calls) == 1
    layers, sections = hook.calls[0]
    assert {"access", "scan", "relative_risk"} <= set(sections["steps"])
    assert "pattern" not in sections["steps"]  # called before the other steps
    for name in PRINT_LAYERS:  # the very frames of the results
        assert layers.get(name) is results.layers.get(name), name
    assert results.to_json() == plain.to_json()  # and the same results


def test_a_hook_whose_steps_are_not_run_is_called_at_the_start_or_the_end(study):
    hook = _Recorder()
    gs.analyze(study, permutations=19, steps=["risk_factors"], early=hook)
    assert len(hook.calls) == 1
    hook = _Recorder()
    gs.analyze(study, permutations=19, steps=["access"], early=hook)
    assert len(hook.calls) == 1
    assert "access" in hook.calls[0][1]


@needs_fork
def test_the_early_maps_are_those_drawn_at_the_end(study, plain, tmp_path):
    (tmp_path / "early").mkdir()
    (tmp_path / "end").mkdir()
    with EarlyPrint(tmp_path / "early") as early:
        results = gs.analyze(study, permutations=19, early=early)
        job = early.job(results)
        assert job is not None
        with job as running:
            outcome = running.result()
    assert outcome.status == "done"
    assert outcome.worker
    _print.write_print_maps(plain.layers, plain.sections, tmp_path / "end")
    assert _files(tmp_path / "early") == _files(tmp_path / "end")


@needs_fork
def test_early_maps_out_of_date_are_stopped_and_drawn_again(study, tmp_path):
    with EarlyPrint(tmp_path) as early:
        results = gs.analyze(study, permutations=19, early=early)
        running = early._job
        assert running is not None
        changed = results.layers["subjects"].copy()  # a later step replaced a drawn layer
        results.layers["subjects"] = changed
        assert early.job(results) is None
        assert running._process is not None
        assert not running._process.is_alive()  # stopped
    with EarlyPrint(tmp_path) as early:
        results = gs.analyze(study, permutations=19, early=early)
        results.sections["settings"] = {**results.sections["settings"], "buffer_m": 1.0}
        assert early.job(results) is None


def test_without_villages_the_maps_are_drawn_at_the_end(plain, tmp_path):
    early = EarlyPrint(tmp_path)
    layers = {k: v for k, v in plain.layers.items() if k != "area"}
    early(layers, plain.sections)
    assert early.job(plain) is None


@needs_fork
def test_the_demo_command_draws_the_print_maps_early(tmp_path, monkeypatch):
    started = []
    original = EarlyPrint.__call__

    def spy(self, layers, sections):
        original(self, layers, sections)
        started.append(self._job is not None)

    monkeypatch.setattr(EarlyPrint, "__call__", spy)
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli.app, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert started == [True]
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["steps"]["print_maps"] == {
        "status": "done",
        "files": ["map.pdf", "map.png", "map_access.png", "map_clusters.png"],
        "worker": True,
    }
