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

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo_stunting._safety import max_rss_mib
from geo_stunting.errors import GeoStuntingError, InputError, Problem
from geo_stunting.outputs._folder import (
    OUTPUT_FILES,
    PUBLIC_FILES,
    OutputFolder,
    input_paths,
    output_folder,
)
from geo_stunting.outputs._safe import neutralise_frame
from geo_stunting.pipeline import jsonable

if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextlib import AbstractContextManager

    import geopandas as gpd

    from geo_stunting.outputs._masking import MaskingReport
    from geo_stunting.outputs._print_job import PrintJob, PrintOutcome
    from geo_stunting.pipeline import Results
    from geo_stunting.study._study import Study

__all__ = [
    "OUTPUT_FILES",
    "PUBLIC_FILES",
    "PublicOptions",
    "file_list",
    "read_outputs",
    "run_info",
    "stamp_html",
    "study_inputs",
    "write_map",
    "write_outputs",
]

log = logging.getLogger(__name__)


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
        "peak_rss_mib": round(max_rss_mib(), 1),
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
    paper: str = "a4",
    folder: OutputFolder | None = None,
    print_job: AbstractContextManager[PrintJob] | None = None,
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
    paper
        Page size of the print maps (``map.pdf``, ``map*.png``): ``"a4"`` or
        ``"a3"``, landscape.
    folder
        An `OutputFolder` the caller holds (locked, with files already in its
        staging folder); the caller commits it. Default: one is made here.
    print_job
        With `folder`: the print maps already being drawn into its staging folder
        (`geo_stunting.outputs._early_print`); default: started here.

    Returns
    -------
    dict
        File name → path of every file written (``public/…`` included).
    """
    if folder is not None:
        return _write_all(results, folder, map_html, run_extra, online, public, paper, print_job)
    with output_folder(
        out_dir, inputs=study_inputs(results.study), n_subjects=len(results.study.subjects)
    ) as built:
        written = _write_all(results, built, map_html, run_extra, online, public, paper)
        built.commit()
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def study_inputs(study: Study) -> list[Path]:
    """The input files of a study loaded from a study file (none for in-memory frames)."""
    from geo_stunting.study._config import read_study_file  # noqa: PLC0415

    if study.source is None or not Path(study.source).is_file():
        return []
    try:
        return input_paths(read_study_file(study.source))
    except GeoStuntingError:  # the study file changed since: protect at least the file itself
        return [Path(study.source)]


def _write_all(
    results: Results,
    folder: OutputFolder,
    map_html: str | None,
    run_extra: dict[str, Any] | None,
    online: bool,
    public: PublicOptions | None,
    paper: str,
    print_job: AbstractContextManager[PrintJob] | None = None,
) -> dict[str, Path]:
    from geo_stunting.outputs._print_job import print_maps_beside  # noqa: PLC0415

    staging = folder.staging
    # the print maps first, in a worker beside the rest (see outputs/_print_job.py),
    # started before the imports below (folium, openpyxl: half a second) that it does not need
    if print_job is None:
        print_job = print_maps_beside(results.layers, results.sections, staging, paper=paper)
    with print_job as job:
        from geo_stunting.outputs._workbook import write_workbook  # noqa: PLC0415
        from geo_stunting.outputs.map._render import make_map  # noqa: PLC0415 - folium: slow
        from geo_stunting.outputs.map._render import map_html as page  # noqa: PLC0415
        from geo_stunting.outputs.report._page import make_report  # noqa: PLC0415
        from geo_stunting.risk_factors._analysis import risk_factor_tables_csv  # noqa: PLC0415

        results_text = results.to_json()
        run_id = hashlib.sha256(results_text.encode("utf-8")).hexdigest()[:16]
        (staging / "results.json").write_text(_with_run_id(results_text, run_id), encoding="utf-8")
        write_gpkg(results.layers, staging / "layers.gpkg", sections=results.sections)
        html = map_html if map_html is not None else page(make_map(results, online=online))
        (staging / "map.html").write_text(stamp_html(html, run_id), encoding="utf-8")
        neutralise_frame(results.study.rejects).to_csv(staging / "rejects.csv", index=False)
        write_workbook(results.sections, staging / "tables.xlsx", rejects=results.study.rejects)
        printed = job.result()
    maps = list(printed.files)
    if printed.status == "failed":
        log.error("print maps failed: %s", printed.reason)
    report_page = make_report(
        results,
        map_href="map.html",
        run_id=run_id,
        print_maps=tuple(m for m in maps if m.endswith(".png")),
        print_failed=printed.reason if printed.status == "failed" else None,
    )
    (staging / "report.html").write_text(stamp_html(report_page, run_id), encoding="utf-8")
    for name, text in risk_factor_tables_csv(results).items():
        (staging / name).write_text(text, encoding="utf-8")
    report = public_printed = None
    if public is not None:
        report, public_printed = _write_public(
            results.layers, results.sections, staging, public, online, run_id, paper=paper
        )
    info = run_info(results, extra=run_extra)
    info["run_id"] = run_id
    info["map"] = {"online": online}
    info["print"] = {"paper": paper, "files": maps}
    info["steps"]["print_maps"] = printed.to_dict()
    if report is not None:
        info["map"]["public"] = _public_record(report, online=online)
    if public_printed is not None:
        info["steps"]["print_maps_public"] = public_printed.to_dict()
    info["files"] = file_list(staging)
    (staging / "run.json").write_text(_json(info), encoding="utf-8")
    return {name: folder.out / name for name in [*info["files"], "run.json"]}


def _with_run_id(results_text: str, run_id: str) -> str:
    """results.json with ``run_id`` first: the hash of the results without it."""
    sections = json.loads(results_text)
    return json.dumps({"run_id": run_id, **sections}, indent=2, ensure_ascii=False) + "\n"


def stamp_html(html: str, run_id: str) -> str:
    """Put the run id in a page's head, where a reader (or a test) finds it."""
    meta = f'<meta name="geo-stunting-run-id" content="{run_id}">'
    head = html.find("<head>")
    if head < 0:
        return f"<!-- geo-stunting run id {run_id} -->\n{html}"
    at = head + len("<head>")
    return html[:at] + meta + html[at:]


