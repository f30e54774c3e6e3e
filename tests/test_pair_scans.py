"""The fast paths of the pair scans give the same numbers as the full scan."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo_stunting.pattern._border_counts import border_counts
from geo_stunting.pattern._boundary import edge_index
from geo_stunting.pattern._kernels import WEIGHT_FLAG, _segment_distance
from geo_stunting.pattern._labelled import (
    labelled_pairs,
    pack_labels,
    packed_label_sums,
    same_label_sums,
)
from geo_stunting.pattern._pairs import breaks_from_r, close_pairs, k_estimates, nn_distances
from geo_stunting.pattern._setcov import set_covariance
from tests.pattern_fixture import fixture_subjects, fixture_window

WINDOW = fixture_window(fixture_subjects())


@pytest.mark.parametrize(
    "r",
    [np.linspace(0.0, 900.0, 101), np.r_[0.0, np.geomspace(1.0, 900.0, 40)]],
    ids=["even", "uneven"],
)
def test_border_alone_equals_border_of_the_full_scan(r: np.ndarray) -> None:
    xy = WINDOW.random_points(3000, rng=np.random.default_rng(11))
    breaks = breaks_from_r(r)
    full = k_estimates(xy, WINDOW, breaks, corrections=("border", "none"))["border"]
    alone = k_estimates(xy, WINDOW, breaks, corrections=("border",), threads=1)["border"]
    shared = k_estimates(xy, WINDOW, breaks, corrections=("border",), threads=3)["border"]
    assert np.isfinite(full[1:]).all()
    assert alone.tobytes() == full.tobytes()
    assert shared.tobytes() == full.tobytes()


def test_border_counts_two_pass_binning_equals_the_plain_loop_on_ties() -> None:
    # a 1 m lattice with duplicates: many distances fall exactly on the breaks 0, 1, 2, … m
    gx, gy = np.meshgrid(np.arange(40.0), np.arange(30.0))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    xy = np.vstack([xy, xy[::7]])
    rng = np.random.default_rng(5)
    xy = np.vstack([xy, rng.uniform(0, 30, (300, 2))])
    b = rng.uniform(-1.0, 14.0, len(xy))
    b[:50] = np.arange(50) % 12  # boundary distances on the breaks too
    breaks = breaks_from_r(np.linspace(0.0, 12.0, 13))
    cs = 1.5
    ncx, ncy = 28, 21
    cell = np.clip((xy[:, 0] / cs).astype(np.int64), 0, ncx - 1) * ncy + np.clip(
        (xy[:, 1] / cs).astype(np.int64), 0, ncy - 1
    )
    order = np.argsort(cell, kind="stable").astype(np.int64)
    start = np.searchsorted(cell[order], np.arange(ncx * ncy + 1)).astype(np.int64)
    grid = (start, 0.0, 0.0, cs, ncx, ncy, breaks, 12.0, 0, len(xy))
    # cell order and the identity: the two-pass kernel; original order: the plain loop
    sorted_xy, sorted_b = np.ascontiguousarray(xy[order]), b[order]
    identity = np.arange(len(xy), dtype=np.int64)
    fast = border_counts(sorted_xy[:, 0].copy(), sorted_xy[:, 1].copy(), sorted_b, identity, *grid)
    plain = border_counts(xy[:, 0].copy(), xy[:, 1].copy(), b, order, *grid)
    assert not np.array_equal(order, identity)
    assert fast[0].sum() > 10_000
    for part in range(2):
        assert fast[part].tobytes() == plain[part].tobytes()


@pytest.mark.parametrize("cap", [50.0, 400.0, 5000.0])
def test_boundary_distances_are_the_nearest_edge_exactly(cap: float) -> None:
    xy = WINDOW.random_points(2000, rng=np.random.default_rng(3))
    # a point on a vertex and one on an edge's midpoint: distance 0
    edges = WINDOW.edges()
    xy = np.vstack([xy, edges[0, :2], (edges[1, :2] + edges[1, 2:]) / 2])
    ours = edge_index(WINDOW).distances(xy, cap)
    everything = np.array(
        [
            min(cap, *(_segment_distance(x, y, *edge) for edge in edges))
            for x, y in xy[:200].tolist() + xy[-2:].tolist()
        ]
    )
    assert ours[:200].tobytes() == everything[:200].tobytes()
    assert ours[-2:].tolist() == [0.0, pytest.approx(0.0, abs=1e-9)]
    by_shapely = shapely.distance(WINDOW.geometry.boundary, shapely.points(xy))
    np.testing.assert_allclose(ours, np.minimum(by_shapely, cap), rtol=1e-12, atol=1e-9)


def test_translation_alone_equals_translation_of_the_full_scan() -> None:
    xy = WINDOW.random_points(2500, rng=np.random.default_rng(5))
    breaks = breaks_from_r(np.linspace(0.0, 900.0, 101))
    setcov = set_covariance(WINDOW, 900.0)
    full = k_estimates(xy, WINDOW, breaks, corrections=("isotropic", "translate"))
    alone = k_estimates(xy, WINDOW, breaks, corrections=("translate",))["translate"]
    assert setcov.table.size > 1  # the table path, not exact overlaps
    assert alone.tobytes() == full["translate"].tobytes()


def test_labelled_pairs_sum_to_the_plain_pair_list() -> None:
    xy = WINDOW.random_points(1500, rng=np.random.default_rng(8))
    r = np.linspace(0.0, 700.0, 51)
    breaks = breaks_from_r(r)
    pairs = close_pairs(xy, WINDOW, 700.0)
    cell = np.clip(np.searchsorted(breaks, pairs.d, side="right") - 1, 0, len(r) - 1)
    compact = labelled_pairs(xy, WINDOW, breaks)
    assert compact.rowptr[-1] == len(pairs.i)
    # 6 bytes a pair, 8 more only for those farther apart than i is from the boundary
    b = edge_index(WINDOW).distances(xy, 700.0 * (1 + 1e-9) + 1e-9)
    weighted = pairs.d > b[pairs.i]
    assert 0 < len(compact.w) == int(weighted.sum()) < len(pairs.i)
    assert np.all(pairs.w_iso[~weighted] == 1.0)
    assert compact.pj.nbytes + compact.cell.nbytes == 6 * len(pairs.i)
    label = np.random.default_rng(2).random(len(xy)) < 0.3
    rows, cols, same = same_label_sums(
        compact.rowptr, compact.wptr, compact.pj, compact.cell, compact.w, compact.columns, label
    )
    both = label[pairs.i] & label[pairs.j]
    np.testing.assert_allclose(same, np.bincount(cell[both], pairs.w_iso[both], len(r)), rtol=1e-12)
    first = label[pairs.i]
    np.testing.assert_allclose(
        rows, np.bincount(cell[first], pairs.w_iso[first], len(r)), rtol=1e-12
    )
    second = label[pairs.j]
    np.testing.assert_allclose(
        cols, np.bincount(cell[second], pairs.w_iso[second], len(r)), rtol=1e-12
    )
    np.testing.assert_allclose(compact.total, np.bincount(cell, pairs.w_iso, len(r)), rtol=1e-12)


def _float_label_sums(
    rowptr: np.ndarray,
    wptr: np.ndarray,
    pj: np.ndarray,
    cell: np.ndarray,
    w: np.ndarray,
    columns: np.ndarray,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sums as they were taken before the labels were packed (9998e35): every labelled
    row's pairs in order, each weight times the second point's 0.0/1.0 label."""
    nbin = columns.shape[1]
    batch = labels.shape[1]
    rows, cols, same = np.zeros((batch, nbin)), np.zeros((batch, nbin)), np.zeros((batch, nbin))
    weights = np.ones(len(pj))
    weights[(cell & WEIGHT_FLAG) > 0] = w
    bins = (cell & (WEIGHT_FLAG - 1)).astype(np.int64)
    for i in range(len(rowptr) - 1):
        active = np.flatnonzero(labels[i])
        for b in active:
            cols[b] += columns[i]
        for p in range(rowptr[i], rowptr[i + 1]):
            for b in active:
                rows[b, bins[p]] += weights[p]
                same[b, bins[p]] += weights[p] * labels[pj[p], b]
    return rows, cols, same


