"""The study file, declared once: one pydantic model per section.

Each key is declared once, with its type, its default, its description (which
becomes the JSON Schema that editors use to validate and complete
``study.toml``) and a `Say`: how to word a wrong value (what the value must be
and what to write instead). `geo_stunting.study._file_errors` turns pydantic's
errors into the `Problem` lines every geo_stunting error is made of;
`geo_stunting.study._config` turns a validated model into the frozen
dataclasses (`StudyConfig`, `SubjectsSpec`, …) that the rest of the package
reads.

Checks that involve several keys (a status value listed both as case and as
control; a reference level of a factor that is not listed) are model
validators that raise one ``study`` error carrying every problem they found.

The model is strict: TOML gives real types, so ``"2 km"`` is not a number and
``1.5`` is not a whole number (pydantic's lax coercions would hide mistakes).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "DIRECTIONS",
    "EDGES",
    "ENGINES",
    "STEP_NAMES",
    "AnalysisSection",
    "AreaSection",
    "FacilitiesSection",
    "RelativeRiskSection",
    "RespondentsSection",
    "RiskFactorsSection",
    "Say",
    "ScanSection",
    "StudyFile",
    "StudySection",
    "SubjectsSection",
    "problems_error",
]

#: Every analysis step geo_stunting knows, in the order they run.
STEP_NAMES: tuple[str, ...] = (
    "access",
    "pattern",
    "autocorrelation",
    "scan",
    "relative_risk",
    "risk_factors",
    "areas",
)
Step = Literal[
    "access", "pattern", "autocorrelation", "scan", "relative_risk", "risk_factors", "areas"
]
Direction = Literal["high", "low", "both"]
Edge = Literal["uniform", "diggle", "none"]
Engine = Literal["local", "dask"]
Outside = Literal["reject", "keep"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
EDGES: tuple[str, ...] = get_args(Edge)
ENGINES: tuple[str, ...] = get_args(Engine)
assert get_args(Step) == STEP_NAMES

DEFAULT_CASE_VALUES: tuple[str, ...] = ("case", "stunting", "1")
DEFAULT_CONTROL_VALUES: tuple[str, ...] = ("control", "normal", "0")
DEFAULT_SEED = 20231
#: Spatial weights: "knn:K" (K >= 1) or "distance:D" (D in metres).
WEIGHTS_PATTERN = r"^(knn:[1-9][0-9]*|distance:[0-9]+(\.[0-9]+)?)$"


@dataclass(frozen=True)
class Say:
    """How a message words a wrong value of one key.

    Parameters
    ----------
    must
        What the value must be: ``"[analysis] buffer_m must be <must>, got '2 km'"``.
    fix
        What to write instead.
    message
        A whole message instead of the "must be" sentence; ``{value!r}`` is the value.
    unknown, choices
        For a list of names: an item that is not among ``choices`` is an
        ``"unknown <unknown> 'x'"`` with the closest valid name.
    by_error
        Other wording for one pydantic error type: ``{type: (must, fix)}``.
    """

    must: str
    fix: str
    message: str | None = None
    unknown: str | None = None
    choices: tuple[str, ...] = ()
    by_error: tuple[tuple[str, tuple[str, str]], ...] = ()


def _one_of(key: str, options: tuple[str, ...]) -> Say:
    return Say(must=f"one of {list(options)}", fix=f'write {key} = "{options[0]}"')


def _text(key: str, example: str = "...") -> Say:
    return Say(must="non-empty text", fix=f'write {key} = "{example}" with quotes')


def problems_error(problems: list[tuple[str, str, str]]) -> PydanticCustomError:
    """One pydantic error carrying several ``(key, message, fix)`` problems of a section."""
    return PydanticCustomError(
        "study", "{count} problem(s)", {"count": len(problems), "problems": problems}
    )


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Positive = Annotated[float, Field(gt=0)]
StatusValues = str | int | Annotated[list[str | int], Field(min_length=1)]
_CASE: list[str | int] = [*DEFAULT_CASE_VALUES]
_CONTROL: list[str | int] = [*DEFAULT_CONTROL_VALUES]
_POSITIVE = Say(must="a positive number", fix="write {key} = 1000 (no quotes, no unit)")


#: The range each number of the study file must lie in: (smallest, largest, an example). Beyond
#: them a run would not end on this machine (permutations, cell_m) or would mean a unit mistake.
BOUNDS: dict[str, tuple[float, float, str]] = {
    "buffer_m": (1.0, 100_000.0, "2000"),
    "permutations": (1, 999_999, "999"),
    "max_share": (1e-6, 0.5, "0.5"),
    "max_radius_m": (1.0, 1_000_000.0, "1000"),
    "bandwidth_m": (1.0, 1_000_000.0, "500"),
    "cell_m": (1.0, 100_000.0, "100"),
}


def _bounded(key: str) -> tuple[Any, Say]:
    """``Field(ge, le)`` and the wording of a number of metres (or share) within its bounds."""
    low, high, example = BOUNDS[key]
    return Field(ge=low, le=high), Say(
        f"a number from {low:g} to {high:g}", f"write {key} = {example} (no quotes, no unit)"
    )


class _Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class StudySection(_Section):
    """``[study]``: what the study is called."""

    name: Annotated[Text, _text("name", "Ogan Ilir 2023")] = Field(
        "Unnamed study", description="The study's name, shown in the map and the report."
    )
    description: Annotated[str, _text("description")] | None = Field(
        None, description="Free text about the study (kept, not used)."
    )


class SubjectsSection(_Section):
    """``[subjects]``: the cases and controls, one row per child (required)."""

    path: Annotated[Text, _text("path", "subjects.csv")] = Field(
        description="The file, relative to the study file: .csv, .xlsx, .geojson, .gpkg or .shp.",
        json_schema_extra={"examples": ["subjects.csv"]},
    )
    id: Annotated[Text, _text("id")] = Field("id", description="Column of the subject id.")
    x: Annotated[Text, _text("x", "lon")] = Field(
        "lon", description="Column of x / longitude (not needed for GeoJSON, GPKG, SHP)."
    )
    y: Annotated[Text, _text("y", "lat")] = Field("lat", description="Column of y / latitude.")
    crs: Annotated[Text, _text("crs", "EPSG:4326")] | None = Field(
        None, description="CRS of x/y (default EPSG:4326); geometry files use their own."
    )
    status: Annotated[Text, _text("status")] = Field(
        "status", description="Column saying case or control."
    )
    case: Annotated[StatusValues, Say("a list of values", 'write case = ["case", ...]')] = Field(
        _CASE,
        description="Status values of a case (compared without case or spaces).",
    )
    control: Annotated[
        StatusValues, Say("a list of values", 'write control = ["control", ...]')
    ] = Field(_CONTROL, description="Status values of a control.")
    stratum: Annotated[Text, _text("stratum", "village")] | None = Field(
        None, description="Column of the stratum (village) of each child."
    )
    sheet: Annotated[Text, _text("sheet", "Sheet1")] | None = Field(
        None, description="Excel sheet (default: the first)."
    )
    layer: Annotated[Text, _text("layer", "anak")] | None = Field(
        None, description="GeoPackage layer (needed when there are several)."
    )

    @model_validator(mode="after")
    def _case_or_control(self) -> SubjectsSection:
        both = set(status_values(self.case)) & set(status_values(self.control))
        if both:
            raise problems_error(
                [
                    (
                        "case",
                        f"value(s) {sorted(both)} are listed as both case and control",
                        "list each status value in only one of case and control",
                    )
                ]
            )
        return self


def status_values(value: str | int | list[str | int]) -> tuple[str, ...]:
    """Status values as compared: text, stripped, lower case."""
    values = value if isinstance(value, list) else [value]
    return tuple(str(v).strip().lower() for v in values)


class FacilitiesSection(_Section):
    """``[facilities]``: health facilities (optional; steps that need them are skipped)."""

    path: Annotated[Text, _text("path", "facilities.csv")] = Field(
        description="The file, relative to the study file.",
        json_schema_extra={"examples": ["facilities.csv"]},
    )
    id: Annotated[Text, _text("id")] = Field("id", description="Column of the facility id.")
    name: Annotated[Text, _text("name", "name")] | None = Field(
        None, description="Column of the name (the id is used when missing)."
    )
    kind: Annotated[Text, _text("kind", "type")] | None = Field(
        None,
        description="Column of the kind: puskesmas / pustu / posyandu / hospital …"
        ' ("unknown" when empty).',
    )
    x: Annotated[Text, _text("x", "lon")] = Field("lon", description="Column of x / longitude.")
    y: Annotated[Text, _text("y", "lat")] = Field("lat", description="Column of y / latitude.")
    crs: Annotated[Text, _text("crs", "EPSG:4326")] | None = Field(None, description="CRS of x/y.")
    sheet: Annotated[Text, _text("sheet", "Sheet1")] | None = Field(
        None, description="Excel sheet."
    )
    layer: Annotated[Text, _text("layer")] | None = Field(None, description="GeoPackage layer.")


_LEVELS = Say(
    must='a table of level = "column"',
    fix='levels = { village = "*", district = "kode_kec", regency = "kode_kab" }'
    ' ("*": each polygon)',
)


class AreaSection(_Section):
    """``[area]``: the study-area polygons, such as villages (optional)."""

    path: Annotated[Text, _text("path", "villages.geojson")] = Field(
        description="The polygon file, relative to the study file.",
        json_schema_extra={"examples": ["villages.geojson"]},
    )
    name: Annotated[Text, _text("name", "nama")] | None = Field(
        None,
        description="Column of the area (village) name; when not given, a column named nama,"
        " name, namobj, wadmkd, wadmkc …, else the first text column that differs on every"
        " polygon.",
    )
    crs: Annotated[Text, _text("crs", "EPSG:4326")] | None = Field(
        None, description="Only for files without a CRS (a Shapefile with no .prj)."
    )
    layer: Annotated[Text, _text("layer", "desa")] | None = Field(
        None, description="GeoPackage layer."
    )
    outside: Annotated[
        Outside, Say("'reject' or 'keep'", 'write outside = "reject" (default) or outside = "keep"')
    ] = Field("reject", description='Subjects outside the area: "reject" (default) or "keep".')
    outside_m: Annotated[
        float,
        Field(ge=0.0, le=2000.0),  # study._validate.OUTSIDE_M_MAX
        Say("a number of metres from 0 to 2000", "write outside_m = 150 (no quotes, no unit)"),
    ] = Field(
        0.0,
        description="Keep subjects up to this many metres outside the area (boundary files and "
        "GPS fixes disagree by tens of metres); each counts in the nearest area. 0 to 2000.",
    )
    levels: Annotated[dict[str, Text], _LEVELS] = Field(
        default_factory=dict,
        description="Dask engine: area levels to aggregate, level = column ('*': each polygon).",
    )


class AnalysisSection(_Section):
    """``[analysis]``: how to analyse."""

    crs: Annotated[Text, _text("crs", "auto")] = Field(
        "auto",
        description='"auto" (UTM zone of the study\'s centroid) or a projected CRS'
        ' such as "EPSG:32748".',
    )
    buffer_m: Annotated[
        float,
        Field(ge=1.0, le=100_000.0),
        Say("a number of metres from 1 to 100000", "write buffer_m = 2000 (no quotes, no unit)"),
    ] = Field(2000.0, description="Facility coverage radius, metres (1 to 100,000).")
    permutations: Annotated[
        int,
        Field(ge=1, le=999_999),
        Say("a whole number from 1 to 999,999", "write permutations = 999"),
    ] = Field(999, description="Monte Carlo replications of every simulation test (1 to 999,999).")
    seed: Annotated[int, Field(ge=0), Say("a whole number >= 0", "write seed = 20231")] = Field(
        DEFAULT_SEED, description="Seed of every random step; the same seed gives the same results."
    )
    weights: Annotated[
        str,
        StringConstraints(strip_whitespace=True, pattern=WEIGHTS_PATTERN),
        Say(
            "knn:K or distance:D",
            'write "knn:5" (5 nearest neighbours) or "distance:2000" (a 2,000 m band)',
            message="weights = {value!r} is not understood",
        ),
    ] = Field("knn:5", description='Spatial weights: "knn:K" or "distance:D" (D in metres).')
    steps: (
        Annotated[
            list[Step],
            Say(
                "a list of step names",
                f"e.g. {list(STEP_NAMES)}",
                unknown="step",
                choices=STEP_NAMES,
            ),
        ]
        | None
    ) = Field(None, description="Steps to run (default: all).")
    engine: Annotated[Engine, _one_of("engine", ENGINES)] = Field(
        "local", description='"local" (one process) or "dask" (national scale).'
    )
    scheduler: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, pattern=r"^(tcp|tls)://"),
            Say(
                "a dask scheduler address",
                'write scheduler = "tcp://HOST:8786", or leave it out for a local cluster',
            ),
        ]
        | None
    ) = Field(None, description="Dask engine: the address of an existing scheduler.")
    nearest_lines: (
        Annotated[bool, Say("true or false", "write nearest_lines = true (no quotes)")] | None
    ) = Field(
        None,
        description="Write the nearest_lines layer (a line from each home to its nearest "
        "facility): true or false; default: only for studies of at most 20,000 subjects.",
    )


class ScanSection(_Section):
    """``[scan]``: the Bernoulli spatial scan."""

    max_share: Annotated[float, *_bounded("max_share")] | None = Field(
        None,
        description="Largest window as a share of the subjects (at most 0.5); default: chosen "
        "by the Gini coefficient among 1-50 % when max_radius_m is not set, else 0.5.",
    )
    max_radius_m: Annotated[float, *_bounded("max_radius_m")] | None = Field(
        None, description="Largest window radius in metres (default: no limit)."
    )
    direction: Annotated[Direction, _one_of("direction", DIRECTIONS)] = Field(
        "high", description='"high" (raised risk), "low" or "both".'
    )


class RelativeRiskSection(_Section):
    """``[relative_risk]``: the kernel relative-risk surface."""

    bandwidth_m: Annotated[float, *_bounded("bandwidth_m")] | None = Field(
        None,
        description="Gaussian kernel sd in metres; default: likelihood cross-validation"
        " (spatstat bw.relrisk).",
    )
    cell_m: Annotated[float, *_bounded("cell_m")] | None = Field(
        None, description="Grid cell in metres; default: 128 cells across the window."
    )
    edge: Annotated[Edge, _one_of("edge", EDGES)] = Field(
        "uniform", description='Edge correction: "uniform", "diggle" or "none".'
    )


_RESPONDENTS = 'respondents = { path = "respondents.csv", id = "id" }'


class RespondentsSection(_Section):
    """``respondents`` in ``[risk_factors]``: a table joined to the subjects by id."""

    path: Annotated[Text, Say("non-empty text", _RESPONDENTS)] = Field(
        description="The respondents file, relative to the study file."
    )
    id: Annotated[Text, Say("non-empty text", _RESPONDENTS)] = Field(
        "id", description="Column of the subject id."
    )
    sheet: Annotated[Text, Say("non-empty text", _RESPONDENTS)] | None = Field(
        None, description="Excel sheet."
    )


Level = str | int


class RiskFactorsSection(_Section):
    """``[risk_factors]``: which columns are risk factors (inferred when absent)."""

    categorical: Annotated[list[Text], Say("a list of column names", 'categorical = ["col1"]')] = (
        Field(default_factory=list, description="Factors compared with a cross-table.")
    )
    ordinal: Annotated[
        dict[str, Annotated[list[Level], Field(min_length=2)]],
        Say(
            "a table of factor = [levels in order], each with at least two distinct levels",
            'ordinal = { mother_education = ["primary", "junior", "senior", "higher"] }',
        ),
    ] = Field(
        default_factory=dict, description="Ordered factors and their levels; a test for trend."
    )
    continuous: Annotated[list[Text], Say("a list of column names", 'continuous = ["col1"]')] = (
        Field(
            default_factory=list, description="Numeric factors: correlations and a two-group test."
        )
    )
    reference: Annotated[
        dict[str, Level], Say("a table of levels", 'reference = { smoking = "no" }')
    ] = Field(
        default_factory=dict, description="The unexposed level of each factor (ordinal: the first)."
    )
    labels: Annotated[dict[str, str], Say("a table of text", 'labels = { col = "Label" }')] = Field(
        default_factory=dict, description="Labels shown in the tables."
    )
    logistic: Annotated[list[Text], Say("a list of factors", 'logistic = ["a", "b"]')] = Field(
        default_factory=list, description="Factors of the multivariable logistic model."
    )
    per: Annotated[
        dict[str, Positive], Say("a table of positive numbers", "per = { lux = 10 }")
    ] = Field(
        default_factory=dict,
        description="Model odds ratios per this many units (continuous factors).",
    )
    respondents: RespondentsSection | None = Field(
        None, description="A separate respondents table joined by subject id."
    )

    @model_validator(mode="after")
    def _consistent(self) -> RiskFactorsSection:
        problems = factor_problems(self)
        if problems:
            raise problems_error(problems)
        return self


def closest(key: str, valid: list[str]) -> str:
    """``"did you mean 'x'?"``, or the valid names when none is close."""
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"valid: {', '.join(valid)}" if valid else "none are valid here"


def factor_problems(section: RiskFactorsSection) -> list[tuple[str, str, str]]:
    """Problems between the keys of ``[risk_factors]``: ``(key, message, fix)``."""
    from geo_stunting.study._validate import cell_text  # noqa: PLC0415

    problems: list[tuple[str, str, str]] = []
    kinds: dict[str, str] = {}
    for key, names in (("categorical", section.categorical), ("continuous", section.continuous)):
        for name in names:
            if name in kinds:
                problems.append(
                    (key, f"{name!r} is listed more than once", "list each factor in one place")
                )
            kinds[name] = key
    ordinal: dict[str, tuple[str, ...]] = {}
    for name, levels in section.ordinal.items():
        texts = tuple(cell_text(v) for v in levels)
        if len({t.lower() for t in texts}) != len(texts):
            problems.append(
                (
                    "ordinal",
                    (
                        f"ordinal {name!r} must list at least two distinct levels in order,"
                        f" got {levels!r}"
                    ),
                    f'{name} = ["primary", "junior", "senior", "higher"]',
                )
            )
            continue
        if name in kinds:
            problems.append(
                ("ordinal", f"{name!r} is listed more than once", "list each factor in one place")
            )
        kinds[name] = "ordinal"
        ordinal[name] = texts
    declared = list(kinds)

    def check_names(key: str, names: list[str]) -> None:
        if declared:  # inferred factors are checked against the data later
            problems.extend(
                (
                    key,
                    f"{key} names {name!r}, which is not a listed factor",
                    closest(name, declared),
                )
                for name in names
                if name not in kinds
            )

    check_names("reference", list(section.reference))
    for name, value in section.reference.items():
        level = cell_text(value)
        if kinds.get(name) == "continuous":
            problems.append(
                ("reference", f"{name!r} is continuous and has no reference level", "remove it")
            )
        elif name in ordinal and level.lower() not in {v.lower() for v in ordinal[name]}:
            problems.append(
                (
                    "reference",
                    (
                        f"reference {level!r} of {name!r} is not one of its levels"
                        f" {list(ordinal[name])}"
                    ),
                    closest(level, list(ordinal[name])),
                )
            )
    check_names("labels", list(section.labels))
    check_names("logistic", section.logistic)
    check_names("per", list(section.per))
    problems.extend(
        ("per", f"per applies to continuous factors; {name!r} is {kinds[name]}", "remove it")
        for name in section.per
        if name in kinds and kinds[name] != "continuous"
    )
    return problems


class StudyFile(_Section):
    """A study file (``study.toml``): where the data are, how to read them and how to analyse.

    Data paths are relative to the study file. Unknown keys are an error that
    names the closest valid key.
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        title="geo_stunting study file",
    )

    study: StudySection = Field(StudySection(), description="What the study is called.")
    subjects: SubjectsSection | None = Field(
        None,
        description="Cases and controls, one row per child (required unless the study is "
        "of counts or prevalence per area: [area] and [areas]).",
    )
    facilities: FacilitiesSection | None = Field(None, description="Health facilities (optional).")
    area: AreaSection | None = Field(
        None, description="Study-area polygons such as villages (optional)."
    )
    # [areas]: its keys are checked (with the same wording) by geo_stunting.areas._spec, which
    # parses them into `AreasSpec`; here it is any table.
    areas: (
        Annotated[
            dict[str, Any],
            Say(
                "a table of keys",
                '[areas] code = "kode", cases = "stunted", population = "measured"',
            ),
        ]
        | None
    ) = Field(
        None,
        description="Counts or prevalence per area (village, kecamatan, kabupaten) joined to the "
        "[area] polygons by code; keys: see the README section 'Area-level studies'.",
    )
    analysis: AnalysisSection = Field(AnalysisSection(), description="How to analyse.")
    scan: ScanSection = Field(ScanSection(), description="The Bernoulli spatial scan.")
    relative_risk: RelativeRiskSection = Field(
        RelativeRiskSection(), description="The kernel relative-risk surface."
    )
    risk_factors: RiskFactorsSection | None = Field(
        None, description="Which columns are risk factors (inferred from the data when absent)."
    )

    @model_validator(mode="after")
    def _what_is_studied(self) -> StudyFile:
        problems = []
        if self.subjects is None and self.areas is None:
            problems.append(
                (
                    "[subjects]",
                    "the study file has no [subjects] section",
                    (
                        'add [subjects] with at least path = "subjects.csv" (or, for counts or '
                        "prevalence per area, [area] and [areas]; see README)"
                    ),
                )
            )
        if self.areas is not None and self.area is None:
            problems.append(
                (
                    "[areas]",
                    "[areas] needs the area polygons in an [area] section",
                    'add [area] with path = "kabupaten.geojson" and name = "nama"',
                )
            )
        if problems:
            raise problems_error(problems)
        return self
