"""analyze(): the same sections and layers in Python as the CLI writes."""

from __future__ import annotations

import json

import pytest

import geo_stunting as gs
from geo_stunting import pipeline
from geo_stunting.pipeline import StepOutput
from tests.conftest import SUBJECT_HEADER, good_rows


@pytest.fixture(scope="module")
def demo_study():
    return gs.load_study(gs.demo_study_path())


def test_demo_study_summary(demo_study):
    results = gs.analyze(demo_study)
    study = results.sections["study"]
    assert study["n_cases"] == 67
    assert study["n_controls"] == 134
    assert study["n_facilities"] == len(demo_study.facilities)
    assert study["n_rejected"] == 0
    assert study["crs"] == "EPSG:32748"
    # The area is the union of the villages, measured in the analysis CRS.
    assert study["area_m2"] == pytest.approx(demo_study.area.geometry.union_all().area)
    assert set(results.layers) >= {"subjects", "facilities", "area"}
    assert results.sections["settings"]["seed"] == 20231


def test_same_seed_gives_identical_results_json(demo_study):
    first = gs.analyze(demo_study, seed=5).to_json()
    second = gs.analyze(demo_study, seed=5).to_json()
    assert first == second
    assert json.loads(first)["settings"]["seed"] == 5


def test_steps_not_implemented_are_reported_honestly(demo_study, monkeypatch):
    monkeypatch.setattr(pipeline, "_REGISTRY", {})
    results = gs.analyze(demo_study, steps=["scan"])
    assert results.sections["steps"] == {
        "scan": {
            "status": "not_available",
            "reason": "not implemented in this version of geo_stunting",
        }
    }


def _fake_step(study):
    return StepOutput(
        section={"n": len(study.subjects), "x": 0.1 + 0.2}, layers={"fake": study.subjects}
    )


def test_registered_step_runs_and_fills_its_section(demo_study, monkeypatch):
    monkeypatch.setattr(pipeline, "_REGISTRY", dict(pipeline._REGISTRY))
    pipeline.register_step("risk_factors", title="fake", needs={"cases", "controls"})(_fake_step)
    results = gs.analyze(demo_study, steps=["risk_factors"])
    assert results.sections["risk_factors"] == {"n": 201, "x": pytest.approx(0.3)}
    assert json.loads(results.to_json())["risk_factors"]["x"] == 0.3  # rounded to 10 digits
    assert results.sections["steps"]["risk_factors"] == {"status": "done"}
    assert "fake" in results.layers
    assert "risk_factors" in results.timings


def test_step_needing_both_groups_says_why_it_is_skipped(write_study, monkeypatch):
    monkeypatch.setattr(pipeline, "_REGISTRY", dict(pipeline._REGISTRY))
    pipeline.register_step("scan", title="fake", needs={"cases", "controls"})(_fake_step)
    pipeline.register_step("access", title="fake", needs={"facilities"})(_fake_step)
    text = "\n".join([SUBJECT_HEADER, *good_rows(n_cases=5, n_controls=0)])
    study = gs.load_study(write_study(subjects=text, facilities=None))
    results = gs.analyze(study, steps=["access", "scan"])
    assert results.sections["steps"]["scan"] == {
        "status": "skipped",
        "reason": "the study has no controls; this step compares cases with controls",
    }
    assert results.sections["steps"]["access"]["reason"].startswith("the study has no facilities")


def test_register_step_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown step 'acces'"):
        pipeline.register_step("acces", title="x")
    with pytest.raises(ValueError, match="unknown needs"):
        pipeline.register_step("access", title="x", needs={"roads"})


def test_analyze_does_not_change_the_study(demo_study):
    before = demo_study.subjects.copy()
    gs.analyze(demo_study, seed=1, permutations=9)
    assert demo_study.settings.seed == 20231
    assert demo_study.subjects.equals(before)


def test_public_names_resolve():
    for name in gs.__all__:
        assert getattr(gs, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gs.nope  # noqa: B018


def test_only_the_modules_of_the_steps_run_are_imported(tmp_path):
    """``--only access`` loads neither numba nor libpysal/esda (seconds of start-up)."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "import sys, geo_stunting as gs\n"
        "from geo_stunting.outputs._export import write_outputs\n"
        "results = gs.analyze(gs.load_study(gs.demo_study_path()), steps=['access'])\n"
        f"write_outputs(results, {str(tmp_path / 'out')!r})\n"
        "heavy = ('numba', 'esda', 'libpysal', 'mapclassify')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["access"]["cases_within"] == 67
    # every step is still there when asked for
    assert "pattern" in pipeline._load_steps(["pattern"])
