"""The print maps drawn beside the other outputs, in a worker process.

The print maps (`geo_stunting.outputs._print`: ``map.pdf`` and three 300 dpi
PNGs) cost about the same CPU seconds at any study size, and need nothing
but the run's layers and sections. `write_outputs` therefore starts them
first, in a worker process, and writes ``results.json``, ``layers.gpkg``,
``map.html`` and the tables meanwhile on the other core; it waits for them
only before ``report.html`` (which links the PNGs) and ``run.json`` (which
lists every file of the folder).

The worker is a ``fork`` of the running process, so the layers are shared,
not copied or pickled. It touches nothing another thread of the parent may
hold at the fork (a console or a logging handler): it logs nothing, writes
to the real standard streams, and hands its warnings back to the parent,
which issues them again. Where ``fork`` is not the safe way to start a
process (Windows, macOS) the maps are drawn here, one after the other; the
files and the outcome are the same.

Either way a failure is an outcome, not an exception: `PrintOutcome` says
``"failed"`` and why, ``run.json`` records it under ``steps.print_maps``,
the other outputs are written and the command line exits 1.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import sys
import traceback
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from geo_stunting._safety import failure_reason

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkProcess

    import geopandas as gpd

    from geo_stunting.outputs._print import Points

__all__ = ["PrintJob", "PrintOutcome", "fork_available", "print_failures", "print_maps_beside"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrintOutcome:
    """What became of the print maps of one output folder.

    Attributes
    ----------
    status
        ``"done"`` or ``"failed"``.
    files
        The files written (`geo_stunting.outputs._print.PRINT_FILES`), none
        when failed.
    reason
        Why they failed, in one line (``None`` when done).
    worker
        Whether they were drawn in a worker process beside the other outputs.
    """

    status: Literal["done", "failed"]
    files: tuple[str, ...]
    reason: str | None = None
    worker: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return ``run.json → steps.print_maps``."""
        out: dict[str, Any] = {"status": self.status, "files": list(self.files)}
        if self.reason is not None:
            out["reason"] = self.reason
        out["worker"] = self.worker
        return out


def fork_available() -> bool:
    """Whether a worker can be forked safely here (Linux and other POSIX but macOS).

    >>> isinstance(fork_available(), bool)
    True
    """
    return (
        sys.platform != "darwin"
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon  # a daemon may not have children
    )


class PrintJob:
    """Print maps being drawn; `result` waits for them (see `print_maps_beside`).

    Parameters
    ----------
    process, reader
        The worker and the end of the pipe its answer comes through.
    outcome
        The outcome already known (maps drawn in this process).
    """

    def __init__(
        self,
        *,
        process: ForkProcess | None = None,
        reader: Connection | None = None,
        outcome: PrintOutcome | None = None,
    ) -> None:
        self._process = process
        self._reader = reader
        self._outcome = outcome
        self._warnings: list[tuple[type[Warning], str]] = []

    def result(self) -> PrintOutcome:
        """Wait for the print maps; return what became of them."""
        if self._outcome is None:
            self._outcome = self._wait()
        for category, text in self._warnings:
            warnings.warn(text, category, stacklevel=2)
        self._warnings.clear()
        return self._outcome

    def close(self) -> None:
        """Stop the worker if it has not answered yet (the run is leaving with an error)."""
        if self._process is not None and self._outcome is None:
            self._process.kill()
            self._process.join()
        if self._reader is not None:
            self._reader.close()

    def _wait(self) -> PrintOutcome:
        assert self._process is not None
        assert self._reader is not None
        try:
            message = self._reader.recv()  # before join: a large message must not block the pipe
        except EOFError:
            message = None
        self._process.join()
        if message is None:
            return PrintOutcome(
                "failed",
                (),
                f"the print-map worker stopped without an answer (exit code "
                f"{self._process.exitcode}); the other outputs are complete. Fix: run again; "
                "if it happens again, report it",
                worker=True,
            )
        status, files, caught, reason, trace = message
        self._warnings.extend(caught)
        if status == "failed":
            log.debug("print maps failed in the worker:\n%s", trace)
        return PrintOutcome(status, tuple(files), reason, worker=True)


