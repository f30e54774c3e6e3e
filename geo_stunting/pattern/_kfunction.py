"""Ripley's K and L and the nearest-neighbour distribution G, with envelopes.

``K(r)`` is the expected number of other points within distance r of a
typical point, divided by the intensity; under complete spatial randomness
(CSR) ``K(r) = πr²`` and ``L(r) = sqrt(K(r)/π) = r``. Above the line: more
neighbours than chance (clustering) at that distance. ``G(r)`` is the
fraction of points whose nearest neighbour is within r; under CSR
``1 - exp(-λπr²)``.

Edge corrections (K): ``"isotropic"`` (Ripley's, weighting each pair by the
share of the circle through it that lies in the window), ``"translate"``
(Ohser–Stoyan's, by the overlap of the window with its translate) and
``"border"`` (only points farther than r from the edge count). For G:
``"km"`` (Kaplan–Meier), ``"rs"`` (border) and ``"han"`` (Hanisch).
Values agree with spatstat's ``Kest``, ``Lest`` and ``Gest`` (see
`geo_stunting.pattern._pairs` for the two places where ours are exact and
spatstat's are pixel approximations).

Envelopes simulate CSR in the same window with n fixed: pointwise bands (the
``nrank``-th smallest and largest simulated values at each r) and a global
band (the maximum absolute deviation from the CSR value over all r), whose
test controls the error rate over the whole curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.pattern import _pairs as kf
from geo_stunting.pattern._threads import map_in_order, threads_for_numpy_twins
from geo_stunting.pattern._window import StudyWindow, WindowLike, as_window
from geo_stunting.progress import progress

__all__ = [
    "Envelope",
    "GFunction",
    "KFunction",
    "envelope",
    "envelope_ranks",
    "g_function",
    "k_function",
    "r_grid",
]


def _xy(points: gpd.GeoDataFrame | np.ndarray) -> np.ndarray:
    if isinstance(points, gpd.GeoDataFrame):
        return np.column_stack([points.geometry.x, points.geometry.y]).astype(float)
    return np.asarray(points, dtype=float).reshape(-1, 2)


def r_grid(window: StudyWindow, n: int, *, function: str = "K", steps: int = 512) -> np.ndarray:
    """Distances ``0 … rmax`` in `steps` equal steps, rmax by spatstat's rule.

    For K: a quarter of the window's shorter side, or less when there are
    many points; for G: about the distance within which CSR would give every
    point a neighbour.
    """
    rmax = kf.rmax_rule(function, window, max(n, 1) / window.area_m2)
    return np.linspace(0.0, rmax, steps + 1)


@dataclass(frozen=True)
class KFunction:
    """Ripley's K of one group of points, for several edge corrections.

    Attributes
    ----------
    group, n, area_m2, window_kind
        Which points, how many, and the window.
    r_m
        Distances (metres).
    K
        K(r) by correction name (m²).
    """

    group: str
    n: int
    area_m2: float
    window_kind: str
    r_m: np.ndarray
    K: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def theo(self) -> np.ndarray:
        """K under CSR, πr²."""
        return np.pi * self.r_m**2

    def L(self, correction: str = "isotropic") -> np.ndarray:  # noqa: N802 - its name
        """``L(r) = sqrt(K(r)/π)`` for one correction."""
        return np.asarray(np.sqrt(np.maximum(self.K[correction], 0.0) / np.pi))

    def to_dict(self, correction: str = "isotropic") -> dict[str, Any]:
        """``{r_m, K, L, correction, …}`` for ``results.json``."""
        return {
            "group": self.group,
            "n": self.n,
            "correction": correction,
            "r_m": self.r_m,
            "K": self.K[correction],
            "L": self.L(correction),
            "K_theo": self.theo,
            "other_corrections": {c: v for c, v in self.K.items() if c != correction},
        }


@dataclass(frozen=True)
class GFunction:
    """The nearest-neighbour distance distribution G of one group of points.

    Attributes
    ----------
    group, n
        Which points and how many.
    r_m
        Distances (metres).
    G
        G(r) by correction name.
    theo
        G under CSR.
    """

    group: str
    n: int
    r_m: np.ndarray
    G: dict[str, np.ndarray]
    theo: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """``{r_m, G_<correction>…, G_theo}`` for ``results.json``."""
        out: dict[str, Any] = {"group": self.group, "n": self.n, "r_m": self.r_m}
        out.update({f"G_{c}": v for c, v in self.G.items()})
        out["G_theo"] = self.theo
        return out


def _check(xy: np.ndarray, window: StudyWindow, what: str) -> None:
    if len(xy) < 2:
        raise AnalysisError(Problem(f"{what} needs at least 2 points, got {len(xy)}"))
    outside = ~window.contains(xy)
    if outside.any():
        raise AnalysisError(
            Problem(
                f"{int(outside.sum())} point(s) lie outside the window ({window.description})",
                fix="build the window from the same points (make_window) or drop them",
            )
        )


def k_function(
    points: gpd.GeoDataFrame,
    *,
    window: WindowLike,
    r_m: Sequence[float] | np.ndarray | None = None,
    corrections: Sequence[str] = ("isotropic", "translate", "border"),
    group: str = "points",
) -> KFunction:
    """Estimate Ripley's K (and L) of a point pattern in its window.

    Parameters
    ----------
    points
        The points, in the window's projected CRS (metres).
    window
        The study window.
    r_m
        Distances, starting at 0 and increasing; default `r_grid`.
    corrections
        Any of ``"isotropic"``, ``"translate"``, ``"border"``, ``"none"``.
    group
        A label kept in the result.

    Returns
    -------
    KFunction
        K(r) for each correction; ``.L()`` gives L(r).
    """
    window = as_window(window, points)
    xy = _xy(points)
    _check(xy, window, "Ripley's K")
    r = r_grid(window, len(xy)) if r_m is None else np.asarray(r_m, dtype=float)
    estimates = kf.k_estimates(xy, window, kf.breaks_from_r(r), corrections=corrections)
    return KFunction(group, len(xy), window.area_m2, window.kind, r, estimates)


def g_function(
    points: gpd.GeoDataFrame,
    *,
    window: WindowLike,
    r_m: Sequence[float] | np.ndarray | None = None,
    corrections: Sequence[str] = ("km", "rs", "han"),
    group: str = "points",
) -> GFunction:
    """Estimate the nearest-neighbour distance distribution G.

    Parameters
    ----------
    points
        The points, in the window's projected CRS (metres).
    window
        The study window.
    r_m
        Distances, starting at 0 and increasing; default `r_grid` for G.
    corrections
        Any of ``"km"``, ``"rs"``, ``"han"``, ``"none"``.
    group
        A label kept in the result.

    Returns
    -------
    GFunction
        G(r) for each correction and under CSR.
    """
    window = as_window(window, points)
    xy = _xy(points)
    _check(xy, window, "The G function")
    r = r_grid(window, len(xy), function="G") if r_m is None else np.asarray(r_m, dtype=float)
    estimates = kf.g_estimates(xy, window, kf.breaks_from_r(r), corrections=corrections)
    lam = len(xy) / window.area_m2
    return GFunction(group, len(xy), r, estimates, 1 - np.exp(-lam * np.pi * r**2))


def envelope_ranks(permutations: int, alpha: float) -> tuple[int, int]:
    """Ranks for two-sided pointwise and global envelopes at level `alpha`.

    Pointwise: the ``floor(alpha/2 · (permutations+1))``-th smallest and largest
    values (at least the 1st); global: the ``floor(alpha · (permutations+1))``-th
    largest maximum deviation. With 999 simulations and alpha 0.05: 25 and 50.
    """
    pointwise = max(1, math.floor(alpha / 2 * (permutations + 1) + 1e-9))
    overall = max(1, math.floor(alpha * (permutations + 1) + 1e-9))
    return pointwise, overall


@dataclass(frozen=True)
class Envelope:
    """Simulation envelopes of a summary function.

    Attributes
    ----------
    statistic, correction
        ``"K"``, ``"L"`` or ``"G"``, and the edge correction.
    r_m
        Distances.
    observed
        The observed function.
    theo
        Its value under the null hypothesis (CSR).
    lo, hi
        Pointwise envelope (the `nrank`-th smallest and largest simulated values).
    global_lo, global_hi
        Global band ``theo ± d``, d the `nrank_global`-th largest simulated
        maximum absolute deviation from `theo`.
    p_global
        Monte Carlo p-value of the maximum absolute deviation test.
    permutations, nrank, nrank_global, alpha, seed
        The simulations, ranks, level and seed.
    """

    statistic: str
    correction: str
    r_m: np.ndarray
    observed: np.ndarray
    theo: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    global_lo: np.ndarray
    global_hi: np.ndarray
    p_global: float
    permutations: int
    nrank: int
    nrank_global: int
    alpha: float
    seed: int | None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return {
            "statistic": self.statistic,
            "correction": self.correction,
            "r_m": self.r_m,
            "observed": self.observed,
            "theo": self.theo,
            "lo": self.lo,
            "hi": self.hi,
            "global_lo": self.global_lo,
            "global_hi": self.global_hi,
            "p_global": self.p_global,
            "permutations": self.permutations,
            "nrank": self.nrank,
            "nrank_global": self.nrank_global,
            "alpha": self.alpha,
            "seed": self.seed,
        }


def bands(
    observed: np.ndarray, theo: np.ndarray, sims: np.ndarray, *, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, int, int]:
    """Pointwise and global bands from an ``(permutations, nr)`` array of simulated curves."""
    permutations = sims.shape[0]
    nrank, nrank_global = envelope_ranks(permutations, alpha)
    ordered = np.sort(sims, axis=0)
    lo = ordered[nrank - 1]
    hi = ordered[permutations - nrank]
    usable = np.isfinite(observed) & np.all(np.isfinite(sims), axis=0)
    deviation = np.max(np.abs(sims[:, usable] - theo[usable]), axis=1)
    observed_dev = float(np.max(np.abs(observed[usable] - theo[usable]))) if usable.any() else 0.0
    critical = float(np.sort(deviation)[permutations - nrank_global]) if usable.any() else math.nan
    p_global = float((1 + np.sum(deviation >= observed_dev)) / (permutations + 1))
    return lo, hi, theo - critical, theo + critical, p_global, nrank, nrank_global


def envelope(
    points: gpd.GeoDataFrame,
    *,
    window: WindowLike,
    statistic: str = "L",
    correction: str = "isotropic",
    permutations: int = 99,
    alpha: float = 0.05,
    r_m: Sequence[float] | np.ndarray | None = None,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Envelope:
    """Envelopes of K, L or G from simulations of CSR in the window (n fixed).

    Parameters
    ----------
    points
        The points, in the window's projected CRS (metres).
    window
        The study window.
    statistic
        ``"K"``, ``"L"`` or ``"G"``.
    correction
        A K correction (``"isotropic"`` fastest) or a G correction (``"km"``).
    permutations
        Number of simulations.
    alpha
        Two-sided level of the bands.
    r_m
        Distances; default `r_grid`.
    seed, rng
        Seed or generator; the same seed gives the same envelopes.

    Returns
    -------
    Envelope
        Observed curve, CSR curve, pointwise and global bands, global p-value.
    """
    window = as_window(window, points)
    if statistic not in ("K", "L", "G"):
        raise AnalysisError(Problem(f"unknown statistic {statistic!r}", fix='use "K", "L" or "G"'))
    if permutations < 1:
        raise AnalysisError(Problem(f"permutations must be at least 1, got {permutations}"))
    xy = _xy(points)
    _check(xy, window, "An envelope")
    n = len(xy)
    generator = rng if rng is not None else np.random.default_rng(seed)
    function = "G" if statistic == "G" else "K"
    r = r_grid(window, n, function=function) if r_m is None else np.asarray(r_m, dtype=float)
    breaks = kf.breaks_from_r(r)
    grid = kf.window_grid(window, float(breaks[-1]) * (1 + 1e-9) + 1e-9, cell=float(breaks[-1]) / 2)
    lam = n / window.area_m2

    def curve(pattern: np.ndarray) -> np.ndarray:
        if statistic == "G":
            return kf.g_estimates(pattern, window, breaks, corrections=(correction,), grid=grid)[
                correction
            ]
        k = kf.k_estimates(
            pattern, window, breaks, corrections=(correction,), grid=grid, threads=1
        )[correction]
        return np.sqrt(np.maximum(k, 0.0) / np.pi) if statistic == "L" else k

    observed = curve(xy)
    sims = np.empty((permutations, len(r)))
    with progress(
        f"{statistic} envelope ({correction}): {n} points, CSR simulations", total=permutations
    ) as advance:
        patterns = (window.random_points(n, rng=generator) for _ in range(permutations))
        threads = threads_for_numpy_twins(n) if statistic == "G" else None  # K: compiled
        for k, values in enumerate(map_in_order(curve, patterns, threads=threads)):
            sims[k] = values
            advance(1)
    if statistic == "G":
        theo = 1 - np.exp(-lam * np.pi * r**2)
    else:
        theo = r.copy() if statistic == "L" else np.pi * r**2
    lo, hi, glo, ghi, p_global, nrank, nrank_global = bands(observed, theo, sims, alpha=alpha)
    return Envelope(
        statistic=statistic,
        correction=correction,
        r_m=r,
        observed=observed,
        theo=theo,
        lo=lo,
        hi=hi,
        global_lo=glo,
        global_hi=ghi,
        p_global=p_global,
        permutations=permutations,
        nrank=nrank,
        nrank_global=nrank_global,
        alpha=alpha,
        seed=seed,
    )
