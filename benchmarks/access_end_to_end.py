"""Benchmark: the access step end to end against its floor, in one run.

A SYNTHETIC study of 100,000 children and 1,000 facilities (CSV files, lon/lat,
uniform in 60 × 60 km of UTM 48S) is written to a temporary folder, then:

- floor: ``pandas.read_csv`` of both files, pyproj to UTM, ``cKDTree`` nearest
  facility, and the subjects with their distance written to a GeoPackage
  (pyogrio through Arrow);
- ours: ``load_study`` (reading, validating, projecting), ``analyze`` with only
  the access step, and ``write_outputs`` (results.json, layers.gpkg, map.html,
  report.html, print maps, tables.xlsx, run.json; CPU seconds of each, the print
  maps' from their worker process), and the
  same with the imports of a fresh process (``python -m geo_stunting analyze
  --only access``), against the floor in process and in a fresh process too.

Usage: ``python benchmarks/access_end_to_end.py [--n 100000] [--m 1000]``
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.spatial import cKDTree

import geo_stunting as gs
from geo_stunting.outputs._export import write_outputs

STUDY = """\
[study]
name = "access end to end (synthetic)"

[subjects]
path = "subjects.csv"
id = "id"
x = "lon"
y = "lat"
crs = "EPSG:4326"
status = "status"
case = ["case"]
control = ["control"]

[facilities]
path = "facilities.csv"
id = "id"
name = "name"
x = "lon"
y = "lat"

[analysis]
crs = "EPSG:32748"
buffer_m = 2000
"""


def write_study(folder: Path, n: int, m: int, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    to_lonlat = Transformer.from_crs("EPSG:32748", "EPSG:4326", always_xy=True)
    for name, size in (("subjects", n), ("facilities", m)):
        x = 440_000 + rng.uniform(0, 60_000, size)
        y = 9_600_000 + rng.uniform(0, 60_000, size)
        lon, lat = to_lonlat.transform(x, y)
        frame = pd.DataFrame(
            {"id": [f"{name[0].upper()}{k:07d}" for k in range(size)], "lon": lon, "lat": lat}
        )
        if name == "subjects":
            frame["status"] = np.where(rng.random(size) < 0.2, "case", "control")
        else:
            frame["name"] = [f"Posyandu {k}" for k in range(size)]
        frame.to_csv(folder / f"{name}.csv", index=False, float_format="%.6f")
    path = folder / "study.toml"
    path.write_text(STUDY, encoding="utf-8")
    return path


def floor(folder: Path) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    subjects = pd.read_csv(folder / "subjects.csv")
    facilities = pd.read_csv(folder / "facilities.csv")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32748", always_xy=True)
    sx, sy = to_utm.transform(subjects["lon"].to_numpy(), subjects["lat"].to_numpy())
    fx, fy = to_utm.transform(facilities["lon"].to_numpy(), facilities["lat"].to_numpy())
    d, idx = cKDTree(np.column_stack([fx, fy])).query(np.column_stack([sx, sy]), k=1)
    out = gpd.GeoDataFrame(
        {"id": subjects["id"], "facility": facilities["id"].to_numpy()[idx], "distance_m": d},
        geometry=gpd.points_from_xy(sx, sy),
        crs="EPSG:32748",
    )
    out.to_file(folder / "floor.gpkg", driver="GPKG", engine="pyogrio", use_arrow=True)
    return time.perf_counter() - started, time.process_time() - cpu


#: The writers ``write_outputs`` calls, timed one by one: (module, function, label).
WRITERS = (
    ("geo_stunting.outputs._export", "write_gpkg", "layers.gpkg + layers.qgz"),
    ("geo_stunting.outputs.map._render", "make_map", "map.html (data and page)"),
    ("geo_stunting.outputs.report._page", "make_report", "report.html"),
    ("geo_stunting.outputs._workbook", "write_workbook", "tables.xlsx"),
    ("geo_stunting.outputs._export", "run_info", "run.json (versions)"),
    ("geo_stunting.outputs._export", "file_list", "run.json (file hashes)"),
)


@contextlib.contextmanager
def timed_writers(seconds: dict[str, float]) -> Iterator[None]:
    """Add the CPU seconds of each of `WRITERS` to `seconds` while inside."""
    saved = []
    for module_name, name, label in WRITERS:
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        saved.append((module, name, original))
        setattr(module, name, _timer(original, label, seconds))
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _timer(func: Callable[..., Any], label: str, seconds: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        cpu = time.process_time()
        try:
            return func(*args, **kwargs)
        finally:
            seconds[label] = seconds.get(label, 0.0) + time.process_time() - cpu

    return timed


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (the print-map worker)."""
    return time.process_time() + _children_cpu()


