"""The ``areas`` step: rates, Moran, EB Moran, LISA, Gi*, Poisson scan and change, per period.

On an area study (``[area]`` + ``[areas]`` with counts or prevalence) it
analyses the table; on a point study it first counts cases and subjects per
``[area]`` polygon. Case-control sampling chooses how many controls there are
per case, so cases / subjects per village is not a prevalence: it shows where
the study's cases are relative to its controls, not how common stunting is.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from libpysal.graph import Graph
from libpysal.weights import W

from geo_stunting.access import locate_in_areas
from geo_stunting.areas._autocorrelation import (
    ISOLATE,
    NOT_SIGNIFICANT,
    eb_moran,
    eb_standardise,
    getis_ord_rates,
    local_moran_rates,
    moran_rates,
)
from geo_stunting.areas._classes import bin_values, equal_interval_bins, quantile_bins
from geo_stunting.areas._groups import group_areas, groups_from_columns
from geo_stunting.areas._io import AreaData, join_areas
from geo_stunting.areas._periods import rate_differences
from geo_stunting.areas._rates import area_rates
from geo_stunting.areas._scan import scan_poisson
from geo_stunting.areas._spec import AreasSpec
from geo_stunting.areas._weights import AreaWeights, area_weights, weights_from_graph
from geo_stunting.errors import AnalysisError, Problem, StepSkippedError
from geo_stunting.pipeline import StepOutput, register_step
from geo_stunting.study._study import Study

__all__ = [
    "LABEL_ORDER",
    "aggregate_points",
    "analyze_areas",
    "areas_step",
    "class_labels",
    "classify",
]

log = logging.getLogger(__name__)

LABEL_ORDER = ("HH", "LL", "LH", "HL", NOT_SIGNIFICANT, ISOLATE)
#: Classifications computed in NumPy (`_classes`); Fisher–Jenks comes from mapclassify.
_BINS = {"quantiles": quantile_bins, "equal_interval": equal_interval_bins}
PREVALENCE_ONLY = (
    "Only percentages were given, without the number of children measured. They support "
    "a map of the published figures, a ranking, and Moran's I / LISA / Gi* as a description "
    "of how the figures are arranged in space. They cannot support empirical-Bayes "
    "smoothing, the EB Moran index, the Poisson probability map, the scan, or a confidence "
    "interval for any area or any change: without sample sizes nothing separates a real "
    "difference from sampling noise, and a small district's figure may be far off."
)
CASE_CONTROL = (
    "Counts come from a case-control study aggregated to its polygons: 'rate' is cases / "
    "subjects (cases + controls) per area. The number of controls per case is fixed by the "
    "design, so this is not a prevalence; high values mean more of the study's cases than "
    "its controls live there."
)


def classify(values: np.ndarray, *, method: str = "quantiles", classes: int = 5) -> dict[str, Any]:
    """Choropleth classes of `values` with mapclassify: upper bounds and the class of each value.

    Examples
    --------
    >>> classify(np.array([1.0, 2, 3, 4, 5, 6]), method="equal_interval", classes=2)["bounds"]
    [3.5, 6.0]
    """
    finite = np.asarray(values, dtype=float).flatten()
    k = max(1, min(classes, len(np.unique(finite))))
    if method in _BINS:
        bins = _BINS[method](finite, k)
        class_of, counts = bin_values(finite, bins)
    elif method == "fisher_jenks":
        import mapclassify  # noqa: PLC0415 - compiles Fisher–Jenks with numba on import

        classifier = mapclassify.FisherJenks(finite, k=k)
        bins, counts, class_of = classifier.bins, classifier.counts, classifier.yb
    else:
        raise AnalysisError(
            Problem(
                f"unknown classification {method!r}",
                fix=f"use one of {[*_BINS, 'fisher_jenks']}",
            )
        )
    return {
        "method": method,
        "classes": int(k),
        "lower": float(finite.min()),
        "bounds": [float(b) for b in bins],
        "counts": [int(c) for c in counts],
        "class_of": [int(v) for v in class_of],
    }


def aggregate_points(study: Study, *, code: str | None = None) -> AreaData:
    """Count cases and subjects (cases + controls) per ``[area]`` polygon.

    Parameters
    ----------
    study
        A point study with ``[area]`` polygons.
    code
        Column of `study.area` naming each polygon (its ``name`` when ``None``).

    Returns
    -------
    AreaData
        ``cases`` and ``population`` (= subjects) per polygon with at least one
        subject; polygons without subjects are listed in ``rejects``.
    """
    if study.area is None:
        raise AnalysisError(
            Problem("counting points per area needs [area] polygons", fix="add an [area] section")
        )
    area = study.area.copy()
    column = code if code is not None and code in area else "name"
    labels = area[column].astype(str)
    if labels.duplicated().any():
        labels = labels + " (" + area["source_row"].astype(str) + ")"
    area["__code__"] = labels.to_numpy()
    # the polygon each subject is in (on a shared boundary the first; kept just outside the
    # area, [area] outside_m: the nearest), as the access step counts them
    position = locate_in_areas(study.subjects, area).to_numpy()
    placed = position >= 0
    joined = pd.DataFrame(
        {
            "__code__": area["__code__"].to_numpy()[position[placed]],
            "status": study.subjects["status"].to_numpy()[placed],
        }
    )
    counts = joined.groupby("__code__")["status"].agg(
        cases=lambda s: int((s == "case").sum()), population="size"
    )
    table = pd.DataFrame(
        {
            "__code__": area["__code__"],
            "cases": area["__code__"].map(counts["cases"]).fillna(0).astype(int).astype(str),
            "population": area["__code__"]
            .map(counts["population"])
            .fillna(0)
            .astype(int)
            .astype(str),
        }
    )
    table = table[table["population"] != "0"]
    data = join_areas(area, table, code="__code__", cases="cases", population="population")
    return AreaData(
        polygons=data.polygons,
        values=data.values,
        periods=data.periods,
        mode="aggregate",
        has_counts=True,
        rejects=data.rejects.assign(reason="no case or control inside this polygon"),
        rows_read=data.rows_read,
    )


def _period_layer(
    data: AreaData,
    period: str,
    weights: AreaWeights,
    spec: AreasSpec,
    permutations: int,
    seeds: np.ndarray,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    frame = data.period_frame(period).reset_index(drop=True)
    section: dict[str, Any] = {"n_areas": len(frame)}
    if data.has_counts:
        frame = area_rates(frame, neighbours=weights.matrix)
        eb = eb_standardise(frame["cases"].to_numpy(), frame["population"].to_numpy())
        frame["eb_z"] = eb
        lisa_values, lisa_variable = eb, "EB-standardised rate (Assunção–Reis)"
        section["cases"] = float(frame["cases"].sum())
        section["population"] = float(frame["population"].sum())
        section["overall_rate_pct"] = 100 * section["cases"] / section["population"]
    else:
        frame["rate"] = frame["prevalence_pct"]
        lisa_values, lisa_variable = frame["rate"].to_numpy(), "prevalence (%)"
    rates = frame["rate"].to_numpy()
    section["rate_min_pct"] = float(rates.min())
    section["rate_max_pct"] = float(rates.max())
    section["rate_mean_pct"] = float(rates.mean())
    section["highest"] = _top(frame, ascending=False)
    section["lowest"] = _top(frame, ascending=True)
    section["eb"] = None
    if data.has_counts:
        section["eb"] = {
            "overall_rate_pct": 100 * float(frame["cases"].sum() / frame["population"].sum()),
            "n_p_high_05": int((frame["p_high"] <= 0.05).sum()),
            "n_p_low_05": int((frame["p_low"] <= 0.05).sum()),
        }
    try:
        _spatial(frame, section, data, weights, lisa_values, permutations, seeds)
    except AnalysisError as exc:  # too few areas, or the same rate everywhere
        section.update(
            {"moran": None, "eb_moran": None, "lisa": None, "lisa_fdr": None, "gi_star": None}
        )
        section["autocorrelation_skipped"] = str(exc)
    section["lisa_variable"] = lisa_variable
    section["scan"] = _scan(frame, data, spec, permutations, int(seeds[3]))
    classes = classify(rates, method=spec.classification, classes=spec.classes)
    frame["rate_class"] = np.asarray(classes.pop("class_of")) + 1
    frame["rate_class_label"] = class_labels(classes, frame["rate_class"].to_numpy())
    section["classification"] = classes
    # rows in class order: the map's legend lists classes as they first appear
    frame = frame.sort_values(["rate_class", "rate"], kind="stable").reset_index(drop=True)
    return frame, section


def class_labels(classes: dict[str, Any], class_of: np.ndarray) -> list[str]:
    """``"i/k · low–high %"`` for each area: its class and the class's bounds.

    Examples
    --------
    >>> c = classify(np.array([1.0, 2, 3, 4]), method="equal_interval", classes=2)
    >>> class_labels(c, np.array([1, 2]))
    ['1/2 · 1.0–2.5 %', '2/2 · 2.5–4.0 %']
    """
    bounds = [classes["lower"], *classes["bounds"]]
    k = classes["classes"]
    return [f"{i}/{k} · {bounds[i - 1]:.1f}–{bounds[i]:.1f} %" for i in class_of]


def _spatial(
    frame: gpd.GeoDataFrame,
    section: dict[str, Any],
    data: AreaData,
    weights: AreaWeights,
    lisa_values: np.ndarray,
    permutations: int,
    seeds: np.ndarray,
) -> None:
    """Moran's I, the EB Moran index, LISA and Gi* of one period, into `section` and `frame`."""
    rates = frame["rate"].to_numpy()
    section["moran"] = moran_rates(
        rates,
        weights=weights,
        permutations=permutations,
        seed=int(seeds[0]),
        variable="crude rate (%)" if data.has_counts else "prevalence (%)",
    ).to_dict()
    if data.has_counts:
        section["eb_moran"] = eb_moran(
            frame["cases"].to_numpy(),
            frame["population"].to_numpy(),
            weights=weights,
            permutations=permutations,
            seed=int(seeds[1]),
        ).to_dict()
    else:
        section["eb_moran"] = None
    lisa = local_moran_rates(
        lisa_values, weights=weights, permutations=permutations, seed=int(seeds[2])
    )
    gi = getis_ord_rates(rates, weights=weights)
    for column in lisa.columns:  # every statistic computed: now the layer gets them
        frame[column] = lisa[column].to_numpy()
    for column in gi.columns:
        frame[column] = gi[column].to_numpy()
    section["lisa"] = _counts(frame["lisa_label"])
    section["lisa_fdr"] = _counts(frame["lisa_label_fdr"])
    section["lisa_alpha"] = 0.05
    section["lisa_alternative"] = (
        "two-sided: twice the nearer tail of the conditional permutations, capped at 1 "
        "(the rule of every local test in geo_stunting); labels after FDR in lisa_fdr"
    )
    section["gi_star"] = {
        "n_hot_p05": int(((gi["gi_star_z"] > 0) & (gi["gi_star_p"] <= 0.05)).sum()),
        "n_cold_p05": int(((gi["gi_star_z"] < 0) & (gi["gi_star_p"] <= 0.05)).sum()),
        "alternative": "two-sided",
        "corrected": False,
    }


