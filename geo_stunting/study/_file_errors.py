"""Pydantic's validation errors, worded as geo_stunting's study-file problems.

One `Problem` per key (a union type gives pydantic one error per alternative;
they are one mistake): an unknown section or key names the closest valid one;
a wrong value says what it must be and what to write (the key's `Say`); a
missing key says what to add. Every problem names the study file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from geo_stunting.errors import Problem, StudyFileError
from geo_stunting.study._file_model import Say, closest

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

__all__ = ["closest", "problems_from", "validated"]

Model = TypeVar("Model", bound=BaseModel)

#: What to add when a required key or section is missing, by its location.
_MISSING: dict[tuple[str, ...], tuple[str, str]] = {
    ("subjects",): (
        "the study file has no [subjects] section",
        'add [subjects] with at least path = "subjects.csv"',
    ),
    ("respondents", "path"): (
        "respondents needs a path",
        'respondents = { path = "respondents.csv", id = "id" }',
    ),
}


def problems_from(
    error: ValidationError, model: type[BaseModel], *, source: str, prefix: tuple[str, ...] = ()
) -> list[Problem]:
    """Word every error of ``model.model_validate`` as a `Problem` (one per key).

    Parameters
    ----------
    error
        The validation error.
    model
        The model that was validated.
    source
        The study file (or option) named in every problem.
    prefix
        Where ``model`` sits in the study file, e.g. ``("risk_factors",)`` when
        one section is validated alone.
    """
    problems: list[Problem] = []
    seen: set[tuple[str, ...]] = set()
    for detail in error.errors(include_url=False):
        loc = prefix + tuple(str(part) for part in detail["loc"])
        found = _problems(detail, loc, model, prefix, source)
        key = _key_loc(loc, model, prefix)
        if detail["type"] in ("study", "extra_forbidden"):
            problems.extend(found)
        elif key not in seen:
            seen.add(key)
            problems.extend(found)
    return problems


def _key_loc(
    loc: tuple[str, ...], model: type[BaseModel], prefix: tuple[str, ...]
) -> tuple[str, ...]:
    """The location up to the key that was declared (union branches and items cut off)."""
    current: Any = model
    out: list[str] = list(prefix)
    for part in loc[len(prefix) :]:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            break
        out.append(part)
        current = _submodel(fields[part].annotation)
    return tuple(out)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field(
    model: type[BaseModel], key_loc: tuple[str, ...], prefix: tuple[str, ...]
) -> tuple[Any, Say | None]:
    current: Any = model
    info = None
    for part in key_loc[len(prefix) :]:
        info = current.model_fields[part]
        current = _submodel(info.annotation)
    say = _say(info) if info is not None else None
    return info, say


def _say(info: Any) -> Say | None:
    for item in info.metadata:
        if isinstance(item, Say):
            return item
    for arg in getattr(info.annotation, "__args__", ()):
        for item in getattr(arg, "__metadata__", ()):
            if isinstance(item, Say):
                return item
    return None


def _section_name(loc: tuple[str, ...]) -> str:
    """``[subjects]``, or ``[risk_factors] respondents`` for a nested table."""
    if not loc:
        return "the study file"
    return f"[{loc[0]}]" + "".join(f" {part}" for part in loc[1:])


def _problems(
    detail: ErrorDetails,
    loc: tuple[str, ...],
    model: type[BaseModel],
    prefix: tuple[str, ...],
    source: str,
) -> list[Problem]:
    kind = detail["type"]
    value = detail["input"]
    key_loc = _key_loc(loc, model, prefix)
    if kind == "study":
        section = _section_name(key_loc)
        return [
            Problem(message, file=source, column=f"{section} {key}", fix=fix)
            for key, message, fix in detail.get("ctx", {}).get("problems", [])
        ]
    if kind == "extra_forbidden":
        return [_unknown(loc, key_loc, model, prefix, source)]
    if kind == "missing":
        message, fix = _MISSING.get(loc[-2:]) or _MISSING.get(loc) or ("", "")
        if not message:
            message = f"{_section_name(loc[:-1])} needs a {loc[-1]}"
            example = f"{loc[-2] if len(loc) > 1 else loc[-1]}.csv"
            fix = f'add {loc[-1]} = "{example}" (relative to the study file)'
        return [Problem(message, file=source, fix=fix)]
    if len(key_loc) == 1 and kind in ("model_type", "model_attributes_type", "dict_type"):
        name = key_loc[0]
        return [Problem(f"[{name}] must be a table (a [{name}] header)", file=source)]
    if len(key_loc) <= len(prefix) and kind in ("model_type", "dict_type"):
        return [Problem(f"{_section_name(key_loc)} must be a table", file=source)]
    info, say = _field(model, key_loc, prefix)
    key = key_loc[-1]
    section = _section_name(key_loc[:-1])
    if info is not None and _submodel(info.annotation) is not None:
        return [Problem(f"{section} {key} must be a table, got {value!r}", file=source)]
    if say is None:  # pragma: no cover - every key has a Say (tests/test_study_schema.py)
        return [Problem(f"{section} {key}: {detail['msg']}, got {value!r}", file=source)]
    if say.unknown and kind == "literal_error":
        return [
            Problem(
                f"unknown {say.unknown} {value!r}",
                file=source,
                column=f"{section} {key}",
                fix=closest(str(value), list(say.choices)),
            )
        ]
    must, fix = dict(say.by_error).get(kind, (say.must, say.fix))
    if say.message is not None and kind not in dict(say.by_error):
        message = f"{section} " + say.message.replace("{value!r}", repr(value))
    else:
        message = f"{section} {key} must be {must}, got {value!r}"
    return [Problem(message, file=source, fix=fix.replace("{key}", key))]


def _unknown(
    loc: tuple[str, ...],
    key_loc: tuple[str, ...],
    model: type[BaseModel],
    prefix: tuple[str, ...],
    source: str,
) -> Problem:
    key = loc[-1]
    parent = key_loc if key_loc != loc else key_loc[:-1]
    current: Any = model
    for part in parent[len(prefix) :]:
        current = _submodel(current.model_fields[part].annotation)
    valid = list(current.model_fields) if current is not None else []
    if not parent:
        return Problem(f"unknown section {key!r}", file=source, fix=closest(key, valid))
    section = _section_name(parent)
    return Problem(f"unknown key {key!r} in {section}", file=source, fix=closest(key, valid))


def validated(
    model: type[Model], data: object, *, source: str, prefix: tuple[str, ...] = ()
) -> Model:
    """Validate ``data`` against a model of the study file, or raise every problem at once.

    Raises
    ------
    StudyFileError
        One line per key that is wrong, unknown (with the closest valid key)
        or missing.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StudyFileError(problems_from(exc, model, source=source, prefix=prefix)) from None
