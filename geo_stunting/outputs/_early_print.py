"""The print maps started while the analysis still runs, as soon as their layers are ready.

The print maps (``map.pdf`` and three PNGs, `geo_stunting.outputs._print`)
draw the study area, the subjects, the facilities and the layers of three
steps: access, scan and relative_risk, with the ``study`` and ``settings``
sections. `EarlyPrint` is the hook the command line gives
`geo_stunting.analyze` (``early=``): those steps run first, and the hook
then forks the print-map worker (`print_maps_beside`), which draws while the
other steps (pattern, autocorrelation, …) run here. `EarlyPrint.job`
hands the worker to `write_outputs` (``print_job=``), which waits for it as
before.

A worker started early is used only if what it drew is what the end of the
run would draw: each layer the print maps read is the very same object in
the final results, and the ``study`` and ``settings`` sections are equal.
Otherwise (a later step replaced a layer, say) it is stopped and the maps are
drawn at the end, as without this module. The outcome and its failures are
those of `print_maps_beside`: ``run.json → steps.print_maps``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo_stunting.outputs._print_job import PrintJob, print_maps_beside

if TYPE_CHECKING:
    import geopandas as gpd

    from geo_stunting.pipeline import Results

__all__ = ["PRINT_LAYERS", "PRINT_SECTIONS", "PRINT_STEPS", "EarlyPrint"]

log = logging.getLogger(__name__)

#: The layers the print maps read (`tests/test_early_print.py` checks that these are enough).
PRINT_LAYERS = (
    "area",
    "subjects",
    "facilities",
    "area_coverage",
    "coverage",
    "relative_risk_high",
    "scan_clusters",
)
#: The ``results.json`` sections the print maps read.
PRINT_SECTIONS = ("study", "settings")
#: The steps whose layers the print maps draw: run first.
PRINT_STEPS = ("access", "scan", "relative_risk")


class EarlyPrint(AbstractContextManager["EarlyPrint"]):
    """Start the print maps into `folder` once `PRINT_STEPS` are over (a hook for `analyze`).

    Parameters
    ----------
    folder
        Where the print maps go (the output folder's staging folder).
    paper
        Page size, as in `print_maps_beside`.

    Use it as a context manager around the analysis and `write_outputs`:
    leaving it stops a worker nobody waited for (an error).
    """

    steps: tuple[str, ...] = PRINT_STEPS

    def __init__(self, folder: Path, *, paper: str = "a4") -> None:
        self.folder = folder
        self.paper = paper
        self._stack = ExitStack()
        self._job: PrintJob | None = None
        self._drawn: tuple[dict[str, Any], dict[str, Any]] | None = None

    def __call__(self, layers: Mapping[str, gpd.GeoDataFrame], sections: Mapping[str, Any]) -> None:
        """Fork the print-map worker with the layers and sections so far."""
        if self._job is not None:
            return
        shown = {name: layers[name] for name in PRINT_LAYERS if name in layers}
        if "area" not in shown:  # without villages the maps frame the first layer: at the end
            return
        drawn = {name: sections[name] for name in PRINT_SECTIONS if name in sections}
        try:
            self._job = self._stack.enter_context(
                print_maps_beside(shown, drawn, self.folder, paper=self.paper)
            )
        except Exception:  # drawn at the end instead, where an error is reported
            log.debug("print maps not started early", exc_info=True)
            return
        self._drawn = (shown, drawn)

    def job(self, results: Results) -> AbstractContextManager[PrintJob] | None:
        """The worker started early, if it draws what `results` would; else None (draw now)."""
        if self._job is None or self._drawn is None:
            return None
        shown, drawn = self._drawn
        same = all(results.layers.get(name) is shown.get(name) for name in PRINT_LAYERS) and all(
            results.sections.get(name) == drawn.get(name) for name in PRINT_SECTIONS
        )
        if not same:
            log.debug("print maps started early are out of date: drawn again")
            self._stack.close()  # stops the worker
            self._job = None
            return None
        return _handed(self._job)

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


@contextmanager
def _handed(job: PrintJob) -> Iterator[PrintJob]:
    """The early job as `print_maps_beside` yields it: closed when the block is left."""
    try:
        yield job
    finally:
        job.close()
