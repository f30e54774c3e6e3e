"""Report sections for clustering and scan clusters (see `geo_stunting.outputs.report._page`).

Each function takes the run's `Results` and returns HTML. A section whose
step did not run says why ("not run in this version", "skipped: …"); the
keys of other steps' sections are read defensively, so a section written by
a newer or older version still renders what it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup

from geo_stunting.errors import GeoStuntingError
from geo_stunting.outputs.report._analysis_text import analysis
from geo_stunting.outputs.report._html import (
    dig,
    figure,
    fmt,
    fmt_p,
    heading,
    html_join,
    notice,
    para,
    table,
)
from geo_stunting.outputs.report._i18n import Text, t, tn
from geo_stunting.outputs.report._svg import (
    CASE_COLOUR,
    CONTROL_COLOUR,
    envelope_plot,
    moran_scatter,
)
from geo_stunting.outputs.report._text import tr

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["ALPHA", "clustering_section", "is_significant", "scan_section", "step_notice"]

#: Significance level of the plain-language verdicts.
ALPHA = 0.05


def is_significant(p: Any) -> bool:
    """Whether `p` is a number at or below `ALPHA`."""
    return isinstance(p, int | float) and not isinstance(p, bool) and p <= ALPHA


def step_notice(results: Results, name: str) -> Markup | None:
    """Why step `name` has no section, in both languages; ``None`` when it ran."""
    state = results.sections.get("steps", {}).get(name)
    if name in results.sections and (state is None or state.get("status") == "done"):
        return None
    if state is None:
        return notice(tr("not_requested"))
    if state.get("status") == "not_available":
        return notice(tr("not_available"))
    key = "failed" if state.get("status") == "failed" else "skipped"
    return notice(tr(key, reason=analysis(state.get("reason", ""))))


def _section(results: Results, name: str) -> tuple[Mapping[str, Any] | None, Markup]:
    """The step's section, or the notice saying why there is none."""
    section = results.sections.get(name)
    missing = step_notice(results, name)
    if missing is not None or not isinstance(section, Mapping):
        return None, missing or Markup("")
    return section, Markup("")


# --------------------------------------------------------------------------- pattern


def _naive(section: Mapping[str, Any]) -> list[Markup]:
    out = []
    cases = dig(section, "clark_evans", "cases")
    if isinstance(cases, Mapping):
        p = cases.get("p_mc", cases.get("p_value"))
        r = cases.get("R_naive")
        looks = is_significant(p) and isinstance(r, int | float) and r < 1
        verdict = tr("look_clustered" if looks else "not_clustered")
        out.append(para(tr("naive", R=fmt(r), p=fmt_p(p), verdict=verdict)))
    controls = dig(section, "clark_evans", "controls")
    if isinstance(controls, Mapping):
        p = controls.get("p_mc", controls.get("p_value"))
        out.append(para(tr("naive_controls", R=fmt(controls.get("R_naive")), p=fmt_p(p))))
    return out


def _kdiff_plot(kdiff: Mapping[str, Any]) -> Markup:
    try:
        r = np.asarray(kdiff["r_m"], dtype=float)
        values = [np.asarray(kdiff[k], dtype=float) for k in ("kdiff", "lo", "hi")]
        band = None
        if kdiff.get("global_lo") is not None and kdiff.get("global_hi") is not None:
            band = (
                np.asarray(kdiff["global_lo"], dtype=float),
                np.asarray(kdiff["global_hi"], dtype=float),
            )
    except (KeyError, TypeError, ValueError):
        return Markup("")
    if len(r) < 2 or any(v.shape != r.shape for v in values):
        return Markup("")
    scale, unit = (1e6, "km²") if np.nanmax(np.abs(values[2])) >= 1e5 else (1.0, "m²")
    return envelope_plot(
        r,
        *(v / scale for v in values),
        xlabel=t("distance r (m)"),
        ylabel=t("K_case − K_control ({unit})", unit=unit),
        title=t("K_case − K_control with envelope"),
        global_band=None if band is None else (band[0] / scale, band[1] / scale),
    )


