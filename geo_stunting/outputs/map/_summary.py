"""Headline results in plain words, for the map's summary panel.

One function per ``results.json`` section, registered in `SUMMARIES`; a
section without one (or whose keys changed) falls back to the first sentence
of its ``summary`` list, when it has one. Only counts and statistics appear,
never names or ids of children.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from geo_stunting.outputs.map._layers import distance_text

__all__ = ["SUMMARIES", "headlines", "step_notes"]

log = logging.getLogger(__name__)

Section = Mapping[str, Any]


def _p(value: float | None) -> str:
    if value is None:
        return "p not computed"
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f} %" if total else "–"


def _study(sec: Section) -> list[str]:
    areas = sec.get("n_areas") or 0
    kinds = sec.get("facility_kinds") or {}
    if not sec.get("n_subjects") and areas:
        return [f"An area study: {areas:,} areas, no home points."]
    text = f"{sec['n_cases']:,} cases and {sec['n_controls']:,} controls"
    used = sec.get("n_areas_with_subjects")
    if areas and used and used < areas:
        text += (
            f" in {used:,} {'village' if used == 1 else 'villages'} (of {areas:,} in the area file)"
        )
    elif areas:
        text += f" in {areas:,} {'village' if areas == 1 else 'villages'}"
    n_fac = sec.get("n_facilities") or 0
    if n_fac:
        detail = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
        text += f"; {n_fac:,} health facilities" + (f" ({detail})" if detail else "")
    return [text + "."]


def _access(sec: Section) -> list[str]:
    radius = distance_text(float(sec["buffer_m"]))
    cw, co = int(sec["cases_within"]), int(sec["cases_outside"])
    kw, ko = int(sec["controls_within"]), int(sec["controls_outside"])
    cases, controls = cw + co, kw + ko
    if cases and cw == cases:
        lead = f"All {cases:,} cases live within {radius} of a facility"
    elif cw == 0:
        lead = f"None of the {cases:,} cases lives within {radius} of a facility"
    else:
        lead = f"{cw:,} of {cases:,} cases ({_share(cw, cases)}) live within {radius} of a facility"
    lines = [f"{lead} ({kw:,} of {controls:,} controls)."]
    dist = sec.get("distance") or {}
    if "cases" in dist and "controls" in dist:
        mw = sec.get("mann_whitney") or {}
        test = f" (Mann–Whitney {_p(mw.get('p_value'))})" if mw else ""
        lines.append(
            f"Median distance to the nearest facility: "
            f"{distance_text(round(dist['cases']['median_m']))} for cases, "
            f"{distance_text(round(dist['controls']['median_m']))} for controls{test}."
        )
    return lines


def _pattern(sec: Section) -> list[str]:
    kdiff = sec["kdiff"]
    p = kdiff["p_value"]
    if p <= 0.05:
        lead = "Cases cluster more than the children they are drawn from"
    else:
        lead = "Cases do not cluster beyond the children they are drawn from"
    r_max = (kdiff.get("r_m") or [None])[-1]
    upto = f" over 0–{distance_text(round(r_max))}" if r_max else ""
    return [
        f"{lead} (K-function difference under random labelling{upto}, one-sided D+ test, {_p(p)})."
    ]


def _autocorrelation(sec: Section) -> list[str]:
    moran = sec["moran"]
    p = moran.get("p_sim") if moran.get("p_sim") is not None else moran.get("p_rand")
    clustered = p is not None and p <= 0.05 and moran["I"] > moran["expected"]
    verdict = (
        "Cases cluster among their neighbours more than chance explains"
        if clustered
        else "Cases do not cluster among their neighbours beyond chance"
    )
    lines = [f"{verdict} (Moran's I = {moran['I']:.3f}, one-sided, {_p(p)})."]
    hh = (sec.get("lisa") or {}).get("HH")
    gi = sec.get("gi_star") or {}
    corrected = "lisa_uncorrected" in sec
    parts = []
    if hh is not None:
        parts.append(f"{hh:,} subjects in local clusters of cases (LISA HH)")
    if "n_hot" in gi:
        parts.append(f"{gi['n_hot']:,} Gi* hot spots and {gi.get('n_cold', 0):,} cold spots")
    elif "n_hot_p05" in gi:
        parts.append(
            f"{gi['n_hot_p05']:,} Gi* hot spots and {gi.get('n_cold_p05', 0):,} cold spots"
        )
    if parts:
        how = (
            "two-sided, Benjamini–Hochberg false discovery rate 5 %"
            if corrected
            else "p ≤ 0.05, before correcting for multiple tests"
        )
        lines.append("; ".join(parts) + f" ({how}).")
    return lines


def _scan(sec: Section) -> list[str]:
    clusters = sec.get("clusters") or []
    if not clusters:
        return ["The spatial scan found no area with more cases than expected."]
    top = clusters[0]
    p = top.get("p_value")
    verdict = "significant" if p is not None and p < 0.05 else "not significant"
    text = (
        f"Most likely cluster of cases: {top['cases']:,} cases among {top['n']:,} children "
        f"within {distance_text(round(top['radius_m']))}, where {top['expected']:.1f} were "
        f"expected (relative risk {top['relative_risk']:.2f}; one-sided {_p(p)}, {verdict})."
    )
    rule = (sec.get("max_size") or {}).get("rule")
    if rule:
        text += f" Largest window: {rule}."
    return [text]


def _relative_risk(sec: Section) -> list[str]:
    if "support" in sec:
        return _relative_risk_supported(sec)
    share = sec["share_window_significant_high"]
    bandwidth = distance_text(round(sec["bandwidth_m"], -1))
    if not share:
        text = (
            "The kernel relative-risk surface has no area of significantly raised risk "
            f"(bandwidth {bandwidth})."
        )
    else:
        text = (
            f"The risk of stunting is significantly raised in {100 * share:.0f} % of the study "
            f"area (kernel relative risk, bandwidth {bandwidth})."
        )
    return [text]


def _relative_risk_supported(sec: Section) -> list[str]:
    bandwidth = distance_text(round(sec["bandwidth_m"], -1))
    support = sec["support"]
    where = (
        f"where at least {support['min_subjects']} children live within the bandwidth of "
        f"{bandwidth} ({support['area_m2'] / 1e6:,.1f} km²"
    )
    areas = sec.get("raised_risk_areas") or {}
    n = int(areas.get("n_areas") or 0)
    corrected = str(sec.get("multiple_testing", "")).startswith("Benjamini")
    how = "one-sided, false discovery rate 5 %" if corrected else "one-sided, p ≤ 0.05 per cell"
    if sec.get("share_support_significant_high") is None:
        return [f"The kernel relative risk was estimated {where}), without a test."]
    if not n:
        return [f"No area of significantly raised risk of stunting {where}; {how})."]
    km2, children = areas["area_m2"] / 1e6, areas["n_subjects_inside"]
    noun = "area" if n == 1 else "areas"
    text = (
        f"The risk of stunting is significantly raised in {n} {noun} ({km2:,.2f} km², holding "
        f"{children:,} children), tested only {where}; {how})."
    )
    return [text]


def _risk_factors(sec: Section) -> list[str]:
    tested = [f for f in sec["factors"] if f.get("p_value") is not None]
    hits = sorted((f for f in tested if f["p_value"] < 0.05), key=lambda f: f["p_value"])
    if not hits:
        text = (
            f"None of the {len(tested)} factors tested differs between cases and controls "
            "at p < 0.05."
        )
        return [text]
    parts = [
        str(f.get("label") or f["factor"])
        + (f" (OR {f['odds_ratio']:.1f})" if f.get("odds_ratio") is not None else "")
        for f in hits[:5]
    ]
    more = f" and {len(hits) - 5} more" if len(hits) > 5 else ""
    text = (
        "Differ between cases and controls at p < 0.05, one factor at a time: "
        f"{', '.join(parts)}{more}."
    )
    return [text]


def _areas(sec: Section) -> list[str]:
    lines = list(sec.get("summary") or [])
    if not sec.get("has_counts"):
        lines.append(
            "Percentages without sample sizes: no smoothing, no scan and no confidence "
            "intervals; differences between areas or years may be sampling noise."
        )
    if sec.get("mode") == "aggregate":
        lines.append("Rates are cases / (cases + controls) per area, not prevalence.")
    return lines


SUMMARIES: dict[str, Callable[[Section], list[str]]] = {
    "study": _study,
    "access": _access,
    "pattern": _pattern,
    "autocorrelation": _autocorrelation,
    "scan": _scan,
    "relative_risk": _relative_risk,
    "risk_factors": _risk_factors,
    "areas": _areas,
}


def _first_sentence(sec: Any) -> list[str]:
    summary = sec.get("summary") if isinstance(sec, Mapping) else None
    if isinstance(summary, list) and summary and isinstance(summary[0], str):
        return [summary[0]]
    if isinstance(summary, str):
        return [summary]
    return []


def headlines(sections: Mapping[str, Any]) -> list[str]:
    """The headline results of a run in plain sentences.

    Parameters
    ----------
    sections
        The content of ``results.json``.

    Returns
    -------
    list of str
        The study, then each step that ran, in ``results.json`` order.
    """
    lines: list[str] = []
    for name, sec in sections.items():
        if not isinstance(sec, Mapping) or name in {"settings", "steps"}:
            continue
        summarise = SUMMARIES.get(name)
        found: list[str] = []
        if summarise is not None:
            try:
                found = summarise(sec)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.debug("map summary of %s falls back: %s", name, exc)
        lines.extend(found or _first_sentence(sec))
    return lines


def step_notes(sections: Mapping[str, Any]) -> list[str]:
    """One line per step that was skipped, with its reason."""
    out = []
    for name, state in (sections.get("steps") or {}).items():
        if isinstance(state, Mapping) and state.get("status") in ("skipped", "failed"):
            out.append(f"{name} {state['status']}: {state.get('reason', '')}")
    return out
