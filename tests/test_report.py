"""Tests for geo_stunting.outputs.report._page: the self-contained, bilingual study report."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import geo_stunting as gs
import geo_stunting.risk_factors._analysis
from geo_stunting.errors import GeoStuntingError
from geo_stunting.outputs.report._i18n import languages
from geo_stunting.outputs.report._page import make_report
from geo_stunting.outputs.report._svg import nice_ticks
from geo_stunting.outputs.report._text import tr
from geo_stunting.risk_factors._analysis import risk_factor_tables_csv

DEMO = Path(__file__).parents[1] / "data" / "demo"


@pytest.fixture(scope="module")
def demo() -> gs.Results:
    study = gs.load_study(gs.demo_study_path())
    return gs.analyze(study, steps=["access", "risk_factors"], permutations=19)


def with_sections(results: gs.Results, **sections: Any) -> gs.Results:
    merged = dict(results.sections)
    steps = dict(merged["steps"])
    for name, value in sections.items():
        if isinstance(value, dict) and "status" in value and len(value) <= 2:
            steps[name] = value
            merged.pop(name, None)
        else:
            steps[name] = {"status": "done"}
            merged[name] = value
    merged["steps"] = steps
    return replace(results, sections=merged)


def fake_pattern() -> dict[str, Any]:
    r = np.linspace(0, 3000, 50)
    return {
        "clark_evans": {
            "cases": {"R_naive": 0.25, "p_mc": 0.02, "p_value": 0.0},
            "controls": {"R_naive": 0.2, "p_mc": 0.02},
        },
        "kdiff": {
            "r_m": r.tolist(),
            "kdiff": (np.sin(r / 500) * 2e6).tolist(),
            "lo": (-3e6 - r * 10).tolist(),
            "hi": (3e6 + r * 10).tolist(),
            "global_lo": [-5e6] * 50,
            "global_hi": [5e6] * 50,
            "p_value": 0.12,
            "p_global": 0.35,
        },
        "kdiff_within_strata": {"p_value": 0.01},
        "cuzick_edwards": [{"k": 1, "T": 32, "expected": 22.1, "p_mc": 0.01}],
    }


def fake_autocorrelation() -> dict[str, Any]:
    return {
        "weights": {"rule": "knn:5"},
        "moran": {
            "I": 0.084,
            "expected": -0.005,
            "p_sim": 0.04,
            "weights": "knn:5; row-standardised",
        },
        "join_counts": {"bb": 66, "expected_bb": 55.6, "p_sim_bb": 0.09},
        "lisa": {"HH": 9, "LH": 6, "LL": 0, "HL": 0, "not significant": 186, "isolate": 0},
    }


def fake_scan() -> dict[str, Any]:
    cluster = {
        "rank": 1,
        "centre_lon": 104.616802,
        "centre_lat": -3.157309,
        "radius_m": 701.3,
        "n": 18,
        "cases": 14,
        "expected": 6.0,
        "relative_risk": 2.69,
        "llr": 8.27,
        "p_value": 0.01,
    }
    return {"clusters": [cluster]}


# --------------------------------------------------------------------------- the page


def test_report_is_self_contained(demo: gs.Results) -> None:
    html = make_report(demo)
    assert html.startswith("<!DOCTYPE html>")
    # nothing is fetched: no external script, style, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html
    assert "@import" not in html
    assert "url(http" not in html
    assert "<script src" not in html
    assert html.count("<svg") >= 2  # distances by group, odds ratios
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.DOTALL):
        ET.fromstring(svg)  # well-formed
    assert '<iframe class="map" src="map.html"' in html


def test_both_languages_and_the_switch(demo: gs.Results) -> None:
    html = make_report(demo)
    assert '<html lang="en" data-lang="en" data-languages="en id">' in html
    assert 'id="lang-toggle"' in html
    assert "URLSearchParams" in html
    for en, id_ in (
        ("Access to health facilities", "Akses ke fasilitas kesehatan"),
        ("Risk factors", "Faktor risiko"),
        ("Data quality", "Kualitas data"),
    ):
        assert f'<span class="en">{en}</span><span class="id">{id_}</span>' in html
    indonesian = make_report(demo, language="id")
    assert '<html lang="id" data-lang="id"' in indonesian
    assert indonesian.replace('lang="id" data-lang="id"', 'lang="en" data-lang="en"', 1) == html
    with pytest.raises(GeoStuntingError, match="language must be one of 'en', 'id'"):
        make_report(demo, language="fr")


def test_a_sentence_in_both_languages_with_its_values() -> None:
    with languages(["en", "id"]):
        text = tr("strata", p="p = 0.010", verdict=tr("strata_yes"))
    assert text.get("en") == (
        "Shuffling labels only within each village: cases still cluster within villages "
        "(p = 0.010)."
    )
    assert text.get("id") == (
        "Pengacakan label hanya di dalam tiap desa: kasus tetap mengelompok di dalam desa "
        "(p = 0.010)."
    )


def test_same_results_same_page(demo: gs.Results) -> None:
    assert make_report(demo) == make_report(demo)


def test_access_and_summary_in_plain_words(demo: gs.Results) -> None:
    html = make_report(demo)
    access = demo.sections["access"]
    assert (
        f"{access['cases_within']} of {demo.study.n_cases} cases (100.0%) and "
        f"{access['controls_within']} of {demo.study.n_controls} controls" in html
    )
    assert "tinggal dalam jarak 2.000 m dari fasilitas kesehatan" in html  # Indonesian numbers
    assert "live within 2,000 m of" in html
    assert "20231" in html
    assert "20,231" not in html


# --------------------------------------------------------------------------- steps


def test_steps_not_run_say_why(demo: gs.Results) -> None:
    results = with_sections(
        demo,
        pattern={"status": "not_available", "reason": "not implemented in this version"},
        autocorrelation={"status": "skipped", "reason": "the study has no controls"},
    )
    html = make_report(results)
    assert "Not run in this version of geo_stunting." in html
    assert "Belum dijalankan pada versi geo_stunting ini." in html
    assert "Skipped: the study has no controls" in html
    assert "Not requested in this run." in html  # scan was not asked for


def test_clustering_and_scan_sections_render(demo: gs.Results) -> None:
    results = with_sections(
        demo, pattern=fake_pattern(), autocorrelation=fake_autocorrelation(), scan=fake_scan()
    )
    html = make_report(results)
    assert "the cases look clustered (Clark–Evans R = 0.25" in html
    assert "But the controls give R = 0.20" in html
    assert (
        "the cases do not cluster more than the controls (K_case − K_control, one-sided D+ "
        "test, p = 0.120" in html
    )
    assert "cases still cluster within villages (p = 0.010)" in html
    assert "the neighbours of cases are cases more often than chance would have it" in html
    assert "K_case − K_control (km²)" in html  # large values shown in km²
    assert "Moran scatter plot" in html
    assert "18 children within 701 m, 14 of them cases where 6.0 were expected" in html
    assert "-3.16, 104.62" in html
    assert "104.6168" not in html
    assert html.count("<svg") >= 4


def test_broken_sections_do_not_break_the_page(demo: gs.Results) -> None:
    pattern = fake_pattern()
    pattern["kdiff"]["lo"] = [None, "x"]
    results = with_sections(demo, pattern=pattern, scan={"clusters": "nonsense"})
    html = make_report(results)
    assert "K_case − K_control with envelope" not in html
    assert "No window has more cases than expected." in html


# --------------------------------------------------------------------------- risk factors


def test_risk_factor_tables_in_the_page(demo: gs.Results) -> None:
    html = make_report(demo)
    assert "Table 1. Characteristics of cases and controls" in html
    assert "Tabel 2. Faktor kategorik dan stunting" in html
    assert "Table 3. Continuous factors" in html
    assert "Mother&#39;s knowledge" in html  # the demo's labels, escaped by markupsafe
    assert "Income below UMR" in html
    assert "&lt; 0.001" in html  # "<" escaped
    assert ">0.000<" not in html
    assert "p = 0.000" not in html
    links = re.findall(
        r'download="([^"]+)" href="data:text/csv;charset=utf-8;base64,([^"]+)"', html
    )
    csv = risk_factor_tables_csv(demo)
    assert {name for name, _ in links} == set(csv)
    for name, data in links:
        assert base64.b64decode(data).decode("utf-8") == csv[name]


def test_logistic_table_when_the_model_ran(tmp_path: Path) -> None:
    pytest.importorskip("statsmodels")
    for name in ("subjects.csv", "facilities.csv", "villages.geojson"):
        (tmp_path / name).write_bytes((DEMO / name).read_bytes())
    text = (DEMO / "study.toml").read_text("utf-8").split("[risk_factors]")[0] + (
        '\n[risk_factors]\ncategorical = ["mother_knowledge", "infectious_disease"]\n'
        'continuous = ["water_mn_mgl"]\nlogistic = ["mother_knowledge", "water_mn_mgl"]\n'
        'reference = { mother_knowledge = "good", infectious_disease = "no" }\n'
    )
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    results = gs.analyze(gs.load_study(tmp_path / "study.toml"), steps=["risk_factors"])
    html = make_report(results, map_href=None)
    assert "Table 4. Multivariable logistic regression (n = 201, 67 cases" in html
    assert "per satuan" in html  # water_mn_mgl per unit
    assert "<iframe" not in html
    assert "No map with this report." in html


# --------------------------------------------------------------------------- data quality


def test_rejected_rows_and_escaping(write_study: Any) -> None:
    from tests.conftest import SUBJECT_HEADER, good_rows  # noqa: PLC0415

    rows = [*good_rows(), "S099,case,Desa A,0,0,1000"]
    path = write_study(subjects="\n".join([SUBJECT_HEADER, *rows]) + "\n")
    text = path.read_text("utf-8").replace('name = "Test study"', 'name = "<script>x</script>"')
    path.write_text(text, encoding="utf-8")
    results = gs.analyze(gs.load_study(path), steps=["access"])
    html = make_report(results)
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "S099" in html
    assert "Rejected rows (1 of 1 shown; all in rejects.csv)" in html
    assert "Baris ditolak (1 dari 1 ditampilkan" in html
    assert "coordinates 0, 0 are what a GPS app writes" in html  # the reason, in both languages
    assert "koordinat 0, 0 adalah yang ditulis aplikasi GPS" in html


def test_nice_ticks_cover_the_range() -> None:
    assert nice_ticks(0, 2280) == [0, 500, 1000, 1500, 2000, 2500]
    assert nice_ticks(-0.7, 1.4)[0] <= -0.7
    assert nice_ticks(-0.7, 1.4)[-1] >= 1.4
    assert nice_ticks(5, 5) == [5, 6, 7, 8, 9, 10]
