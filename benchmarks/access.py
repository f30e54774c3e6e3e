"""Benchmark: geo_stunting's access computation against the floor and what users write today.

Timed core, per size (subjects × facilities, uniform in 60 × 60 km of UTM 48S):

- floor:            scipy cKDTree(facilities).query(subjects, k=1) and `d <= buffer_m`
- ours (arrays):    access._coverage.access_arrays — nearest facility, coverage flag and
                    per-village counts (village of each subject given as an index array)
- ours (frames):    geo_stunting.access.coverage(subjects, facilities, by_kind=False) — the
                    GeoDataFrame API: new frame with nearest id/name/kind, distance, flag
- sjoin_nearest:    geopandas.sjoin_nearest(subjects, facilities, distance_col=...)
- buffer+union+within: facilities.buffer(r).union_all(), then subjects.within(union)
                    (small size only, unless --union-large; it is very slow at 1M × 10k)

Reported separately (not in the core): assigning subjects to villages (point in polygon,
geo_stunting.access._coverage.locate_in_areas) and the buffer/overlay work for maps and area figures
(coverage_polygons + area_coverage).

Peak memory is tracemalloc's peak for Python and NumPy allocations in a separate, untimed run
of each method (GEOS allocations are not seen by tracemalloc).

    python benchmarks/access.py --quick      # 100,000 × 1,000 only
    python benchmarks/access.py              # also 1,000,000 × 10,000
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from geo_stunting.access import _coverage as acc

CRS = "EPSG:32748"
X0, Y0, SIDE = 430_000.0, 9_620_000.0, 60_000.0
GRID = 10  # villages: GRID × GRID squares of 6 km
SIZES = ((100_000, 1_000), (1_000_000, 10_000))


def make_data(n: int, m: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    s_xy = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), size=(n, 2))
    f_xy = rng.uniform((X0, Y0), (X0 + SIDE, Y0 + SIDE), size=(m, 2))
    is_case = rng.random(n) < 1 / 3
    cell = SIDE / GRID
    boxes = [
        shapely.box(X0 + i * cell, Y0 + j * cell, X0 + (i + 1) * cell, Y0 + (j + 1) * cell)
        for j in range(GRID)
        for i in range(GRID)
    ]
    subjects = gpd.GeoDataFrame(
        {"status": np.where(is_case, "case", "control")}, geometry=shapely.points(s_xy), crs=CRS
    )
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:05d}" for i in range(m)],
            "name": [f"Facility {i}" for i in range(m)],
            "kind": np.array(["puskesmas", "pustu", "posyandu"])[np.arange(m) % 3],
        },
        geometry=shapely.points(f_xy),
        crs=CRS,
    )
    villages = gpd.GeoDataFrame(
        {"name": [f"V{i:03d}" for i in range(len(boxes))]}, geometry=boxes, crs=CRS
    )
    return {
        "s_xy": s_xy,
        "f_xy": f_xy,
        "is_case": is_case,
        "subjects": subjects,
        "facilities": facilities,
        "villages": villages,
    }


def best_time(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_mib(func: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run_size(n: int, m: int, args: argparse.Namespace) -> None:
    repeat = args.repeat or (3 if n <= 100_000 else 2)
    print(f"\n=== {n:,} subjects × {m:,} facilities (best of {repeat}; workers={args.workers}) ===")
    data = make_data(n, m, args.seed)
    s_xy, f_xy = data["s_xy"], data["f_xy"]
    subjects, facilities, villages = data["subjects"], data["facilities"], data["villages"]

    start = time.perf_counter()
    area_index = acc.locate_in_areas(subjects, villages).to_numpy()
    locate_s = time.perf_counter() - start

    def floor() -> tuple[np.ndarray, np.ndarray]:
        distance, _ = cKDTree(f_xy).query(s_xy, k=1, workers=args.workers)
        return distance, distance <= args.buffer_m

    def ours_arrays() -> acc.AccessArrays:
        return acc.access_arrays(
            s_xy,
            f_xy,
            buffer_m=args.buffer_m,
            is_case=data["is_case"],
            area_index=area_index,
            n_areas=GRID * GRID,
            workers=args.workers,
        )

    def ours_frames() -> gpd.GeoDataFrame:
        return acc.coverage(
            subjects, facilities, buffer_m=args.buffer_m, by_kind=False, workers=args.workers
        )

    def sjoin() -> np.ndarray:
        joined = gpd.sjoin_nearest(subjects, facilities, distance_col="d")
        joined = joined[~joined.index.duplicated()]  # equidistant facilities give extra rows
        return np.asarray(joined["d"].to_numpy() <= args.buffer_m)

    def union_within() -> np.ndarray:
        union = facilities.buffer(args.buffer_m).union_all()
        return np.asarray(subjects.within(union).to_numpy())

    methods: list[tuple[str, Callable[[], Any]]] = [
        ("floor: cKDTree query", floor),
        ("ours: access_arrays", ours_arrays),
        ("ours: coverage (frames)", ours_frames),
        ("geopandas.sjoin_nearest", sjoin),
    ]
    run_union = n <= 100_000 or args.union_large
    if run_union:
        methods.append(("buffer + union + within", union_within))

    rows = []
    flags: dict[str, np.ndarray] = {}
    distances: dict[str, np.ndarray] = {}
    for label, func in methods:
        seconds, result = best_time(
            func, 1 if label.startswith(("geopandas", "buffer")) else repeat
        )
        if isinstance(result, acc.AccessArrays):
            flags[label], distances[label] = result.within, result.distance_m
        elif isinstance(result, gpd.GeoDataFrame):
            flags[label] = result["within_buffer"].to_numpy()
            distances[label] = result["distance_m"].to_numpy()
        elif isinstance(result, tuple):
            distances[label], flags[label] = result
        else:
            flags[label] = result
        del result
        peak = peak_mib(func) if not args.no_memory else float("nan")
        rows.append((label, seconds, peak))

    base = flags["floor: cKDTree query"]
    for label in ("ours: access_arrays", "ours: coverage (frames)"):
        assert np.array_equal(flags[label], base), f"{label}: coverage flags differ from the floor"
        assert np.array_equal(distances[label], distances["floor: cKDTree query"]), label
    floor_s = rows[0][1]
    print(f"{'method':<26}{'seconds':>10}{'× floor':>10}{'peak MiB':>11}{'flags ≠ floor':>15}")
    for label, seconds, peak in rows:
        mismatch = int((flags[label] != base).sum())
        memory = "-" if np.isnan(peak) else f"{peak:.1f}"
        print(f"{label:<26}{seconds:>10.3f}{seconds / floor_s:>10.2f}{memory:>11}{mismatch:>15,}")
    if not run_union:
        print("buffer + union + within: not run at this size (very slow; --union-large to run)")

    arrays_s = rows[1][1]
    print(
        f"point in polygon (locate_in_areas, {GRID * GRID} villages), outside the core: "
        f"{locate_s:.3f} s; core + it = {(arrays_s + locate_s) / floor_s:.2f} × floor"
    )
    start = time.perf_counter()
    cover = acc.coverage_polygons(facilities, radius_m=args.buffer_m)
    access = ours_frames()
    acc.area_coverage(villages, access, cover)
    print(
        f"buffers + dissolve + village overlay (maps/area figures, not in the core): "
        f"{time.perf_counter() - start:.3f} s"
    )
    print(
        f"subjects within {args.buffer_m:g} m: {int(base.sum()):,} of {n:,}; ours == floor "
        "(asserted: identical flags and bit-identical distances)"
    )
    if base.all():
        print(
            f"note: at this facility density every subject is within {args.buffer_m:g} m; "
            "try --buffer-m 200 for a mixed set of flags"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run only 100,000 × 1,000")
    parser.add_argument("--repeat", type=int, default=0, help="timing repeats (default 3 / 2)")
    parser.add_argument("--workers", type=int, default=1, help="k-d tree threads, all methods")
    parser.add_argument("--seed", type=int, default=20231)
    parser.add_argument("--buffer-m", type=float, default=2000.0, help="coverage radius")
    parser.add_argument("--union-large", action="store_true", help="buffer+union+within at 1M")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args()
    for n, m in SIZES[:1] if args.quick else SIZES:
        run_size(n, m, args)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS (all sizes, incl. GEOS): {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
