"""Benchmark: Clark–Evans Monte Carlo, K envelopes and Moran's I against their peers.

Side by side, on CSR points in a non-rectangular window (the union of the
demo study's villages, 111 km², 317 edges):

* Clark–Evans index with a 999-simulation Monte Carlo test: geo_stunting vs
  spatstat's ``clarkevans.test(correction = "none", nsim = 999)`` (via
  Rscript) vs pointpats (its ``random.poisson`` in the polygon and
  ``PointPattern.mean_nnd``);
* K envelopes from 99 simulations, isotropic (Ripley) correction, spatstat's
  default r grid (513 values): geo_stunting vs spatstat's ``envelope(X, Kest,
  correction = "isotropic", nsim = 99)`` vs pointpats' ``k_test`` (which has
  no edge correction and builds all pairwise distances; 20 r values);
* Moran's I of a 0/1 variable with 999 permutations on 5-nearest-neighbour
  weights: geo_stunting's ``moran`` vs ``esda.Moran`` called directly.

A peer whose full run would take longer than ``--budget`` seconds runs fewer
simulations and its time is extrapolated linearly (marked ``*``); for
spatstat's K envelope that is one Kest of the data plus 99 times one Kest of
a simulated pattern (its isotropic K takes about 90 s per pattern at 20,000
points here).

Usage: ``python benchmarks/pattern.py [--quick] [--budget 60] [--only moran]``
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import warnings
from collections.abc import Callable
from typing import Any

import esda
import geopandas as gpd
import numpy as np
from _rscript import spatstat_times
from libpysal.weights import WSP

import geo_stunting as gs
from geo_stunting.autocorrelation._neighbours import k_nearest
from geo_stunting.autocorrelation._statistics import moran
from geo_stunting.pattern._kfunction import envelope
from geo_stunting.pattern._nearest_neighbour import clark_evans
from geo_stunting.pattern._window import StudyWindow, make_window

R_SCRIPT = r"""
suppressMessages(library(spatstat))
args <- commandArgs(trailingOnly = TRUE)
pts <- read.csv(args[1])
wkt <- readLines(args[2], warn = FALSE)
budget <- as.numeric(args[3])
rings <- regmatches(wkt, gregexpr("\\(([^()]+)\\)", wkt))[[1]]
polys <- lapply(rings, function(ring) {
  ring <- gsub("[()]", "", ring)
  xy <- do.call(rbind, lapply(strsplit(strsplit(ring, ",")[[1]], " "),
                              function(p) as.numeric(p[nzchar(p)])))
  xy <- xy[-nrow(xy), , drop = FALSE]
  list(x = xy[, 1], y = xy[, 2])
})
W <- owin(poly = polys)
X <- ppp(pts$x, pts$y, window = W)
n <- npoints(X)
# Clark-Evans: time one simulation, then as many of 999 as the budget allows
one <- system.time(clarkevans(runifpoint(n, win = W), correction = "none"))[["elapsed"]]
nsim_ce <- max(9, min(999, floor(budget / max(one, 1e-3))))
t_ce <- system.time(clarkevans.test(X, correction = "none", nsim = nsim_ce))[["elapsed"]]
# K envelope: the full envelope when the budget allows, else the observed Kest
# plus 99 times one Kest of a simulated pattern
one <- system.time(Kest(X, correction = "isotropic"))[["elapsed"]]
if (one * 100 <= budget) {
  nsim_k <- 99
  t_k <- system.time(envelope(X, Kest, correction = "isotropic", nsim = 99,
                              verbose = FALSE))[["elapsed"]]
} else {
  nsim_k <- 1
  t_sim <- system.time(Kest(runifpoint(n, win = W), correction = "isotropic"))[["elapsed"]]
  t_k <- one + 99 * t_sim
}
cat(sprintf('{"ce_seconds": %f, "ce_nsim": %d, "k_seconds": %f, "k_nsim": %d}\n',
            t_ce, nsim_ce, t_k, nsim_k))
"""


def timed(func: Callable[[], Any]) -> tuple[float, float]:
    """Seconds of one call, and the process's peak resident memory so far (MiB)."""
    started = time.perf_counter()
    func()
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pointpats_times(xy: np.ndarray, window: StudyWindow, budget: float) -> dict[str, Any] | None:
    try:
        from pointpats import PointPattern, random  # noqa: PLC0415 - optional peer
        from pointpats.distance_statistics import k_test  # noqa: PLC0415
    except ImportError:
        return None
    n = len(xy)
    polygon = window.geometry
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    done = 0
    sims = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while done < 999 and time.perf_counter() - started < budget:
            sims.append(PointPattern(random.poisson(polygon, size=n, rng=rng)).mean_nnd)
            done += 1
    ce_seconds = (time.perf_counter() - started) / done * 999
    result: dict[str, Any] = {"ce_seconds": ce_seconds, "ce_nsim": done}
    pairs_gb = n * (n - 1) / 2 * 8 * 21 / 1e9
    if pairs_gb > 4:
        result["k_skipped"] = f"all pairwise distances: about {pairs_gb:.0f} GB"
        return result
    one = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_test(xy, hull=polygon, n_simulations=1, n_jobs=1)
    per_sim = (time.perf_counter() - one) / 2
    nsim = max(1, min(99, math.floor(budget / max(per_sim, 1e-3)) - 1))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_test(xy, hull=polygon, n_simulations=nsim, n_jobs=1)
    result["k_seconds"] = (time.perf_counter() - started) / (nsim + 1) * 100
    result["k_nsim"] = nsim
    return result


