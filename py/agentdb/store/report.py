"""What a store reports about itself: status() (counts, configuration, memory by part) and the
bytes compact() reclaims."""
from . import containers


def bytes_total(db):
    """The bytes of the store's vectors, graph and codes."""
    return (db._vectors.nbytes + (db._index.nbytes if db._index is not None else 0) +
            (db._quant.nbytes if db._quant is not None else 0))


def status(db):
    """VectorStore.status()."""
    with db._lock:
        live = len(db._ids)
        index = {"kind": db.index_kind}
        if db._index is not None:
            index.update(m=db._index.m, ef_construction=db._index.ef_construction, ef_search=db.ef_search,
                         seed=db._index.seed, nodes=len(db._index), max_level=db._index.max_level)
        return {
            "count": live,
            "deleted": db._n_rows - live,
            "rows": db._n_rows,
            "dim": db.dim,
            "metric": db.metric,
            "compression": db.compression,
            "keep_vectors": db.keep_vectors,
            "embedder": db.embedder,
            "id_kind": db._ids.kind,
            "index": index,
            "bytes": {"vectors": db._vectors.nbytes,
                      "codes": db._quant.nbytes if db._quant is not None else 0,
                      "graph": db._index.nbytes if db._index is not None else 0,
                      "metadata_columns": db._meta.nbytes},
            "kernel": {"backend": db.kernel.backend, "isa": db.kernel.isa},
            "signed_by": db._public_key,
            "profile": db.profile,
            "frozen": db.frozen,
            "containers": containers.sizes(db),
        }
