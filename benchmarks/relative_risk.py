"""Benchmark the relative risk's bandwidth search against the exact O(n²) sums and spatstat.

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

Usage::

    python benchmarks/relative_risk.py --quick
    python benchmarks/relative_risk.py
"""

from __future__ import annotations

import argparse
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
from geo_stunting.scan import _bandwidth
from geo_stunting.scan._relative_risk import subjects_hull

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
    parser.add_argument("--no-r", action="store_true", help="skip spatstat")
    args = parser.parse_args()
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
