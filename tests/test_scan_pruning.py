"""The fast scan's shortcuts change nothing: neighbour lists and maxima as plain computations.

The scan sorts neighbours with its own radix sort, looks closely only at the
windows that could beat a replication's best so far, and regroups
replications between chunks of centres; each is checked here against a plain
computation that takes no shortcut.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from geo_stunting.scan import _kernels, _small
from geo_stunting.scan._bernoulli import scan_bernoulli_xy
from geo_stunting.scan._neighbours import (
    nearest_sorted,
    nearest_sorted_small,
    radix_argsort,
    window_lists,
)


@pytest.mark.parametrize("kind", ["uniform", "grid", "clustered"])
def test_neighbour_lists_are_the_kd_tree_lists(kind: str) -> None:
    rng = np.random.default_rng(4)
    if kind == "uniform":
        xy = rng.uniform(0, 5_000, size=(700, 2))
    elif kind == "grid":  # many equal distances
        xy = np.array(np.meshgrid(np.arange(26.0), np.arange(26.0))).reshape(2, -1).T * 7.3
    else:  # two villages far apart: most distances in one distance bucket
        xy = np.vstack([rng.normal(0, 50, (400, 2)), rng.normal(80_000, 50, (300, 2))])
    k = len(xy) // 2 + 1
    idx, dist = nearest_sorted(np.ascontiguousarray(xy), 0, len(xy), k, math.inf)
    d_tree, i_tree = cKDTree(xy).query(xy, k=k)
    assert np.array_equal(dist, d_tree)  # the same distances, bit for bit
    # the same locations, up to the order within a group of equal distances
    delta = xy[idx] - xy[:, None, :]
    assert np.array_equal(np.sqrt(delta[..., 0] ** 2 + delta[..., 1] ** 2), dist)
    below = dist < dist[:, -1:]
    for row in range(0, len(xy), 37):
        assert set(idx[row][below[row]]) == set(i_tree[row][below[row]])


def test_radius_limit_marks_far_neighbours_missing() -> None:
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [10.0, 0.0]])
    idx, dist = nearest_sorted(xy, 0, 4, 3, 2.0)
    assert idx[0].tolist() == [0, 1, 2]
    assert dist[0].tolist() == [0.0, 1.0, math.inf]


def test_windows_close_after_the_last_of_equally_distant_locations() -> None:
    idx = np.array([[0, 1, 2, 3, 4]], dtype=np.int32)
    dist = np.array([[0.0, 1.0, 1.0, 2.0, 3.0]])
    starts, nbr, wsize, _ = window_lists(idx, dist, np.array([1, 1, 2, 1, 1]), 4)
    # windows of 1 and 4 subjects; the one of 5 is too large and cuts the list
    assert starts.tolist() == [0, 3]
    assert nbr.tolist() == [0, 1, 2]
    assert wsize.tolist() == [1, 0, 4]


def test_radix_sort_is_stable_on_float_bits() -> None:
    rng = np.random.default_rng(1)
    values = np.round(rng.uniform(0, 1e6, 5_000), 1) ** 2  # many equal keys
    keys = values.view(np.int64).copy()
    idx = np.arange(len(values), dtype=np.int32)
    radix_argsort(keys, idx)
    assert idx.tolist() == np.argsort(values, kind="stable").tolist()


def _brute_maxima(
    xy: np.ndarray, is_case: np.ndarray, labels: np.ndarray, max_pop: int, direction: str
) -> np.ndarray:
    """Largest ratio of each labelling over every circular window (distinct points, NumPy)."""
    n_total, c_total = len(xy), int(is_case.sum())
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    order = np.argsort(d, axis=1, kind="stable")[:, : max_pop + 1]
    ds = np.take_along_axis(d, order, axis=1)
    closes = np.ones(ds.shape, dtype=bool)
    closes[:, :-1] = ds[:, 1:] != ds[:, :-1]
    closes &= np.arange(1, ds.shape[1] + 1)[None, :] <= max_pop
    n = np.broadcast_to(np.arange(1, ds.shape[1] + 1), ds.shape)[closes]
    out = []
    for lab in labels:
        c = np.cumsum(lab[order], axis=1)[closes]
        excess = c * n_total - n * c_total
        keep = excess > 0 if direction == "high" else excess != 0
        best = 0.0
        for nn, cc in zip(n[keep], c[keep], strict=True):
            best = max(best, _kernels.llr_bernoulli(int(nn), int(cc), n_total, c_total))
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("direction", ["high", "both"])
def test_pruned_regrouped_maxima_equal_brute_force(
    direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(12)
    n = 160
    xy = rng.uniform(0, 1_000, size=(n, 2))
    is_case = rng.random(n) < np.where(xy[:, 0] < 300, 0.6, 0.3)
    # small chunks and blocks: several blocks, several chunks, every regrouping
    monkeypatch.setattr(_small, "SMALL_SCAN_SUBJECTS", 0)  # the compiled scan
    monkeypatch.setattr(_kernels, "CHUNK_ENTRIES", 4 * (n // 2 + 1))
    monkeypatch.setattr(_kernels, "MAX_BLOCK", 32)
    permutations, seed = 150, 9
    result = scan_bernoulli_xy(
        xy[:, 0], xy[:, 1], is_case, permutations=permutations, seed=seed, direction=direction
    )
    rng_labels = np.random.default_rng(seed)
    labels = np.array(
        [rng_labels.permuted(is_case.astype(np.uint8)) for _ in range(permutations)], dtype=int
    )
    expected = _brute_maxima(xy, is_case, labels, n // 2, direction)
    assert result.simulated_llr.tobytes() == expected.tobytes()


@pytest.mark.parametrize("direction", ["high", "low", "both"])
def test_observed_floor_reports_the_same_clusters(
    direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring only observed windows above the replications' floor changes no reported cluster."""
    monkeypatch.setattr(_small, "SMALL_SCAN_SUBJECTS", 0)  # the compiled scan
    rng = np.random.default_rng(21)
    runs = []
    for seed in range(4):
        xy = rng.integers(0, 40, size=(300, 2)).astype(float)  # ties and shared places
        is_case = rng.random(300) < 0.3  # no cluster: the observed is often below the floor
        runs.append((xy, is_case, seed))

    def scan_all(xy: np.ndarray, is_case: np.ndarray, seed: int) -> dict:
        result = scan_bernoulli_xy(
            xy[:, 0], xy[:, 1], is_case, permutations=99, seed=seed, direction=direction
        )
        return result.to_dict()

    pruned = [scan_all(*run) for run in runs]
    original = _kernels.best_windows

    def every_window(*args: object) -> tuple:
        th, tl = args[-2], args[-1]
        return original(*args[:-2], np.zeros_like(th), np.full_like(tl, np.iinfo(np.int64).max))

    monkeypatch.setattr(_kernels, "best_windows", every_window)
    assert [scan_all(*run) for run in runs] == pruned
    assert any(len(p["clusters"]) > 1 for p in pruned)


