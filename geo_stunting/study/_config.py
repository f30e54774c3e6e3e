"""The study file: a TOML file that says where the data are and how to read them.

The keys are a public contract, documented in the README and declared once in
`geo_stunting.study._file_model` (pydantic; its JSON Schema is
``schema/study.schema.json``). Unknown keys are an error that names the key and
the closest valid one; values of the wrong kind are an error that names the key
and what to write instead (`geo_stunting.study._file_errors`). This module reads
the file and turns the validated model into the frozen dataclasses below, which
the rest of the package reads.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo_stunting.errors import Problem, StudyFileError
from geo_stunting.study._file_errors import validated
from geo_stunting.study._file_model import (
    DEFAULT_CASE_VALUES,
    DEFAULT_CONTROL_VALUES,
    DEFAULT_SEED,
    STEP_NAMES,
    AnalysisSection,
    Direction,
    Edge,
    Engine,
    StudyFile,
    status_values,
)

if TYPE_CHECKING:
    from geo_stunting.areas._spec import AreasSpec

__all__ = [
    "DEFAULT_CASE_VALUES",
    "DEFAULT_CONTROL_VALUES",
    "DEFAULT_SEED",
    "STEP_NAMES",
    "AnalysisSettings",
    "AreaSpec",
    "FacilitiesSpec",
    "RelativeRiskOptions",
    "ScanOptions",
    "StudyConfig",
    "SubjectsSpec",
    "parse_study_dict",
    "parse_weights",
    "read_study_file",
    "validated",
]

_WEIGHTS = re.compile(r"^(knn):(\d+)$|^(distance):(\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class SubjectsSpec:
    """Where the cases and controls are and which columns mean what."""

    path: Path
    id: str = "id"
    x: str = "lon"
    y: str = "lat"
    crs: str | None = None
    status: str = "status"
    case: tuple[str, ...] = DEFAULT_CASE_VALUES
    control: tuple[str, ...] = DEFAULT_CONTROL_VALUES
    stratum: str | None = None
    sheet: str | None = None
    layer: str | None = None


@dataclass(frozen=True)
class FacilitiesSpec:
    """Where the health facilities are and which columns mean what."""

    path: Path
    id: str = "id"
    name: str | None = None
    kind: str | None = None
    x: str = "lon"
    y: str = "lat"
    crs: str | None = None
    sheet: str | None = None
    layer: str | None = None


@dataclass(frozen=True)
class AreaSpec:
    """The study-area polygons (villages) and their name column."""

    path: Path
    name: str | None = None
    crs: str | None = None
    layer: str | None = None
    outside: str = "reject"
    outside_m: float = 0.0
    levels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScanOptions:
    """Options of the Bernoulli spatial scan (``[scan]``).

    Parameters
    ----------
    max_share
        Largest window, as a share of all subjects; ``None`` (the default):
        chosen by the Gini coefficient when `max_radius_m` is not set either,
        else SaTScan's default 0.5.
    max_radius_m
        Largest window radius in metres; ``None`` for no limit.
    direction
        ``"high"`` (clusters of raised risk), ``"low"`` or ``"both"``.
    """

    max_share: float | None = None
    max_radius_m: float | None = None
    direction: Direction = "high"


@dataclass(frozen=True)
class RelativeRiskOptions:
    """Options of the kernel relative-risk surface (``[relative_risk]``).

    Parameters
    ----------
    bandwidth_m
        Gaussian kernel standard deviation in metres; ``None`` chooses it by
        likelihood cross-validation (spatstat's ``bw.relrisk``).
    cell_m
        Grid cell size in metres; ``None`` for 128 cells across the window.
    edge
        Edge correction: ``"uniform"`` (default), ``"diggle"`` or ``"none"``.
    """

    bandwidth_m: float | None = None
    cell_m: float | None = None
    edge: Edge = "uniform"


@dataclass(frozen=True)
class AnalysisSettings:
    """How to analyse: the analysis CRS, distances, permutations, seed, steps.

    Parameters
    ----------
    crs
        ``"auto"`` (the UTM zone of the study's centroid) or a projected CRS
        such as ``"EPSG:32748"``.
    buffer_m
        Radius of facility coverage in metres.
    permutations
        Monte Carlo replications for every simulation-based test.
    seed
        Seed of every random step; the same seed gives the same results.
    weights
        Spatial weights: ``"knn:K"`` or ``"distance:D"`` (D in metres).
    steps
        Steps to run; ``None`` runs every available step.
    scan
        Options of the spatial scan (``[scan]``).
    relative_risk
        Options of the relative-risk surface (``[relative_risk]``).
    engine
        ``"local"`` (one process) or ``"dask"`` (the access step on a dask
        cluster, for millions of subjects).
    scheduler
        Address of an existing dask scheduler (``"tcp://host:8786"``); a
        local cluster when ``None``.
    nearest_lines
        Write the access step's ``nearest_lines`` layer: ``True`` always,
        ``False`` never, ``None`` only with at most
        `geo_stunting.access.NEAREST_LINES_MAX` subjects.
    """

    crs: str = "auto"
    buffer_m: float = 2000.0
    permutations: int = 999
    seed: int = DEFAULT_SEED
    weights: str = "knn:5"
    steps: tuple[str, ...] | None = None
    scan: ScanOptions = field(default_factory=ScanOptions)
    relative_risk: RelativeRiskOptions = field(default_factory=RelativeRiskOptions)
    engine: Engine = "local"
    scheduler: str | None = None
    nearest_lines: bool | None = None

    def with_overrides(
        self,
        *,
        seed: int | None = None,
        permutations: int | None = None,
        steps: tuple[str, ...] | None = None,
    ) -> AnalysisSettings:
        """Return a copy with the given values replaced (``None`` keeps)."""
        given = {"seed": seed, "permutations": permutations, "steps": steps}
        values: dict[str, object] = {k: v for k, v in given.items() if v is not None}
        if "steps" in values:
            values["steps"] = list(steps or ())
        source = "--only" if "steps" in values else "[analysis]"
        checked = validated(AnalysisSection, values, source=source, prefix=("analysis",))
        updates: dict[str, Any] = {key: getattr(checked, key) for key in values}
        if "steps" in updates:
            updates["steps"] = tuple(dict.fromkeys(updates["steps"]))
        return replace(self, **updates)


@dataclass(frozen=True)
class StudyConfig:
    """A parsed study file."""

    name: str
    subjects: SubjectsSpec | None
    facilities: FacilitiesSpec | None = None
    area: AreaSpec | None = None
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    risk_factors: dict[str, Any] | None = None
    path: Path | None = None
    sha256: str | None = None
    areas: AreasSpec | None = None


def parse_weights(text: str) -> tuple[str, float]:
    """Split ``"knn:5"`` or ``"distance:2000"`` into kind and number.

    Raises
    ------
    StudyFileError
        If the text is neither form.
    """
    match = _WEIGHTS.match(text.strip())
    if match is None:
        raise StudyFileError(
            Problem(
                f"weights = {text!r} is not understood",
                column="[analysis] weights",
                fix='write "knn:5" (5 nearest neighbours) or "distance:2000" (a 2,000 m band)',
            )
        )
    if match.group(1):
        k = int(match.group(2))
        if k < 1:
            raise StudyFileError(
                Problem("knn needs at least 1 neighbour", column="[analysis] weights")
            )
        return "knn", float(k)
    return "distance", float(match.group(4))


def read_study_file(path: str | Path) -> StudyConfig:
    """Read and check a study file.

    Parameters
    ----------
    path
        The TOML study file. Data paths inside it are relative to its folder.

    Returns
    -------
    StudyConfig
        The parsed study, with every default filled in.

    Raises
    ------
    StudyFileError
        With one line per problem: unknown keys (and the closest valid one),
        missing required keys, values of the wrong kind.
    """
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(
            Problem(
                "study file not found",
                file=str(path),
                fix="give the path of a .toml study file (see README: 'The study file')",
            )
        )
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise StudyFileError(
            Problem("the study file is not UTF-8 text", file=str(path), fix="save it as UTF-8")
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(
            Problem(
                f"the study file is not valid TOML ({exc})",
                file=str(path),
                fix='check quotes and brackets: text values need quotes, e.g. id = "id"',
            )
        ) from None
    config = parse_study_dict(data, base=path.parent, source=str(path))
    return replace(config, path=path, sha256=hashlib.sha256(raw).hexdigest())


def parse_study_dict(data: dict[str, Any], *, base: Path, source: str) -> StudyConfig:
    """Check a study-file dictionary and turn it into a `StudyConfig`."""
    model = validated(StudyFile, data, source=source)

    def where(path: str) -> Path:
        return (base / path).resolve()

    subjects = model.subjects
    facilities = model.facilities
    area = model.area
    analysis = model.analysis
    areas = None
    if model.areas is not None:
        from geo_stunting.areas._spec import parse_areas_section  # noqa: PLC0415 - areas imports us

        areas = parse_areas_section(model.areas, base=base, source=source)
    return StudyConfig(
        name=model.study.name,
        subjects=None
        if subjects is None
        else SubjectsSpec(
            **subjects.model_dump(exclude={"path", "case", "control"}),
            path=where(subjects.path),
            case=status_values(subjects.case),
            control=status_values(subjects.control),
        ),
        facilities=None
        if facilities is None
        else FacilitiesSpec(**facilities.model_dump(exclude={"path"}), path=where(facilities.path)),
        area=None
        if area is None
        else AreaSpec(
            **area.model_dump(exclude={"path", "levels"}),
            path=where(area.path),
            levels=tuple(area.levels.items()),
        ),
        analysis=AnalysisSettings(
            **analysis.model_dump(exclude={"steps"}),
            steps=None if analysis.steps is None else tuple(dict.fromkeys(analysis.steps)),
            scan=ScanOptions(**model.scan.model_dump()),
            relative_risk=RelativeRiskOptions(**model.relative_risk.model_dump()),
        ),
        # The raw table: the risk_factors step checks it again with the data's folder.
        risk_factors=data.get("risk_factors"),
        areas=areas,
    )
