"""Small patterns simulate G and Clark–Evans in one thread: the same results as in several."""

from __future__ import annotations

import numpy as np
import pytest

import geo_stunting as gs
from geo_stunting.pattern import _threads
from geo_stunting.pattern._threads import (
    ONE_THREAD_MAX_POINTS,
    THREADS_ENV,
    threads_for_numpy_twins,
)


@pytest.fixture(scope="module")
def study():
    return gs.load_study(gs.demo_study_path())


def test_one_thread_for_numpy_twins_unless_told(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert threads_for_numpy_twins(67) == 1
    assert threads_for_numpy_twins(ONE_THREAD_MAX_POINTS) == 1
    assert threads_for_numpy_twins(ONE_THREAD_MAX_POINTS + 1) is None  # 1,000 points: threads
    monkeypatch.setenv(THREADS_ENV, "3")
    assert threads_for_numpy_twins(67) is None  # the variable decides


def test_g_envelope_and_clark_evans_are_the_same_in_one_thread_or_three(study, monkeypatch):
    cases = study.subjects[study.subjects["status"] == "case"]
    window = gs.make_window(study.subjects, area=study.area)
    used: list[int | None] = []
    original = _threads.map_in_order

    def spy(func, items, *, threads=None):
        used.append(threads)
        return original(func, items, threads=threads)

    def run():
        g = gs.envelope(
            cases, window=window, statistic="G", correction="km", permutations=39, seed=5
        )
        ce = gs.clark_evans(cases, window=window, permutations=39, seed=6)
        return g, ce

    monkeypatch.delenv(THREADS_ENV, raising=False)
    for module in ("geo_stunting.pattern._kfunction", "geo_stunting.pattern._nearest_neighbour"):
        monkeypatch.setattr(f"{module}.map_in_order", spy)
    alone = run()
    assert used[-2:] == [1, 1]
    monkeypatch.setenv(THREADS_ENV, "3")
    several = run()
    assert used[-2:] == [None, None]  # thread_count(): 3
    for field in ("lo", "hi", "global_lo", "global_hi"):
        assert np.array_equal(getattr(alone[0], field), getattr(several[0], field)), field
    assert alone[0].p_global == several[0].p_global
    assert alone[1].to_dict() == several[1].to_dict()