def _pattern(results: Results) -> Markup:
    out = [heading(3, "pattern", t("Point pattern"))]
    section, missing = _section(results, "pattern")
    if section is None:
        return out[0] + missing
    out += _naive(section)
    kdiff = section.get("kdiff")
    if isinstance(kdiff, Mapping):
        p = kdiff.get("p_value")
        verdict = tr("cluster_more" if is_significant(p) else "cluster_not_more")
        texts = tr(
            "casecontrol", p=fmt_p(p), p_global=fmt_p(kdiff.get("p_global")), verdict=verdict
        )
        out.append(para(texts, cls="answer"))
        plot = _kdiff_plot(kdiff)
        if plot:
            out.append(figure(plot, tr("kdiff_plot")))
    strata = section.get("kdiff_within_strata")
    if isinstance(strata, Mapping):
        p = strata.get("p_value")
        verdict = tr("strata_yes" if is_significant(p) else "strata_no")
        out.append(para(tr("strata", p=fmt_p(p), verdict=verdict)))
    ce = [c for c in section.get("cuzick_edwards") or [] if isinstance(c, Mapping)]
    if ce:
        rows = [
            [
                f"T{c.get('k')}",
                fmt(c.get("T"), 0),
                fmt(c.get("expected"), 1),
                fmt_p(c.get("p_mc")),
            ]
            for c in ce
        ]
        out.append(
            table(
                ["k", t("observed"), t("expected"), "p"],
                rows,
                caption=tr("ce_caption"),
            )
        )
    return html_join(out)


# --------------------------------------------------------------------------- autocorrelation


def _moran_plot(results: Results, moran: Mapping[str, Any]) -> Markup:
    from geo_stunting.autocorrelation._neighbours import distance_band, k_nearest  # noqa: PLC0415
    from geo_stunting.study._config import parse_weights  # noqa: PLC0415 - only for this plot

    subjects = results.study.subjects
    slope = moran.get("I")
    if not isinstance(slope, int | float) or len(subjects) < 3:
        return Markup("")
    y = (subjects["status"] == "case").to_numpy(dtype=float)
    if y.std() == 0:
        return Markup("")
    xy = np.column_stack([subjects.geometry.x, subjects.geometry.y])
    rule = str(moran.get("weights") or results.study.settings.weights).split(";")[0]
    try:
        kind, value = parse_weights(rule)
        neighbours = k_nearest(xy, int(value)) if kind == "knn" else distance_band(xy, value)
    except (GeoStuntingError, ValueError):
        return Markup("")
    z = (y - y.mean()) / y.std()
    counts = np.asarray(neighbours.matrix.sum(axis=1)).ravel()
    lag = np.divide(neighbours.matrix @ z, counts, out=np.zeros_like(z), where=counts > 0)
    colours = np.where(y == 1, CASE_COLOUR, CONTROL_COLOUR)
    return moran_scatter(
        z,
        lag,
        colours.tolist(),
        slope=float(slope),
        xlabel=t("case indicator (standardised)"),
        ylabel=t("average of the neighbours"),
        title=t("Moran scatter plot"),
    )


def _autocorrelation(results: Results) -> Markup:
    out = [heading(3, "autocorrelation", t("Spatial autocorrelation"))]
    section, missing = _section(results, "autocorrelation")
    if section is None:
        return out[0] + missing
    moran = section.get("moran") or {}
    p = moran.get("p_sim", moran.get("p_rand"))
    more = is_significant(p) and (moran.get("I") or 0) > (moran.get("expected") or 0)
    rule = str(dig(section, "weights", "rule") or results.study.settings.weights)
    texts = tr(
        "moran",
        I=fmt(moran.get("I"), 3),
        E=fmt(moran.get("expected"), 3),
        p=fmt_p(p),
        rule=rule,
        verdict=tr("moran_yes" if more else "moran_no"),
    )
    out.append(para(texts, cls="answer"))
    joins = section.get("join_counts")
    if isinstance(joins, Mapping):
        pj = joins.get("p_sim_bb", joins.get("p_bb"))
        out.append(
            para(
                tr(
                    "joins",
                    bb=fmt(joins.get("bb"), 0),
                    expected=fmt(joins.get("expected_bb"), 1),
                    p=fmt_p(pj),
                )
            )
        )
    lisa = section.get("lisa")
    if isinstance(lisa, Mapping):
        raw = section.get("lisa_uncorrected") or {}
        out.append(
            table(
                [t("LISA label"), t("subjects")],
                [
                    [
                        analysis(k),
                        Markup("{} ({})").format(fmt(v), fmt(raw[k])) if k in raw else fmt(v),
                    ]
                    for k, v in lisa.items()
                ],
                caption=tr("lisa_caption"),
            )
        )
    plot = _moran_plot(results, moran)
    if plot:
        out.append(figure(plot, tr("moran_plot")))
    return html_join(out)


