"""The report's section on area-level rates (the ``areas`` step), in every language of the page."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from geo_stunting.outputs.report._analysis_text import analysis
from geo_stunting.outputs.report._html import (
    dig,
    fmt,
    fmt_p,
    heading,
    html_join,
    notice,
    para,
    table,
)
from geo_stunting.outputs.report._i18n import N_, Text, percent, t, tn
from geo_stunting.outputs.report._sections import is_significant, step_notice
from geo_stunting.outputs.report._text import tr

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["areas_section"]

_METHODS = {
    "quantiles": N_("quantiles"),
    "equal_interval": N_("equal intervals"),
    "fisher_jenks": N_("natural breaks (Fisher–Jenks)"),
}


def _lisa(counts: Any) -> str:
    if not isinstance(counts, Mapping):
        return "–"
    return " ".join(f"{k} {counts.get(k, 0)}" for k in ("HH", "LL", "LH", "HL"))


def _scan_cell(scan: Any) -> Text:
    if not isinstance(scan, Mapping) or scan.get("status") != "done":
        return t("not run")
    clusters = scan.get("clusters") or []
    if not clusters:
        return t("no cluster")
    top = clusters[0]
    size = len(top.get("areas") or [])
    rr = fmt(top.get("relative_risk"))
    return tn("{n} area", "{n} areas", size) + t(", RR {rr}, {p}", rr=rr, p=fmt_p(top.get("p")))


def _period_rows(section: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for period, part in (section.get("by_period") or {}).items():
        if not isinstance(part, Mapping):
            continue
        moran = part.get("moran") or {}
        eb = part.get("eb_moran") or {}
        gi = part.get("gi_star") or {}
        rows.append(
            [
                str(period),
                fmt(part.get("n_areas")),
                Markup("{}–{}").format(
                    fmt(part.get("rate_min_pct"), 1), fmt(part.get("rate_max_pct"), 1)
                ),
                Markup("{} ({})").format(fmt(moran.get("I"), 3), fmt_p(moran.get("p_sim"))),
                Markup("{} ({})").format(fmt(eb.get("I"), 3), fmt_p(eb.get("p_sim")))
                if eb
                else "–",
                f"{_lisa(part.get('lisa'))} / {_lisa(part.get('lisa_fdr'))}",
                Markup("{} / {}").format(fmt(gi.get("n_hot_p05")), fmt(gi.get("n_cold_p05"))),
                _scan_cell(part.get("scan")),
            ]
        )
    return rows


def areas_section(results: Results) -> Markup:
    """HTML of the area-level section: what the data can support, then the results."""
    out = [heading(2, "areas", t("Area-level rates"))]
    missing = step_notice(results, "areas")
    section = results.sections.get("areas")
    if missing is not None or not isinstance(section, Mapping):
        return out[0] + (missing or "")
    n = section.get("n_areas")
    mode = section.get("mode")
    intro = {"counts": "areas_intro_counts", "aggregate": "areas_intro_aggregate"}.get(
        str(mode), "areas_intro_prevalence"
    )
    out.append(para(tr(intro, n=fmt(n))))
    if mode == "aggregate":
        out.append(notice(tr("areas_case_control")))
    if not section.get("has_counts"):
        out.append(notice(tr("areas_prevalence_only")))
    if isinstance(n, int) and n < 30:
        out.append(para(tr("areas_few", n=fmt(n))))
    weights = section.get("weights") or {}
    out.append(
        para(
            tr(
                "areas_weights",
                rule=analysis(weights.get("rule", "")),
                links=fmt(weights.get("n_links")),
                islands=tn("{n} island", "{n} islands", len(weights.get("islands") or [])),
                components=tn(
                    "{n} connected group",
                    "{n} connected groups",
                    int(weights.get("n_components") or 0),
                ),
            )
        )
    )
    for period, part in (section.get("by_period") or {}).items():
        p = dig(part, "moran", "p_sim")
        verdict = tr("areas_alike" if is_significant(p) else "areas_not_alike")
        texts = tr(
            "areas_moran",
            period=t("Rates") if period == "all" else str(period),
            I=fmt(dig(part, "moran", "I"), 3),
            p=fmt_p(p),
            verdict=verdict,
        )
        out.append(para(texts, cls="answer"))
    headers = [
        t("period"),
        t("areas"),
        t("rate (%)"),
        "Moran's I",
        t("EB Moran"),
        t("LISA (uncorrected / FDR)"),
        t("Gi* hot / cold"),
        t("scan"),
    ]
    out.append(table(headers, _period_rows(section), caption=tr("areas_table")))
    periods = list((section.get("by_period") or {}).items())
    if periods:
        last, part = periods[-1]
        which = {"highest": t("highest"), "lowest": t("lowest")}
        rows = [
            [
                which[key],
                str(r.get("area")),
                str(r.get("code")),
                fmt(r.get("rate_pct"), 1),
                fmt(r.get("rate_eb_pct"), 1),
            ]
            for key in ("highest", "lowest")
            for r in part.get(key) or []
            if isinstance(r, Mapping)
        ]
        out.append(
            table(
                [
                    "",
                    t("area"),
                    t("code"),
                    t("rate (%)"),
                    t("EB rate (%)"),
                ],
                rows,
                caption=tr("areas_ranking", period=str(last)),
            )
        )
        classes = part.get("classification") or {}
        bounds = [classes.get("lower"), *(classes.get("bounds") or [])]
        if len(bounds) > 1:
            text = html_join(
                [
                    Markup("{}–{}").format(fmt(lo, 1), percent(hi, 1))
                    for lo, hi in itertools.pairwise(bounds)
                ],
                ", ",
            )
            key = str(classes.get("method"))
            method = t(_METHODS[key]) if key in _METHODS else ""
            out.append(para(tr("areas_classes", method=method, period=str(last), bounds=text)))
    changes = [c for c in section.get("changes") or [] if isinstance(c, Mapping)]
    if changes:
        rows = [
            [
                f"{c.get('start')} → {c.get('end')}",
                fmt(c.get("mean_difference_pp"), 1),
                fmt(c.get("n_lower")),
                fmt(c.get("n_higher")),
                ", ".join(f"{k} {v}" for k, v in (c.get("changes") or {}).items())
                if c.get("confidence_intervals")
                else tr("areas_no_ci"),
            ]
            for c in changes
        ]
        headers = [
            t("periods"),
            t("mean change"),
            t("areas lower"),
            t("areas higher"),
            t("95 % interval excludes 0"),
        ]
        out.append(table(headers, rows, caption=tr("areas_changes")))
    return html_join(out)
