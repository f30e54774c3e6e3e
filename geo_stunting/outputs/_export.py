"""Write a run's outputs: results.json, layers.gpkg, map.html, rejects.csv, run.json.

Everything is first written into a temporary folder beside the output folder
and moved into place only when every file is complete, so a failed run
leaves no half-written files behind.

With ``public=PublicOptions(...)`` the folder also gets ``public/map.html``
and ``public/layers.gpkg``: geomasked points, no names or ids (see
`geo_stunting.outputs._masking`); the masking parameters, seed included, go to
``run.json`` (which stays private). `write_map` re-renders the maps of an
existing output folder from its layers.gpkg and results.json.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo_stunting.errors import InputError, Problem
from geo_stunting.pipeline import jsonable

if TYPE_CHECKING:
    from collections.abc import Mapping

    import geopandas as gpd

    from geo_stunting.outputs._masking import MaskingReport
    from geo_stunting.pipeline import Results

__all__ = [
    "OUTPUT_FILES",
    "PUBLIC_FILES",
    "PublicOptions",
    "read_outputs",
    "run_info",
    "write_map",
    "write_outputs",
]

log = logging.getLogger(__name__)

OUTPUT_FILES = (
    "results.json",
    "layers.gpkg",
    "map.html",
    "report.html",
    "rejects.csv",
    "run.json",
)
#: Written with ``public=``: safe to share (masked points, no names or ids).
PUBLIC_FILES = ("public/map.html", "public/layers.gpkg")


@dataclass(frozen=True)
class PublicOptions:
    """How to mask the public outputs (see `geo_stunting.outputs.donut_mask`).

    Attributes
    ----------
    seed
        Seed of the displacements. Keep it private: with it, the masking can
        be undone. The command line draws a fresh one unless given.
    min_m, max_m
        Each home point moves between these distances (metres), in a random
        direction, staying inside its village.
    """

    seed: int
    min_m: float = 100.0
    max_m: float = 500.0


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
    import pyogrio.errors  # noqa: PLC0415
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
    online: bool = False,
    public: PublicOptions | None = None,
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
        The map page; made with `geo_stunting.outputs.map.make_map` if not given.
    run_extra
        More entries for ``run.json`` (for example the command line).
    online
        Maps load Leaflet from the internet and offer tile layers; by
        default they work offline.
    public
        Also write ``public/map.html`` and ``public/layers.gpkg`` with
        geomasked points and no names or ids.

    Returns
    -------
    dict
        File name → path of every file written (``public/…`` included).
    """
    from geo_stunting.outputs.map._render import make_map  # noqa: PLC0415 - folium is slow to import
    from geo_stunting.outputs.map._render import map_html as page  # noqa: PLC0415
    from geo_stunting.outputs.report._page import make_report  # noqa: PLC0415
    from geo_stunting.risk_factors._analysis import risk_factor_tables_csv  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".geo_stunting-", dir=out))
    try:
        (staging / "results.json").write_text(results.to_json(), encoding="utf-8")
        write_gpkg(results.layers, staging / "layers.gpkg")
        html = map_html if map_html is not None else page(make_map(results, online=online))
        (staging / "map.html").write_text(html, encoding="utf-8")
        results.study.rejects.to_csv(staging / "rejects.csv", index=False)
        names = list(OUTPUT_FILES)
        report_page = make_report(results, map_href="map.html")
        (staging / "report.html").write_text(report_page, encoding="utf-8")
        for name, text in risk_factor_tables_csv(results).items():
            (staging / name).write_text(text, encoding="utf-8")
            names.append(name)
        report = None
        if public is not None:
            report = _write_public(results.layers, results.sections, staging, public, online)
            names += PUBLIC_FILES
        info = run_info(results, extra=run_extra)
        info["map"] = {"online": online}
        if report is not None:
            info["map"]["public"] = _public_record(report, online=online)
        (staging / "run.json").write_text(_json(info), encoding="utf-8")
        written = _move_into_place(staging, out, names)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _public_record(report: MaskingReport, *, online: bool) -> dict[str, Any]:
    return {"files": list(PUBLIC_FILES), "online": online, **report.to_dict()}


