"""The study file: a TOML file that says where the data are and how to read them.

The keys are a public contract, documented in the README. Unknown keys are an
error that names the key and the closest valid one; values of the wrong kind
are an error that names the key and what it should be.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from geo_stunting.errors import Problem, StudyFileError

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
    "parse_weights",
    "read_study_file",
]

#: Every analysis step geo_stunting knows, in the order they run.
STEP_NAMES: tuple[str, ...] = (
    "access",
    "pattern",
    "autocorrelation",
    "scan",
    "relative_risk",
    "risk_factors",
)
DEFAULT_CASE_VALUES: tuple[str, ...] = ("case", "stunting", "1")
DEFAULT_CONTROL_VALUES: tuple[str, ...] = ("control", "normal", "0")
DEFAULT_SEED = 20231

Direction = Literal["high", "low", "both"]
Edge = Literal["uniform", "diggle", "none"]
Engine = Literal["local", "dask"]
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

    def with_overrides(
        self,
        *,
        seed: int | None = None,
        permutations: int | None = None,
        steps: tuple[str, ...] | None = None,
    ) -> AnalysisSettings:
        """Return a copy with the given values replaced (``None`` keeps)."""
        new = self
        if seed is not None:
            new = replace(new, seed=_check_int("seed", seed, "[analysis]", minimum=0))
        if permutations is not None:
            new = replace(
                new,
                permutations=_check_int("permutations", permutations, "[analysis]", minimum=1),
            )
        if steps is not None:
            new = replace(new, steps=_check_steps(list(steps), "--only"))
        return new


@dataclass(frozen=True)
class StudyConfig:
    """A parsed study file."""

    name: str
    subjects: SubjectsSpec
    facilities: FacilitiesSpec | None = None
    area: AreaSpec | None = None
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    risk_factors: dict[str, Any] | None = None
    path: Path | None = None
    sha256: str | None = None


_SECTIONS: dict[str, tuple[str, ...]] = {
    "study": ("name", "description"),
    "subjects": (
        "path",
        "id",
        "x",
        "y",
        "crs",
        "status",
        "case",
        "control",
        "stratum",
        "sheet",
        "layer",
    ),
    "facilities": ("path", "id", "name", "kind", "x", "y", "crs", "sheet", "layer"),
    "area": ("path", "name", "crs", "layer", "outside", "levels"),
    "analysis": (
        "crs",
        "buffer_m",
        "permutations",
        "seed",
        "weights",
        "steps",
        "engine",
        "scheduler",
    ),
    "scan": ("max_share", "max_radius_m", "direction"),
    "relative_risk": ("bandwidth_m", "cell_m", "edge"),
    "risk_factors": (
        "categorical",
        "ordinal",
        "continuous",
        "reference",
        "labels",
        "logistic",
        "per",
        "respondents",
    ),
}


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
    problems: list[Problem] = []
    for section, value in data.items():
        if section not in _SECTIONS:
            problems.append(_unknown(section, list(_SECTIONS), "section", source))
        elif not isinstance(value, dict):
            problems.append(
                Problem(f"[{section}] must be a table (a [{section}] header)", file=source)
            )
        elif _SECTIONS[section]:
            problems.extend(
                _unknown(f"{key}", list(_SECTIONS[section]), f"key in [{section}]", source)
                for key in value
                if key not in _SECTIONS[section]
            )
    if "subjects" not in data:
        problems.append(
            Problem(
                "the study file has no [subjects] section",
                file=source,
                fix='add [subjects] with at least path = "subjects.csv"',
            )
        )
    if problems:
        raise StudyFileError(problems)

    study = data.get("study", {})
    name = _check_str("name", study.get("name", "Unnamed study"), "[study]", source)
    subjects = _subjects(data["subjects"], base, source)
    facilities = _facilities(data["facilities"], base, source) if "facilities" in data else None
    area = _area(data["area"], base, source) if "area" in data else None
    analysis = replace(
        _analysis(data.get("analysis", {}), source),
        scan=_scan(data.get("scan", {}), source),
        relative_risk=_relative_risk(data.get("relative_risk", {}), source),
    )
    risk_factors = data.get("risk_factors")
    if risk_factors is not None:
        from geo_stunting.study._risk_spec import parse_risk_factor_section  # noqa: PLC0415

        parse_risk_factor_section(risk_factors, base=base, source=source)
    return StudyConfig(
        name=name,
        subjects=subjects,
        facilities=facilities,
        area=area,
        analysis=analysis,
        risk_factors=risk_factors,
    )


def _unknown(key: str, valid: list[str], what: str, source: str) -> Problem:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(valid)}"
    return Problem(f"unknown {what} {key!r}", file=source, fix=hint)


def _check_str(key: str, value: object, section: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudyFileError(
            Problem(
                f"{section} {key} must be non-empty text, got {value!r}",
                file=source,
                fix=f'write {key} = "..." with quotes',
            )
        )
    return value.strip()


def _check_int(key: str, value: object, section: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StudyFileError(
            Problem(
                f"{section} {key} must be a whole number >= {minimum}, got {value!r}",
                column=f"{section} {key}",
            )
        )
    return value


def _check_steps(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StudyFileError(
            Problem(f"{where} steps must be a list of step names", fix=f"e.g. {list(STEP_NAMES)}")
        )
    problems = [
        _unknown(step, list(STEP_NAMES), "step", where) for step in value if step not in STEP_NAMES
    ]
    if problems:
        raise StudyFileError(problems)
    return tuple(dict.fromkeys(value))


def _path(section: dict[str, Any], name: str, base: Path, source: str) -> Path:
    if "path" not in section:
        raise StudyFileError(
            Problem(
                f"[{name}] needs a path",
                file=source,
                fix=f'add path = "{name}.csv" (relative to the study file)',
            )
        )
    text = _check_str("path", section["path"], f"[{name}]", source)
    return (base / text).resolve()


def _optional(section: dict[str, Any], key: str, name: str, source: str) -> str | None:
    if key not in section:
        return None
    return _check_str(key, section[key], f"[{name}]", source)


def _values(
    section: dict[str, Any], key: str, default: tuple[str, ...], source: str
) -> tuple[str, ...]:
    if key not in section:
        return default
    value = section[key]
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)
    ):
        raise StudyFileError(
            Problem(
                f"[subjects] {key} must be a list of values, got {value!r}",
                file=source,
                fix=f'write {key} = ["{default[0]}", ...]',
            )
        )
    return tuple(str(v).strip().lower() for v in value)


def _subjects(section: dict[str, Any], base: Path, source: str) -> SubjectsSpec:
    spec = SubjectsSpec(path=_path(section, "subjects", base, source))
    updates: dict[str, Any] = {}
    for key in ("id", "x", "y", "status"):
        if key in section:
            updates[key] = _check_str(key, section[key], "[subjects]", source)
    for key in ("crs", "stratum", "sheet", "layer"):
        updates[key] = _optional(section, key, "subjects", source)
    updates["case"] = _values(section, "case", DEFAULT_CASE_VALUES, source)
    updates["control"] = _values(section, "control", DEFAULT_CONTROL_VALUES, source)
    both = set(updates["case"]) & set(updates["control"])
    if both:
        raise StudyFileError(
            Problem(
                f"[subjects] value(s) {sorted(both)} are listed as both case and control",
                file=source,
                fix="list each status value in only one of case and control",
            )
        )
    return replace(spec, **updates)


def _facilities(section: dict[str, Any], base: Path, source: str) -> FacilitiesSpec:
    spec = FacilitiesSpec(path=_path(section, "facilities", base, source))
    updates: dict[str, Any] = {}
    for key in ("id", "x", "y"):
        if key in section:
            updates[key] = _check_str(key, section[key], "[facilities]", source)
    for key in ("name", "kind", "crs", "sheet", "layer"):
        updates[key] = _optional(section, key, "facilities", source)
    return replace(spec, **updates)


def _area(section: dict[str, Any], base: Path, source: str) -> AreaSpec:
    spec = AreaSpec(path=_path(section, "area", base, source))
    updates: dict[str, Any] = {
        key: _optional(section, key, "area", source) for key in ("name", "crs", "layer")
    }
    outside = section.get("outside", "reject")
    if outside not in ("reject", "keep"):
        raise StudyFileError(
            Problem(
                f"[area] outside must be 'reject' or 'keep', got {outside!r}",
                file=source,
                fix='write outside = "reject" (default) or outside = "keep"',
            )
        )
    updates["outside"] = outside
    levels = section.get("levels", {})
    if not isinstance(levels, dict) or not all(
        isinstance(v, str) and v.strip() for v in levels.values()
    ):
        raise StudyFileError(
            Problem(
                '[area] levels must be a table of level = "column"',
                file=source,
                fix='levels = { village = "*", district = "kode_kec", regency = "kode_kab" } '
                '("*": each polygon)',
            )
        )
    updates["levels"] = tuple((str(k), v.strip()) for k, v in levels.items())
    return replace(spec, **updates)


def _analysis(section: dict[str, Any], source: str) -> AnalysisSettings:
    settings = AnalysisSettings()
    updates: dict[str, Any] = {}
    if "crs" in section:
        updates["crs"] = _check_str("crs", section["crs"], "[analysis]", source)
    if "buffer_m" in section:
        value = section["buffer_m"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise StudyFileError(
                Problem(
                    f"[analysis] buffer_m must be a positive number of metres, got {value!r}",
                    file=source,
                    fix="write buffer_m = 2000 (no quotes, no unit)",
                )
            )
        updates["buffer_m"] = float(value)
    if "permutations" in section:
        updates["permutations"] = _check_int(
            "permutations", section["permutations"], "[analysis]", minimum=1
        )
    if "seed" in section:
        updates["seed"] = _check_int("seed", section["seed"], "[analysis]", minimum=0)
    if "weights" in section:
        weights = _check_str("weights", section["weights"], "[analysis]", source)
        parse_weights(weights)
        updates["weights"] = weights
    if "steps" in section:
        updates["steps"] = _check_steps(section["steps"], "[analysis]")
    if "engine" in section:
        updates["engine"] = _choice(section, "engine", ("local", "dask"), "[analysis]", source)
    if "scheduler" in section:
        address = _check_str("scheduler", section["scheduler"], "[analysis]", source)
        if not address.startswith(("tcp://", "tls://")):
            raise StudyFileError(
                Problem(
                    f"[analysis] scheduler must be a dask scheduler address, got {address!r}",
                    file=source,
                    fix='write scheduler = "tcp://HOST:8786", or leave it out for a local cluster',
                )
            )
        updates["scheduler"] = address
    return replace(settings, **updates)


def _positive(section: dict[str, Any], key: str, where: str, source: str) -> float | None:
    if key not in section:
        return None
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise StudyFileError(
            Problem(
                f"{where} {key} must be a positive number, got {value!r}",
                file=source,
                fix=f"write {key} = 1000 (no quotes, no unit)",
            )
        )
    return float(value)


def _choice(
    section: dict[str, Any], key: str, options: tuple[str, ...], where: str, source: str
) -> str:
    value = section.get(key, options[0])
    if value not in options:
        raise StudyFileError(
            Problem(
                f"{where} {key} must be one of {list(options)}, got {value!r}",
                file=source,
                fix=f'write {key} = "{options[0]}"',
            )
        )
    return str(value)


def _scan(section: dict[str, Any], source: str) -> ScanOptions:
    share = _positive(section, "max_share", "[scan]", source)
    if share is not None and share > 0.5:
        raise StudyFileError(
            Problem(
                f"[scan] max_share must be at most 0.5 (half of the subjects), got {share}",
                file=source,
                fix="write max_share = 0.5 or less",
            )
        )
    return ScanOptions(
        max_share=share,
        max_radius_m=_positive(section, "max_radius_m", "[scan]", source),
        direction=cast(
            "Direction", _choice(section, "direction", ("high", "low", "both"), "[scan]", source)
        ),
    )


def _relative_risk(section: dict[str, Any], source: str) -> RelativeRiskOptions:
    return RelativeRiskOptions(
        bandwidth_m=_positive(section, "bandwidth_m", "[relative_risk]", source),
        cell_m=_positive(section, "cell_m", "[relative_risk]", source),
        edge=cast(
            "Edge",
            _choice(section, "edge", ("uniform", "diggle", "none"), "[relative_risk]", source),
        ),
    )
