"""Benchmark: a district-sized study in the real 241-village Ogan Ilir window.

Two parts, each printed as it finishes:

1. **analyze end to end**, per step, on SYNTHETIC studies generated at run
   time from the shared boundaries (`district_study.py`: children in
   settlements, a fifth cases, 447 facilities), default settings (999
   permutations): 5,000 children in the 241 villages, a 300-child field
   study in the regency polygon, and (without ``--quick``) 30,000 children.
   Goals: 60 s, 15 s and 300 s.
2. **K, L and G against spatstat** on CSR points in the same window, at
   1,000, 5,000 and 20,000 points, timed in one run side by side (spatstat
   via Rscript, when installed): ``Kest`` with border, isotropic and
   translation corrections (at 1,000 points; beyond spatstat's ``nlarge`` of
   3,000 points ``Kest`` computes the border correction only, and so do we
   there), ``envelope(Lest)`` and ``Gest``/``envelope(Gest)`` with 19
   simulations, and ``clarkevans.test`` with 99. A spatstat call longer than
   ``--budget`` seconds is stopped and shown as ``>budget``.

Usage: ``python benchmarks/district.py [--quick] [--only analyze|pattern] [--budget 120]``
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rscript import spatstat_times
from district_study import DEFAULT_DATA, write_district_study

import geo_stunting as gs
from geo_stunting.outputs._export import write_outputs
from geo_stunting.pattern._kfunction import envelope, g_function, k_function
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
W <- owin(poly = polys, check = FALSE)
X <- ppp(pts$x, pts$y, window = W, check = FALSE)
corr <- if (npoints(X) <= 3000) c("border", "isotropic", "translate") else "border"
timed <- function(expr) {
  setTimeLimit(elapsed = budget, transient = TRUE)
  on.exit(setTimeLimit(elapsed = Inf))
  out <- tryCatch(system.time(expr)[["elapsed"]], error = function(e) -1)
  out
}
res <- list(
  K = timed(Kest(X, correction = corr)),
  L_envelope = timed(envelope(X, Lest, correction = "border", nsim = 19, verbose = FALSE)),
  G = timed(Gest(X, correction = c("km", "rs"))),
  G_envelope = timed(envelope(X, Gest, correction = "km", nsim = 19, verbose = FALSE)),
  clark_evans = timed(clarkevans.test(X, correction = "none", nsim = 99))
)
cat(paste0("{", paste(sprintf('"%s": %f', names(res), unlist(res)), collapse = ", "), "}\n"))
"""

GOALS = {"villages_5000": 60.0, "regency_300": 15.0, "villages_30000": 300.0}


