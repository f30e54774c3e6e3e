"""Where are the clusters? Kulldorff's Bernoulli spatial scan statistic.

This is SaTScan's purely spatial analysis with the Bernoulli model:

* circular windows centred on each *location* (subjects at identical
  coordinates form one location), growing through the nearest locations up
  to a maximum share of the subjects (default 50 %) and, optionally, a
  maximum radius; a window always holds every location within its radius,
  so equally distant locations enter together;
* Kulldorff's Bernoulli log-likelihood ratio (LLR), scanning for high rates
  (default), low rates or both;
* Monte Carlo inference by random labelling: ``p = rank / (R + 1)`` where
  ``rank`` is one plus the number of replications whose *largest* LLR is at
  least the cluster's LLR — for the most likely cluster and for every
  secondary cluster alike;
* secondary clusters as SaTScan's default "no geographical overlap": the
  most likely window about each centre, taken in order of LLR, is reported
  only if it has no location in common with a cluster reported before it;
  as in SaTScan, secondary clusters are reported while their LLR is at
  least 0.001 and their p-value is below 1;
* the radius of a cluster is the distance from its centre to its farthest
  member.

`scan_bernoulli_xy` works on plain x/y arrays (any planar units);
`scan_bernoulli` takes a GeoDataFrame in a projected CRS and adds the
centres' longitude and latitude. The compiled loops are in
`geo_stunting.scan._kernels`; memory grows as centres × maximum window size
only for one chunk of centres at a time.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.scan import _kernels as kernels
from geo_stunting.scan import _small
from geo_stunting.study._config import DEFAULT_SEED
from geo_stunting.study._status import case_indicator

if TYPE_CHECKING:
    from collections.abc import Sequence


__all__ = [
    "ScanCluster",
    "ScanResult",
    "scan_bernoulli",
    "scan_bernoulli_xy",
]

log = logging.getLogger(__name__)

Direction = Literal["high", "low", "both"]
_DIRECTIONS: dict[str, int] = {
    "high": kernels.HIGH,
    "low": kernels.LOW,
    "both": kernels.HIGH | kernels.LOW,
}
#: SaTScan reports a secondary cluster only when its LLR is at least this.
MIN_REPORTED_LLR = 0.001
#: At most this many clusters are reported (SaTScan's limit too).
MAX_REPORTED = 500


@dataclass(frozen=True)
class ScanCluster:
    """One cluster reported by the scan.

    Attributes
    ----------
    rank
        1 for the most likely cluster, then 2, 3, … in order of LLR.
    centre_x, centre_y
        The centre (a subject location) in the analysis CRS.
    centre_lon, centre_lat
        The centre in WGS 84, or ``None`` for plain x/y input.
    radius_m
        Distance from the centre to the farthest member (CRS units).
    subject_ids
        The members, nearest first.
    n_locations
        Distinct locations in the cluster.
    n, cases
        Subjects and cases in the cluster.
    expected
        Expected cases, ``n * C / N``.
    observed_expected
        ``cases / expected``.
    relative_risk
        SaTScan's relative risk ``(c / n) / ((C - c) / (N - n))``
        (infinite when every case is inside).
    llr
        Kulldorff's Bernoulli log-likelihood ratio.
    p_value
        Monte Carlo p-value against the largest LLR of each replication
        (``None`` without replications).
    """

    rank: int
    centre_x: float
    centre_y: float
    centre_lon: float | None
    centre_lat: float | None
    radius_m: float
    subject_ids: tuple[str, ...]
    n_locations: int
    n: int
    cases: int
    expected: float
    observed_expected: float
    relative_risk: float
    llr: float
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        """The cluster as a ``results.json`` record."""
        return {
            "rank": self.rank,
            "centre_x": self.centre_x,
            "centre_y": self.centre_y,
            "centre_lon": self.centre_lon,
            "centre_lat": self.centre_lat,
            "radius_m": self.radius_m,
            "n": self.n,
            "cases": self.cases,
            "expected": self.expected,
            "observed_expected": self.observed_expected,
            "relative_risk": self.relative_risk,
            "llr": self.llr,
            "p_value": self.p_value,
            "n_locations": self.n_locations,
            "subject_ids": list(self.subject_ids),
        }


@dataclass(frozen=True)
class ScanResult:
    """The result of a Bernoulli spatial scan, with the settings that made it.

    Attributes
    ----------
    clusters
        Reported clusters, most likely first.
    n_subjects, n_cases, n_locations
        Totals of the study.
    max_share, max_radius_m, direction, permutations, seed
        The settings (``seed`` is ``None`` when an ``rng`` was given).
    simulated_llr
        The largest LLR of each replication.
    """

    clusters: tuple[ScanCluster, ...]
    n_subjects: int
    n_cases: int
    n_locations: int
    max_share: float
    max_radius_m: float | None
    direction: str
    permutations: int
    seed: int | None
    simulated_llr: np.ndarray = field(repr=False, compare=False)

    def critical_llr(self, alpha: float) -> float | None:
        """The LLR a cluster needs to be significant at `alpha`.

        SaTScan's standard Monte Carlo critical value; ``None`` with too few
        replications.
        """
        k = math.floor(alpha * (self.permutations + 1))
        if k < 1:
            return None
        ordered = np.sort(self.simulated_llr)[::-1]
        return float(ordered[k - 1])

    def to_dict(self) -> dict[str, Any]:
        """The ``scan`` section of ``results.json``."""
        return {
            "clusters": [c.to_dict() for c in self.clusters],
            "n_subjects": self.n_subjects,
            "n_cases": self.n_cases,
            "n_locations": self.n_locations,
            "critical_llr": {"0.05": self.critical_llr(0.05), "0.01": self.critical_llr(0.01)},
            # a scan for raised risk is one-sided; for both directions it is two-sided
            "alternative": {"high": "greater", "low": "less"}.get(self.direction, "two-sided"),
            "settings": {
                "max_share": self.max_share,
                "max_radius_m": self.max_radius_m,
                "direction": self.direction,
                "permutations": self.permutations,
                "seed": self.seed,
            },
        }


# --------------------------------------------------------------------------- public API


def scan_bernoulli(
    subjects: gpd.GeoDataFrame,
    *,
    status: str = "status",
    case: str | Sequence[str] = "case",
    id_column: str = "subject_id",
    max_share: float = 0.5,
    max_radius_m: float | None = None,
    direction: Direction = "high",
    permutations: int = 999,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> ScanResult:
    """Run the Bernoulli spatial scan on case and control points.

    Parameters
    ----------
    subjects
        Points in a projected CRS (metres), one per subject.
    status, case
        The column holding the status and the value (or values) that mark a
        case; every other value is a control.
    id_column
        Subject identifiers (the index when the column is missing).
    max_share
        Largest window, as a share of all subjects (0 < share ≤ 0.5).
    max_radius_m
        Largest window radius in metres, or ``None`` for no limit.
    direction
        ``"high"`` (clusters of cases), ``"low"`` or ``"both"``.
    permutations
        Monte Carlo replications (0 for none: no p-values).
    seed, rng
        The random labelling's seed or generator; the default seed when
        neither is given.

    Returns
    -------
    ScanResult
        The clusters, most likely first, with centres in the CRS of
        `subjects` and in WGS 84.

    Raises
    ------
    AnalysisError
        If the CRS is missing or geographic, or the settings are invalid.
    """
    crs, xy, ids, is_case = frame_inputs(subjects, status=status, case=case, id_column=id_column)
    result = scan_bernoulli_xy(
        xy[:, 0],
        xy[:, 1],
        is_case,
        ids=ids,
        max_share=max_share,
        max_radius_m=max_radius_m,
        direction=direction,
        permutations=permutations,
        seed=seed,
        rng=rng,
    )
    return with_lonlat(result, crs)


def frame_inputs(
    subjects: gpd.GeoDataFrame, *, status: str, case: str | Sequence[str], id_column: str
) -> tuple[CRS, np.ndarray, np.ndarray, np.ndarray]:
    """The projected CRS, x/y, identifiers and case indicator of `scan_bernoulli`'s subjects."""
    crs = _projected_crs(subjects)
    xy = shapely.get_coordinates(np.asarray(subjects.geometry.array))
    if len(xy) != len(subjects):
        raise AnalysisError(
            Problem("every subject must be one point", fix="explode multi-points first")
        )
    ids = (
        subjects[id_column].astype(str).to_numpy()
        if id_column in subjects.columns
        else subjects.index.astype(str).to_numpy()
    )
    is_case = case_indicator(subjects, status=status, case=case)
    return crs, xy, ids, is_case


