"""Benchmark: the first ``geo-stunting demo`` after install (numba compiling), then a warm one.

Each run is a fresh process, ``python -m geo_stunting demo --out … --quiet``;
the first uses an empty numba cache (``NUMBA_CACHE_DIR`` set to a new
folder), as on a new install, the second the cache the first filled. Wall
and CPU seconds (user + system, the process and its children) of each, and
the SHA-256 of each ``results.json`` (the same seed gives the same file);
then the geo_stunting kernels the first run compiled (the index files it
left in the numba cache). A first run compiles them in a background
process while it reads and analyses (`geo_stunting._compile_ahead`) when
a core is free (``GEO_STUNTING_COMPILE_AHEAD=1`` in the environment: always);
``--also-in-run`` adds a first run with that switched off
(``GEO_STUNTING_COMPILE_AHEAD=0``: the run compiles each kernel at its first
call, as before), in its own empty cache.

Usage: ``python benchmarks/cold_demo.py``. To measure another checkout of
the package, put it first on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_demo(out: Path, cache: Path, *, ahead: bool = True) -> tuple[float, float, str]:
    """Wall s, CPU s and the results.json SHA-256 of one demo in a fresh process."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    if not ahead:
        env["GEO_STUNTING_COMPILE_AHEAD"] = "0"
    command = [sys.executable, "-m", "geo_stunting", "demo", "--out", str(out), "--quiet"]
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu
    digest = hashlib.sha256((out / "results.json").read_bytes()).hexdigest()
    return wall, cpu, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--also-in-run",
        action="store_true",
        help="also time a first run that compiles in the run itself (no background process)",
    )
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.also_in_run:
            (folder / "cache_in_run").mkdir()
            in_run = run_demo(folder / "in_run", folder / "cache_in_run", ahead=False)
            runs.append(("first, compiling in the run", in_run))
        cache = folder / "numba_cache"
        cache.mkdir()
        cold = run_demo(folder / "cold", cache)
        # an index file per compiled function: <package>_<hash>/<module>.<function>-<line>.pyXY.nbi
        kernels = sorted(
            f"{p.parent.name.rsplit('_', 1)[0]}.{p.name.split('.py')[0].rsplit('-', 1)[0]}"
            for p in cache.rglob("*.nbi")
        )
        warm = run_demo(folder / "warm", cache)
    print("geo-stunting demo in a fresh process (wall s, CPU s, results.json SHA-256)")
    runs += [("first (empty numba cache)", cold), ("second", warm)]
    for label, (wall, cpu, digest) in runs:
        print(f"  {label:<28}{wall:7.2f} s {cpu:7.2f} s  {digest[:16]}")
    print(f"kernels compiled by the first run ({len(kernels)}): {', '.join(kernels) or 'none'}")


if __name__ == "__main__":
    main()
