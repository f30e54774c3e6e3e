"""The ``[risk_factors]`` section of the study file: which columns are factors, and how.

::

    [risk_factors]
    categorical = ["mother_knowledge", "income_below_umr"]
    ordinal = { mother_education = ["primary", "junior", "senior", "higher"] }
    continuous = ["lighting_lux", "humidity_pct", "water_mn_mgl"]
    reference = { mother_knowledge = "good", income_below_umr = "no" }
    labels = { income_below_umr = "Family income below UMR" }
    logistic = ["mother_knowledge", "income_below_umr"]
    per = { lighting_lux = 10, water_mn_mgl = 0.1 }   # model ORs per 10 lux, per 0.1 mg/L
    respondents = { path = "respondents.csv", id = "id" }

`parse_risk_factor_section` checks the keys and the kinds of values against
the declared model (`geo_stunting.study._file_model.RiskFactorsSection`: every
problem at once, unknown keys with the closest valid key); `resolve_factors`
checks them against the data (columns, levels) and, when no factor is listed,
infers the factors from the columns. A separate respondents table is joined
by `geo_stunting.risk_factors._respondents.join_respondents`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from geo_stunting.errors import Problem, StudyFileError
from geo_stunting.study._file_errors import validated
from geo_stunting.study._file_model import RiskFactorsSection
from geo_stunting.study._file_model import closest as _closest
from geo_stunting.study._validate import cell_text, is_missing

__all__ = [
    "KEYS",
    "MAX_LEVELS",
    "FactorSpec",
    "ResolvedFactor",
    "RespondentsSpec",
    "RiskFactorSpec",
    "find_column",
    "parse_risk_factor_section",
    "resolve_factors",
]

Kind = Literal["categorical", "ordinal", "continuous"]
KEYS: tuple[str, ...] = tuple(RiskFactorsSection.model_fields)
#: Factors are reported in this order of kinds (each kind in the study file's order).
_ORDER: tuple[Kind, ...] = ("categorical", "ordinal", "continuous")
#: Text columns with 2 to this many levels are inferred as categorical factors.
MAX_LEVELS = 6
#: Columns never taken as factors.
RESERVED = frozenset({"subject_id", "status", "stratum", "source_row", "geometry"})
#: Levels taken as the unexposed (reference) level when none is given, in this order.
UNEXPOSED_WORDS = (
    "no", "tidak", "tdk", "t", "n", "0", "false", "none", "tidak ada", "negative", "negatif",
    "good", "baik", "normal", "adequate", "cukup",
)  # fmt: skip


@dataclass(frozen=True)
class FactorSpec:
    """One factor as the study file declares it (columns not yet checked)."""

    column: str
    kind: Kind
    label: str | None = None
    levels: tuple[str, ...] | None = None
    reference: str | None = None
    per: float = 1.0


@dataclass(frozen=True)
class RespondentsSpec:
    """A separate table of respondents, joined to the subjects by id."""

    path: Path
    id: str = "id"
    sheet: str | None = None


@dataclass(frozen=True)
class RiskFactorSpec:
    """The parsed ``[risk_factors]`` section.

    ``factors`` is empty when the factors are to be inferred from the data;
    ``references`` and ``labels`` then apply to the inferred factors.
    """

    factors: tuple[FactorSpec, ...] = ()
    logistic: tuple[str, ...] = ()
    respondents: RespondentsSpec | None = None
    references: Mapping[str, str] | None = None
    labels: Mapping[str, str] | None = None
    per: Mapping[str, float] | None = None
    source: str = "[risk_factors]"


@dataclass(frozen=True)
class ResolvedFactor:
    """A factor checked against the data: its column, levels and values.

    ``values`` holds level names (text, ``None`` when missing) for categorical
    and ordinal factors and floats (NaN when missing) for continuous ones.
    ``levels`` lists the levels in table order: ordinal levels in their order,
    categorical levels exposed first and the reference last.
    """

    column: str
    kind: Kind
    label: str
    levels: tuple[str, ...]
    reference: str | None
    values: pd.Series
    reference_reason: str = ""
    per: float = 1.0


def parse_risk_factor_section(
    section: Mapping[str, Any], *, base: Path | None = None, source: str = "[risk_factors]"
) -> RiskFactorSpec:
    """Check the ``[risk_factors]`` table of a study file.

    The keys are declared in `geo_stunting.study._file_model.RiskFactorsSection`.

    Parameters
    ----------
    section
        The table as read by ``tomllib``.
    base
        Folder that a relative ``respondents.path`` is relative to (the study
        file's folder); the current folder when ``None``.
    source
        The study file, for messages.

    Returns
    -------
    RiskFactorSpec
        Factors as declared (an empty tuple: infer them from the data).

    Raises
    ------
    StudyFileError
        One line per problem: unknown keys (with the closest valid key), values
        of the wrong kind, a factor listed twice, a reference or label for a
        factor not listed, a reference that is not one of an ordinal factor's levels.
    """
    model = validated(
        RiskFactorsSection,
        dict(section) if isinstance(section, Mapping) else section,
        source=source,
        prefix=("risk_factors",),
    )
    kinds: dict[str, Kind] = {}
    for name in model.categorical:
        kinds[name] = "categorical"
    for name in model.ordinal:
        kinds[name] = "ordinal"
    for name in model.continuous:
        kinds[name] = "continuous"
    references = {name: cell_text(level) for name, level in model.reference.items()}
    labels = {name: text.strip() for name, text in model.labels.items()}
    per = dict(model.per)
    factors = tuple(
        FactorSpec(
            column=name,
            kind=kind,
            label=labels.get(name),
            levels=tuple(cell_text(v) for v in model.ordinal[name]) if kind == "ordinal" else None,
            reference=references.get(name),
            per=per.get(name, 1.0),
        )
        for name, kind in sorted(kinds.items(), key=lambda item: _ORDER.index(item[1]))
    )
    respondents = None
    if model.respondents is not None:
        path = Path(model.respondents.path)
        if not path.is_absolute():
            path = (base or Path()) / path
        respondents = RespondentsSpec(
            path=path.resolve(), id=model.respondents.id, sheet=model.respondents.sheet
        )
    return RiskFactorSpec(
        factors=factors,
        logistic=tuple(dict.fromkeys(model.logistic)),
        respondents=respondents,
        references=references,
        labels=labels,
        per=per,
        source=source,
    )


# --------------------------------------------------------------------------- against the data


def _level_sort_key(level: str) -> tuple[int, float, str]:
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, math.nan, level.lower())


def _as_levels(column: pd.Series) -> pd.Series:
    """Each cell as level text (``None`` when missing), converting each distinct value once."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = [None if is_missing(v) else cell_text(v) for v in uniques]
    lookup = np.array([*texts, None], dtype=object)  # code -1 (missing) → None
    return pd.Series(lookup[codes], index=column.index, dtype=object)


def find_column(name: str, columns: list[str], source: str, notes: list[str]) -> str:
    if name in columns:
        return name
    folded = {c.strip().lower(): c for c in columns}
    if name.strip().lower() in folded:
        match = folded[name.strip().lower()]
        notes.append(f"column {match!r} used for the factor {name!r}")
        return match
    raise StudyFileError(
        Problem(
            f"factor {name!r} is not a column of the subjects (or respondents)",
            file=source,
            column="[risk_factors]",
            fix=_closest(name, [c for c in columns if c not in RESERVED]),
        )
    )


def _default_reference(levels: list[str], values: pd.Series) -> tuple[str, str]:
    folded = {level.lower(): level for level in levels}
    for word in UNEXPOSED_WORDS:
        if word in folded:
            return folded[word], f"{folded[word]!r} reads as the unexposed level"
    counts = values.value_counts()
    top = max(levels, key=lambda lv: (int(counts.get(lv, 0)), [-ord(c) for c in lv.lower()]))
    return top, f"{top!r} is the most common level (no level reads as unexposed)"


def _categorical(
    column: str, label: str, values: pd.Series, reference: str | None, source: str
) -> ResolvedFactor:
    levels = sorted({v for v in values if v is not None}, key=_level_sort_key)
    reason = "given in [risk_factors] reference"
    if reference is not None:
        folded = {lv.lower(): lv for lv in levels}
        if reference.lower() not in folded:
            raise StudyFileError(
                Problem(
                    f"reference {reference!r} of {column!r} is not among its values {levels}",
                    file=source,
                    column="[risk_factors] reference",
                    fix=_closest(reference, levels),
                )
            )
        reference = folded[reference.lower()]
    elif levels:
        reference, reason = _default_reference(levels, values)
    ordered = [lv for lv in levels if lv != reference] + ([reference] if reference else [])
    return ResolvedFactor(column, "categorical", label, tuple(ordered), reference, values, reason)


def _ordinal(
    column: str, label: str, values: pd.Series, spec: FactorSpec, source: str
) -> ResolvedFactor:
    assert spec.levels is not None
    folded = {lv.lower(): lv for lv in spec.levels}
    unknown = sorted({v for v in values if v is not None and v.lower() not in folded})
    if unknown:
        raise StudyFileError(
            Problem(
                f"{column!r} has value(s) {unknown} that are not among its ordinal levels "
                f"{list(spec.levels)}",
                file=source,
                column="[risk_factors] ordinal",
                fix=f"add them to ordinal.{column} in their place, or correct the data",
            )
        )
    mapped = pd.Series(
        [None if v is None else folded[v.lower()] for v in values], index=values.index, dtype=object
    )
    reference = spec.levels[0] if spec.reference is None else folded[spec.reference.lower()]
    reason = (
        "the first ordinal level" if spec.reference is None else "given in [risk_factors] reference"
    )
    return ResolvedFactor(column, "ordinal", label, spec.levels, reference, mapped, reason)


def _number(value: object) -> float:
    """A cell as a number (a decimal comma is accepted); NaN when it is not one."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    text = cell_text(value)
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _continuous(column: str, label: str, raw: pd.Series, notes: list[str]) -> ResolvedFactor:
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        numbers = raw.astype(float)
        numbers = numbers.where(np.isfinite(numbers))
        return ResolvedFactor(column, "continuous", label, (), None, numbers)
    numbers = pd.Series([_number(v) for v in raw], index=raw.index, dtype=float)
    bad = [
        v for v, x in zip(raw, numbers, strict=True) if not is_missing(v) and not math.isfinite(x)
    ]
    if bad:
        shown = ", ".join(f"{cell_text(v)!r}" for v in bad[:5])
        notes.append(
            f"{column}: {len(bad)} value(s) that are not numbers were treated as missing ({shown})"
        )
    return ResolvedFactor(column, "continuous", label, (), None, numbers)


def _numbers_rows(column: pd.Series) -> str:
    """Why `column` looks like a row number or an identifier ("" if it does not).

    At least 10 whole numbers, each on one row, filling most of their range
    (at most a fifth of it left out, for rows rejected or deleted): the
    ``No`` column of a spreadsheet. A measurement has ties or gaps (grams,
    rupiah, months of age), so it is kept.

    >>> _numbers_rows(pd.Series([1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12]))
    'row numbers: 11 different whole numbers from 1 to 12'
    >>> _numbers_rows(pd.Series([2500.0, 3100.0, 2900.0] * 4)), _numbers_rows(pd.Series(range(5)))
    ('', '')
    """
    values = column.dropna().to_numpy(dtype=float)
    whole = np.all(np.isfinite(values)) and np.all(values == np.round(values))
    if len(values) < 10 or not whole:
        return ""
    low, high = float(values.min()), float(values.max())
    if len(np.unique(values)) != len(values) or (high - low + 1) * 0.8 > len(values):
        return ""
    return f"row numbers: {len(values)} different whole numbers from {low:g} to {high:g}"


def _infer(data: pd.DataFrame, skip: set[str], notes: list[str]) -> list[FactorSpec]:
    found: list[FactorSpec] = []
    skipped: list[str] = []
    for name in data.columns:
        if name in RESERVED or name in skip:
            continue
        column = data[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            distinct = column.dropna().nunique()
            numbering = _numbers_rows(column)
            if numbering:
                skipped.append(f"{name} ({numbering})")
                continue
            if distinct >= 3:
                found.append(FactorSpec(str(name), "continuous"))
                continue
            if distinct == 2:
                found.append(FactorSpec(str(name), "categorical"))
                continue
            skipped.append(f"{name} (constant)")
            continue
        levels = _as_levels(column).dropna().nunique()
        if 2 <= levels <= MAX_LEVELS:
            found.append(FactorSpec(str(name), "categorical"))
        else:
            skipped.append(f"{name} ({levels} level{'s' if levels != 1 else ''})")
    kinds = {k: [f.column for f in found if f.kind == k] for k in ("categorical", "continuous")}
    notes.append(
        "no factors are listed in [risk_factors]: they were inferred from the subjects' columns "
        f"(numbers with 3 or more values → continuous: {', '.join(kinds['continuous']) or '-'}; "
        f"2–{MAX_LEVELS} text levels or two numbers → categorical: "
        f"{', '.join(kinds['categorical']) or '-'}"
        + (f"; not used: {', '.join(skipped)}" if skipped else "")
        + "). List them in [risk_factors] to choose types, reference levels and order."
    )
    return found


def resolve_factors(
    spec: RiskFactorSpec, data: pd.DataFrame
) -> tuple[tuple[ResolvedFactor, ...], tuple[str, ...]]:
    """Check the factors against the data, inferring them when none are listed.

    Parameters
    ----------
    spec
        From `parse_risk_factor_section` (``RiskFactorSpec()`` to infer everything).
    data
        One row per subject, with the factor columns.

    Returns
    -------
    tuple
        The resolved factors and notes (inference, columns matched ignoring case,
        values treated as missing, reference levels chosen).

    Raises
    ------
    StudyFileError
        A factor that is not a column (with the closest column), a reference
        that is not an observed level, values outside an ordinal factor's levels.
    """
    notes: list[str] = []
    columns = [str(c) for c in data.columns]
    declared = list(spec.factors)
    inferred = not declared
    if inferred:
        declared = _infer(data, set(), notes)
        names = {f.column for f in declared}
        checks = (("reference", spec.references), ("labels", spec.labels), ("per", spec.per))
        for key, mapping in checks:
            for name in mapping or {}:
                if name not in names:
                    raise StudyFileError(
                        Problem(
                            f"{key} names {name!r}, which is not an inferred factor",
                            file=spec.source,
                            column=f"[risk_factors] {key}",
                            fix=_closest(name, sorted(names)),
                        )
                    )
    resolved: list[ResolvedFactor] = []
    chosen: list[str] = []
    for factor in declared:
        column = find_column(factor.column, columns, spec.source, notes)
        label = (spec.labels or {}).get(factor.column) or factor.label or column
        reference = factor.reference or (spec.references or {}).get(factor.column)
        raw = data[column]
        if factor.kind == "continuous":
            per = (spec.per or {}).get(factor.column, factor.per)
            resolved.append(replace(_continuous(column, label, raw, notes), per=per))
        elif factor.kind == "ordinal":
            resolved.append(_ordinal(column, label, _as_levels(raw), factor, spec.source))
        else:
            result = _categorical(column, label, _as_levels(raw), reference, spec.source)
            resolved.append(result)
            if reference is None and result.reference is not None:
                chosen.append(f"{column}: {result.reference_reason}")
    if chosen:
        notes.append(
            "reference (unexposed) levels not given, chosen: "
            + "; ".join(chosen)
            + ' — set them with reference = { factor = "level" } in [risk_factors]'
        )
    return tuple(resolved), tuple(notes)
