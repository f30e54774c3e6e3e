"""The longer sentences of the report, by key, in English (the gettext message ids).

The translations are in the catalogues, ``geo_stunting/locale/<lang>/LC_MESSAGES/geo_stunting.po``
(see docs/how-to/translating.md). `tr` gives a sentence in every language of the page, with the same
values; a test checks that every translation keeps the placeholders of its English.
"""

from __future__ import annotations

from typing import Any

from geo_stunting.outputs.report._i18n import N_, Text, t

__all__ = ["HALDANE", "TEXT", "tr"]

#: The mark of an odds ratio computed with 0.5 added to every cell (a cell was 0).
HALDANE = N_("Haldane: 0.5 added to every cell because one was 0")

TEXT: dict[str, str] = {
    "not_requested": N_("Not requested in this run."),
    "not_available": N_("Not run in this version of geo_stunting."),
    "skipped": N_("Skipped: {reason}"),
    "failed": N_("Failed: {reason}"),
    "quality_intro": N_(
        "Every row read is either used or listed here with the reason (also in rejects.csv)."
    ),
    "rejects_caption": N_("Rejected rows ({shown} of {total} shown; all in rejects.csv)"),
    "no_rejects": N_("No row was rejected."),
    "access_answer": N_(
        "{cw} of {nc} cases ({pc}) and {kw} of {nk} controls ({pk}) live within {buffer} "
        "m of a health facility. The difference {verdict} statistically significant "
        "({test}, {p})."
    ),
    "nothing_outside": N_(
        "All {n} children, cases and controls alike, live within {buffer} m of a health "
        "facility: there is nothing to compare, so no test or odds ratio is given."
    ),
    "nothing_within": N_(
        "None of the {n} children lives within {buffer} m of a health facility: there is "
        "nothing to compare, so no test or odds ratio is given."
    ),
    "is": N_("is"),
    "is_not": N_("is not"),
    "access_plot": N_(
        "Distance from each child's home to the nearest health facility; box: quartiles, "
        "thick line: median; dashed: the coverage radius."
    ),
    "per_area_caption": N_("Share of each village within {buffer} m of a facility"),
    "clustering_intro": N_(
        "Two questions are often confused. Are the cases clustered? Almost always yes, "
        "because children live in villages. Are the cases clustered more than the "
        "controls, who live in the same villages? Only that answers whether stunting "
        "itself clusters."
    ),
    "naive": N_(
        "1. The usual answer (what GIS tools print): compared with points scattered at "
        "random over the study area, the cases {verdict} (Clark–Evans R = {R}; R below 1 "
        "means closer together than random; two-sided Monte Carlo test, {p})."
    ),
    "look_clustered": N_("look clustered"),
    "not_clustered": N_("do not look clustered"),
    "naive_controls": N_(
        "But the controls give R = {R} ({p}): children live in villages, so any group of "
        "children looks clustered against randomness. This comparison shows where "
        "children live, not where stunting is."
    ),
    "casecontrol": N_(
        "2. The case-control answer: keeping every child where they live and shuffling "
        "the case/control labels at random, the cases {verdict} (K_case − K_control, "
        "one-sided D+ test, {p}; global envelope, two-sided, {p_global})."
    ),
    "cluster_more": N_("cluster more than the controls"),
    "cluster_not_more": N_("do not cluster more than the controls"),
    "kdiff_plot": N_(
        "K_case − K_control (red) with the range of 95% of random relabellings (grey) "
        "and the global band (dashed). Above the grey band: cases are closer to each "
        "other than controls are, at that distance."
    ),
    "strata": N_("Shuffling labels only within each village: {verdict} ({p})."),
    "strata_yes": N_("cases still cluster within villages"),
    "strata_no": N_("no clustering beyond the differences between villages"),
    "ce_caption": N_("Cuzick–Edwards: case neighbours among each case's k nearest"),
    "moran": N_(
        "Moran's I of the case indicator = {I} (about {E} if cases were placed at random "
        "among the children; one-sided test, {p}): the neighbours of cases {verdict}. "
        "Neighbours: {rule}."
    ),
    "moran_yes": N_("are cases more often than chance would have it"),
    "moran_no": N_("are not cases more often than chance"),
    "joins": N_(
        "{bb} pairs of neighbours are both cases, against {expected} expected (one-sided, {p})."
    ),
    "lisa_caption": N_(
        "Local Moran (LISA), two-sided p, false discovery rate 5 % (Benjamini–Hochberg); "
        "without the correction in brackets. HH = a case among cases"
    ),
    "moran_plot": N_(
        "Moran scatter plot: each child's case indicator (standardised, spread sideways "
        "so the dots can be seen) against the average of its neighbours; the slope is "
        "Moran's I. Red: cases, blue: controls."
    ),
    "relrisk": N_(
        "Smoothed with a {bandwidth} m bandwidth, {share}% of the study window has a "
        "significantly raised risk of stunting (layer relative_risk_high on the map)."
    ),
    "relrisk_support": N_(
        "Smoothed with a {bandwidth} m bandwidth and tested only where at least {floor} "
        "children live within that distance ({support_km2} km²): {areas} of "
        "significantly raised risk of stunting, {km2} km² holding {children} children "
        "(one-sided, false discovery rate 5 %; layer relative_risk_high on the map)."
    ),
    "no_scan_cluster": N_("No window has more cases than expected."),
    "scan_top": N_(
        "Most likely cluster: {n} children within {radius} m, {cases} of them cases "
        "where {expected} were expected (relative risk {rr}, one-sided, {p}): {verdict}"
    ),
    "scan_limit_gini": N_(
        "Largest window: {share}% of the children, chosen among {n} maximum sizes as the "
        "one whose significant clusters best separate high from low risk (Gini "
        "coefficient {gini}, as SaTScan offers)."
    ),
    "scan_limit_none": N_(
        "Largest window: {share}% of the children (SaTScan's default); none of the {n} "
        "maximum sizes tried gives a significant cluster."
    ),
    "scan_limit_radius": N_(
        "Largest window: {share}% of the children and a radius of {radius} m (study file)."
    ),
    "scan_limit_share": N_("Largest window: {share}% of the children (study file)."),
    "unlikely_chance": N_("unlikely to be chance."),
    "could_be_chance": N_("this could be chance."),
    "rf_answer": N_("Associated with stunting at p ≤ 0.05 ({k} of {n} factors): {names}."),
    "rf_inferred": N_(
        "The factors were inferred from the columns (no [risk_factors] section): check "
        "their types and reference levels in the notes below."
    ),
    "table1": N_(
        "Table 1. Characteristics of cases and controls: n (% of the group), mean ± SD, "
        "median [IQR]"
    ),
    "table2": N_(
        "Table 2. Categorical factors and stunting: row percentages; odds ratio of each "
        "level against the reference (ref); point at a test to see why it was chosen"
    ),
    "table3": N_(
        "Table 3. Continuous factors: correlation with being a case (1 = case, 0 = "
        "control; positive: higher values among cases) and the test between groups"
    ),
    "table4": N_("Table 4. Multivariable logistic regression (n = {n}, {cases} cases; AIC {aic})"),
    "no_model": N_("Logistic regression not fitted: {reason}"),
    "forest_axis": N_("odds ratio (log scale) against the reference level"),
    "forest": N_(
        "Odds ratios with 95% CI. Red: more likely among cases; blue: less likely; grey: "
        "the CI includes 1."
    ),
    "respondents": N_(
        "Respondents table {path}: {joined} of {rows} rows joined; {orphans} rows "
        "without a subject; {missing} subjects without a respondent row."
    ),
    "no_map": N_("No map with this report."),
    "print_map": N_(
        "Print-ready map ({src}, 300 dpi; all pages in map.pdf). No home location is shown."
    ),
    "print_failed": N_(
        "The print-ready maps could not be drawn ({reason}); the other outputs are "
        "complete. Run the analysis again to draw them."
    ),
    "privacy": N_(
        "The map shows the children's home locations: it is confidential health data. "
        "This report shows no home location (scan centres are rounded to about 1 km)."
    ),
    "provenance": N_(
        "The numbers are in results.json (the same seed gives the same file); timings, "
        "versions of GDAL/PROJ/GEOS and the command line are in run.json."
    ),
    "areas_intro_counts": N_(
        "Counts per area: {n} areas, cases and children at risk given for each. Rates "
        "are in percent; the empirical-Bayes rate pulls the rate of an area with few "
        "children towards the overall rate, so that small areas do not dominate the map "
        "by chance."
    ),
    "areas_intro_prevalence": N_("Prevalence per area: {n} areas, published percentages."),
    "areas_intro_aggregate": N_(
        "Cases and controls of this study counted per area: {n} areas with at least one child."
    ),
    "areas_prevalence_only": N_(
        "Only percentages were given, without the number of children measured. They "
        "support a map of the published figures, a ranking, and Moran's I, LISA and Gi* "
        "as a description of how the figures are arranged in space. They cannot support "
        "empirical-Bayes smoothing, the EB Moran index, the Poisson probability map, the "
        "scan, or a confidence interval for any area or any change: without sample sizes "
        "nothing separates a real difference from sampling noise."
    ),
    "areas_case_control": N_(
        "The rate here is cases / (cases + controls) per area. A case-control study "
        "chooses how many controls to take per case, so this is not a prevalence: a high "
        "value means more of the study's cases than its controls live there."
    ),
    "areas_few": N_(
        "With {n} areas, Moran's I and LISA have little power: a result that is not "
        "significant does not show that there is no clustering."
    ),
    "areas_weights": N_(
        "Neighbours: {rule}; {links} pairs of neighbours, {islands} without a shared "
        "border, {components}."
    ),
    "areas_moran": N_(
        "{period}: Moran's I = {I} ({p}, one-sided: more alike than chance); "
        "neighbouring areas {verdict}."
    ),
    "areas_alike": N_("have more similar rates than chance would give"),
    "areas_not_alike": N_("are no more alike than chance would make them"),
    "areas_table": N_(
        "Per period: rates, Moran's I on the rate (permutation p, one-sided), the EB "
        "Moran index, LISA clusters (p ≤ 0.05 uncorrected / after the false discovery "
        "rate), Gi* spots (p ≤ 0.05, uncorrected) and the most likely scan cluster"
    ),
    "areas_ranking": N_("Highest and lowest rates, {period}"),
    "areas_changes": N_("Change between periods (percentage points)"),
    "areas_no_ci": N_("no interval: no sample sizes"),
    "areas_classes": N_("Map classes ({method}, {period}): {bounds}."),
}


def tr(key: str, **values: Any) -> Text:
    """The sentence `key` in every language of the page, formatted with `values`.

    A value that is a `Text` (another `tr`, a number from `fmt`) is put in each
    language in its own language; any other value is escaped.
    """
    return t(TEXT[key], **values)