def with_lonlat(result: ScanResult, crs: CRS) -> ScanResult:
    """`result` with its clusters' centres also in WGS 84."""
    if not result.clusters:
        return result
    to_wgs = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    lon, lat = to_wgs.transform(
        [c.centre_x for c in result.clusters], [c.centre_y for c in result.clusters]
    )
    clusters = tuple(
        _replace_lonlat(c, float(a), float(b))
        for c, a, b in zip(result.clusters, np.atleast_1d(lon), np.atleast_1d(lat), strict=True)
    )
    return ScanResult(**{**result.__dict__, "clusters": clusters})


def scan_bernoulli_xy(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    is_case: Sequence[bool] | np.ndarray,
    *,
    ids: Sequence[str] | np.ndarray | None = None,
    max_share: float = 0.5,
    max_radius_m: float | None = None,
    direction: Direction = "high",
    permutations: int = 999,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> ScanResult:
    """Run the Bernoulli spatial scan on planar coordinates.

    Parameters
    ----------
    x, y
        Planar coordinates of the subjects (metres, or any planar unit:
        radii come out in the same unit).
    is_case
        ``True`` for cases, ``False`` for controls.
    ids
        Subject identifiers; ``"1"``, ``"2"``, … (row numbers) by default.
    max_share, max_radius_m, direction, permutations, seed, rng
        As in `scan_bernoulli`.

    Returns
    -------
    ScanResult
        The clusters (``centre_lon``/``centre_lat`` are ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.r_[np.zeros(5), np.arange(1.0, 21.0)]
    >>> result = scan_bernoulli_xy(x, np.zeros(25), x < 1, permutations=99, seed=1)
    >>> c = result.clusters[0]
    >>> (c.n, c.cases, round(c.llr, 3))
    (5, 5, 12.51)
    """
    xy = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    cases = np.asarray(is_case, dtype=bool)
    n_total = len(xy)
    names = (
        np.array([str(i) for i in range(1, n_total + 1)], dtype=object)
        if ids is None
        else np.asarray(ids, dtype=object)
    )
    _check_inputs(xy, cases, names, max_share, max_radius_m, direction, permutations)
    if rng is None:
        seed = DEFAULT_SEED if seed is None else int(seed)
        rng = np.random.default_rng(seed)
    else:
        seed = None
    locs = kernels.Locations.build(xy, cases)
    max_pop = math.floor(max_share * n_total + 1e-9)
    run_scan = kernels.run_scan if n_total > _small.SMALL_SCAN_SUBJECTS else _small.run_scan_small
    scan = run_scan(locs, max_pop, max_radius_m, _DIRECTIONS[direction], permutations, rng)
    result = scan_result(
        locs, scan, names, max_share=max_share, max_radius_m=max_radius_m,
        direction=direction, permutations=permutations, seed=seed,
    )  # fmt: skip
    log.info(
        "scan: %d subjects at %d locations, %d cluster(s) reported",
        result.n_subjects,
        result.n_locations,
        len(result.clusters),
    )
    return result


def scan_result(
    locs: kernels.Locations,
    scan: kernels.ScanArrays,
    names: np.ndarray,
    *,
    max_share: float,
    max_radius_m: float | None,
    direction: Direction,
    permutations: int,
    seed: int | None,
) -> ScanResult:
    """The reported clusters of a scan's arrays, with its settings."""
    n_total = len(locs.case_of_subject)
    cases = locs.case_of_subject
    clusters = _select_clusters(locs, scan, names, n_total, int(cases.sum()))
    return ScanResult(
        clusters=tuple(clusters),
        n_subjects=n_total,
        n_cases=int(cases.sum()),
        n_locations=len(locs.xy),
        max_share=float(max_share),
        max_radius_m=None if max_radius_m is None else float(max_radius_m),
        direction=direction,
        permutations=int(permutations),
        seed=seed,
        simulated_llr=scan.sims,
    )


# --------------------------------------------------------------------------- internals


def _p_value(llr: float, sims: np.ndarray) -> float | None:
    if len(sims) == 0:
        return None
    tolerance = 1e-9 * max(1.0, abs(llr))
    rank = 1 + int(np.count_nonzero(sims >= llr - tolerance))
    return rank / (len(sims) + 1)


def _members(
    scan: kernels.ScanArrays, locs: kernels.Locations, centre: int
) -> tuple[np.ndarray, np.ndarray]:
    """Locations of the best window about `centre`, nearest first, and their distances."""
    k = int(scan.length[centre])
    d, idx = scan.tree.query(locs.xy[centre], k=k)
    d, idx = np.atleast_1d(d), np.atleast_1d(idx)
    order = np.lexsort((idx, d))
    return idx[order], d[order]


def _select_clusters(
    locs: kernels.Locations, scan: kernels.ScanArrays, names: np.ndarray, n_total: int, c_total: int
) -> list[ScanCluster]:
    """SaTScan's hierarchical reporting with no geographical overlap."""
    order = np.lexsort((np.arange(len(scan.llr)), -scan.llr))
    taken = np.zeros(len(locs.xy), dtype=bool)
    kept: list[tuple[int, np.ndarray]] = []
    clusters: list[ScanCluster] = []
    for centre in order:
        llr = float(scan.llr[centre])
        if llr <= 0.0 or len(clusters) >= MAX_REPORTED:
            break
        p_value = _p_value(llr, scan.sims)
        if clusters and (llr < MIN_REPORTED_LLR or (p_value is not None and p_value >= 1.0)):
            break  # every later candidate has a smaller LLR
        if taken[centre] or _overlaps(centre, scan, locs, kept, taken):
            continue
        members, dist = _members(scan, locs, int(centre))
        taken[members] = True
        kept.append((int(centre), members))
        clusters.append(
            _cluster(
                len(clusters) + 1,
                int(centre),
                members,
                dist,
                scan,
                locs,
                names,
                n_total,
                c_total,
                p_value,
            )
        )
    return clusters


def _overlaps(
    centre: int,
    scan: kernels.ScanArrays,
    locs: kernels.Locations,
    kept: list[tuple[int, np.ndarray]],
    taken: np.ndarray,
) -> bool:
    """Whether the best window about `centre` shares a location with a kept cluster."""
    r_new = float(scan.radius[centre])
    for other, _members_other in kept:
        gap = float(np.hypot(*(locs.xy[centre] - locs.xy[other])))
        if gap > (r_new + float(scan.radius[other])) * (1 + 1e-12):
            continue  # the circles are apart
        if gap < r_new * (1 - 1e-12):
            return True  # the kept centre is inside the new window
        members, _ = _members(scan, locs, centre)
        return bool(taken[members].any())
    return False


def _cluster(
    rank: int,
    centre: int,
    members: np.ndarray,
    dist: np.ndarray,
    scan: kernels.ScanArrays,
    locs: kernels.Locations,
    names: np.ndarray,
    n_total: int,
    c_total: int,
    p_value: float | None,
) -> ScanCluster:
    n, c = int(scan.n[centre]), int(scan.c[centre])
    expected = n * c_total / n_total
    outside = (c_total - c) / (n_total - n)
    subject_rows = np.concatenate(
        [locs.subjects[locs.offsets[m] : locs.offsets[m + 1]] for m in members]
    )
    return ScanCluster(
        rank=rank,
        centre_x=float(locs.xy[centre, 0]),
        centre_y=float(locs.xy[centre, 1]),
        centre_lon=None,
        centre_lat=None,
        radius_m=float(dist[-1]),
        subject_ids=tuple(str(s) for s in names[subject_rows]),
        n_locations=len(members),
        n=n,
        cases=c,
        expected=expected,
        observed_expected=c / expected,
        relative_risk=(c / n) / outside if outside > 0 else math.inf,
        llr=float(scan.llr[centre]),
        p_value=p_value,
    )


def _replace_lonlat(cluster: ScanCluster, lon: float, lat: float) -> ScanCluster:
    return ScanCluster(**{**cluster.__dict__, "centre_lon": lon, "centre_lat": lat})


def _projected_crs(subjects: gpd.GeoDataFrame) -> CRS:
    if subjects.crs is None:
        raise AnalysisError(
            Problem(
                "the subjects have no CRS",
                fix="set it (subjects.set_crs(...)), or call scan_bernoulli_xy with planar x/y",
            )
        )
    crs = CRS(subjects.crs)
    if not crs.is_projected:
        raise AnalysisError(
            Problem(
                f"the subjects are in {crs.to_string()}, a geographic CRS; circles need metres",
                fix="project them first, e.g. subjects.to_crs(subjects.estimate_utm_crs())",
            )
        )
    return crs


def _check_inputs(
    xy: np.ndarray,
    cases: np.ndarray,
    names: np.ndarray,
    max_share: float,
    max_radius_m: float | None,
    direction: str,
    permutations: int,
) -> None:
    problems = []
    n_total = len(xy)
    if len(cases) != n_total or len(names) != n_total:
        problems.append(Problem("x, y, is_case and ids must have the same length"))
    if not np.isfinite(xy).all():
        problems.append(
            Problem("some coordinates are missing or not finite", fix="drop those rows")
        )
    if not 0 < max_share <= 0.5:
        problems.append(
            Problem(
                f"max_share = {max_share} is outside (0, 0.5]",
                fix="give the largest window as a share of subjects, at most 0.5 (SaTScan's limit)",
            )
        )
    if max_radius_m is not None and not max_radius_m > 0:
        problems.append(Problem(f"max_radius_m = {max_radius_m} must be positive", fix="or None"))
    if direction not in _DIRECTIONS:
        problems.append(Problem(f"direction = {direction!r} is not one of 'high', 'low', 'both'"))
    if permutations < 0:
        problems.append(Problem(f"permutations = {permutations} must be 0 or more"))
    if not problems and math.floor(max_share * n_total + 1e-9) < 1:
        problems.append(
            Problem(
                f"with {n_total} subjects, max_share = {max_share} allows no window",
                fix="raise max_share or add subjects",
            )
        )
    if not problems:
        c_total = int(cases.sum())
        if c_total in (0, n_total):
            problems.append(
                Problem(
                    f"the scan needs cases and controls; found {c_total} case(s) among "
                    f"{n_total} subjects",
                    fix="check the status column and the case value",
                )
            )
    if problems:
        raise AnalysisError(problems)
