"""The study report: one self-contained HTML page in English and Bahasa Indonesia.

`make_report` turns a run's `Results` into ``report.html``: the study
summary, data quality (every rejected row and why), access to facilities,
clustering explained for non-statisticians (the naive answer and the
case-control one), scan clusters, the risk-factor tables formatted like a
journal's Table 1 and Table 2, plots, the map and provenance.

The page works offline: no script, style, font or image is fetched — the
plots are inline SVG, the risk-factor tables are also offered as CSV
``data:`` links, and the map is the ``map.html`` beside it (a link and an
iframe). Both languages are in the page; a button switches between them,
and ``report.html?lang=id`` opens it in Bahasa Indonesia. The same results
give the same page, byte for byte (timings stay in ``run.json``).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from geo_stunting._safety import failure_reason
from geo_stunting.errors import GeoStuntingError, Problem
from geo_stunting.outputs.report._areas import areas_section
from geo_stunting.outputs.report._html import (
    bi,
    dig,
    figure,
    fmt,
    fmt_p,
    heading,
    notice,
    para,
    pct,
    table,
)
from geo_stunting.outputs.report._indonesian import indonesian
from geo_stunting.outputs.report._risk import risk_factor_html
from geo_stunting.outputs.report._sections import clustering_section, scan_section, step_notice
from geo_stunting.outputs.report._svg import CASE_COLOUR, CONTROL_COLOUR, box_strip
from geo_stunting.outputs.report._text import HALDANE_EN, HALDANE_ID, tr
from geo_stunting.risk_factors._tables import risk_factor_tables_csv

if TYPE_CHECKING:
    from geo_stunting.pipeline import Results

__all__ = ["LANGUAGES", "make_report", "risk_factor_tables_csv"]

log = logging.getLogger(__name__)

#: Languages of the report: English and Bahasa Indonesia.
LANGUAGES = ("en", "id")
#: Rejected rows listed in the page; all of them are in rejects.csv.
MAX_REJECTS_SHOWN = 100
_PACKAGES = ("geo_stunting", "geopandas", "shapely", "pyproj", "numpy", "pandas", "scipy",
             "libpysal", "esda", "statsmodels")  # fmt: skip

_STYLE = """
html[data-lang=en] .id, html[data-lang=id] .en { display: none !important; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
  max-width: 1100px; margin: 0 auto; padding: 0 1.5rem 4rem; line-height: 1.5; }
