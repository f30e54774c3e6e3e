"""Tests for geo_stunting.risk_factors: tables, tests, odds ratios, correlations, the model.

Statistical reference values come from R: tests/reference/risk_factors/risk_factors.R
(chisq.test, fisher.test, prop.trend.test, shapiro.test, wilcox.test, t.test,
cor.test pearson + spearman, glm binomial) run on the committed fixtures subjects.csv
(made by make_fixture.py from the synthetic demo) and tables.csv, written to
risk_factors.json.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geo_stunting as gs
from geo_stunting.errors import AnalysisError, StudyFileError
from geo_stunting.risk_factors._analysis import (
    analyze_risk_factors,
    risk_factor_tables,
    risk_factor_tables_csv,
    risk_factors_step,
)
from geo_stunting.risk_factors._respondents import join_respondents
from geo_stunting.stats import _tables as tables
from geo_stunting.study._risk_spec import RiskFactorSpec, parse_risk_factor_section, resolve_factors

REFERENCE = Path(__file__).parent / "reference" / "risk_factors"
DEMO = Path(__file__).parents[1] / "data" / "demo"


def close(actual: Any, expected: Any, rel: float = 1e-6) -> None:
    if expected is None:
        assert actual is None
        return
    if isinstance(expected, list):
        assert actual is not None
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            close(a, e, rel)
        return
    assert actual == pytest.approx(expected, rel=rel, abs=1e-12)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    # Produced by tests/reference/risk_factors/risk_factors.R
    data: dict[str, Any] = json.loads((REFERENCE / "risk_factors.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def subjects() -> pd.DataFrame:
    frame = pd.read_csv(REFERENCE / "subjects.csv", dtype={"id": str})
    return frame.rename(columns={"id": "subject_id"})


@pytest.fixture(scope="module")
def section(subjects: pd.DataFrame, reference: dict[str, Any]) -> dict[str, Any]:
    result = analyze_risk_factors(subjects, spec=reference["spec"], seed=1)
    out: dict[str, Any] = result.to_dict()
    return out


def by_factor(section: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["factor"]: f for f in section["factors"]}


# --------------------------------------------------------------------------- R: categorical


def test_categorical_factors_match_r(section: dict[str, Any], reference: dict[str, Any]) -> None:
    factors = by_factor(section)
    for name in [*reference["spec"]["categorical"], *reference["spec"]["ordinal"]]:
        ref, got = reference["factors"][name], factors[name]
        assert (got["n"], got["n_missing"]) == (ref["n"], ref["n_missing"]), name
        levels = {lv["level"]: lv for lv in got["levels"]}
        assert set(levels) == set(ref["levels"]), name
        for level, expected in ref["levels"].items():
            assert levels[level]["cases"] == expected["cases"]
            assert levels[level]["controls"] == expected["controls"]
            close(levels[level]["odds_ratio"], expected["odds_ratio"])
            close(levels[level]["ci95"], expected["ci95"])
        association = got.get("association") or {
            "name": got["test"],
            "statistic": got["statistic"],
            "p_value": got["p_value"],
            "min_expected": got["min_expected"],
        }
        assert association["name"] == ref["test"], name
        close(association["min_expected"], ref["min_expected"])
        if ref["test"].startswith("chi-square"):
            close(association["statistic"], ref["chisq_statistic"])
            close(association["p_value"], ref["chisq_p_value"])
        else:
            close(association["p_value"], ref["fisher_p_value"])


def test_two_level_factor_reports_its_odds_ratio_and_row_percentages(
    section: dict[str, Any], reference: dict[str, Any]
) -> None:
    got = by_factor(section)["mother_knowledge"]
    ref = reference["factors"]["mother_knowledge"]
    assert got["reference"] == "good"
    assert [lv["level"] for lv in got["levels"]] == ["poor", "good"]  # exposed first
    close(got["odds_ratio"], ref["levels"]["poor"]["odds_ratio"])
    close(got["ci95"], ref["levels"]["poor"]["ci95"])
    poor = got["levels"][0]
    assert poor["row_pct_cases"] == pytest.approx(100 * poor["cases"] / poor["total"])
    assert poor["pct_of_cases"] == pytest.approx(100 * poor["cases"] / got["n_cases"])
    assert "2×2 table" in got["reason"]


def test_ordinal_factor_uses_the_trend_test_of_r(
    section: dict[str, Any], reference: dict[str, Any]
) -> None:
    got = by_factor(section)["mother_education"]
    ref = reference["factors"]["mother_education"]
    assert got["test"] == "chi-square for trend (Cochran-Armitage)"
    close(got["statistic"], ref["trend_statistic"])
    close(got["p_value"], ref["trend_p_value"])
    assert [lv["level"] for lv in got["levels"]] == ["primary", "junior", "senior", "higher"]
    assert got["reference"] == "primary"
    # an expected count is below 5, so the unordered test is the exact FFH test
    assert got["association"]["name"] == "Fisher-Freeman-Halton exact"
    close(got["association"]["p_value"], ref["fisher_p_value"])


# --------------------------------------------------------------------------- R: continuous


def test_continuous_factors_match_r(section: dict[str, Any], reference: dict[str, Any]) -> None:
    factors = by_factor(section)
    for name in reference["spec"]["continuous"]:
        ref, got = reference["factors"][name], factors[name]
        assert (got["n"], got["n_missing"]) == (ref["n"], ref["n_missing"]), name
        for group in ("all", "cases", "controls"):
            for key in ("n", "mean", "sd", "median", "q1", "q3", "min", "max"):
                close(got["groups"][group][key], ref[group][key])
        for group in ("cases", "controls"):
            close(got["normality"][group]["W"], ref[f"shapiro_{group}_W"])
            close(got["normality"][group]["p_value"], ref[f"shapiro_{group}_p"])
        close(got["mann_whitney"]["statistic"], ref["mann_whitney_W"])
        close(got["mann_whitney"]["p_value"], ref["mann_whitney_p"])
        close(got["welch"]["statistic"], ref["welch_t"])
        close(got["welch"]["df"], ref["welch_df"])
        close(got["welch"]["p_value"], ref["welch_p"])
        close(got["welch"]["ci95"], ref["welch_ci95"])
        close(got["welch"]["mean_difference"], ref["welch_mean_difference"])
        close(got["correlation_pearson"]["r"], ref["pearson_r"])
        close(got["correlation_pearson"]["statistic"], ref["pearson_t"])
        close(got["correlation_pearson"]["p_value"], ref["pearson_p"])
        close(got["correlation_pearson"]["ci95"], ref["pearson_ci95"])
        close(got["correlation_spearman"]["rho"], ref["spearman_rho"])
        close(got["correlation_spearman"]["statistic"], ref["spearman_S"])
        close(got["correlation_spearman"]["p_value"], ref["spearman_p"])


def test_continuous_test_follows_shapiro_wilk(
    section: dict[str, Any], reference: dict[str, Any]
) -> None:
    seen = set()
    for name in reference["spec"]["continuous"]:
        ref, got = reference["factors"][name], by_factor(section)[name]
        normal = min(ref["shapiro_cases_p"], ref["shapiro_controls_p"]) >= 0.05
        assert got["test"] == ("Welch t" if normal else "Mann-Whitney U"), name
        expected_p = ref["welch_p"] if normal else ref["mann_whitney_p"]
        close(got["p_value"], expected_p)
        assert "Shapiro-Wilk" in got["reason"]
        seen.add(got["test"])
    assert seen == {"Welch t", "Mann-Whitney U"}  # the fixture exercises both branches


def test_small_groups_fall_back_to_mann_whitney() -> None:
    frame = pd.DataFrame(
        {
            "subject_id": [f"S{i}" for i in range(6)],
            "status": ["case", "case", "control", "control", "control", "control"],
            "x": [1.0, 2.0, 1.5, 3.0, 2.5, 4.0],
        }
    )
    result = analyze_risk_factors(frame, spec={"continuous": ["x"]})
    (factor,) = result.to_dict()["factors"]
    assert factor["test"] == "Mann-Whitney U"
    assert "not testable" in factor["reason"]
    assert factor["normality"]["cases"]["W"] is None


# --------------------------------------------------------------------------- R: model


def test_logistic_regression_matches_r_glm(
    section: dict[str, Any], reference: dict[str, Any]
) -> None:
    pytest.importorskip("statsmodels")
    model, ref = section["logistic"], reference["logistic"]
    assert model["status"] == "done"
    assert (model["n"], model["n_cases"]) == (ref["n"], ref["n_cases"])
    assert model["n_excluded_missing"] == 201 - ref["n"]
    names = {
        "(Intercept)": model["intercept"],
        **{t["factor"] + (t["level"] or ""): t for t in model["terms"]},
    }
    assert set(names) == set(ref["terms"])
    for name, expected in ref["terms"].items():
        got = names[name]
        for key in ("coefficient", "se", "z", "p_value", "odds_ratio", "ci95"):
            close(got[key], expected[key])
    for key in ("log_likelihood", "deviance", "null_deviance", "aic"):
        close(model[key], ref[key])
    assert model["converged"]


def test_logistic_odds_ratio_per_chosen_units(
    subjects: pd.DataFrame, reference: dict[str, Any]
) -> None:
    pytest.importorskip("statsmodels")
    spec = dict(reference["spec"], per={"water_mn_mgl": 0.1, "lighting_lux": 10})
    model = analyze_risk_factors(subjects, spec=spec).to_dict()["logistic"]
    terms = {t["term"]: t for t in model["terms"]}
    for name, per in (("water_mn_mgl", 0.1), ("lighting_lux", 10.0)):
        ref = reference["logistic"]["terms"][name]
        assert terms[name]["per"] == per
        close(terms[name]["coefficient"], ref["coefficient"])  # still per unit
        close(terms[name]["odds_ratio"], ref["odds_ratio"] ** per)
        close(terms[name]["ci95"], [v**per for v in ref["ci95"]])
    assert terms["mother_knowledge[poor]"]["per"] == 1.0


def test_logistic_regression_without_statsmodels_says_how_to_install(
    subjects: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("statsmodels.genmod.generalized_linear_model", "statsmodels.genmod.families"):
        monkeypatch.setitem(sys.modules, name, None)  # as if statsmodels were not installed
    spec = {"categorical": ["mother_knowledge"], "logistic": ["mother_knowledge"]}
    section = analyze_risk_factors(subjects, spec=spec).to_dict()
    assert section["logistic"]["status"] == "skipped"
    assert "pip install statsmodels" in section["logistic"]["reason"]
    assert section["factors"][0]["p_value"] is not None  # the tables are still made


# --------------------------------------------------------------------------- R: small tables


def test_small_tables_match_r(reference: dict[str, Any]) -> None:
    for name, ref in reference["tables"].items():
        table = np.column_stack([ref["cases"], ref["controls"]])
        got = tables.contingency_test(table)
        assert got.name == ref["test"], name
        close(got.min_expected, ref["min_expected"])
        if ref["test"].startswith("chi-square"):
            close(got.statistic, ref["chisq_statistic"])
            close(got.p_value, ref["chisq_p_value"])
            assert got.df == ref["chisq_df"]
        else:
            close(got.p_value, ref["fisher_p_value"])
        p, method = tables.fisher_freeman_halton(table)
        close(p, ref["fisher_p_value"])
        assert method.startswith("exact")
        trend = tables.trend_test(ref["cases"], np.asarray(ref["cases"]) + ref["controls"])
        close(trend.statistic, ref["trend_statistic"])
        close(trend.p_value, ref["trend_p_value"])


def test_exact_test_falls_back_to_seeded_monte_carlo(
    reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = reference["tables"]["t5"]
    table = np.column_stack([ref["cases"], ref["controls"]])
    monkeypatch.setattr(tables, "MAX_EXACT_STATES", 3)
    monkeypatch.setattr(tables, "MONTE_CARLO_DRAWS", 4999)
    p1, method = tables.fisher_freeman_halton(table, seed=11)
    p2, _ = tables.fisher_freeman_halton(table, seed=11)
    assert method.startswith("Monte Carlo")
    assert "seed 11" in method
    assert p1 == p2
    assert p1 == pytest.approx(ref["fisher_p_value"], abs=0.02)


def test_tables_with_one_level_are_not_tested() -> None:
    got = tables.contingency_test([[5, 7], [0, 0]])
    assert got.name == "not tested"
    assert got.p_value is None


# --------------------------------------------------------------------------- the study file


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"categorcal": ["a"]}, r"unknown key 'categorcal'.*did you mean 'categorical'"),
        ({"categorical": ["a"], "continuous": ["a"]}, r"'a' is listed more than once"),
        ({"categorical": "a"}, r"categorical must be a list of column names"),
        ({"ordinal": {"edu": ["low"]}}, r"at least two distinct levels"),
        (
            {"ordinal": {"edu": ["low", "high"]}, "reference": {"edu": "middle"}},
            r"reference 'middle' of 'edu' is not one of its levels",
        ),
        (
            {"categorical": ["knowledge"], "reference": {"knowlege": "good"}},
            r"did you mean 'knowledge'",
        ),
        ({"continuous": ["x"], "reference": {"x": "1"}}, r"'x' is continuous and has no reference"),
        ({"categorical": ["a"], "labels": {"a": 3}}, r"labels must be a table of text"),
        ({"categorical": ["a"], "logistic": ["b"]}, r"logistic names 'b'"),
        ({"continuous": ["x"], "per": {"x": 0}}, r"per must be a table of positive numbers"),
        ({"categorical": ["a"], "per": {"a": 10}}, r"per applies to continuous factors"),
        ({"respondents": {"file": "r.csv"}}, r"unknown key 'file' in \[risk_factors\] respondents"),
        ({"respondents": {"id": "id"}}, r"respondents needs a path"),
    ],
)
def test_section_errors_name_the_key_and_the_fix(section: dict[str, Any], message: str) -> None:
    with pytest.raises(StudyFileError, match=message):
        parse_risk_factor_section(section, source="study.toml")


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(StudyFileError) as info:
        parse_risk_factor_section({"categorcal": [], "labls": {}})
    assert len(info.value.problems) == 2


def test_data_errors_name_the_closest_column_and_level(subjects: pd.DataFrame) -> None:
    with pytest.raises(
        StudyFileError, match=r"'mother_knowlege' is not a column.*'mother_knowledge'"
    ):
        analyze_risk_factors(subjects, spec={"categorical": ["mother_knowlege"]})
    with pytest.raises(StudyFileError, match=r"reference 'god' .* did you mean 'good'"):
        analyze_risk_factors(
            subjects,
            spec={"categorical": ["mother_knowledge"], "reference": {"mother_knowledge": "god"}},
        )
    with pytest.raises(StudyFileError, match=r"value\(s\) \['higher'\] that are not among"):
        analyze_risk_factors(
            subjects, spec={"ordinal": {"mother_education": ["primary", "junior", "senior"]}}
        )


def test_column_and_level_case_is_forgiven(subjects: pd.DataFrame) -> None:
    spec = {"categorical": ["Mother_Knowledge"], "reference": {"Mother_Knowledge": "GOOD"}}
    section = analyze_risk_factors(subjects, spec=spec).to_dict()
    assert section["factors"][0]["reference"] == "good"
    assert any("'mother_knowledge' used for the factor" in n for n in section["notes"])


def test_text_in_a_continuous_column_is_noted_not_dropped_silently() -> None:
    frame = pd.DataFrame(
        {
            "subject_id": ["a", "b", "c", "d", "e", "f"],
            "status": ["case", "case", "case", "control", "control", "control"],
            "lux": ["12", "12,5", "bright", "20", "21", ""],
        }
    )
    section = analyze_risk_factors(frame, spec={"continuous": ["lux"]}).to_dict()
    factor = section["factors"][0]
    assert (factor["n"], factor["n_missing"]) == (4, 2)
    assert factor["groups"]["cases"]["mean"] == pytest.approx(12.25)  # decimal comma read
    assert any("'bright'" in n and "treated as missing" in n for n in section["notes"])


# --------------------------------------------------------------------------- inference


def test_factors_are_inferred_without_a_section(subjects: pd.DataFrame) -> None:
    frame = subjects.assign(code=[f"C{i}" for i in range(len(subjects))], flag=[0, 1] * 100 + [0])
    result = analyze_risk_factors(frame)
    types = {f.factor: f.type for f in result.factors}
    assert result.inferred
    assert types["lighting_lux"] == types["age_months"] == "continuous"
    assert types["mother_knowledge"] == types["mother_education"] == "categorical"
    assert types["flag"] == "categorical"  # two numbers
    assert "code" not in types
    assert "subject_id" not in types
    assert "status" not in types
    refs = {f.factor: f.reference for f in result.factors}
    assert refs["income_below_umr"] == "no"
    assert refs["mother_knowledge"] == "good"
    assert refs["sex"] == "F"  # most common level, said so in a note
    text = " ".join(result.notes)
    assert "inferred" in text
    assert "code (201 levels)" in text
    assert "'F' is the most common" in text


def test_a_row_number_column_is_not_inferred_as_a_factor(subjects: pd.DataFrame) -> None:
    # a spreadsheet's "No" column, with the numbers of a few rejected rows missing, is not
    # a risk factor; a measurement with every value different (birth weight, grams) still is
    n = len(subjects)
    numbers = np.delete(np.arange(1, n + 8), [4, 50, 51, 120, 121, 122, 199])
    grams = 2400 + 7 * np.random.default_rng(1).permutation(n)
    frame = subjects.assign(No=numbers, birth_weight_g=grams)
    result = analyze_risk_factors(frame)
    types = {f.factor: f.type for f in result.factors}
    assert "No" not in types
    assert types["birth_weight_g"] == "continuous"
    text = " ".join(result.notes)
    assert f"No (row numbers: {n} different whole numbers from 1 to {n + 7})" in text


def test_inferred_section_checks_references_against_inferred_factors(
    subjects: pd.DataFrame,
) -> None:
    with pytest.raises(StudyFileError, match=r"not an inferred factor.*'sex'"):
        analyze_risk_factors(subjects, spec={"reference": {"sexe": "M"}})
    result = analyze_risk_factors(subjects, spec={"reference": {"sex": "M"}})
    assert {f.factor: f.reference for f in result.factors}["sex"] == "M"


# --------------------------------------------------------------------------- respondents


def test_respondents_join_reports_every_row_that_does_not_join(
    tmp_path: Path, subjects: pd.DataFrame
) -> None:
    (tmp_path / "respondents.csv").write_text(
        "id;knowledge;income\n"
        "S001;poor;1200\nS002;good;2500\nS003;poor;900\nS003;good;800\n"
        "S999;good;3000\nS004;good;2000\n;poor;100\nSREJ;good;50\n",
        encoding="utf-8",
    )
    few = subjects.head(6)
    spec = parse_risk_factor_section(
        {"respondents": {"path": "respondents.csv"}, "categorical": ["knowledge"]}, base=tmp_path
    )
    joined, report, notes = join_respondents(few, spec.respondents, rejected_ids={"SREJ"})
    assert len(joined) == 6  # nothing dropped
    assert report["n_rows"] == 8
    assert report["n_joined"] == 3
    assert report["duplicate_ids"] == ["S003"]
    reasons = {r["id"]: r["reason"] for r in report["respondents_without_subject"]}
    assert reasons["S999"] == "no subject has this id"
    assert "rejected at validation" in reasons["SREJ"]
    assert "more than once" in reasons["S003"]
    assert reasons[""] == "no id"
    assert report["subjects_without_respondent"] == ["S003", "S005", "S006"]
    assert joined["knowledge"].isna().sum() == 3
    assert any("did not join" in n for n in notes)
    result = analyze_risk_factors(few, spec=spec).to_dict()
    assert result["factors"][0]["n_missing"] == 3
    assert result["respondents"]["n_joined"] == 3


# --------------------------------------------------------------------------- the step


def study_with_section(tmp_path: Path, section: str) -> Path:
    for name in ("subjects.csv", "facilities.csv", "villages.geojson"):
        (tmp_path / name).write_bytes((DEMO / name).read_bytes())
    demo = (DEMO / "study.toml").read_text("utf-8")
    demo = demo.split("[risk_factors]")[0]  # the demo's own section is replaced by `section`
    text = demo + "\n" + section
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


SECTION = """
[risk_factors]
categorical = [
    "mother_knowledge", "income_below_umr", "exclusive_breastfeeding", "infectious_disease",
]
ordinal = { mother_education = ["primary", "junior", "senior", "higher"] }
continuous = [
    "lighting_lux", "humidity_pct", "water_mn_mgl", "water_ph", "water_temp_c", "room_temp_c",
    "water_salinity_ppt",
]
reference = { mother_knowledge = "good", income_below_umr = "no", infectious_disease = "no" }
labels = { income_below_umr = "Family income below UMR" }
"""


def test_step_reads_the_study_file_and_finds_the_demo_associations(tmp_path: Path) -> None:
    study = gs.load_study(study_with_section(tmp_path, SECTION))
    output = risk_factors_step(study)
    section = dict(output.section)
    assert section["source"] == "study file [risk_factors]"
    factors = by_factor(section)
    assert factors["income_below_umr"]["label"] == "Family income below UMR"
    associated = ("mother_knowledge", "income_below_umr", "infectious_disease", "lighting_lux",
                  "humidity_pct", "water_mn_mgl")  # fmt: skip
    for name in associated:
        assert factors[name]["p_value"] < 0.05, name
    for name in ("water_ph", "water_temp_c", "room_temp_c", "water_salinity_ppt"):
        assert factors[name]["p_value"] > 0.05, name
    assert factors["lighting_lux"]["correlation_pearson"]["r"] < 0  # less light among cases
    assert factors["water_mn_mgl"]["correlation_spearman"]["rho"] > 0
    json.dumps(gs.pipeline.jsonable(section), allow_nan=False)


def test_a_bad_section_is_reported_when_the_study_is_loaded(tmp_path: Path) -> None:
    path = study_with_section(tmp_path, "[risk_factors]\ncategorcal = []\n")
    with pytest.raises(gs.StudyFileError, match=r"'categorcal'.*did you mean 'categorical'"):
        gs.load_study(path)
    path = study_with_section(tmp_path, '[risk_factors]\ncategorical = ["mother_knowlege"]\n')
    results = gs.analyze(gs.load_study(path), steps=["risk_factors"])
    state = results.sections["steps"]["risk_factors"]
    assert state["status"] == "failed"
    assert "factor 'mother_knowlege' is not a column" in state["reason"]
    assert "did you mean 'mother_knowledge'" in state["reason"]


def test_step_infers_factors_for_a_study_built_from_frames() -> None:
    subjects = gs.load_study(gs.demo_study_path()).subjects
    study = gs.study_from_frames(subjects, status="status")
    section = dict(risk_factors_step(study).section)
    assert section["source"] == "inferred from the subjects' columns"
    assert {f["factor"] for f in section["factors"]} >= {"mother_knowledge", "water_mn_mgl"}


def test_same_input_same_section(subjects: pd.DataFrame, reference: dict[str, Any]) -> None:
    first = analyze_risk_factors(subjects, spec=reference["spec"]).to_dict()
    second = analyze_risk_factors(subjects, spec=reference["spec"]).to_dict()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_only_cases_is_an_analysis_error() -> None:
    frame = pd.DataFrame({"subject_id": ["a", "b"], "status": ["case", "case"], "x": [1.0, 2.0]})
    with pytest.raises(AnalysisError, match="there are no controls"):
        analyze_risk_factors(frame)


# --------------------------------------------------------------------------- tables and CSV


def test_tables_and_csv(section: dict[str, Any]) -> None:
    built = risk_factor_tables(section)
    table2 = built["table2"]
    row = table2[(table2["factor"] == "mother_knowledge") & (table2["level"] == "poor")].iloc[0]
    factor = by_factor(section)["mother_knowledge"]
    assert row["cases_n"] == factor["levels"][0]["cases"]
    assert row["or_95ci"] == (
        f"{factor['odds_ratio']:.2f} ({factor['ci95'][0]:.2f}–{factor['ci95'][1]:.2f})"
    )
    assert row["p"] == "< 0.001"
    ref_row = table2[(table2["factor"] == "mother_knowledge") & (table2["level"] == "good")].iloc[0]
    assert ref_row["or_95ci"] == "ref"
    table1 = built["table1"]
    assert list(table1[table1["factor"] == "lighting_lux"]["row"]) == [
        "mean ± SD",
        "median [IQR]",
        "missing",
    ]
    assert len(built["table3"]) == 16
    csv = risk_factor_tables_csv({"risk_factors": section})
    names = {"risk_factors_table1.csv", "risk_factors_table2.csv", "risk_factors_table3.csv"}
    assert names <= set(csv)
    header = csv["risk_factors_table2.csv"].splitlines()[0]
    assert header.startswith("factor,label,level,reference,cases_n,cases_row_pct")
    if section["logistic"]["status"] == "done":
        assert "risk_factors_logistic.csv" in csv
    assert risk_factor_tables_csv({"study": {}}) == {}


def test_format_p_prints_less_than_not_zero() -> None:
    from geo_stunting.risk_factors._tables import format_p  # noqa: PLC0415

    assert format_p(0.0000123) == "< 0.001"
    assert format_p(0.0071) == "0.007"
    assert format_p(None) == "–"
    assert format_p(math.nan) == "–"


def test_empty_spec_object_infers(subjects: pd.DataFrame) -> None:
    factors, notes = resolve_factors(RiskFactorSpec(), subjects.drop(columns=["status"]))
    assert factors
    assert "inferred" in notes[0]
