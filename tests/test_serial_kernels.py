"""The serial twins of the parallel kernels give bit-identical results."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from geo_stunting.scan import _bandwidth, _kernels, scan_bernoulli_xy
from geo_stunting.scan._serial import serial_twin


def test_the_twin_is_a_separate_serial_compilation():
    twin = _bandwidth._loo_sums_serial
    assert twin.py_func.__qualname__ == "_loo_sums_serial"  # its own entry in numba's cache
    assert twin.targetoptions.get("parallel") in (None, False)
    assert _bandwidth._loo_sums.targetoptions.get("parallel") is True
    assert (
        serial_twin(_bandwidth._loo_sums).py_func.__code__ is _bandwidth._loo_sums.py_func.__code__
    )


def test_leave_one_out_sums_are_identical():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 5000, (300, 2))
    types = (rng.random(300) < 0.3).astype(np.int64)
    h = np.geomspace(50, 2000, 12)
    cut_all = 8 * h
    cut_type = np.vstack([8 * h, 6 * h])
    parallel = _bandwidth._loo_sums(xy, types, h, cut_all, cut_type)
    serial = _bandwidth._loo_sums_serial(xy, types, h, cut_all, cut_type)
    for a, b in zip(parallel, serial, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("direction", ["high", "both"])
def test_scan_is_identical_with_either_sweep(monkeypatch, direction):
    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 8000, 150), rng.uniform(0, 8000, 150)
    is_case = rng.random(150) < 0.35
    is_case[(x < 2000) & (y < 2000)] = True

    def run():
        return scan_bernoulli_xy(x, y, is_case, permutations=199, seed=5, direction=direction)

    monkeypatch.setattr(_kernels, "SERIAL_BELOW", 0)  # every scan takes the parallel sweep
    parallel = run()
    monkeypatch.setattr(_kernels, "SERIAL_BELOW", 10**9)  # every scan takes the serial twin
    serial = run()
    assert [dataclasses.asdict(c) for c in parallel.clusters] == [
        dataclasses.asdict(c) for c in serial.clusters
    ]