def _scan(
    frame: gpd.GeoDataFrame, data: AreaData, spec: AreasSpec, permutations: int, seed: int
) -> dict[str, Any]:
    if not spec.scan:
        return {"status": "skipped", "reason": "scan = false in [areas]"}
    if not data.has_counts:
        return {"status": "skipped", "reason": "the scan needs counts (sample sizes) per area"}
    if len(frame) > 3000:
        return {"status": "skipped", "reason": f"{len(frame)} areas: the scan is limited to 3,000"}
    result = scan_poisson(
        frame,
        id_column="code",
        max_share=spec.max_share,
        replicates=permutations,
        seed=seed,
        report_p=0.05,
    )
    members = {code: i + 1 for i, c in enumerate(result.clusters) for code in c.areas}
    frame["scan_cluster"] = frame["code"].map(members).fillna(0).astype(int)
    return {"status": "done", **result.to_dict()}


def _top(frame: pd.DataFrame, *, ascending: bool) -> list[dict[str, Any]]:
    rows = frame.sort_values("rate", ascending=ascending).head(3)
    smoothed = rows["rate_eb"] if "rate_eb" in rows else pd.Series(np.nan, index=rows.index)
    return [
        {"area": str(name), "code": str(code), "rate_pct": float(rate), "rate_eb_pct": float(eb)}
        for name, code, rate, eb in zip(
            rows["area_name"], rows["code"], rows["rate"], smoothed, strict=True
        )
    ]


