"""The ``geo-stunting`` entry: a first run's background compile starts, then the CLI loads.

Importing the command line (`geo_stunting.cli`) loads pandas, geopandas,
pydantic, … (about 1 s). A first run after install compiles its numba
kernels in a background process (`geo_stunting._compile_ahead`); the sooner
that process starts, the sooner the kernels are ready. So `main` reads the
command line (and, for ``analyze``, the study file's ``[analysis]`` table)
with the standard library only, starts the background process for the steps
that call kernels, and only then imports the command line and runs it.

The background process starts only for ``demo`` and ``analyze`` when their
steps call kernels: not for ``--only access`` (say), ``--engine dask``,
``--help``, ``--version``, nor for a study file that cannot be read (the
command line then says what is wrong). The command line starts it as before
when it is not running yet (`geo_stunting.cli`, after reading the study).
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from geo_stunting import _compile_ahead
from geo_stunting._argv import only_steps
from geo_stunting._demo_files import demo_study_file

__all__ = ["kernel_steps", "main"]

#: The options of ``analyze`` that take a value (`tests/test_launch.py` checks this
#: against the command's definition).
ANALYZE_VALUE_OPTIONS = frozenset(
    {
        "--out",
        "--seed",
        "--permutations",
        "--only",
        "--mask-min-m",
        "--mask-max-m",
        "--mask-seed",
        "--paper",
        "--engine",
        "--scheduler",
    }
)
_HELP = frozenset({"--help", "--version", "--install-completion", "--show-completion"})


def main() -> None:
    """Entry point of the ``geo-stunting`` console script and of ``python -m geo_stunting``."""
    steps = kernel_steps(sys.argv[1:])
    if steps:
        _compile_ahead.start(steps)
    from geo_stunting.cli import main as cli_main  # noqa: PLC0415 - after the start, on purpose

    cli_main()


def kernel_steps(args: Sequence[str]) -> list[str]:
    """The steps of the command `args` that call numba kernels; ``[]`` if none, or if unsure.

    >>> kernel_steps(["demo", "--quiet"])
    ['pattern', 'autocorrelation', 'areas']
    >>> kernel_steps(["demo", "--help"])
    []
    """
    if any(arg in _HELP or arg.split("=", 1)[0] in _HELP for arg in args):
        return []
    command, rest = _command(args)
    if command == "demo":
        steps = _study_steps(_demo_study("--areas" in rest))
    elif command == "analyze":
        steps = _analyze_steps(rest)
    else:
        return []
    with_kernels = {kernel.step for kernel in _compile_ahead.KERNELS}
    return [step for step in dict.fromkeys(steps or ()) if step in with_kernels]


def _command(args: Sequence[str]) -> tuple[str | None, list[str]]:
    for at, arg in enumerate(args):
        if not arg.startswith("-"):
            return arg, list(args[at + 1 :])
    return None, []


def _options(args: Sequence[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The values of each value-taking option of ``analyze``, and the positional arguments."""
    values: dict[str, list[str]] = {}
    positional: list[str] = []
    taking: str | None = None
    for arg in args:
        if taking is not None:
            values.setdefault(taking, []).append(arg)
            taking = None
        elif arg == "--":
            taking = None
        elif arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            values.setdefault(name, []).append(value)
        elif arg in ANALYZE_VALUE_OPTIONS:
            taking = arg
        elif not arg.startswith("-"):
            positional.append(arg)
    return values, positional


def _analyze_steps(args: Sequence[str]) -> list[str] | None:
    values, positional = _options(args)
    if not positional:
        return None
    return _study_steps(
        Path(positional[0]),
        only=only_steps(values.get("--only")) or None,
        engine=values.get("--engine", [None])[-1],
    )


def _study_steps(
    path: Path | None, *, only: list[str] | None = None, engine: str | None = None
) -> list[str] | None:
    """The steps a run of the study file at `path` runs (as `geo_stunting.cli` decides)."""
    study = None if path is None else _read_toml(path)
    analysis = None if study is None else study.get("analysis", {})
    if not isinstance(analysis, dict) or (engine or analysis.get("engine", "local")) != "local":
        return None  # unreadable (the command line says why), or the access step on dask
    steps = only or analysis.get("steps")
    if steps is None:  # every step
        steps = [kernel.step for kernel in _compile_ahead.KERNELS]
    if not isinstance(steps, list):
        return None
    assert study is not None
    # skipped for want of data (geo_stunting.pipeline): cases and controls, or a study area
    missing = {"subjects": ("pattern", "autocorrelation"), "area": ("areas",)}
    skipped = {step for table, names in missing.items() if table not in study for step in names}
    return [str(step) for step in steps if step not in skipped]


def _read_toml(path: Path) -> dict[str, object] | None:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, ValueError):  # the command line says what is wrong with the file
        return None


def _demo_study(areas: bool) -> Path | None:
    """The demo's study file, where `demo_study_path` (or `demo_areas_study_path`) finds it."""
    return demo_study_file("demo_areas" if areas else "demo")