@contextmanager
def print_maps_beside(
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    folder: Path,
    *,
    paper: str = "a4",
    points: Points = "aggregate",
    worker: bool | None = None,
) -> Iterator[PrintJob]:
    """Draw the print maps into `folder` while the block runs; ``job.result()`` waits.

    Parameters
    ----------
    layers, sections, folder, paper, points
        As in `geo_stunting.outputs._print.write_print_maps`. A page size it
        does not know raises its `InputError` here, at once.
    worker
        Draw in a forked worker process (the default where `fork_available`)
        or here, before the block runs (``False``).

    Yields
    ------
    PrintJob
        Leaving the block without calling ``result()`` (an error) stops the
        worker; its files are left in `folder`, which the caller discards.
    """
    from geo_stunting.outputs import _print  # noqa: PLC0415

    _print.check_paper(paper)  # a page size it does not know raises at once
    if worker if worker is not None else fork_available():
        context = multiprocessing.get_context("fork")
        reader, writer = context.Pipe(duplex=False)
        args = (writer, layers, sections, folder, paper, points)
        process = context.Process(target=_draw_in_worker, args=args, daemon=True)
        with warnings.catch_warnings():
            # Python 3.12+ warns at every fork of a process with threads (numpy's BLAS pool,
            # a progress bar): the worker touches no lock those threads may hold (see above)
            warnings.filterwarnings("ignore", ".*multi-threaded.*fork", DeprecationWarning)
            process.start()
        writer.close()
        job = PrintJob(process=process, reader=reader)
    else:
        job = PrintJob(outcome=_draw(layers, sections, folder, paper=paper, points=points))
    try:
        yield job
    finally:
        job.close()


def _draw(
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    folder: Path,
    *,
    paper: str,
    points: Points,
) -> PrintOutcome:
    from geo_stunting.outputs import _print  # noqa: PLC0415

    try:
        files = _print.write_print_maps(layers, sections, folder, paper=paper, points=points)
    except Exception as exc:  # a failed print map is an outcome: the rest is written
        log.debug("print maps failed", exc_info=True)
        return PrintOutcome("failed", (), failure_reason(exc))
    return PrintOutcome("done", tuple(files))


def _draw_in_worker(
    writer: Connection,
    layers: Mapping[str, gpd.GeoDataFrame],
    sections: Mapping[str, Any],
    folder: Path,
    paper: str,
    points: Points,
) -> None:
    """The worker: draw, then send ``(status, files, warnings, reason, traceback)``."""
    logging.disable(logging.CRITICAL)  # the parent's handlers may be locked by its other threads
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__  # not a console's proxy
    from geo_stunting.outputs import _print  # noqa: PLC0415

    message: tuple[Any, ...]
    try:
        with warnings.catch_warnings(record=True) as caught:
            files = _print.write_print_maps(layers, sections, folder, paper=paper, points=points)
        message = ("done", files, _sendable(caught), None, None)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        message = ("failed", [], [], failure_reason(exc), traceback.format_exc())
    writer.send(message)
    writer.close()


def _sendable(caught: list[warnings.WarningMessage]) -> list[tuple[type[Warning], str]]:
    """The caught warnings as (category, text); UserWarning for a category pickle cannot name."""
    out = []
    for item in caught:
        category = item.category
        try:
            pickle.dumps(category)
        except (pickle.PicklingError, AttributeError, TypeError):
            category = UserWarning
        out.append((category, str(item.message)))
    return out


def print_failures(out_dir: Path) -> list[str]:
    """The print maps of an output folder that failed, with why (from its run.json).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "run.json").write_text(
    ...     '{"steps": {"print_maps": {"status": "failed", "reason": "no ink"}}}'
    ... )
    >>> print_failures(folder)
    ['print_maps: no ink']
    """
    import json  # noqa: PLC0415

    run = out_dir / "run.json"
    steps = json.loads(run.read_text(encoding="utf-8")).get("steps", {}) if run.is_file() else {}
    return [
        f"{name}: {state.get('reason')}"
        for name, state in steps.items()
        if name.startswith("print_maps") and state.get("status") == "failed"
    ]
