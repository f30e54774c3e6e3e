"""Point-pattern statistics: window, Clark–Evans, K/L/G and envelopes, case-control tests.

- `_window`: the study window (`StudyWindow`, `make_window`, `area_union`);
- `_nearest_neighbour`: Clark–Evans and the average nearest-neighbour table;
- `_kfunction`: K, L and G with edge corrections, pointwise and global envelopes;
- `_pairs`: pair scans and edge weights behind them; `_kernels`: their compiled loops;
- `_casecontrol`: the case-control K difference and Cuzick–Edwards;
- `_step`: the ``pattern`` step.
"""

from __future__ import annotations

from geo_stunting.pattern._casecontrol import (
    CuzickEdwards,
    KDifference,
    cuzick_edwards,
    k_difference,
)
from geo_stunting.pattern._kfunction import (
    Envelope,
    GFunction,
    KFunction,
    envelope,
    g_function,
    k_function,
)
from geo_stunting.pattern._nearest_neighbour import (
    AverageNearestNeighbour,
    ClarkEvans,
    average_nearest_neighbour,
    clark_evans,
)
from geo_stunting.pattern._window import StudyWindow, make_window

__all__ = [
    "AverageNearestNeighbour",
    "ClarkEvans",
    "CuzickEdwards",
    "Envelope",
    "GFunction",
    "KDifference",
    "KFunction",
    "StudyWindow",
    "average_nearest_neighbour",
    "clark_evans",
    "cuzick_edwards",
    "envelope",
    "g_function",
    "k_difference",
    "k_function",
    "make_window",
]
