"""Verdicts a health office can act on: every p-value states its alternative, local classes are
corrected for multiple testing, and the words match the test."""

from __future__ import annotations

import json

import pytest

import geo_stunting as gs
from geo_stunting.outputs.map._summary import headlines
from geo_stunting.stats._alternatives import missing_alternatives


@pytest.fixture(scope="module")
def demo_results() -> gs.Results:
    return gs.analyze(gs.load_study(gs.demo_study_path()), permutations=19)


@pytest.fixture(scope="module")
def demo_sections(demo_results: gs.Results) -> dict:
    return json.loads(demo_results.to_json())


def test_every_p_value_in_results_json_states_its_alternative(demo_sections: dict) -> None:
    assert missing_alternatives(demo_sections) == []
    auto = demo_sections["autocorrelation"]
    assert auto["moran"]["alternative"] == "greater"
    assert auto["join_counts"]["alternative"] == "greater"
    assert demo_sections["pattern"]["kdiff"]["alternative"] == "greater"
    assert demo_sections["pattern"]["kdiff"]["p_global_alternative"] == "two-sided"
    assert {c["alternative"] for c in demo_sections["pattern"]["cuzick_edwards"]} == {"greater"}
    assert demo_sections["scan"]["alternative"] == "greater"
    assert demo_sections["access"]["test"]["alternative"] == "two-sided"


def test_a_p_value_without_alternative_is_found() -> None:
    tree = {"x": {"alternative": "greater", "y": [{"p_value": 0.1}]}, "z": {"lisa_p": 0.2}}
    assert missing_alternatives(tree) == ["z.lisa_p"]


def test_headlines_say_one_sided_and_corrected(demo_sections: dict) -> None:
    text = " ".join(headlines(demo_sections))
    assert "Moran's I" in text
    assert "one-sided" in text
    assert "false discovery rate 5 %" in text
    assert "before correcting" not in text
    assert (
        "Largest window: 50% of the subjects and a radius of 1,000 m, set in the study file" in text
    )
    lisa, raw = (
        demo_sections["autocorrelation"]["lisa"],
        demo_sections["autocorrelation"]["lisa_uncorrected"],
    )
    assert sum(lisa[k] for k in ("HH", "LH", "LL", "HL")) <= sum(
        raw[k] for k in ("HH", "LH", "LL", "HL")
    )


