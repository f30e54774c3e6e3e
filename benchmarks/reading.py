"""Benchmark: reading and validating a large subjects CSV (time and peak memory), in one run.

A SYNTHETIC study (``access_end_to_end.write_study``: ids, lon/lat with six
decimals, status; 1,000 facilities) is written to a temporary folder, then in
a fresh process each:

- ``read_table`` of the subjects CSV (the reader alone);
- ``load_study`` (reading, validating, projecting both layers).

Each line gives CPU seconds (user + system, all threads), wall seconds and the
process's peak resident memory (``ru_maxrss``; the imports alone hold about
200 MiB). The machine is shared: compare CPU seconds, and ratios within one run.
To compare with another version of geo_stunting, run it with
``PYTHONPATH=/path/to/that/tree``.

Usage: ``python benchmarks/reading.py [--n 100000 2000000]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from access_end_to_end import write_study

_CHILD = """
import json, resource, sys, time
from pathlib import Path
what, folder = sys.argv[1], Path(sys.argv[2])
import geo_stunting as gs
from geo_stunting.study._readers import read_table
cpu, wall = time.process_time(), time.perf_counter()
if what == "read_table":
    rows = len(read_table(folder / "subjects.csv"))
else:
    rows = len(gs.load_study(folder / "study.toml").subjects)
print(json.dumps({
    "rows": rows,
    "cpu_s": time.process_time() - cpu,
    "wall_s": time.perf_counter() - wall,
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def measure(what: str, folder: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, what, str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 2_000_000])
    args = parser.parse_args()
    print(f"{'rows':>10} {'what':<11} {'MB file':>8} {'CPU s':>7} {'wall s':>7} {'peak MiB':>9}")
    for n in args.n:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            write_study(folder, n, 1_000)
            size = (folder / "subjects.csv").stat().st_size / 1e6
            for what in ("read_table", "load_study"):
                r = measure(what, folder)
                print(
                    f"{n:>10,} {what:<11} {size:>8.1f} {r['cpu_s']:>7.2f} {r['wall_s']:>7.2f} "
                    f"{r['peak_mib']:>9.0f}"
                )


if __name__ == "__main__":
    main()
