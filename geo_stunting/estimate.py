"""Rough expected run time and memory of every step, said before it starts, with how to shorten it.

The numbers are a cost model, not a measurement: operations counted from the
study's size (subjects, permutations, grid cells, neighbours, model terms,
areas) times a cost per operation. Pattern and scan rates were measured on
one core of a 2020s laptop on the 241-village Ogan Ilir window
(`benchmarks/district.py`); the others on this project's 2-core build
machine (the relative-risk kernel sums 4e-10 s per multiply-add on the demo,
8e-10 s per footprint cell of a labelling at 30,000 subjects,
a Gaussian kernel value 5e-8 s, one permuted label 1.2e-8 s; the access step
held about 2.5 KB per subject at 100,000 subjects, `run.json →
steps.access.peak_rss_mib`). A busy machine takes longer. The command line
says the time before a long step, and `geo_stunting._safety.resource_problems`
refuses, before the analysis starts, a step this machine cannot hold in
memory or that would run longer than a day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo_stunting.study._study import Study

__all__ = ["StepEstimate", "estimate_step", "pattern_memory_bytes", "scan_memory_bytes"]

#: Say something before a step expected to take longer than this (seconds).
SAY_ABOVE_S = 10.0

# seconds per unit of work (one core), from benchmarks/district.py; the pattern rates
# fitted to the CPU seconds of each part of the step on 30,000 children in Ogan Ilir
# (143 CPU s in all, tests/test_pattern_time_model.py)
_ISOTROPIC_PAIR_S = 2e-7  # one pair of a simulated pattern, isotropic weight
_BORDER_PAIR_S = 3.1e-9  # one pair closer than rmax, border correction only
_TRANSLATE_PAIR_S = 2e-8  # one pair of a simulated pattern, translation weight (table)
_POINT_S = 1.6e-7  # one point of a simulated pattern (nearest neighbour, G, boundary)
_RELABEL_PAIR_S = 3e-9  # one pair of one relabelling (K difference)
_CUZICK_SUBJECT_S = 3.1e-8  # one subject of one relabelling for one k (Cuzick–Edwards)
_SCAN_ENTRY_S = 1.2e-10  # one (window, replication), per-lane sweep
_SCAN_BITS_ENTRY_S = 7.5e-11  # the same, bit-sliced sweep (above scan BITS_ABOVE_LOCATIONS)
_SCAN_BITS_ABOVE = 40_000
_SCAN_WINDOW_S = 6e-8  # one window: its neighbour sorted in, and scored for the observed cases
_BANDWIDTH_PAIR_S = 3.5e-8  # one pair of the relative risk's bandwidth search (30k: 15 s)
_SURFACE_TERM_S = 1e-10  # one (cell, subject, labelling) of the dense relative-risk surface
#: Above this many terms the surface adds footprints (scan._relative_risk.DENSE_MAX_TERMS) ...
_DENSE_MAX_TERMS = 5e9
#: ... of about this many cells (5 bandwidths at a quarter bandwidth a cell: pi * 25 * 16)
_FOOTPRINT_CELLS = 1257
_FOOTPRINT_TERM_S = 8e-10  # one (footprint cell, group member, labelling), 30k: 7.5e9 in 5 s
#: The relative-risk grid has at most about this many cells across (MIN_CELLS_ACROSS).
_CELLS_ACROSS = 128
_NLARGE = 3000
_NLARGE_ISOTROPIC = 500
_MAC_S = 4e-10  # one multiply-add of the relative-risk kernel sums (demo: 2.9e9 in 1.2 s)
_LABEL_S = 1.2e-8  # one permuted label
_NEIGHBOUR_S = 5e-9  # one neighbour of one subject in one permutation (compiled)
_ACCESS_SUBJECT_S = 5e-5  # one subject through the access step (nearest facilities, layers)
_ACCESS_SUBJECT_BYTES = 3_000.0  # measured 2.5 KB at 100,000 subjects
_IRLS_ITERATIONS = 25  # Newton steps of a (Firth) logistic fit, an upper bound
_MAX_GRID_CELLS = 4_000_000  # scan._relative_risk.MAX_GRID_CELLS
#: Cost of the Gini choice of the scan's largest window, in scans at 50 % (per-lane sweep): its
#: 15 maximum sizes share one sweep (scan._cutoffs); benchmarks/scan_gini.py measured 1.12 at
#: 10,000 children and 1.22 at 30,000 (95.2 against 78.1 CPU s). Before, 15 scans: 4.62.
_GINI_COST = 1.2


@dataclass(frozen=True)
class StepEstimate:
    """Expected seconds of one step, why, and how to shorten it."""

    step: str
    seconds: float
    why: str
    shorten: str
    memory_bytes: float = 0.0

    def sentence(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.step}: expect about {_duration(self.seconds)} ({self.why}); "
            f"to shorten: {self.shorten}"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    return f"{seconds / 60:.0f} min"


def _area_and_share(study: Study, n: int) -> tuple[float, float]:
    """The window's area (m²) and the share of pairs closer than the K function's rmax."""
    if study.area is not None and len(study.area):
        area = float(study.area.geometry.area.sum())
        minx, miny, maxx, maxy = study.area.total_bounds
    else:
        minx, miny, maxx, maxy = study.subjects.total_bounds
        area = max((maxx - minx) * (maxy - miny), 1.0)
    rmax = min(min(maxx - minx, maxy - miny) / 4, math.sqrt(1000 * area / (math.pi * max(n, 1))))
    return area, min(1.0, math.pi * rmax**2 / area)


def pattern_memory_bytes(study: Study) -> float:
    """Memory of the pattern step (bytes).

    The K-difference pairs closer than rmax, about 16 bytes each and stored
    once, and a curve per simulation.
    """
    n = len(study.subjects)
    _, share = _area_and_share(study, n)
    return study.settings.permutations * 100 * 8.0 * 6 + n * n * share * 0.5 * 16.0 + n * 200.0


def scan_memory_bytes(study: Study) -> float:
    """Memory of the scan (bytes).

    A label per subject and replication (a byte, and a bit more for the
    bit-sliced sweep), and neighbour lists by blocks of centres: about 7 KB
    per subject at 50,000 subjects and 50 % (`benchmarks/scan.py`).
    """
    n = len(study.subjects)
    return study.settings.permutations * n * 1.125 + n * 8_000.0


def estimate_step(name: str, study: Study) -> StepEstimate | None:
    """The expected run time of step `name` on `study`, if the step is a slow kind.

    Examples
    --------
    >>> import geo_stunting as gs
    >>> estimate = estimate_step("pattern", gs.load_study(gs.demo_study_path()))
    >>> estimate is not None and estimate.seconds < 60
    True
    """
    subjects = study.subjects
    n = len(subjects)
    p = study.settings.permutations
    is_case = (subjects["status"] == "case").to_numpy() if "status" in subjects else None
    n1 = int(is_case.sum()) if is_case is not None else 0
    n0 = n - n1
    fewer = "--permutations 99" if p > 99 else "fewer permutations"
    if name == "pattern":
        _, share = _area_and_share(study, n)
        seconds = 0.0
        for group in (n1, n0):
            pairs = group * group * share
            per_pair = (
                _ISOTROPIC_PAIR_S
                if group <= _NLARGE_ISOTROPIC
                else _TRANSLATE_PAIR_S
                if group <= _NLARGE
                else _BORDER_PAIR_S
            )
            seconds += p * (pairs * per_pair + 4 * group * _POINT_S)
        seconds += p * 3 * n * _POINT_S  # Clark–Evans of cases, controls and all
        strata = 2 if "stratum" in subjects and subjects["stratum"].nunique() > 1 else 1
        seconds += strata * p * n * n * share * 0.2 * _RELABEL_PAIR_S
        seconds += strata * p * 4 * n * _CUZICK_SUBJECT_S  # T_k for k = 1, 3, 5, 10
        threads = _threads()
        return StepEstimate(
            name,
            float(seconds / threads),
            f"{p} simulations of {n1:,} cases and {n0:,} controls in the window, "
            f"{threads} thread(s)",
            f"{fewer}, --only to skip this step, or a smaller study area",
            float(pattern_memory_bytes(study)),
        )
    if name == "scan":
        options = study.settings.scan
        area, _ = _area_and_share(study, n)
        # no max_share and no radius: the Gini choice sweeps the windows up to 50 % once for
        # every maximum of scan._maxsize.GINI_SHARES, per lane at any size (scan._cutoffs)
        gini = options.max_share is None and options.max_radius_m is None
        share = 0.5 if options.max_share is None else options.max_share
        if options.max_radius_m is not None:
            share = min(share, math.pi * options.max_radius_m**2 / area)
        windows = n * max(share * n, 1.0)
        entry_s = _SCAN_BITS_ENTRY_S if n > _SCAN_BITS_ABOVE and not gini else _SCAN_ENTRY_S
        seconds = windows * (_SCAN_WINDOW_S + p * entry_s) * (_GINI_COST if gini else 1.0)
        threads = _threads()
        return StepEstimate(
            name,
            float(seconds / threads),
            f"{p} replications, windows up to {share:.0%} of {n:,} subjects"
            + (" (every maximum size of the Gini choice in one sweep)" if gini else "")
            + f", {threads} thread(s)",
            f"{fewer}, max_radius_m or a smaller max_share in [scan], or --only to skip it",
            float(scan_memory_bytes(study)),
        )
    other = _OTHERS.get(name)
    return None if other is None else other(study)


def _size(study: Study) -> tuple[int, int, str]:
    """Subjects, permutations and the advice to use fewer."""
    p = study.settings.permutations
    return len(study.subjects), p, "--permutations 99" if p > 99 else "fewer permutations"


def _relative_risk(study: Study) -> StepEstimate:
    """Kernel sums at every grid cell for the data and each labelling; bandwidth by CV."""
    n, p, fewer = _size(study)
    rr = study.settings.relative_risk
    area, _ = _area_and_share(study, n)
    bounds = study.subjects.total_bounds
    if study.area is not None and len(study.area):
        bounds = study.area.total_bounds
    longest = max(float(bounds[2] - bounds[0]), float(bounds[3] - bounds[1]), 1.0)
    cells = _CELLS_ACROSS**2 * min(1.0, area / longest**2)
    if rr.cell_m is not None:
        cells = area / rr.cell_m**2
    cells = min(cells, _MAX_GRID_CELLS)
    if cells * n * (p + 1) <= _DENSE_MAX_TERMS:  # one dense product (scan._relative_risk)
        seconds = cells * n * (p + 1) * _SURFACE_TERM_S
        memory = 2 * (p + 1) * n * 8.0
    else:  # the smaller group's kernel footprints per labelling (scan._footprints)
        group = min(study.n_cases, study.n_controls)
        footprint = float(_FOOTPRINT_CELLS)
        if rr.cell_m is not None and rr.bandwidth_m is not None:
            footprint = _FOOTPRINT_CELLS * (rr.bandwidth_m / rr.cell_m / 4) ** 2
        footprint = min(cells, footprint)
        seconds = (p + 1) * group * footprint * _FOOTPRINT_TERM_S + 3 * n * cells * _MAC_S
        memory = p * group * 4.0 + n * 4 * 42 * 8.0
    search = rr.bandwidth_m is None
    if search:
        seconds += n * n / 2 * _BANDWIDTH_PAIR_S  # likelihood cross-validation, pairs once
    threads = _threads()
    return StepEstimate(
        "relative_risk",
        float(seconds / threads),
        f"{p:,} relabellings of {n:,} subjects on {cells:,.0f} grid cells"
        + (", bandwidth by cross-validation" if search else "")
        + f", {threads} thread(s)",
        f"{fewer}, a larger cell_m"
        + (" or a fixed bandwidth_m" if search else "")
        + " in [relative_risk], or --only to skip it",
        float(memory + cells * 8.0 * 10 * (1 + threads) + 32e6 * 3),
    )


def _threads() -> int:
    from geo_stunting.pattern._threads import thread_count  # noqa: PLC0415 - loads numba

    return thread_count()


def _neighbours(study: Study, n: int) -> float:
    """Neighbours per subject of the spatial weights (``knn:K`` or ``distance:D``)."""
    kind, _, value = study.settings.weights.partition(":")
    if kind == "knn":
        return float(value or 5)
    minx, miny, maxx, maxy = study.subjects.total_bounds
    area = max((maxx - minx) * (maxy - miny), 1.0)
    return float(min(n - 1.0, max(1.0, n / area * math.pi * float(value or 0) ** 2)))


def _autocorrelation(study: Study) -> StepEstimate:
    """Global tests: each permutation visits every weight; LISA and Gi*: conditional draws."""
    n, p, fewer = _size(study)
    k = _neighbours(study, n)
    entries = n * k
    seconds = p * (2 * entries * _NEIGHBOUR_S + n * _LABEL_S) + 2 * p * entries * _LABEL_S
    memory = entries * 8.0 * 6 + 2 * n * 8.0 * 20 + 2 * min(p, 1000) * max(k, 1) * 8.0 * 64
    return StepEstimate(
        "autocorrelation",
        float(seconds),
        f"{p:,} permutations of {n:,} subjects with about {k:,.0f} neighbours each "
        f"(weights = {study.settings.weights!r})",
        f'{fewer}, fewer neighbours (weights = "knn:5" or a shorter distance), '
        "or --only to skip it",
        float(memory),
    )


def _access(study: Study) -> StepEstimate:
    """Nearest facility per subject and kind, and the layers drawn from them."""
    n = len(study.subjects)
    m = 0 if study.facilities is None else len(study.facilities)
    kinds = 1 if study.facilities is None else max(1, study.facilities["kind"].nunique())
    seconds = n * _ACCESS_SUBJECT_S * (1 + kinds / 4) + m * 1e-3
    memory = n * _ACCESS_SUBJECT_BYTES * (1 + kinds / 4) + m * 200_000.0
    return StepEstimate(
        "access",
        float(seconds),
        f"{n:,} subjects, {m:,} facilities of {kinds} kind(s)",
        "split the study by district (one study file each), or run it with the dask engine "
        '(engine = "dask", see "National scale" in the README)',
        float(memory),
    )


def _model_terms(study: Study) -> int:
    """Columns of the multivariable model: a term per level but the reference of a text factor."""
    spec = study.risk_factors or {}
    subjects = study.subjects
    terms = 1
    for name in spec.get("logistic", ()):
        if name not in subjects:
            continue
        column = subjects[name]
        numeric = column.dtype.kind in "biuf"
        terms += 1 if numeric else max(1, int(column.nunique()) - 1)
    return terms


def _risk_factors(study: Study) -> StepEstimate:
    """Cross-tables are cheap; the logistic model costs n × terms² per Newton step."""
    n = len(study.subjects)
    terms = _model_terms(study)
    factors = max(1, study.subjects.shape[1] - 3)
    seconds = _IRLS_ITERATIONS * n * terms * terms * _MAC_S * 4 + factors * n * 1e-6
    memory = n * terms * 8.0 * 6 + terms * terms * 8.0 * 4
    return StepEstimate(
        "risk_factors",
        float(seconds),
        f"a logistic model of {n:,} subjects with {terms:,} terms (one per level of a text factor)",
        "fewer factors in logistic = [...] of [risk_factors], or group the levels of a factor "
        "with many levels into a few, or --only to skip it",
        float(memory),
    )


def _areas(study: Study) -> StepEstimate:
    """Rates and weights per area; the Poisson scan grows a window around every area."""
    _, p, fewer = _size(study)
    a = 0 if study.areas is None else len(study.areas.polygons)
    periods = 1 if study.areas is None else max(1, len(study.areas.periods))
    windows = a * max(1.0, a / 2)
    seconds = periods * (p * (windows * _NEIGHBOUR_S * 4 + 4 * a * 8 * _NEIGHBOUR_S))
    memory = a * a * 8.0 * 3 + a * 8.0 * 1000
    return StepEstimate(
        "areas",
        float(seconds),
        f"{p:,} replicates over {a:,} areas and {periods} period(s)",
        f"{fewer}, a coarser level (kecamatan instead of desa), or --only to skip it",
        float(memory),
    )


_OTHERS = {
    "relative_risk": _relative_risk,
    "autocorrelation": _autocorrelation,
    "access": _access,
    "risk_factors": _risk_factors,
    "areas": _areas,
}
