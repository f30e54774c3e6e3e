"""Choose and check the analysis CRS: metres, on purpose.

``crs = "auto"`` picks the WGS 84 / UTM zone of the study's centroid and logs
the choice, as osmnx's ``project_gdf`` does; an explicit CRS must be projected
and in metres. Nothing planar ever runs on longitude/latitude.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from pyproj import CRS, Proj
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from pyproj.exceptions import CRSError

from geo_stunting.errors import Problem, ProjectionError

__all__ = [
    "MAX_DISTORTION",
    "ChosenCRS",
    "choose_analysis_crs",
    "parse_crs",
    "scale_distortion",
    "utm_crs_for",
]

log = logging.getLogger(__name__)

#: A given CRS whose scale error over the study exceeds this (1 %) is refused.
MAX_DISTORTION = 0.01


@dataclass(frozen=True)
class ChosenCRS:
    """The analysis CRS and why it was chosen."""

    crs: CRS
    reason: str

    @property
    def code(self) -> str:
        """``"EPSG:32748"``-style code, or the WKT name when there is no code."""
        auth = self.crs.to_authority()
        return f"{auth[0]}:{auth[1]}" if auth else self.crs.name


def parse_crs(text: object, *, where: str) -> CRS:
    """Parse a CRS given as text (``"EPSG:4326"``, ``"4326"``, WKT, PROJ).

    Raises
    ------
    ProjectionError
        If pyproj does not know it; the message names where it came from.
    """
    try:
        if isinstance(text, int) or (isinstance(text, str) and text.strip().isdigit()):
            return CRS.from_epsg(int(text))
        return CRS.from_user_input(text)
    except (CRSError, TypeError, ValueError):
        raise ProjectionError(
            Problem(
                f"CRS {text!r} is not known",
                column=where,
                fix='write an EPSG code such as "EPSG:4326" (longitude/latitude) or '
                '"EPSG:32748" (UTM zone 48S)',
            )
        ) from None


def utm_crs_for(lon: float, lat: float) -> CRS:
    """Return the WGS 84 / UTM CRS whose zone contains (`lon`, `lat`)."""
    infos = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:  # pragma: no cover - pyproj covers the globe between 80S and 84N
        zone = int((lon + 180) // 6) % 60 + 1
        return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
    # The database may list neighbours at a zone edge; keep the one whose
    # central meridian is closest, and the hemisphere of the latitude.
    hemisphere = "N" if lat >= 0 else "S"
    same_hemisphere = [i for i in infos if i.name.endswith(hemisphere)] or infos
    best = min(
        same_hemisphere,
        key=lambda i: abs(_central_meridian(i.code) - lon),
    )
    return CRS.from_epsg(int(best.code))


def _central_meridian(code: str) -> float:
    zone = int(code[-2:])
    return zone * 6.0 - 183.0


def choose_analysis_crs(
    setting: str,
    *,
    centroid_lonlat: tuple[float, float],
    extent_lonlat: Sequence[tuple[float, float]] = (),
) -> ChosenCRS:
    """Pick the analysis CRS.

    Parameters
    ----------
    setting
        ``"auto"`` or a projected CRS such as ``"EPSG:32748"``.
    centroid_lonlat
        The study's centroid in longitude/latitude, for ``"auto"``.
    extent_lonlat
        More points of the study (corners of its extent) where a given CRS's
        distortion is checked, as at the centroid.

    Raises
    ------
    ProjectionError
        If the setting is geographic (degrees), not in metres, or distorts
        distances over the study by more than `MAX_DISTORTION` (the message
        names the better UTM zone).
    """
    if setting.strip().lower() == "auto":
        lon, lat = centroid_lonlat
        crs = utm_crs_for(lon, lat)
        where = (
            f"{abs(lon):.4f}°{'E' if lon >= 0 else 'W'}, {abs(lat):.4f}°{'N' if lat >= 0 else 'S'}"
        )
        chosen = ChosenCRS(
            crs, f"chosen automatically: the UTM zone of the study centroid ({where})"
        )
        log.info("analysis CRS %s (%s), %s", chosen.code, crs.name, chosen.reason)
        return chosen
    crs = parse_crs(setting, where="[analysis] crs")
    if not crs.is_projected:
        raise ProjectionError(
            Problem(
                f"the analysis CRS {setting!r} is geographic (degrees); distances and areas "
                "need a projected CRS in metres",
                column="[analysis] crs",
                fix='use crs = "auto" (the UTM zone of the study) or a projected code such as '
                '"EPSG:32748"',
            )
        )
    units = {axis.unit_name for axis in crs.axis_info}
    if units - {"metre", "meter"}:
        raise ProjectionError(
            Problem(
                f"the analysis CRS {setting!r} is in {sorted(units)}, not metres",
                column="[analysis] crs",
                fix='use crs = "auto" or a projected CRS in metres such as "EPSG:32748"',
            )
        )
    _check_distortion(crs, setting, [centroid_lonlat, *extent_lonlat])
    chosen = ChosenCRS(crs, "given in the study file")
    log.info("analysis CRS %s (%s), %s", chosen.code, crs.name, chosen.reason)
    return chosen


def scale_distortion(crs: CRS, points_lonlat: Sequence[tuple[float, float]]) -> float:
    """Largest relative error of a short distance in `crs` at these points (0.01 = 1 %).

    From the projection's scale factors along the meridian and the parallel
    (pyproj ``Proj.get_factors``): ``max |k − 1|``; infinite where the
    projection is undefined.

    >>> round(scale_distortion(CRS.from_epsg(32748), [(104.65, -3.21)]), 5)
    0.00038
    """
    proj = Proj(crs)
    worst = 0.0
    for lon, lat in points_lonlat:
        factors = proj.get_factors(lon, lat, errcheck=False)
        for k in (factors.meridional_scale, factors.parallel_scale):
            if not math.isfinite(k) or k <= 0:
                return math.inf
            worst = max(worst, abs(k - 1.0))
    return worst


def _check_distortion(crs: CRS, setting: str, points: list[tuple[float, float]]) -> None:
    distortion = scale_distortion(crs, points)
    if distortion <= MAX_DISTORTION:
        return
    lon, lat = points[0]
    better = utm_crs_for(lon, lat)
    auth = better.to_authority()
    code = f"{auth[0]}:{auth[1]}" if auth else better.name
    better_distortion = scale_distortion(better, points)
    amount = "beyond measure" if not math.isfinite(distortion) else f"{distortion:.1%}"
    raise ProjectionError(
        Problem(
            f"the analysis CRS {setting!r} distorts distances over this study by {amount} "
            f"(more than {MAX_DISTORTION:.0%}); every distance in metres would be wrong",
            column="[analysis] crs",
            fix=f'use crs = "auto" or "{code}" ({better.name}, distortion '
            f"{better_distortion:.2%} here)",
        )
    )
