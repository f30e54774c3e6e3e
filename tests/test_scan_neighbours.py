"""The one-pass window lists are the sorted neighbour rows cut by `window_lists`, bit for bit.

`window_chunks` sorts only the locations up to the population cut and writes
the windows directly; the reference here is the full sort (`nearest_sorted`,
itself checked against scipy's k-d tree in test_scan_pruning) cut by
`window_lists`. A whole scan through either path gives the same clusters,
ratios, p-values and replicate maxima.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo_stunting.scan import _kernels
from geo_stunting.scan._bernoulli import scan_bernoulli_xy
from geo_stunting.scan._neighbours import (
    _blocks,
    _reach,
    nearest_sorted,
    spatial_order,
    window_chunks,
    window_lists,
)


def _reference(
    xy: np.ndarray, pop: np.ndarray, max_pop: int, radius: float, per_chunk: int
) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    k = min(len(xy), max_pop + 1)
    out = []
    for first in range(0, len(xy), per_chunk):
        count = min(per_chunk, len(xy) - first)
        idx, dist = nearest_sorted(xy, first, count, k, radius)
        out.append((first, *window_lists(idx, dist, pop, max_pop)))
    return out


def _assert_same_lists(xy: np.ndarray, pop: np.ndarray, max_pop: int, radius: float) -> int:
    xy = np.ascontiguousarray(xy, dtype=float)
    pop = np.asarray(pop, dtype=np.int64)
    per_chunk = 37  # several chunks, the last one short
    expected = _reference(xy, pop, max_pop, radius, per_chunk)
    found = 0
    for want, got in zip(expected, window_chunks(xy, pop, max_pop, radius, per_chunk), strict=True):
        assert want[0] == got[0]
        for a, b in zip(want[1:], got[1:], strict=True):
            assert a.dtype == b.dtype
            assert np.array_equal(a, b)
        found += len(got[2])
    return found


STUDIES = {
    "uniform": lambda rng: (rng.uniform(0, 5_000, (600, 2)), np.ones(600)),
    # in Z order, as the scan passes them: blocks of 64 are compact and far ones are skipped
    "uniform in Z order": lambda rng: (
        (xy := rng.uniform(0, 5_000, (1_500, 2)))[spatial_order(xy)],
        np.ones(1_500),
    ),
    # many equal distances: groups of locations that close one window together
    "grid": lambda rng: (
        np.array(np.meshgrid(np.arange(24.0), np.arange(24.0))).reshape(2, -1).T * 7.3,
        np.ones(576),
    ),
    "several subjects a location": lambda rng: (
        rng.uniform(0, 5_000, (500, 2)),
        rng.integers(1, 6, 500),
    ),
    "grid, several subjects": lambda rng: (
        np.array(np.meshgrid(np.arange(20.0), np.arange(20.0))).reshape(2, -1).T * 7.3,
        rng.integers(1, 4, 400),
    ),
    # three villages, one far away and one on a 1 m lattice: most distances in few buckets
    "villages": lambda rng: (
        np.vstack(
            [
                rng.normal(0, 50, (300, 2)),
                rng.normal(80_000, 50, (200, 2)),
                np.round(rng.normal(3_000, 30, (200, 2))),
            ]
        ),
        rng.integers(1, 3, 700),
    ),
    # a ring of homes 1 km from one centre: distances equal up to the last bits,
    # so hundreds share a fine bucket and the radix sort orders them
    "ring": lambda rng: (
        np.vstack(
            [
                [[0.0, 0.0]],
                1_000 * np.c_[np.cos(a := rng.uniform(0, 2 * np.pi, 300)), np.sin(a)],
                rng.uniform(-3_000, 3_000, (100, 2)),
            ]
        ),
        np.ones(401),
    ),
}


@pytest.mark.parametrize("study", list(STUDIES))
@pytest.mark.parametrize("share", [0.005, 0.5, 2.0])
@pytest.mark.parametrize("radius", [math.inf, 36.5])
def test_window_chunks_are_the_sorted_rows_cut_into_windows(
    study: str, share: float, radius: float
) -> None:
    xy, pop = STUDIES[study](np.random.default_rng(11))
    max_pop = max(1, int(share * pop.sum()))
    assert _assert_same_lists(xy, pop, max_pop, radius) > 0


def test_blocks_beyond_the_population_cut_are_skipped() -> None:
    xy, pop = STUDIES["uniform in Z order"](np.random.default_rng(11))
    xy = np.ascontiguousarray(xy)
    boxes, block_pop = _blocks(xy, pop.astype(np.int64))
    near, far = np.empty(len(boxes)), np.empty(len(boxes))
    skipped = []
    for c in range(0, len(xy), 50):
        reach = _reach(xy[c, 0], xy[c, 1], boxes, block_pop, 150, math.inf, near, far)
        d2 = ((xy - xy[c]) ** 2).sum(axis=1)
        assert (d2 <= reach).sum() > 150  # the bound holds more than the largest window
        skipped.append((near > reach).mean())
    assert np.mean(skipped) > 0.3  # 40 % of the 24 blocks are never visited at 10 %


def test_a_radius_on_a_lattice_distance_cuts_as_the_full_sort() -> None:
    grid = np.array(np.meshgrid(np.arange(15.0), np.arange(15.0))).reshape(2, -1).T * 7.3
    for radius in (7.3, 7.3 * 5, float(np.hypot(7.3 * 3, 7.3 * 4)), 0.0):
        _assert_same_lists(grid, np.ones(225), 150, radius)


def test_one_location_larger_than_the_limit_has_no_window() -> None:
    # (0, 0) holds 5 subjects; (3, 4) sees (0, 0) and (6, 8) both at 5 m
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    chunks = list(window_chunks(xy, np.array([5, 1, 1]), 2, math.inf, 10))
    starts, nbr, wsize = chunks[0][1], chunks[0][2], chunks[0][3]
    # centre 0: 5 > 2 subjects, no window; centre 1: itself, then the tie at 5 m
    # brings 6 subjects; centre 2: itself, then (3, 4) at 5 m (2 subjects)
    assert starts.tolist() == [0, 0, 1, 3]
    assert nbr.tolist() == [1, 2, 1]
    assert wsize.tolist() == [1, 1, 2]


@pytest.mark.parametrize(
    ("kind", "radius"),
    [("ties", None), ("several subjects a location", None), ("ties", 30.0), ("uniform", 250.0)],
)
def test_a_scan_through_the_one_pass_lists_is_the_same_scan(
    kind: str, radius: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    if kind == "ties":  # homes on a 10 m lattice, several to a node
        xy = np.round(rng.uniform(0, 400, (900, 2)) / 10) * 10
    elif kind == "several subjects a location":
        xy = np.repeat(rng.uniform(0, 2_000, (300, 2)), rng.integers(1, 5, 300), axis=0)
    else:
        xy = rng.uniform(0, 2_000, (800, 2))
    is_case = rng.random(len(xy)) < np.where(xy[:, 0] < 120, 0.6, 0.3)

    def scan() -> tuple[dict[str, object], bytes]:
        result = scan_bernoulli_xy(
            xy[:, 0], xy[:, 1], is_case, max_radius_m=radius, permutations=199, seed=8,
            direction="both",
        )  # fmt: skip
        return result.to_dict(), result.simulated_llr.tobytes()

    before = scan()  # few locations: the NumPy sort, cut by window_lists
    monkeypatch.setattr(_kernels, "SMALL_LOCATIONS", 0)
    after = scan()  # the one-pass lists
    assert after == before
    assert len(before[0]["clusters"]) > 1  # type: ignore[arg-type]
