"""Geomasking for public maps: move each child's home point before it is shared.

Children's home locations are sensitive health data. `donut_mask` moves every
point in a random direction by a random distance between `min_m` and `max_m`
(uniform over the ring's area, so that short moves are not over-represented),
keeping it inside the village polygon that contains it. `public_layers`
applies the registry's public policy to every output layer: the subjects'
points are masked once and every layer showing them is moved the same way
(masking each copy independently would let an average reveal the home),
names, ids and free attributes are dropped, rows are shuffled, and layers
that would reveal homes (lines from homes to facilities, unknown layers) are
left out.

Keep the masking seed private: with it and the public file, the displacement
can be undone. It is written to ``run.json`` in the private output folder,
never to the public files.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.outputs.map._area_layers import area_layer_style
from geo_stunting.outputs.map._layers import LAYER_STYLES, Public

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_MAX_M",
    "DEFAULT_MIN_M",
    "MAX_MAX_M",
    "MIN_MAX_M",
    "MaskingReport",
    "donut_mask",
    "public_layers",
]

log = logging.getLogger(__name__)

DEFAULT_MIN_M = 100.0
DEFAULT_MAX_M = 500.0
_FALLBACK_SAMPLES = 2000
_FALLBACK_ROUNDS = 25
#: A mask smaller than this (metres) does not hide a home; larger than this moves it off the map.
MIN_MAX_M = 10.0
MAX_MAX_M = 100_000.0


@dataclass(frozen=True)
class MaskingReport:
    """How points were masked; goes to ``run.json`` under ``public``.

    Attributes
    ----------
    method
        ``"donut"``: each point moved between `min_m` and `max_m`.
    min_m, max_m
        The displacement range, metres.
    seed
        The seed of the displacements (keep it private).
    within
        ``"village"`` when points were kept inside the area polygon that
        contains them, ``"none"`` when the study has no area.
    n_points
        Points masked.
    n_constrained
        Points that lie in a village polygon and were kept inside it.
    n_fallback
        Points whose village left little room for the ring: placed at a
        random point of the part of the ring inside the village.
    n_suppressed
        Points whose village holds no point of the ring (a village smaller
        than `min_m` around the home): not published at all, only counted.
    min_displacement_m, median_displacement_m, max_displacement_m
        The distances actually moved.
    layers
        What the public outputs did with each layer: ``kept``, ``masked``,
        ``moved with the subjects`` or ``left out``.
    """

    method: str
    min_m: float
    max_m: float
    seed: int | None
    within: str
    n_points: int
    n_constrained: int
    n_fallback: int
    min_displacement_m: float
    median_displacement_m: float
    max_displacement_m: float
    layers: dict[str, str] = field(default_factory=dict)
    n_suppressed: int = 0
    n_left_out: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The report as a ``run.json`` record."""
        return {
            "method": self.method,
            "min_m": self.min_m,
            "max_m": self.max_m,
            "seed": self.seed,
            "within": self.within,
            "n_points": self.n_points,
            "n_constrained": self.n_constrained,
            "n_fallback": self.n_fallback,
            "n_suppressed": self.n_suppressed,
            "n_left_out": dict(self.n_left_out),
            "guarantee": "every published point moved at least min_m and at most max_m",
            "min_displacement_m": round(self.min_displacement_m, 3),
            "median_displacement_m": round(self.median_displacement_m, 3),
            "max_displacement_m": round(self.max_displacement_m, 3),
            "layers": dict(self.layers),
        }

    def describe(self) -> str:
        """One sentence for the public map's title."""
        where = " within their village" if self.within == "village" else ""
        hidden = (
            f"; {self.n_suppressed} not shown (their village is too small to move them that far)"
            if self.n_suppressed
            else ""
        )
        return (
            f"home locations moved {self.min_m:g}–{self.max_m:g} m in a random direction"
            f"{where} (donut geomasking){hidden}; no names or ids"
        )


def _check_range(min_m: float, max_m: float) -> None:
    if (
        not (math.isfinite(min_m) and math.isfinite(max_m))
        or min_m < 0
        or max_m <= min_m
        or max_m < MIN_MAX_M
        or max_m > MAX_MAX_M
    ):
        raise AnalysisError(
            Problem(
                f"the masking distances must satisfy 0 ≤ min_m < max_m and {MIN_MAX_M:g} ≤ "
                f"max_m ≤ {MAX_MAX_M:g} m; got min_m={min_m:g}, max_m={max_m:g}",
                fix="give, for example, min_m=100 and max_m=500 (metres)",
            )
        )


