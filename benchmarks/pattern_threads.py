"""Benchmark: G envelopes and Clark–Evans simulations in one thread against two, by pattern size.

`geo_stunting.pattern._threads.ONE_THREAD_MAX_POINTS` is where two threads
start to pay for the NumPy twins of G and Clark–Evans (their small arrays
hold the GIL): this script measures it. Uniform patterns of each size in the
demo's study window, 499 simulations (999 at 1,000 points), the same seeds
in both runs (the results are byte-identical, checked), after a short warm-up
run per size; wall seconds.

Usage: ``python benchmarks/pattern_threads.py [--sizes 67,134,200,300,500,700,1000]``
"""

from __future__ import annotations

import argparse
import os
import time

import geopandas as gpd
import numpy as np

import geo_stunting as gs
from geo_stunting.pattern._kfunction import envelope
from geo_stunting.pattern._nearest_neighbour import clark_evans
from geo_stunting.pattern._step import _study_window
from geo_stunting.pattern._threads import ONE_THREAD_MAX_POINTS, THREADS_ENV


def _timed(pts: gpd.GeoDataFrame, window: object, sims: int, threads: str) -> tuple[float, ...]:
    os.environ[THREADS_ENV] = threads
    started = time.perf_counter()
    g = envelope(pts, window=window, statistic="G", correction="km", permutations=sims, seed=1)
    middle = time.perf_counter()
    ce = clark_evans(pts, window=window, permutations=sims, seed=2)
    return middle - started, time.perf_counter() - middle, g.p_global, ce.to_dict()["p_mc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="67,134,200,300,500,700,1000")
    args = parser.parse_args()
    study = gs.load_study(gs.demo_study_path())
    window, _ = _study_window(study.subjects, study.area)
    print(f"one thread up to {ONE_THREAD_MAX_POINTS} points (wall s; G envelope, Clark–Evans)")
    for n in (int(s) for s in args.sizes.split(",")):
        xy = window.random_points(n, rng=np.random.default_rng(n))
        pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=study.crs)
        sims = 999 if n >= 1000 else 499
        _timed(pts, window, 19, "1")  # the window's lookup grids for this size, built once
        one, two = _timed(pts, window, sims, "1"), _timed(pts, window, sims, "2")
        assert one[2:] == two[2:], "threads changed a result"
        print(
            f"  {n:>5} points: one thread G {one[0]:.2f}, CE {one[1]:.2f}; "
            f"two threads G {two[0]:.2f}, CE {two[1]:.2f}  (two/one: G {two[0] / one[0]:.2f}, "
            f"CE {two[1] / one[1]:.2f})"
        )


if __name__ == "__main__":
    main()
