"""Benchmark: the scan step's Gini choice of the largest window, one sweep vs one scan per size.

On the SYNTHETIC district study (`district_study.py`, the 241 Ogan Ilir
villages, a fifth of the children cases, 999 replications), times
`choose_max_share` (every maximum size from one set of replications) against
`scan_bernoulli` run once per size of `GINI_SHARES` (what the step did
before) and against one scan at 50 % (the unit of the time model in
`geo_stunting.estimate`), in the same process, wall and CPU seconds (all
threads), and checks that every size's clusters and replicate ratios are the
same, byte for byte.

    python benchmarks/scan_gini.py --sizes 10000,30000 [--skip-loop]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import geo_stunting as gs
from geo_stunting.scan._bernoulli import ScanResult, scan_bernoulli
from geo_stunting.scan._maxsize import GINI_SHARES, choose_max_share, scan_shares

sys.path.insert(0, str(Path(__file__).resolve().parent))
from district_study import write_district_study


def _digest(results: list[ScanResult]) -> str:
    h = hashlib.sha256()
    for r in results:
        h.update(json.dumps(r.to_dict()).encode())
        h.update(np.asarray(r.simulated_llr).tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="children, comma-separated")
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--skip-loop", action="store_true", help="time the one sweep only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        # compile (or load) both kernels outside the timings
        warm = gs.load_study(write_district_study(Path(folder) / "warm", n_children=400))
        choose_max_share(warm.subjects, permutations=9)
        scan_bernoulli(warm.subjects, permutations=9)
        for n in (int(s) for s in args.sizes.split(",")):
            study = gs.load_study(write_district_study(Path(folder) / str(n), n_children=n))
            subjects = study.subjects
            seed, p = study.settings.seed, args.permutations
            shares = tuple(s for s in GINI_SHARES if int(s * len(subjects)) >= 1)
            w0, c0 = time.perf_counter(), time.process_time()
            one = scan_shares(subjects, shares=shares, permutations=p, seed=seed)
            w1, c1 = time.perf_counter(), time.process_time()
            print(
                f"{n} children, {len(shares)} sizes, {p} replications: one sweep "
                f"{w1 - w0:.1f} s wall {c1 - c0:.1f} s CPU, digest {_digest(one)}",
                flush=True,
            )
            half = scan_bernoulli(subjects, max_share=0.5, permutations=p, seed=seed)
            w1b, c1b = time.perf_counter(), time.process_time()
            print(
                f"{n} children: one scan at 50 % {w1b - w1:.1f} s wall {c1b - c1:.1f} s CPU "
                f"(the sweep of every size costs {(c1 - c0) / (c1b - c1):.2f} of it)",
                flush=True,
            )
            assert _digest([half]) == _digest([one[-1]])
            if args.skip_loop:
                continue
            sweep_cpu = c1 - c0
            w1, c1 = time.perf_counter(), time.process_time()
            loop = [
                scan_bernoulli(subjects, max_share=s, permutations=p, seed=seed) for s in shares
            ]
            w2, c2 = time.perf_counter(), time.process_time()
            print(
                f"{n} children: a scan per size {w2 - w1:.1f} s wall {c2 - c1:.1f} s CPU, "
                f"digest {_digest(loop)}; CPU {(c2 - c1) / sweep_cpu:.2f} × the sweep's",
                flush=True,
            )


if __name__ == "__main__":
    main()
