"""Journal-style risk-factor tables built from the ``risk_factors`` section of ``results.json``.

- Table 1 (characteristics): every factor by group — n (%) per level of a
  categorical factor (% of the group), mean ± SD and median [IQR] of a
  continuous one.
- Table 2 (categorical factors): cases and controls per level with row
  percentages, the odds ratio (95 % CI) against the reference level, the
  p-value and the test used.
- Table 3 (continuous factors): correlations with the case indicator
  (point-biserial r, Spearman's rho) and the test between groups.
- Table 4 (logistic regression): adjusted odds ratios, when the model ran.

The tables are built from the JSON section only, so a saved ``results.json``
is enough to make them again. Numbers are formatted as a journal prints them
(p < 0.001 rather than 0.000); the CSV files keep the raw numbers beside them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo_stunting.outputs._safe import neutralise_frame

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = [
    "CSV_FILES",
    "decimals_for",
    "format_ci",
    "format_number",
    "format_p",
    "risk_factor_tables",
    "risk_factor_tables_csv",
]

#: File names of `risk_factor_tables_csv`, by table.
CSV_FILES = {
    "table1": "risk_factors_table1.csv",
    "table2": "risk_factors_table2.csv",
    "table3": "risk_factors_table3.csv",
    "logistic": "risk_factors_logistic.csv",
}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_p(p: Any) -> str:
    """A p-value as journals print it: ``< 0.001``, else three decimals; ``–`` when missing."""
    if not _finite(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def decimals_for(values: list[Any]) -> int:
    """Decimals that suit values of this size (1 from 10 up, 2 from 1, else 3)."""
    finite = [abs(v) for v in values if _finite(v)]
    if not finite:
        return 2
    size = sorted(finite)[len(finite) // 2]
    return 1 if size >= 10 else 2 if size >= 1 else 3


def format_number(value: Any, decimals: int = 2) -> str:
    """A number with the given decimals; ``–`` when missing."""
    return f"{value:,.{decimals}f}" if _finite(value) else "–"


def format_ci(estimate: Any, ci: Any, decimals: int = 2) -> str:
    """``2.34 (1.20–4.56)``; ``–`` when missing."""
    if not _finite(estimate):
        return "–"
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(_finite(v) for v in ci):
        return f"{estimate:.{decimals}f} ({ci[0]:.{decimals}f}–{ci[1]:.{decimals}f})"
    return f"{estimate:.{decimals}f}"


def _n_pct(n: Any, pct: Any) -> str:
    return f"{n} ({pct:.1f})" if _finite(pct) else f"{n}"


def _mean_sd(group: Mapping[str, Any], d: int) -> str:
    if not _finite(group.get("mean")):
        return "–"
    sd = group.get("sd")
    return f"{group['mean']:,.{d}f} ± {sd:,.{d}f}" if _finite(sd) else f"{group['mean']:,.{d}f}"


def _median_iqr(group: Mapping[str, Any], d: int) -> str:
    if not _finite(group.get("median")):
        return "–"
    return f"{group['median']:,.{d}f} [{group['q1']:,.{d}f}–{group['q3']:,.{d}f}]"


def _table1(factors: list[Mapping[str, Any]]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for f in factors:
        base = {"factor": f["factor"], "label": f["label"], "type": f["type"]}
        if f["type"] == "continuous":
            groups = f.get("groups", {})
            d = decimals_for([groups.get("all", {}).get("median")])
            for stat, fmt in (("mean ± SD", _mean_sd), ("median [IQR]", _median_iqr)):
                rows.append(
                    base
                    | {
                        "row": stat,
                        "all": fmt(groups.get("all", {}), d),
                        "cases": fmt(groups.get("cases", {}), d),
                        "controls": fmt(groups.get("controls", {}), d),
                    }
                )
        else:
            total = f["n"]
            rows.extend(
                base
                | {
                    "row": level["level"],
                    "all": _n_pct(level["total"], 100 * level["total"] / total if total else None),
                    "cases": _n_pct(level["cases"], level["pct_of_cases"]),
                    "controls": _n_pct(level["controls"], level["pct_of_controls"]),
                }
                for level in f["levels"]
            )
        if f.get("n_missing"):
            rows.append(
                base | {"row": "missing", "all": str(f["n_missing"]), "cases": "", "controls": ""}
            )
    return pd.DataFrame(
        rows, columns=["factor", "label", "type", "row", "all", "cases", "controls"]
    )


def _table2(factors: list[Mapping[str, Any]]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for f in factors:
        if f["type"] == "continuous":
            continue
        for pos, level in enumerate(f["levels"]):
            ci = level.get("ci95") or [None, None]
            rows.append(
                {
                    "factor": f["factor"],
                    "label": f["label"],
                    "level": level["level"],
                    "reference": level["reference"],
                    "cases_n": level["cases"],
                    "cases_row_pct": level["row_pct_cases"],
                    "controls_n": level["controls"],
                    "controls_row_pct": level["row_pct_controls"],
                    "total_n": level["total"],
                    "odds_ratio": level.get("odds_ratio"),
                    "ci95_low": ci[0],
                    "ci95_high": ci[1],
                    "or_95ci": "ref"
                    if level["reference"]
                    else format_ci(level.get("odds_ratio"), level.get("ci95"))
                    + (" (Haldane: 0.5 added to every cell)" if level.get("haldane") else ""),
                    "p_value": f["p_value"] if pos == 0 else None,
                    "p": format_p(f["p_value"]) if pos == 0 else "",
                    "test": f["test"] if pos == 0 else "",
                    "reason": f["reason"] if pos == 0 else "",
                }
            )
    columns = [
        "factor", "label", "level", "reference", "cases_n", "cases_row_pct", "controls_n",
        "controls_row_pct", "total_n", "odds_ratio", "ci95_low", "ci95_high", "or_95ci",
        "p_value", "p", "test", "reason",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _table3(factors: list[Mapping[str, Any]]) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for f in factors:
        if f["type"] != "continuous":
            continue
        groups = f.get("groups", {})
        d = decimals_for([groups.get("all", {}).get("median")])
        r = f.get("correlation_pearson") or {}
        rho = f.get("correlation_spearman") or {}
        rows.append(
            {
                "factor": f["factor"],
                "label": f["label"],
                "n": f["n"],
                "cases_mean_sd": _mean_sd(groups.get("cases", {}), d),
                "controls_mean_sd": _mean_sd(groups.get("controls", {}), d),
                "cases_median_iqr": _median_iqr(groups.get("cases", {}), d),
                "controls_median_iqr": _median_iqr(groups.get("controls", {}), d),
                "r_pointbiserial": r.get("r"),
                "r_p_value": r.get("p_value"),
                "rho_spearman": rho.get("rho"),
                "rho_p_value": rho.get("p_value"),
                "test": f["test"],
                "statistic": f["statistic"],
                "p_value": f["p_value"],
                "p": format_p(f["p_value"]),
                "reason": f["reason"],
            }
        )
    columns = [
        "factor", "label", "n", "cases_mean_sd", "controls_mean_sd", "cases_median_iqr",
        "controls_median_iqr", "r_pointbiserial", "r_p_value", "rho_spearman", "rho_p_value",
        "test", "statistic", "p_value", "p", "reason",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _logistic(model: Mapping[str, Any] | None, labels: Mapping[str, str]) -> pd.DataFrame:
    columns = [
        "term", "factor", "label", "level", "reference", "coefficient", "se", "z",
        "per", "odds_ratio", "ci95_low", "ci95_high", "aor_95ci", "p_value", "p",
    ]  # fmt: skip
    if not model or model.get("status") != "done":
        return pd.DataFrame([], columns=columns)
    references = model.get("references", {})
    rows = []
    for term in model["terms"]:
        ci = term.get("ci95") or [None, None]
        rows.append(
            {
                "term": term["term"],
                "factor": term["factor"],
                "label": labels.get(term["factor"], term["factor"]),
                "level": term["level"],
                "reference": references.get(term["factor"]),
                "coefficient": term["coefficient"],
                "se": term["se"],
                "z": term["z"],
                "per": term.get("per", 1.0),
                "odds_ratio": term["odds_ratio"],
                "ci95_low": ci[0],
                "ci95_high": ci[1],
                "aor_95ci": format_ci(term["odds_ratio"], term["ci95"]),
                "p_value": term["p_value"],
                "p": format_p(term["p_value"]),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def risk_factor_tables(section: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Tables 1–3 and the logistic table from the ``risk_factors`` section.

    Parameters
    ----------
    section
        ``results.sections["risk_factors"]`` (or the same from a saved ``results.json``).

    Returns
    -------
    dict
        ``"table1"``, ``"table2"``, ``"table3"`` and ``"logistic"`` (empty
        when no model ran) as DataFrames, one row per table row.
    """
    factors = list(section.get("factors", []))
    labels = {f["factor"]: f["label"] for f in factors}
    return {
        "table1": _table1(factors),
        "table2": _table2(factors),
        "table3": _table3(factors),
        "logistic": _logistic(section.get("logistic"), labels),
    }


def risk_factor_tables_csv(results: Results | Mapping[str, Any]) -> dict[str, str]:
    """The risk-factor tables as CSV texts, by file name.

    Parameters
    ----------
    results
        `Results` of `geo_stunting.analyze`, or its ``sections`` mapping.

    Returns
    -------
    dict
        ``risk_factors_table1.csv`` (characteristics by group),
        ``risk_factors_table2.csv`` (categorical factors: row %, OR, p, test),
        ``risk_factors_table3.csv`` (continuous factors: correlations, test) and,
        when the model ran, ``risk_factors_logistic.csv``. Empty when the step
        did not run. UTF-8 text, one line per row.
    """
    sections = results if isinstance(results, Mapping) else results.sections
    section = sections.get("risk_factors")
    if not section:
        return {}
    tables = risk_factor_tables(section)
    return {
        CSV_FILES[name]: neutralise_frame(frame).to_csv(index=False, lineterminator="\n")
        for name, frame in tables.items()
        if not (name == "logistic" and frame.empty)
    }
