"""The risk-factor part of the report: journal-style Tables 1–4 and a forest plot.

Built from ``results.sections["risk_factors"]`` only (see
`geo_stunting.risk_factors._analysis`); the same tables as CSV come from
`geo_stunting.risk_factors.risk_factor_tables_csv` and are offered in the
page as ``data:`` links.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from geo_stunting.outputs.report._html import bi, dig, figure, fmt, heading, notice, para, table
from geo_stunting.outputs.report._indonesian import indonesian
from geo_stunting.outputs.report._sections import is_significant, step_notice
from geo_stunting.outputs.report._svg import forest_plot
from geo_stunting.outputs.report._text import HALDANE_EN, HALDANE_ID, tr
from geo_stunting.risk_factors._tables import (
    decimals_for,
    format_ci,
    format_p,
    risk_factor_tables_csv,
)

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["risk_factor_html"]

Factor = Mapping[str, Any]


def _label(f: Factor) -> str:
    return escape(str(f.get("label") or f.get("factor")))


def _p_cell(p: Any) -> str:
    text = format_p(p)
    return f"<b>{text}</b>" if is_significant(p) else text


def _test_cell(f: Factor) -> str:
    return (
        f'<span title="{escape(str(f.get("reason", "")))}">{escape(str(f.get("test", "")))}</span>'
    )


def _indent(html: str) -> str:
    return f'<span class="indent">{html}</span>'


def _mean_sd(group: Mapping[str, Any], d: int) -> str:
    return f"{fmt(group.get('mean'), d)} ± {fmt(group.get('sd'), d)}"


def _median_iqr(group: Mapping[str, Any], d: int) -> str:
    return f"{fmt(group.get('median'), d)} [{fmt(group.get('q1'), d)}–{fmt(group.get('q3'), d)}]"


def _table1(factors: list[Factor], n_cases: int, n_controls: int) -> str:
    rows: list[list[Any]] = []
    for f in factors:
        rows.append([(f"<b>{_label(f)}</b>", 'colspan="4" class="group"')])
        if f.get("type") == "continuous":
            groups = f.get("groups") or {}
            d = decimals_for([dig(groups, "all", "median")])
            for words, show in (
                (("mean ± SD", "rerata ± SB"), _mean_sd),
                (("median [IQR]", "median [RAK]"), _median_iqr),
            ):
                cells = [show(groups.get(g) or {}, d) for g in ("all", "cases", "controls")]
                rows.append([_indent(bi(*words)), *cells])
        else:
            total = f.get("n") or 0
            for level in f.get("levels", []):
                share = 100 * level["total"] / total if total else None
                rows.append(
                    [
                        _indent(escape(str(level["level"]))),
                        f"{level['total']} ({fmt(share, 1)})",
                        f"{level['cases']} ({fmt(level.get('pct_of_cases'), 1)})",
                        f"{level['controls']} ({fmt(level.get('pct_of_controls'), 1)})",
                    ]
                )
        if f.get("n_missing"):
            rows.append([_indent(bi("missing", "tidak ada data")), str(f["n_missing"]), "", ""])
    n = n_cases + n_controls
    return table(
        [
            bi("Characteristic", "Karakteristik"),
            bi(f"All (n = {n})", f"Semua (n = {n})"),
            bi(f"Cases (n = {n_cases})", f"Kasus (n = {n_cases})"),
            bi(f"Controls (n = {n_controls})", f"Kontrol (n = {n_controls})"),
        ],
        rows,
        caption=bi(*tr("table1")),
        cls="journal",
    )


def _table2(factors: list[Factor]) -> str:
    rows: list[list[Any]] = []
    classes: list[str] = []
    haldane = False
    for f in factors:
        levels = f.get("levels", [])
        span = f'rowspan="{max(len(levels), 1)}"'
        for pos, level in enumerate(levels):
            odds = (
                bi("ref", "ref")
                if level.get("reference")
                else format_ci(level.get("odds_ratio"), level.get("ci95"))
            )
            if level.get("haldane") and not level.get("reference"):
                odds += " " + bi("(Haldane*)", "(Haldane*)")
                haldane = True
            row: list[Any] = [(_label(f), span)] if pos == 0 else []
            row += [
                escape(str(level["level"])),
                f"{level['cases']} ({fmt(level.get('row_pct_cases'), 1)})",
                f"{level['controls']} ({fmt(level.get('row_pct_controls'), 1)})",
                str(level["total"]),
                odds,
            ]
            if pos == 0:
                row += [(_p_cell(f.get("p_value")), span), (_test_cell(f), span)]
            rows.append(row)
            classes.append("first" if pos == 0 else "")
    return table(
        [
            bi("Factor", "Faktor"),
            bi("Level", "Kategori"),
            bi("Cases n (%)", "Kasus n (%)"),
            bi("Controls n (%)", "Kontrol n (%)"),
            "Total",
            bi("OR (95% CI)", "OR (IK 95%)"),
            bi("p", "nilai p"),
            bi("Test", "Uji"),
        ],
        rows,
        caption=bi(*tr("table2"))
        + (bi(" *" + HALDANE_EN.lstrip(" —"), " *" + HALDANE_ID.lstrip(" —")) if haldane else ""),
        cls="journal",
        row_classes=classes,
    )


def _table3(factors: list[Factor]) -> str:
    rows = []
    for f in factors:
        groups = f.get("groups") or {}
        d = decimals_for([dig(groups, "all", "median")])
        r = f.get("correlation_pearson") or {}
        rho = f.get("correlation_spearman") or {}
        rows.append(
            [
                _label(f),
                _mean_sd(groups.get("cases") or {}, d),
                _mean_sd(groups.get("controls") or {}, d),
                f"{fmt(r.get('r'), 3)} ({_p_cell(r.get('p_value'))})",
                f"{fmt(rho.get('rho'), 3)} ({_p_cell(rho.get('p_value'))})",
                _test_cell(f),
                _p_cell(f.get("p_value")),
            ]
        )
    return table(
        [
            bi("Factor", "Faktor"),
            bi("Cases mean ± SD", "Kasus rerata ± SB"),
            bi("Controls mean ± SD", "Kontrol rerata ± SB"),
            bi("Pearson r (p)", "r Pearson (p)"),
            bi("Spearman rho (p)", "rho Spearman (p)"),
            bi("Test between groups", "Uji antar kelompok"),
            "p",
        ],
        rows,
        caption=bi(*tr("table3")),
        cls="journal",
    )


def _per(per: Any) -> str:
    if not isinstance(per, int | float) or per == 1:
        return bi("per unit", "per satuan")
    return bi(f"per {per:g} units", f"per {per:g} satuan")


def _table4(model: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    if model.get("status") != "done":
        return notice(*tr("no_model", reason=str(model.get("reason", ""))))
    rows = [
        [
            escape(labels.get(t["factor"], t["factor"])),
            escape(str(t["level"])) if t.get("level") is not None else _per(t.get("per")),
            format_ci(t.get("odds_ratio"), t.get("ci95")),
            _p_cell(t.get("p_value")),
        ]
        for t in model.get("terms", [])
    ]
    caption = tr("table4", n=model.get("n"), cases=model.get("n_cases"), aic=fmt(model.get("aic")))
    out = table(
        [
            bi("Factor", "Faktor"),
            bi("Level", "Kategori"),
            bi("Adjusted OR (95% CI)", "OR terkoreksi (IK 95%)"),
            "p",
        ],
        rows,
        caption=bi(*caption),
        cls="journal",
    )
    return out + "".join(notice(str(w), indonesian(str(w))) for w in model.get("warnings", []))


def _forest(factors: list[Factor]) -> str:
    rows = [
        (f"{f.get('label')}: {lv['level']}", lv["odds_ratio"], lv["ci95"][0], lv["ci95"][1])
        for f in factors
        for lv in f.get("levels", [])
        if isinstance(lv.get("odds_ratio"), int | float)
        and isinstance(lv.get("ci95"), list)
        and len(lv["ci95"]) == 2
        and all(isinstance(v, int | float) for v in lv["ci95"])
    ]
    if not rows:
        return ""
    plot = forest_plot(rows, xlabel=tr("forest_axis"), title=("Odds ratios", "Rasio odds"))
    return figure(plot, *tr("forest"))


def _csv_links(results: Results) -> str:
    links = []
    for name, text in risk_factor_tables_csv(results).items():
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        links.append(
            f'<a download="{escape(name)}" href="data:text/csv;charset=utf-8;base64,{data}">'
            f"{escape(name)}</a>"
        )
    return '<p class="csv">CSV: ' + " · ".join(links) + "</p>" if links else ""


def risk_factor_html(results: Results) -> str:
    """Tables 1–4, a forest plot of odds ratios, and a summary in plain words."""
    out = [heading(2, "risk-factors", "Risk factors", "Faktor risiko")]
    section = results.sections.get("risk_factors")
    missing = step_notice(results, "risk_factors")
    if missing is not None or not isinstance(section, Mapping):
        return out[0] + (missing or "")
    factors = [f for f in section.get("factors", []) if isinstance(f, Mapping)]
    significant = [str(f.get("label")) for f in factors if is_significant(f.get("p_value"))]
    answer = tr(
        "rf_answer", k=len(significant), n=len(factors), names=", ".join(significant) or "–"
    )
    out.append(para(*answer, cls="answer"))
    if str(section.get("source", "")).startswith("inferred"):
        out.append(notice(*tr("rf_inferred")))
    n_cases, n_controls = int(section.get("n_cases", 0)), int(section.get("n_controls", 0))
    out.append(_table1(factors, n_cases, n_controls))
    categorical = [f for f in factors if f.get("type") != "continuous"]
    continuous = [f for f in factors if f.get("type") == "continuous"]
    if categorical:
        out += [_table2(categorical), _forest(categorical)]
    if continuous:
        out.append(_table3(continuous))
    model = section.get("logistic")
    if isinstance(model, Mapping):
        out.append(_table4(model, {f["factor"]: f["label"] for f in factors}))
    joined = section.get("respondents")
    if isinstance(joined, Mapping):
        texts = tr(
            "respondents",
            path=joined.get("path"),
            joined=joined.get("n_joined"),
            rows=joined.get("n_rows"),
            orphans=len(joined.get("respondents_without_subject", [])),
            missing=len(joined.get("subjects_without_respondent", [])),
        )
        out.append(para(*texts))
    notes = section.get("notes") or []
    if notes:
        items = "".join(f"<li>{escape(str(n))}</li>" for n in notes)
        out.append(
            f"<details><summary>{bi('Notes', 'Catatan')} ({len(notes)})</summary>"
            f'<ul class="notes">{items}</ul></details>'
        )
    out.append(_csv_links(results))
    return "".join(out)
