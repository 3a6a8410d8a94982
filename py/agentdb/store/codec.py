"""The store <-> .rvf codec: to_bytes() writes a store's state as one .rvf byte string, load()
fills an empty store from a file's contents (rvf.read), and options() is the options record
(META kind 2) a file needs to reopen the store as it is."""
import array
import struct
import warnings

from .. import rvf
from ..errors import RecoveryWarning
from ..rvf import meta as rvf_meta
from ..rvf import segments as rvf_segments
from . import adapters
from .bitmaps import set_bit, set_bits


def options(db):
    """What a file needs to reopen this store as it is (META kind 2)."""
    return {"metric": db.metric, "index": db.index_kind, "compression": db.compression,
            "keep_vectors": db.keep_vectors, "pq_m": db._pq_m, "ef_search": db.ef_search,
            "brute_force_rows": db.brute_force_rows, "id_kind": db._ids.kind, "embedder": db.embedder,
            "profile": db.profile, "frozen": db.frozen, **db._index_options}


def index_crcs(db, n):
    """Checksums tying an INDEX to the first n rows and their ids."""
    rows = db.kernel.crc32c(db._vectors.buf.head(n * db.dim)) if db.keep_vectors else 0
    return rows, db.kernel.crc32c(struct.pack(f"<{n}Q", *db._ids.label_of_row[:n]))


def index_payload(db):
    """The graph as an INDEX payload, tied to the rows it covers."""
    return db._index.export(*index_crcs(db, len(db._index)))


def rvf_bytes(db):
    """The store's .rvf: its file's bytes, or to_bytes() for a store in memory."""
    if db.path is None:
        return to_bytes(db)
    with open(db.path, "rb") as fh:
        return fh.read()


def to_bytes(db):
    """VectorStore.to_bytes(): rows in order with their tombstones, META, INDEX, QUANT, the
    stored containers and the query adapters."""
    with db._lock:
        n = db._n_rows
        if db.keep_vectors:
            rows = db._vectors.read(0, n * db.dim)
        else:  # codes only: the decoded (approximate) vectors are what the store has
            rows = db._stored_rows(range(n))
        labels = db._ids.label_of_row
        live = db.kernel.bitmap_rows(db._live, n)
        live_labels = {labels[r] for r in live}
        strings = db._ids.kind == "str"
        records = rvf_meta.encode_records([labels[r] for r in live], [db._meta.stored(r) for r in live],
                                          [db._ids.id_of_row[r] for r in live] if strings else None)
        extra = [(rvf_segments.META, rvf_meta.encode_options(options(db)))] + \
            ([(rvf_segments.META, records)] if records else [])
        if db._index is not None and db.keep_vectors and len(db._index) == n:
            extra.append((rvf_segments.INDEX, index_payload(db)))
        if db._quant is not None and db._quant.trained:
            extra.append((rvf_segments.QUANT, db._quant.export()))
        extra += [(seg_type, payload) for seg_type, (_, payload) in sorted(db._containers.items())
                  if payload is not None]
        extra += adapters.records(db)
        if db._graph is not None:           # the graph layer sits above the store: imported when used
            from ..graph.persist import segments as graph_segments
            extra += graph_segments(db)
        return rvf.write(db.kernel, dim=db.dim, metric=db.metric, ids=list(labels), rows=rows,
                         deleted=sorted(set(labels) - live_labels), identity=db.identity, extra=extra,
                         signing_key=db._signing_key, profile=db.profile)


def load(db, contents, own, graph_saved_when_idle=False):
    """Fills an empty store with a file's physical rows (see to_bytes) and its graph.
    graph_saved_when_idle: the bytes are the browser's stored commits, whose graph is saved
    only once the store is idle (BufferLog), so a reload right after a bulk write finds none
    by design: it is rebuilt without a RecoveryWarning (nothing was lost or recovered)."""
    labels, live, records = contents.entry_ids, contents.entry_live, contents.records
    with_sid = sum("sid" in r for r in records.values())
    strings = with_sid > 0
    if strings and with_sid != sum(live):
        raise rvf.CorruptFileError(f"string-id store whose META lacks the string for {sum(live) - with_sid} ids")
    ids = [(records[label]["sid"] if strings else label) if ok else (None if strings else label)
           for label, ok in zip(labels, live)]
    if records:
        metadata = [records.get(label, {}).get("meta") or None if ok else None for label, ok in zip(labels, live)]
    else:
        metadata = [None] * len(labels)
    n = len(labels)
    if n == 0:
        return
    # the rows stay where the reader put them: one KBuffer (adopted as the vectors), or one
    # chunk per VEC segment
    chunks = [contents.entry_buffer] if contents.entry_buffer is not None else \
        [memoryview(c).cast("B").cast("f") for c in contents.entry_chunks]
    for chunk in chunks:
        db.kernel.check_finite(chunk, name="stored vectors", dim=db.dim)
        if db._metric.normalized and not own:   # agentdb's rows are already unit length
            db.kernel.normalize_rows(chunk, dim=db.dim)
    rows = chunks[0] if len(chunks) == 1 else None
    if db._quant is not None:
        if rows is None:
            rows = array.array("f")
            for chunk in chunks:
                rows.frombytes(chunk.cast("B"))
        if contents.quant is not None and contents.quant["dim"] != db.dim:
            raise rvf.CorruptFileError(f"QUANT parameters are {contents.quant['dim']}-dimensional, the store "
                                       f"{db.dim}-dimensional")
        if contents.quant is not None and contents.quant["kind"] == db.compression:
            db._quant.load(contents.quant)     # the parameters it was built with: the same codes
        else:
            db._quant.train(rows)              # a file without them (older, or the real tools')
        db._quant.add(rows, n)
    if db.keep_vectors and contents.entry_buffer is not None:
        db._vectors.replace(contents.entry_buffer, n * db.dim)
    elif db.keep_vectors:
        db._vectors.reserve(n * db.dim)
        for chunk in chunks:
            db._vectors.append(chunk, len(chunk))
    db._meta.append(metadata)
    db._ids.load("str" if strings else "int", labels, ids, live)
    db._live = bytearray((n + 7) // 8)
    if all(live):
        set_bits(db._live, 0, n, True)
    else:
        for row, ok in enumerate(live):
            if ok:
                set_bit(db._live, row, True)
    db._n_rows = n
    if db._index is None:
        return
    # stacklevel 3 is the line in open(), open_bytes() or open_log() (load <- _open_contents <- open*)
    if contents.index_problem:
        warnings.warn(f"rebuilding the HNSW index: {contents.index_problem}", RecoveryWarning, stacklevel=3)
    elif contents.index is not None and db.keep_vectors:
        adopted = db._index.load(contents.index, n, lambda k: index_crcs(db, k)[0],
                                 lambda k: index_crcs(db, k)[1])
        if isinstance(adopted, str):
            warnings.warn(f"rebuilding the HNSW index: {adopted}", RecoveryWarning, stacklevel=3)
    elif own and not graph_saved_when_idle and contents.options.get("index") == "hnsw" and n > db.brute_force_rows:
        warnings.warn("rebuilding the HNSW index: the file has no INDEX segment (it was not saved before "
                      "the file was copied or the writer stopped, or a 0.2.x compaction by the real tools "
                      "dropped it)", RecoveryWarning, stacklevel=3)
    if n > len(db._index):
        db._index.add(db._vectors.buf, n - len(db._index))
