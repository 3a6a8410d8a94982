"""The HNSW graph's levels as a store shows them: every level's nodes and neighbour lists
(hnsw_levels, hnsw_neighbours), and the rows a query meets on each level as a search walks
down (hnsw_descent). All of it is read from the graph arrays the store already holds in
kernel memory (agentdb.store.hnsw), so no kernel call is added; the same file gives the same
graph, hence the same answers, on every backend.

A node is a row of the store: its position in insertion order (deleted rows stay nodes until
compact(), which renumbers them); ids name the live ones (None for a deleted row).
"""
import array

from ..errors import ArgumentError
from . import inputs, search
from .options import check_ef, check_k


def _index(db):
    if db._index is None:
        raise ArgumentError("this store has no HNSW graph: it was opened with index='flat', or is closed")
    return db._index


def _ids(db, rows):
    """The id of each row, None for a deleted one."""
    live, id_of_row = db._live, db._ids.id_of_row
    return [id_of_row[r] if live[r >> 3] >> (r & 7) & 1 else None for r in rows]


def levels(db):
    """VectorStore.hnsw_levels()."""
    with db._lock:
        index = _index(db)
        entry = index.hdr.read(0, 1)[0] if len(index) else None
        return {"entry": entry, "max_level": index.max_level if len(index) else None, "m": index.m,
                "levels": [{"level": level, "nodes": nodes, "ids": _ids(db, nodes), "offsets": offsets,
                            "targets": targets}
                           for level, (nodes, offsets, targets) in enumerate(index.levels_csr())]}


def neighbours(db, node, level):
    """VectorStore.hnsw_neighbours()."""
    with db._lock:
        return _index(db).neighbours(node, level)


def descent(db, vector, k, ef):
    """VectorStore.hnsw_descent()."""
    check_k(k), check_ef(ef)
    with db._lock:
        index = _index(db)
        inputs.take_query(db, vector)
        search.prepare_query(db)            # as the graph search prepares it: checked, unit for cosine
        if not len(index):
            raise ArgumentError("the store's HNSW graph is empty: ingest rows first")
        vectors, q = db._vectors.buf, db._query_slot
        path = index.descent(vectors, q)
        allowed = db._live if len(db._ids) < db._n_rows else None
        levels = []
        for level, node in path:
            hood = [node] + index.neighbours(node, level).tolist()
            levels.append((level, node, [r for r, i in zip(hood, _ids(db, hood)) if i is not None]))
        start = path[-1][1] if path else index.hdr.read(0, 1)[0]
        # the graph search walks down the same way, then searches level 0 from `start`
        rows, _ = index.search(vectors, db._query_in, q, k, ef or db.ef_search, allowed)
        levels.append((0, start, rows))
        return [{"level": level, "node": node, "rows": rows, "ids": _ids(db, rows),
                 "vectors": db._stored_rows(array.array("I", rows)) if rows else array.array("f")}
                for level, node, rows in levels]
