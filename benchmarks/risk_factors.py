"""Benchmark: the risk-factor tables and their exact test, against R and SciPy.

1. The whole ``risk_factors`` analysis (geo_stunting.risk_factors.analyze_risk_factors)
   on synthetic studies with 8 categorical, 1 ordinal and 16 continuous factors, against
   R doing the same tests (chisq.test / fisher.test / prop.trend.test, shapiro.test,
   wilcox.test, t.test, cor.test × 2 per factor), timed inside R (system.time), so R's
   start-up is not counted.
2. The Fisher–Freeman–Halton exact test of r×2 tables (ours: pruned enumeration) against
   R's fisher.test (network algorithm, timed inside R) and SciPy's fisher_exact, which
   for tables larger than 2×2 only offers Monte Carlo (9,999 tables by default) — so its
   p-value differs from the exact one; the difference is printed.

Peak memory is tracemalloc's peak in a separate, untimed run.

    python benchmarks/risk_factors.py --quick     # 200 and 2,000 subjects
    python benchmarks/risk_factors.py             # also 20,000 subjects
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from geo_stunting.risk_factors._analysis import analyze_risk_factors
from geo_stunting.stats._tables import fisher_freeman_halton

CATEGORICAL = [f"cat{i}" for i in range(8)]
CONTINUOUS = [f"num{i}" for i in range(16)]
TABLES = {
    "3x2 small": [[3, 1], [1, 5], [2, 0]],
    "5x2 n=61": [[5, 10], [0, 7], [3, 2], [6, 1], [9, 9]],
    "6x2 n=201": [[20, 40], [15, 30], [10, 25], [12, 20], [8, 15], [2, 4]],
    "6x2 n=630": [[60, 120], [50, 100], [40, 90], [30, 60], [20, 50], [1, 9]],
}

R_ANALYSIS = r"""
d <- read.csv(commandArgs(TRUE)[1], stringsAsFactors = FALSE)
case <- as.integer(d$status == "case")
cats <- grep("^cat", names(d), value = TRUE)
nums <- grep("^num", names(d), value = TRUE)
t <- system.time({
  for (v in cats) {
    x <- table(d[[v]], case)
    e <- min(outer(rowSums(x), colSums(x)) / sum(x))
    if (e < 5) fisher.test(x) else chisq.test(x)
  }
  x <- table(d$edu, case); prop.trend.test(x[, 2], rowSums(x))
  for (v in nums) {
    a <- d[[v]][case == 1]; b <- d[[v]][case == 0]
    if (length(a) <= 5000) { shapiro.test(a); shapiro.test(b) }
    wilcox.test(a, b, exact = FALSE); t.test(a, b)
    cor.test(d[[v]], case); cor.test(d[[v]], case, method = "spearman", exact = FALSE)
  }
})
cat(t[["elapsed"]], "\n")
"""

R_FISHER = r"""
tabs <- jsonlite::fromJSON(commandArgs(TRUE)[1], simplifyVector = FALSE)
for (name in names(tabs)) {
  x <- do.call(rbind, lapply(tabs[[name]], unlist))
  reps <- 20
  ws <- 200000  # R's default workspace, raised only when a table needs it
  while (inherits(try(fisher.test(x, workspace = ws), silent = TRUE), "try-error")) ws <- ws * 10
  t <- system.time(for (i in seq_len(reps)) p <- fisher.test(x, workspace = ws)$p.value)
  cat(name, t[["elapsed"]] / reps, format(p, digits = 15), "\n", sep = "\t")
}
"""


def make_study(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    case = rng.random(n) < 1 / 3
    data: dict[str, Any] = {
        "subject_id": [f"S{i:06d}" for i in range(n)],
        "status": np.where(case, "case", "control"),
    }
    for pos, name in enumerate(CATEGORICAL):
        levels = 2 + pos % 4
        shift = 0.15 * case * (pos % 2)
        draw = np.minimum((rng.random(n) + shift) * levels, levels - 1).astype(int)
        data[name] = np.array([f"L{k}" for k in range(levels)])[draw]
    edu = np.minimum((rng.random(n) * 4).astype(int), 3)
    data["edu"] = np.array(["primary", "junior", "senior", "higher"])[edu]
    for pos, name in enumerate(CONTINUOUS):
        base = rng.gamma(2.0, 1.0, n) if pos % 2 else rng.normal(10, 2, n)
        data[name] = np.round(base + 0.5 * case * (pos % 3 == 0), 3)
    return pd.DataFrame(data)


SPEC = {
    "categorical": CATEGORICAL,
    "ordinal": {"edu": ["primary", "junior", "senior", "higher"]},
    "continuous": CONTINUOUS,
}


def best_of(func: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_mib(func: Callable[[], Any]) -> float:
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run_r(script: str, arg: str) -> str | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(script)
    done = subprocess.run(
        ["Rscript", handle.name, arg],
        capture_output=True,
        text=True,
        check=False,
    )
    Path(handle.name).unlink()
    return done.stdout if done.returncode == 0 else None


def bench_analysis(sizes: list[int]) -> None:
    print("risk-factor analysis: 8 categorical + 1 ordinal + 16 continuous factors")
    print(f"{'subjects':>9} {'ours (s)':>9} {'R (s)':>8} {'R/ours':>7} {'peak MiB':>9}")
    for n in sizes:
        frame = make_study(n, seed=n)
        ours = best_of(lambda f=frame: analyze_risk_factors(f, spec=SPEC), 3)
        peak = peak_mib(lambda f=frame: analyze_risk_factors(f, spec=SPEC))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "d.csv"
            frame.to_csv(path, index=False)
            out = run_r(R_ANALYSIS, str(path))
        r_time = float(out.split()[0]) if out else float("nan")
        print(f"{n:>9,} {ours:>9.3f} {r_time:>8.3f} {r_time / ours:>7.2f} {peak:>9.1f}")


def bench_fisher() -> None:
    print("\nFisher-Freeman-Halton exact test of r×2 tables (per table)")
    out = run_r(R_FISHER, json.dumps(TABLES)) or ""
    r_rows = {line.split("\t")[0]: line.split("\t")[1:3] for line in out.strip().splitlines()}
    print(
        f"{'table':>10} {'ours (ms)':>10} {'R (ms)':>8} {'|p-p_R|':>9} "
        f"{'scipy MC (ms)':>14} {'|p_MC-p_R|':>11}"
    )
    for name, table in TABLES.items():
        ours = best_of(lambda t=table: fisher_freeman_halton(t), 20)
        p_ours, _ = fisher_freeman_halton(table)
        start = time.perf_counter()
        p_mc = stats.fisher_exact(np.asarray(table), method=stats.MonteCarloMethod(rng=1)).pvalue
        mc = time.perf_counter() - start
        r_ms, p_r = (float(v) for v in r_rows.get(name, ["nan", "nan"]))
        print(
            f"{name:>10} {ours * 1e3:>10.2f} {r_ms * 1e3:>8.2f} {abs(p_ours - p_r):>9.1e} "
            f"{mc * 1e3:>14.1f} {abs(p_mc - p_r):>11.1e}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    sizes = [200, 2_000] if args.quick else [200, 2_000, 20_000]
    bench_analysis(sizes)
    bench_fisher()


if __name__ == "__main__":
    main()