def ratio(theirs: float | None, ours: float) -> str:
    return "" if theirs is None else f"{theirs / ours:8.1f}×"


def fmt(seconds: float | None, extrapolated: bool = False) -> str:
    if seconds is None:
        return "       —"
    return f"{seconds:8.2f}" + ("*" if extrapolated else " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 points only")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per peer run")
    parser.add_argument("--no-r", action="store_true", help="skip spatstat")
    parser.add_argument(
        "--only", choices=("all", "pattern", "moran"), default="all", help="which benchmarks"
    )
    args = parser.parse_args()
    sizes = (1000,) if args.quick else (1000, 5000, 20000)

    study = gs.load_study(gs.demo_study_path())
    window = make_window(study.subjects, area=study.area)
    print(
        f"window: {window.description}, {window.area_m2 / 1e6:.1f} km², {len(window.edges())} edges"
    )
    # compile the numba kernels outside the timings
    warm = window.random_points(50, rng=np.random.default_rng(0))
    warm_gdf = gpd.GeoDataFrame(geometry=gpd.points_from_xy(warm[:, 0], warm[:, 1]), crs=study.crs)
    clark_evans(warm_gdf, window=window, permutations=2, seed=0)
    envelope(warm_gdf, window=window, statistic="K", permutations=2, seed=0)

    header = (
        f"{'n':>6} {'statistic':<26} {'ours s':>9} {'spatstat':>9} {'ratio':>9} "
        f"{'pointpats':>9} {'ratio':>9} {'peak MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        xy = window.random_points(n, rng=np.random.default_rng(n))
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=study.crs)
        if args.only in ("all", "pattern"):
            ce_ours, ce_mem = timed(
                lambda pts=points: clark_evans(pts, window=window, permutations=999, seed=1)
            )
            k_ours, k_mem = timed(
                lambda pts=points: envelope(
                    pts, window=window, statistic="K", permutations=99, seed=1
                )
            )
            r = None if args.no_r else spatstat_times(R_SCRIPT, xy, window, args.budget)
            p = pointpats_times(xy, window, args.budget)
            ce_r = None if r is None else r["ce_seconds"] * 1000 / (r["ce_nsim"] + 1)
            k_r = None if r is None else r["k_seconds"]
            ce_p = None if p is None else p["ce_seconds"]
            k_p = None if p is None else p.get("k_seconds")
            print(
                f"{n:>6} {'Clark-Evans, 999 sims':<26} {fmt(ce_ours)} "
                f"{fmt(ce_r, r is not None and r['ce_nsim'] < 999)} {ratio(ce_r, ce_ours):>9} "
                f"{fmt(ce_p, p is not None and p['ce_nsim'] < 999)} {ratio(ce_p, ce_ours):>9} "
                f"{ce_mem:8.1f}"
            )
            print(
                f"{n:>6} {'K envelope, 99 sims, iso':<26} {fmt(k_ours)} "
                f"{fmt(k_r, r is not None and r['k_nsim'] < 99)} {ratio(k_r, k_ours):>9} "
                f"{fmt(k_p, p is not None and p.get('k_nsim', 99) < 99)} "
                f"{ratio(k_p, k_ours) if k_p else '':>9} {k_mem:8.1f}"
            )
            if p is not None and "k_skipped" in p:
                print(
                    f"{'':>6} pointpats K skipped: {p['k_skipped']} (and it has no edge correction)"
                )

        if args.only not in ("all", "moran"):
            continue
        values = (np.random.default_rng(n + 1).random(n) < 0.3).astype(float)
        subjects = gpd.GeoDataFrame(
            {"status": np.where(values == 1, "case", "control")}, geometry=points.geometry
        )
        neighbours = k_nearest(xy, 5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = WSP(neighbours.matrix.copy()).to_W(silence_warnings=True)  # as a user has it
            w.transform = "r"
            esda.Moran(values, w, permutations=9)  # warm
            m_esda = m_ours = math.inf
            for _ in range(3):  # best of three, interleaved: the machine is shared
                started = time.perf_counter()
                esda.Moran(values, w, permutations=999)
                m_esda = min(m_esda, time.perf_counter() - started)
                seconds, m_mem = timed(
                    lambda s=subjects, nb=neighbours: moran(
                        s, neighbours=nb, permutations=999, seed=1
                    )
                )
                m_ours = min(m_ours, seconds)
        print(
            f"{n:>6} {'Moran I, 999 perms':<26} {fmt(m_ours)} {'esda:':>9} {m_esda:9.2f} "
            f"{m_esda / m_ours:8.2f}×{'':>9} {m_mem:8.1f}"
        )
    print("* extrapolated linearly from fewer simulations (see --budget)")
    print("ratio = peer time / our time (above 1: we are faster)")


if __name__ == "__main__":
    main()