def _counts(labels: pd.Series) -> dict[str, int]:
    found = labels.value_counts()
    return {label: int(found.get(label, 0)) for label in LABEL_ORDER}


def _layer_name(period: str) -> str:
    return f"areas_{period}" if period else "areas"


def analyze_areas(
    data: AreaData,
    *,
    spec: AreasSpec,
    permutations: int = 999,
    seed: int = 0,
    weights: AreaWeights | Graph | W | None = None,
) -> tuple[dict[str, Any], dict[str, gpd.GeoDataFrame]]:
    """Analyse joined area data period by period; return the section and the layers.

    Parameters
    ----------
    data
        From `join_areas` or `aggregate_points`.
    spec
        Weights, classification and scan options.
    permutations, seed
        Monte Carlo replicates of every test, and their seed.
    weights
        Neighbours built elsewhere (a libpysal ``Graph`` or ``W`` in the order
        of ``data.polygons``); by default built from ``spec.weights``.
    """
    if weights is None:
        weights = area_weights(data.polygons, rule=spec.weights, island_knn=spec.island_knn)
    elif not isinstance(weights, AreaWeights):
        weights = weights_from_graph(weights, ids=list(data.polygons["area_code"]))
    if weights.matrix.shape[0] != len(data.polygons):
        raise AnalysisError(
            Problem(
                f"the weights are for {len(weights.ids)} areas, the data have {len(data.polygons)}",
                fix="build the graph on data.polygons, in its order",
            )
        )
    seeds = np.random.SeedSequence(seed).generate_state(4 * max(1, len(data.periods)))
    layers: dict[str, gpd.GeoDataFrame] = {}
    by_period: dict[str, Any] = {}
    for i, period in enumerate(data.periods):
        frame, section = _period_layer(
            data, period, weights, spec, permutations, seeds[4 * i : 4 * i + 4]
        )
        frame["period"] = period
        layers[_layer_name(period)] = frame
        by_period[period or "all"] = section
    changes = []
    for start, end in zip(data.periods, data.periods[1:], strict=False):
        diff = rate_differences(data, start=start, end=end)
        merged = data.polygons.merge(diff, on="area_code")
        layers[f"areas_change_{start}_{end}"] = merged
        changes.append(
            {
                "start": start,
                "end": end,
                "n_areas": len(diff),
                "mean_difference_pp": float(diff["difference_pp"].mean()),
                "n_lower": int((diff["difference_pp"] < 0).sum()),
                "n_higher": int((diff["difference_pp"] > 0).sum()),
                "confidence_intervals": bool(np.isfinite(diff["ci_low_pp"]).all()),
                "changes": {k: int(v) for k, v in diff["change"].value_counts().items()},
            }
        )
    caveats = []
    if data.mode == "aggregate":
        caveats.append(CASE_CONTROL)
    if not data.has_counts:
        caveats.append(PREVALENCE_ONLY)
    if data.name_mismatches:
        shown = "; ".join(
            f"{m['code']}: {m['table']!r} vs {m['polygon']!r}" for m in data.name_mismatches[:5]
        )
        caveats.append(
            f"{len(data.name_mismatches)} row(s) of the table name another area than the polygon "
            f"with the same code ({shown}): the table and the polygons may use different coding "
            "systems (BPS and Kemendagri differ for some regencies). Check before reading on."
        )
    if len(data.polygons) < 30:
        caveats.append(
            f"With {len(data.polygons)} areas, Moran's I and LISA have little power: a "
            "non-significant result does not show the absence of clustering."
        )
    section = {
        "mode": data.mode,
        "has_counts": data.has_counts,
        "rate_unit": "percent",
        "n_areas": len(data.polygons),
        "periods": [p or "all" for p in data.periods],
        "weights": weights.to_dict(),
        "by_period": by_period,
        "changes": changes,
        "n_rejected": len(data.rejects),
        "name_mismatches": list(data.name_mismatches),
        "caveats": caveats,
        "permutations": permutations,
        "seed": seed,
    }
    section["summary"] = _summary(section)
    return section, layers


