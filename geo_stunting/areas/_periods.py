"""Change between periods: prevalence differences per area with confidence intervals.

The difference of two prevalences from independent samples, d = p₂ − p₁,
has the Wald interval d ± z √(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂). It needs the
number of children measured (n) in both periods; with percentages alone
the difference is given without an interval, and nothing can be said about
whether it is more than sampling noise. Survey prevalences (SSGI, SKI) come
from cluster samples whose design effect widens the true interval: the
interval here assumes simple random sampling and is too narrow for them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from geo_stunting.areas._io import AreaData
from geo_stunting.errors import AnalysisError, Problem

__all__ = ["rate_differences"]


def rate_differences(
    data: AreaData, *, start: str, end: str, confidence: float = 0.95
) -> pd.DataFrame:
    """Per-area change in prevalence (percentage points) between two periods.

    Parameters
    ----------
    data
        From `join_areas`.
    start, end
        The two periods.
    confidence
        Level of the Wald interval.

    Returns
    -------
    pandas.DataFrame
        One row per area present in both periods: ``area_code``,
        ``prevalence_start``, ``prevalence_end``, ``difference_pp``,
        ``ci_low_pp``, ``ci_high_pp`` (NaN without sample sizes) and
        ``change`` (``"up"``/``"down"`` when the interval excludes 0,
        ``"no clear change"`` when it does not, ``"unknown"`` without sample
        sizes).

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> polys = gpd.GeoDataFrame({"kode": ["1"]}, geometry=[box(0, 0, 1, 1)], crs=3857)
    >>> table = pd.DataFrame({"kode": ["1"], "c1": [30], "n1": [100], "c2": [20], "n2": [100]})
    >>> from geo_stunting.areas._io import join_areas
    >>> data = join_areas(polys, table, code="kode", cases={"a": "c1", "b": "c2"},
    ...                   population={"a": "n1", "b": "n2"})
    >>> change = rate_differences(data, start="a", end="b").round(2).iloc[0]
    >>> [float(v) for v in change.iloc[1:6]], change["change"]
    ([30.0, 20.0, -10.0, -21.92, 1.92], 'no clear change')
    """
    for period in (start, end):
        if period not in data.periods:
            raise AnalysisError(
                Problem(f"no period {period!r}; the periods are {list(data.periods)}")
            )
    values = data.values.set_index(["area_code", "period"])
    codes = [
        c
        for c in data.polygons["area_code"]
        if (c, start) in values.index and (c, end) in values.index
    ]
    first = values.loc[[(c, start) for c in codes]]
    second = values.loc[[(c, end) for c in codes]]
    p1 = first["prevalence_pct"].to_numpy() / 100
    p2 = second["prevalence_pct"].to_numpy() / 100
    n1 = first["population"].to_numpy()
    n2 = second["population"].to_numpy()
    diff = p2 - p1
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    low, high = diff - z * se, diff + z * se
    change = np.where(
        ~np.isfinite(se),
        "unknown",
        np.where(low > 0, "up", np.where(high < 0, "down", "no clear change")),
    )
    return pd.DataFrame(
        {
            "area_code": codes,
            "prevalence_start": 100 * p1,
            "prevalence_end": 100 * p2,
            "difference_pp": 100 * diff,
            "ci_low_pp": 100 * low,
            "ci_high_pp": 100 * high,
            "change": change,
        }
    )
