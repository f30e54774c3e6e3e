"""The study file: a public contract, with errors that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo_stunting import StudyFileError, load_study, read_study_file
from geo_stunting.study._config import parse_weights


def test_reads_every_documented_key(write_study):
    path = write_study(
        subjects_section='crs = "EPSG:4326"\ncase = ["case", "stunting", 1]\ncontrol = ["control"]',
        analysis='crs = "EPSG:32748"\nbuffer_m = 1500\nweights = "distance:2000"\n'
        'steps = ["access", "pattern"]',
    )
    config = read_study_file(path)
    assert config.name == "Test study"
    assert config.subjects.path == path.parent / "subjects.csv"
    assert config.subjects.case == ("case", "stunting", "1")
    assert config.subjects.stratum == "village"
    assert config.facilities is not None
    assert config.facilities.kind == "type"
    assert config.area is not None
    assert config.area.name == "nama"
    assert config.analysis.buffer_m == 1500.0
    assert config.analysis.permutations == 99
    assert config.analysis.seed == 7
    assert config.analysis.steps == ("access", "pattern")
    assert len(config.sha256 or "") == 64


def test_unknown_key_names_the_closest_valid_one(write_study):
    path = write_study(subjects_section='stratm = "village"')
    with pytest.raises(
        StudyFileError, match=r"unknown key 'stratm' in \[subjects\].*did you mean 'stratum'"
    ):
        read_study_file(path)


def test_unknown_section_names_the_closest(write_study):
    path = write_study(extra="[analyses]\nseed = 1")
    with pytest.raises(
        StudyFileError, match=r"unknown section 'analyses'.*did you mean 'analysis'"
    ):
        read_study_file(path)


def test_every_unknown_key_is_reported_at_once(write_study):
    path = write_study(subjects_section='idd = "id"\nstatuss = "status"')
    with pytest.raises(StudyFileError) as info:
        read_study_file(path)
    assert len(info.value.problems) == 2
    assert "'idd'" in str(info.value)
    assert "'statuss'" in str(info.value)


@pytest.mark.parametrize(
    ("analysis", "match"),
    [
        (
            'buffer_m = "2 km"',
            r"buffer_m must be a number of metres from 1 to 100000.*write buffer_m = 2000",
        ),
        ("buffer_m = -5", r"buffer_m must be a number of metres from 1"),
        ("buffer_m = 1e300", r"buffer_m must be a number of metres from 1 to 100000, got 1e\+300"),
        ("permutations = 0", r"permutations must be a whole number from 1 to 999,999"),
        (
            "permutations = 1000000000",
            r"permutations must be a whole number from 1 to 999,999.*write permutations = 999",
        ),
        ("seed = 1.5", r"seed must be a whole number >= 0"),
        ('weights = "queen"', r"weights = 'queen' is not understood.*knn:5"),
        ('steps = ["acess"]', r"unknown step 'acess'.*did you mean 'access'"),
    ],
)
def test_bad_analysis_values(write_study, analysis, match):
    path = write_study(analysis=analysis)
    with pytest.raises(StudyFileError, match=match):
        read_study_file(path)


def test_value_both_case_and_control(write_study):
    path = write_study(subjects_section='case = ["1"]\ncontrol = ["1", "0"]')
    with pytest.raises(StudyFileError, match=r"listed as both case and control"):
        read_study_file(path)


def test_invalid_toml_says_what_to_check(tmp_path: Path):
    path = tmp_path / "study.toml"
    path.write_text("[subjects]\npath = subjects.csv\n", encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"not valid TOML.*text values need quotes"):
        read_study_file(path)


def test_missing_subjects_section(tmp_path: Path):
    path = tmp_path / "study.toml"
    path.write_text('[study]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"no \[subjects\] section"):
        read_study_file(path)


def test_missing_study_file(tmp_path: Path):
    with pytest.raises(StudyFileError, match=r"study file not found"):
        load_study(tmp_path / "nope.toml")


def test_parse_weights():
    assert parse_weights("knn:5") == ("knn", 5.0)
    assert parse_weights(" distance:2000.5 ") == ("distance", 2000.5)
    with pytest.raises(StudyFileError, match="at least 1 neighbour"):
        parse_weights("knn:0")


def test_scan_and_relative_risk_options(write_study):
    path = write_study(
        extra='[scan]\nmax_share = 0.25\nmax_radius_m = 1000\ndirection = "both"\n'
        '[relative_risk]\nbandwidth_m = 400\ncell_m = 50\nedge = "diggle"'
    )
    analysis = read_study_file(path).analysis
    assert (analysis.scan.max_share, analysis.scan.max_radius_m) == (0.25, 1000.0)
    assert analysis.scan.direction == "both"
    assert (analysis.relative_risk.bandwidth_m, analysis.relative_risk.cell_m) == (400.0, 50.0)
    assert analysis.relative_risk.edge == "diggle"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ("[scan]\nmax_share = 0.8", r"\[scan\] max_share must be a number from 1e-06 to 0.5"),
        (
            "[scan]\nmax_share = 0",
            r"max_share must be a number from 1e-06 to 0.5, got 0. Fix: write max_share = 0.5",
        ),
        (
            '[scan]\ndirection = "up"',
            r"\[scan\] direction must be one of \['high', 'low', 'both'\]",
        ),
        (
            "[scan]\nmax_radius = 10",
            r"unknown key 'max_radius' in \[scan\].*did you mean 'max_radius_m'",
        ),
        ("[relative_risk]\nbandwidth_m = 0", r"bandwidth_m must be a number from 1"),
        ("[relative_risk]\ncell_m = 0.01", r"cell_m must be a number from 1 to 100000, got 0.01"),
    ],
)
def test_bad_step_options(write_study, extra, match):
    with pytest.raises(StudyFileError, match=match):
        read_study_file(write_study(extra=extra))


def test_engine_scheduler_and_levels(write_study):
    path = write_study(
        analysis='engine = "dask"\nscheduler = "tcp://10.0.0.5:8786"',
        area_section='levels = { village = "*", district = "kode_kec" }',
    )
    config = read_study_file(path)
    assert config.analysis.engine == "dask"
    assert config.analysis.scheduler == "tcp://10.0.0.5:8786"
    assert config.area is not None
    assert config.area.levels == (("village", "*"), ("district", "kode_kec"))


@pytest.mark.parametrize(
    ("analysis", "match"),
    [
        ('engine = "spark"', r"\[analysis\] engine must be one of \['local', 'dask'\]"),
        ('scheduler = "10.0.0.5"', r"scheduler must be a dask scheduler address.*tcp://HOST:8786"),
    ],
)
def test_bad_engine_settings(write_study, analysis, match):
    with pytest.raises(StudyFileError, match=match):
        read_study_file(write_study(analysis=analysis))
