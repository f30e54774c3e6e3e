"""Where the bundled area demo lives: South Sumatra's 17 kabupaten/kota, real published figures."""

from __future__ import annotations

from pathlib import Path

from geo_stunting._demo_files import demo_study_file
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
    found = demo_study_file("demo_areas")
    if found is not None:
        return found
    raise InputError(
        Problem(
            "the area demo data are not installed",
            fix="install geo_stunting from its source folder (pip install -e .) or a wheel",
        )
    )
