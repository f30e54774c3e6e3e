"""The helper process that compiles the later steps' kernels on a first run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import geo_stunting as gs
from geo_stunting import _warm


def test_the_helper_fills_an_empty_numba_cache(tmp_path):
    cache = tmp_path / "numba"
    cache.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "geo_stunting._warm", str(gs.demo_study_path()), "scan"]
    subprocess.run(command, check=True, env=env, timeout=600, capture_output=True)
    written = {p.name.split("-")[0] for p in cache.rglob("*.nbi")}
    assert "_kernels.best_windows" in written  # the kernel `cache_is_cold` looks for
    check = "from geo_stunting._warm import cache_is_cold; print(cache_is_cold())"
    after = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
    )
    assert after.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("env", "n_subjects", "steps", "cold", "free"),
    [
        ("0", 201, None, True, True),  # turned off
        ("1", 50_000, None, True, True),  # too many children to read twice
        ("1", 201, ("access", "pattern"), True, True),  # no step it would help
        ("1", 201, None, False, True),  # the cache already holds the kernels
        ("1", 201, None, True, False),  # no idle core: the helper would only compete
    ],
)
def test_no_helper_when_it_would_not_help(monkeypatch, env, n_subjects, steps, cold, free):
    monkeypatch.setenv(_warm.WARM_ENV, env)
    monkeypatch.setattr(_warm, "cache_is_cold", lambda: cold)
    monkeypatch.setattr(_warm, "a_core_is_free", lambda: free)
    assert _warm.start_warming(gs.demo_study_path(), n_subjects, steps) is None


def test_a_helper_is_started_and_stopped(monkeypatch):
    monkeypatch.setenv(_warm.WARM_ENV, "1")
    monkeypatch.setattr(_warm, "cache_is_cold", lambda: True)
    monkeypatch.setattr(_warm, "a_core_is_free", lambda: True)
    helper = _warm.start_warming(gs.demo_study_path(), 201, ("access", "scan"))
    assert helper is not None
    assert helper.args[-1] == "scan"
    _warm.stop_warming(helper)
    assert helper.poll() is not None


def test_a_core_is_free_compares_the_load_with_the_cores(monkeypatch):
    monkeypatch.setattr(_warm.os, "sched_getaffinity", lambda _pid: {0, 1})
    monkeypatch.setattr(_warm.os, "getloadavg", lambda: (0.4, 0.0, 0.0))
    assert _warm.a_core_is_free()
    monkeypatch.setattr(_warm.os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert not _warm.a_core_is_free()
