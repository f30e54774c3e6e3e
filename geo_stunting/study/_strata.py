"""Strata (villages) as field teams type them: one stratum per name, whatever the case or spaces.

``"SAKA TIGA"``, ``"Saka Tiga"`` and ``" Saka Tiga "`` are one village: names
are compared without case, surrounding spaces or doubled inner spaces, and
each stratum takes its most common spelling (ties: the first in sort order).
When the study area has village names, a subject whose stratum differs from
the name of the village polygon that holds it is counted in a note (the
stratum is kept: it is what the field team recorded).
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["harmonise_strata", "stratum_key"]


def stratum_key(value: object) -> str | None:
    """The comparison key of a stratum name.

    >>> stratum_key("  SAKA   Tiga ") == stratum_key("saka tiga")
    True
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = " ".join(str(value).split())
    return text.casefold() or None


def harmonise_strata(
    subjects: gpd.GeoDataFrame, area: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """A copy of `subjects` with one spelling per stratum, and notes on what changed.

    Parameters
    ----------
    subjects
        With a ``stratum`` column (returned unchanged without one).
    area
        Study-area polygons with a ``name`` column, in the subjects' CRS.

    Returns
    -------
    subjects, notes
        The harmonised copy; notes on merged spellings and on subjects whose
        stratum disagrees with their village polygon.
    """
    if "stratum" not in subjects:
        return subjects, []
    notes: list[str] = []
    raw = subjects["stratum"]
    keys = [stratum_key(v) for v in raw]
    spellings: dict[str, Counter[str]] = {}
    for key, value in zip(keys, raw, strict=True):
        if key is not None:
            spellings.setdefault(key, Counter())[" ".join(str(value).split())] += 1
    label = {
        key: min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
        for key, counts in spellings.items()
    }
    out = subjects.copy()
    out["stratum"] = pd.Series(
        [None if k is None else label[k] for k in keys], index=subjects.index, dtype=object
    )
    n_spellings = len({str(v) for v in raw if stratum_key(v) is not None})
    if n_spellings > len(label):
        merged = [
            f"{label[k]} ({len(c)} spellings)" for k, c in sorted(spellings.items()) if len(c) > 1
        ]
        notes.append(
            f"stratum names were compared without case and surrounding spaces: {n_spellings} "
            f"spellings are {len(label)} strata ({', '.join(merged[:5])}"
            + (", …" if len(merged) > 5 else "")
            + ")"
        )
    if area is not None and "name" in area and len(area):
        notes += _disagreements(out, keys, area)
    return out, notes


def _disagreements(
    subjects: gpd.GeoDataFrame, keys: list[str | None], area: gpd.GeoDataFrame
) -> list[str]:
    geoms = np.asarray(area.geometry.array)
    tree = shapely.STRtree(geoms)
    point_pos, area_pos = tree.query(np.asarray(subjects.geometry.array), predicate="within")
    names = [stratum_key(v) for v in area["name"]]
    holders: dict[int, set[str]] = {}
    for p, a in zip(point_pos, area_pos, strict=True):
        if names[a] is not None:
            holders.setdefault(int(p), set()).add(str(names[a]))
    differ = [p for p, held in holders.items() if keys[p] is not None and keys[p] not in held]
    if not differ:
        return []
    ids = subjects["subject_id"].to_numpy()[differ[:5]] if "subject_id" in subjects else differ[:5]
    shown = ", ".join(map(str, ids))
    note = (
        f"{len(differ)} subject(s) have a stratum that differs from the name of the village "
        f"polygon holding them (e.g. {shown}); the stratum is kept as recorded"
    )
    return [note]
