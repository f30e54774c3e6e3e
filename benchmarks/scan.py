"""Benchmark the Bernoulli spatial scan: compiled (geo_stunting) against plain NumPy.

For each size the scan runs in a fresh subprocess (so peak memory is that run's
own) with 999 replications by default, and prints wall time and peak resident
memory. At small sizes a brute-force NumPy scan (every window of every
replication, no tricks) runs on the same random labellings; the script checks
that both give the same replicate maxima and the same most likely cluster and
prints the speed-up. SaTScan v9.3.1 reported 3 s for grave (143 points, 999
replications) on 8 processors.

Usage::

    python benchmarks/scan.py --quick          # grave and 2,000 subjects
    python benchmarks/scan.py                  # + 10,000, and 50,000 with a 1 km radius
    python benchmarks/scan.py --full-50k       # + 50,000 at 50 % (minutes)
    python benchmarks/scan.py --only-50k       # 50,000 at 50 % alone
    python benchmarks/scan.py --quick --previous /tmp/old   # + 10,000 with an older package
    python benchmarks/scan.py --sizes 10000,20000,50000 --previous /tmp/old
                                               # these sizes at 50 %, this and the older package
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from geo_stunting.scan._bernoulli import scan_bernoulli_xy

GRAVE = Path(__file__).resolve().parents[1] / "tests" / "reference" / "grave" / "grave_points.csv"


def synthetic(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Homes in a 20 km square, 25 % cases, with a 600 m disc where 70 % are cases."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 20_000, size=(n, 2))
    in_disc = np.hypot(*(xy - 6_000).T) < 600
    is_case = rng.random(n) < np.where(in_disc, 0.7, 0.25)
    return xy, is_case


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n == 143:
        grave = pd.read_csv(GRAVE)
        return grave[["x", "y"]].to_numpy(float), (grave["status"] == "case").to_numpy()
    return synthetic(n)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- brute force


def llr(n: np.ndarray, c: np.ndarray, big_n: int, big_c: int) -> np.ndarray:
    def xlog(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, x * np.log(x / y), 0.0)

    n = n.astype(float)
    c = c.astype(float)
    out_n, out_c = big_n - n, big_c - c
    null = xlog(np.float64(big_c), np.float64(big_n)) + xlog(
        np.float64(big_n - big_c), np.float64(big_n)
    )
    return xlog(c, n) + xlog(n - c, n) + xlog(out_c, out_n) + xlog(out_n - out_c, out_n) - null


def brute_force(
    xy: np.ndarray, is_case: np.ndarray, permutations: int, seed: int, max_share: float = 0.5
) -> tuple[float, np.ndarray]:
    """Every circular window of every labelling, in plain NumPy (distinct points only)."""
    n_total, c_total = len(xy), int(is_case.sum())
    max_pop = math.floor(max_share * n_total + 1e-9)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    order = np.argsort(d, axis=1, kind="stable")[:, : max_pop + 1]
    ds = np.take_along_axis(d, order, axis=1)
    closes = np.ones(ds.shape, dtype=bool)
    closes[:, :-1] = ds[:, 1:] != ds[:, :-1]
    sizes = np.arange(1, ds.shape[1] + 1)
    closes &= sizes[None, :] <= max_pop
    n = np.broadcast_to(sizes, ds.shape)[closes]

    def max_llr(labels: np.ndarray) -> float:
        c = np.cumsum(labels[order], axis=1)[closes]
        high = c * n_total > n * c_total
        return float(llr(n[high], c[high], n_total, c_total).max(initial=0.0))

    observed = max_llr(is_case.astype(np.int64))
    rng = np.random.default_rng(seed)
    sims = np.array(
        [
            max_llr(rng.permuted(is_case.astype(np.uint8)).astype(np.int64))
            for _ in range(permutations)
        ]
    )
    return observed, sims


# --------------------------------------------------------------------------- one run


def child(args: argparse.Namespace) -> None:
    """Run one size in this process and print one JSON line."""
    xy, is_case = data(args.n)
    scan_bernoulli_xy(xy[:50, 0], xy[:50, 1], is_case[:50], permutations=19, seed=0)  # compile
    if args.n > 2_000:  # and the kernels for many locations (256 lanes a block, bit-sliced)
        from geo_stunting.scan import _kernels  # noqa: PLC0415

        above = getattr(_kernels, "BITS_ABOVE_LOCATIONS", None)
        if above is not None:
            _kernels.BITS_ABOVE_LOCATIONS = 2_000
        scan_bernoulli_xy(xy[:2_100, 0], xy[:2_100, 1], is_case[:2_100], permutations=256, seed=0)
        if above is not None:
            _kernels.BITS_ABOVE_LOCATIONS = above
    before = rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    result = scan_bernoulli_xy(
        xy[:, 0],
        xy[:, 1],
        is_case,
        max_radius_m=args.max_radius,
        permutations=args.permutations,
        seed=args.seed,
    )
    seconds = time.perf_counter() - started
    record = {
        "cpu_seconds": time.process_time() - cpu,
        "n": args.n,
        "max_radius": args.max_radius,
        "seconds": seconds,
        "peak_rss_mb": rss_mb(),
        "rss_before_mb": before,
        "threads": numba.get_num_threads(),
        "top_llr": result.clusters[0].llr,
        "top_p": result.clusters[0].p_value,
        "top_n": result.clusters[0].n,
        "sims_sha": hashlib.sha256(result.simulated_llr.tobytes()).hexdigest(),
    }
    if args.brute:
        started = time.perf_counter()
        observed, sims = brute_force(xy, is_case, args.permutations, args.seed)
        record["brute_seconds"] = time.perf_counter() - started
        record["equal"] = bool(
            np.allclose(sims, result.simulated_llr, rtol=1e-12, atol=1e-12)
            and math.isclose(observed, result.clusters[0].llr, rel_tol=1e-12)
        )
    print(json.dumps(record))


def run_child(
    n: int, radius: float | None, brute: bool, args: argparse.Namespace, source: str | None = None
) -> dict[str, Any]:
    """One size in a fresh process; `source`: a folder holding another ``geo_stunting``."""
    command = [sys.executable, __file__, "--child", "--n", str(n)]
    command += ["--permutations", str(args.permutations), "--seed", str(args.seed)]
    if radius is not None:
        command += ["--max-radius", str(radius)]
    if brute:
        command.append("--brute")
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = source
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="grave and 2,000 subjects only")
    parser.add_argument("--full-50k", action="store_true", help="also 50,000 at 50 %% (minutes)")
    parser.add_argument("--only-50k", action="store_true", help="only 50,000 at 50 %%")
    parser.add_argument(
        "--previous",
        help="folder holding an earlier geo_stunting package (e.g. from git archive): "
        "10,000 subjects are also scanned with it, in the same run",
    )
    parser.add_argument(
        "--sizes",
        help="comma-separated subject counts scanned at 50 %% instead of the default list "
        "(with --previous: each with both packages, one after the other)",
    )
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--seed", type=int, default=20231)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--max-radius", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--brute", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    runs: list[tuple[int, float | None, bool]] = [(143, None, True), (2_000, None, True)]
    if not args.quick:
        runs += [(10_000, None, False), (50_000, 1_000.0, False)]
    if args.full_50k:
        runs.append((50_000, None, False))
    if args.only_50k:
        runs = [(50_000, None, False)]
    if args.sizes:
        runs = [(int(size), None, False) for size in args.sizes.split(",")]
    print(f"Bernoulli scan, {args.permutations} replications, max 50 % of subjects")
    print(
        f"{'subjects':>9} {'max radius':>10} {'seconds':>8} {'cpu s':>8} {'peak MB':>8} "
        f"{'(+MB)':>7} {'NumPy s':>8} {'speed-up':>8} {'equal':>5}  most likely cluster"
    )
    r: dict[str, Any] = {}
    done: dict[int, dict[str, Any]] = {}  # runs at 50 % by size, for --previous
    for n, radius, brute in runs:
        r = run_child(n, radius, brute, args)
        if radius is None:
            done[n] = r
        brute_s = r.get("brute_seconds")
        limit = "-" if radius is None else f"{radius:,.0f} m"
        numpy_s = f"{brute_s:.2f}" if brute_s else "-"
        speedup = f"{brute_s / r['seconds']:.0f}x" if brute_s else "-"
        added = r["peak_rss_mb"] - r["rss_before_mb"]
        print(
            f"{n:>9,} {limit:>10} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
            f"{r['peak_rss_mb']:>8.0f} {added:>+7.0f} {numpy_s:>8} {speedup:>8} "
            f"{r.get('equal', '-')!s:>5}  n={r['top_n']}, LLR={r['top_llr']:.3f}, p={r['top_p']}",
            flush=True,
        )
    for size in [int(size) for size in args.sizes.split(",")] if args.sizes else [10_000]:
        if not args.previous:
            break
        old = run_child(size, None, False, args, source=args.previous)
        new = done.get(size) or run_child(size, None, False, args)
        same = all(old[k] == new[k] for k in ("top_llr", "top_p", "top_n", "sims_sha"))
        print(
            f"{size:,} at 50 %: previous {old['seconds']:.1f} s ({old['cpu_seconds']:.1f} s CPU, "
            f"{old['peak_rss_mb']:.0f} MB), this {new['seconds']:.1f} s "
            f"({new['cpu_seconds']:.1f} s CPU, {new['peak_rss_mb']:.0f} MB): "
            f"{old['cpu_seconds'] / new['cpu_seconds']:.2f}x less CPU; "
            f"same cluster and replicate LLRs: {same}"
        )
    print(f"threads: {r['threads']}; SaTScan v9.3.1 on grave: 3 s on 8 processors")


if __name__ == "__main__":
    main()
