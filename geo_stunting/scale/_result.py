"""What the dask engine returns (kept apart so that the engine and the sample both import it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import geopandas as gpd

    from geo_stunting.scale._cluster import SchedulerInfo

__all__ = ["ScaleResult"]


@dataclass(frozen=True)
class ScaleResult:
    """What `access_dask` computed and wrote.

    Attributes
    ----------
    section
        The ``access`` section (same keys and values as the single-process step for the
        comparison of cases and controls) plus ``engine``, ``levels``, ``rejected``.
    layers
        ``area_access_<level>`` GeoDataFrames (one row per unit).
    subjects_access
        The folder of ``part.NNNNN.parquet`` files (``None`` when `out` was not given).
    rejects
        The folder of rejected rows (``None`` without `out` or without rejects).
    scheduler
        Which scheduler ran it.
    timings
        Seconds per phase (``survey``, ``access``, ``aggregate``, ``total``).
    worker_peak_rss
        Peak resident memory per worker process, bytes (distributed schedulers only).
    """

    section: dict[str, Any]
    layers: dict[str, gpd.GeoDataFrame]
    subjects_access: Path | None
    rejects: Path | None
    scheduler: SchedulerInfo
    timings: dict[str, float] = field(default_factory=dict)
    worker_peak_rss: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (the section, paths, scheduler, timings, memory)."""
        return {
            "section": self.section,
            "subjects_access": None if self.subjects_access is None else str(self.subjects_access),
            "rejects": None if self.rejects is None else str(self.rejects),
            "scheduler": self.scheduler.to_dict(),
            "timings": dict(self.timings),
            "worker_peak_rss": dict(self.worker_peak_rss),
        }
