"""Shared fixtures: small studies written to a temporary folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import hypothesis
import pytest

# Run by Debian's python3 (python3-qgis) from test_qgis.py, never imported by pytest.
collect_ignore = ["qgis_check.py"]

# Two adjacent 0.05° squares near Indralaya (about 5.5 km each side).
VILLAGES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"nama": "Desa A"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [104.60, -3.25],
                        [104.65, -3.25],
                        [104.65, -3.20],
                        [104.60, -3.20],
                        [104.60, -3.25],
                    ]
                ],
            },
        },
        {
            "type": "Feature",
            "properties": {"nama": "Desa B"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [104.65, -3.25],
                        [104.70, -3.25],
                        [104.70, -3.20],
                        [104.65, -3.20],
                        [104.65, -3.25],
                    ]
                ],
            },
        },
    ],
}

SUBJECT_HEADER = "id,status,village,lat,lon,income"


def good_rows(n_cases: int = 4, n_controls: int = 6) -> list[str]:
    """Rows of valid subjects spread over both villages."""
    rows = []
    for i in range(n_cases + n_controls):
        status = "case" if i < n_cases else "control"
        lon = 104.61 + 0.008 * i
        lat = -3.21 - 0.003 * i
        village = "Desa A" if lon < 104.65 else "Desa B"
        rows.append(f"S{i + 1:03d},{status},{village},{lat:.6f},{lon:.6f},{1000 + i}")
    return rows


FACILITIES_CSV = "\n".join(
    [
        "id,name,type,lat,lon",
        "F1,Puskesmas Uji,Puskesmas,-3.215,104.625",
        "F2,Posyandu Satu,posyandu,-3.230,104.675",
    ]
)


StudyWriter = Callable[..., Path]


@pytest.fixture
def write_study(tmp_path: Path) -> StudyWriter:
    """Write a study folder and return the study file's path.

    Keyword arguments: ``subjects`` (CSV text), ``facilities`` (CSV text or
    None), ``villages`` (dict or None), ``subjects_section`` / ``analysis``
    (extra TOML lines), ``subjects_name`` (file name).
    """

    def write(
        *,
        subjects: str | None = None,
        facilities: str | None = FACILITIES_CSV,
        villages: dict | None = VILLAGES,
        subjects_section: str = "",
        area_section: str = "",
        analysis: str = "",
        subjects_name: str = "subjects.csv",
        extra: str = "",
    ) -> Path:
        if subjects is None:
            subjects = "\n".join([SUBJECT_HEADER, *good_rows()]) + "\n"
        (tmp_path / subjects_name).write_text(subjects, encoding="utf-8")
        lines = [
            "[study]",
            'name = "Test study"',
            "",
            "[subjects]",
            f'path = "{subjects_name}"',
            'stratum = "village"',
            subjects_section,
        ]
        if facilities is not None:
            (tmp_path / "facilities.csv").write_text(facilities + "\n", encoding="utf-8")
            lines += ["[facilities]", 'path = "facilities.csv"', 'name = "name"', 'kind = "type"']
        if villages is not None:
            (tmp_path / "villages.geojson").write_text(json.dumps(villages), encoding="utf-8")
            lines += ["[area]", 'path = "villages.geojson"', 'name = "nama"', area_section]
        defaults = [k for k in ("permutations = 99", "seed = 7") if k.split()[0] not in analysis]
        lines += ["[analysis]", *defaults, analysis, extra]
        path = tmp_path / "study.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


# hypothesis: no deadline per example. A deadline is a timed assertion, and on 2 shared cores
# an example of 50 ms can take 300 ms (a failure that says nothing about the code).
hypothesis.settings.register_profile("geo_stunting", deadline=None)
hypothesis.settings.load_profile("geo_stunting")
