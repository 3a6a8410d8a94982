"""The hierarchical GNN forward over a store's HNSW levels (@ruvector/gnn's hierarchicalForward,
fed from a real graph): a query refined from the top level down, one GNNLayer(dim, dim) per
level, each level's rows being those the graph search meets there.

Which rows each level contributes (VectorStore.hnsw_descent, top level L first):
  level l >= 1   the node where the search's greedy descent stops on l (from the entry point,
                 moving to a closer neighbour until none is; distance ties to the lower row),
                 then that node's neighbours on l in the graph's list order
  level 0        the k nearest rows the graph's beam search (width ef, default the store's
                 ef_search) finds from the level-1 stop node, best first: what
                 db.query(query, k, ef=ef) answers from the graph
Deleted rows are walked through (as a search does) but never contribute. The walk uses the
query as the store searches it (unit length for cosine) and is fixed by the query alone, not
by the layers; the rows are fed as stored (unit rows for cosine), the query as given. The graph
is a pure function of the store's file (inserts in order, a seeded level draw), and every
distance and layer is a kernel op, so the same file gives the same bits natively, under
wasmtime and in the browser.

layers[i] (a GNNLayer or its to_json()) serves level L - i: len(layers) must be L + 1, the
store's level count (db.hnsw_levels()["max_level"] + 1).
"""

from ..errors import ArgumentError, DimensionError
from .gnn import GNNLayer, hierarchical_forward

__all__ = ["hierarchical_forward_store", "level_rows"]


def level_rows(query, store, *, k=10, ef=None):
    """The rows each level of the store's graph contributes for this query, top level first:
    [(level, ids, vectors)] with vectors the rows as stored (float32, row-major).

    >>> import agentdb
    >>> db = agentdb.open(dim=2, metric="l2"); _ = db.ingest([1, 2, 3], [[0, 0], [1, 0], [5, 5]])
    >>> [(level, ids) for level, ids, _ in level_rows([0.9, 0.1], db, k=2)]
    [(0, [2, 1])]
    """
    return [(step["level"], step["ids"], step["vectors"]) for step in store.hnsw_descent(query, k, ef=ef)]


def hierarchical_forward_store(query, store, layers, *, k=10, ef=None):
    """gnn.hierarchical_forward(query, rows of each level, layers) with the rows level_rows()
    reads from the store's HNSW graph, top level first: the refined query (dim floats,
    float32 array.array). ArgumentError for a store without an HNSW graph (or an empty one) or
    a layer count other than the store's level count; DimensionError for a query or layer
    whose dimension is not the store's.

    >>> import agentdb
    >>> db = agentdb.open(dim=2); _ = db.ingest([1, 2], [[1, 0], [0, 1]])
    >>> levels = db.hnsw_levels()["max_level"] + 1
    >>> q = hierarchical_forward_store([1.0, 0.5], db, [GNNLayer(2, 2, seed=1)] * levels, k=2)
    >>> len(q), abs(round(sum(q), 4))     # layer norm: the row sums to 0
    (2, 0.0)
    """
    layers = [GNNLayer.from_json(layer) if isinstance(layer, str) else layer for layer in layers]
    for i, layer in enumerate(layers):
        if not isinstance(layer, GNNLayer):
            raise ArgumentError(f"layers[{i}] must be a GNNLayer(dim, dim) or its JSON, got {type(layer).__name__}")
        if layer.in_dim != store.dim or layer.out_dim != store.dim:
            raise DimensionError(f"layers[{i}] maps {layer.in_dim} to {layer.out_dim} values; the store's "
                                 f"dimension is {store.dim}")
    rows = level_rows(query, store, k=k, ef=ef)
    if len(layers) != len(rows):
        raise ArgumentError(f"the store's HNSW graph has {len(rows)} levels (0..{len(rows) - 1}), "
                            f"{len(layers)} layers given: one per level, top level first")
    return hierarchical_forward(query, [vectors for _, _, vectors in rows], layers)
