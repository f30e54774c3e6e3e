"""Rough expected run time of the slow steps, said before they start, with how to shorten them.

The numbers are a cost model, not a measurement: operations counted from the
study's size (subjects, permutations, the window's detail) times a cost per
operation measured on one core of a 2020s laptop on the 241-village Ogan
Ilir window (`benchmarks/district.py`). A busy machine takes longer. They
only decide what the command line says before a step; nothing depends on
them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo_stunting.pattern._threads import thread_count
from geo_stunting.study._study import Study

__all__ = ["StepEstimate", "estimate_step"]

#: Say something before a step expected to take longer than this (seconds).
SAY_ABOVE_S = 10.0

# seconds per unit of work (one core), from benchmarks/district.py
_ISOTROPIC_PAIR_S = 2e-7  # one pair of a simulated pattern, isotropic weight
_BORDER_PAIR_S = 2.5e-9  # one pair closer than rmax, border correction only
_TRANSLATE_PAIR_S = 2e-8  # one pair of a simulated pattern, translation weight (table)
_POINT_S = 6e-7  # one point of a simulated pattern (nearest neighbour, G, boundary)
_RELABEL_PAIR_S = 4e-9  # one pair of one relabelling (K difference)
_SCAN_ENTRY_S = 4.6e-10  # one (window, replication) of the scan
_NLARGE = 3000
_NLARGE_ISOTROPIC = 500
#: Cost of the Gini choice of the scan's largest window, in scans at 50 %: sum(GINI_SHARES) / 0.5.
_GINI_COST = 4.62


@dataclass(frozen=True)
class StepEstimate:
    """Expected seconds of one step, why, and how to shorten it."""

    step: str
    seconds: float
    why: str
    shorten: str

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
        threads = thread_count()
        return StepEstimate(
            name,
            float(seconds / threads),
            f"{p} simulations of {n1:,} cases and {n0:,} controls in the window, "
            f"{threads} thread(s)",
            f"{fewer}, --only to skip this step, or a smaller study area",
        )
    if name == "scan":
        options = study.settings.scan
        area, _ = _area_and_share(study, n)
        # no max_share and no radius: the Gini choice scans once per maximum of
        # scan._maxsize.GINI_SHARES (1 % to 50 %), about 4.62 scans at 50 % in all
        gini = options.max_share is None and options.max_radius_m is None
        share = 0.5 if options.max_share is None else options.max_share
        if options.max_radius_m is not None:
            share = min(share, math.pi * options.max_radius_m**2 / area)
        seconds = p * n * max(share * n, 1.0) * _SCAN_ENTRY_S * (_GINI_COST if gini else 1.0)
        return StepEstimate(
            name,
            float(seconds),
            f"{p} replications, windows up to {share:.0%} of {n:,} subjects",
            f"{fewer}, max_radius_m or a smaller max_share in [scan], or --only to skip it",
        )
    return None
