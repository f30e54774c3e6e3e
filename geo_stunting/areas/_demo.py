"""Where the bundled area demo lives: South Sumatra's 17 kabupaten/kota, real published figures."""

from __future__ import annotations

from pathlib import Path

from geo_stunting.errors import InputError, Problem

__all__ = ["demo_areas_study_path"]


def demo_areas_study_path() -> Path:
    """Return the path of the area demo's study file.

    The demo joins the 17 regency/city boundaries of South Sumatra to the
    stunting prevalence published by SSGI 2021, SSGI 2022 and SKI 2023
    (percentages without sample sizes; sources beside the table).

    Raises
    ------
    InputError
        If the demo files are not installed.
    """
    here = Path(__file__).resolve().parent.parent  # the geo_stunting package
    for candidate in (
        here / "_demo_areas" / "study.toml",
        here.parent / "data" / "demo_areas" / "study.toml",
    ):
        if candidate.is_file():
            return candidate
    raise InputError(
        Problem(
            "the area demo data are not installed",
            fix="install geo_stunting from its source folder (pip install -e .) or a wheel",
        )
    )
