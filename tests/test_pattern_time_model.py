"""The pattern step's time model against the district runs of benchmarks/district.py.

The measured figures are recorded here: CPU seconds of the whole step (both
threads counted), 999 permutations, the 241-village Ogan Ilir window, a fifth
cases (benchmarks/district_study.py; see benchmarks/README.md). CPU seconds,
because the machine they were measured on was shared: wall seconds there said
more about the other jobs. The model's seconds are wall seconds on its
threads, so its CPU is those times the threads. It must stay within a factor
of the measurements, and no stale warning may be printed for a 30,000-child
district that takes about a minute on two cores.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geo_stunting as gs
from geo_stunting._safety import resource_problems
from geo_stunting.estimate import estimate_step

#: CPU seconds of the pattern step measured at 5,000 and 30,000 children (2 threads).
MEASURED_CPU_S = {5000: 23.1, 30000: 143.3}
#: The model may be off by this factor either way (a busy machine takes longer).
FACTOR = 2.0
#: The window: 2,301 km² inside a 56.8 km × 84.9 km box (EPSG:32748), 239 villages.
BOUNDS = (423_899.4, 9_579_629.3, 480_716.6, 9_664_538.0)
AREA_M2 = 2_301_174_220.6


def _district(n: int) -> gs.Study:
    """The demo study with n subjects (a fifth cases) in a polygon of the window's area and box."""
    demo = gs.load_study(gs.demo_study_path())
    minx, miny, maxx, maxy = BOUNDS
    notch_w = 40_000.0
    notch_h = ((maxx - minx) * (maxy - miny) - AREA_M2) / notch_w
    polygon = shapely.box(*BOUNDS).difference(
        shapely.box(maxx - notch_w, maxy - notch_h, maxx, maxy)
    )
    area = gpd.GeoDataFrame({"name": ["window"]}, geometry=[polygon], crs=demo.crs)
    rng = np.random.default_rng(1)
    subjects = gpd.GeoDataFrame(
        {
            "status": np.where(np.arange(n) % 5 == 0, "case", "control"),
            "stratum": pd.Series(rng.integers(0, 239, n)).astype(str),
        },
        geometry=gpd.points_from_xy(
            rng.uniform(minx, maxx - notch_w, n), rng.uniform(miny, maxy, n)
        ),
        crs=demo.crs,
    )
    return replace(demo, subjects=subjects, area=area)


@pytest.mark.parametrize("n", sorted(MEASURED_CPU_S))
def test_pattern_estimate_is_within_a_factor_of_the_district_runs(
    n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEO_STUNTING_THREADS", "2")
    study = _district(n)
    assert study.area is not None
    assert float(study.area.geometry.area.sum()) == pytest.approx(AREA_M2)
    estimate = estimate_step("pattern", study)
    assert estimate is not None
    cpu = estimate.seconds * 2  # two threads
    assert MEASURED_CPU_S[n] / FACTOR <= cpu <= MEASURED_CPU_S[n] * FACTOR


def test_no_stale_hours_warning_for_a_30000_child_district(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GEO_STUNTING_THREADS", "2")
    with caplog.at_level(logging.WARNING, logger="geo_stunting._safety"):
        problems = resource_problems(_district(30000), ("pattern",), available=2**40)
    assert problems == []
    assert "hours" not in caplog.text  # it was "about 0.4 hours" for two minutes of work
