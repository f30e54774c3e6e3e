"""Does each verdict-bearing test reject at its stated level under the null?

For every test whose p-value decides a sentence of the headlines or the
report, simulate its null hypothesis many times and count how often it says
"significant" at α = 0.05, with the Clopper–Pearson 95 % interval of that
rate. A test is calibrated when the rate is at most 0.05 within the interval
(the interval's lower end ≤ 0.05); a rate well below 0.05 is conservative.

Nulls
-----
* random labelling (cases and controls shuffled among the fixed homes; the
  case-control tests, Moran, join counts, the scan, the relative-risk surface,
  access and risk factors);
* complete spatial randomness in the window (Clark–Evans Monte Carlo test).

Layouts: the demo's 201 homes (67 cases), and a clustered layout of 300
homes in tight hamlets (100 cases) in a 6 × 5 km rectangle.

Permutations inside each test are small (99 by default; 999 for the
relative-risk surface, whose false-discovery-rate verdict needs p-values
below 0.05 / cells): a Monte Carlo test with R permutations and p = rank /
(R + 1) has size exactly α when α(R + 1) is an integer, whatever R is, so
the rejection rate does not depend on R (its power does). The
relative-risk bandwidth is fixed at the value cross-validated on the observed
labels (the test is of the surface, not of the bandwidth choice), and its
cells are a quarter of the bandwidth (the default's upper bound: finer cells
change the map's detail, not the test's size, and would take hours here).

Usage::

    python benchmarks/calibration.py                 # 1000 replicates, both layouts
    python benchmarks/calibration.py --replicates 200 --layouts demo   # quicker look
    python benchmarks/calibration.py --markdown       # the table for README

Prints one row per test and layout: rejections / replicates, the rate and its
interval, and "ok" or "TOO HIGH". Seeded: the same seed prints the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from scipy import stats

import geo_stunting as gs
from geo_stunting.access._compare import compare_within
from geo_stunting.autocorrelation._statistics import build_neighbours, join_counts, moran
from geo_stunting.pattern._casecontrol import case_control_r, cuzick_edwards, k_difference
from geo_stunting.pattern._nearest_neighbour import clark_evans
from geo_stunting.pattern._window import StudyWindow, make_window
from geo_stunting.risk_factors._analysis import analyze_factor
from geo_stunting.scan._bandwidth import bandwidth_relrisk
from geo_stunting.scan._bernoulli import scan_bernoulli_xy
from geo_stunting.scan._contours import raised_risk_areas
from geo_stunting.scan._maxsize import choose_max_share
from geo_stunting.scan._relative_risk import relative_risk_xy
from geo_stunting.study._risk_spec import parse_risk_factor_section, resolve_factors

ALPHA = 0.05
SEED = 20240601


@dataclass
class Layout:
    """Fixed homes, the case count, the window, and the covariates that go with the homes."""

    name: str
    xy: np.ndarray
    n_cases: int
    window: StudyWindow
    distance_m: np.ndarray
    factors: tuple  # resolved risk factors (demo only)
    strata: np.ndarray | None


def _frame(xy: np.ndarray, is_case: np.ndarray, strata: np.ndarray | None) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {
            "subject_id": [f"S{i}" for i in range(len(xy))],
            "status": np.where(is_case, "case", "control"),
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs="EPSG:32748",
    )
    if strata is not None:
        frame["stratum"] = strata
    return frame


def demo_layout() -> Layout:
    study = gs.load_study(gs.demo_study_path())
    subjects = study.subjects
    xy = np.column_stack([subjects.geometry.x, subjects.geometry.y])
    facilities = np.column_stack([study.facilities.geometry.x, study.facilities.geometry.y])
    distance = np.min(np.hypot(*(xy[:, None, :] - facilities[None, :, :]).transpose(2, 0, 1)), 1)
    spec = parse_risk_factor_section(dict(study.risk_factors or {}), base=study.source.parent)
    factors, _ = resolve_factors(spec, subjects)
    chosen = tuple(
        f for f in factors if f.column in ("mother_knowledge", "mother_education", "water_mn_mgl")
    )
    return Layout(
        "demo",
        xy,
        int((subjects["status"] == "case").sum()),
        make_window(subjects, area=study.area),
        distance,
        chosen,
        subjects["stratum"].to_numpy(dtype=object) if "stratum" in subjects else None,
    )


def clustered_layout(seed: int = 7) -> Layout:
    """300 homes in 12 hamlets (sd 120 m) in a 6 × 5 km rectangle; 4 facilities."""
    rng = np.random.default_rng(seed)
    hamlets = rng.uniform([500, 500], [5500, 4500], size=(12, 2))
    which = rng.integers(12, size=300)
    xy = np.clip(hamlets[which] + rng.normal(0, 120, size=(300, 2)), 1, [5999, 4999])
    facilities = rng.uniform([0, 0], [6000, 5000], size=(4, 2))
    distance = np.min(np.hypot(*(xy[:, None, :] - facilities[None, :, :]).transpose(2, 0, 1)), 1)
    frame = _frame(xy, np.zeros(300, dtype=bool), None)
    window = make_window(frame, polygon=shapely.box(0, 0, 6000, 5000))
    return Layout("clustered", xy, 100, window, distance, (), which.astype(str))


def _case(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(len(layout.xy), dtype=bool)
    out[rng.choice(len(layout.xy), size=layout.n_cases, replace=False)] = True
    return out


Test = Callable[[Layout, np.ndarray, int], float | None]


def _tests(layout: Layout, permutations: int) -> dict[str, Test]:
    """name -> function(layout, is_case, seed) returning the p-value of the verdict."""
    frame0 = _frame(layout.xy, np.zeros(len(layout.xy), dtype=bool), layout.strata)
    neighbours = build_neighbours(frame0, weights="knn:5")
    r_cc = case_control_r(layout.xy, steps=100)
    base_case = _case(layout, np.random.default_rng(1))
    sigma = bandwidth_relrisk(
        layout.xy[:, 0], layout.xy[:, 1], base_case, window=layout.window.geometry
    ).bandwidth_m

    def frame(is_case: np.ndarray) -> gpd.GeoDataFrame:
        out = frame0.copy()
        out["status"] = np.where(is_case, "case", "control")
        return out

    def access_table(_l: Layout, c: np.ndarray, _s: int) -> float | None:
        return compare_within(layout.distance_m, c, buffer_m=2000.0).test.p_value

    def access_mw(_l: Layout, c: np.ndarray, _s: int) -> float | None:
        return compare_within(layout.distance_m, c, buffer_m=2000.0).mann_whitney.p_value

    def kdiff(_l: Layout, c: np.ndarray, s: int) -> float | None:
        result = k_difference(
            frame(c), window=layout.window, permutations=permutations, r_m=r_cc, seed=s
        )
        return result.p_value

    def kdiff_global(_l: Layout, c: np.ndarray, s: int) -> float | None:
        result = k_difference(
            frame(c), window=layout.window, permutations=permutations, r_m=r_cc, seed=s
        )
        return result.p_global

    def cuzick(_l: Layout, c: np.ndarray, s: int) -> float | None:
        return cuzick_edwards(frame(c), ks=(5,), permutations=permutations, seed=s)[0].p_mc

    def moran_perm(_l: Layout, c: np.ndarray, s: int) -> float | None:
        return moran(frame(c), neighbours=neighbours, permutations=permutations, seed=s).p_sim

    def moran_normal(_l: Layout, c: np.ndarray, _s: int) -> float | None:
        return moran(frame(c), neighbours=neighbours, permutations=0).p_rand

    def joins(_l: Layout, c: np.ndarray, s: int) -> float | None:
        result = join_counts(frame(c), neighbours=neighbours, permutations=permutations, seed=s)
        return result.p_sim_bb

    def scan(_l: Layout, c: np.ndarray, s: int) -> float | None:
        result = scan_bernoulli_xy(
            layout.xy[:, 0], layout.xy[:, 1], c, permutations=permutations, seed=s
        )
        return result.clusters[0].p_value if result.clusters else 1.0

    def scan_gini(_l: Layout, c: np.ndarray, s: int) -> float | None:
        choice = choose_max_share(frame(c), permutations=permutations, seed=s)
        clusters = choice.result.clusters
        return clusters[0].p_value if clusters else 1.0

    def relrisk(_l: Layout, c: np.ndarray, s: int) -> float | None:
        result = relative_risk_xy(
            layout.xy[:, 0],
            layout.xy[:, 1],
            c,
            window=layout.window.geometry,
            bandwidth_m=sigma,
            cell_m=sigma / 4,  # the size of the test does not depend on the map's detail
            permutations=999,
            seed=s,
        )
        # the verdict: at least one raised-risk area holding children (FDR 5 %)
        return 0.0 if raised_risk_areas(result).polygons else 1.0

    tests: dict[str, Test] = {
        "access: within 2 km, chi-square/Fisher (two-sided)": access_table,
        "access: distance, Mann-Whitney (two-sided)": access_mw,
        "K difference, D+ (greater)": kdiff,
        "K difference, global envelope (two-sided)": kdiff_global,
        "Cuzick-Edwards T5 (greater)": cuzick,
        "Moran's I, permutation (greater)": moran_perm,
        "Moran's I, normal randomisation (greater)": moran_normal,
        "join counts BB, permutation (greater)": joins,
        "Bernoulli scan, most likely cluster (greater)": scan,
        "Bernoulli scan, Gini-chosen largest window (greater)": scan_gini,
        "relative risk: any raised-risk area (FDR 5 %)": relrisk,
    }
    for factor in layout.factors:

        def risk(_l: Layout, c: np.ndarray, s: int, f=factor) -> float | None:
            return analyze_factor(f, c, seed=s).p_value

        tests[f"risk factor {factor.column} ({factor.kind}, two-sided)"] = risk
    return tests


def _csr_clark_evans(layout: Layout, permutations: int, seed: int) -> float | None:
    """Clark–Evans Monte Carlo test on n points drawn uniformly in the window (the CSR null)."""
    rng = np.random.default_rng(seed)
    xy = layout.window.random_points(layout.n_cases, rng=rng)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:32748")
    return clark_evans(points, window=layout.window, permutations=permutations, seed=seed).p_mc


def calibrate(
    layout: Layout, *, replicates: int, permutations: int, seed: int, only: str | None
) -> list[tuple[str, int, int, float]]:
    tests = _tests(layout, permutations)
    tests["Clark-Evans, Monte Carlo under CSR (two-sided)"] = lambda _l, _c, s: _csr_clark_evans(
        layout, permutations, s
    )
    rows = []
    streams = np.random.SeedSequence(seed).spawn(len(tests))
    for (name, test), stream in zip(tests.items(), streams, strict=True):
        if only and only.lower() not in name.lower():
            continue
        rng = np.random.default_rng(stream)
        start = time.perf_counter()
        rejections = 0
        for _ in range(replicates):
            is_case = _case(layout, rng)
            p = test(layout, is_case, int(rng.integers(2**31)))
            rejections += int(p is not None and p <= ALPHA)
        rows.append((name, rejections, replicates, time.perf_counter() - start))
        _print_row(layout.name, *rows[-1])
    return rows


def _interval(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    return float(ci.low), float(ci.high)


def _print_row(layout: str, name: str, k: int, n: int, seconds: float) -> None:
    low, high = _interval(k, n)
    verdict = "ok" if low <= ALPHA else "TOO HIGH"
    print(
        f"{layout:10s} {name:58s} {k:5d}/{n:<5d} {k / n:6.3f} [{low:.3f}, {high:.3f}] "
        f"{verdict:8s} {seconds:6.0f} s",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=99)
    parser.add_argument("--layouts", default="demo,clustered")
    parser.add_argument("--only", default=None, help="run only the tests whose name contains this")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    args = parser.parse_args()
    layouts = {"demo": demo_layout, "clustered": clustered_layout}
    table = []
    for name in args.layouts.split(","):
        layout = layouts[name.strip()]()
        rows = calibrate(
            layout,
            replicates=args.replicates,
            permutations=args.permutations,
            seed=args.seed,
            only=args.only,
        )
        table += [(layout.name, *row) for row in rows]
    if args.markdown:
        print("\n| layout | test | rejections | rate at α = 0.05 | 95 % interval |")
        print("|---|---|---|---|---|")
        for layout_name, name, k, n, _ in table:
            low, high = _interval(k, n)
            print(f"| {layout_name} | {name} | {k}/{n} | {k / n:.3f} | {low:.3f}–{high:.3f} |")
    bad = [row for row in table if _interval(row[2], row[3])[0] > ALPHA]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
