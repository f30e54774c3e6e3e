"""Study files with the dask engine: facilities, area and CRS without loading the subjects.

`sample_study` runs the validation of `geo_stunting.load_study` on the facilities and the
study area as they are, and on a sample of the subjects (the first rows of up to 16 part
files spread over the folder) in place of all of them. The sample only serves what needs
the subjects as a whole: the analysis CRS (``crs = "auto"`` without an area takes the
subjects' median) and the distance check of facilities when there is no area.
`scale_results` turns a run into the `geo_stunting.Results` that `write_outputs` writes.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_stunting.errors import InputError, Problem
from geo_stunting.pipeline import (
    RESULTS_SCHEMA_VERSION,
    Results,
    settings_summary,
    study_summary,
)
from geo_stunting.scale._csv import csv_header_line, read_csv_part
from geo_stunting.scale._io import input_files, read_geoparquet
from geo_stunting.study._config import STEP_NAMES, StudyConfig
from geo_stunting.study._readers import RawTable
from geo_stunting.study._study import Study

if TYPE_CHECKING:
    from geo_stunting.scale._result import ScaleResult

__all__ = ["sample_study", "scale_results", "subject_sample"]

log = logging.getLogger(__name__)

SAMPLE_ROWS = 2_000
SAMPLE_PARTS = 16


def _csv_sample(path: Any, rows: int) -> pd.DataFrame:
    from geo_stunting.study._encoding import sniff_delimiter  # noqa: PLC0415 - shared CSV sniffing

    return read_csv_part(path, sep=sniff_delimiter(csv_header_line(path)), nrows=rows)


def subject_sample(config: StudyConfig, *, rows: int = SAMPLE_ROWS) -> RawTable:
    """The first rows of up to 16 subject part files, spread over the folder, as a table."""
    if config.subjects is None:
        raise InputError(
            Problem(
                "the dask engine needs [subjects] (home points); this is an area study",
                fix='use engine = "local" (the default)',
            )
        )
    kind, files = input_files(config.subjects.path)
    picks = sorted({int(i) for i in np.linspace(0, len(files) - 1, min(len(files), SAMPLE_PARTS))})
    per_file = max(1, -(-rows // len(picks)))
    frames: list[pd.DataFrame] = []
    numbers: list[int] = []
    geometry = None
    crs = None
    for i in picks:
        if kind == "csv":
            frame = _csv_sample(files[i], per_file)
            numbers.extend(range(2, len(frame) + 2))
            frames.append(frame)
        else:
            gdf = read_geoparquet(files[i], rows=per_file)
            crs = gdf.crs
            numbers.extend(range(1, len(gdf) + 1))
            frames.append(gdf)
    frame = pd.concat(frames, ignore_index=True)
    if kind == "parquet":
        geometry = gpd.GeoSeries(frame.geometry, crs=crs).reset_index(drop=True)
        frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    name = f"{config.subjects.path.name} (sample of {len(frame)} rows)"
    return RawTable(
        name,
        frame.astype(object).reset_index(drop=True),
        tuple(numbers),
        geometry=geometry,
        crs=crs,
    )


def sample_study(config: StudyConfig, *, rows: int = SAMPLE_ROWS) -> Study:
    """Validate the facilities and the area of `config` against a sample of its subjects.

    Parameters
    ----------
    config
        The study file, whose ``[subjects] path`` is a folder, glob or file of parts.
    rows
        Subjects in the sample.

    Returns
    -------
    Study
        ``facilities``, ``area``, ``crs`` and the facility/area rejects are the study's;
        ``subjects`` and their rejects are the sample's only.
    """
    from geo_stunting.study._study import build_study, read_tables  # noqa: PLC0415

    tables = {
        "subjects": subject_sample(config, rows=rows),
        **read_tables(config, layers=("facilities", "area")),
    }
    study = build_study(config, tables)
    log.info(
        "facilities and area validated against a sample of %d subjects; analysis CRS %s",
        len(tables["subjects"]),
        study.crs_code,
    )
    return study


def scale_results(result: ScaleResult, study: Study) -> Results:
    """The `geo_stunting.Results` of a dask-engine run, for `geo_stunting.write_outputs`.

    Parameters
    ----------
    result
        From `run_scale`.
    study
        The sample study `run_scale` returned with it.

    Returns
    -------
    geo_stunting.Results
        ``results.json`` sections (``study`` with the counts of the whole run, ``settings``,
        ``steps`` — ``access`` done, every other step skipped: the dask engine runs the
        access step only — and ``access``), layers ``facilities``, ``area`` and
        ``area_access_<level>`` (no per-subject layer: those are in ``subjects_access/``),
        and the engine's provenance for ``run.json``. The study's rejects are the
        facilities' and the area's; the subjects' are in ``rejects/``.
    """
    section = result.section
    rejects = study.rejects.loc[study.rejects["layer"] != "subjects"].reset_index(drop=True)
    whole = replace(study, rejects=rejects, subjects=study.subjects.iloc[:0])
    summary = study_summary(whole)
    n_cases = section["cases_within"] + section["cases_outside"]
    n_controls = section["controls_within"] + section["controls_outside"]
    summary.update(
        n_subjects=section["n_subjects"],
        n_cases=n_cases,
        n_controls=n_controls,
        n_rejected=len(rejects) + section["n_rejected"],
    )
    summary["rows"]["subjects"] = {
        "read": section["n_subjects"] + section["n_rejected"],
        "rejected": section["n_rejected"],
    }
    settings = study.settings
    skipped = 'the dask engine runs the access step only (engine = "dask")'
    sections: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "study": summary,
        "settings": settings_summary(study),
        "steps": {
            name: {"status": "done"}
            if name == "access"
            else {"status": "skipped", "reason": skipped}
            for name in STEP_NAMES
            if settings.steps is None or name in settings.steps
        },
        "access": section,
    }
    layers: dict[str, gpd.GeoDataFrame] = {}
    if study.facilities is not None:
        layers["facilities"] = study.facilities
    if study.area is not None:
        layers["area"] = study.area
    layers.update(result.layers)
    provenance = {"access": {"engine": section["engine"]} | result.to_dict()}
    provenance["access"].pop("section")
    return Results(
        study=whole,
        sections=sections,
        layers=layers,
        timings={"access": result.timings.get("total", 0.0)},
        provenance=provenance,
    )