def file_list(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file below `folder` but run.json: size and SHA-256, by relative path."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not (path.parent == folder and path.name == "run.json"):
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            files[path.relative_to(folder).as_posix()] = {
                "bytes": path.stat().st_size,
                "sha256": digest.hexdigest(),
            }
    return files


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _public_record(report: MaskingReport, *, online: bool) -> dict[str, Any]:
    return {"files": list(PUBLIC_FILES), "online": online, **report.to_dict()}


def _write_public(
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    folder: Path,
    options: PublicOptions,
    online: bool,
    run_id: str | None = None,
    *,
    paper: str = "a4",
) -> tuple[MaskingReport, PrintOutcome]:
    from geo_stunting.outputs._masking import public_layers  # noqa: PLC0415
    from geo_stunting.outputs._print_job import print_maps_beside  # noqa: PLC0415
    from geo_stunting.outputs.map._render import map_html, render_map  # noqa: PLC0415

    masked, report = public_layers(
        layers, min_m=options.min_m, max_m=options.max_m, seed=options.seed
    )
    (folder / "public").mkdir(exist_ok=True)
    with print_maps_beside(
        masked, sections, folder / "public", paper=paper, points="masked"
    ) as job:
        write_gpkg(masked, folder / "public" / "layers.gpkg", sections=sections, public=True)
        html = map_html(render_map(masked, sections, online=online, masking=report))
        if run_id is not None:
            html = stamp_html(html, run_id)
        (folder / "public" / "map.html").write_text(html, encoding="utf-8")
        printed = job.result()
    if printed.status == "failed":
        log.error("public print maps failed: %s", printed.reason)
    return report, printed


def read_outputs(out_dir: str | Path) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, Any]]:
    """Read the layers (layers.gpkg) and sections (results.json) of an output folder.

    Raises
    ------
    InputError
        If either file is missing or unreadable.
    """
    import pyogrio.errors  # noqa: PLC0415

    from geo_stunting.outputs._qgis import read_layers  # noqa: PLC0415

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
        layers = read_layers(out / "layers.gpkg")
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as exc:
        raise InputError(
            Problem(f"cannot read the outputs in {out}: {exc}", fix="rerun geo-stunting analyze")
        ) from exc
    # Folders written before December 2026 kept the access columns in a layer of
    # their own; its rows are the subjects with those columns, which is what the
    # subjects layer holds now, so the map draws and styles them as subjects.
    legacy = layers.pop("subjects_access", None)
    if legacy is not None:
        if "subjects" in layers and len(legacy) != len(layers["subjects"]):
            layers["subjects_access"] = legacy  # not the same rows: drawn as it is
        else:
            layers["subjects"] = legacy
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
    run_id = sections.get("run_id")
    with output_folder(out) as folder:
        _link_tree(out, folder.staging)
        staging = folder.staging
        report = None
        if public is None:
            html = map_html(render_map(layers, sections, online=online))
            if run_id is not None:
                html = stamp_html(html, str(run_id))
            _replace_file(staging / "map.html", html)
            names = ["map.html"]
        else:
            shutil.rmtree(staging / "public", ignore_errors=True)
            report, printed = _write_public(layers, sections, staging, public, online, run_id)
            names = [n for n in PUBLIC_FILES if (staging / n).is_file()]
        run_path = out / "run.json"
        info = json.loads(run_path.read_text(encoding="utf-8")) if run_path.is_file() else {}
        record = dict(info.get("map") or {})
        if report is None:
            record["online"] = online
        else:
            record["public"] = _public_record(report, online=online)
            info.setdefault("steps", {})["print_maps_public"] = printed.to_dict()
        info["map"] = record
        if "files" in info:
            info["files"] = file_list(staging)
        _replace_file(staging / "run.json", _json(info))
        folder.commit()
    written = {name: out / name for name in [*names, "run.json"]}
    log.info("wrote %s", ", ".join(str(p) for p in written.values()))
    return written


def _link_tree(source: Path, target: Path) -> None:
    """Fill `target` with hard links to every file of `source` (copies across file systems)."""
    for path in sorted(source.rglob("*")):
        dest = target / path.relative_to(source)
        if path.is_dir():
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copy2(path, dest)


def _replace_file(path: Path, text: str) -> None:
    """Write `text` to a new file at `path` (never through a hard link to the old run's file)."""
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")


def write_gpkg(
    layers: Mapping[str, gpd.GeoDataFrame],
    path: Path,
    *,
    sections: Mapping[str, Any] | None = None,
    public: bool = False,
) -> None:
    """Write the layers to one styled GeoPackage, with the QGIS project beside it.

    See `geo_stunting.outputs._qgis`: GeoPackage 1.2, a layer per output in
    the analysis CRS, each with its QGIS style and description; the project
    (same name, ``.qgz``) opens them all, styled.
    """
    from geo_stunting.outputs._qgis import write_project, write_styled_gpkg  # noqa: PLC0415

    write_styled_gpkg(layers, path, sections=sections, public=public)
    study = (sections or {}).get("study") or {}
    title = str(study.get("name") or "geo_stunting")
    write_project(
        layers,
        path.with_suffix(".qgz"),
        gpkg_name=path.name,
        title=f"{title} (public)" if public else title,
        sections=sections,
        public=public,
    )
