"""The largest scan window, chosen by the Gini coefficient of the clusters (as SaTScan offers).

A circular scan must be told how large a window may grow. Too large, and
the most likely cluster swallows several settlements (half the study, as
SaTScan's default 0.5 allows); too small, and a real cluster is cut up. Han
et al. (2016, *Int J Health Geogr* 15:27), implemented in SaTScan as "report
Gini-optimised cluster collection", run the scan for several maximum sizes
and keep the one whose collection of significant, non-overlapping clusters
best separates high from low risk: the largest Gini coefficient.

Gini coefficient of a collection: order the clusters by observed / expected
cases (highest first) and put the rest of the study last; the Lorenz curve
joins (cumulative share of subjects, cumulative share of cases) from (0, 0)
to (1, 1); the Gini coefficient is twice the area between it and the
diagonal. A collection without a significant cluster has Gini 0.

The maximum sizes share one set of replications (`scan_shares`, as SaTScan
evaluates its window stops): the scan at each size is the one
`scan_bernoulli` gives for it alone with the same seed, bit for bit, for
about the cost of the largest size's scan.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np

from geo_stunting.scan import _kernels, _small
from geo_stunting.scan._bernoulli import (
    _DIRECTIONS,
    Direction,
    ScanResult,
    _check_inputs,
    frame_inputs,
    scan_result,
    with_lonlat,
)
from geo_stunting.scan._cutoffs import run_scan_cutoffs
from geo_stunting.study._config import DEFAULT_SEED

__all__ = ["GINI_SHARES", "MaxSizeChoice", "choose_max_share", "gini_coefficient", "scan_shares"]

log = logging.getLogger(__name__)

#: The maximum sizes tried (shares of all subjects), as SaTScan's default list up to 0.5.
GINI_SHARES = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25, 0.30,
               0.40, 0.50)  # fmt: skip


def gini_coefficient(
    clusters: Sequence[tuple[int, int]], *, n_subjects: int, n_cases: int
) -> float:
    """Gini coefficient of a collection of clusters given as ``(subjects, cases)``.

    >>> round(gini_coefficient([(10, 10)], n_subjects=100, n_cases=20), 3)
    0.4
    >>> gini_coefficient([], n_subjects=100, n_cases=20)
    0.0
    """
    if not clusters or n_subjects <= 0 or n_cases <= 0:
        return 0.0
    groups = sorted(clusters, key=lambda c: c[1] / max(c[0], 1), reverse=True)
    rest_n = n_subjects - sum(c[0] for c in groups)
    rest_cases = n_cases - sum(c[1] for c in groups)
    groups.append((rest_n, rest_cases))
    x = np.concatenate([[0.0], np.cumsum([g[0] for g in groups]) / n_subjects])
    y = np.concatenate([[0.0], np.cumsum([g[1] for g in groups]) / n_cases])
    area_under = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))
    return 2 * (area_under - 0.5)


@dataclass(frozen=True)
class MaxSizeChoice:
    """The maximum window size chosen by the Gini coefficient.

    Attributes
    ----------
    max_share
        The chosen share of subjects (SaTScan's default 0.5 when no maximum
        gives a significant cluster).
    rule
        How it was chosen, in words.
    shares, gini, n_clusters
        Every maximum tried, its Gini coefficient and number of significant clusters.
    alpha
        The level at which clusters enter a collection.
    result
        The scan at the chosen maximum.
    """

    max_share: float
    rule: str
    shares: tuple[float, ...]
    gini: tuple[float, ...]
    n_clusters: tuple[int, ...]
    alpha: float
    result: ScanResult

    def to_dict(self) -> dict[str, Any]:
        """The ``scan.max_size`` entry of ``results.json``."""
        return {
            "max_share": self.max_share,
            "rule": self.rule,
            "alpha": self.alpha,
            "tried": [
                {"max_share": s, "gini": g, "n_significant_clusters": k}
                for s, g, k in zip(self.shares, self.gini, self.n_clusters, strict=True)
            ],
        }


def choose_max_share(
    subjects: gpd.GeoDataFrame,
    *,
    shares: Sequence[float] = GINI_SHARES,
    max_radius_m: float | None = None,
    direction: Direction = "high",
    permutations: int = 999,
    seed: int | None = None,
    alpha: float = 0.05,
) -> MaxSizeChoice:
    """Scan with each maximum share and keep the one whose clusters have the largest Gini.

    Parameters
    ----------
    subjects
        Cases and controls (as `scan_bernoulli`).
    shares
        The maximum sizes to try, shares of all subjects (each at most 0.5).
    max_radius_m, direction, permutations, seed
        As in `scan_bernoulli`; every maximum sees the same random labellings
        (`scan_shares`: one set of replications for all).
    alpha
        Clusters with p ≤ alpha enter the collections.

    Returns
    -------
    MaxSizeChoice
        The chosen share, every share's Gini, and the scan at the chosen share.
    """
    n = len(subjects)
    # a maximum that allows no window (fewer than one subject) is not a candidate
    usable = [s for s in shares if math.floor(s * n + 1e-9) >= 1] or [max(shares)]
    shares = usable
    results = []
    scans = scan_shares(
        subjects,
        shares=shares,
        max_radius_m=max_radius_m,
        direction=direction,
        permutations=permutations,
        seed=seed,
    )
    for share, result in zip(shares, scans, strict=True):
        significant = [
            (c.n, c.cases) for c in result.clusters if c.p_value is not None and c.p_value <= alpha
        ]
        gini = gini_coefficient(significant, n_subjects=result.n_subjects, n_cases=result.n_cases)
        results.append((share, gini, len(significant), result))
    best = max(results, key=lambda r: (r[1], -r[0]))  # ties: the smaller maximum
    if best[1] <= 0:
        fallback = next((r for r in results if r[0] == max(shares)), results[-1])
        best = fallback
        rule = (
            f"no maximum size among {len(shares)} tried gives a cluster with p ≤ {alpha:g}; "
            f"the largest ({best[0]:.0%} of the subjects, SaTScan's default) is used"
        )
    else:
        rule = (
            f"Gini-optimised maximum (Han et al. 2016, as SaTScan): of {len(shares)} maximum "
            f"sizes from {min(shares):.0%} to {max(shares):.0%} of the subjects, "
            f"{best[0]:.0%} gives the collection of clusters with p ≤ {alpha:g} that best "
            f"separates high from low risk (Gini {best[1]:.3f})"
        )
    return MaxSizeChoice(
        max_share=float(best[0]),
        rule=rule,
        shares=tuple(float(r[0]) for r in results),
        gini=tuple(float(r[1]) for r in results),
        n_clusters=tuple(int(r[2]) for r in results),
        alpha=alpha,
        result=best[3],
    )


def scan_shares(
    subjects: gpd.GeoDataFrame,
    *,
    shares: Sequence[float],
    max_radius_m: float | None = None,
    direction: Direction = "high",
    permutations: int = 999,
    seed: int | None = None,
) -> list[ScanResult]:
    """`scan_bernoulli` with each maximum share, from one set of replications.

    Every ``scan_bernoulli(subjects, max_share=share, ...)`` with the same seed
    draws the same labellings, and a centre's windows at a share are a prefix
    of its windows at a larger one, so one sweep over the windows of the
    largest share, keeping a running maximum per share, gives each share's
    replication maxima (`geo_stunting.scan._cutoffs`). The results are
    `scan_bernoulli`'s, every cluster, ratio and p-value, for about the cost
    of the largest share's scan.

    Parameters
    ----------
    subjects
        Cases and controls (as `scan_bernoulli`, with its default columns).
    shares
        The maximum sizes, shares of all subjects (each in (0, 0.5]).
    max_radius_m, direction, permutations, seed
        As in `scan_bernoulli`.

    Returns
    -------
    list of ScanResult
        One per share, in the order given.
    """
    crs, xy, ids, is_case = frame_inputs(
        subjects, status="status", case="case", id_column="subject_id"
    )
    xy = np.column_stack([np.asarray(xy[:, 0], dtype=float), np.asarray(xy[:, 1], dtype=float)])
    cases = np.asarray(is_case, dtype=bool)
    names = np.asarray(ids, dtype=object)
    for share in shares:
        _check_inputs(xy, cases, names, share, max_radius_m, direction, permutations)
    seed = DEFAULT_SEED if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    locs = _kernels.Locations.build(xy, cases)
    n_total = len(xy)
    max_pops = [math.floor(share * n_total + 1e-9) for share in shares]
    run = (
        run_scan_cutoffs if n_total > _small.SMALL_SCAN_SUBJECTS else _small.run_scan_small_cutoffs
    )
    arrays = run(locs, max_pops, max_radius_m, _DIRECTIONS[direction], permutations, rng)
    log.info(
        "scan: %d subjects at %d locations, %d maximum sizes (%g%%–%g%%) in one set of "
        "replications",
        n_total,
        len(locs.xy),
        len(shares),
        100 * min(shares),
        100 * max(shares),
    )
    return [
        with_lonlat(
            scan_result(
                locs,
                arrays[max_pop],
                names,
                max_share=share,
                max_radius_m=max_radius_m,
                direction=direction,
                permutations=permutations,
                seed=seed,
            ),
            crs,
        )
        for share, max_pop in zip(shares, max_pops, strict=True)
    ]