def _summary(section: dict[str, Any]) -> list[str]:
    lines = []
    for period, part in section["by_period"].items():
        m = part["moran"]
        label = "" if period == "all" else f"{period}: "
        if m is None:
            lines.append(
                f"{label}{'r' if label else 'R'}ates range from {part['rate_min_pct']:.1f} % to "
                f"{part['rate_max_pct']:.1f} %; no Moran's I or LISA: "
                f"{part.get('autocorrelation_skipped', '')}"
            )
            continue
        alike = m["p_sim"] is not None and m["p_sim"] <= 0.05
        verdict = "more alike than chance" if alike else "no more alike than chance"
        lines.append(
            f"{label}{'r' if label else 'R'}ates range from {part['rate_min_pct']:.1f} % to "
            f"{part['rate_max_pct']:.1f} %; Moran's I = {m['I']:.3f} (permutation p = "
            f"{m['p_sim']:.3f}, one-sided, greater): neighbouring areas are {verdict} would "
            f"make them; {part['lisa']['HH']} area(s) in a high-high LISA cluster before "
            f"correction, {part['lisa_fdr']['HH']} after FDR."
        )
        scan = part.get("scan") or {}
        if scan.get("status") == "done" and scan.get("clusters"):
            top = scan["clusters"][0]
            lines.append(
                f"{label}{'m' if label else 'M'}ost likely Poisson scan cluster: "
                f"{len(top['areas'])} area(s) around {top['centre']}, {top['cases']:.0f} cases "
                f"where {top['expected']:.1f} were expected (relative risk "
                f"{top['relative_risk']:.2f}; Monte Carlo p = {top['p']:.3f})."
            )
    no_ci = " (no confidence intervals: no sample sizes)"
    lines.extend(
        f"{change['start']} → {change['end']}: mean change "
        f"{change['mean_difference_pp']:+.1f} percentage points; {change['n_lower']} area(s) "
        f"lower, {change['n_higher']} higher{'' if change['confidence_intervals'] else no_ci}."
        for change in section["changes"]
    )
    return lines


