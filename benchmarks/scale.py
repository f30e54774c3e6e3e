"""Benchmark: the access analysis at national scale — dask engine vs the single-process engine.

Synthetic province-sized data in UTM 48S (600 × 600 km, one UTM zone, so planar distances):

- facilities: 300,000 (10,000 puskesmas, 25,000 pustu, 265,000 posyandu), uniform;
- villages: 200 × 200 squares of 3 km (40,000), districts = 10 × 10 villages (400),
  regencies = 50 × 50 villages (16);
- subjects: N children, one-third cases, uniform, generated partition by partition
  (500,000 rows each, never all in memory) into GeoParquet parts under a temporary folder
  in /tmp, deleted at the end. The parts are in generation order, not spatial order, so
  the dask engine's Hilbert shuffle does real work.

Per size and engine, in a fresh child process (so peak memory is that run's own):

- dask: `geo_stunting.scale.access_dask` on a LocalCluster (2 single-threaded workers,
  --memory-limit each): read parts → Hilbert shuffle → nearest overall and per kind,
  flags, villages → write partitioned GeoParquet → exact aggregates at 3 levels.
  Peak RSS of the client process (ru_maxrss) and of each worker (ru_maxrss, gathered with
  client.run at the end).
- local: read all parts into one GeoDataFrame, `locate_in_areas`, `coverage` (by kind),
  then the same area aggregates and the cases-vs-controls comparison in memory; peak RSS
  of the process. Run only up to --local-max subjects (its memory grows with N).

Then the exponent b of time ~ N^b by least squares on log-log, per engine.
With --trees (default at the smallest size), the dask engine is also run with the k-d
trees rebuilt in every partition instead of broadcast once per worker.

    python benchmarks/scale.py --quick        # 1,000,000 subjects only
    python benchmarks/scale.py                # 1M, 5M and 20M (dask); local up to 5M
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo_stunting.access import _coverage as acc
from geo_stunting.access._compare import compare_within
from geo_stunting.scale._areas import area_tables, build_area_index
from geo_stunting.scale._engine import access_dask, build_facility_index

CRS = "EPSG:32748"
X0, Y0, SIDE = 200_000.0, 9_200_000.0, 600_000.0
VILLAGE_GRID = 200  # 200 × 200 villages of 3 km
DISTRICT_BLOCK, REGENCY_BLOCK = 10, 50
KINDS = (("puskesmas", 10_000), ("pustu", 25_000), ("posyandu", 265_000))
PART_ROWS = 500_000
BUFFER_M = 2000.0
LEVELS = {"village": None, "district": "district", "regency": "regency"}


# --------------------------------------------------------------------------- data


def make_facilities(seed: int, scale: float = 1.0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng([seed, 1])
    kinds = np.concatenate([np.full(int(n * scale), k) for k, n in KINDS])
    xy = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), size=(len(kinds), 2))
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:06d}" for i in range(len(kinds))],
            "name": [f"{k.title()} {i}" for i, k in enumerate(kinds)],
            "kind": kinds,
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )


def make_villages() -> gpd.GeoDataFrame:
    cell = SIDE / VILLAGE_GRID
    i, j = np.meshgrid(np.arange(VILLAGE_GRID), np.arange(VILLAGE_GRID), indexing="xy")
    i, j = i.ravel(), j.ravel()
    boxes = shapely.box(X0 + i * cell, Y0 + j * cell, X0 + (i + 1) * cell, Y0 + (j + 1) * cell)
    return gpd.GeoDataFrame(
        {
            "name": [f"V{a:03d}{b:03d}" for a, b in zip(i, j, strict=True)],
            "district": [
                f"D{a // DISTRICT_BLOCK:02d}{b // DISTRICT_BLOCK:02d}"
                for a, b in zip(i, j, strict=True)
            ],
            "regency": [
                f"R{a // REGENCY_BLOCK}{b // REGENCY_BLOCK}" for a, b in zip(i, j, strict=True)
            ],
        },
        geometry=boxes,
        crs=CRS,
    )


def write_subjects(folder: Path, n: int, seed: int) -> int:
    folder.mkdir(parents=True)
    parts = math.ceil(n / PART_ROWS)
    for p in range(parts):
        rows = min(PART_ROWS, n - p * PART_ROWS)
        rng = np.random.default_rng([seed, 2, p])
        xy = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), size=(rows, 2))
        start = p * PART_ROWS
        gpd.GeoDataFrame(
            {
                "subject_id": np.char.add("S", np.arange(start, start + rows).astype(str)),
                "status": np.where(rng.random(rows) < 1 / 3, "case", "control"),
                "age_months": rng.integers(0, 60, rows),
            },
            geometry=shapely.points(xy),
            crs=CRS,
        ).to_parquet(folder / f"part.{p:05d}.parquet", index=False)
    return parts


# --------------------------------------------------------------------------- children


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_dask(args: argparse.Namespace) -> dict[str, Any]:
    facilities = make_facilities(args.seed, args.facility_scale)
    villages = make_villages()
    start = time.perf_counter()
    result = access_dask(
        args.data / "subjects",
        facilities,
        buffer_m=BUFFER_M,
        areas=villages,
        levels=LEVELS,
        out=args.data / f"out-{args.trees}",
        n_workers=args.workers,
        memory_limit=args.memory_limit,
        partition_rows=args.partition_rows,
        trees=args.trees,
    )
    seconds = time.perf_counter() - start
    section = result.section
    return {
        "seconds": seconds,
        "timings": result.timings,
        "client_peak_mib": peak_rss_mib(),
        "worker_peak_mib": sorted(v / 2**20 for v in result.worker_peak_rss.values()),
        "n_partitions": section["engine"]["n_partitions"],
        "n_subjects": section["n_subjects"],
        "cases_within": section["cases_within"],
        "controls_within": section["controls_within"],
        "median_cases": section["distance"]["cases"]["median_m"],
        "regency_medians": result.layers["area_access_regency"]["median_distance_m"].tolist(),
        "village_within": int(result.layers["area_access_village"]["subjects_within"].sum()),
    }


def child_local(args: argparse.Namespace) -> dict[str, Any]:
    facilities = make_facilities(args.seed, args.facility_scale)
    villages = make_villages()
    start = time.perf_counter()
    subjects = gpd.read_parquet(args.data / "subjects")
    read_s = time.perf_counter() - start
    area = acc.locate_in_areas(subjects, villages).to_numpy()
    access = acc.coverage(subjects, facilities, buffer_m=BUFFER_M, by_kind=True, metric="planar")
    status = np.where(access["status"].to_numpy() == "case", 1, 0).astype(np.int8)
    distance = access["distance_m"].to_numpy()
    comparison = compare_within(distance, status == 1, buffer_m=BUFFER_M)
    layers = area_tables(
        build_area_index(villages, levels=LEVELS),
        villages,
        area_position=area,
        distance_m=distance,
        status=status,
        buffer_m=BUFFER_M,
    )
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "read_seconds": read_s,
        "client_peak_mib": peak_rss_mib(),
        "n_subjects": len(access),
        "cases_within": comparison.cases_within,
        "controls_within": comparison.controls_within,
        "median_cases": comparison.distance["cases"].median_m,
        "regency_medians": layers["area_access_regency"]["median_distance_m"].tolist(),
        "village_within": int(layers["area_access_village"]["subjects_within"].sum()),
    }


def run_child(engine: str, data: Path, args: argparse.Namespace, trees: str) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--data",
        str(data),
        "--trees",
        trees,
        "--seed",
        str(args.seed),
        "--workers",
        str(args.workers),
        "--memory-limit",
        args.memory_limit,
        "--partition-rows",
        str(args.partition_rows),
        "--facility-scale",
        str(args.facility_scale),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --------------------------------------------------------------------------- report


def tree_costs(args: argparse.Namespace) -> None:
    """What broadcasting saves: building the trees vs sending them once per worker."""
    facilities = make_facilities(args.seed, args.facility_scale)
    start = time.perf_counter()
    index = build_facility_index(facilities, prebuild=True)
    build = time.perf_counter() - start
    start = time.perf_counter()
    blob = pickle.dumps(index, protocol=5)
    dumps = time.perf_counter() - start
    start = time.perf_counter()
    pickle.loads(blob)
    loads = time.perf_counter() - start
    bare = pickle.dumps(build_facility_index(facilities, prebuild=False), protocol=5)
    print(
        f"k-d trees (all + 3 kinds) of {len(facilities):,} facilities: built in {build:.2f} s "
        f"(labels and checks included). broadcast: pickled {len(blob) / 2**20:.0f} MiB "
        f"({dumps:.2f} s), unpickled once per worker in {loads:.2f} s; rebuild: "
        f"{len(bare) / 2**20:.0f} MiB sent, trees rebuilt in every partition"
    )


def fit_exponent(sizes: list[int], seconds: list[float]) -> float | None:
    if len(sizes) < 2:
        return None
    b, _ = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 subjects only")
    parser.add_argument("--sizes", type=int, nargs="*", help="subject counts")
    parser.add_argument("--local-max", type=int, default=5_000_000, help="largest N for local")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GiB", help="per dask worker")
    parser.add_argument("--partition-rows", type=int, default=500_000)
    parser.add_argument("--facility-scale", type=float, default=1.0, help="× 300,000 facilities")
    parser.add_argument("--seed", type=int, default=20231)
    parser.add_argument("--no-trees", action="store_true", help="skip broadcast-vs-rebuild")
    parser.add_argument("--child", choices=("dask", "local"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trees", default="broadcast", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        out = child_dask(args) if args.child == "dask" else child_local(args)
        print(json.dumps(out))
        return

    sizes = args.sizes or ([1_000_000] if args.quick else [1_000_000, 5_000_000, 20_000_000])
    n_fac = sum(int(n * args.facility_scale) for _, n in KINDS)
    districts = (VILLAGE_GRID // DISTRICT_BLOCK) ** 2
    regencies = (VILLAGE_GRID // REGENCY_BLOCK) ** 2
    print(
        f"access at scale: {n_fac:,} facilities, {VILLAGE_GRID**2:,} villages / "
        f"{districts} districts / {regencies} regencies, buffer {BUFFER_M:g} m; "
        f"dask: {args.workers} workers × 1 thread, "
        f"{args.memory_limit} each; machine: {os.cpu_count()} cores"
    )
    tree_costs(args)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix="geo_stunting_scale_", dir="/tmp"))
        try:
            tick = time.perf_counter()
            parts = write_subjects(root / "subjects", n, args.seed)
            size = sum(f.stat().st_size for f in (root / "subjects").iterdir()) / 2**20
            print(
                f"\n=== {n:,} subjects: {parts} GeoParquet parts, {size:,.0f} MiB, "
                f"generated in {time.perf_counter() - tick:.1f} s ==="
            )
            runs = [("dask", "broadcast")]
            if not args.no_trees and n == min(sizes):
                runs.append(("dask", "rebuild"))
            if n <= args.local_max:
                runs.append(("local", "broadcast"))
            results = {}
            for engine, trees in runs:
                label = engine if engine == "local" else f"dask ({trees} trees)"
                out = run_child(engine, root, args, trees)
                results[label] = out
                rows.append({"n": n, "label": label, **out})
                if "error" in out:
                    print(f"{label:<26} failed: {out['error']}")
                    continue
                workers = out.get("worker_peak_mib")
                phases = out.get("timings")
                print(
                    f"{label:<26}{out['seconds']:>9.1f} s   client peak "
                    f"{out['client_peak_mib']:>8,.0f} MiB"
                    + (
                        f"   workers peak {', '.join(f'{w:,.0f}' for w in workers)} MiB"
                        if workers
                        else ""
                    )
                    + (f"   partitions {out['n_partitions']}" if "n_partitions" in out else "")
                )
                if phases:
                    print(
                        "    phases: "
                        + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items() if k != "total")
                    )
            if n > args.local_max:
                print(f"local                      not run (N > --local-max {args.local_max:,})")
            good = [r for r in results.values() if "error" not in r]
            keys = (
                "cases_within",
                "controls_within",
                "median_cases",
                "regency_medians",
                "village_within",
            )
            same = all(all(r[k] == good[0][k] for k in keys) for r in good)
            print(f"results identical across engines and tree modes: {same}")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    print("\ncost growth, time ~ N^b (least squares on log-log):")
    for label in sorted({r["label"] for r in rows}):
        ok = [r for r in rows if r["label"] == label and "error" not in r]
        b = fit_exponent([r["n"] for r in ok], [r["seconds"] for r in ok])
        per = ", ".join(
            f"{r['n'] / 1e6:g}M: {r['seconds'] / r['n'] * 1e6:.1f} µs/subject" for r in ok
        )
        print(f"  {label:<24} b = {'-' if b is None else f'{b:.2f}'}   ({per})")
    local = [r for r in rows if r["label"] == "local" and "error" not in r]
    if len(local) >= 2:
        slope = np.polyfit([r["n"] for r in local], [r["client_peak_mib"] for r in local], 1)
        for n in sizes:
            if n > args.local_max:
                print(
                    f"  local engine at {n / 1e6:g}M would need about "
                    f"{np.polyval(slope, n) / 1024:,.1f} GiB (linear fit of its peak RSS)"
                )


if __name__ == "__main__":
    main()
