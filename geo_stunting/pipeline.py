"""Run the analysis steps on a `Study` and gather their results and layers.

This is the one place where a step registers itself: its name, what it
needs, the function that computes it, the ``results.json`` section it fills
and the layers it adds::

    @register_step("access", title="Access to health facilities", needs={"facilities"})
    def access_step(study: Study) -> StepOutput:
        ...
        return StepOutput(section={...}, layers={"facility_buffers": gdf})

`analyze` runs every registered step in `STEP_NAMES` order (or the ones
asked for), skips with a reason the steps whose needs the study does not
meet, and returns `Results` — the same sections and layers the command-line
interface writes to disk.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_stunting import _compile_ahead
from geo_stunting._safety import failure_reason, peak_memory, resource_problems
from geo_stunting.errors import AnalysisError, Problem, StepSkippedError
from geo_stunting.study._config import STEP_NAMES
from geo_stunting.study._study import Study

__all__ = [
    "RESULTS_SCHEMA_VERSION",
    "EarlyHook",
    "Results",
    "StepOutput",
    "analyze",
    "available_steps",
    "jsonable",
    "register_step",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

RESULTS_SCHEMA_VERSION = 1
#: Modules that register steps, imported on first use.
_STEP_MODULES: tuple[str, ...] = (
    "geo_stunting.access._coverage",
    "geo_stunting.pattern._step",
    "geo_stunting.autocorrelation._step",
    "geo_stunting.scan._steps",
    "geo_stunting.risk_factors._analysis",
    "geo_stunting.areas._step",
)
_NEEDS = frozenset({"facilities", "area", "cases", "controls"})
#: The module that registers each step: `analyze` imports only those of the steps it runs
#: (``--only access`` then never loads numba, libpysal or esda).
_STEP_MODULE = {
    "access": "geo_stunting.access._coverage",
    "pattern": "geo_stunting.pattern._step",
    "autocorrelation": "geo_stunting.autocorrelation._step",
    "scan": "geo_stunting.scan._steps",
    "relative_risk": "geo_stunting.scan._steps",
    "risk_factors": "geo_stunting.risk_factors._analysis",
    "areas": "geo_stunting.areas._step",
}


@dataclass(frozen=True)
class StepOutput:
    """What one step adds: its ``results.json`` section, layers and notes.

    ``provenance`` holds facts about how the step computed its results (for
    example a check of planar against geodesic distances); it goes to
    ``run.json`` under ``steps.<name>``, not to ``results.json``.
    """

    section: Mapping[str, Any]
    layers: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Step:
    name: str
    title: str
    needs: frozenset[str]
    func: Callable[[Study], StepOutput]


_REGISTRY: dict[str, _Step] = {}


def register_step(
    name: str, *, title: str, needs: Iterable[str] = ()
) -> Callable[[Callable[[Study], StepOutput]], Callable[[Study], StepOutput]]:
    """Register the function that computes step `name`.

    Parameters
    ----------
    name
        One of `geo_stunting.study.STEP_NAMES`.
    title
        A short title for progress bars and reports.
    needs
        Any of ``"facilities"``, ``"area"``, ``"cases"``, ``"controls"``; the
        step is skipped, with the reason, when the study lacks one.
    """
    if name not in STEP_NAMES:
        msg = f"unknown step {name!r}; add it to STEP_NAMES first"
        raise ValueError(msg)
    wanted = frozenset(needs)
    if wanted - _NEEDS:
        msg = f"unknown needs {sorted(wanted - _NEEDS)}"
        raise ValueError(msg)

    def decorate(func: Callable[[Study], StepOutput]) -> Callable[[Study], StepOutput]:
        _REGISTRY[name] = _Step(name, title, wanted, func)
        return func

    return decorate


def available_steps() -> tuple[str, ...]:
    """Return the steps this version of geo_stunting can run, in run order."""
    for module in _STEP_MODULES:
        importlib.import_module(module)
    return tuple(name for name in STEP_NAMES if name in _REGISTRY)


@dataclass(frozen=True)
class Results:
    """Everything one analysis produced.

    Attributes
    ----------
    study
        The analysed study.
    sections
        The content of ``results.json``.
    layers
        Every output layer by name, in the analysis CRS.
    timings
        Seconds per step.
    provenance
        Per step, how it computed its results (goes to ``run.json``).
    """

    study: Study
    sections: dict[str, Any]
    layers: dict[str, gpd.GeoDataFrame]
    timings: dict[str, float]
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed_steps(self) -> tuple[str, ...]:
        """The steps that raised an error (``status = "failed"``); the CLI then exits 1."""
        steps = self.sections.get("steps", {})
        return tuple(name for name, state in steps.items() if state.get("status") == "failed")

    def to_json(self) -> str:
        """``results.json`` text: stable key order, rounded floats, no timestamps."""
        return json.dumps(jsonable(self.sections), indent=2, ensure_ascii=False) + "\n"


def analyze(
    study: Study,
    *,
    steps: Iterable[str] | None = None,
    seed: int | None = None,
    permutations: int | None = None,
    progress: Callable[[str, str], None] | None = None,
    early: EarlyHook | None = None,
) -> Results:
    """Run the analysis steps on a study.

    Parameters
    ----------
    study
        A study from `load_study` or `study_from_frames`.
    steps
        Steps to run; default those in the study settings, else every
        available step.
    seed, permutations
        Override the study settings.
    progress
        Called as ``progress(step_name, title)`` before each step.
    early
        Its ``steps`` run first; once they are over, it is called once with
        the layers and sections so far (the command line starts the print
        maps there, beside the other steps). Changes no result.

    Returns
    -------
    Results
        The sections of ``results.json`` and every layer, as GeoDataFrames.

    Examples
    --------
    >>> import geo_stunting as gs
    >>> results = gs.analyze(gs.load_study(gs.demo_study_path()))
    >>> results.sections["study"]["n_cases"]
    67
    """
    if not isinstance(study, Study):
        raise AnalysisError(
            Problem(
                f"analyze() takes a Study, got {type(study).__name__}",
                fix="load one with gs.load_study('study.toml'), or build it from GeoDataFrames "
                "with gs.study_from_frames(subjects_gdf, facilities_gdf, villages_gdf)",
            )
        )
    settings = study.settings.with_overrides(
        seed=seed, permutations=permutations, steps=None if steps is None else tuple(steps)
    )
    study = study.with_settings(settings)
    wanted = settings.steps if settings.steps is not None else STEP_NAMES
    compiling = _compile_ahead.start(wanted)  # kernels not in numba's cache: on the other core
    available = _load_steps(wanted)
    too_big = resource_problems(study, tuple(wanted))
    if too_big:
        raise AnalysisError(too_big)
    sections: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "study": study_summary(study),
        "settings": settings_summary(study),
        "steps": {},
    }
    layers = base_layers(study)
    timings: dict[str, float] = {}
    provenance: dict[str, dict[str, Any]] = {}
    step_layers: dict[str, dict[str, gpd.GeoDataFrame]] = {}
    order = _compile_ahead.run_order(STEP_NAMES, compiling)  # STEP_NAMES, unless compiling
    if early is not None:
        order = [s for s in order if s in early.steps] + [s for s in order if s not in early.steps]
    for name in order:
        if early is not None and name not in early.steps:  # the steps it waits for are over
            _call_early(early, layers, step_layers, sections)
            early = None
        if name not in wanted:
            continue
        if name not in available:
            sections["steps"][name] = {
                "status": "not_available",
                "reason": "not implemented in this version of geo_stunting",
            }
            continue
        step = _REGISTRY[name]
        reason = _unmet_need(step, study)
        if reason is not None:
            sections["steps"][name] = {"status": "skipped", "reason": reason}
            log.warning("step %s skipped: %s", name, reason)
            continue
        if progress is not None:
            progress(name, step.title)
        started = time.perf_counter()
        try:
            with peak_memory() as memory:
                output = step.func(study)
        except StepSkippedError as exc:
            reason = "; ".join(p.message for p in exc.problems)
            sections["steps"][name] = {"status": "skipped", "reason": reason}
            log.warning("step %s skipped: %s", name, reason)
            continue
        except Exception as exc:  # noqa: BLE001 - a failing step never takes the run down
            reason = failure_reason(exc)
            sections["steps"][name] = {"status": "failed", "reason": reason}
            log.error("step %s failed: %s", name, reason)
            continue
        finally:
            timings[name] = time.perf_counter() - started
            provenance.setdefault(name, {})["peak_rss_mib"] = memory.peak_mib
        sections[name] = dict(output.section)
        sections["steps"][name] = {"status": "done"}
        step_layers[name] = dict(output.layers)
        provenance[name].update(output.provenance)
        for note in output.notes:
            log.info("%s: %s", name, note)
    if early is not None:
        _call_early(early, layers, step_layers, sections)
    _compile_ahead.close()
    for name in STEP_NAMES:  # sections, layers and timings in step order, however they ran
        layers.update(step_layers.get(name, {}))
    sections = _in_step_order(sections)
    sections["steps"] = _in_step_order(sections["steps"])
    timings, provenance = _in_step_order(timings), _in_step_order(provenance)
    return Results(
        study=study, sections=sections, layers=layers, timings=timings, provenance=provenance
    )


def _in_step_order(record: dict[str, _T]) -> dict[str, _T]:
    """`record` with its steps' entries last, in `STEP_NAMES` order.

    >>> _in_step_order({"scan": 1, "study": 0, "access": 2})
    {'study': 0, 'access': 2, 'scan': 1}
    """
    others = {key: value for key, value in record.items() if key not in STEP_NAMES}
    return {**others, **{name: record[name] for name in STEP_NAMES if name in record}}


class EarlyHook(Protocol):
    """What `analyze` calls once its `steps` are over (see `analyze`'s ``early``)."""

    steps: tuple[str, ...]

    def __call__(self, layers: Mapping[str, gpd.GeoDataFrame], sections: Mapping[str, Any]) -> None:
        """Called once, with the layers and sections so far."""


def _call_early(
    early: EarlyHook,
    layers: Mapping[str, gpd.GeoDataFrame],
    step_layers: Mapping[str, Mapping[str, gpd.GeoDataFrame]],
    sections: Mapping[str, Any],
) -> None:
    """The hook, with the layers so far as `Results.layers` will have them (step order)."""
    so_far = dict(layers)
    for name in STEP_NAMES:
        so_far.update(step_layers.get(name, {}))
    early(so_far, dict(sections))


def _load_steps(wanted: Iterable[str]) -> tuple[str, ...]:
    """Import the modules of the `wanted` steps; return the registered steps, in run order."""
    modules = {_STEP_MODULE[name] for name in wanted if name in _STEP_MODULE}
    if set(wanted) - set(_STEP_MODULE):  # a step this table does not know: load them all
        modules = set(_STEP_MODULES)
    for module in sorted(modules, key=_STEP_MODULES.index):
        importlib.import_module(module)
    return tuple(name for name in STEP_NAMES if name in _REGISTRY)


def _unmet_need(step: _Step, study: Study) -> str | None:
    if "facilities" in step.needs and (study.facilities is None or len(study.facilities) == 0):
        return "the study has no facilities (add a [facilities] section)"
    if "area" in step.needs and study.area is None:
        return "the study has no study area (add an [area] section)"
    for group, count in (("cases", study.n_cases), ("controls", study.n_controls)):
        if group in step.needs and count == 0:
            return f"the study has no {group}; this step compares cases with controls"
    return None


def settings_summary(study: Study) -> dict[str, Any]:
    """Return the ``settings`` section of ``results.json``."""
    settings = study.settings
    return {
        "crs": study.crs_code,
        "buffer_m": settings.buffer_m,
        "permutations": settings.permutations,
        "seed": settings.seed,
        "weights": settings.weights,
    }


def study_summary(study: Study) -> dict[str, Any]:
    """Return the ``study`` section of ``results.json``."""
    area_m2 = None if study.area is None else float(study.area.geometry.union_all().area)
    kinds = (
        {}
        if study.facilities is None
        else {str(k): int(n) for k, n in sorted(study.facilities["kind"].value_counts().items())}
    )
    rejected = study.rejects["layer"].value_counts()
    return {
        "name": study.name,
        "n_subjects": len(study.subjects),
        "n_cases": study.n_cases,
        "n_controls": study.n_controls,
        "n_facilities": 0 if study.facilities is None else len(study.facilities),
        "facility_kinds": kinds,
        "n_areas": 0 if study.area is None else len(study.area),
        "n_rejected": len(study.rejects),
        "rows": {
            layer: {"read": read, "rejected": int(rejected.get(layer, 0))}
            for layer, read in study.rows_read.items()
        },
        "crs": study.crs_code,
        "crs_reason": study.crs_reason,
        "area_m2": area_m2,
        "n_areas_with_subjects": _areas_with_subjects(study),
    }


def _areas_with_subjects(study: Study) -> int:
    """How many study-area polygons hold at least one subject (0 without an area)."""
    if study.area is None or not len(study.area):
        return 0
    from geo_stunting.pattern._window import occupied_areas  # noqa: PLC0415 - step module

    xy = np.column_stack([study.subjects.geometry.x, study.subjects.geometry.y])
    return len(occupied_areas(study.area, xy)[0])


def base_layers(study: Study) -> dict[str, gpd.GeoDataFrame]:
    """Return the study's own layers: subjects, facilities and area."""
    layers = {"subjects": study.subjects}
    if study.facilities is not None:
        layers["facilities"] = study.facilities
    if study.area is not None:
        layers["area"] = study.area
    return layers


def jsonable(value: Any) -> Any:
    """Turn numpy/pandas values into JSON, rounding floats to 10 significant digits."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Series):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            return None
        return float(f"{number:.10g}")
    if value is None or isinstance(value, str):
        return value
    return str(value)
