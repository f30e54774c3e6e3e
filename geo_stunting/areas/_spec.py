"""The study file's ``[areas]`` section: which table holds the counts, and how to analyse them.

Kept in its own module (not in `geo_stunting.study._config`) so that the
section can move with the rest of the study file's parsing; the messages
follow ``_config``'s style: what is wrong, the key, and the fix.

A count column can be one name (one period, or a long table with a
``period`` column) or a table ``{ "2021" = "col_2021", ... }`` (a wide table,
one column per period)::

    [areas]
    table = "prevalence.csv"
    code = "kode"                 # code column of the [area] polygons
    table_code = "kode_kemendagri"
    prevalence = { "2021" = "ssgi_2021_pct", "2022" = "ssgi_2022_pct" }
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from geo_stunting.errors import Problem, StudyFileError

__all__ = [
    "AREAS_KEYS",
    "CLASSIFICATIONS",
    "AreasSpec",
    "parse_area_weights",
    "parse_areas_section",
]

Classification = Literal["quantiles", "equal_interval", "fisher_jenks"]
#: The choropleth classifications (mapclassify names in brackets in the README).
CLASSIFICATIONS: tuple[str, ...] = ("quantiles", "equal_interval", "fisher_jenks")
#: Keys of the ``[areas]`` section.
AREAS_KEYS: tuple[str, ...] = (
    "table",
    "sheet",
    "code",
    "table_code",
    "cases",
    "population",
    "prevalence",
    "sample_size",
    "period",
    "weights",
    "island_knn",
    "classification",
    "classes",
    "scan",
    "max_share",
    "group",
    "group_name",
    "table_name",
)
_COUNT_KEYS = ("cases", "population", "prevalence", "sample_size")
_WEIGHTS = re.compile(r"^(queen|rook)$|^knn:(\d+)$")


@dataclass(frozen=True)
class AreasSpec:
    """The parsed ``[areas]`` section.

    Parameters
    ----------
    code
        Code column of the ``[area]`` polygons (BPS/Kemendagri codes; dots,
        spaces and dashes are ignored when matching, so ``16.10`` = ``1610``).
    table
        CSV/XLSX table of counts or prevalence; ``None`` takes the columns
        from the polygons' own attributes.
    sheet
        Sheet of an Excel table.
    table_code
        Code column of the table (default: `code`).
    cases, population, prevalence, sample_size
        Per period, the column holding it. Period ``""`` is the only period
        of a single-period table.
    period
        The period column of a long table.
    weights
        ``"queen"`` (default), ``"rook"`` or ``"knn:K"``.
    island_knn
        Areas without a contiguous neighbour (islands) are joined to this
        many nearest areas by centroid; 0 leaves them without neighbours.
    classification, classes
        Choropleth classes of the map: ``"quantiles"``, ``"equal_interval"``
        or ``"fisher_jenks"``, and how many.
    scan
        Run the discrete Poisson scan (needs counts).
    max_share
        Largest scan window, as a share of the population at risk.
    table_name
        Name column of the table, compared with the polygons' names: rows
        whose names differ are reported (two coding systems mixed up).
    group, group_name
        Add the polygons up by this column of the ``[area]`` file (villages
        to kecamatan: ``group = "kode_kec"``), named by `group_name`; needs
        counts or sample sizes.
    """

    code: str
    table: Path | None = None
    sheet: str | None = None
    table_code: str | None = None
    cases: tuple[tuple[str, str], ...] = ()
    population: tuple[tuple[str, str], ...] = ()
    prevalence: tuple[tuple[str, str], ...] = ()
    sample_size: tuple[tuple[str, str], ...] = ()
    period: str | None = None
    weights: str = "queen"
    island_knn: int = 1
    classification: Classification = "quantiles"
    classes: int = 5
    scan: bool = True
    max_share: float = 0.5
    group: str | None = None
    group_name: str | None = None
    table_name: str | None = None

    @property
    def mode(self) -> Literal["counts", "prevalence", "aggregate"]:
        """Where the numbers come from: counts, percentages, or the study's points."""
        if self.cases:
            return "counts"
        if self.prevalence:
            return "prevalence"
        return "aggregate"

    @property
    def periods(self) -> tuple[str, ...]:
        """The periods named in a wide table (empty for one period or a long table)."""
        found: dict[str, None] = {}
        for pairs in (self.cases, self.population, self.prevalence, self.sample_size):
            for label, _ in pairs:
                if label:
                    found[label] = None
        return tuple(found)


def parse_area_weights(text: str, *, where: str = "[areas] weights") -> tuple[str, int]:
    """Split ``"queen"``, ``"rook"`` or ``"knn:K"`` into kind and k (0 for contiguity).

    Raises
    ------
    StudyFileError
        If the text is none of these.
    """
    match = _WEIGHTS.match(text.strip().lower())
    if match is None or (match.group(2) is not None and int(match.group(2)) < 1):
        raise StudyFileError(
            Problem(
                f"weights = {text!r} is not understood",
                column=where,
                fix='write "queen" (shared edge or corner), "rook" (shared edge) or "knn:4"',
            )
        )
    if match.group(1):
        return match.group(1), 0
    return "knn", int(match.group(2))