def donut_mask(
    points: gpd.GeoDataFrame,
    *,
    min_m: float = DEFAULT_MIN_M,
    max_m: float = DEFAULT_MAX_M,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    areas: gpd.GeoDataFrame | None = None,
    max_tries: int = 200,
) -> tuple[gpd.GeoDataFrame, MaskingReport]:
    """Move every point between `min_m` and `max_m` metres, inside its village.

    Parameters
    ----------
    points
        Points in a projected CRS in metres (not changed).
    min_m, max_m
        The ring of displacements, metres.
    seed, rng
        The random source (give one); the same seed gives the same result.
    areas
        Village polygons; a point inside one stays inside it. Points outside
        every polygon are moved without constraint.
    max_tries
        Ring draws per point before falling back to a random point of the
        village.

    Returns
    -------
    masked, report
        A copy of `points` with moved geometry (same index and columns), and
        how it was done.

    Raises
    ------
    AnalysisError
        If the distances are not 0 ≤ min_m < max_m, the points are not all
        points, or their CRS is not projected in metres.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pts = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)] * 3, crs="EPSG:32748")
    >>> masked, report = donut_mask(pts, min_m=100, max_m=500, seed=1)
    >>> bool(((masked.distance(pts) >= 100) & (masked.distance(pts) <= 500)).all())
    True
    """
    _check_range(min_m, max_m)
    if rng is None:
        if seed is None:
            raise AnalysisError(
                Problem("donut_mask needs a seed or rng", fix="pass seed=<an int you keep private>")
            )
        rng = np.random.default_rng(seed)
    _check_points(points)
    xy = shapely.get_coordinates(points.geometry.to_numpy())
    village, polygons = _villages(points, areas)
    new = xy.copy()
    todo = np.arange(len(xy))
    low, high = min_m**2, max_m**2
    for _ in range(max_tries):
        if len(todo) == 0:
            break
        radius = np.sqrt(rng.uniform(low, high, size=len(todo)))
        angle = rng.uniform(0.0, 2 * np.pi, size=len(todo))
        cand = xy[todo] + np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
        inside = _inside(polygons, village[todo], cand)
        new[todo[inside]] = cand[inside]
        todo = todo[~inside]
    for i in todo:  # only points inside a village come here
        assert polygons is not None
        new[i] = _fallback(polygons[village[i]], xy[i], min_m, max_m, rng)
    suppressed = np.isnan(new[:, 0]) if len(xy) else np.zeros(0, dtype=bool)
    moved = np.hypot(*(new - xy).T)[~suppressed] if len(xy) else np.zeros(0)
    if len(moved) and not ((moved >= min_m) & (moved <= max_m)).all():  # pragma: no cover
        msg = "masking broke its guarantee; nothing is published"
        raise AssertionError(msg)
    masked = points.copy()
    geoms = np.asarray(shapely.points(new), dtype=object)
    geoms[suppressed] = None
    masked[points.geometry.name] = gpd.GeoSeries(geoms, index=points.index, crs=points.crs)
    report = MaskingReport(
        method="donut",
        min_m=float(min_m),
        max_m=float(max_m),
        seed=None if seed is None else int(seed),
        within="village" if polygons is not None else "none",
        n_points=len(xy),
        n_constrained=int((village >= 0).sum()),
        n_fallback=len(todo) - int(suppressed.sum()),
        n_suppressed=int(suppressed.sum()),
        min_displacement_m=float(moved.min()) if len(moved) else 0.0,
        median_displacement_m=float(np.median(moved)) if len(moved) else 0.0,
        max_displacement_m=float(moved.max()) if len(moved) else 0.0,
    )
    if suppressed.any():
        log.warning(
            "%d point(s) lie in villages too small for a %g–%g m move; they are not published "
            "(counted in run.json and on the map)",
            int(suppressed.sum()),
            min_m,
            max_m,
        )
    return masked, report


