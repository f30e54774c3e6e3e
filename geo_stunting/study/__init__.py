"""Load, validate and project a study: the first rooms of the pipeline.

- `_config`: the study file (TOML) and its settings, as frozen dataclasses;
- `_file_model`: every key of the study file, declared once (pydantic);
- `_file_errors`: pydantic's errors worded as study-file problems;
- `_file_schema`: the JSON Schema for editors (``schema/study.schema.json``);
- `_init`: ``geo-stunting init``, a first study file written by looking at the data;
- `_readers`: CSV/XLSX/GeoJSON/GPKG/SHP readers with exact row numbers;
- `_coordinates`: numbers, decimal commas and DMS text (LU/LS/BT/BB);
- `_validate`: row checks that collect every problem (the rejects);
- `_risk_spec`: the study file's ``[risk_factors]`` section;
- `_projection`: the projected CRS chosen on purpose (UTM by default);
- `_strata`: one stratum per village name (case and spaces ignored), checked against the area;
- `_study`: the `Study` model and `load_study`;
- `_demo`: where the bundled synthetic demo lives.
"""

from __future__ import annotations

from geo_stunting.study._config import STEP_NAMES, AnalysisSettings, StudyConfig, read_study_file
from geo_stunting.study._demo import demo_study_path
from geo_stunting.study._projection import choose_analysis_crs, utm_crs_for
from geo_stunting.study._study import Study, load_study, study_from_frames

__all__ = [
    "STEP_NAMES",
    "AnalysisSettings",
    "Study",
    "StudyConfig",
    "choose_analysis_crs",
    "demo_study_path",
    "load_study",
    "read_study_file",
    "study_from_frames",
    "utm_crs_for",
]
