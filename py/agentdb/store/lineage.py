"""Lineage: derive() makes a child store (a snapshot, a filter, a merge of several stores or a
transform of the rows) recorded as descended from its parent, as the real tools' FileIdentity
does (parent_id, parent_hash, depth)."""
import array
import os
from collections import Counter

from ..errors import ArgumentError, DimensionError, IdError
from ..rvf import segments as rvf_segments
from ..rvf.hashes import toy_hash
from ..rvf.payloads import Identity
from . import codec, search

KINDS = ("snapshot", "filter", "merge", "transform")


def derive(db, path, kind, where, parents, transform):
    """VectorStore.derive()."""
    # imported here, not at the top: store.py imports this module (and opening.py imports store.py)
    from .opening import open as open_store
    from .store import VectorStore, new_file_id

    if kind not in KINDS:
        raise ArgumentError(f"unknown derive kind {kind!r}: expected snapshot, filter, merge or transform")
    if (where is not None) != (kind == "filter") or (transform is not None) != (kind == "transform") or \
            (bool(parents) != (kind == "merge")):
        raise ArgumentError(f"derive(kind={kind!r}) takes where= only for filter, parents= only for merge, "
                            f"transform= only for transform")
    sources = [db] + list(parents)
    for other in parents:
        if other.dim != db.dim or other.metric != db.metric:
            raise DimensionError(f"cannot merge a {other.dim}-d {other.metric} store into a {db.dim}-d "
                                 f"{db.metric} one")
    ids, rows, metadata = [], array.array("f"), []
    with db._lock:
        for src in sources:
            allowed = search.allowed(src, where)[0] if kind == "filter" else src._live
            picked = src.kernel.bitmap_rows(allowed, src._n_rows)
            ids.extend(src._ids.id_of_row[r] for r in picked)
            metadata.extend(src._meta.copy_of(r) for r in picked)
            rows.extend(src._stored_rows(picked))
        parent_bytes = codec.to_bytes(db)
    if len(set(ids)) != len(ids):
        clash = sorted((i for i, n in Counter(ids).items() if n > 1), key=str)[:5]
        raise IdError(f"merge: ids present in more than one store: {clash}")
    if kind == "transform":
        rows = array.array("f", transform(rows))
    options = {k: v for k, v in codec.options(db).items() if k not in ("metric", "id_kind", "frozen")}
    child = VectorStore(dim=db.dim, metric=db.metric, kernel=db.kernel, signing_key=db._signing_key, **options)
    child.identity = Identity(file_id=new_file_id(), parent_id=db.identity.file_id,
                              parent_hash=toy_hash(parent_bytes[-rvf_segments.TAIL_SCAN:]),
                              depth=db.identity.depth + 1)
    # stored rows are already unit length for cosine; a transform's output is not
    child._ingest(ids, rows, metadata, normalize=db._metric.normalized and kind == "transform")
    if path is None:
        return child
    path = os.fspath(path)
    with open(path, "xb") as fh:
        fh.write(codec.to_bytes(child))
    return open_store(path, signing_key=db._signing_key)