def _check_points(points: gpd.GeoDataFrame) -> None:
    problems = []
    if points.crs is None or not points.crs.is_projected:
        problems.append(
            Problem(
                "the points to mask must be in a projected CRS in metres",
                fix="project them first, e.g. points.to_crs(points.estimate_utm_crs())",
            )
        )
    geoms = points.geometry
    if geoms.isna().any() or not (geoms.geom_type == "Point").all() or geoms.is_empty.any():
        problems.append(
            Problem(
                "only non-empty points can be masked",
                fix="drop empty geometries and explode multi-points first",
            )
        )
    if problems:
        raise AnalysisError(problems)


def _villages(
    points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None
) -> tuple[np.ndarray[Any, np.dtype[np.intp]], np.ndarray[Any, Any] | None]:
    """Index of the polygon containing each point (−1: none), and the polygons."""
    village = np.full(len(points), -1, dtype=np.intp)
    if areas is None or len(areas) == 0:
        return village, None
    polys = np.array([*areas.to_crs(points.crs).geometry, shapely.Point()])  # −1: empty
    shapely.prepare(polys)
    tree = shapely.STRtree(polys[:-1])
    pts, hits = tree.query(points.geometry.to_numpy(), predicate="within")
    order = np.lexsort((hits, pts))
    pts, hits = pts[order], hits[order]
    first = np.ones(len(pts), dtype=bool)
    first[1:] = pts[1:] != pts[:-1]
    village[pts[first]] = hits[first]
    return village, polys


def _inside(
    polygons: np.ndarray[Any, Any] | None,
    village: np.ndarray[Any, np.dtype[np.intp]],
    xy: np.ndarray[Any, np.dtype[np.float64]],
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if polygons is None:
        return np.ones(len(xy), dtype=bool)
    free = village < 0
    inside = shapely.contains_xy(polygons[village], xy[:, 0], xy[:, 1])
    return np.asarray(free | inside, dtype=bool)


def _fallback(
    polygon: Any,
    origin: np.ndarray[Any, Any],
    min_m: float,
    max_m: float,
    rng: np.random.Generator,
) -> np.ndarray[Any, Any]:
    """A random point of the ring around `origin` inside `polygon`; NaN when there is none.

    Candidates are drawn in the bounds of the ring ∩ polygon and kept only when
    their exact distance lies in [min_m, max_m] and the polygon contains them,
    so a returned point always keeps the guarantee.
    """
    centre = shapely.Point(*origin)
    region = shapely.intersection(polygon, centre.buffer(max_m * 1.001, quad_segs=32))
    if region.is_empty or region.area == 0:
        return np.array([np.nan, np.nan])
    minx, miny, maxx, maxy = shapely.bounds(region)
    for _ in range(_FALLBACK_ROUNDS):
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(_FALLBACK_SAMPLES, 2))
        dist = np.hypot(*(cand - origin).T)
        cand = cand[(dist >= min_m) & (dist <= max_m)]
        cand = cand[shapely.contains_xy(polygon, cand[:, 0], cand[:, 1])]
        if len(cand):
            return np.asarray(cand[0])
    return np.array([np.nan, np.nan])


def public_layers(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    min_m: float = DEFAULT_MIN_M,
    max_m: float = DEFAULT_MAX_M,
    seed: int,
) -> tuple[dict[str, gpd.GeoDataFrame], MaskingReport]:
    """The layers of a run as they may be shared: masked points, no names or ids.

    Parameters
    ----------
    layers
        Every layer of a run (``results.layers`` or read from layers.gpkg);
        must include ``subjects`` with ``subject_id``.
    min_m, max_m
        Displacement range of `donut_mask`, metres.
    seed
        Seed of the displacements and of the row shuffle. Keep it private.

    Returns
    -------
    layers, report
        The public layers (what each layer's registry entry allows: see
        `geo_stunting.outputs.map._layers.Public`) and the masking report, whose
        ``layers`` says what happened to each layer.
    """
    subjects = layers["subjects"]
    if "subject_id" not in subjects:
        raise AnalysisError(Problem("the subjects layer has no subject_id column"))
    rng = np.random.default_rng(seed)
    masked, report = donut_mask(
        subjects, min_m=min_m, max_m=max_m, rng=rng, areas=layers.get("area")
    )
    ids = subjects["subject_id"].astype(str).to_numpy()
    shift = pd.DataFrame(
        _xy_or_nan(masked.geometry) - _xy_or_nan(subjects.geometry),
        index=ids,
        columns=["dx", "dy"],
    ).dropna()
    rank = pd.Series(rng.permutation(len(ids)), index=ids)
    out: dict[str, gpd.GeoDataFrame] = {}
    done: dict[str, str] = {}
    n_left_out: dict[str, int] = {}
    for name, gdf in layers.items():
        spec = LAYER_STYLES.get(name) or area_layer_style(name)
        policy = spec.public if spec is not None else Public("drop")
        action = policy.action
        if policy.keep_if is not None and not policy.keep_if(gdf):
            action = "drop"
        if action == "keep":
            out[name] = gdf.drop(columns=[c for c in policy.drop if c in gdf.columns])
            done[name] = "kept"
        elif action == "mask" and "subject_id" in gdf:
            out[name], left_out = _moved_points(gdf, shift, rank, policy.columns)
            done[name] = "masked"
            if left_out:
                n_left_out[name] = left_out
        elif action == "mask_circles":
            out[name], left_out = _moved_circles(gdf, subjects, shift, policy.drop)
            done[name] = "moved with the subjects"
            if left_out:
                n_left_out[name] = left_out
        else:
            done[name] = "left out"
    report = MaskingReport(
        **{**report.__dict__, "seed": int(seed), "layers": done, "n_left_out": n_left_out}
    )
    return out, report


