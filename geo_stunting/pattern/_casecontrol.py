"""Do cases cluster *more than controls*? Tests under random labelling.

In a case-control study the controls show where children live: in
villages, along roads and rivers. Cases cluster against complete spatial
randomness for that reason alone. The right question is whether cases
cluster beyond the controls, and the right null hypothesis is **random
labelling**: the locations are fixed and the case/control labels are
shuffled among them.

`k_difference`
    ``D(r) = K_case(r) − K_control(r)`` (isotropic correction), with
    pointwise and global envelopes from random relabellings and a summary
    test over r: ``D+ = Σ_r (D(r) − mean(r)) / sd(r)`` (Diggle and Chetwynd
    1991, with the moments from the relabellings), one-sided: large values
    mean cases cluster more than controls.
`cuzick_edwards`
    ``T_k``: among the k nearest neighbours of each case, how many are cases
    (Cuzick and Edwards 1990), with Monte Carlo p-values under random
    labelling. Neighbours as in `geo_stunting.autocorrelation._neighbours` (ties included).

Both can relabel **within strata** (e.g. villages): the number of cases in
each village is kept, so the test asks whether cases cluster *within*
villages, beyond the differences in prevalence between villages. None of
spatstat, smacpod or pointpats offers that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_stunting import _compile_ahead
from geo_stunting.autocorrelation._neighbours import k_nearest
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.pattern import _pairs as kf
from geo_stunting.pattern._kfunction import bands, r_grid
from geo_stunting.pattern._labelled import (
    LABELS_PER_WORD,
    LabelledPairs,
    labelled_pairs,
    pack_labels,
    packed_label_sums,
    packed_link_counts,
    same_label_sums,
)
from geo_stunting.pattern._threads import map_in_order
from geo_stunting.pattern._window import StudyWindow, WindowLike, as_window, make_window
from geo_stunting.progress import Advance, progress
from geo_stunting.study._status import case_indicator

__all__ = [
    "CuzickEdwards",
    "KDifference",
    "Relabeller",
    "case_control_r",
    "cuzick_edwards",
    "k_difference",
    "sharing_pairs",
]


class Relabeller:
    """Random relabelling of cases among subjects, optionally within strata.

    Parameters
    ----------
    is_case
        Boolean array, one per subject.
    strata
        Stratum of each subject (``None`` for plain random labelling).
        Subjects without a stratum form one stratum together.
    rng
        The random number generator.
    """

    def __init__(
        self, is_case: np.ndarray, strata: np.ndarray | None, rng: np.random.Generator
    ) -> None:
        self.is_case = np.asarray(is_case, dtype=bool)
        self.rng = rng
        if strata is None:
            self.groups = [np.arange(len(self.is_case))]
        else:
            codes = pd.factorize(pd.Series(strata, dtype=object).fillna("\0none"), sort=True)[0]
            self.groups = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
        # a stratum of one keeps its label, and permuting it draws no random number
        self._moving = [(m, self.is_case[m]) for m in self.groups if len(m) > 1]

    def draw(self) -> np.ndarray:
        """One relabelling: a new boolean case indicator."""
        out = self.is_case.copy()
        for members, labels in self._moving:
            out[members] = labels[self.rng.permutation(len(members))]
        return out


def case_control_r(xy: np.ndarray, *, steps: int = 512) -> np.ndarray:
    """Distances ``0 … rmax`` for case-control statistics, from where the subjects are.

    Spatstat's rule for K (a quarter of the shorter side, or less when there
    are many points) applied to the subjects' convex hull, not to the study
    area: the answer must not depend on whether the area file is the villages
    or the whole regency.
    """
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=None)
    hull = make_window(points, kind="convex_hull")
    return r_grid(hull, len(xy), steps=steps)


def _inputs(
    subjects: gpd.GeoDataFrame, strata: str | None, status: str, case: str | Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    is_case = case_indicator(subjects, status=status, case=case)
    if is_case.sum() < 2 or (~is_case).sum() < 2:
        raise AnalysisError(
            Problem(
                f"case-control tests need at least 2 cases and 2 controls, got "
                f"{int(is_case.sum())} and {int((~is_case).sum())}"
            )
        )
    labels = None
    if strata is not None:
        if strata not in subjects:
            raise AnalysisError(
                Problem(
                    f"subjects have no column {strata!r} for the strata",
                    fix='set stratum = "<village column>" in [subjects], or strata=None',
                )
            )
        labels = subjects[strata].to_numpy(dtype=object)
    xy = np.column_stack([subjects.geometry.x, subjects.geometry.y]).astype(float)
    return xy, is_case, labels


@dataclass(frozen=True)
class KDifference:
    """``K_case(r) − K_control(r)`` with random-labelling envelopes and tests.

    Attributes
    ----------
    r_m
        Distances (metres).
    kdiff
        Observed difference (m²); positive: cases have more case neighbours
        than controls have control neighbours at that distance.
    K_case, K_control
        The two K functions (isotropic correction).
    lo, hi
        Pointwise envelope under random labelling.
    global_lo, global_hi
        Global band (maximum absolute deviation from 0).
    p_value
        Summary test D+ (one-sided, cases more clustered than controls).
    p_global
        Global maximum-deviation test (two-sided).
    alternative, p_global_alternative
        ``"greater"`` for ``p_value`` and ``"two-sided"`` for ``p_global``.
    labelling
        ``"random"`` or ``"within strata"``.
    permutations, nrank, nrank_global, alpha, seed
        The relabellings, envelope ranks, level and seed.
    """

    r_m: np.ndarray
    kdiff: np.ndarray
    K_case: np.ndarray
    K_control: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    global_lo: np.ndarray
    global_hi: np.ndarray
    p_value: float
    p_global: float
    labelling: str
    n_cases: int
    n_controls: int
    permutations: int
    nrank: int
    nrank_global: int
    alpha: float
    seed: int | None
    correction: str = "isotropic"
    alternative: str = "greater"
    p_global_alternative: str = "two-sided"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def k_difference(
    subjects: gpd.GeoDataFrame,
    *,
    window: WindowLike,
    permutations: int = 999,
    strata: str | None = None,
    status: str = "status",
    case: str | Sequence[str] = "case",
    r_m: Sequence[float] | np.ndarray | None = None,
    alpha: float = 0.05,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> KDifference:
    """Compare the K functions of cases and controls under random labelling.

    Parameters
    ----------
    subjects
        Cases and controls, in the window's CRS.
    window
        The study window.
    permutations
        Number of random relabellings.
    strata
        A column: relabel within its groups (e.g. ``"stratum"``, the village).
    status, case
        The status column and the value (or values) that mark a case.
    r_m
        Distances; default `case_control_r` (from the subjects' convex hull).
    alpha
        Two-sided level of the envelopes.
    seed, rng
        Seed or generator; the same seed gives the same result.

    Returns
    -------
    KDifference
        The difference, its envelopes and two tests.
    """
    window = as_window(window, subjects)
    xy, is_case, labels = _inputs(subjects, strata, status, case)
    if permutations < 1:
        raise AnalysisError(Problem(f"permutations must be at least 1, got {permutations}"))
    outside = ~window.contains(xy)
    if outside.any():
        raise AnalysisError(Problem(f"{int(outside.sum())} subject(s) lie outside the window"))
    generator = rng if rng is not None else np.random.default_rng(seed)
    r = case_control_r(xy) if r_m is None else np.asarray(r_m, dtype=float)
    breaks = kf.breaks_from_r(r)
    nbin = len(r)
    difference = _LabelledK(_pairs_of(xy, window, breaks), window.area_m2)

    observed, k_case, k_control = difference(is_case)
    relabel = Relabeller(is_case, labels, generator)
    sims = np.empty((permutations, nbin))
    with progress("K difference: relabellings", total=permutations) as advance:
        sizes = np.diff(np.r_[0:permutations:_BATCH, permutations])
        batches = (np.vstack([relabel.draw() for _ in range(size)]) for size in sizes)
        done = 0
        for values in map_in_order(difference.batch, batches):
            sims[done : done + len(values)] = values
            done += len(values)
            advance(len(values))
    lo, hi, glo, ghi, p_global, nrank, nrank_global = bands(
        observed, np.zeros(nbin), sims, alpha=alpha
    )
    return KDifference(
        r_m=r,
        kdiff=observed,
        K_case=k_case,
        K_control=k_control,
        lo=lo,
        hi=hi,
        global_lo=glo,
        global_hi=ghi,
        p_value=_dplus_p(observed, sims),
        p_global=p_global,
        labelling="random" if strata is None else "within strata",
        n_cases=int(is_case.sum()),
        n_controls=int((~is_case).sum()),
        permutations=permutations,
        nrank=nrank,
        nrank_global=nrank_global,
        alpha=alpha,
        seed=seed,
    )


_SHARED: ContextVar[dict[bytes, LabelledPairs] | None] = ContextVar(
    "geo_stunting_shared_pairs", default=None
)


@contextmanager
def sharing_pairs() -> Iterator[None]:
    """Within the block, `k_difference` finds the pairs of the same points once.

    The pattern step tests random labelling and labelling within strata on
    the same subjects: the pairs and their weights (seconds for a district)
    are the same, so the second test reuses them. Released at the end.
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _pairs_of(xy: np.ndarray, window: StudyWindow, breaks: np.ndarray) -> LabelledPairs:
    shared = _SHARED.get()
    if shared is None:
        return labelled_pairs(xy, window, breaks)
    key = hashlib.sha256(xy.tobytes() + window.geometry.wkb + breaks.tobytes()).digest()
    if key not in shared:
        shared.clear()
        shared[key] = labelled_pairs(xy, window, breaks)
    return shared[key]


class _LabelledK:
    """K of cases and of controls for any labelling of fixed points, from their pairs.

    The same-label sums are ``S11`` (both cases) and ``S00`` (both controls).
    With the pairs grouped by their first point, one pass over the rows of
    the smaller group gives its same-label sum and its row sums; the other
    group's is ``S_all − rows(small) − columns(small) + S_small`` (columns from
    per-point column histograms). Each relabelling then costs a pass over a
    fifth of the pairs (a district study with a fifth cases), not five NumPy
    passes over all of them. Values equal the direct sums to rounding (about
    1e-15 relative). The pairs are stored compactly
    (`geo_stunting.pattern._labelled`).
    """

    def __init__(self, pairs: LabelledPairs, area: float) -> None:
        self.pairs = pairs
        self.area = area

    def __call__(self, case: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n1 = int(case.sum())
        n0 = len(case) - n1
        small = case if n1 <= n0 else ~case
        p = self.pairs
        rows, cols, same = same_label_sums(p.rowptr, p.wptr, p.pj, p.cell, p.w, p.columns, small)
        other = p.total - rows - cols + same
        s11, s00 = (same, other) if n1 <= n0 else (other, same)
        k1 = np.cumsum(s11) / (n1 * (n1 - 1) / self.area)
        k0 = np.cumsum(s00) / (n0 * (n0 - 1) / self.area)
        return k1 - k0, k1, k0

    def batch(self, cases: np.ndarray) -> np.ndarray:
        """``K_case − K_control`` for each labelling (row) of `cases`, the same as one by one."""
        n1 = int(cases[0].sum())
        n0 = cases.shape[1] - n1
        small = cases if n1 <= n0 else ~cases
        p = self.pairs
        words = pack_labels(small)
        _compile_ahead.wait("packed_label_sums")  # a first run: compiled in the background
        rows, cols, same = packed_label_sums(
            p.rowptr, p.wptr, p.pj, p.cell, p.w, p.columns, words, len(cases)
        )
        other = p.total - rows - cols + same
        s11, s00 = (same, other) if n1 <= n0 else (other, same)
        k1 = np.cumsum(s11, axis=1) / (n1 * (n1 - 1) / self.area)
        k0 = np.cumsum(s00, axis=1) / (n0 * (n0 - 1) / self.area)
        return np.asarray(k1 - k0)


#: Relabellings of the K difference summed in one pass over the pairs (a bit each of a word).
_BATCH = LABELS_PER_WORD
#: Relabellings of Cuzick–Edwards' test drawn and counted at once (a bit each of a word).
_CHUNK = LABELS_PER_WORD
#: From this many subjects Cuzick–Edwards' T is counted by the packed kernel; below, by a
#: sparse product (the same whole numbers; the demo then compiles one kernel less).
_PACKED_FROM = 2000


def _dplus_p(observed: np.ndarray, sims: np.ndarray) -> float:
    """p-value of ``D+ = Σ_r (D(r) − mean) / sd`` against the same sum for each simulation."""
    mean = sims.mean(axis=0)
    sd = sims.std(axis=0, ddof=1) if len(sims) > 1 else np.zeros(sims.shape[1])
    use = sd > 0
    if not use.any():
        return 1.0
    stat = np.sum((observed[use] - mean[use]) / sd[use])
    sim_stats = np.sum((sims[:, use] - mean[use]) / sd[use], axis=1)
    return float((1 + np.sum(sim_stats >= stat - 1e-12 * abs(stat))) / (len(sims) + 1))


@dataclass(frozen=True)
class CuzickEdwards:
    """Cuzick and Edwards' T_k: case neighbours of cases among the k nearest.

    Attributes
    ----------
    k
        Number of nearest neighbours.
    T
        Observed number of (case, case-neighbour) pairs.
    expected
        Its expectation under random labelling.
    p_mc
        One-sided Monte Carlo p-value (T larger than by chance).
    expected_strata, p_mc_strata
        The same under relabelling within strata (``None`` without strata).
    n_links
        Number of neighbour links (more than n·k when there are ties).
    permutations, seed
        The relabellings and their seed.
    alternative
        ``"greater"`` for both p-values.
    """

    k: int
    T: float
    expected: float
    p_mc: float
    expected_strata: float | None
    p_mc_strata: float | None
    n_links: int
    permutations: int
    seed: int | None
    alternative: str = "greater"

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def cuzick_edwards(
    subjects: gpd.GeoDataFrame,
    *,
    ks: Sequence[int] = (1, 3, 5, 10),
    permutations: int = 999,
    strata: str | None = None,
    status: str = "status",
    case: str | Sequence[str] = "case",
    seed: int | None = None,
) -> list[CuzickEdwards]:
    """Cuzick–Edwards T_k for several k, with Monte Carlo p-values under random labelling.

    Parameters
    ----------
    subjects
        Cases and controls in a projected CRS.
    ks
        The numbers of nearest neighbours.
    permutations
        Number of random relabellings.
    strata
        A column: also test with labels permuted within its groups.
    seed
        Seed of the relabellings; each k and each kind of labelling gets its
        own stream derived from it.

    Returns
    -------
    list of CuzickEdwards
        One result per k (k ≥ n is skipped).
    """
    xy, is_case, labels = _inputs(subjects, strata, status, case)
    n = len(xy)
    y = is_case.astype(float)
    n1 = y.sum()
    out = []
    streams = np.random.SeedSequence(seed).spawn(2 * len(ks))
    used = [k for k in ks if k < n]
    total = len(used) * permutations * (1 if labels is None else 2)
    found: list[tuple[int, Any, float, float, float | None]] = []
    jobs: list[tuple[Any, np.ndarray | None, Any, float]] = []
    for pos, k in enumerate(ks):
        if k >= n:
            continue
        matrix = k_nearest(xy, k).matrix
        observed = float(y @ (matrix @ y))
        expected = float(matrix.nnz * n1 * (n1 - 1) / (n * (n - 1)))
        e_strata = None if labels is None else _expected_within(matrix, is_case, labels)
        found.append((k, matrix, observed, expected, e_strata))
        jobs.append((matrix, None, streams[2 * pos], observed))
        if labels is not None:
            jobs.append((matrix, labels, streams[2 * pos + 1], observed))

    def run(job: tuple[Any, np.ndarray | None, Any, float]) -> float:
        matrix, within, stream, observed = job
        rng = np.random.default_rng(stream)
        return _t_pvalue(matrix, is_case, within, permutations, rng, observed, _no_advance)

    # each (k, labelling) has its own random stream: the tests run in threads, the same numbers
    p_values: list[float] = []
    with progress(
        f"Cuzick–Edwards T_k (k = {', '.join(map(str, used))}): relabellings", total=total
    ) as advance:
        for value in map_in_order(run, iter(jobs)):
            p_values.append(value)
            advance(permutations)
    per_k = 1 if labels is None else 2
    for pos, (k, matrix, observed, expected, e_strata) in enumerate(found):
        out.append(
            CuzickEdwards(
                k=k,
                T=observed,
                expected=expected,
                p_mc=p_values[per_k * pos],
                expected_strata=e_strata,
                p_mc_strata=None if labels is None else p_values[per_k * pos + 1],
                n_links=int(matrix.nnz),
                permutations=permutations,
                seed=seed,
            )
        )
    return out


def _no_advance(n: int = 1) -> None:
    """Progress inside a thread: counted by the caller when the test is done."""


def _t_pvalue(
    matrix: Any,
    is_case: np.ndarray,
    labels: np.ndarray | None,
    permutations: int,
    rng: np.random.Generator,
    observed: float,
    advance: Advance,
) -> float:
    relabel = Relabeller(is_case, labels, rng)
    sims = np.empty(permutations)
    # whole numbers: links between two cases counted per relabelling, 64 packed a word
    indptr = np.asarray(matrix.indptr, dtype=np.int64)
    indices = np.asarray(matrix.indices, dtype=np.int64)
    for lo in range(0, permutations, _CHUNK):
        hi = min(lo + _CHUNK, permutations)
        draws = np.vstack([relabel.draw() for _ in range(hi - lo)])
        if len(is_case) < _PACKED_FROM:  # a sparse product: no kernel to compile on a first run
            y = draws.astype(float)
            sims[lo:hi] = np.einsum("ij,ij->i", y, (matrix @ y.T).T)
        else:
            sims[lo:hi] = packed_link_counts(indptr, indices, pack_labels(draws), hi - lo)
        advance(hi - lo)
    return float((1 + np.sum(sims >= observed - 1e-9)) / (permutations + 1))


def _expected_within(matrix: Any, is_case: np.ndarray, labels: np.ndarray) -> float:
    """E[T] when labels are permuted within strata."""
    codes = pd.factorize(pd.Series(labels, dtype=object).fillna("\0none"), sort=True)[0]
    size = np.bincount(codes).astype(float)
    cases = np.bincount(codes, weights=is_case.astype(float))
    p = cases / size
    with np.errstate(divide="ignore", invalid="ignore"):
        same = np.where(size > 1, cases * (cases - 1) / (size * (size - 1)), 0.0)
    coo = matrix.tocoo()
    si, sj = codes[coo.row], codes[coo.col]
    prob = np.where(si == sj, same[si], p[si] * p[sj])
    return float(np.sum(prob))