def ours(
    path: Path, out: Path, writers: dict[str, float] | None = None
) -> tuple[tuple[float, float], dict[str, tuple[float, float]]]:
    """Wall and CPU seconds in all and per part (load, access, write outputs).

    CPU seconds include the print-map worker's (a forked process, see
    ``geo_stunting/outputs/_print_job.py``), also given on their own in `writers`.
    """
    marks = [("load", time.perf_counter(), _cpu())]
    study = gs.load_study(path)
    marks.append(("access", time.perf_counter(), _cpu()))
    results = gs.analyze(study, steps=["access"])
    marks.append(("write outputs", time.perf_counter(), _cpu()))
    worker = _children_cpu()
    with timed_writers(writers if writers is not None else {}):
        write_outputs(results, out)
    if writers is not None:
        writers["map.pdf + map*.png (worker process)"] = _children_cpu() - worker
    marks.append(("end", time.perf_counter(), _cpu()))
    parts = {a[0]: (b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(marks)}
    return (marks[-1][1] - marks[0][1], marks[-1][2] - marks[0][2]), parts


def _warm_print_maps(path: Path, folder: Path) -> None:
    """Draw the print maps once in this process, so that matplotlib is imported and warm.

    The worker that draws them is forked from this process: like the in-process
    code of before (which drew them here), it then finds matplotlib ready. The
    fresh-process figures below include its import.
    """
    from geo_stunting.outputs._print import write_print_maps  # noqa: PLC0415

    results = gs.analyze(gs.load_study(path), steps=["access"])
    folder.mkdir()
    write_print_maps(results.layers, results.sections, folder)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--m", type=int, default=1_000)
    parser.add_argument("--floor-only", type=Path, help=argparse.SUPPRESS)  # the fresh floor
    args = parser.parse_args()
    if args.floor_only is not None:
        floor(args.floor_only)
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = write_study(folder, args.n, args.m)
        ours(path, folder / "warm")  # numba kernels from the cache, files in the OS cache
        _warm_print_maps(path, folder / "warm_print")
        floor_s = floor(folder)
        writers: dict[str, float] = {}
        ours_s, parts = ours(path, folder / "out", writers)
        command = [sys.executable, "-m", "geo_stunting", "analyze", str(path)]
        command += ["--only", "access", "--out", str(folder / "cli"), "--quiet"]
        cli_s = _fresh(command)
        fresh_floor_s = _fresh([sys.executable, __file__, "--floor-only", str(folder)])
        timeline = _cli_timeline(path, folder / "timeline")
    print(f"access end to end, {args.n:,} subjects × {args.m:,} facilities (wall s, CPU s)")
    print("  (the floor runs on one core; ours draws the print maps in a second process")
    print("   beside the other outputs: its CPU seconds count, and wall time can gain)")
    print(f"  {'floor (read CSV + project + cKDTree + write GPKG)':<50}{_pair(floor_s)}")
    print(f"  {'ours in process':<50}{_pair(ours_s, floor_s)}")
    for part, seconds in parts.items():
        print(f"    {part:<48}{_pair(seconds)}")
        if part == "write outputs":
            for label, cpu in writers.items():
                print(f"      {label:<46}{'':>9} {cpu:7.2f} s")
    print(f"  {'floor, fresh process (imports included)':<50}{_pair(fresh_floor_s)}")
    print(f"  {'ours, fresh process (imports included)':<50}{_pair(cli_s, floor_s)}")
    print(f"  {'  the same against the fresh floor':<50}{_pair(cli_s, fresh_floor_s)}")
    write_cpu = parts["write outputs"][1]
    worker = writers.get("map.pdf + map*.png (worker process)", 0.0)
    path_in = parts["load"][1] + parts["access"][1] + max(write_cpu - worker, worker)
    path_cli = max(timeline["parent"], timeline["fork"] + timeline["worker"])
    print("  the longest path on two idle cores (model: CPU seconds before the fork, then the")
    print("  longer of the parent's and the worker's; on one core it is the sum of all):")
    print(
        f"    {'ours in process':<48}{path_in:7.2f} s   "
        f"{path_in / floor_s[1]:5.2f}× the floor's CPU"
    )
    print(
        f"    {'ours, fresh process':<48}{path_cli:7.2f} s   "
        f"{path_cli / fresh_floor_s[1]:5.2f}× the fresh floor's CPU "
        f"(parent {timeline['parent']:.2f}, fork at {timeline['fork']:.2f}, "
        f"worker {timeline['worker']:.2f})"
    )


#: Runs ``geo-stunting analyze --only access`` in a fresh process and prints its CPU seconds:
#: in all, when the print-map worker was forked, and the worker's (the fork at the end for code
#: without a worker). Nothing but the command is imported.
_TIMELINE = """
import contextlib, json, resource, runpy, sys
def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
marks = {}
try:
    from geo_stunting.outputs import _print_job
except ImportError:
    _print_job = None
if _print_job is not None:
    start = _print_job.print_maps_beside
    @contextlib.contextmanager
    def marked(*args, **kwargs):
        marks["fork"] = cpu(resource.RUSAGE_SELF)
        with start(*args, **kwargs) as job:
            yield job
    _print_job.print_maps_beside = marked
sys.argv = ["geo-stunting", "analyze", sys.argv[1], "--only", "access", "--out", sys.argv[2], "-q"]
try:
    runpy.run_module("geo_stunting", run_name="__main__")
except SystemExit:
    pass
parent = cpu(resource.RUSAGE_SELF)
print(json.dumps({"parent": parent, "fork": marks.get("fork", parent),
                  "worker": cpu(resource.RUSAGE_CHILDREN)}))
"""


def _cli_timeline(path: Path, out: Path) -> dict[str, float]:
    """CPU seconds of a fresh ``analyze --only access``: parent, at the fork, worker."""
    command = [sys.executable, "-c", _TIMELINE, str(path), str(out)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _fresh(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of a command in a fresh process."""
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, _children_cpu() - cpu


def _pair(seconds: tuple[float, float], floor: tuple[float, float] | None = None) -> str:
    """``wall s  CPU s`` and, against the floor, both ratios."""
    text = f"{seconds[0]:7.2f} s {seconds[1]:7.2f} s"
    if floor is not None:
        text += f"   {seconds[0] / floor[0]:5.2f}× wall {seconds[1] / floor[1]:5.2f}× CPU"
    return text


if __name__ == "__main__":
    main()
