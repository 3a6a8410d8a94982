"""Opening a store: agentdb.open() (in memory, or an .rvf file created if missing),
open_bytes() (.rvf bytes) and open_log() (commits handed to a host: the browser worker's
IndexedDB). Reopening checks the given dim, metric and embedder against what the file records."""
import builtins
import os

from .. import metrics, rvf
from ..embed import identity_of
from ..errors import DimensionError, EmbedderMismatchError, OptionError
from ..kernel import load
from ..persist import BufferLog, FileLog
from ..persist.files import release_lock, take_lock
from . import adapters, codec
from .options import resolve
from .store import VectorStore


def _embedder_option(options, stored, given, force, where):
    """The store keeps the embedder it was built with; another one is refused unless forced."""
    if given is None:
        return
    given = identity_of(given)
    if stored and given != stored and not force:
        raise EmbedderMismatchError(f"{where} was built with embedder {stored} but {given} was given; vectors "
                                    f"from different embedders do not compare (force=True to switch anyway)")
    options["embedder"] = given


def open_bytes(data, *, kernel=None, embedder=None, force=False, **overrides):
    """A store from .rvf bytes: ours (rows with their tombstones, metadata, string ids, options
    and the HNSW graph restored) or the real tools' (integer ids, no metadata; the graph is
    built). overrides replace stored options (e.g. ef_search). Rows are taken as stored (a
    cosine store's rows are already unit length), so a round trip answers with the same bits."""
    return _open_contents(data, kernel=kernel, embedder=embedder, force=force, **overrides)[0]


def _open_contents(data, *, kernel=None, embedder=None, force=False, graph_saved_when_idle=False, **overrides):
    """open_bytes() from bytes or an agentdb.rvf.source, and the RvfContents it was made from
    (graph_saved_when_idle: see codec.load)."""
    kernel = kernel if kernel is not None else load()
    contents = rvf.read(kernel, data, rows_in_kernel=True)
    options = dict(contents.options) or {"metric": contents.metric}
    options.pop("id_kind", None)        # a file created empty does not know it yet: records do
    options.setdefault("profile", contents.profile)       # the real tools keep it in the manifest only
    resolve(contents.dim, options, source="the .rvf")     # a file is untrusted: CorruptFileError
    options.update(overrides)
    _embedder_option(options, contents.options.get("embedder"), embedder, force, "the .rvf")
    db = VectorStore(dim=contents.dim, kernel=kernel, **options)
    db.identity = contents.identity
    codec.load(db, contents, own=bool(contents.options), graph_saved_when_idle=graph_saved_when_idle)
    db._containers = dict(contents.containers)
    adapters.load(db, contents.adapters)
    if contents.graph:
        from ..graph.persist import load as load_graph      # the graph layer sits above the store

        load_graph(db, contents.graph)
    return db, contents


def check_reopen(db, where, dim, metric):
    if dim is not None and dim != db.dim:
        raise DimensionError(f"{where} holds {db.dim}-dimensional vectors, dim={dim} was given")
    if metric is not None and metrics.get(metric).name != db.metric:
        raise OptionError(f"{where} was created with metric {db.metric!r}, metric={metric!r} was given")


def open_log(data=None, *, dim=None, metric=None, kernel=None, embedder=None, force=False, imported=False,
             **options):
    """A store whose commits are handed to a host (the browser worker stores them in IndexedDB):
    from the stored bytes when there are any, else new (dim needed). take_commits() gives the
    bytes each commit added, in the .rvf layout, so the stored chunks concatenated are always
    a valid .rvf file (what exportRvf downloads). imported: data is an .rvf file to be stored
    from now on, handed over whole by the first take_commits() (one commit for the host)."""
    if data:
        db, contents = _open_contents(data, kernel=kernel, embedder=embedder, force=force,
                                      graph_saved_when_idle=not imported, **options)
        check_reopen(db, "the stored store", dim, metric)
        db._log = BufferLog.resume(db.kernel, bytes(data), contents, signing_key=db._signing_key,
                                   store_whole=imported)
        return db
    if dim is None:
        raise DimensionError("a new store needs dim=")
    db = VectorStore(dim=dim, metric=metric or "cosine", kernel=kernel, embedder=embedder, **options)
    db._log = BufferLog.create(db.kernel, dim=dim, metric=db.metric, options=codec.options(db),
                               identity=db.identity, signing_key=db._signing_key, profile=db.profile)
    return db


def open(path=None, *, dim=None, metric=None, compression="none", index="hnsw", readonly=False, embedder=None,
         force=False, **options):
    """Opens a store: in memory (path=None) or an .rvf file, created if missing.

    A file keeps every committed write (see agentdb.persist.files); reopening restores vectors,
    metadata, string ids and options, and answers as before. readonly=True takes no lock, so
    any number of readers may open a file while one writer appends to it. For an existing file
    dim and metric may be omitted; given, they must match it.

    options: signing_key (a 32-byte Ed25519 private key: every commit's seal is signed with it;
    verify(public_key=...) checks; the key itself is never stored), m (16), ef_construction
    (200), ef_search (64), seed (0), brute_force_rows (2000: at or
    below this many candidate rows a query scans exactly), embedder (the embedder, or its identity,
    that makes this store's vectors: recorded in the file and status(); reopening with another one
    raises EmbedderMismatchError unless force=True), keep_vectors (True; False with
    compression and index='flat' keeps only codes), pq_m (PQ subspaces, default dim / 8),
    kernel (agentdb.kernel.load()).
    """
    if path is None:
        if dim is None:
            raise DimensionError("an in-memory store needs dim=")
        return VectorStore(dim=dim, metric=metric or "cosine", compression=compression, index=index,
                           embedder=embedder, **options)
    path = os.fspath(path)
    # an empty file holds no commit (older versions could leave one when killed mid-create):
    # a writer creates over it
    if os.path.exists(path) and (readonly or os.path.getsize(path) > 0):
        kernel = options.pop("kernel", None)
        lock = None if readonly else take_lock(path)      # before reading: no commit lands in between
        try:
            with builtins.open(path, "rb", buffering=0) as fh:      # read piece by piece, never whole
                source = rvf.FileSource(fh)
                db, contents = _open_contents(source, kernel=kernel, embedder=embedder, force=force, **options)
                check_reopen(db, path, dim, metric)
                db.path, db.readonly = path, readonly
                if lock is not None and not db.frozen:      # a frozen file is never written again
                    held, lock = lock, None                 # the log owns it now (and frees it if it fails)
                    db._log = FileLog.resume(db.kernel, path, held, source, contents, signing_key=db._signing_key)
        finally:
            if lock is not None:
                release_lock(lock)
        return db
    if readonly:
        raise FileNotFoundError(f"{path} does not exist (readonly=True never creates a file)")
    if dim is None:
        raise DimensionError(f"creating {path} needs dim=")
    db = VectorStore(dim=dim, metric=metric or "cosine", compression=compression, index=index, embedder=embedder,
                     **options)
    db.path = path
    db._log = FileLog.create(db.kernel, path, dim=dim, metric=db.metric, options=codec.options(db),
                             identity=db.identity, signing_key=db._signing_key, profile=db.profile)
    return db
