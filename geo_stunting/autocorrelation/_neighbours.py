"""Who is whose neighbour: k nearest (with ties) and distance bands.

One rule for every statistic that uses neighbours (Cuzick–Edwards, Moran's
I, join counts, LISA, Gi*):

* **k nearest neighbours, ties included.** A subject's neighbours are the k
  other subjects nearest to it *plus every other subject exactly as far as
  the k-th*. Subjects who share a location (twins, one household) are at
  distance 0, so they are each other's nearest neighbours; when more than k
  share a spot, or several are tied at the k-th distance, all of them are
  neighbours. A subject can therefore have more than k neighbours, and the
  result never depends on the order of the rows (libpysal's and spdep's KNN
  break such ties by row order).
* **Distance band.** Every other subject within D metres, distance 0
  included (a subject at the same location is a neighbour). Subjects with
  no neighbour are *isolates*; they are reported, and their spatial lag is 0.

"Exactly as far" allows a rounding slack of 1e-9 m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

__all__ = ["Neighbours", "distance_band", "k_nearest"]

TIE_SLACK_M = 1e-9


@dataclass(frozen=True)
class Neighbours:
    """A neighbour list as a sparse 0/1 matrix (row i: the neighbours of i).

    Attributes
    ----------
    matrix
        ``(n, n)`` CSR matrix of 0/1, no self-neighbours, rows sorted.
    rule
        ``"knn:K"`` or ``"distance:D"``.
    """

    matrix: sparse.csr_matrix
    rule: str

    @property
    def n(self) -> int:
        """Number of subjects."""
        return int(self.matrix.shape[0])

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each subject."""
        return np.diff(self.matrix.indptr)

    @property
    def isolates(self) -> np.ndarray:
        """Positions of subjects without neighbours."""
        return np.flatnonzero(self.cardinalities == 0)

    def lists(self) -> list[list[int]]:
        """The neighbours of each subject as lists of positions."""
        m = self.matrix
        return [m.indices[m.indptr[i] : m.indptr[i + 1]].tolist() for i in range(self.n)]


def _matrix(rows: np.ndarray, cols: np.ndarray, n: int) -> sparse.csr_matrix:
    m = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    m.data[:] = 1.0
    return m


def k_nearest(xy: np.ndarray, k: int) -> Neighbours:
    """The k nearest other subjects of each subject, ties at the k-th distance included.

    Parameters
    ----------
    xy
        ``(n, 2)`` projected coordinates (metres).
    k
        Number of neighbours, 1 ≤ k < n.

    Returns
    -------
    Neighbours
        The neighbour matrix; rows may have more than k entries (ties).
    """
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    if not 1 <= k < n:
        msg = f"k must be between 1 and n - 1 = {n - 1}, got {k}"
        raise ValueError(msg)
    tree = cKDTree(xy)
    dist, _ = tree.query(xy, k=k + 1)
    # dist[:, k] is the k-th distance to *another* subject, whichever column is self
    kth = dist[:, k] + TIE_SLACK_M
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    found = tree.query_ball_point(xy, kth, return_sorted=True)
    for i, hits in enumerate(found):
        others = np.asarray([j for j in hits if j != i], dtype=np.int64)
        rows.append(np.full(len(others), i, dtype=np.int64))
        cols.append(others)
    return Neighbours(_matrix(np.concatenate(rows), np.concatenate(cols), n), f"knn:{k}")


def distance_band(xy: np.ndarray, distance_m: float) -> Neighbours:
    """Every other subject within `distance_m` metres (distance 0 included).

    Parameters
    ----------
    xy
        ``(n, 2)`` projected coordinates (metres).
    distance_m
        The band's radius.

    Returns
    -------
    Neighbours
        The neighbour matrix (symmetric); rows of isolates are empty.
    """
    xy = np.asarray(xy, dtype=float)
    n = len(xy)
    pairs = cKDTree(xy).query_pairs(distance_m + TIE_SLACK_M, output_type="ndarray")
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(np.int64)
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]]).astype(np.int64)
    return Neighbours(_matrix(rows, cols, n), f"distance:{distance_m:g}")