def parse_areas_section(section: Mapping[str, Any], *, base: Path, source: str) -> AreasSpec:
    """Check an ``[areas]`` table and turn it into an `AreasSpec`.

    Raises
    ------
    StudyFileError
        One line per problem: unknown keys (with the closest valid one),
        missing or conflicting count columns, values of the wrong kind.
    """
    problems: list[Problem] = []
    for key in section:
        if key not in AREAS_KEYS:
            close = difflib.get_close_matches(key, list(AREAS_KEYS), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(AREAS_KEYS)}"
            problems.append(Problem(f"unknown key in [areas] {key!r}", file=source, fix=hint))
    if "code" not in section:
        problems.append(
            Problem(
                "[areas] needs code, the column of area codes in the [area] polygons",
                file=source,
                fix='add code = "kode" (BPS/Kemendagri codes; 16.10 and 1610 match)',
            )
        )
    if problems:
        raise StudyFileError(problems)
    updates: dict[str, Any] = {"code": _text(section, "code", source)}
    for key in ("sheet", "table_code", "period", "group", "group_name", "table_name"):
        if key in section:
            updates[key] = _text(section, key, source)
    if "table" in section:
        updates["table"] = (base / _text(section, "table", source)).resolve()
    for key in _COUNT_KEYS:
        if key in section:
            updates[key] = _columns(section[key], key, source)
    spec = AreasSpec(**updates)
    _check_counts(spec, source)
    return _options(spec, section, source)


def _text(section: Mapping[str, Any], key: str, source: str) -> str:
    value = section[key]
    if not isinstance(value, str) or not value.strip():
        raise StudyFileError(
            Problem(
                f"[areas] {key} must be non-empty text, got {value!r}",
                file=source,
                fix=f'write {key} = "..." with quotes',
            )
        )
    return value.strip()


def _columns(value: object, key: str, source: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, str) and value.strip():
        return (("", value.strip()),)
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(v, str) and v.strip() for v in value.values())
    ):
        return tuple((str(k).strip(), str(v).strip()) for k, v in value.items())
    raise StudyFileError(
        Problem(
            f"[areas] {key} must be a column name or a table of period = column, got {value!r}",
            file=source,
            fix=f'write {key} = "column" or {key} = {{ "2021" = "col_2021", "2022" = "col_2022" }}',
        )
    )


def _check_counts(spec: AreasSpec, source: str) -> None:
    problems: list[Problem] = []
    if spec.cases and spec.prevalence:
        problems.append(
            Problem(
                "[areas] gives both cases and prevalence",
                file=source,
                fix="give cases with population (counts), or prevalence (percent) with an "
                "optional sample_size, not both",
            )
        )
    if bool(spec.cases) != bool(spec.population):
        problems.append(
            Problem(
                "[areas] cases and population go together",
                file=source,
                fix='add population = "column of children measured" (or cases = "...")',
            )
        )
    if spec.sample_size and not spec.prevalence:
        problems.append(
            Problem("[areas] sample_size goes with prevalence", file=source, fix="add prevalence")
        )
    if spec.table is not None and spec.mode == "aggregate":
        problems.append(
            Problem(
                "[areas] has a table but no cases/population or prevalence columns",
                file=source,
                fix='add cases = "..." and population = "...", or prevalence = "..."',
            )
        )
    wide = [
        (key, pairs)
        for key, pairs in zip(
            _COUNT_KEYS,
            (spec.cases, spec.population, spec.prevalence, spec.sample_size),
            strict=True,
        )
        if pairs
    ]
    kinds = {key: any(label for label, _ in pairs) for key, pairs in wide}
    if len(set(kinds.values())) > 1:
        problems.append(
            Problem(
                "[areas] mixes one column and a table of period = column",
                file=source,
                fix="use the same form for every count key",
            )
        )
    elif any(kinds.values()):
        if spec.period is not None:
            problems.append(
                Problem(
                    "[areas] period is for a long table; this one has a column per period",
                    file=source,
                    fix="remove period, or give one column per count key",
                )
            )
        labels = [tuple(label for label, _ in pairs) for _, pairs in wide]
        if len(set(labels)) > 1:
            problems.append(
                Problem(
                    "[areas] count keys name different periods",
                    file=source,
                    fix="give every count key the same periods",
                )
            )
    if problems:
        raise StudyFileError(problems)


def _options(spec: AreasSpec, section: Mapping[str, Any], source: str) -> AreasSpec:
    updates: dict[str, Any] = {}
    if "weights" in section:
        text = _text(section, "weights", source)
        parse_area_weights(text)
        updates["weights"] = text.lower()
    for key, minimum in (("island_knn", 0), ("classes", 2)):
        if key in section:
            value = section[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise StudyFileError(
                    Problem(
                        f"[areas] {key} must be a whole number >= {minimum}, got {value!r}",
                        file=source,
                        fix=f"write {key} = {max(minimum, 1 if key == 'island_knn' else 5)}",
                    )
                )
            updates[key] = value
    if "classification" in section:
        value = section["classification"]
        if value not in CLASSIFICATIONS:
            raise StudyFileError(
                Problem(
                    f"[areas] classification must be one of {list(CLASSIFICATIONS)}, got {value!r}",
                    file=source,
                    fix='write classification = "quantiles"',
                )
            )
        updates["classification"] = cast("Classification", value)
    if "scan" in section:
        if not isinstance(section["scan"], bool):
            raise StudyFileError(
                Problem(
                    f"[areas] scan must be true or false, got {section['scan']!r}",
                    file=source,
                    fix="write scan = false (no quotes)",
                )
            )
        updates["scan"] = section["scan"]
    if "max_share" in section:
        value = section["max_share"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 0.5:
            raise StudyFileError(
                Problem(
                    f"[areas] max_share must be a number in (0, 0.5], got {value!r}",
                    file=source,
                    fix="write max_share = 0.5 (half of the population at risk) or less",
                )
            )
        updates["max_share"] = float(value)
    return AreasSpec(**{**spec.__dict__, **updates})
