"""Neighbours of areas: queen or rook contiguity, or k nearest centroids, with islands reported.

* **queen**: polygons sharing at least one boundary point (libpysal's
  vertex-based contiguity; the same list as spdep's ``poly2nb(queen = TRUE)``).
* **rook**: polygons sharing at least two boundary points (spdep's
  ``poly2nb(queen = FALSE)`` rule: a shared edge, not only a corner).
* **knn:K**: the K nearest polygons by centroid (libpysal), symmetrised.

Indonesia's archipelago makes islands common: an area with no contiguous
neighbour (Kepulauan Seribu, a river-island village) has no spatial lag. By
default each island is joined to its nearest area (``island_knn = 1``, both
ways) and listed, and so are the connected components, because Moran's I on
several disconnected groups mixes within-group and between-group contrasts.

A libpysal ``Graph`` or ``W`` built elsewhere is accepted as is (as binary
weights) via `weights_from_graph`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from libpysal.graph import Graph
from libpysal.weights import W
from scipy import sparse
from scipy.sparse import csgraph

from geo_stunting.areas._spec import parse_area_weights
from geo_stunting.errors import AnalysisError, Problem

__all__ = ["AreaWeights", "area_weights", "weights_from_graph"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AreaWeights:
    """Binary neighbour matrix of areas, and what is unusual about it.

    Attributes
    ----------
    matrix
        Binary, symmetric CSR matrix (areas × areas), no self links.
    rule
        How it was built, in words.
    ids
        Area codes in matrix order.
    islands
        Areas without a contiguous neighbour (before any joining).
    joined_islands
        Islands joined to their nearest area(s) by centroid.
    n_components
        Connected groups of areas (1: every area reachable from every other).
    components
        For each area, the number of its group.
    """

    matrix: sparse.csr_matrix
    rule: str
    ids: tuple[str, ...]
    islands: tuple[str, ...]
    joined_islands: tuple[str, ...]
    n_components: int
    components: np.ndarray

    @property
    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each area."""
        return np.diff(self.matrix.indptr)

    @property
    def isolates(self) -> tuple[str, ...]:
        """Areas left without any neighbour (no lag, no LISA)."""
        return tuple(np.asarray(self.ids, dtype=object)[self.cardinalities == 0])

    def to_dict(self) -> dict[str, Any]:
        """Summary for ``results.json``."""
        cards = self.cardinalities
        sizes = np.bincount(self.components)
        return {
            "rule": self.rule,
            "n_areas": len(self.ids),
            "n_links": int(self.matrix.nnz // 2),
            "min_neighbours": int(cards.min()) if len(cards) else 0,
            "mean_neighbours": float(cards.mean()) if len(cards) else 0.0,
            "max_neighbours": int(cards.max()) if len(cards) else 0,
            "islands": list(self.islands),
            "joined_islands": list(self.joined_islands),
            "isolates": list(self.isolates),
            "n_components": self.n_components,
            "component_sizes": sorted((int(s) for s in sizes), reverse=True),
        }


def _finish(
    matrix: sparse.spmatrix, rule: str, ids: list[str], islands: list[str], joined: list[str]
) -> AreaWeights:
    binary = sparse.csr_matrix(matrix, dtype=float)
    binary.eliminate_zeros()
    binary = ((binary + binary.T) > 0).astype(float).tocsr()
    binary = sparse.csr_matrix(binary - sparse.diags(binary.diagonal()))
    binary.eliminate_zeros()
    binary.sort_indices()
    n_comp, labels = csgraph.connected_components(binary, directed=False)
    if n_comp > 1:
        log.warning("the %d areas form %d disconnected groups (%s)", len(ids), n_comp, rule)
    return AreaWeights(
        matrix=binary,
        rule=rule,
        ids=tuple(ids),
        islands=tuple(islands),
        joined_islands=tuple(joined),
        n_components=int(n_comp),
        components=labels,
    )


def _knn(xy: np.ndarray, k: int, rows: np.ndarray | None = None) -> sparse.csr_matrix:
    from scipy.spatial import KDTree  # noqa: PLC0415

    n = len(xy)
    k = min(k, n - 1)
    rows = np.arange(n) if rows is None else rows
    _, found = KDTree(xy).query(xy[rows], k=k + 1)
    found = np.asarray(found).reshape(len(rows), k + 1)
    pairs = [(int(i), int(j)) for i, js in zip(rows, found, strict=True) for j in js if j != i]
    pairs = pairs[: len(rows) * k] if len(pairs) > len(rows) * k else pairs
    if not pairs:
        return sparse.csr_matrix((n, n))
    a, b = np.array(pairs).T
    return sparse.csr_matrix((np.ones(len(a)), (a, b)), shape=(n, n))


def _shared_vertices(geoms: np.ndarray, queen: sparse.csr_matrix) -> sparse.csr_matrix:
    """Keep the queen links whose polygons share at least two boundary points (rook)."""
    vertices = [{tuple(p) for p in np.round(shapely.get_coordinates(g), 9)} for g in geoms]
    coo = sparse.triu(queen, k=1).tocoo()
    keep = np.array(
        [len(vertices[i] & vertices[j]) >= 2 for i, j in zip(coo.row, coo.col, strict=True)],
        dtype=bool,
    )
    n = queen.shape[0]
    return sparse.csr_matrix(
        (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=(n, n)
    )


def area_weights(
    areas: gpd.GeoDataFrame,
    *,
    rule: str = "queen",
    island_knn: int = 1,
    id_column: str = "area_code",
) -> AreaWeights:
    """Neighbours of areas by contiguity or nearest centroids.

    Parameters
    ----------
    areas
        Polygons (projected CRS for knn), not changed.
    rule
        ``"queen"``, ``"rook"`` or ``"knn:K"``.
    island_knn
        Join each area without a contiguous neighbour to this many nearest
        areas (by centroid, both ways); 0 leaves islands isolated.
    id_column
        Column naming the areas in messages (the row number when absent).

    Returns
    -------
    AreaWeights
        The binary symmetric matrix, islands and connected components.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grid = gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(1, 1, 2, 2),
    ...                                   box(5, 5, 6, 6)], crs=3857)
    >>> w = area_weights(grid, rule="rook")  # 0 and 2 touch at a corner only; 3 joins 2
    >>> w.cardinalities.tolist(), w.islands, w.n_components
    ([1, 2, 2, 1], ('3',), 1)
    """
    kind, k = parse_area_weights(rule, where="rule")
    n = len(areas)
    if n < 2:
        raise AnalysisError(Problem(f"neighbours need at least 2 areas, got {n}"))
    ids = [str(v) for v in areas[id_column]] if id_column in areas else [str(i) for i in range(n)]
    geoms = np.asarray(areas.geometry.array, dtype=object)
    centroids = shapely.centroid(shapely.make_valid(geoms))
    xy = shapely.get_coordinates(centroids)
    if kind == "knn":
        if k >= n:
            raise AnalysisError(
                Problem(
                    f'weights = "knn:{k}" asks for {k} neighbours but there are only {n} areas',
                    column="[areas] weights",
                    fix=f'use fewer neighbours, e.g. "knn:{max(1, min(4, n - 1))}"',
                )
            )
        return _finish(_knn(xy, k), f"{k} nearest areas by centroid, symmetrised", ids, [], [])
    frame = gpd.GeoDataFrame(geometry=list(geoms), crs=areas.crs)
    graph = Graph.build_contiguity(frame, rook=False, strict=False)
    matrix = sparse.csr_matrix(graph.sparse, dtype=float)
    matrix = sparse.csr_matrix(matrix - sparse.diags(matrix.diagonal()))
    matrix.eliminate_zeros()
    if kind == "rook":
        matrix = _shared_vertices(geoms, matrix)
        matrix = matrix + matrix.T
    words = {
        "queen": "queen contiguity (a shared boundary point)",
        "rook": "rook contiguity (a shared edge)",
    }[kind]
    cards = np.diff(sparse.csr_matrix(matrix + matrix.T).indptr)
    island_pos = np.flatnonzero(cards == 0)
    islands = [ids[i] for i in island_pos]
    joined: list[str] = []
    if len(island_pos) and island_knn > 0:
        matrix = matrix + _knn(xy, island_knn, island_pos)
        joined = islands
        words += f"; {len(islands)} island(s) joined to their {island_knn} nearest area(s)"
        log.info("areas without a contiguous neighbour joined to the nearest: %s", islands)
    elif len(island_pos):
        words += f"; {len(islands)} island(s) left without neighbours"
    return _finish(matrix, words, ids, islands, joined)


def weights_from_graph(graph: Graph | W, *, ids: list[str] | None = None) -> AreaWeights:
    """Use a libpysal ``Graph`` or ``W`` built elsewhere (as binary weights; never changed).

    Parameters
    ----------
    graph
        Neighbours in the order of the areas.
    ids
        Area names for messages (the graph's ids when ``None``).
    """
    if isinstance(graph, Graph):
        matrix = sparse.csr_matrix(graph.sparse, dtype=float, copy=True)
        names = [str(v) for v in graph.unique_ids]
    elif isinstance(graph, W):
        matrix = sparse.csr_matrix(graph.sparse, dtype=float, copy=True)
        names = [str(v) for v in graph.id_order]
    else:
        raise AnalysisError(
            Problem(
                f"weights must be a libpysal Graph or W, got {type(graph).__name__}",
                fix='build them with area_weights(areas, rule="queen")',
            )
        )
    matrix = sparse.csr_matrix(matrix - sparse.diags(matrix.diagonal()))
    matrix.eliminate_zeros()
    matrix.data[:] = 1.0
    cards = np.diff(sparse.csr_matrix(matrix + matrix.T).indptr)
    if ids is not None and len(ids) != matrix.shape[0]:
        raise AnalysisError(
            Problem(
                f"the weights are for {matrix.shape[0]} areas, the data have {len(ids)}",
                fix="build the graph on the same areas, in the same order",
            )
        )
    names = ids if ids is not None else names
    islands = [names[i] for i in np.flatnonzero(cards == 0)]
    kind = "libpysal Graph" if isinstance(graph, Graph) else "libpysal W"
    return _finish(matrix, f"{kind} given by the caller (binary)", names, islands, [])
