"""Every long or big step is refused up front, with the numbers and the fix (issue 12, item 5).

Before, only the pattern step's time and the scan's and relative risk's memory
were checked: a distance band holding every subject, a logistic model with a
factor of thousands of levels, or 999,999 relabellings on a fine grid ran
until the machine ran out of memory or for days.
"""

from __future__ import annotations

import re
from dataclasses import replace as dc_replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting import _safety, cli
from geo_stunting._safety import resource_problems
from geo_stunting.estimate import estimate_step

if TYPE_CHECKING:
    from pathlib import Path

runner = CliRunner()
ALL = ("access", "pattern", "autocorrelation", "scan", "relative_risk", "risk_factors", "areas")


@pytest.fixture(scope="module")
def demo_study_small() -> gs.Study:
    return gs.load_study(gs.demo_study_path())


def _bigger(study: gs.Study, times: int) -> gs.Study:
    many = pd.concat([study.subjects] * times, ignore_index=True)
    return dc_replace(study, subjects=many)


def test_the_demo_is_not_refused_and_every_step_has_an_estimate(demo_study_small: gs.Study):
    assert resource_problems(demo_study_small, ALL, available=2**33) == []
    for step in ALL:
        if step != "areas":  # the demo has no area table
            estimate = estimate_step(step, demo_study_small)
            assert estimate is not None, step
            assert estimate.memory_bytes > 0, step


def test_relative_risk_for_days_is_refused_with_the_hours(demo_study_small: gs.Study):
    settings = demo_study_small.settings.with_overrides(permutations=999_999)
    # cells of 5 m: a kernel of 2 km reaches 12 million of them, every one in each relabelling
    tiny = dc_replace(settings.relative_risk, bandwidth_m=2_000.0, cell_m=5.0)
    settings = dc_replace(settings, relative_risk=tiny)
    study = _bigger(demo_study_small.with_settings(settings), 1000)  # 201,000 subjects
    problems = resource_problems(study, ("relative_risk",), available=2**50)
    assert len(problems) == 1
    assert re.search(
        r"the relative_risk step would take about [\d,]+ hours \(999,999 relabellings of 201,000 "
        r"subjects on [\d,]+ grid cells, .*; limit 24 hours\)",
        str(problems[0]),
    )
    assert "--permutations 99" in str(problems[0])


def test_a_distance_band_holding_everyone_is_refused_naming_the_weights(
    demo_study_small: gs.Study,
):
    settings = dc_replace(demo_study_small.settings, weights="distance:100000")
    study = _bigger(demo_study_small.with_settings(settings), 200)  # 40,200 subjects
    problems = resource_problems(study, ("autocorrelation",), available=2**32)
    assert problems, "a band of 100 km holds every subject: 1.6 billion neighbours"
    text = " ".join(map(str, problems))
    assert "the autocorrelation step would need about" in text
    assert "with about 40,199 neighbours each (weights = 'distance:100000')" in text
    assert "knn:5" in text
    knn = study.with_settings(dc_replace(settings, weights="knn:5"))
    assert resource_problems(knn, ("autocorrelation",), available=2**32) == []


def test_a_logistic_factor_with_thousands_of_levels_is_refused(demo_study_small: gs.Study):
    study = _bigger(demo_study_small, 100)  # 20,100 subjects
    rng = np.random.default_rng(1)
    subjects = study.subjects.assign(
        house=[f"H{k}" for k in rng.integers(0, 5000, len(study.subjects))]
    )
    spec = {"categorical": ["house"], "logistic": ["house"]}
    study = dc_replace(study, subjects=subjects, risk_factors=spec)
    problems = resource_problems(study, ("risk_factors",), available=2**30)
    text = " ".join(map(str, problems))
    assert re.search(r"a logistic model of 20,100 subjects with [\d,]{5} terms", text)
    assert "group the levels" in text


def test_access_on_more_than_the_machine_holds_is_refused(demo_study_small: gs.Study):
    study = _bigger(demo_study_small, 1000)  # 201,000 subjects
    problems = resource_problems(study, ("access",), available=2**28)
    assert len(problems) == 1
    assert re.search(
        r"the access step would need about [\d.]+ GiB of memory \(201,000 subjects, 12 "
        r"facilities of 3 kind\(s\)\); this machine has 0.2 GiB available",
        str(problems[0]),
    )
    assert 'engine = "dask"' in str(problems[0])


def test_the_command_line_refuses_with_a_message_not_a_traceback(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(_safety, "available_memory_bytes", lambda: 2**20)  # 1 MiB left
    out = tmp_path / "out"
    result = runner.invoke(
        cli.app,
        ["analyze", str(gs.demo_study_path()), "--out", str(out), "--only", "access", "-q"],
    )
    assert result.exit_code == 2, result.output
    assert "the access step would need about" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("weights", ["knn:5", "distance:500"])
def test_estimates_grow_with_permutations(demo_study_small: gs.Study, weights: str):
    base = demo_study_small.with_settings(dc_replace(demo_study_small.settings, weights=weights))
    few = base.with_settings(base.settings.with_overrides(permutations=99))
    for step in ("autocorrelation", "relative_risk"):
        small, large = estimate_step(step, few), estimate_step(step, base)
        assert small is not None
        assert large is not None
        assert large.seconds > small.seconds


def test_run_json_records_the_peak_memory_of_the_run_and_of_each_step(
    demo_study_small: gs.Study, tmp_path: Path
):
    import json  # noqa: PLC0415

    from geo_stunting.outputs._export import write_outputs  # noqa: PLC0415

    results = gs.analyze(demo_study_small, steps=["access"])
    write_outputs(results, tmp_path / "out")
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["peak_rss_mib"] >= run["steps"]["access"]["peak_rss_mib"] > 50


def test_a_50k_scan_fits_in_8_gib(demo_study_small: gs.Study):
    """The scan holds neighbour lists by blocks of centres, not an n × n table (40 GB at 50k)."""
    settings = demo_study_small.settings.with_overrides(permutations=999)
    study = _bigger(demo_study_small.with_settings(settings), 250)  # 50,250 subjects
    problems = resource_problems(study, ("scan",), available=2**33)
    assert not [p for p in problems if "memory" in str(p)], problems
