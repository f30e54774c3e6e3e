"""Subjects just outside the study area: ``[area] outside_m`` keeps them, in the nearest area.

Boundary files and GPS fixes disagree by tens of metres (a kecamatan file and
a village file of the same district do not share their edges): without
``outside_m`` such a home is rejected with the ``outside_m`` that keeps it;
with it the home is kept, every step counts it in the nearest area, and the
pattern and relative-risk windows reach it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import shapely

import geo_stunting as gs
from geo_stunting.access import locate_in_areas
from geo_stunting.outputs._print import _counts_per_village
from geo_stunting.pattern._window import make_window
from geo_stunting.study._validate import OUTSIDE_M_MAX
from tests.conftest import SUBJECT_HEADER, good_rows

# 0.0005° (55 m) south of Desa A, and 0.003° (332 m) south of Desa B
NEAR = ["S100,case,Desa A,-3.2505,104.62,1", "S101,control,Desa B,-3.2530,104.68,2"]


def _study(write_study, area_section: str = "") -> gs.Study:
    text = "\n".join([SUBJECT_HEADER, *good_rows(), *NEAR]) + "\n"
    return gs.load_study(write_study(subjects=text, area_section=area_section))


def test_without_outside_m_they_are_rejected_with_the_setting_that_keeps_them(write_study):
    study = _study(write_study)
    reasons = dict(zip(study.rejects["id"], study.rejects["reason"], strict=True))
    assert re.search(
        r"outside the study area: 5\d m from the nearest area \(Desa A\)", reasons["S100"]
    )
    assert "keep points this close with outside_m = 100 in [area]" in reasons["S100"]
    assert "outside_m = 350 in [area]" in reasons["S101"]
    assert len(study.subjects) == 10


def test_outside_m_keeps_the_near_ones_only(write_study):
    study = _study(write_study, "outside_m = 100")
    assert "S100" in set(study.subjects["subject_id"])
    assert list(study.rejects["id"]) == ["S101"]
    note = next(n for n in study.notes if "outside the study area by up to" in n)
    assert re.search(r"1 row\(s\) lie outside the study area by up to 5\d m", note)
    assert "within outside_m = 100 in [area]" in note


def test_outside_m_above_its_limit_is_bad_input(write_study):
    with pytest.raises(gs.StudyFileError, match=r"outside_m.*from 0 to 2000"):
        _study(write_study, "outside_m = 5000")


def test_the_file_limit_is_the_code_limit() -> None:
    from geo_stunting.study._file_model import AreaSection  # noqa: PLC0415

    limits = AreaSection.model_fields["outside_m"].metadata
    assert any(getattr(m, "le", None) == OUTSIDE_M_MAX for m in limits)


def test_every_step_counts_them_in_the_nearest_area(write_study):
    study = _study(write_study, "outside_m = 400")
    assert len(study.subjects) == 12
    near = study.subjects[study.subjects["subject_id"].isin(["S100", "S101"])]
    names = study.area["name"].to_numpy()
    assert names[locate_in_areas(near, study.area).to_numpy()].tolist() == ["Desa A", "Desa B"]
    assert locate_in_areas(near, study.area, near_m=0).tolist() == [-1, -1]

    results = gs.analyze(
        study, steps=["access", "pattern", "relative_risk", "areas"], permutations=19
    )
    assert {s["status"] for s in results.sections["steps"].values()} == {"done"}
    per_area = results.sections["access"]["per_area"]
    assert sum(a["subjects_within"] + a["subjects_outside"] for a in per_area) == 12
    cases, controls = _counts_per_village(study.area, results.layers["subjects"])
    assert int(cases.sum() + controls.sum()) == 12
    areas = results.layers["areas"].set_index("area_name")
    assert int(areas["population"].sum()) == 12
    # 5 + S100 in A, 4 + S101 in B, and S006 on their shared edge in the first (A), as the
    # access step counts it (it was in neither polygon for the areas step before)
    assert areas["population"].to_dict() == {"Desa A": 7, "Desa B": 5}
    window = results.sections["pattern"]["window"]
    assert window["kind"] == "area"
    assert any("2 subject(s) lie up to 33" in n for n in window["notes"])


def test_the_window_reaches_them_and_stays_the_area_elsewhere(write_study):
    study = _study(write_study, "outside_m = 400")
    window = make_window(study.subjects, area=study.area, occupied_only=False)
    xy = np.column_stack([study.subjects.geometry.x, study.subjects.geometry.y])
    assert window.contains(xy).all()
    union = study.area.geometry.union_all()
    assert 0 < window.area_m2 - union.area < np.pi * 340.0**2 + np.pi * 60.0**2
    # a subject kept farther out (outside = "keep") is still refused by an "area" window
    far = study.subjects.copy()
    far.loc[far.index[0], "geometry"] = shapely.Point(
        union.bounds[0] - 3 * OUTSIDE_M_MAX, union.bounds[1]
    )
    with pytest.raises(gs.AnalysisError, match="lie outside the study window"):
        make_window(far, area=study.area, occupied_only=False)


def test_study_from_frames_takes_outside_m_too(write_study):
    study = _study(write_study, "outside_m = 400")  # the same frames, for a notebook
    subjects = gs.load_study(write_study()).subjects  # inside only
    near = study.subjects[study.subjects["subject_id"].isin(["S100", "S101"])]
    frame = pd.concat([subjects, near], ignore_index=True)
    built = gs.study_from_frames(frame, area=study.area, id="subject_id", outside_m=100)
    assert sorted(built.rejects["id"]) == ["S101"]  # 332 m out
    assert "S100" in set(built.subjects["subject_id"])
    with pytest.raises(gs.InputError, match="outside_m from 0 to 2000"):
        gs.study_from_frames(frame, area=study.area, id="subject_id", outside_m=-1)