def timed(func: Callable[[], Any]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def run_analyze(folder: Path, name: str, n: int, area: str) -> None:
    """Time load, every step and the outputs; wall-clock and CPU seconds (all threads)."""
    study_file = write_district_study(folder / name, n_children=n, area=area)
    marks: list[tuple[str, float, float]] = []

    def mark(label: str, _title: str = "") -> None:
        marks.append((label, time.perf_counter(), time.process_time()))

    mark("load")
    study = gs.load_study(study_file)
    results = gs.analyze(study, progress=mark)
    mark("write outputs")
    write_outputs(results, folder / name / "out")
    mark("end")
    total = marks[-1][1] - marks[0][1]
    cpu = marks[-1][2] - marks[0][2]
    goal = GOALS.get(name)
    print(
        f"\n{name}: {n} children ({area}), total {total:.1f} s wall, {cpu:.1f} s CPU"
        + (f" (goal {goal:.0f} s: {'met' if total <= goal else 'NOT met'})" if goal else "")
    )
    for (label, wall0, cpu0), (_, wall1, cpu1) in itertools.pairwise(marks):
        print(f"  {label:<20} {wall1 - wall0:8.1f} s wall {cpu1 - cpu0:8.1f} s CPU")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux
    print(f"  peak RSS of the process so far: {peak:.2f} GB", flush=True)


def our_times(points: gpd.GeoDataFrame, window: StudyWindow) -> dict[str, float]:
    """Seconds of each of our calls (the same corrections as spatstat's)."""
    n = len(points)
    corrections = ("border", "isotropic", "translate") if n <= 3000 else ("border",)
    return {
        "K": timed(lambda: k_function(points, window=window, corrections=corrections)),
        "L_envelope": timed(
            lambda: envelope(
                points, window=window, statistic="L", correction="border", permutations=19, seed=1
            )
        ),
        "G": timed(lambda: g_function(points, window=window, corrections=("km", "rs"))),
        "G_envelope": timed(
            lambda: envelope(
                points, window=window, statistic="G", correction="km", permutations=19, seed=1
            )
        ),
        "clark_evans": timed(lambda: clark_evans(points, window=window, permutations=99, seed=1)),
    }


def run_pattern(window: StudyWindow, crs: Any, sizes: tuple[int, ...], budget: float) -> None:
    print(
        f"\nK/L/G in {window.description}: {window.area_m2 / 1e6:,.0f} km², "
        f"{len(window.edges())} edges"
    )
    print(f"{'n':>6} {'what':<34} {'ours s':>8} {'spatstat':>9} {'ratio':>8}")
    # compile (or load) every kernel these calls use, and build the window's tables, untimed
    for warm in (300, 3001):
        xy = window.random_points(warm, rng=np.random.default_rng(0))
        our_times(
            gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs), window
        )
    for n in sizes:
        xy = window.random_points(n, rng=np.random.default_rng(n))
        points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)
        corrections = ("border", "isotropic", "translate") if n <= 3000 else ("border",)
        ours = our_times(points, window)
        theirs = spatstat_times(R_SCRIPT, xy, window, budget)
        labels = {
            "K": f"K ({', '.join(corrections)})",
            "L_envelope": "envelope L, border, 19 sims",
            "G": "G (km, rs)",
            "G_envelope": "envelope G, km, 19 sims",
            "clark_evans": "Clark-Evans test, 99 sims",
        }
        for key, label in labels.items():
            mine = ours[key]
            other = None if theirs is None else theirs.get(key)
            shown = "—" if other is None else (f">{budget:.0f}" if other < 0 else f"{other:.2f}")
            ratio = (
                ""
                if other is None
                else (f">{budget / mine:.1f}×" if other < 0 else f"{other / mine:.1f}×")
            )
            print(f"{n:>6} {label:<34} {mine:8.2f} {shown:>9} {ratio:>8}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 and 300 children; 1k, 5k")
    parser.add_argument("--only", choices=("all", "analyze", "pattern"), default="all")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per spatstat call")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared Ogan Ilir folder")
    parser.add_argument(
        "--children", default="", help="analyze only villages studies of these sizes: 10000,30000"
    )
    args = parser.parse_args()
    if not (args.data / "ogan_ilir_desa.geojson").is_file():
        sys.exit(f"no Ogan Ilir boundaries in {args.data}; pass --data")
    # compile the numba kernels (or load them from the cache) outside the timings
    gs.analyze(gs.load_study(gs.demo_study_path()), permutations=9)
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        if args.children:
            for n in (int(c) for c in args.children.split(",")):
                run_analyze(base, f"villages_{n}", n, "villages")
        elif args.only in ("all", "analyze"):
            run_analyze(base, "villages_5000", 5000, "villages")
            run_analyze(base, "regency_300", 300, "regency")
            if not args.quick:
                run_analyze(base, "villages_30000", 30000, "villages")
        if args.only in ("all", "pattern"):
            study = gs.load_study(write_district_study(base / "window", n_children=50))
            window = make_window(study.subjects, area=study.area)
            sizes = (1000, 5000) if args.quick else (1000, 5000, 20000)
            run_pattern(window, study.crs, sizes, args.budget)


if __name__ == "__main__":
    main()
