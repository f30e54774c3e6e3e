"""The study report: one self-contained HTML page in English and Bahasa Indonesia.

`make_report` turns a run's `Results` into ``report.html``: the study
summary, data quality (every rejected row and why), access to facilities,
clustering explained for non-statisticians (the naive answer and the
case-control one), scan clusters, the risk-factor tables formatted like a
journal's Table 1 and Table 2, plots, the map and provenance.

The page works offline: no script, style, font or image is fetched — the
plots are inline SVG, the risk-factor tables are also offered as CSV
``data:`` links, and the map is the ``map.html`` beside it (a link and an
iframe). Every language with a catalogue is in the page (English and
Bahasa Indonesia, and any language added as one ``.po`` file, see
`geo_stunting.outputs.report._i18n`); a button switches between them, and
``report.html?lang=id`` opens it in Bahasa Indonesia. The page structure is
in the jinja2 templates of ``templates/``, the texts in the gettext
catalogues. The same results give the same page, byte for byte (timings stay
in ``run.json``).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from geo_stunting._safety import failure_reason
from geo_stunting.errors import GeoStuntingError, Problem
from geo_stunting.outputs.report._analysis_text import analysis
from geo_stunting.outputs.report._areas import areas_section
from geo_stunting.outputs.report._html import (
    details,
    dig,
    environment,
    figure,
    fmt,
    fmt_p,
    heading,
    html_join,
    macro,
    notice,
    para,
    pct,
    table,
)
from geo_stunting.outputs.report._i18n import (
    N_,
    Text,
    available_languages,
    language_name,
    languages,
    percent,
    t,
)
from geo_stunting.outputs.report._risk import risk_factor_html
from geo_stunting.outputs.report._sections import clustering_section, scan_section, step_notice
from geo_stunting.outputs.report._svg import CASE_COLOUR, CONTROL_COLOUR, box_strip
from geo_stunting.outputs.report._text import HALDANE, tr
from geo_stunting.risk_factors._tables import risk_factor_tables_csv

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["make_report", "risk_factor_tables_csv"]

log = logging.getLogger(__name__)

#: Rejected rows listed in the page; all of them are in rejects.csv.
MAX_REJECTS_SHOWN = 100
_PACKAGES = ("geo_stunting", "geopandas", "shapely", "pyproj", "numpy", "pandas", "scipy",
             "libpysal", "esda", "statsmodels")  # fmt: skip

_TOC = (
    ("summary", N_("Summary")),
    ("quality", N_("Data quality")),
    ("access", N_("Access")),
    ("clustering", N_("Clustering")),
    ("scan", N_("Scan")),
    ("risk-factors", N_("Risk factors")),
    ("areas", N_("Areas")),
    ("map", N_("Map")),
    ("provenance", N_("Provenance")),
)
_STATUS = {
    "done": N_("done"),
    "skipped": N_("skipped"),
    "failed": N_("FAILED"),
    "not_available": N_("not in this version"),
}


def _kv(rows: list[tuple[Text, Any]]) -> Markup:
    return table([t("item"), t("value")], [[label, value] for label, value in rows], cls="kv")


def _summary(results: Results) -> Markup:
    study = results.sections.get("study", {})
    settings = results.sections.get("settings", {})
    kinds = html_join(
        [Markup("{} {}").format(k, fmt(v)) for k, v in study.get("facility_kinds", {}).items()],
        ", ",
    )
    area = study.get("area_m2")
    rows = [
        (t("Children (subjects)"), fmt(study.get("n_subjects"))),
        (t("Cases (stunted)"), fmt(study.get("n_cases"))),
        (t("Controls"), fmt(study.get("n_controls"))),
        (t("Health facilities"), Markup("{} ({})").format(fmt(study.get("n_facilities")), kinds)),
        (t("Villages (areas)"), fmt(study.get("n_areas"))),
        (t("Study area"), "–" if area is None else t("{area} km²", area=fmt(area / 1e6, 1))),
        (t("Coordinate system"),
         Markup("{} — {}").format(study.get("crs"), analysis(study.get("crs_reason", "")))),
        (t("Coverage radius"), t("{radius} m", radius=fmt(settings.get("buffer_m"), 0))),
        (t("Permutations, seed"),
         Markup("{}, {}").format(fmt(settings.get("permutations")), settings.get("seed"))),
        (t("Spatial neighbours"), str(settings.get("weights"))),
    ]  # fmt: skip
    steps = []
    for name, state in results.sections.get("steps", {}).items():
        status = str(state.get("status"))
        word = t(_STATUS[status]) if status in _STATUS else status
        steps.append([name, word, analysis(state.get("reason", ""))])
    return (
        heading(2, "summary", t("Study summary"))
        + _kv(rows)
        + table([t("step"), "status", t("reason")], steps)
    )


def _quality(results: Results) -> Markup:
    study_rows = dig(results.sections, "study", "rows") or {}
    rows = []
    for layer, counts in study_rows.items():
        read, rejected = counts.get("read", 0), counts.get("rejected", 0)
        rows.append([layer, fmt(read), fmt(read - rejected), fmt(rejected)])
    out = [
        heading(2, "quality", t("Data quality")),
        para(tr("quality_intro")),
        table([t("layer"), t("rows read"), t("used"), t("rejected")], rows),
    ]
    rejects = results.study.rejects
    if len(rejects):
        reasons = Counter(str(r).split(";")[0].split(":")[0] for r in rejects["reason"])
        out.append(
            table(
                [t("reason"), "n"],
                [[analysis(reason), fmt(n)] for reason, n in reasons.most_common()],
                caption=t("Rejected rows by reason"),
            )
        )
        shown = rejects.head(MAX_REJECTS_SHOWN)
        columns = ["layer", "file", "row", "id", "column", "value", "reason"]
        out.append(
            table(
                columns,
                [
                    [analysis(r[c]) if c == "reason" else str(r[c]) for c in columns]
                    for r in shown.to_dict("records")
                ],
                caption=tr("rejects_caption", shown=fmt(len(shown)), total=fmt(len(rejects))),
            )
        )
    else:
        out.append(para(tr("no_rejects")))
    if results.study.notes:
        out.append(
            details(
                t("Validation notes ({n})", n=fmt(len(results.study.notes))),
                [analysis(n) for n in results.study.notes],
            )
        )
    return html_join(out)


def _access_plot(results: Results, buffer_m: float) -> Markup:
    layer = results.layers.get("subjects")  # the access step adds distance_m to it
    if layer is None or "distance_m" not in layer or "status" not in layer:
        return Markup("")
    status = layer["status"].to_numpy()
    distance = layer["distance_m"].to_numpy(dtype=float)
    plot = box_strip(
        [
            (t("cases"), distance[status == "case"], CASE_COLOUR),
            (t("controls"), distance[status == "control"], CONTROL_COLOUR),
        ],
        ylabel=t("distance to the nearest facility (m)"),
        title=t("Distance to the nearest facility"),
        reference=(buffer_m, t("{radius} m", radius=fmt(buffer_m, 0))),
    )
    return figure(plot, tr("access_plot"))


def _median_m(group: Mapping[str, Any]) -> Text:
    return t(
        "{median} m ({q1}–{q3})",
        median=fmt(group.get("median_m"), 0),
        q1=fmt(group.get("q1_m"), 0),
        q3=fmt(group.get("q3_m"), 0),
    )


def _access(results: Results) -> Markup:
    out = [heading(2, "access", t("Access to health facilities"))]
    section = results.sections.get("access")
    missing = step_notice(results, "access")
    if missing is not None or not isinstance(section, Mapping):
        return out[0] + (missing or "")
    buffer_m = float(section.get("buffer_m", results.study.settings.buffer_m))
    buffer = fmt(buffer_m, 0)
    cw, co = section.get("cases_within", 0), section.get("cases_outside", 0)
    kw, ko = section.get("controls_within", 0), section.get("controls_outside", 0)
    test = section.get("test") or {}
    p = test.get("p_value")
    differs = isinstance(p, int | float) and p <= 0.05
    if (cw + kw == 0 or co + ko == 0) and cw + co + kw + ko > 0:
        # everyone on one side of the radius: no table to test, no odds ratio to give
        side = "nothing_within" if cw + kw == 0 else "nothing_outside"
        out.append(para(tr(side, n=fmt(cw + co + kw + ko), buffer=buffer), cls="answer"))
        return html_join(out) + _access_plot(results, buffer_m)
    texts = tr(
        "access_answer",
        cw=fmt(cw),
        nc=fmt(cw + co),
        pc=pct(cw, cw + co),
        kw=fmt(kw),
        nk=fmt(kw + ko),
        pk=pct(kw, kw + ko),
        buffer=buffer,
        verdict=tr("is" if differs else "is_not"),
        test=str(test.get("name")),
        p=fmt_p(p),
    )
    out.append(para(texts, cls="answer"))
    cases, controls = (
        dig(section, "distance", "cases") or {},
        dig(section, "distance", "controls") or {},
    )
    mw = section.get("mann_whitney") or {}
    odds = section.get("odds_ratio")
    ci = section.get("ci95") or [None, None]
    odds_label = t("Odds ratio of living within, cases vs controls (95% CI)")
    if section.get("odds_ratio_haldane"):
        odds_label = odds_label + " — " + t(HALDANE)
    rows = [
        (t("Median distance, cases (IQR)"), _median_m(cases)),
        (t("Median distance, controls (IQR)"), _median_m(controls)),
        (
            t("Mann–Whitney U (distances)"),
            Markup("U = {}, {}").format(fmt(mw.get("statistic"), 1), fmt_p(mw.get("p_value"))),
        ),
        (odds_label, Markup("{} ({}–{})").format(fmt(odds), fmt(ci[0]), fmt(ci[1]))),
        (
            t("Test of the 2×2 table"),
            Markup("{}, {} — {}").format(
                test.get("name"), fmt_p(p), analysis(test.get("reason", ""))
            ),
        ),
    ]
    out += [_kv(rows), _access_plot(results, buffer_m)]
    per_kind = section.get("per_kind") or {}
    if per_kind:
        rows_kind = [
            [
                str(kind),
                fmt(v.get("n_facilities")),
                fmt(v.get("cases_median_m"), 0),
                fmt(v.get("controls_median_m"), 0),
            ]
            for kind, v in per_kind.items()
        ]
        headers = [t("facility kind"), "n", t("median, cases (m)"), t("median, controls (m)")]
        caption = t("Distance to the nearest facility of each kind")
        out.append(table(headers, rows_kind, caption=caption))
    per_area = section.get("per_area") or []
    if per_area:
        rows_area = [
            [
                str(a.get("name")),
                percent(a.get("covered_pct"), 1),
                fmt(a.get("cases_within")),
                fmt(a.get("cases_outside")),
            ]
            for a in per_area
        ]
        headers = [t("village"), t("covered"), t("cases within"), t("cases outside")]
        out.append(table(headers, rows_area, caption=tr("per_area_caption", buffer=buffer)))
    return html_join(out)


def _map(
    map_href: str | None,
    embed: bool,
    print_maps: tuple[str, ...] = (),
    *,
    home_points: bool = True,
    print_failed: str | None = None,
) -> Markup:
    out = [heading(2, "map", t("Map"))]
    # the print-ready maps (files beside the report): printed with it
    out += [macro("print_map", src, tr("print_map", src=src)) for src in print_maps]
    if print_failed is not None:
        out.append(notice(tr("print_failed", reason=print_failed)))
    if map_href is None:
        return html_join([*out, notice(tr("no_map"))])
    out.append(
        macro(
            "map_link",
            map_href,
            t("Open the interactive map"),
            t("(the file {href} beside this report).", href=map_href),
        )
    )
    if home_points:  # an area study has none
        out.append(notice(tr("privacy")))
    if embed:
        out.append(macro("map_frame", map_href))
    return html_join(out)


def _provenance(results: Results, run_id: str | None = None) -> Markup:
    study, settings = results.study, results.study.settings
    versions = []
    for name in _PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    rows: list[tuple[Text, Any]] = [
        (t("Study file"), str(study.source) if study.source else "–"),
        (t("SHA-256 of the study file"), study.source_sha256 or "–"),
        (t("Seed, permutations"), f"{settings.seed}, {settings.permutations}"),
        (t("Coordinate system"), study.crs_code),
        (t("Software"), ", ".join(versions)),
    ]
    if run_id is not None:
        rows.append((t("Run id (in every output file)"), run_id))
    return heading(2, "provenance", t("Provenance")) + _kv(rows) + para(tr("provenance"))


def _drawn(section: Callable[[Results], Markup], results: Results, anchor: str) -> Markup:
    """One section of the page; a section that cannot be drawn says why, the others stay."""
    try:
        return section(results)
    except Exception as exc:  # noqa: BLE001 - one section never takes the report down
        log.error("report section %s could not be drawn: %s", anchor, exc)
        titles = dict(_TOC)
        title = t(titles[anchor]) if anchor in titles else anchor
        return heading(2, anchor, title) + notice(tr("failed", reason=failure_reason(exc)))


def _asset(name: str) -> Markup:
    text = files("geo_stunting.outputs.report").joinpath("templates", name).read_text("utf-8")
    return Markup(text)  # noqa: S704 - the package's own style sheet and script, not data


def make_report(
    results: Results,
    *,
    language: str = "en",
    map_href: str | None = "map.html",
    embed_map: bool = True,
    print_maps: tuple[str, ...] = (),
    run_id: str | None = None,
    print_failed: str | None = None,
) -> str:
    """Make the self-contained, multilingual HTML report of a run.

    Parameters
    ----------
    results
        What `geo_stunting.analyze` returned.
    language
        The language shown first: ``"en"`` (English), ``"id"`` (Bahasa
        Indonesia) or any language with a catalogue (see
        ``docs/how-to/translating.md``). The page holds every available language, a
        button switches, and ``?lang=`` in the address overrides this.
    map_href
        Address of the map page relative to the report (``"map.html"`` when
        both are in the output folder); ``None`` leaves the map out.
    embed_map
        Also show the map in an iframe.
    print_maps
        File names (beside the report) of the print-ready map images, shown
        in the map section; unlike the interactive map they print.
    run_id
        The run id shared by every file of the output folder (shown under Provenance).
    print_failed
        Why the print-ready maps could not be drawn, said in the map section
        (``None``: they were drawn, or not asked for).

    Returns
    -------
    str
        The HTML page. It fetches nothing from the network.

    Raises
    ------
    GeoStuntingError
        If `language` has no catalogue.
    """
    codes = available_languages()
    if language not in codes:
        shown = ", ".join(repr(c) for c in codes)
        raise GeoStuntingError(
            Problem(
                f"language must be one of {shown}, got {language!r}",
                fix='language="id", or add a catalogue (see docs/how-to/translating.md)',
            )
        )
    with languages(codes):
        name = str(results.sections.get("study", {}).get("name", results.study.name))
        sections = [
            _drawn(_summary, results, "summary"),
            _drawn(_quality, results, "quality"),
            _drawn(_access, results, "access"),
            _drawn(clustering_section, results, "clustering"),
            _drawn(scan_section, results, "scan"),
            _drawn(risk_factor_html, results, "risk-factors"),
            _drawn(areas_section, results, "areas"),
            _map(
                map_href,
                embed_map,
                print_maps,
                home_points=len(results.study.subjects) > 0,
                print_failed=print_failed,
            ),
            _drawn(lambda r: _provenance(r, run_id), results, "provenance"),
        ]
        return (
            environment()
            .get_template("report.html.j2")
            .render(
                language=language,
                languages=codes,
                language_names=[(c, language_name(c)) for c in codes],
                name=name,
                n_children=len(results.study.subjects),
                toc=[(anchor, t(title)) for anchor, title in _TOC],
                sections=sections,
                style=_asset("report.css"),
                script=_asset("report.js"),
            )
        )
