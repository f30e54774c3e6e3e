"""The ``pattern`` step: is stunting clustered? The naive answer and the right one.

Studies in this field often report "the cases form a clustered pattern"
from a nearest-neighbour index against complete spatial randomness (CSR).
In a case-control study that answer misleads: the controls cluster too,
because children live in villages. This step gives both answers side by
side, in plain words:

1. **The answer users expect**: the Clark–Evans index R of cases, of
   controls and of all subjects against CSR in the study window (with the
   table ArcGIS and QGIS print), and Ripley's K/L and G of cases and
   controls with CSR envelopes.
2. **The case-control answer**: ``K_case − K_control`` and Cuzick–Edwards'
   T_k under random labelling — do cases cluster *more than controls*? —
   and the same with labels permuted within villages (strata).

Functions: `geo_stunting.pattern.make_window`,
`geo_stunting.pattern.clark_evans`,
`geo_stunting.pattern.k_function` / `g_function` / `envelope`,
`geo_stunting.pattern.k_difference` / `cuzick_edwards`.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo_stunting.pattern._casecontrol import (
    CuzickEdwards,
    KDifference,
    case_control_r,
    cuzick_edwards,
    k_difference,
    sharing_pairs,
)
from geo_stunting.pattern._kfunction import envelope, g_function, k_function, r_grid
from geo_stunting.pattern._nearest_neighbour import (
    ClarkEvans,
    average_nearest_neighbour,
    clark_evans,
)
from geo_stunting.pattern._window import (
    StudyWindow,
    area_union,
    make_window,
)
from geo_stunting.pipeline import StepOutput, register_step
from geo_stunting.study._study import Study
from geo_stunting.study._validate import OUTSIDE_M_MAX

__all__ = [
    "CUZICK_EDWARDS_K",
    "NLARGE",
    "NLARGE_ISOTROPIC",
    "R_STEPS",
    "envelope_correction",
    "pattern_step",
]

log = logging.getLogger(__name__)

#: Number of steps of the r grid reported in ``results.json``.
R_STEPS = 100
#: Above this many points the CSR envelope of L uses the border correction alone
#: (spatstat's ``nlarge`` rule for ``Kest``: the isotropic weights of every pair of
#: every simulated pattern cost far more, and the border estimate is unbiased).
NLARGE = 3000
#: Above this many points (and up to `NLARGE`) the CSR envelope of L uses the
#: translation correction: one look-up in the window's set covariance per pair,
#: where the isotropic weight cuts a circle with every nearby boundary edge
#: (47 ms against 4 ms per simulation of 1,000 points in the 1,700-edge window of
#: Ogan Ilir's villages). The observed curve of the envelope uses the same
#: correction, so the Monte Carlo test stays exact; ``envelope_correction`` says which.
NLARGE_ISOTROPIC = 500
#: The k of Cuzick–Edwards' T_k.
CUZICK_EDWARDS_K = (1, 3, 5, 10)
ALPHA = 0.05


@register_step(
    "pattern",
    title="Point pattern: nearest neighbour, K, case-control",
    needs={"cases", "controls"},
)
def pattern_step(study: Study) -> StepOutput:
    """The ``pattern`` step (see the module docstring)."""
    settings = study.settings
    subjects = study.subjects
    window, window_notes = _study_window(subjects, study.area)
    permutations = settings.permutations

    seeds = [int(s) for s in np.random.SeedSequence(settings.seed).generate_state(12)]
    is_case = (subjects["status"] == "case").to_numpy()
    groups = {"cases": subjects[is_case], "controls": subjects[~is_case], "all": subjects}

    clark = {
        name: clark_evans(
            points, window=window, group=name, permutations=permutations, seed=seeds[pos]
        )
        for pos, (name, points) in enumerate(groups.items())
        if len(points) >= 2
    }
    ann = {
        name: {
            "study_window": average_nearest_neighbour(points, window=window).to_dict(),
            "bounding_rectangle": average_nearest_neighbour(points).to_dict(),
        }
        for name, points in groups.items()
        if len(points) >= 2
    }
    r_k = r_grid(window, len(subjects), steps=R_STEPS)
    r_g = r_grid(window, len(subjects), function="G", steps=R_STEPS)
    k_section: dict[str, Any] = {}
    g_section: dict[str, Any] = {}
    # G first: on a first run after install the pair scan of K is still compiling
    # in the background (geo_stunting._compile_ahead); each call has its own seed
    for pos, name in enumerate(("cases", "controls")):
        points = groups[name]
        if len(points) < 2:
            continue
        g_entry = g_function(
            points, window=window, r_m=r_g, group=name, corrections=("km", "rs")
        ).to_dict()
        g_env = envelope(
            points,
            window=window,
            statistic="G",
            correction="km",
            permutations=permutations,
            r_m=r_g,
            seed=seeds[8 + pos],
        )
        g_entry.update(
            {
                "G_lo": g_env.lo,
                "G_hi": g_env.hi,
                "G_global_lo": g_env.global_lo,
                "G_global_hi": g_env.global_hi,
                "p_global": g_env.p_global,
                "alternative": "two-sided",
                "permutations": g_env.permutations,
                "nrank": g_env.nrank,
            }
        )
        g_section[name] = g_entry
    # Cuzick-Edwards too (no compiled kernel), then K
    has_strata = "stratum" in subjects and subjects["stratum"].nunique() > 1
    ce = cuzick_edwards(
        subjects,
        ks=CUZICK_EDWARDS_K,
        permutations=permutations,
        strata="stratum" if has_strata else None,
        seed=seeds[7],
    )
    for pos, name in enumerate(("cases", "controls")):
        points = groups[name]
        if len(points) < 2:
            continue
        k = k_function(points, window=window, r_m=r_k, group=name)
        env_correction = envelope_correction(len(points))
        env = envelope(
            points,
            window=window,
            statistic="L",
            correction=env_correction,
            permutations=permutations,
            r_m=r_k,
            seed=seeds[3 + pos],
        )
        entry = k.to_dict("isotropic")
        entry.update(
            {
                "envelope_correction": env.correction,
                "L_envelope_observed": env.observed,
                "L_lo": env.lo,
                "L_hi": env.hi,
                "L_global_lo": env.global_lo,
                "L_global_hi": env.global_hi,
                "p_global": env.p_global,
                "alternative": "two-sided",
                "permutations": env.permutations,
                "nrank": env.nrank,
            }
        )
        k_section[name] = entry

    xy = np.column_stack([subjects.geometry.x, subjects.geometry.y]).astype(float)
    r_cc = case_control_r(xy, steps=R_STEPS)  # from where the subjects are, not the area file
    with sharing_pairs():  # both labellings of the same subjects: find their pairs once
        kdiff = k_difference(
            subjects, window=window, permutations=permutations, r_m=r_cc, alpha=ALPHA, seed=seeds[5]
        )
        kdiff_strata = (
            k_difference(
                subjects,
                window=window,
                permutations=permutations,
                r_m=r_cc,
                alpha=ALPHA,
                strata="stratum",
                seed=seeds[6],
            )
            if has_strata
            else None
        )
    section: dict[str, Any] = {
        "window": window.to_dict(),
        "clark_evans": {name: result.to_dict() for name, result in clark.items()},
        "nearest_neighbour_table": ann,
        "k_function": k_section,
        "g_function": g_section,
        "kdiff": _kdiff_dict(kdiff),
        "kdiff_within_strata": None if kdiff_strata is None else _kdiff_dict(kdiff_strata),
        "cuzick_edwards": [c.to_dict() for c in ce],
        "summary": summary_sentences(window, clark, kdiff, kdiff_strata, ce),
        "duplicate_rule": (
            "subjects sharing a location are separate points at distance 0 (nearest-neighbour "
            "distance 0); for Cuzick-Edwards every subject tied at the k-th distance is a "
            "neighbour"
        ),
    }
    layers = {"window": window.to_frame(study.crs)}
    return StepOutput(section=section, layers=layers, notes=window_notes)


def envelope_correction(n: int) -> str:
    """The edge correction of the CSR envelope of L for a group of `n` points.

    ``"isotropic"`` up to `NLARGE_ISOTROPIC` points, ``"translate"`` up to
    `NLARGE`, ``"border"`` beyond (spatstat's ``nlarge`` rule).

    Examples
    --------
    >>> envelope_correction(67), envelope_correction(1000), envelope_correction(4000)
    ('isotropic', 'translate', 'border')
    """
    if n <= NLARGE_ISOTROPIC:
        return "isotropic"
    return "translate" if n <= NLARGE else "border"


def _study_window(
    subjects: gpd.GeoDataFrame, area: gpd.GeoDataFrame | None
) -> tuple[StudyWindow, tuple[str, ...]]:
    """The villages' union, with a disc reaching each subject kept just outside it.

    With subjects kept far outside it (``outside = "keep"``): that and their convex hull.
    """
    if area is not None:
        union, _ = area_union(area)
        xy = shapely.points(subjects.geometry.x.to_numpy(), subjects.geometry.y.to_numpy())
        if not shapely.dwithin(union, xy, OUTSIDE_M_MAX).all():
            hull = shapely.convex_hull(shapely.union_all(np.asarray(subjects.geometry.array)))
            note = (
                'some subjects lie outside the study area (outside = "keep"): the window is '
                "the study area joined with the subjects' convex hull"
            )
            polygon = shapely.union_all([union, hull])
            return make_window(subjects, polygon=polygon), (note,)
    return make_window(subjects, area=area), ()


def _kdiff_dict(result: KDifference) -> dict[str, Any]:
    out = result.to_dict()
    out["summary_test"] = "D+ = sum over r of (D(r) - mean) / sd under random labelling; one-sided"
    out["r_rule"] = (
        "spatstat's rmax rule for K applied to the subjects' convex hull (not the study area)"
    )
    return out


def _p(value: float | None) -> str:
    if value is None:
        return "p not computed"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _clustered(result: ClarkEvans) -> str:
    p = result.p_mc if result.p_mc is not None else result.p_value
    if p > ALPHA:
        return "no clearer clustering than chance"
    return "clustered" if result.R_naive < 1 else "more evenly spread than chance"


def summary_sentences(
    window: StudyWindow,
    clark: dict[str, ClarkEvans],
    kdiff: KDifference,
    kdiff_strata: KDifference | None,
    ce: list[CuzickEdwards],
) -> list[str]:
    """Plain-language sentences: the naive answer, then the case-control answer."""
    lines = []
    cases, controls = clark.get("cases"), clark.get("controls")
    where = f"{window.description} ({window.area_m2 / 1e6:,.1f} km²)"
    if cases is not None:
        lines.append(
            f"The usual answer: against complete spatial randomness in {where}, the cases look "
            f"{_clustered(cases)} — the mean distance from a case to the nearest other case is "
            f"{cases.mean_nnd_m:,.0f} m, against {cases.expected_nnd_m:,.0f} m expected "
            f"(Clark–Evans R = {cases.R_naive:.2f}, two-sided Monte Carlo {_p(cases.p_mc)})."
        )
    if controls is not None:
        lines.append(
            f"But the controls look {_clustered(controls)} too (R = {controls.R_naive:.2f}, "
            f"{_p(controls.p_mc)}): children live in villages, so any group of children is "
            "clustered against randomness. That comparison describes where children live, "
            "not where stunting is."
        )
    more = kdiff.p_value <= ALPHA
    lines.append(
        "The case-control answer: keeping every child where they live and shuffling the "
        "case/control labels at random, the K function of cases "
        + ("exceeds" if more else "does not exceed")
        + " that of controls by more than chance (one-sided D+ test over "
        f"0–{kdiff.r_m[-1]:,.0f} m, {_p(kdiff.p_value)}; two-sided global envelope test, "
        f"{_p(kdiff.p_global)}): "
        + (
            "cases cluster more than the population they come from."
            if more
            else "no evidence that cases cluster beyond the population they come from."
        )
    )
    if ce:
        parts = [f"T{c.k} = {c.T:.0f} vs {c.expected:.1f} expected ({_p(c.p_mc)})" for c in ce]
        lines.append(
            "Cuzick–Edwards (how many of each case's nearest neighbours are cases; one-sided "
            "Monte Carlo p-values): " + "; ".join(parts) + "."
        )
    if kdiff_strata is not None:
        within = kdiff_strata.p_value <= ALPHA
        lines.append(
            "Shuffling labels only within each village (so every village keeps its number of "
            "cases), the K difference "
            + ("is still" if within else "is no longer")
            + f" larger than chance (one-sided, {_p(kdiff_strata.p_value)}): "
            + (
                "cases also cluster within villages, beyond differences in prevalence "
                "between villages."
                if within
                else "the clustering of cases is explained by differences between villages "
                "(or there is none)."
            )
        )
    shared = max((c.n_shared_locations for c in clark.values()), default=0)
    if shared:
        lines.append(
            f"{shared} subjects share their location with another (twins or one household); "
            "they count as separate points at distance 0, which adds to the clustering."
        )
    return lines
