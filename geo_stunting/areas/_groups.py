"""Villages added up to kecamatan or kabupaten: polygons dissolved, counts summed.

Counts add up: the cases and children measured of a kecamatan are the sums
of its villages'. Percentages do not: without the number of children behind
each, a kecamatan's prevalence cannot be computed from its villages', and
`group_areas` refuses rather than average them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_stunting.areas._io import AreaData, normalise_code
from geo_stunting.errors import AnalysisError, Problem
from geo_stunting.study._validate import cell_text

__all__ = ["group_areas", "groups_from_columns"]


def group_areas(
    data: AreaData,
    groups: Mapping[str, tuple[str, str]],
    *,
    level: str = "group",
) -> AreaData:
    """Add areas up to larger ones (villages to kecamatan, kecamatan to kabupaten).

    Parameters
    ----------
    data
        Joined areas with counts (`AreaData.has_counts`).
    groups
        For each area code, the larger area's code and name as written.
    level
        What the larger areas are called, for messages.

    Returns
    -------
    AreaData
        One polygon per larger area (the union of its members), with summed
        ``cases`` and ``population`` per period; the prevalence recomputed.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> from geo_stunting.areas._io import join_areas
    >>> polys = gpd.GeoDataFrame({"kode": ["1", "2", "3"]},
    ...     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs=3857)
    >>> table = pd.DataFrame({"kode": ["1", "2", "3"], "c": [1, 3, 2], "n": [10, 10, 20]})
    >>> data = join_areas(polys, table, code="kode", cases="c", population="n")
    >>> up = group_areas(data, {"1": ("A", "Kec A"), "2": ("A", "Kec A"), "3": ("B", "Kec B")})
    >>> up.values[["area_code", "cases", "population", "prevalence_pct"]].values.tolist()
    [['A', 4.0, 20.0, 20.0], ['B', 2.0, 20.0, 10.0]]
    """
    if not data.has_counts:
        raise AnalysisError(
            Problem(
                f"percentages cannot be added up to {level}: a {level}'s prevalence needs the "
                "number of children behind each village's percentage",
                fix="give sample_size with prevalence, or counts (cases and population)",
            )
        )
    missing = [c for c in data.polygons["area_code"] if c not in groups or not groups[c][0]]
    if missing:
        raise AnalysisError(
            Problem(
                f"{len(missing)} area(s) have no {level}: {missing[:5]}",
                fix=f"fill in the {level} column for every polygon",
            )
        )
    codes = data.polygons["area_code"].map(lambda c: normalise_code(groups[c][0]))
    written = data.polygons["area_code"].map(lambda c: groups[c][0])
    names = data.polygons["area_code"].map(lambda c: groups[c][1] or groups[c][0])
    order = list(dict.fromkeys(codes))
    geometry = [
        shapely.union_all(np.asarray(data.polygons.geometry.array)[(codes == g).to_numpy()])
        for g in order
    ]
    first = {g: i for i, g in reversed(list(enumerate(codes)))}
    polygons = gpd.GeoDataFrame(
        {
            "area_code": order,
            "code": [written.iloc[first[g]] for g in order],
            "area_name": [names.iloc[first[g]] for g in order],
            "source_row": [int(data.polygons["source_row"].iloc[first[g]]) for g in order],
        },
        geometry=geometry,
        crs=data.polygons.crs,
    )
    members = dict(zip(data.polygons["area_code"], codes, strict=True))
    values = data.values.assign(area_code=data.values["area_code"].map(members))
    summed = (
        values.groupby(["area_code", "period"], sort=False)[["cases", "population"]]
        .sum()
        .reset_index()
    )
    summed["prevalence_pct"] = 100 * summed["cases"] / summed["population"]
    summed["source_row"] = 0
    summed["area_code"] = pd.Categorical(summed["area_code"], categories=order, ordered=True)
    summed = summed.sort_values("area_code", kind="stable")
    summed["area_code"] = summed["area_code"].astype(str)
    return replace(data, polygons=polygons, values=summed.reset_index(drop=True))


def groups_from_columns(
    data: AreaData,
    frame: pd.DataFrame,
    *,
    column: str,
    name: str | None = None,
) -> dict[str, tuple[str, str]]:
    """For each area of `data`, the cells of `column` (and `name`) in `frame`'s row of that area.

    `frame` has one row per polygon with its ``source_row`` (the polygons'
    file as read, or ``study.area``).
    """
    problems = [
        Problem(f"column {c!r} not found ([areas] group)", fix="name a column of the [area] file")
        for c in (column, name)
        if c is not None and c not in frame
    ]
    if problems:
        raise AnalysisError(problems)
    rows = frame.set_index("source_row")
    out = {}
    for code, row in zip(data.polygons["area_code"], data.polygons["source_row"], strict=True):
        found = rows.loc[int(row)]
        out[code] = (cell_text(found[column]), cell_text(found[name]) if name else "")
    return out