def test_packed_relabellings_give_the_sums_of_the_float_labels_bit_for_bit() -> None:
    xy = WINDOW.random_points(400, rng=np.random.default_rng(9))
    compact = labelled_pairs(xy, WINDOW, breaks_from_r(np.linspace(0.0, 600.0, 31)))
    assert len(compact.w) > 0  # flagged (non-unit) weights take part
    labels = np.random.default_rng(4).random((64, len(xy))) < 0.25
    args = (compact.rowptr, compact.wptr, compact.pj, compact.cell, compact.w, compact.columns)
    packed = packed_label_sums(*args, pack_labels(labels), 64)
    plain = _float_label_sums(*args, labels.T.astype(float))
    for part in range(3):
        assert packed[part].tobytes() == plain[part].tobytes()
    for b in (0, 37, 63):  # a batch of one gives the same numbers
        alone = same_label_sums(*args, labels[b])
        for part in range(3):
            assert alone[part].tobytes() == packed[part][b].tobytes()
    part_batch = packed_label_sums(*args, pack_labels(labels[:5]), 5)
    assert part_batch[2].tobytes() == packed[2][:5].tobytes()


def test_pack_labels_refuses_more_than_a_word() -> None:
    with pytest.raises(ValueError, match="at most 64 labellings a word, got 65"):
        pack_labels(np.zeros((65, 3), dtype=bool))


@pytest.mark.parametrize("layout", ["window", "clusters", "lattice"])
def test_nearest_distances_equal_brute_force_to_the_bit(layout: str) -> None:
    rng = np.random.default_rng(17)
    if layout == "window":
        xy = WINDOW.random_points(1500, rng=rng)
    elif layout == "clusters":  # two tight clusters far apart and a lone point: many empty rings
        xy = np.vstack(
            [rng.normal(0, 5, (700, 2)), rng.normal(5000, 5, (700, 2)), [[2500.0, 9000.0]]]
        )
    else:  # on the grid's cell edges, with shared locations
        gx, gy = np.meshgrid(np.arange(0.0, 300.0, 10.0), np.arange(0.0, 200.0, 10.0))
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        xy = np.vstack([xy, xy[::9]])
    ours = nn_distances(xy)
    d2 = (xy[:, None, 0] - xy[None, :, 0]) ** 2 + (xy[:, None, 1] - xy[None, :, 1]) ** 2
    np.fill_diagonal(d2, np.inf)
    assert ours.tobytes() == np.sqrt(d2.min(axis=1)).tobytes()
