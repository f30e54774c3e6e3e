"""Benchmark the relative risk (bandwidth search and tolerance surface) against exact sums and R.

The synthetic district study of `district_study.py` (children in settlements
of the 241 Ogan Ilir villages, a fifth of them cases) at 1,000, 5,000 and
(without ``--quick``) 20,000 children. For each size, in one run:

* ours: `bandwidth_relrisk` (pairs closer than about 9 bandwidths, each pair
  once), wall and CPU seconds;
* exact: every pair and every bandwidth (the previous implementation, kept
  here as the reference), its chosen bandwidth and the largest difference of
  the criterion (minus the mean log leave-one-out probability);
* spatstat: ``bw.relrisk(X, method = "likelihood")`` in Rscript on the same
  points in the same window (skipped past 5,000 points: minutes).

Then the tolerance (p-value) surface at the chosen bandwidth, 999 labellings,
at 5,000 and (without ``--quick``) 30,000 children:

* ours: `relative_risk_xy` (footprints per labelling above `DENSE_MAX_TERMS`);
* dense: the same with the dense (cells × subjects) × (subjects × labellings)
  product of the previous implementation (at 30,000 only with ``--dense``:
  minutes), and whether every p-value is the same;
* sparr: ``risk`` and ``tolerance(method = "MC")`` on the same points, window
  and bandwidth (5,000 only; 99 iterations, ours also at 99 for the ratio).

Usage::

    python benchmarks/relative_risk.py --quick
    python benchmarks/relative_risk.py
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

from district_study import write_district_study

import geo_stunting as gs
from geo_stunting.scan import _bandwidth, _relative_risk
from geo_stunting.scan._relative_risk import relative_risk_xy, study_window, subjects_hull

SPARR = r"""
suppressMessages({library(spatstat); library(sparr)})
args <- commandArgs(TRUE)
pts <- read.csv(args[1])
W <- as.owin(sf::st_as_sfc(readLines(args[2])))
X <- ppp(pts$x, pts$y, window = W, marks = factor(pts$case), check = FALSE)
f <- X[X$marks == "1"]
g <- X[X$marks == "0"]
t0 <- proc.time()
rs <- risk(f, g, h0 = as.numeric(args[3]), resolution = 128, edge = "uniform", verbose = FALSE)
tol <- tolerance(rs, method = "MC", ITER = as.integer(args[4]), verbose = FALSE)
t1 <- proc.time() - t0
cat(sprintf('{"seconds": %.3f, "cpu": %.3f}\n', t1[["elapsed"]], t1[["user.self"]]))
"""

SPATSTAT = r"""
suppressMessages(library(spatstat))
args <- commandArgs(TRUE)
pts <- read.csv(args[1])
W <- as.owin(sf::st_as_sfc(readLines(args[2])))
X <- ppp(pts$x, pts$y, window = W, marks = factor(pts$case), check = FALSE)
t0 <- proc.time()
b <- bw.relrisk(X, method = "likelihood")
t1 <- proc.time() - t0
cat(sprintf('{"seconds": %.3f, "sigma": %.6f}\n', t1[["elapsed"]], as.numeric(b)))
"""


@numba.njit(cache=True, parallel=True)
def exact_sums(
    xy: np.ndarray, types: np.ndarray, h: np.ndarray, cut_all: np.ndarray, cut_type: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Every pair, every bandwidth: the leave-one-out sums as spatstat's ``density.ppp``."""
    n = xy.shape[0]
    nh = h.size
    total = np.zeros((n, nh))
    same = np.zeros((n, nh))
    inv = 1.0 / (2.0 * h * h)
    cut_all2 = cut_all * cut_all
    cut_type2 = cut_type * cut_type
    for i in numba.prange(n):
        ti = types[i]
        for j in range(n):
            if j == i:
                continue
            dx = xy[j, 0] - xy[i, 0]
            dy = xy[j, 1] - xy[i, 1]
            d2 = dx * dx + dy * dy
            for k in range(nh):
                w = math.exp(-d2 * inv[k])
                if d2 <= cut_all2[k]:
                    total[i, k] += w
                if types[j] == ti and d2 <= cut_type2[ti, k]:
                    same[i, k] += w
    return total, same


