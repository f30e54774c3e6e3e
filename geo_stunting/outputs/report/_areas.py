"""The report's section on area-level rates (the ``areas`` step), in English and Indonesian."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from geo_stunting.outputs.report._html import bi, dig, fmt, fmt_p, heading, notice, para, table
from geo_stunting.outputs.report._sections import is_significant, step_notice
from geo_stunting.outputs.report._text import tr

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["areas_section"]

_METHODS = {
    "quantiles": ("quantiles", "kuantil"),
    "equal_interval": ("equal intervals", "interval sama"),
    "fisher_jenks": ("natural breaks (Fisher–Jenks)", "pemisah alami (Fisher–Jenks)"),
}


def _lisa(counts: Any) -> str:
    if not isinstance(counts, Mapping):
        return "–"
    return " ".join(f"{k} {counts.get(k, 0)}" for k in ("HH", "LL", "LH", "HL"))


def _scan_cell(scan: Any) -> str:
    if not isinstance(scan, Mapping) or scan.get("status") != "done":
        return bi("not run", "tidak dijalankan")
    clusters = scan.get("clusters") or []
    if not clusters:
        return bi("no cluster", "tidak ada klaster")
    top = clusters[0]
    size = len(top.get("areas") or [])
    rr = fmt(top.get("relative_risk"))
    return f"{size} {bi('areas', 'wilayah')}, RR {rr}, {fmt_p(top.get('p'))}"


def _period_rows(section: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for period, part in (section.get("by_period") or {}).items():
        if not isinstance(part, Mapping):
            continue
        moran = part.get("moran") or {}
        eb = part.get("eb_moran") or {}
        gi = part.get("gi_star") or {}
        rows.append(
            [
                escape(str(period)),
                fmt(part.get("n_areas")),
                f"{fmt(part.get('rate_min_pct'), 1)}–{fmt(part.get('rate_max_pct'), 1)}",
                f"{fmt(moran.get('I'), 3)} ({fmt_p(moran.get('p_sim'))})",
                f"{fmt(eb.get('I'), 3)} ({fmt_p(eb.get('p_sim'))})" if eb else "–",
                f"{_lisa(part.get('lisa'))} / {_lisa(part.get('lisa_fdr'))}",
                f"{fmt(gi.get('n_hot_p05'))} / {fmt(gi.get('n_cold_p05'))}",
                _scan_cell(part.get("scan")),
            ]
        )
    return rows


def areas_section(results: Results) -> str:
    """HTML of the area-level section: what the data can support, then the results."""
    out = [heading(2, "areas", "Area-level rates", "Angka per wilayah")]
    missing = step_notice(results, "areas")
    section = results.sections.get("areas")
    if missing is not None or not isinstance(section, Mapping):
        return out[0] + (missing or "")
    n = section.get("n_areas")
    mode = section.get("mode")
    intro = {"counts": "areas_intro_counts", "aggregate": "areas_intro_aggregate"}.get(
        str(mode), "areas_intro_prevalence"
    )
    out.append(para(*tr(intro, n=fmt(n))))
    if mode == "aggregate":
        out.append(notice(*tr("areas_case_control")))
    if not section.get("has_counts"):
        out.append(notice(*tr("areas_prevalence_only")))
    if isinstance(n, int) and n < 30:
        out.append(para(*tr("areas_few", n=n)))
    weights = section.get("weights") or {}
    out.append(
        para(
            *tr(
                "areas_weights",
                rule=str(weights.get("rule", "")),
                links=fmt(weights.get("n_links")),
                islands=fmt(len(weights.get("islands") or [])),
                components=fmt(weights.get("n_components")),
            )
        )
    )
    for period, part in (section.get("by_period") or {}).items():
        p = dig(part, "moran", "p_sim")
        verdict = tr("areas_alike" if is_significant(p) else "areas_not_alike")
        texts = tr(
            "areas_moran",
            period=("Rates", "Angka") if period == "all" else str(period),
            I=fmt(dig(part, "moran", "I"), 3),
            p=fmt_p(p),
            verdict=verdict,
        )
        out.append(para(*texts, cls="answer"))
    headers = [
        bi("period", "periode"),
        bi("areas", "wilayah"),
        bi("rate (%)", "angka (%)"),
        "Moran's I",
        bi("EB Moran", "Moran EB"),
        bi("LISA (uncorrected / FDR)", "LISA (tanpa koreksi / FDR)"),
        bi("Gi* hot / cold", "Gi* panas / dingin"),
        bi("scan", "pemindaian"),
    ]
    out.append(table(headers, _period_rows(section), caption=bi(*tr("areas_table"))))
    periods = list((section.get("by_period") or {}).items())
    if periods:
        last, part = periods[-1]
        which = {"highest": bi("highest", "tertinggi"), "lowest": bi("lowest", "terendah")}
        rows = [
            [
                which[key],
                escape(str(r.get("area"))),
                escape(str(r.get("code"))),
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
                    bi("area", "wilayah"),
                    bi("code", "kode"),
                    bi("rate (%)", "angka (%)"),
                    bi("EB rate (%)", "angka EB (%)"),
                ],
                rows,
                caption=bi(*tr("areas_ranking", period=str(last))),
            )
        )
        classes = part.get("classification") or {}
        bounds = [classes.get("lower"), *(classes.get("bounds") or [])]
        if len(bounds) > 1:
            text = ", ".join(
                f"{fmt(lo, 1)}–{fmt(hi, 1)} %" for lo, hi in itertools.pairwise(bounds)
            )
            method = _METHODS.get(str(classes.get("method")), ("", ""))
            out.append(para(*tr("areas_classes", method=method, period=str(last), bounds=text)))
    changes = [c for c in section.get("changes") or [] if isinstance(c, Mapping)]
    if changes:
        rows = [
            [
                f"{escape(str(c.get('start')))} → {escape(str(c.get('end')))}",
                fmt(c.get("mean_difference_pp"), 1),
                fmt(c.get("n_lower")),
                fmt(c.get("n_higher")),
                escape(", ".join(f"{k} {v}" for k, v in (c.get("changes") or {}).items()))
                if c.get("confidence_intervals")
                else bi(*tr("areas_no_ci")),
            ]
            for c in changes
        ]
        headers = [
            bi("periods", "periode"),
            bi("mean change", "rata-rata perubahan"),
            bi("areas lower", "wilayah turun"),
            bi("areas higher", "wilayah naik"),
            bi("95 % interval excludes 0", "selang 95 % tidak memuat 0"),
        ]
        out.append(table(headers, rows, caption=bi(*tr("areas_changes"))))
    return "".join(out)
