"""The English sentences that the analysis writes into results.json, shown in the report.

A few values shown in the report are sentences written by other steps (the
CRS choice, why a test was chosen, model warnings, why a step was skipped,
LISA labels). results.json keeps them in English; the report shows them in
each language by matching them against the message ids below (context
``analysis`` in the catalogues), whose ``{name}`` placeholders take the
values found in the sentence. An unknown sentence is shown as it is.
"""

from __future__ import annotations

from typing import Any

from geo_stunting.outputs.report._i18n import Text, pN_, translate_analysis

__all__ = ["SENTENCES", "analysis"]

#: Sentences of the analysis, most specific first (the first that matches is used).
SENTENCES: tuple[str, ...] = (
    pN_("analysis", "chosen automatically: the UTM zone of the study centroid ({centre})"),
    pN_("analysis", "given in the study file"),
    pN_("analysis", "an expected count is below {threshold} ({smallest})"),
    pN_(
        "analysis",
        "every expected count is at least {threshold} ({rows}×{columns} table: no continuity "
        "correction)",
    ),
    pN_("analysis", "every expected count is at least {threshold}"),
    pN_("analysis", "2×2 table: {reason}"),
    pN_(
        "analysis",
        "ordered levels ({levels}): chi-square test for trend in the share of cases across the "
        "levels, scores 1, 2, 3, … (as R prop.trend.test); the test without order is in "
        "'association' ({test})",
    ),
    pN_(
        "analysis",
        "Shapiro-Wilk p >= {alpha} in both groups ({shown}): compatible with a normal "
        "distribution, so Welch's t test of the means (no equal-variance assumption)",
    ),
    pN_(
        "analysis",
        "Shapiro-Wilk p < {alpha} or not testable ({shown}): not normal, so the rank-based "
        "Mann-Whitney U test",
    ),
    pN_("analysis", "cases {cases}, controls {controls}"),
    pN_("analysis", "cases {cases}"),
    pN_("analysis", "controls {controls}"),
    pN_("analysis", "no values in one of the groups"),
    pN_(
        "analysis",
        "{n} {group} (the smaller group) for {k} coefficient(s): fewer than {minimum} per "
        "coefficient, so the adjusted odds ratios may be unstable",
    ),
    pN_("analysis", "not implemented in this version of geo_stunting"),
    pN_("analysis", "the study has no facilities (add a [facilities] section)"),
    pN_("analysis", "the study has no study area (add an [area] section)"),
    pN_("analysis", "the study has no {group}; this step compares cases with controls"),
    pN_("analysis", "internal error ({error}); please report it"),
    pN_("analysis", "scan = false in [areas]"),
    pN_("analysis", "the scan needs counts (sample sizes) per area"),
    pN_("analysis", "{n} areas: the scan is limited to 3,000"),
    pN_("analysis", "{file}: read as CSV ({encoding}, delimiter {delimiter})"),
    pN_("analysis", "{file}: read {n} feature(s) from layer {layer}"),
    pN_("analysis", "{file}: read {n} feature(s)"),
    pN_("analysis", "{file}: skipped {n} blank line(s)"),
    pN_("analysis", "{table}: column {column} used for {key} = {wanted}"),
    pN_("analysis", "column {column} used for the factor {name}"),
    pN_("analysis", "queen contiguity (a shared boundary point)"),
    pN_("analysis", "rook contiguity (a shared edge)"),
    pN_("analysis", "missing id"),
    pN_("analysis", "missing geometry"),
    pN_("analysis", "missing status"),
    pN_("analysis", "no coordinates (both cells empty)"),
    pN_("analysis", "outside the study area"),
    pN_(
        "analysis",
        "missing status; enter a case value {case} or a control value {control}, or remove the row",
    ),
    pN_(
        "analysis",
        "no coordinates (both cells empty); enter where the home is, or remove the row",
    ),
    pN_(
        "analysis",
        "outside the study area: {distance} from the nearest area ({area}); correct the point, "
        "or keep points this close with outside_m = {metres} in [area] (a boundary file and GPS "
        "fixes often disagree by tens of metres)",
    ),
    pN_(
        "analysis",
        "outside the study area: {distance} from the nearest area ({area}); correct the point, "
        'or keep such points with outside = "keep" in [area]',
    ),
    pN_(
        "analysis",
        "{file}: {n} row(s) lie outside the study area by up to {distance} (within outside_m = "
        "{metres} in [area]): kept, each counted in the nearest area",
    ),
    pN_(
        "analysis",
        '{file}: area names from column {column} (write name = "..." in [area] to use another)',
    ),
    pN_(
        "analysis",
        "{n} subject(s) lie up to {distance} m outside the study area (kept with outside_m in "
        "[area]): the window adds a disc around each, reaching the area ({added} km²)",
    ),
    pN_("analysis", "duplicate id {id} (first on row {row}); give every row its own id"),
    pN_("analysis", "geometry is a {kind}, not a polygon"),
    pN_(
        "analysis",
        "geometry is a {kind}, not a point; use one point per child (QGIS: Vector > Geometry "
        "Tools > Centroids)",
    ),
    pN_(
        "analysis",
        "status {value} is neither a case value {case} nor a control value {control}; add it to "
        "case = [...] or control = [...] in [subjects], or correct the row",
    ),
    pN_(
        "analysis",
        "coordinates 0, 0 are what a GPS app writes when it had no fix; take the point again",
    ),
    pN_(
        "analysis",
        "no polygon has code {code} (compared as {compared}); if it is a province or national "
        "total, leave it out, else check the code",
    ),
    pN_(
        "analysis",
        "no polygon has code {code} (compared as {compared}); the cell holds a number, not text: "
        "a spreadsheet turns 16.10 into 16.1 (format the code column as text)",
    ),
    pN_("analysis", "no polygon has code {code} (compared as {compared})"),
    pN_("analysis", "no case or control inside this polygon"),
    pN_("analysis", "not significant"),
    pN_("analysis", "isolate"),
    pN_("analysis", "cases"),
    pN_("analysis", "controls"),
)


def analysis(text: Any) -> Text:
    """An analysis sentence from results.json in every language of the page.

    >>> from geo_stunting.outputs.report._i18n import languages
    >>> with languages(["en", "id"]):
    ...     analysis("an expected count is below 5 (1.67)").get("id")
    Markup('ada frekuensi harapan di bawah 5 (1,67)')
    >>> with languages(["en", "id"]):
    ...     str(analysis("Fisher exact"))
    'Fisher exact'
    """
    return translate_analysis(text, SENTENCES)