def criterion(total: np.ndarray, same: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -np.mean(np.log(same / total), axis=0)
    out[np.isnan(out)] = np.inf
    return out


def run_r(
    script: str, xy: np.ndarray, is_case: np.ndarray, window: shapely.Geometry, *extra: str
) -> dict[str, float] | None:
    """Run an R script on the points (x, y, case) and window; its last line is JSON."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        rows = np.column_stack([xy, is_case.astype(int)])
        np.savetxt(base / "pts.csv", rows, delimiter=",", header="x,y,case", comments="",
                   fmt=["%.3f", "%.3f", "%d"])  # fmt: skip
        (base / "win.wkt").write_text(shapely.to_wkt(window) + "\n", encoding="utf-8")
        (base / "bench.R").write_text(script, encoding="utf-8")
        files = [str(base / name) for name in ("bench.R", "pts.csv", "win.wkt")]
        out = subprocess.run(
            ["Rscript", *files, *extra],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        print("  R failed:", out.stderr.strip().splitlines()[-1:])
        return None
    found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def surface(sizes: tuple[int, ...], folder: Path, *, dense_30k: bool, no_r: bool) -> None:
    """Time the tolerance surface: ours, the dense product, sparr's Monte Carlo tolerance."""
    print("\ntolerance surface at the cross-validated bandwidth (relative_risk_xy, 999 labellings)")
    print(
        f"{'children':>8} {'cells':>7} {'ours s':>7} {'ours cpu':>8} {'dense s':>8} "
        f"{'dense cpu':>9} {'x cpu':>6} {'same p':>6} {'ours 99 s':>9} {'sparr 99 s':>10}"
    )
    for n in sizes:
        study = gs.load_study(write_district_study(folder / f"d{n}", n_children=n))
        xy = shapely.get_coordinates(np.asarray(study.subjects.geometry.array))
        is_case = (study.subjects["status"] == "case").to_numpy()
        window, _ = study_window(study.subjects, study.area)
        sigma = _bandwidth.bandwidth_relrisk(
            xy[:, 0], xy[:, 1], is_case, window=subjects_hull(xy)[0]
        ).bandwidth_m
        run = functools.partial(
            relative_risk_xy, xy[:, 0], xy[:, 1], is_case, window=window, bandwidth_m=sigma, seed=1
        )
        ours, wall, cpu = timed(run, permutations=999)
        line = f"{n:>8,} {len(ours.x):>7,} {wall:>7.2f} {cpu:>8.2f} "
        if n <= 5_000 or dense_30k:
            limit = _relative_risk.DENSE_MAX_TERMS
            _relative_risk.DENSE_MAX_TERMS = 10**18
            try:
                dense, d_wall, d_cpu = timed(run, permutations=999)
            finally:
                _relative_risk.DENSE_MAX_TERMS = limit
            same = np.array_equal(dense.p_value, ours.p_value, equal_nan=True)
            line += f"{d_wall:>8.2f} {d_cpu:>9.2f} {d_cpu / cpu:>5.1f}x {same!s:>6} "
        else:
            line += f"{'-':>8} {'-':>9} {'-':>6} {'-':>6} "
        peer = None if no_r or n > 5_000 else run_r(SPARR, xy, is_case, window, f"{sigma}", "99")
        if peer:
            _, wall99, _ = timed(run, permutations=99)
            line += f"{wall99:>9.2f} {peer['seconds']:>10.2f}"
        print(line, flush=True)


def spatstat_bandwidth(
    xy: np.ndarray, is_case: np.ndarray, window: shapely.Geometry
) -> dict[str, float] | None:
    """Seconds and sigma of spatstat's ``bw.relrisk``; None without Rscript."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        rows = np.column_stack([xy, is_case.astype(int)])
        np.savetxt(base / "pts.csv", rows, delimiter=",", header="x,y,case", comments="",
                   fmt=["%.3f", "%.3f", "%d"])  # fmt: skip
        (base / "win.wkt").write_text(shapely.to_wkt(window) + "\n", encoding="utf-8")
        (base / "bench.R").write_text(SPATSTAT, encoding="utf-8")
        out = subprocess.run(
            ["Rscript", str(base / "bench.R"), str(base / "pts.csv"), str(base / "win.wkt")],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        print("  spatstat failed:", out.stderr.strip().splitlines()[-1:])
        return None
    found: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def timed(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    out = call(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def study_points(n: int, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    study = gs.load_study(write_district_study(folder / f"d{n}", n_children=n))
    xy = shapely.get_coordinates(np.asarray(study.subjects.geometry.array))
    return xy, (study.subjects["status"] == "case").to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,000 and 5,000 children only")
    parser.add_argument("--no-r", action="store_true", help="skip spatstat and sparr")
    parser.add_argument("--dense", action="store_true", help="time the dense product at 30,000")
    parser.add_argument("--only", choices=("all", "bandwidth", "surface"), default="all")
    args = parser.parse_args()
    if args.only != "bandwidth":
        with tempfile.TemporaryDirectory() as folder:
            sizes_s = (5_000,) if args.quick else (5_000, 30_000)
            surface(sizes_s, Path(folder), dense_30k=args.dense, no_r=args.no_r)
    if args.only == "surface":
        return
    sizes = (1_000, 5_000) if args.quick else (1_000, 5_000, 20_000)
    # compile both on a few points first
    rng = np.random.default_rng(0)
    tiny = rng.uniform(0, 1000, (60, 2))
    _bandwidth.bandwidth_relrisk(
        tiny[:, 0], tiny[:, 1], rng.random(60) < 0.3, window=shapely.box(0, 0, 1000, 1000)
    )
    h = np.linspace(1.0, 2.0, 4)
    exact_sums(tiny, np.zeros(60, np.int64), h, h * 8, np.vstack([h * 8, h * 8]))
    print(f"bandwidth search (bw.relrisk, likelihood), threads: {numba.get_num_threads()}")
    print(
        f"{'children':>8} {'ours s':>7} {'ours cpu':>8} {'exact s':>8} {'exact cpu':>9} "
        f"{'x cpu':>6} {'same bw':>7} {'|Δcrit|':>8} {'spatstat s':>10}  bandwidth m (spatstat)"
    )
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            xy, is_case = study_points(n, Path(folder))
            window = subjects_hull(xy)[0]
            captured: dict[str, tuple] = {}  # type: ignore[type-arg]
            original = _bandwidth._loo_sums  # noqa: SLF001 (the exact sums take its inputs)

            def capture(*a: np.ndarray, _orig=original, _c=captured) -> tuple:  # type: ignore[no-untyped-def, type-arg]
                _c["args"] = a
                return _orig(*a)

            _bandwidth._loo_sums = capture  # noqa: SLF001
            try:
                choice, wall, cpu = timed(
                    _bandwidth.bandwidth_relrisk, xy[:, 0], xy[:, 1], is_case, window=window
                )
            finally:
                _bandwidth._loo_sums = original  # noqa: SLF001
            (total, same), e_wall, e_cpu = timed(exact_sums, *captured["args"])
            reference = criterion(total, same)
            h = captured["args"][2]
            exact_bw = float(h[int(np.argmin(reference))])
            finite = np.isfinite(reference)
            diff = float(np.max(np.abs(reference[finite] - choice.criterion[finite])))
            peer = None
            if not args.no_r and n <= 5_000:
                peer = spatstat_bandwidth(xy, is_case, window)
            peer_s = f"{peer['seconds']:.2f}" if peer else "-"
            peer_bw = f" ({peer['sigma']:.1f})" if peer else ""
            print(
                f"{n:>8,} {wall:>7.2f} {cpu:>8.2f} {e_wall:>8.2f} {e_cpu:>9.2f} "
                f"{e_cpu / cpu:>5.1f}x {choice.bandwidth_m == exact_bw!s:>7} {diff:>8.1e} "
                f"{peer_s:>10}  {choice.bandwidth_m:.1f}{peer_bw}"
            )


if __name__ == "__main__":
    main()
