"""The access step's outputs: one subjects layer, nearest lines by size or on request."""

from __future__ import annotations

import dataclasses
import json

import pytest

import geo_stunting as gs
from geo_stunting.access import _coverage
from geo_stunting.errors import StudyFileError
from geo_stunting.study import read_study_file


@pytest.fixture(scope="module")
def demo() -> gs.Study:
    return gs.load_study(gs.demo_study_path())


def _with_lines(study: gs.Study, asked: bool | None) -> gs.Study:
    return study.with_settings(dataclasses.replace(study.settings, nearest_lines=asked))


def test_the_subjects_layer_carries_the_access_columns(demo: gs.Study) -> None:
    results = gs.analyze(demo, steps=["access"])
    subjects = results.layers["subjects"]
    assert "subjects_access" not in results.layers
    assert list(subjects["subject_id"]) == list(demo.subjects["subject_id"])
    assert subjects.geometry.geom_equals(demo.subjects.geometry).all()
    # every input column is kept, the access columns are added
    assert set(demo.subjects.columns) < set(subjects.columns)
    assert {"distance_m", "nearest_facility_id", "within_buffer"} <= set(subjects.columns)
    assert "distance_m" not in demo.subjects  # the study's frame is not changed
    assert results.provenance["access"]["nearest_lines"]["written"] is True
    assert "nearest_lines" not in results.sections["access"]  # said only when left out


def test_lines_are_left_out_above_the_limit_and_results_say_why(demo, monkeypatch) -> None:
    monkeypatch.setattr(_coverage, "NEAREST_LINES_MAX", 200)  # the demo has 201 subjects
    results = gs.analyze(demo, steps=["access"])
    assert "nearest_lines" not in results.layers
    said = results.sections["access"]["nearest_lines"]
    assert said == {
        "written": False,
        "reason": "201 subjects, more than 200 (the default limit)",
        "fix": "to get them, write nearest_lines = true under [analysis] in the study file",
    }
    assert results.provenance["access"]["nearest_lines"] == said
    # the geodesic check no longer needs the lines: the same figure either way
    full = gs.analyze(demo, steps=["access"]).sections["access"]["geodesic_check"]
    assert results.sections["access"]["geodesic_check"] == full
    asked = gs.analyze(_with_lines(demo, True), steps=["access"])
    assert len(asked.layers["nearest_lines"]) == 201
    assert "nearest_lines" not in asked.sections["access"]


def test_lines_can_be_refused_below_the_limit(demo) -> None:
    results = gs.analyze(_with_lines(demo, False), steps=["access"])
    assert "nearest_lines" not in results.layers
    assert results.sections["access"]["nearest_lines"]["reason"] == (
        "[analysis] nearest_lines = false"
    )


def _study_file(folder, line: str):
    base = gs.demo_study_path().parent.as_posix()
    text = gs.demo_study_path().read_text(encoding="utf-8")
    text = text.replace('path = "', f'path = "{base}/').replace("[analysis]", f"[analysis]\n{line}")
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_study_file_option(tmp_path) -> None:
    assert read_study_file(_study_file(tmp_path, "nearest_lines = true")).analysis.nearest_lines
    off = read_study_file(_study_file(tmp_path, "nearest_lines = false")).analysis.nearest_lines
    assert off is False
    assert read_study_file(gs.demo_study_path()).analysis.nearest_lines is None
    with pytest.raises(StudyFileError, match=r"nearest_lines must be true or false"):
        read_study_file(_study_file(tmp_path, 'nearest_lines = "yes"'))
    study = gs.load_study(_study_file(tmp_path, "nearest_lines = false"))
    assert "nearest_lines" not in gs.analyze(study, steps=["access"]).layers


def test_results_json_of_a_run_without_lines_is_plain_json(demo, monkeypatch) -> None:
    monkeypatch.setattr(_coverage, "NEAREST_LINES_MAX", 10)
    results = gs.analyze(demo, steps=["access"])
    sections = json.loads(results.to_json())
    assert sections["access"]["nearest_lines"]["written"] is False
