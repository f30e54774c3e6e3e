"""Write a run's outputs: results.json, layers.gpkg, map.html, rejects.csv, run.json.

Everything is first written into a temporary folder beside the output folder
and moved into place only when every file is complete, so a failed run
leaves no half-written files behind.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo_stunting.pipeline import jsonable

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_stunting.pipeline import Results

__all__ = ["OUTPUT_FILES", "run_info", "write_outputs"]

log = logging.getLogger(__name__)

OUTPUT_FILES = ("results.json", "layers.gpkg", "map.html", "rejects.csv", "run.json")
_PACKAGES = (
    "geo_stunting",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "pandas",
    "numpy",
    "scipy",
    "folium",
    "libpysal",
    "esda",
    "openpyxl",
    "typer",
    "rich",
)


def run_info(results: Results, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the content of ``run.json``: versions, study file hash, seed, CRS, timings."""
    import pyogrio  # noqa: PLC0415
    import pyproj  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            versions[name] = None
    versions["GDAL"] = pyogrio.__gdal_version_string__
    versions["PROJ"] = pyproj.proj_version_str
    versions["GEOS"] = shapely.geos_version_string
    study = results.study
    info: dict[str, Any] = {
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": versions,
        "study_file": None if study.source is None else str(study.source),
        "study_file_sha256": study.source_sha256,
        "seed": study.settings.seed,
        "permutations": study.settings.permutations,
        "crs": study.crs_code,
        "crs_reason": study.crs_reason,
        "seconds_per_step": {k: round(v, 4) for k, v in results.timings.items()},
        "steps": jsonable(results.provenance),
        "notes": list(study.notes),
    }
    info.update(extra or {})
    return info


def write_outputs(
    results: Results,
    out_dir: str | Path,
    *,
    map_html: str | None = None,
    run_extra: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write every output file of a run into `out_dir`, atomically.

    Parameters
    ----------
    results
        What `analyze` returned.
    out_dir
        The output folder; created if missing. Files of an earlier run are
        replaced only when all new files are complete.
    map_html
        The map page; made with `geo_stunting.mapping.make_map` if not given.
    run_extra
        More entries for ``run.json`` (for example the command line).

    Returns
    -------
    dict
        File name → path of every file written.
    """
    from geo_stunting.mapping import make_map  # noqa: PLC0415 - folium is slow to import

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".geo_stunting-", dir=out))
    try:
        (staging / "results.json").write_text(results.to_json(), encoding="utf-8")
        write_gpkg(results.layers, staging / "layers.gpkg")
        html = map_html if map_html is not None else make_map(results).get_root().render()
        (staging / "map.html").write_text(html, encoding="utf-8")
        results.study.rejects.to_csv(staging / "rejects.csv", index=False)
        info = run_info(results, extra=run_extra)
        (staging / "run.json").write_text(
            json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written = {}
        for name in OUTPUT_FILES:
            (staging / name).replace(out / name)
            written[name] = out / name
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write each layer to one GeoPackage (a layer per output, in the analysis CRS)."""
    for name, gdf in layers.items():
        frame = gdf.copy()
        for column in frame.columns:
            if column != frame.geometry.name and frame[column].dtype == object:
                frame[column] = frame[column].map(lambda v: None if pd.isna(v) else str(v))
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
