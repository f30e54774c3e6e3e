"""Point-pattern statistics: window, Clark–Evans, K/L/G and envelopes, case-control tests.

- `_window`: the study window (`StudyWindow`, `make_window`, `area_union`);
- `_nearest_neighbour`: Clark–Evans and the average nearest-neighbour table;
- `_kfunction`: K, L and G with edge corrections, pointwise and global envelopes;
- `_pairs`: pair scans and edge weights behind them; `_kernels`: their compiled loops;
- `_casecontrol`: the case-control K difference and Cuzick–Edwards;
- `_step`: the ``pattern`` step.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Public names and their modules, loaded on first use: importing one helper
#: (`_window.occupied_areas` for the study summary, `_threads.thread_count` for
#: an estimate) then does not load numba, esda and libpysal with the rest.
_LAZY = {
    "CuzickEdwards": "_casecontrol",
    "KDifference": "_casecontrol",
    "cuzick_edwards": "_casecontrol",
    "k_difference": "_casecontrol",
    "Envelope": "_kfunction",
    "GFunction": "_kfunction",
    "KFunction": "_kfunction",
    "envelope": "_kfunction",
    "g_function": "_kfunction",
    "k_function": "_kfunction",
    "AverageNearestNeighbour": "_nearest_neighbour",
    "ClarkEvans": "_nearest_neighbour",
    "average_nearest_neighbour": "_nearest_neighbour",
    "clark_evans": "_nearest_neighbour",
    "StudyWindow": "_window",
    "make_window": "_window",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


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