@register_step("areas", title="Area rates: EB, Moran, LISA, Gi*, Poisson scan", needs={"area"})
def areas_step(study: Study) -> StepOutput:
    """The ``areas`` step (see the module docstring)."""
    spec = study.areas_spec if study.areas_spec is not None else AreasSpec(code="name")
    data = study.areas
    if data is None and study.n_cases == 0:
        raise StepSkippedError(Problem("the study has no cases to count per area"))
    if data is None:
        if study.area is None:
            raise AnalysisError(
                Problem(
                    "no area data: give [area] polygons with an [areas] table, or a point "
                    "study with [area] polygons to count cases per area",
                    fix="see README: 'Area-level analysis'",
                )
            )
        data = aggregate_points(study, code=spec.code)
        if spec.group is not None:
            groups = groups_from_columns(
                data, pd.DataFrame(study.area), column=spec.group, name=spec.group_name
            )
            data = group_areas(data, groups, level=spec.group)
    if len(data.polygons) < 2:
        raise StepSkippedError(
            Problem(
                f"the area file holds {len(data.polygons)} area: rates compared between areas "
                "and their neighbours need at least 2",
                fix="give the village (desa) or kecamatan boundaries as [area] to compare areas",
            )
        )
    section, layers = analyze_areas(
        data, spec=spec, permutations=study.settings.permutations, seed=study.settings.seed
    )
    return StepOutput(section=section, layers=layers, notes=tuple(section["caveats"]))
