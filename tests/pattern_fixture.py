"""The point-pattern fixture shared by the pattern and autocorrelation tests.

``tests/reference/pattern/fixture_points.csv`` and ``fixture_window.wkt`` were
written by ``tests/reference/pattern/make_fixture.py``; the R scripts beside
them computed the reference values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.pattern._window import StudyWindow, make_window

REFERENCE = Path(__file__).parent / "reference"
PATTERN = REFERENCE / "pattern"
AUTOCORRELATION = REFERENCE / "autocorrelation"
CRS = "EPSG:32748"


def fixture_subjects() -> gpd.GeoDataFrame:
    """150 subjects (57 cases), five villages, three pairs sharing a location."""
    table = pd.read_csv(PATTERN / "fixture_points.csv")
    table = table.rename(columns={"id": "subject_id"})
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["x"], table["y"]), crs=CRS)


def fixture_polygon() -> shapely.Polygon:
    """The concave window with a hole."""
    return shapely.from_wkt((PATTERN / "fixture_window.wkt").read_text(encoding="utf-8"))


def fixture_window(subjects: gpd.GeoDataFrame | None = None) -> StudyWindow:
    """The fixture window as a `StudyWindow`."""
    subjects = fixture_subjects() if subjects is None else subjects
    return make_window(subjects, kind="polygon", polygon=fixture_polygon())


def rectangle_window(subjects: gpd.GeoDataFrame | None = None) -> StudyWindow:
    """The bounding rectangle of the fixture window."""
    subjects = fixture_subjects() if subjects is None else subjects
    return make_window(subjects, kind="polygon", polygon=shapely.box(*fixture_polygon().bounds))


def load_json(path: Path) -> Any:
    """Read a reference JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def as_array(values: list[Any]) -> np.ndarray:
    """R's JSON (``"NA"`` for missing) as a float array."""
    return np.array([np.nan if v in (None, "NA") else v for v in values], dtype=float)


def shared_mask(subjects: gpd.GeoDataFrame) -> np.ndarray:
    """Subjects whose location is shared with another subject."""
    return subjects.duplicated(["x", "y"], keep=False).to_numpy()