header { display: flex; justify-content: space-between; align-items: center; gap: 1rem;
  border-bottom: 3px solid #d7301f; padding: 1rem 0 0.5rem; }
header h1 { margin: 0; font-size: 1.6rem; }
#lang-toggle { font-size: 0.95rem; padding: 0.35rem 0.9rem; border: 1px solid #888;
  border-radius: 4px; background: #fff; cursor: pointer; }
nav { font-size: 0.9rem; margin: 0.6rem 0 1rem; }
nav a { margin-right: 0.9rem; color: #2b6a8e; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2.2rem; }
.notice { background: #fff6e0; border-left: 4px solid #e0a800; padding: 0.4rem 0.8rem; }
.answer { background: #eef5fa; border-left: 4px solid #2b8cbe; padding: 0.4rem 0.8rem; }
.table-wrap { overflow-x: auto; margin: 0.8rem 0 1.2rem; }
table { border-collapse: collapse; font-size: 0.88rem; }
th, td { padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 1px solid #333; }
table { border-top: 2px solid #333; border-bottom: 2px solid #333; }
.caption { font-weight: 600; padding-bottom: 0.3rem; max-width: 60rem; }
tr.first td { border-top: 1px solid #ddd; }
td.group { background: #f4f4f4; }
.indent { padding-left: 1.2rem; display: inline-block; }
td:not(:first-child) { white-space: nowrap; }
figure { margin: 1rem 0; } figcaption { font-size: 0.85rem; color: #555; max-width: 640px; }
svg.plot { width: 100%; max-width: 640px; height: auto; background: #fff; }
iframe.map { width: 100%; height: 520px; border: 1px solid #bbb; }
.kv td:first-child { color: #555; white-space: nowrap; }
.kv td:not(:first-child) { white-space: normal; overflow-wrap: anywhere; }
details { margin: 0.6rem 0; } .notes { font-size: 0.85rem; }
figure.print-map img { width: 100%; max-width: 960px; height: auto; border: 1px solid #bbb; }
@media print { #lang-toggle, nav, iframe.map { display: none; }
  figure.print-map { break-inside: avoid; } figure.print-map img { max-width: 100%; } }
"""

_SCRIPT = """
(function () {
  var root = document.documentElement;
  function set(lang) { root.setAttribute("data-lang", lang); root.setAttribute("lang", lang); }
  var asked = new URLSearchParams(window.location.search).get("lang");
  if (asked === "en" || asked === "id") { set(asked); }
  document.getElementById("lang-toggle").addEventListener("click", function () {
    set(root.getAttribute("data-lang") === "en" ? "id" : "en");
  });
})();
"""

_TOC = (
    ("summary", "Summary", "Ringkasan"),
    ("quality", "Data quality", "Kualitas data"),
    ("access", "Access", "Akses"),
    ("clustering", "Clustering", "Pengelompokan"),
    ("scan", "Scan", "Pemindaian"),
    ("risk-factors", "Risk factors", "Faktor risiko"),
    ("areas", "Areas", "Wilayah"),
    ("map", "Map", "Peta"),
    ("provenance", "Provenance", "Asal-usul"),
)


def _kv(rows: list[tuple[str, str, str]]) -> str:
    return table(
        [bi("item", "butir"), bi("value", "nilai")],
        [[bi(en, id_), value] for en, id_, value in rows],
        cls="kv",
    )


def _summary(results: Results) -> str:
    study = results.sections.get("study", {})
    settings = results.sections.get("settings", {})
    kinds = ", ".join(f"{escape(str(k))} {v}" for k, v in study.get("facility_kinds", {}).items())
    area = study.get("area_m2")
    rows = [
        ("Children (subjects)", "Anak (subjek)", fmt(study.get("n_subjects"))),
        ("Cases (stunted)", "Kasus (stunting)", fmt(study.get("n_cases"))),
        ("Controls", "Kontrol", fmt(study.get("n_controls"))),
        ("Health facilities", "Fasilitas kesehatan", f"{fmt(study.get('n_facilities'))} ({kinds})"),
        ("Villages (areas)", "Desa (wilayah)", fmt(study.get("n_areas"))),
        ("Study area", "Luas wilayah studi",
         "–" if area is None else f"{fmt(area / 1e6, 1)} km²"),
        ("Coordinate system", "Sistem koordinat",
         f"{escape(str(study.get('crs')))} — {_both(study.get('crs_reason', ''))}"),
        ("Coverage radius", "Radius jangkauan", f"{fmt(settings.get('buffer_m'), 0)} m"),
        ("Permutations, seed", "Permutasi, seed",
         f"{fmt(settings.get('permutations'))}, {escape(str(settings.get('seed')))}"),
        ("Spatial neighbours", "Tetangga spasial", escape(str(settings.get("weights")))),
    ]  # fmt: skip
    steps = []
    for name, state in results.sections.get("steps", {}).items():
        status = str(state.get("status"))
        word = {
            "done": ("done", "selesai"),
            "skipped": ("skipped", "dilewati"),
            "failed": ("FAILED", "GAGAL"),
            "not_available": ("not in this version", "belum tersedia di versi ini"),
        }.get(status, (status, status))
        steps.append([escape(name), bi(*word), escape(str(state.get("reason", "")))])
    return (
        heading(2, "summary", "Study summary", "Ringkasan studi")
        + _kv(rows)
        + table([bi("step", "tahap"), "status", bi("reason", "alasan")], steps)
    )


def _quality(results: Results) -> str:
    study_rows = dig(results.sections, "study", "rows") or {}
    rows = []
    for layer, counts in study_rows.items():
        read, rejected = counts.get("read", 0), counts.get("rejected", 0)
        rows.append([escape(layer), fmt(read), fmt(read - rejected), fmt(rejected)])
    out = [
        heading(2, "quality", "Data quality", "Kualitas data"),
        para(*tr("quality_intro")),
        table(
            [bi("layer", "lapisan"), bi("rows read", "baris dibaca"), bi("used", "dipakai"),
             bi("rejected", "ditolak")],
            rows,
        ),
    ]  # fmt: skip
    rejects = results.study.rejects
    if len(rejects):
        reasons = Counter(str(r).split(";")[0].split(":")[0] for r in rejects["reason"])
        out.append(
            table(
                [bi("reason", "alasan"), "n"],
                [[escape(reason), fmt(n)] for reason, n in reasons.most_common()],
                caption=bi("Rejected rows by reason", "Baris ditolak menurut alasan"),
            )
        )
        shown = rejects.head(MAX_REJECTS_SHOWN)
        columns = ["layer", "file", "row", "id", "column", "value", "reason"]
        out.append(
            table(
                [escape(c) for c in columns],
                [[escape(str(r[c])) for c in columns] for r in shown.to_dict("records")],
                caption=bi(*tr("rejects_caption", shown=len(shown), total=len(rejects))),
            )
        )
    else:
        out.append(para(*tr("no_rejects")))
    if results.study.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in results.study.notes)
        out.append(
            f"<details><summary>{bi('Validation notes', 'Catatan validasi')} "
            f'({len(results.study.notes)})</summary><ul class="notes">{items}</ul></details>'
        )
    return "".join(out)


def _access_plot(results: Results, buffer_m: float) -> str:
    layer = results.layers.get("subjects_access")
    if layer is None or "distance_m" not in layer or "status" not in layer:
        return ""
    status = layer["status"].to_numpy()
    distance = layer["distance_m"].to_numpy(dtype=float)
    plot = box_strip(
        [
            (("cases", "kasus"), distance[status == "case"], CASE_COLOUR),
            (("controls", "kontrol"), distance[status == "control"], CONTROL_COLOUR),
        ],
        ylabel=("distance to the nearest facility (m)", "jarak ke fasilitas terdekat (m)"),
        title=("Distance to the nearest facility", "Jarak ke fasilitas terdekat"),
        reference=(buffer_m, (f"{buffer_m:,.0f} m", f"{buffer_m:,.0f} m")),
    )
    return figure(plot, *tr("access_plot"))


def _both(text: Any) -> str:
    """An analysis sentence in English and, when known, in Indonesian."""
    return bi(str(text), indonesian(str(text)))


def _median_m(group: Mapping[str, Any]) -> str:
    q1, q3 = fmt(group.get("q1_m"), 0), fmt(group.get("q3_m"), 0)
    return f"{fmt(group.get('median_m'), 0)} m ({q1}–{q3})"


def _access(results: Results) -> str:
    out = [heading(2, "access", "Access to health facilities", "Akses ke fasilitas kesehatan")]
    section = results.sections.get("access")
    missing = step_notice(results, "access")
    if missing is not None or not isinstance(section, Mapping):
        return out[0] + (missing or "")
    buffer_m = float(section.get("buffer_m", results.study.settings.buffer_m))
    cw, co = section.get("cases_within", 0), section.get("cases_outside", 0)
    kw, ko = section.get("controls_within", 0), section.get("controls_outside", 0)
    test = section.get("test") or {}
    p = test.get("p_value")
    differs = isinstance(p, int | float) and p <= 0.05
    if (cw + kw == 0 or co + ko == 0) and cw + co + kw + ko > 0:
        # everyone on one side of the radius: no table to test, no odds ratio to give
        side = "nothing_within" if cw + kw == 0 else "nothing_outside"
        texts = tr(side, n=cw + co + kw + ko, buffer=f"{buffer_m:,.0f}")
        out.append(para(*texts, cls="answer"))
        return "".join(out) + _access_plot(results, buffer_m)
    texts = tr(
        "access_answer",
        cw=cw,
        nc=cw + co,
        pc=pct(cw, cw + co),
        kw=kw,
        nk=kw + ko,
        pk=pct(kw, kw + ko),
        buffer=f"{buffer_m:,.0f}",
        verdict=tr("is" if differs else "is_not"),
        test=escape(str(test.get("name"))),
        p=fmt_p(p),
    )
    out.append(para(*texts, cls="answer"))
    cases, controls = (
        dig(section, "distance", "cases") or {},
        dig(section, "distance", "controls") or {},
    )
    mw = section.get("mann_whitney") or {}
    odds = section.get("odds_ratio")
    ci = section.get("ci95") or [None, None]
    rows = [
        ("Median distance, cases (IQR)", "Median jarak, kasus (RAK)", _median_m(cases)),
        ("Median distance, controls (IQR)", "Median jarak, kontrol (RAK)", _median_m(controls)),
        (
            "Mann–Whitney U (distances)",
            "Mann–Whitney U (jarak)",
            f"U = {fmt(mw.get('statistic'), 1)}, {fmt_p(mw.get('p_value'))}",
        ),
        (
            "Odds ratio of living within, cases vs controls (95% CI)"
            + (HALDANE_EN if section.get("odds_ratio_haldane") else ""),
            "Rasio odds tinggal dalam radius, kasus vs kontrol (IK 95%)"
            + (HALDANE_ID if section.get("odds_ratio_haldane") else ""),
            f"{fmt(odds)} ({fmt(ci[0])}–{fmt(ci[1])})",
        ),
        (
            "Test of the 2×2 table",
            "Uji tabel 2×2",
            f"{escape(str(test.get('name')))}, {fmt_p(p)} — {_both(test.get('reason', ''))}",
        ),
    ]
    out += [_kv(rows), _access_plot(results, buffer_m)]
    per_kind = section.get("per_kind") or {}
    if per_kind:
        rows_kind = [
            [
                escape(str(kind)),
                fmt(v.get("n_facilities")),
                fmt(v.get("cases_median_m"), 0),
                fmt(v.get("controls_median_m"), 0),
            ]
            for kind, v in per_kind.items()
        ]
        headers = [
            bi("facility kind", "jenis fasilitas"),
            "n",
            bi("median, cases (m)", "median, kasus (m)"),
            bi("median, controls (m)", "median, kontrol (m)"),
        ]
        caption = bi(
            "Distance to the nearest facility of each kind",
            "Jarak ke fasilitas terdekat menurut jenis",
        )
        out.append(table(headers, rows_kind, caption=caption))
    per_area = section.get("per_area") or []
    if per_area:
        rows_area = [
            [
                escape(str(a.get("name"))),
                f"{fmt(a.get('covered_pct'), 1)}%",
                fmt(a.get("cases_within")),
                fmt(a.get("cases_outside")),
            ]
            for a in per_area
        ]
        headers = [
            bi("village", "desa"),
            bi("covered", "terjangkau"),
            bi("cases within", "kasus dalam radius"),
            bi("cases outside", "kasus di luar radius"),
        ]
        caption = bi(*tr("per_area_caption", buffer=f"{buffer_m:,.0f}"))
        out.append(table(headers, rows_area, caption=caption))
    return "".join(out)


def _map(
    map_href: str | None,
    embed: bool,
    print_maps: tuple[str, ...] = (),
    *,
    home_points: bool = True,
) -> str:
    out = heading(2, "map", "Map", "Peta")
    for src in print_maps:  # the print-ready maps (files beside the report): printed with it
        out += (
            f'<figure class="print-map"><img src="{escape(src)}" alt="{escape(src)}">'
            f"<figcaption>{bi(*tr('print_map', src=escape(src)))}</figcaption></figure>"
        )
    if map_href is None:
        return out + notice(*tr("no_map"))
    href = escape(map_href)
    out += para(*tr("map_link", href=href), raw=True)
    if home_points:  # an area study has none
        out += notice(*tr("privacy"))
    if embed:
        out += f'<iframe class="map" src="{href}" loading="lazy" title="map"></iframe>'
    return out


def _provenance(results: Results, run_id: str | None = None) -> str:
    study, settings = results.study, results.study.settings
    versions = []
    for name in _PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    rows = [
        ("Study file", "Berkas studi", escape(str(study.source)) if study.source else "–"),
        ("SHA-256 of the study file", "SHA-256 berkas studi", escape(study.source_sha256 or "–")),
        ("Seed, permutations", "Seed, permutasi", f"{settings.seed}, {settings.permutations}"),
        ("Coordinate system", "Sistem koordinat", escape(study.crs_code)),
        ("Software", "Perangkat lunak", escape(", ".join(versions))),
    ]
    if run_id is not None:
        rows.append(
            ("Run id (in every output file)", "Id proses (di setiap berkas)", escape(run_id))
        )
    return heading(2, "provenance", "Provenance", "Asal-usul") + _kv(rows) + para(*tr("provenance"))


def _drawn(section: Callable[[Results], str], results: Results, anchor: str) -> str:
    """One section of the page; a section that cannot be drawn says why, the others stay."""
    try:
        return section(results)
    except Exception as exc:  # noqa: BLE001 - one section never takes the report down
        log.error("report section %s could not be drawn: %s", anchor, exc)
        titles = {a: (en, id_) for a, en, id_ in _TOC}
        en, id_ = titles.get(anchor, (anchor, anchor))
        return heading(2, anchor, en, id_) + notice(*tr("failed", reason=failure_reason(exc)))


def make_report(
    results: Results,
    *,
    language: str = "en",
    map_href: str | None = "map.html",
    embed_map: bool = True,
    print_maps: tuple[str, ...] = (),
    run_id: str | None = None,
) -> str:
    """Make the self-contained, bilingual HTML report of a run.

    Parameters
    ----------
    results
        What `geo_stunting.analyze` returned.
    language
        ``"en"`` (English) or ``"id"`` (Bahasa Indonesia): the language shown
        first; the page holds both, a button switches, and ``?lang=`` in the
        address overrides this.
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

    Returns
    -------
    str
        The HTML page. It fetches nothing from the network.

    Raises
    ------
    GeoStuntingError
        If `language` is neither ``"en"`` nor ``"id"``.
    """
    if language not in LANGUAGES:
        raise GeoStuntingError(
            Problem(f"language must be 'en' or 'id', got {language!r}", fix='language="id"')
        )
    name = str(results.sections.get("study", {}).get("name", results.study.name))
    toc = "".join(f'<a href="#{a}">{bi(en, id_)}</a>' for a, en, id_ in _TOC)
    body = "".join(
        [
            _drawn(_summary, results, "summary"),
            _drawn(_quality, results, "quality"),
            _drawn(_access, results, "access"),
            _drawn(clustering_section, results, "clustering"),
            _drawn(scan_section, results, "scan"),
            _drawn(risk_factor_html, results, "risk-factors"),
            _drawn(areas_section, results, "areas"),
            _map(map_href, embed_map, print_maps, home_points=len(results.study.subjects) > 0),
            _drawn(lambda r: _provenance(r, run_id), results, "provenance"),
        ]
    )
    n = len(results.study.subjects)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}" data-lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(name)} — geo_stunting</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(name)}<br><small>{bi(*tr('report'))} · "
        f"{n} {bi(*tr('children'))}</small></h1>"
        '<button id="lang-toggle" type="button">'
        f"{bi(*tr('switch'))}</button></header>\n"
        f"<nav>{toc}</nav>\n<main>{body}</main>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
