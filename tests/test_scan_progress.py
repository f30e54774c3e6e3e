"""Relative risk and autocorrelation report their work to a progress reporter; estimates say so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import shapely

import geo_stunting as gs
from geo_stunting.autocorrelation import (
    build_neighbours,
    getis_ord,
    join_counts,
    local_moran,
    moran,
)
from geo_stunting.estimate import estimate_step
from geo_stunting.progress import Advance, use_reporter
from geo_stunting.scan import _bandwidth
from geo_stunting.scan._relative_risk import relative_risk_xy


class Recorder:
    """Totals and units done of every progress bar opened."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: dict[str, int] = {}

    @contextmanager
    def __call__(self, description: str, total: int) -> Iterator[Advance]:
        self.totals[description] = self.totals.get(description, 0) + total
        self.done.setdefault(description, 0)

        def advance(n: int = 1) -> None:
            self.done[description] += n

        yield advance


def _bar(recorder: Recorder, word: str) -> tuple[int, int]:
    keys = [k for k in recorder.totals if word in k]
    assert len(keys) == 1, recorder.totals
    return recorder.totals[keys[0]], recorder.done[keys[0]]


def test_relative_risk_counts_bandwidth_tasks_and_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    # the compiled bandwidth search (a small one is a NumPy matrix of a few milliseconds)
    monkeypatch.setattr(_bandwidth, "SMALL_BANDWIDTH_POINTS", 0)
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2_000, size=(121, 2))
    is_case = rng.random(121) < 0.3
    recorder = Recorder()
    with use_reporter(recorder):
        result = relative_risk_xy(
            xy[:, 0], xy[:, 1], is_case, window=shapely.box(-100, -100, 2_100, 2_100),
            permutations=19, seed=2,
        )  # fmt: skip
    total, done = _bar(recorder, "bandwidth search")
    assert total == done == 61  # rows i and n - 1 - i together
    total, done = _bar(recorder, "19 labellings")
    assert total == done == len(result.x)  # supported and unsupported cells, every one


def test_relative_risk_footprints_count_labellings(monkeypatch: pytest.MonkeyPatch) -> None:
    from geo_stunting.scan import _relative_risk  # noqa: PLC0415

    monkeypatch.setattr(_relative_risk, "DENSE_MAX_TERMS", 0)  # the path of large studies
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 2_000, size=(121, 2))
    recorder = Recorder()
    with use_reporter(recorder):
        result = relative_risk_xy(
            xy[:, 0], xy[:, 1], rng.random(121) < 0.3, window=shapely.box(-100, -100, 2_100, 2_100),
            permutations=19, seed=2,
        )  # fmt: skip
    total, done = _bar(recorder, "19 labellings")
    assert total == done == 19
    tested = int(result.supported.sum())
    assert any(f"each on {tested:,} cells" in k for k in recorder.totals)  # only supported ones


def test_autocorrelation_counts_permutations_and_subjects() -> None:
    demo = gs.load_study(gs.demo_study_path())
    subjects = demo.subjects
    neighbours = build_neighbours(subjects)
    recorder = Recorder()
    with use_reporter(recorder):
        moran(subjects, neighbours=neighbours, permutations=11, seed=1)
        join_counts(subjects, neighbours=neighbours, permutations=13, seed=1)
        local_moran(subjects, neighbours=neighbours, permutations=7, seed=1)
        getis_ord(subjects, neighbours=neighbours, permutations=7, seed=1)
    assert _bar(recorder, "Moran's I") == (11, 11)
    assert _bar(recorder, "join counts") == (13, 13)
    assert _bar(recorder, "LISA") == (len(subjects), len(subjects))
    assert _bar(recorder, "Gi*") == (len(subjects), len(subjects))


def test_relative_risk_estimate_says_how_to_shorten() -> None:
    study = gs.load_study(gs.demo_study_path())
    fewer = estimate_step(
        "relative_risk", study.with_settings(study.settings.with_overrides(permutations=99))
    )
    many = estimate_step("relative_risk", study)
    assert fewer is not None
    assert many is not None
    assert many.seconds > fewer.seconds
    assert "fixed bandwidth_m" in many.shorten
    assert "--permutations 99" in many.sentence()
