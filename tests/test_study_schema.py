"""The study file declared once: its JSON Schema, its messages, `geo-stunting init`."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import geo_stunting as gs
from geo_stunting.cli import app
from geo_stunting.errors import StudyFileError
from geo_stunting.study._config import (
    AnalysisSettings,
    AreaSpec,
    FacilitiesSpec,
    RelativeRiskOptions,
    ScanOptions,
    SubjectsSpec,
    parse_study_dict,
    read_study_file,
)
from geo_stunting.study._file_errors import _say
from geo_stunting.study._file_model import (
    AnalysisSection,
    AreaSection,
    FacilitiesSection,
    RelativeRiskSection,
    ScanSection,
    StudyFile,
    SubjectsSection,
)
from geo_stunting.study._file_schema import study_file_schema, study_file_schema_text
from geo_stunting.study._init import propose_study_file

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "schema" / "study.schema.json"
DEMO = ROOT / "data" / "demo"


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found += _models(candidate)
    return found


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text(encoding="utf-8") == study_file_schema_text(), (
        "regenerate it: geo-stunting schema --out schema/study.schema.json"
    )


def test_schema_validates_the_demo_study_file():
    data = tomllib.loads((DEMO / "study.toml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(study_file_schema())
    jsonschema.validate(data, study_file_schema(), cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"subjects": {"path": "s.csv", "stratm": "village"}}, "stratm"),
        ({"analysis": {"buffer_m": "2 km"}}, "buffer_m"),
        ({"analysis": {"weights": "queen"}}, "weights"),
        ({"analysis": {"steps": ["acess"]}}, "steps"),
        ({"scan": {"max_share": 0.8}}, "max_share"),
        ({"analyses": {}}, "analyses"),
        ({"risk_factors": {"ordinal": {"edu": ["low"]}}}, "ordinal"),
    ],
)
def test_schema_and_model_refuse_the_same_mistakes(change: dict[str, Any], key: str):
    data = {"subjects": {"path": "s.csv"}, **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, study_file_schema(), cls=jsonschema.Draft202012Validator)
    with pytest.raises(StudyFileError, match=key):
        parse_study_dict(data, base=Path(), source="study.toml")


def test_every_key_says_what_to_write():
    for model in _models(StudyFile):
        for name, info in model.model_fields.items():
            nested = any(
                isinstance(c, type) and issubclass(c, BaseModel)
                for c in (info.annotation, *getattr(info.annotation, "__args__", ()))
            )
            assert nested or _say(info) is not None, f"{model.__name__}.{name} has no Say"
            assert info.description, f"{model.__name__}.{name} has no description"


@pytest.mark.parametrize(
    ("model", "spec"),
    [
        (SubjectsSection, SubjectsSpec),
        (FacilitiesSection, FacilitiesSpec),
        (AreaSection, AreaSpec),
        (AnalysisSection, AnalysisSettings),
        (ScanSection, ScanOptions),
        (RelativeRiskSection, RelativeRiskOptions),
    ],
)
def test_model_defaults_are_the_dataclass_defaults(model: type[BaseModel], spec: type):
    defaults = {f.name: f.default for f in dataclasses.fields(spec)}
    for name, info in model.model_fields.items():
        if name == "path" or name not in defaults:
            continue
        expected = defaults[name]
        got = info.get_default(call_default_factory=True)
        if name in ("case", "control"):
            got = tuple(got)
        if name == "levels":
            got = tuple(got.items())
        assert got == expected, f"{model.__name__}.{name}: {got!r} != {expected!r}"


def test_overrides_are_checked_by_the_same_model():
    settings = AnalysisSettings()
    assert settings.with_overrides(seed=3, steps=("scan", "scan")).steps == ("scan",)
    with pytest.raises(StudyFileError, match=r"seed must be a whole number >= 0"):
        settings.with_overrides(seed=-1)
    with pytest.raises(StudyFileError, match=r"--only.*unknown step 'scna'.*did you mean 'scan'"):
        settings.with_overrides(steps=("scna",))


# --------------------------------------------------------------------------- init


def test_init_on_the_demo_files_proposes_the_demo_study(tmp_path: Path):
    for name in ("subjects.csv", "facilities.csv", "villages.geojson"):
        (tmp_path / name).write_bytes((DEMO / name).read_bytes())
    out = tmp_path / "study.toml"
    files = [str(tmp_path / n) for n in ("villages.geojson", "facilities.csv", "subjects.csv")]
    result = CliRunner().invoke(app, ["init", *files, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("#:schema ./study.schema.json\n")
    assert "'control' (134), 'case' (67)" in text
    proposed, demo = read_study_file(out), read_study_file(DEMO / "study.toml")
    for key in ("id", "x", "y", "status", "case", "control", "stratum"):
        assert getattr(proposed.subjects, key) == getattr(demo.subjects, key), key
    assert proposed.facilities is not None
    assert (proposed.facilities.kind, proposed.facilities.name) == ("type", "name")
    assert proposed.area is not None
    assert proposed.area.name == "nama"
    schema = json.loads((tmp_path / "study.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(tomllib.loads(text), schema)
    assert len(gs.load_study(out).subjects) == 201

    again = CliRunner().invoke(app, ["init", *files, "--out", str(out)])
    assert again.exit_code == 2
    assert "already exists; init never overwrites it" in again.output
    assert out.read_text(encoding="utf-8") == text


def test_init_reads_indonesian_columns_and_lists_unsorted_values(tmp_path: Path):
    (tmp_path / "anak.csv").write_text(
        "no;desa;kelompok;lintang;bujur\n"
        "1;Desa A;Stunting;-3,21;104,61\n2;Desa A;Normal;-3,22;104,62\n"
        "3;Desa B;normal;-3,23;104,66\n4;Desa B;ragu;-3,24;104,67\n",
        encoding="utf-8",
    )
    (tmp_path / "faskes.csv").write_text(
        "kode,nama_faskes,jenis,lintang,bujur\nP1,Puskesmas X,puskesmas,-3.215,104.625\n",
        encoding="utf-8",
    )
    text = propose_study_file([tmp_path / "faskes.csv", tmp_path / "anak.csv"], folder=tmp_path)
    data = tomllib.loads(text)
    assert data["subjects"] == {
        "path": "anak.csv",
        "id": "no",
        "x": "bujur",
        "y": "lintang",
        "crs": "EPSG:4326",
        "status": "kelompok",
        "case": ["Stunting"],
        "control": ["Normal", "normal"],
        "stratum": "desa",
    }
    assert "# not sorted (rows with these are rejected unless listed above): ['ragu']" in text
    assert data["facilities"]["kind"] == "jenis"
    assert data["facilities"]["name"] == "nama_faskes"
    assert data["facilities"]["id"] == "kode"


def test_init_reads_spreadsheet_headers_with_spaces(tmp_path: Path):
    # a field spreadsheet: a row number "No" first, the child's id and village in two words
    (tmp_path / "balita.csv").write_text(
        "No,ID Balita,Nama Desa,Status,Lintang,Bujur\n"
        "1,B01,Desa A,Kasus,-3.21,104.61\n2,B02,Desa B,Kontrol,-3.22,104.66\n",
        encoding="utf-8",
    )
    data = tomllib.loads(propose_study_file([tmp_path / "balita.csv"], folder=tmp_path))
    assert data["subjects"]["id"] == "ID Balita"  # not the row number
    assert data["subjects"]["stratum"] == "Nama Desa"


def test_init_without_a_status_column_says_what_to_do(tmp_path: Path):
    (tmp_path / "points.csv").write_text("id,lat,lon\nA,-3.2,104.6\n", encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"no.*case/control column.*Fix: name"):
        propose_study_file([tmp_path / "points.csv"], folder=tmp_path)