def _moved_points(
    gdf: gpd.GeoDataFrame, shift: pd.DataFrame, rank: pd.Series[int], columns: tuple[str, ...]
) -> tuple[gpd.GeoDataFrame, int]:
    published = gdf["subject_id"].astype(str).isin(shift.index).to_numpy().copy()
    published &= ~(gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy()
    left_out = int((~published).sum())  # suppressed, or not in the subjects layer: never at 0 m
    gdf = gdf[published]
    ids = gdf["subject_id"].astype(str)
    d = shift.reindex(ids.to_numpy()).to_numpy()
    xy = shapely.get_coordinates(gdf.geometry.to_numpy()) + d
    keep = [c for c in columns if c in gdf.columns]
    out = gpd.GeoDataFrame(
        pd.DataFrame(gdf[keep]).reset_index(drop=True),
        geometry=gpd.GeoSeries(shapely.points(xy), crs=gdf.crs),
        crs=gdf.crs,
    )
    order = np.argsort(rank.reindex(ids.to_numpy()).fillna(len(rank)).to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True), left_out


def _translate(geom: Any, dx: float, dy: float) -> Any:
    offset = np.array([dx, dy])

    def move(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.asarray(coords + offset)

    return shapely.transform(geom, move)


def _moved_circles(
    gdf: gpd.GeoDataFrame, subjects: gpd.GeoDataFrame, shift: pd.DataFrame, drop: tuple[str, ...]
) -> tuple[gpd.GeoDataFrame, int]:
    """Move polygons centred on a subject's home with that subject's displacement."""
    if "centre_x" in gdf and "centre_y" in gdf:
        centres = gdf[["centre_x", "centre_y"]].to_numpy(dtype=float)
    else:
        centres = shapely.get_coordinates(gdf.geometry.centroid.to_numpy())
    homes = _xy_or_nan(subjects.geometry)
    ids = subjects["subject_id"].astype(str).to_numpy()
    geoms, kept = [], []
    for centre, geom in zip(centres, gdf.geometry.to_numpy(), strict=True):
        gaps = np.hypot(*(homes - centre).T)
        nearest = int(np.nanargmin(gaps)) if np.isfinite(gaps).any() else -1
        # a circle centred on a home that is not published would reveal it: left out
        kept.append(nearest >= 0 and ids[nearest] in shift.index)
        if kept[-1]:
            dx, dy = shift.loc[ids[nearest]]
            geoms.append(_translate(geom, float(dx), float(dy)))
    out = gdf[np.asarray(kept, dtype=bool)].drop(columns=[c for c in drop if c in gdf.columns])
    out = out.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=out.index, crs=gdf.crs)
    return out, len(kept) - sum(kept)


def _xy_or_nan(geoms: gpd.GeoSeries) -> np.ndarray[Any, Any]:
    """x, y of each point; NaN for a missing or empty geometry."""
    xy = np.full((len(geoms), 2), np.nan)
    present = ~(geoms.isna() | geoms.is_empty).to_numpy()
    xy[present] = shapely.get_coordinates(geoms.to_numpy()[present])
    return xy
