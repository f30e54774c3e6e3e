"""layers.gpkg and layers.qgz in QGIS: version, styles, field types, related table, project.

The last test opens the project with QGIS's own Python API (Debian's
python3-qgis, headless) in a subprocess; without QGIS it is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely import Point

import geo_stunting as gs
from geo_stunting.outputs._qgis import MEMBERS_TABLE, read_layers, write_styled_gpkg
from geo_stunting.outputs._qml import filter_expression
from geo_stunting.outputs.map._layers import LAYER_STYLES, MapContext

SYSTEM_PYTHON = "/usr/bin/python3"
CHECK = Path(__file__).with_name("qgis_check.py")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    results = gs.analyze(gs.load_study(gs.demo_study_path()))
    out = tmp_path_factory.mktemp("qgis") / "out"
    gs.write_outputs(results, out, public=gs.PublicOptions(seed=5))
    return results, out


def _sql(path, query, *args):
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query, args).fetchall()


def test_geopackage_version_is_1_2(run):
    _, out = run
    for gpkg in (out / "layers.gpkg", out / "public" / "layers.gpkg"):
        assert _sql(gpkg, "PRAGMA application_id") == [(0x47504B47,)]  # "GPKG"
        assert _sql(gpkg, "PRAGMA user_version") == [(10200,)]


def test_every_layer_has_a_default_style_and_a_description(run):
    results, out = run
    gpkg = out / "layers.gpkg"
    rows = _sql(gpkg, "SELECT f_table_name, styleQML, useAsDefault, description FROM layer_styles")
    assert sorted(r[0] for r in rows) == sorted(results.layers)
    for name, qml, default, description in rows:
        assert default == 1
        assert description
        root = ET.fromstring(qml.split("\n", 1)[1])
        assert root.find("renderer-v2").get("type") == "RuleRenderer"
        assert root.findall(".//rule"), name
    contents = dict(_sql(gpkg, "SELECT table_name, description FROM gpkg_contents"))
    assert "Cases and controls" in contents["subjects"]
    assert all(contents[name] for name in results.layers)
    qml = {r[0]: r[1] for r in rows}
    assert "215,48,31,242" in qml["subjects"]  # the web map's case red, fillOpacity 0.95
    assert 'fieldName="name"' in qml["area"]  # village names


def test_every_registry_filter_has_a_qgis_expression():
    ctx = MapContext(buffer_m=2000.0, online=False, public=False, sections={})
    for name, spec in LAYER_STYLES.items():
        for group in spec.groups:
            if group.kind == "features":
                assert filter_expression(group.where, ctx) is not None, (name, group.title)


def test_field_types_are_real(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "visit": [dt.date(2024, 1, 2), None],
            "born": ["2022-05-01", "2021-12-31"],
            "scan_cluster": [1.0, np.nan],
            "note": ["=1+1", None],
        },
        geometry=[Point(0, 0), Point(1, 1)],
        crs=32748,
    )
    write_styled_gpkg({"x": frame}, tmp_path / "t.gpkg")
    (sql,) = _sql(tmp_path / "t.gpkg", "SELECT sql FROM sqlite_master WHERE name = 'x'")[0]
    assert '"visit" DATE' in sql
    assert '"born" DATE' in sql
    assert '"scan_cluster" INTEGER' in sql
    assert '"note" TEXT' in sql
    back = pyogrio.read_dataframe(tmp_path / "t.gpkg", layer="x")
    assert back["born"].tolist()[0] == pd.Timestamp("2022-05-01")
    assert pd.isna(back["visit"].tolist()[1])
    assert back["scan_cluster"].tolist()[0] == 1


def test_scan_members_are_a_related_table(run):
    results, out = run
    gpkg = out / "layers.gpkg"
    clusters = pyogrio.read_dataframe(gpkg, layer="scan_clusters")
    assert "subject_ids" not in clusters
    members = pyogrio.read_dataframe(gpkg, layer=MEMBERS_TABLE)
    expected = results.layers["scan_clusters"]
    for rank, joined in zip(expected["rank"], expected["subject_ids"], strict=True):
        got = members.loc[members["cluster_rank"] == rank, "subject_id"].tolist()
        assert got == [s.strip() for s in joined.split(",")]
    # base_id / related_id are the fids of scan_clusters and subjects
    subjects = _sql(gpkg, "SELECT fid, subject_id FROM subjects")
    fid = {sid: f for f, sid in subjects}
    assert members["related_id"].tolist() == [fid[s] for s in members["subject_id"]]
    relation = _sql(
        gpkg,
        "SELECT base_table_name, related_table_name, mapping_table_name, "
        "relation_name FROM gpkgext_relations",
    )
    assert relation == [("scan_clusters", "subjects", MEMBERS_TABLE, "features")]
    # reading the folder back joins the members again (the map command needs them)
    layers = read_layers(gpkg)
    assert layers["scan_clusters"]["subject_ids"].tolist() == expected["subject_ids"].tolist()
    assert MEMBERS_TABLE not in layers
    assert "layer_styles" not in layers


def test_project_uses_relative_paths(run):
    _, out = run
    with zipfile.ZipFile(out / "layers.qgz") as archive:
        (name,) = archive.namelist()
        text = archive.read(name).decode()
    assert name == "layers.qgs"
    sources = [e.text for e in ET.fromstring(text.split("\n", 1)[1]).iter("datasource")]
    assert sources
    assert all(s.startswith("./layers.gpkg|layername=") for s in sources)


def _qgis_available():
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"],
        capture_output=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=False,
    )
    return probe.returncode == 0


def _expected_counts(layers, ctx):
    counts = {}
    for name, frame in layers.items():
        for group in LAYER_STYLES.get(name, None).groups if name in LAYER_STYLES else ():
            if group.kind == "features" and group.where is not None and group.split_by is None:
                counts[(name, group.title)] = int(np.sum(group.where(frame, ctx)))
    return counts


@pytest.mark.skipif(not _qgis_available(), reason="QGIS (python3-qgis) is not installed")
@pytest.mark.parametrize("folder", ["", "public"])
def test_qgis_opens_the_project_styled(run, tmp_path, folder):
    _, out = run
    moved = tmp_path / "moved"  # relative paths: the folder can move
    shutil.copytree(out / folder if folder else out, moved)
    png = tmp_path / "render.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [SYSTEM_PYTHON, str(CHECK), str(moved), str(png)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "partially supported" not in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["read"]
    gpkg_layers = {n for n, _ in pyogrio.list_layers(moved / "layers.gpkg")} - {"layer_styles"}
    assert set(report["layers"]) == gpkg_layers
    for name, layer in report["layers"].items():
        assert layer["valid"], name
        assert layer["source"].startswith("./layers.gpkg"), layer["source"]
        assert layer["abstract"], name
        if name != MEMBERS_TABLE:
            assert layer["rules"], name
            assert report["defaults"][name] == {"loaded": True, "rules": len(layer["rules"])}
    assert [g["name"] for g in report["tree"]][:2] == ["Study data", "Access"]
    # each rule selects in QGIS the rows its registry function selects in Python
    layers = read_layers(moved / "layers.gpkg")
    ctx = MapContext(buffer_m=2000.0, online=False, public=bool(folder), sections={})
    expected = _expected_counts(layers, ctx)
    got = {
        (name, rule["label"]): rule["count"]
        for name, layer in report["layers"].items()
        for rule in layer["rules"] or ()
        if rule["count"] is not None
    }
    assert expected
    for (name, title), n in expected.items():
        label = title.replace("{buffer}", "2 km").replace("{n}", f"{n:,}")
        assert got[(name, label)] == n, (name, title)
    assert report["layers"]["subjects"]["visible"]
    assert not report["layers"]["relative_risk_grid"]["visible"]
    if not folder:
        assert all(r["valid"] for r in report["relations"])
        assert len(report["relations"]) == 2
        assert report["layers"][MEMBERS_TABLE]["features"] == len(
            pyogrio.read_dataframe(moved / "layers.gpkg", layer=MEMBERS_TABLE)
        )
    assert report["painted_share"] > 0.1
    assert report["colours"] > 20
    assert png.stat().st_size > 10_000