def _move_into_place(staging: Path, out: Path, names: list[str]) -> dict[str, Path]:
    written = {}
    for name in names:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / name).replace(target)
        written[name] = target
    return written


def _write_public(
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    folder: Path,
    options: PublicOptions,
    online: bool,
) -> MaskingReport:
    from geo_stunting.outputs._masking import public_layers  # noqa: PLC0415
    from geo_stunting.outputs.map._render import map_html, render_map  # noqa: PLC0415

    masked, report = public_layers(
        layers, min_m=options.min_m, max_m=options.max_m, seed=options.seed
    )
    (folder / "public").mkdir(exist_ok=True)
    write_gpkg(masked, folder / "public" / "layers.gpkg")
    html = map_html(render_map(masked, sections, online=online, masking=report))
    (folder / "public" / "map.html").write_text(html, encoding="utf-8")
    return report


def read_outputs(out_dir: str | Path) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, Any]]:
    """Read the layers (layers.gpkg) and sections (results.json) of an output folder.

    Raises
    ------
    InputError
        If either file is missing or unreadable.
    """
    import pyogrio  # noqa: PLC0415
    import pyogrio.errors  # noqa: PLC0415

    out = Path(out_dir)
    problems = [
        Problem(
            f"{out / name} not found",
            fix="give the folder that geo-stunting analyze (or demo) wrote, or run it first",
        )
        for name in ("results.json", "layers.gpkg")
        if not (out / name).is_file()
    ]
    if problems:
        raise InputError(problems)
    try:
        sections = json.loads((out / "results.json").read_text(encoding="utf-8"))
        layers = {
            str(name): pyogrio.read_dataframe(out / "layers.gpkg", layer=str(name))
            for name, _ in pyogrio.list_layers(out / "layers.gpkg")
        }
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        raise InputError(
            Problem(f"cannot read the outputs in {out}: {exc}", fix="rerun geo-stunting analyze")
        ) from exc
    if "subjects" not in layers:
        raise InputError(Problem(f"{out / 'layers.gpkg'} has no subjects layer"))
    return layers, sections


def write_map(
    out_dir: str | Path, *, online: bool = False, public: PublicOptions | None = None
) -> dict[str, Path]:
    """Re-render the map of an output folder without re-running the analysis.

    Without `public`, ``map.html`` is replaced; with it, ``public/map.html``
    and ``public/layers.gpkg`` are written (the private map is left as it
    is). ``run.json`` records the map's options and the masking.

    Returns
    -------
    dict
        File name → path of every file written.
    """
    from geo_stunting.outputs.map._render import map_html, render_map  # noqa: PLC0415

    out = Path(out_dir)
    layers, sections = read_outputs(out)
    staging = Path(tempfile.mkdtemp(prefix=".geo_stunting-", dir=out))
    try:
        report = None
        if public is None:
            html = map_html(render_map(layers, sections, online=online))
            (staging / "map.html").write_text(html, encoding="utf-8")
            names = ["map.html"]
        else:
            report = _write_public(layers, sections, staging, public, online)
            names = list(PUBLIC_FILES)
        run_path = out / "run.json"
        info = json.loads(run_path.read_text(encoding="utf-8")) if run_path.is_file() else {}
        record = dict(info.get("map") or {})
        if report is None:
            record["online"] = online
        else:
            record["public"] = _public_record(report, online=online)
        info["map"] = record
        (staging / "run.json").write_text(_json(info), encoding="utf-8")
        written = _move_into_place(staging, out, [*names, "run.json"])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def write_gpkg(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write each layer to one GeoPackage (a layer per output, in the analysis CRS)."""
    arrow = _has_arrow()
    for name, gdf in layers.items():
        frame = gdf.copy()
        for column in frame.columns:
            if column != frame.geometry.name and frame[column].dtype == object:
                missing = pd.isna(frame[column]).to_numpy()
                text = frame[column].astype(str).astype(object)
                text[missing] = None
                frame[column] = text
        # through Arrow (columns at once) when pyarrow is installed
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio", use_arrow=arrow)


def _has_arrow() -> bool:
    return importlib.util.find_spec("pyarrow") is not None