@pytest.mark.parametrize("kind", ["uniform", "grid", "duplicates"])
@pytest.mark.parametrize("radius", [math.inf, 60.0])
def test_the_numpy_lists_for_few_locations_are_the_compiled_lists(kind: str, radius: float) -> None:
    rng = np.random.default_rng(9)
    if kind == "uniform":
        xy = rng.uniform(0, 500, size=(300, 2))
    elif kind == "grid":  # many equal distances: ties must come in index order
        xy = np.array(np.meshgrid(np.arange(15.0), np.arange(15.0))).reshape(2, -1).T * 7.3
    else:  # homes at identical coordinates
        xy = np.repeat(rng.uniform(0, 500, size=(60, 2)), 4, axis=0)
    xy = np.ascontiguousarray(xy)
    for first, count, k in ((0, len(xy), len(xy) // 2 + 1), (17, 40, len(xy))):
        compiled = nearest_sorted(xy, first, count, k, radius)
        numpy = nearest_sorted_small(xy, first, count, k, radius)
        assert np.array_equal(compiled[0], numpy[0])
        assert np.array_equal(compiled[1], numpy[1])
        assert numpy[0].dtype == compiled[0].dtype


@pytest.mark.parametrize("direction", ["high", "low", "both"])
def test_bit_sliced_sweep_equals_brute_force(
    direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels packed 256 to four words, counts bit-sliced: the same maxima, bit for bit."""
    rng = np.random.default_rng(5)
    n = 60
    xy = rng.uniform(0, 1_000, size=(n, 2))
    is_case = rng.random(n) < np.where(xy[:, 0] < 300, 0.6, 0.3)
    monkeypatch.setattr(_kernels, "CHUNK_ENTRIES", 3 * (n // 2 + 1))  # several chunks
    monkeypatch.setattr(_kernels, "BITS_FROM_SHARE", 0.0)  # every chunk bit-sliced
    monkeypatch.setattr(_kernels, "BITS_ABOVE_LOCATIONS", 0)
    permutations, seed = 512, 3  # two blocks of 256 lanes
    result = scan_bernoulli_xy(
        xy[:, 0], xy[:, 1], is_case, permutations=permutations, seed=seed, direction=direction
    )
    rng_labels = np.random.default_rng(seed)
    labels = np.array(
        [rng_labels.permuted(is_case.astype(np.uint8)) for _ in range(permutations)], dtype=int
    )
    expected = _brute_maxima(xy, is_case, labels, n // 2, direction)
    if direction == "low":  # _brute_maxima scores both sides for any direction but "high"
        n_total, c_total = n, int(is_case.sum())
        expected = np.array([_low_maximum(xy, lab, n // 2, n_total, c_total) for lab in labels])
    assert result.simulated_llr.tobytes() == expected.tobytes()


def _low_maximum(
    xy: np.ndarray, lab: np.ndarray, max_pop: int, n_total: int, c_total: int
) -> float:
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    order = np.argsort(d, axis=1, kind="stable")[:, : max_pop + 1]
    ds = np.take_along_axis(d, order, axis=1)
    closes = np.ones(ds.shape, dtype=bool)
    closes[:, :-1] = ds[:, 1:] != ds[:, :-1]
    closes &= np.arange(1, ds.shape[1] + 1)[None, :] <= max_pop
    n = np.broadcast_to(np.arange(1, ds.shape[1] + 1), ds.shape)[closes]
    c = np.cumsum(lab[order], axis=1)[closes]
    best = 0.0
    for nn, cc in zip(n, c, strict=True):
        if cc * n_total < nn * c_total:
            best = max(best, _kernels.llr_bernoulli(int(nn), int(cc), n_total, c_total))
    return best


@pytest.mark.parametrize("direction", ["high", "both"])
def test_bit_sliced_sweep_equals_per_lane_counts(
    direction: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 2,000 subjects and 999 replications the two sweeps give the same scan."""
    rng = np.random.default_rng(8)
    xy = rng.uniform(0, 5_000, size=(2_000, 2))
    is_case = rng.random(2_000) < np.where(np.hypot(*(xy - 1_500).T) < 400, 0.6, 0.25)

    def scan() -> tuple[bytes, dict]:
        result = scan_bernoulli_xy(
            xy[:, 0], xy[:, 1], is_case, permutations=999, seed=2, direction=direction
        )
        return result.simulated_llr.tobytes(), result.to_dict()

    monkeypatch.setattr(_kernels, "BITS_ABOVE_LOCATIONS", 0)
    monkeypatch.setattr(_kernels, "BITS_FROM_SHARE", 0.0)
    bit_sliced = scan()
    monkeypatch.setattr(_kernels, "BITS_FROM_SHARE", 2.0)  # never
    assert scan() == bit_sliced
