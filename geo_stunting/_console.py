"""What the ``geo-stunting`` command prints: tables, summaries, progress bars.

The command (`geo_stunting.cli`) parses options and calls the library; this
module only words and draws what the library returns, on the two consoles
(results to stdout, progress and errors to stderr).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from geo_stunting.progress import Advance, Reporter
from geo_stunting.study._study import Study

__all__ = [
    "err_console",
    "out_console",
    "print_report",
    "print_summary",
    "progress_bars",
    "reporter",
    "say_estimate",
]

out_console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def say_estimate(
    bar: Progress, name: str, study: Study, permutations: int | None, *, quiet: bool
) -> None:
    """Before a step expected to be long: how long, and how to shorten it."""
    from geo_stunting.estimate import SAY_ABOVE_S, estimate_step  # noqa: PLC0415

    settings = study.settings.with_overrides(permutations=permutations)
    estimate = estimate_step(name, study.with_settings(settings))
    if estimate is not None and estimate.seconds > SAY_ABOVE_S and not quiet:
        bar.console.print(estimate.sentence(), highlight=False)


def print_summary(
    sections: dict[str, Any], out: Path, written: dict[str, Path], started: float
) -> None:
    summary = sections["study"]
    if not summary["n_subjects"] and "areas" in sections:  # an area study
        what = f"{sections['areas']['n_areas']} areas ({', '.join(sections['areas']['periods'])})"
    else:
        what = (
            f"{summary['n_cases']} cases, {summary['n_controls']} controls, "
            f"{summary['n_facilities']} facilities"
        )
    out_console.print(
        f"{summary['name']}: {what}, {summary['n_rejected']} rejected rows; "
        f"CRS {summary['crs']}; {time.perf_counter() - started:.1f} s",
        highlight=False,
    )
    for name, state in sections["steps"].items():
        if state["status"] != "done":
            out_console.print(f"  {name}: {state['status']} ({state['reason']})", highlight=False)
    out_console.print(f"outputs in {out}/: {', '.join(written)}", highlight=False)


def progress_bars(*, quiet: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )


def reporter(bar: Progress) -> Reporter:
    @contextmanager
    def report(description: str, total: int) -> Iterator[Advance]:
        task = bar.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        try:
            yield advance
        finally:
            bar.remove_task(task)

    return report


def print_report(study: Study, *, all_rejects: bool) -> None:
    table = Table(title=f"{study.name}", title_justify="left", show_edge=False)
    for column in ("layer", "rows read", "loaded", "rejected"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    loaded = {"subjects": len(study.subjects)}
    if study.facilities is not None:
        loaded["facilities"] = len(study.facilities)
    if study.area is not None:
        loaded["area"] = len(study.area)
    rejected = study.rejects["layer"].value_counts()
    if study.areas is not None:
        loaded["areas"] = study.rows_read.get("areas", 0) - int(rejected.get("areas", 0))
    for layer, read in study.rows_read.items():
        table.add_row(layer, str(read), str(loaded.get(layer, 0)), str(rejected.get(layer, 0)))
    out_console.print(table)
    counted = f"cases {study.n_cases}, controls {study.n_controls}"
    if study.areas is not None and len(study.subjects) == 0:
        counted = f"an area study: {len(study.areas.polygons)} areas joined to the table"
    out_console.print(
        f"{counted}; analysis CRS {study.crs_code} ({study.crs.name}), {study.crs_reason}",
        highlight=False,
    )
    for note in study.notes:
        out_console.print(f"note: {note}", highlight=False, markup=False)
    if len(study.rejects):
        out_console.print(f"{len(study.rejects)} rejected row(s):", highlight=False)
        shown = study.rejects if all_rejects else study.rejects.head(10)
        for row in shown.itertuples(index=False):
            where = f"{row.file}, row {row.row}" + (
                f", column {row.column!r}" if row.column else ""
            )
            value = f" value {row.value!r}:" if row.value else ":"
            out_console.print(f"  {where}{value} {row.reason}", highlight=False, markup=False)
        if len(shown) < len(study.rejects):
            out_console.print(
                f"  … and {len(study.rejects) - len(shown)} more in rejects.csv", highlight=False
            )
