"""The risk-factor part of the report: journal-style Tables 1–4 and a forest plot.

Built from ``results.sections["risk_factors"]`` only (see
`geo_stunting.risk_factors._analysis`); the same tables as CSV come from
`geo_stunting.risk_factors.risk_factor_tables_csv` and are offered in the
page as ``data:`` links.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from geo_stunting.outputs.report._analysis_text import analysis
from geo_stunting.outputs.report._html import (
    cell,
    details,
    dig,
    figure,
    fmt,
    fmt_p,
    heading,
    html_join,
    macro,
    notice,
    para,
    table,
)
from geo_stunting.outputs.report._i18n import Text, t
from geo_stunting.outputs.report._sections import is_significant, step_notice
from geo_stunting.outputs.report._svg import forest_plot
from geo_stunting.outputs.report._text import HALDANE, tr
from geo_stunting.risk_factors._tables import decimals_for, risk_factor_tables_csv

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["risk_factor_html"]

Factor = Mapping[str, Any]


def _label(f: Factor) -> str:
    return str(f.get("label") or f.get("factor"))


def _p_cell(p: Any) -> Markup:
    text = fmt_p(p, prefix=False)
    return Markup("<b>{}</b>").format(text) if is_significant(p) else escape(text)


def _test_cell(f: Factor) -> Markup:
    """The test's name; pointing at it shows why it was chosen, in the reader's language."""
    reason = analysis(f.get("reason", ""))
    return html_join(
        Markup('<span class="{}" title="{}">{}</span>').format(code, text, f.get("test", ""))
        if code
        else Markup('<span title="{}">{}</span>').format(text, f.get("test", ""))
        for code, text in reason.parts()
    )


def _indent(html: Any) -> Markup:
    return Markup('<span class="indent">{}</span>').format(html)


def _mean_sd(group: Mapping[str, Any], d: int) -> Markup:
    return Markup("{} ± {}").format(fmt(group.get("mean"), d), fmt(group.get("sd"), d))


def _median_iqr(group: Mapping[str, Any], d: int) -> Markup:
    return Markup("{} [{}–{}]").format(
        fmt(group.get("median"), d), fmt(group.get("q1"), d), fmt(group.get("q3"), d)
    )


def _n_pct(n: Any, share: Any) -> Markup:
    return Markup("{} ({})").format(fmt(n), fmt(share, 1))


def _ci(estimate: Any, ci: Any, decimals: int = 2) -> Markup | Text:
    """``2.34 (1.20–4.56)`` in the locale; ``–`` when missing."""
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return fmt(estimate, decimals)
    low, high = fmt(ci[0], decimals), fmt(ci[1], decimals)
    if str(low) == "–" or str(high) == "–" or str(fmt(estimate)) == "–":
        return fmt(estimate, decimals)
    return Markup("{} ({}–{})").format(fmt(estimate, decimals), low, high)


def _table1(factors: list[Factor], n_cases: int, n_controls: int) -> Markup:
    rows: list[list[Any]] = []
    for f in factors:
        rows.append([cell(Markup("<b>{}</b>").format(_label(f)), colspan=4, class_="group")])
        if f.get("type") == "continuous":
            groups = f.get("groups") or {}
            d = decimals_for([dig(groups, "all", "median")])
            for words, show in (
                (t("mean ± SD"), _mean_sd),
                (t("median [IQR]"), _median_iqr),
            ):
                cells = [show(groups.get(g) or {}, d) for g in ("all", "cases", "controls")]
                rows.append([_indent(words), *cells])
        else:
            total = f.get("n") or 0
            for level in f.get("levels", []):
                share = 100 * level["total"] / total if total else None
                rows.append(
                    [
                        _indent(str(level["level"])),
                        _n_pct(level["total"], share),
                        _n_pct(level["cases"], level.get("pct_of_cases")),
                        _n_pct(level["controls"], level.get("pct_of_controls")),
                    ]
                )
        if f.get("n_missing"):
            rows.append([_indent(t("missing")), fmt(f["n_missing"]), "", ""])
    n = n_cases + n_controls
    return table(
        [
            t("Characteristic"),
            t("All (n = {n})", n=fmt(n)),
            t("Cases (n = {n})", n=fmt(n_cases)),
            t("Controls (n = {n})", n=fmt(n_controls)),
        ],
        rows,
        caption=tr("table1"),
        cls="journal",
    )


def _table2(factors: list[Factor]) -> Markup:
    rows: list[list[Any]] = []
    classes: list[str] = []
    haldane = False
    for f in factors:
        levels = f.get("levels", [])
        span = max(len(levels), 1)
        for pos, level in enumerate(levels):
            odds: Any = (
                t("ref")
                if level.get("reference")
                else _ci(level.get("odds_ratio"), level.get("ci95"))
            )
            if level.get("haldane") and not level.get("reference"):
                odds = Markup("{} (Haldane*)").format(odds)
                haldane = True
            row: list[Any] = [cell(_label(f), rowspan=span)] if pos == 0 else []
            row += [
                str(level["level"]),
                _n_pct(level["cases"], level.get("row_pct_cases")),
                _n_pct(level["controls"], level.get("row_pct_controls")),
                fmt(level["total"]),
                odds,
            ]
            if pos == 0:
                row += [
                    cell(_p_cell(f.get("p_value")), rowspan=span),
                    cell(_test_cell(f), rowspan=span),
                ]
            rows.append(row)
            classes.append("first" if pos == 0 else "")
    return table(
        [
            t("Factor"),
            t("Level"),
            t("Cases n (%)"),
            t("Controls n (%)"),
            t("Total"),
            t("OR (95% CI)"),
            t("p"),
            t("Test"),
        ],
        rows,
        caption=tr("table2") + (" *" + t(HALDANE) if haldane else ""),
        cls="journal",
        row_classes=classes,
    )


def _table3(factors: list[Factor]) -> Markup:
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
                Markup("{} ({})").format(fmt(r.get("r"), 3), _p_cell(r.get("p_value"))),
                Markup("{} ({})").format(fmt(rho.get("rho"), 3), _p_cell(rho.get("p_value"))),
                _test_cell(f),
                _p_cell(f.get("p_value")),
            ]
        )
    return table(
        [
            t("Factor"),
            t("Cases mean ± SD"),
            t("Controls mean ± SD"),
            t("Pearson r (p)"),
            t("Spearman rho (p)"),
            t("Test between groups"),
            "p",
        ],
        rows,
        caption=tr("table3"),
        cls="journal",
    )


def _per(per: Any) -> Text:
    if not isinstance(per, int | float) or per == 1:
        return t("per unit")
    return t("per {n} units", n=fmt(per, 0) if float(per).is_integer() else fmt(per, 2))


def _table4(model: Mapping[str, Any], labels: Mapping[str, str]) -> Markup:
    if model.get("status") != "done":
        return notice(tr("no_model", reason=analysis(model.get("reason", ""))))
    rows = [
        [
            labels.get(term["factor"], term["factor"]),
            str(term["level"]) if term.get("level") is not None else _per(term.get("per")),
            _ci(term.get("odds_ratio"), term.get("ci95")),
            _p_cell(term.get("p_value")),
        ]
        for term in model.get("terms", [])
    ]
    caption = tr(
        "table4", n=fmt(model.get("n")), cases=fmt(model.get("n_cases")), aic=fmt(model.get("aic"))
    )
    out = table(
        [
            t("Factor"),
            t("Level"),
            t("Adjusted OR (95% CI)"),
            "p",
        ],
        rows,
        caption=caption,
        cls="journal",
    )
    return out + html_join([notice(analysis(w)) for w in model.get("warnings", [])])


def _forest(factors: list[Factor]) -> Markup:
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
        return Markup("")
    plot = forest_plot(rows, xlabel=tr("forest_axis"), title=t("Odds ratios"))
    return figure(plot, tr("forest"))


def _csv_links(results: Results) -> Markup:
    links = [
        (name, base64.b64encode(text.encode("utf-8")).decode("ascii"))
        for name, text in risk_factor_tables_csv(results).items()
    ]
    return macro("csv_links", links)


def risk_factor_html(results: Results) -> Markup:
    """Tables 1–4, a forest plot of odds ratios, and a summary in plain words."""
    out = [heading(2, "risk-factors", t("Risk factors"))]
    section = results.sections.get("risk_factors")
    missing = step_notice(results, "risk_factors")
    if missing is not None or not isinstance(section, Mapping):
        return out[0] + (missing or "")
    factors = [f for f in section.get("factors", []) if isinstance(f, Mapping)]
    significant = [str(f.get("label")) for f in factors if is_significant(f.get("p_value"))]
    answer = tr(
        "rf_answer",
        k=fmt(len(significant)),
        n=fmt(len(factors)),
        names=", ".join(significant) or "–",
    )
    out.append(para(answer, cls="answer"))
    if str(section.get("source", "")).startswith("inferred"):
        out.append(notice(tr("rf_inferred")))
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
            path=str(joined.get("path")),
            joined=fmt(joined.get("n_joined")),
            rows=fmt(joined.get("n_rows")),
            orphans=fmt(len(joined.get("respondents_without_subject", []))),
            missing=fmt(len(joined.get("subjects_without_respondent", []))),
        )
        out.append(para(texts))
    notes = section.get("notes") or []
    if notes:
        out.append(details(t("Notes ({n})", n=fmt(len(notes))), [analysis(n) for n in notes]))
    out.append(_csv_links(results))
    return html_join(out)