def test_strata_are_one_per_name_and_disagreements_with_villages_are_noted() -> None:
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    from geo_stunting.study._strata import harmonise_strata  # noqa: PLC0415

    area = gpd.GeoDataFrame(
        {"name": ["Saka Tiga", "Tanjung Agung"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs="EPSG:32748",
    )
    subjects = gpd.GeoDataFrame(
        {
            "subject_id": ["a", "b", "c", "d"],
            "stratum": ["SAKA TIGA", " Saka  Tiga ", "Saka Tiga", "saka tiga"],
        },
        geometry=gpd.points_from_xy([1, 2, 3, 15], [1, 2, 3, 5]),
        crs="EPSG:32748",
    )
    out, notes = harmonise_strata(subjects, area)
    assert set(out["stratum"]) == {"Saka Tiga"}
    assert subjects["stratum"].iloc[0] == "SAKA TIGA"  # the caller's frame is not changed
    assert any("4 spellings are 1 strata" in n for n in notes)
    assert any("1 subject(s) have a stratum that differs" in n and "(e.g. d)" in n for n in notes)


def test_report_says_nothing_to_compare_when_everyone_is_within_reach() -> None:
    from geo_stunting.outputs.report._page import make_report  # noqa: PLC0415
    from tests.test_report import with_sections  # noqa: PLC0415

    demo = gs.analyze(gs.load_study(gs.demo_study_path()), steps=["access"])
    access = dict(demo.sections["access"])
    access.update(
        cases_within=67,
        cases_outside=0,
        controls_within=134,
        controls_outside=0,
        odds_ratio=None,
        ci95=None,
    )
    access["test"] = {
        "name": "Fisher exact",
        "p_value": 1.0,
        "reason": "",
        "alternative": "two-sided",
    }
    html = make_report(with_sections(demo, access=access))
    assert "there is nothing to compare, so no test or odds ratio is given" in html
    assert "tidak ada yang dapat dibandingkan" in html
    assert "Fisher exact, p = 1.000" not in html
    access.update(cases_outside=3, controls_outside=5, odds_ratio=0.5, ci95=[0.1, 2.0])
    access["odds_ratio_haldane"] = True
    html = make_report(with_sections(demo, access=access))
    assert "Haldane: 0.5 added to every cell because one was 0" in html
    assert "Haldane: 0,5 ditambahkan ke setiap sel" in html


def test_indonesian_report_has_no_english_analysis_sentences(demo_results: gs.Results) -> None:
    import html  # noqa: PLC0415
    import re  # noqa: PLC0415

    from geo_stunting.outputs.report._page import make_report  # noqa: PLC0415

    page = make_report(demo_results)
    for tag in ("script", "style", "svg"):
        page = re.sub(rf"<{tag}.*?</{tag}>", "", page, flags=re.DOTALL)
    page = re.sub(r'<span class="en">.*?</span>', "", page, flags=re.DOTALL)
    text = html.unescape(re.sub(r"<[^>]+>", "\n", page))
    assert "dipilih otomatis: zona UTM" in text
    for english in (
        "chosen automatically",
        "expected count",
        "the smaller group",
        "not significant",
        " the children",
        " cases and ",
    ):
        assert english not in text


def test_scan_without_limits_chooses_its_largest_window_by_gini() -> None:
    from dataclasses import replace  # noqa: PLC0415

    from geo_stunting.scan._maxsize import GINI_SHARES, gini_coefficient  # noqa: PLC0415
    from geo_stunting.study._config import ScanOptions  # noqa: PLC0415

    study = gs.load_study(gs.demo_study_path())
    settings = replace(study.settings.with_overrides(permutations=99), scan=ScanOptions())
    results = gs.analyze(study.with_settings(settings), steps=["scan"])
    section = results.sections["scan"]
    tried = section["max_size"]["tried"]
    assert [t["max_share"] for t in tried] == list(GINI_SHARES)
    best = max(t["gini"] for t in tried)
    assert best > 0
    chosen = section["max_size"]["max_share"]
    assert next(t["gini"] for t in tried if t["max_share"] == chosen) == best
    assert section["settings"]["max_share"] == chosen
    significant = [(c["n"], c["cases"]) for c in section["clusters"] if c["p_value"] <= 0.05]
    assert gini_coefficient(significant, n_subjects=201, n_cases=67) == pytest.approx(best)
    text = " ".join(headlines(json.loads(results.to_json())))
    assert "Largest window: Gini-optimised maximum" in text


def test_window_keeps_the_areas_holding_subjects_unless_given_whole() -> None:
    import geopandas as gpd  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    from geo_stunting.pattern._window import as_window, make_window  # noqa: PLC0415

    area = gpd.GeoDataFrame(
        {"name": ["a", "b", "far"]},
        geometry=[
            shapely.box(0, 0, 1000, 1000),
            shapely.box(1000, 0, 2000, 1000),
            shapely.box(50_000, 0, 60_000, 10_000),
        ],
        crs="EPSG:32748",
    )
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([100, 500, 900, 1500, 1900], [100, 800, 300, 500, 900]),
        crs="EPSG:32748",
    )
    window = make_window(points, area=area)
    assert window.area_m2 == pytest.approx(2_000_000)  # the two villages with children: 2 km²
    assert any("1 of 3 study-area polygons hold no subject (100.0 km²)" in n for n in window.notes)
    whole = make_window(points, area=area, occupied_only=False)
    assert whole.area_m2 == pytest.approx(102_000_000)
    assert any("times the subjects' convex hull" in n for n in whole.notes)
    assert as_window(area, points).area_m2 == pytest.approx(102_000_000)  # given: used whole