def _relative_risk(results: Results) -> Markup:
    section = results.sections.get("relative_risk")
    if not isinstance(section, Mapping):
        return Markup("")
    head = heading(3, "relative-risk", t("Kernel relative risk"))
    support = section.get("support")
    if isinstance(support, Mapping):
        areas = section.get("raised_risk_areas") or {}
        texts = tr(
            "relrisk_support",
            bandwidth=fmt(section.get("bandwidth_m"), 0),
            floor=fmt(support.get("min_subjects")),
            support_km2=fmt((support.get("area_m2") or 0) / 1e6, 1),
            areas=tn("{n} area", "{n} areas", int(areas.get("n_areas", 0) or 0)),
            km2=fmt((areas.get("area_m2") or 0) / 1e6, 2),
            children=fmt(areas.get("n_subjects_inside", 0)),
        )
        return head + para(texts)
    share = section.get("share_window_significant_high")
    share_pct = 100 * share if isinstance(share, int | float) else None
    return head + para(
        tr("relrisk", bandwidth=fmt(section.get("bandwidth_m"), 0), share=fmt(share_pct, 1))
    )


def clustering_section(results: Results) -> Markup:
    """Clustering in plain words: the naive answer, then the case-control one."""
    return (
        heading(2, "clustering", t("Clustering of cases"))
        + para(tr("clustering_intro"))
        + _pattern(results)
        + _autocorrelation(results)
        + _relative_risk(results)
    )


# --------------------------------------------------------------------------- scan


def _scan_limit(max_size: Any) -> Text | None:
    """The largest window in both languages, from ``scan.max_size``."""
    if not isinstance(max_size, Mapping) or not isinstance(max_size.get("max_share"), float | int):
        return None
    share = fmt(100 * float(max_size["max_share"]), 0)
    tried = [t for t in max_size.get("tried") or [] if isinstance(t, Mapping)]
    if tried:
        best = max(float(t.get("gini") or 0) for t in tried)
        if best > 0:
            return tr("scan_limit_gini", share=share, n=fmt(len(tried)), gini=fmt(best, 3))
        return tr("scan_limit_none", share=share, n=fmt(len(tried)))
    radius = max_size.get("max_radius_m")
    if isinstance(radius, int | float):
        return tr("scan_limit_radius", share=share, radius=fmt(radius, 0))
    return tr("scan_limit_share", share=share)


def scan_section(results: Results) -> Markup:
    """The Bernoulli spatial scan's clusters, most likely first (centres rounded to ~1 km)."""
    out = [heading(2, "scan", t("Spatial scan clusters"))]
    section, missing = _section(results, "scan")
    if section is None:
        return out[0] + missing
    clusters = [c for c in section.get("clusters") or [] if isinstance(c, Mapping)]
    if not clusters:
        return out[0] + para(tr("no_scan_cluster"))
    top = clusters[0]
    verdict = tr("unlikely_chance" if is_significant(top.get("p_value")) else "could_be_chance")
    texts = tr(
        "scan_top",
        n=fmt(top.get("n")),
        radius=fmt(top.get("radius_m"), 0),
        cases=fmt(top.get("cases")),
        expected=fmt(top.get("expected"), 1),
        rr=fmt(top.get("relative_risk")),
        p=fmt_p(top.get("p_value")),
        verdict=verdict,
    )
    out.append(para(texts, cls="answer"))
    limit = _scan_limit(section.get("max_size"))
    if limit:
        out.append(para(limit))
    rows = [
        [
            fmt(c.get("rank")),
            t("{lat}, {lon}", lat=fmt(c.get("centre_lat"), 2), lon=fmt(c.get("centre_lon"), 2)),
            fmt(c.get("radius_m"), 0),
            fmt(c.get("n")),
            fmt(c.get("cases")),
            fmt(c.get("expected"), 1),
            fmt(c.get("relative_risk")),
            fmt(c.get("llr"), 3),
            fmt_p(c.get("p_value"), prefix=False),
        ]
        for c in clusters
    ]
    headers = [
        "#",
        t("centre (lat, lon; ≈1 km)"),
        t("radius (m)"),
        t("children"),
        t("cases"),
        t("expected"),
        t("relative risk"),
        "LLR",
        "p",
    ]
    out.append(table(headers, rows))
    return html_join(out)
