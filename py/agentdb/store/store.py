"""VectorStore: ids, vectors, metadata, filters, tombstones and the HNSW index, orchestrated
in Python over kernel calls. Runs unchanged in Pyodide: no numpy, no cffi here.

State, all of it a set of arrays a file format can hold: the rows (float32, unit length for
cosine), row -> id and id -> row, one dict of metadata per row plus its filter columns, a
`live` bitmap (deleted rows are tombstones until compact()), and the HNSW graph arrays.

This module is the write path (ingest, update, delete, compact, freeze, with rollback and the
log's upkeep) and the public methods; the rest delegate to one module each: search (the query
planner), codec (to_bytes, loading a file, the options record), lineage (derive), containers
(KERNEL / EBPF), inputs (vector and query checks), report (status), levels (the HNSW graph
level by level) and opening (open, open_bytes, open_log, re-exported here). It is a little over 500 lines because the write path
stays in one place: its steps share one lock, one rollback and the commit that ends them.
"""
import array
import contextlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .. import rvf
from .. import metrics
from ..embed import identity_of
from ..errors import ArgumentError, DimensionError, EmbedderMismatchError, IdError, OptionError, ReadOnlyError
from ..kernel import load
from ..persist import BufferLog
from ..persist.files import writer_active
from ..rvf import ed25519
from ..rvf import meta as rvf_meta
from ..rvf import segments as rvf_segments
from ..rvf.payloads import Identity
from . import adapters, codec, containers, inputs, levels, lineage, report, search, transactions
from .arrays import GrowableArray
from .bitmaps import set_bit, set_bits
from .hnsw import HnswIndex
from .ids import IdMap
from .metadata import MetadataColumns
from .options import resolve
from .quant import gather_into, make_quantizer


@dataclass(frozen=True)
class Record:
    """A stored vector: its id, the vector as stored (unit length for cosine) and metadata."""

    id: Any
    vector: array.array
    metadata: dict


BESIDE_BYTES = 4 << 20      # a batch from this size is copied into memory beside its file commit


def new_file_id():
    """A new store's random 16-byte file id (the one place ids are drawn: tests and the fixture
    generator replace this module's `secrets`)."""
    return secrets.token_bytes(16)


class VectorStore:
    """A vector store, in memory or backed by an .rvf file (see agentdb.open).

    >>> db = agentdb.open(dim=3)                                   # doctest: +SKIP
    >>> db.ingest([1, 2], [[1, 0, 0], [0, 1, 0]], metadata=[{"kind": "a"}, {"kind": "b"}])
    >>> db.query([1, 0.1, 0], k=1).ids
    [1]
    """

    def __init__(self, *, dim, signing_key=None, kernel=None, **options):
        """options: see agentdb.open (agentdb.store.options.DEFAULTS lists them all)."""
        o = resolve(dim, options)
        self.kernel = kernel if kernel is not None else load()
        self._metric = metrics.get(o["metric"])
        self.dim, self.metric, self.compression, self.index_kind = dim, self._metric.name, o["compression"], \
            o["index"]
        self.ef_search = o["ef_search"]
        self.brute_force_rows = o["brute_force_rows"]
        self.keep_vectors, self._pq_m = o["keep_vectors"], o["pq_m"]
        self.embedder = o["embedder"]
        if self.embedder is not None and self.embedder["dim"] != dim:
            raise DimensionError(f"embedder {self.embedder['name']!r} makes {self.embedder['dim']}-dimensional "
                                 f"vectors, the store's dimension is {dim}")
        self._index_options = {name: o[name] for name in ("m", "ef_construction", "seed")}
        if signing_key is not None and (not isinstance(signing_key, (bytes, bytearray)) or len(signing_key) != 32):
            raise OptionError("signing_key must be the 32-byte Ed25519 private key (RFC 8032 seed)")
        self._signing_key = bytes(signing_key) if signing_key is not None else None   # never stored
        self._public_key = ed25519.public_key(self._signing_key).hex() if signing_key is not None else None
        self._lock = threading.RLock()
        self.identity = Identity(file_id=new_file_id())
        self.path, self._log, self.readonly = None, None, False
        self.profile, self.frozen = o["profile"], o["frozen"]
        self._containers = {}          # rvf seg type (KERNEL, EBPF) -> payload: stored, never run
        self._adapters = {}            # name -> LoRA query adapter (store/adapters.py)
        self._adapter_ewc = {}         # name -> the EWC kept with it (continual learning)
        self._transaction = None       # set while a transaction runs (transactions.py)
        self._graph = None             # the property graph's state (agentdb.graph), None until used
        self._graph_subscribers = []   # Graph.subscribe() callbacks: kept across a rollback
        self._final_commits = []       # a BufferLog's last chunks, kept for the host after close()
        self.version = 0               # counts writes, so caches of answers know when they are stale
        # a query crosses into kernel memory once: written into _query_in, prepared (checked,
        # normalised for cosine) into _query_slot by the graph search itself or search.prepare_query
        self._query_in = self.kernel.alloc(dim, "f")
        self._query_slot = self.kernel.alloc(dim, "f")
        self._query_preparer = self.kernel.query_preparer(self._query_in, self._query_slot,
                                                          normalize=self._metric.normalized)
        self._reset()

    def _reset(self):
        k = self.kernel
        self._vectors = GrowableArray(k, "f")
        self._ids = IdMap()
        self._meta = MetadataColumns()
        self._live = bytearray()
        self._n_rows = 0
        self._filter_cache = {}        # filter JSON -> (version, bitmap, count)
        self._index = self._new_index() if self.index_kind == "hnsw" else None
        self._quant = make_quantizer(k, self.compression, self.dim, self.metric, self._pq_m)

    def _new_index(self):
        return HnswIndex(self.kernel, dim=self.dim, metric=self._metric.kernel,
                         normalize_queries=self._metric.normalized, **self._index_options)

    @property
    def _scan_metric(self):
        """The kernel scan that scores stored rows: squared L2, or the inner product (on unit
        rows for cosine). Larger is better except for L2."""
        return self._metric.scan_name

    def _stored_rows(self, rows):
        """The given rows as the store holds them, row-major (one kernel gather when the
        vectors are kept)."""
        if self.keep_vectors:
            return self.kernel.gather_rows(self._vectors.buf.head(self._n_rows * self.dim), rows,
                                           row_bytes=4 * self.dim, fmt="f")
        out = array.array("f")
        for row in rows:
            out.extend(self._quant.decode(row))
        return out

    def _stored_row(self, row):
        """One row as the store holds it: the vector, or its decoded codes when only codes are kept."""
        if self.keep_vectors:
            return self._vectors.read(row * self.dim, (row + 1) * self.dim)
        return self._quant.decode(row)

    # ---- context and container protocol -----------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Releases the store's memory and, for a file, its lock; it cannot be used afterwards.
        A file store first saves its graph (an INDEX commit) when the file's last INDEX covers
        less than 80% of the rows, so the next open does not rebuild it."""
        if self._log is not None:
            if not self.frozen:
                self._save_index_if_stale(0)
            if isinstance(self._log, BufferLog):
                self._final_commits = self._log.take()
            self._log.close()
            self._log = None
        self._vectors = self._index = None

    def take_commits(self):
        """For a store opened with open_log(): the commits made since the last call, as
        ("append", offset, bytes) or ("replace", 0, bytes) chunks for the host to store."""
        if isinstance(self._log, BufferLog):
            return self._log.take()
        final, self._final_commits = self._final_commits, []
        return final

    def _writable(self):
        if self.frozen:
            raise ReadOnlyError(f"{self.path or 'this store'} is frozen (freeze()); derive() a child to change it")
        if self.readonly:
            raise ReadOnlyError(f"{self.path} was opened with readonly=True")

    def _save_index_if_stale(self, min_rows):
        """Saves the graph (an INDEX commit) when the stored one covers under 80% of the rows:
        a reopen then inserts at most a fifth of them, and the INDEX bytes written over a
        store's life stay within a few times one graph (the growth is geometric)."""
        if self._index is not None and self.keep_vectors and self._n_rows > min_rows and \
                len(self._index) == self._n_rows and self._log.index_nodes * 5 < self._n_rows * 4:
            self._log.index(codec.index_payload(self), self._n_rows)

    def _after_commit(self):
        """Keeps the file's manifest where the real tools' tail scan finds it, and its graph
        fresh enough that a reopen (or a browser tab that never closes) rebuilds little."""
        self.version += 1
        if self._log is None or self._transaction is not None:     # a transaction: once it commits
            return
        if self._log.needs_rewrite():
            self._log.rewrite(codec.to_bytes(self))
        elif not isinstance(self._log, BufferLog):     # the browser saves its graph when idle: maintain()
            self._save_index_if_stale(self.brute_force_rows)

    def maintain(self):
        """Saves the graph (an INDEX commit) if the stored one covers under 80% of the rows.
        File stores do this after each commit; the browser worker calls it when the store is
        idle, so a user's commit writes only its own bytes. Returns whether it saved."""
        if self._log is None or self.frozen or self.readonly:
            return False
        with self._lock:
            before = self._log.index_nodes
            self._save_index_if_stale(self.brute_force_rows)
            return self._log.index_nodes != before

    def __len__(self):
        return len(self._ids)

    def __contains__(self, ident):
        return ident in self._ids

    def ids(self):
        """The live ids, in insertion order."""
        return [self._ids.id_of_row[r] for r in self.kernel.bitmap_rows(self._live, self._n_rows)]

    _take_query = inputs.take_query        # a query into the kernel's query slot (tests call it too)

    # ---- lineage ----------------------------------------------------------------------------

    @property
    def file_id(self):
        """This store's 16-byte id as hex (the real tools' fileId())."""
        return self.identity.file_id.hex()

    @property
    def parent_id(self):
        """The id of the store it was derived from, as hex; zeros for a root."""
        return self.identity.parent_id.hex()

    @property
    def lineage_depth(self):
        """How many derive() steps separate this store from its root (0 for a root)."""
        return self.identity.depth

    def segments(self):
        """The segments of the store's .rvf (its file, or to_bytes() in memory), in order."""
        return [{"id": sg.seg_id, "type": sg.name, "offset": sg.offset, "payload_bytes": sg.payload_length}
                for sg in rvf.read(self.kernel, codec.rvf_bytes(self)).segments]

    def derive(self, path=None, *, kind="snapshot", where=None, parents=(), transform=None):
        """A new store descended from this one, recorded as lineage (parent_id = this file_id,
        lineage_depth + 1, parent_hash = the real tools' hash of this store's last 64 KiB):

            snapshot   a copy of the live vectors and metadata
            filter     the live rows matching `where`
            merge      the union of this store and `parents` (other stores); ids must not collide
            transform  transform(rows) -> new rows: a flat float sequence of the same shape

        path=None keeps the child in memory; a path creates that file (which must not exist)."""
        return lineage.derive(self, path, kind, where, parents, transform)

    def to_bytes(self):
        """The store as one .rvf byte string: its rows in order (tombstones too: a deleted id is
        in the manifest's deleted list, a replaced row is followed by its id's newer row, the
        real tools' own rules), META segments with metadata, string ids and options, and an
        INDEX segment with the graph, so open_bytes() rebuilds nothing. The real tools open it
        (string-id stores appear there under labels 1, 2, ...). compact() first for a file
        without the dead rows."""
        return codec.to_bytes(self)

    # ---- containers: kernel images and eBPF programs, stored and returned, never run ------------

    def embed_kernel(self, arch, kernel_type, flags, image, api_port, cmdline=""):
        """Stores a kernel image (bytes) in the file, as the real tools' embedKernel does (the
        same bytes); returns its segment id (None in memory). It is never executed.

        >>> db.embed_kernel(1, 2, 0, image_bytes, 8080, "console=ttyS0")   # doctest: +SKIP
        5
        """
        return containers.embed_kernel(self, arch, kernel_type, flags, image, api_port, cmdline)

    def embed_ebpf(self, program_type, attach_type, max_dimension, bytecode, btf=b""):
        """Stores an eBPF program (bytecode: whole 8-byte instructions) as embedEbpf does;
        returns its segment id (None in memory). It is never loaded or run."""
        return containers.embed_ebpf(self, program_type, attach_type, max_dimension, bytecode, btf)

    def extract_kernel(self):
        """The last embedded kernel: {"header" (128 bytes), "arch", "kernel_type", "flags",
        "api_port", "image", "cmdline"}, its header and image hash checked; None without one."""
        return containers.extract_kernel(self)

    def extract_ebpf(self):
        """The last embedded eBPF program: {"header" (64 bytes), "program_type", "attach_type",
        "max_dimension", "bytecode", "btf"}, checked; None without one."""
        return containers.extract_ebpf(self)

    def freeze(self):
        """Makes the store read-only for good: recorded in the file (a reopen stays frozen,
        unlike the real tools' freeze, which lasts until close). derive() makes a writable
        child. Returns the file's epoch (None in memory)."""
        self._writable()
        transactions.refuse_inside(self, "freeze()")
        with self._lock:
            self.frozen = True
            if self._log is None:
                return None
            try:
                self._log.segments([(rvf_segments.META, rvf_meta.encode_options(codec.options(self)))], "freeze")
            except BaseException:
                self.frozen = False
                raise
            return self._log.writer.epoch

    def verify(self, *, public_key=None):
        """Checks the store's .rvf (its file, or to_bytes() in memory): every segment's checksum,
        the SHA-256 seal of every commit, their chain, and with public_key that every seal is
        signed by it. Returns a report; report["problems"] names each failing segment.

        >>> db.verify(public_key=pub)["ok"]                          # doctest: +SKIP
        True
        """
        # a store reading a file another process writes checks its last complete commit
        active = self.path is not None and self._log is None and writer_active(self.path)
        return rvf.verify(self.kernel, codec.rvf_bytes(self), public_key=public_key, writer_active=active)

    # ---- writes -----------------------------------------------------------------------------

    def ingest(self, ids, vectors, metadata=None, *, delete=(), normalized=False):
        """Adds vectors under ids; an id already present is replaced (upsert). All or nothing:
        a bad id, vector or metadata entry raises before anything changes.

        ids: unsigned 64-bit ints or strings; vectors: n x dim floats (any buffer, numpy array
        or nested lists); metadata: one dict per id; delete: existing ids to delete in the same
        commit (a replacement of a group of records that is never seen half done);
        normalized=True: for cosine, the vectors are unit length already (rows from get() or
        normalize_rows), stored bit for bit instead of normalised again.
        Returns {"accepted": n, "replaced": r, "deleted": d}.
        """
        self._writable()
        return self._ingest(ids, vectors, metadata, normalize=self._metric.normalized and not normalized,
                            delete=delete)

    def _ingest(self, ids, vectors, metadata, normalize, delete=()):
        ids = IdMap.normalize(ids)              # numpy and other integral ids as plain ints
        n = len(ids)
        view = inputs.vector_view(self, vectors, n)
        metadata = MetadataColumns.check(metadata, n)
        self._ids.check(ids)
        delete = IdMap.normalize(delete)
        clash = set(delete) & set(ids)
        if clash:
            raise IdError(f"ids both ingested and deleted in one batch: {sorted(clash, key=str)[:5]}")
        if n == 0:
            if delete:
                return {"accepted": 0, "replaced": 0, "deleted": self.delete(delete)}
            return {"accepted": 0, "replaced": 0, "deleted": 0}
        rows = view
        if normalize:          # a copy to normalise (array.array(view) would go element by element)
            rows = array.array("f")
            rows.frombytes(view.cast("B"))
            self.kernel.normalize_rows(rows, dim=self.dim)
        with self._lock:
            first = self._n_rows
            total = first + n
            # every allocation first, so a failure changes nothing
            if self.keep_vectors:
                self._vectors.reserve(total * self.dim)
            if self._index is not None:
                self._index.reserve(total)
            previous = {ident: self._ids.row_of[ident] for ident in ids if ident in self._ids}
            gone = self._ids.rows(delete)                # UnknownIdError before anything changes
            live_before, next_label = bytes(self._live), self._ids.next_label
            labels = self._ids.labels_for(ids)
            quant_params = copied = None
            try:
                if self._quant is not None:
                    if not self._quant.trained:      # on the first batch; compact() keeps it
                        self._quant.train(rows)
                        quant_params = self._quant.export()     # committed with this batch
                    self._quant.add(rows, n)
                copied = None
                if self.keep_vectors:
                    # a large batch of a file store goes into memory while its commit is written
                    if self._log is not None and n * self.dim * 4 >= BESIDE_BYTES:
                        copied = self._log.beside(self._vectors.append, rows, n * self.dim)
                    if copied is None:
                        self._vectors.append(rows, n * self.dim)
                self._meta.append(metadata)
                self._ids.add(ids, first)
                self._live.extend(bytes((total + 7) // 8 - len(self._live)))
                set_bits(self._live, first, n, True)
                for row in previous.values():        # the rows upserted ids leave
                    set_bit(self._live, row, False)
                self._n_rows = total
                # the file last: every step above is undone by the rollback if the commit fails,
                # and a failed commit cuts itself off the file
                if self._log is not None:      # the copy must be done before the commit is
                    self._log.ingest(labels, rows, self.dim, rvf_meta.encode_records(
                        labels, metadata, ids if isinstance(ids[0], str) else None),
                        deleted=self._ids.labels_for(delete), quant=quant_params, before_manifest=copied)
                if copied is not None:
                    copied()
            except BaseException:
                if copied is not None:           # never roll back under a copy still running
                    with contextlib.suppress(BaseException):
                        copied()
                self._rollback(first, previous, live_before, next_label)
                if quant_params is not None:   # trained by this batch: the next one trains again
                    self._quant = make_quantizer(self.kernel, self.compression, self.dim, self.metric, self._pq_m)
                raise
            self._ids.remove_rows(gone)
            for row in gone:
                set_bit(self._live, row, False)
            if self._index is not None:
                self._index.add(self._vectors.buf, self._n_rows - len(self._index))
            self._after_commit()
        return {"accepted": n, "replaced": len(previous), "deleted": len(gone)}

    def update_metadata(self, ids, metadata):
        """Replaces the metadata of existing ids, keeping their vectors bit for bit (one commit,
        all or nothing; the old rows become tombstones, as with any upsert).

        >>> db.update_metadata(["a"], [{"uses": 3}])                 # doctest: +SKIP
        """
        self._writable()
        ids = list(ids)
        if not self.keep_vectors:
            raise ArgumentError("update_metadata() needs the float32 vectors (this store keeps only codes)")
        with self._lock:
            rows = self._stored_rows(array.array("I", self._ids.rows(ids)))
            return self._ingest(ids, rows, metadata, normalize=False)   # already stored: no re-normalising

    def record_embedder(self, embedder, *, force=False):
        """Records the embedder that makes this store's vectors (when it was opened without one).
        A store that already holds vectors, or another embedder, needs force=True: vectors from
        different embedders do not compare. A file is rewritten to carry the new options."""
        self._writable()
        ident = identity_of(embedder)
        if ident == self.embedder:
            return
        if ident["dim"] != self.dim:
            raise DimensionError(f"embedder {ident['name']!r} makes {ident['dim']}-dimensional vectors, "
                                 f"the store's dimension is {self.dim}")
        transactions.refuse_inside(self, "record_embedder()")
        if (self.embedder is not None or len(self)) and not force:
            origin = f"embedder {self.embedder}" if self.embedder else f"{len(self)} vectors of unrecorded origin"
            raise EmbedderMismatchError(f"this store holds {origin}; recording {ident} needs force=True")
        with self._lock:
            self.embedder = ident
            if self._log is not None:
                self._log.rewrite(codec.to_bytes(self))

    def _rollback(self, first, previous, live_before, next_label):
        self._vectors.truncate(first * self.dim)
        if self._quant is not None:
            self._quant.truncate(first)
        self._meta.truncate(first)
        self._ids.truncate(first, next_label)
        self._ids.row_of.update(previous)
        self._live = bytearray(live_before)
        self._n_rows = first

    def delete(self, ids=None, *, where=None, missing_ok=False):
        """Deletes by ids, or every row matching `where`; returns how many were deleted.
        Unknown ids raise UnknownIdError (and delete nothing) unless missing_ok=True."""
        if (ids is None) == (where is None):
            raise ArgumentError("delete() takes ids or where=..., exactly one of them")
        self._writable()
        with self._lock:
            if ids is not None:
                rows = sorted(set(self._ids.rows(IdMap.normalize(ids), missing_ok=missing_ok)))
            else:
                rows = list(self.kernel.bitmap_rows(search.allowed(self, where)[0], self._n_rows))
            if self._log is not None and rows:
                self._log.delete(self._ids.labels_for([self._ids.id_of_row[r] for r in rows]))
            self._ids.remove_rows(rows)
            for row in rows:
                set_bit(self._live, row, False)
            self._after_commit()
            return len(rows)

    def compact(self):
        """Drops deleted rows for good and rebuilds the index over the live ones, and the
        graph's deleted nodes, edges and hyperedges with it (Graph.compact). Returns {"removed":
        rows dropped, "bytes_reclaimed": bytes of vectors and graph} and, for a store with a
        graph, "graph": its slots dropped. A file is rewritten through a temporary file and an
        atomic rename."""
        self._writable()
        transactions.refuse_inside(self, "compact()")
        with self._lock:
            keep = self.kernel.bitmap_rows(self._live, self._n_rows)
            removed = self._n_rows - len(keep)
            graph_dropped = {}
            if self._graph is not None:       # the graph layer sits above the store: imported when used
                from ..graph import persist as graph_persist
                graph_dropped = graph_persist.dead_slots(self._graph)
            done = {"removed": removed, "bytes_reclaimed": 0, **({"graph": graph_dropped} if graph_dropped else {})}
            if removed == 0 and not any(graph_dropped.values()):
                return done
            before = report.bytes_total(self)
            if any(graph_dropped.values()):
                self._graph = graph_persist.compacted(self._graph)[0]
            if self.keep_vectors:
                gather_into(self.kernel, self._vectors, keep, self.dim)
            if self._quant is not None:
                self._quant.compact(keep)
            self._meta.compact(self.kernel, keep)
            self._ids.compact(keep)
            self._n_rows = len(keep)
            self._live = bytearray((self._n_rows + 7) // 8)
            set_bits(self._live, 0, self._n_rows, True)
            if self._index is not None:
                self._index = self._new_index()
                if self._n_rows:
                    self._index.add(self._vectors.buf, self._n_rows)
            if self._log is not None:
                self._log.rewrite(codec.to_bytes(self))
            self.version += 1
            return {**done, "bytes_reclaimed": before - report.bytes_total(self)}

    # ---- reads --------------------------------------------------------------------------------

    def get(self, ident):
        """The Record for an id (UnknownIdError if absent)."""
        with self._lock:
            row = self._ids.row(ident)
            return Record(ident, self._stored_row(row), self._meta.copy_of(row))

    def find(self, where=None, *, limit=None):
        """[(id, metadata)] of the live rows matching `where`, in insertion order (no vector
        search: a listing, for "all episodes of this task").

        >>> db.find({"kind": "note"}, limit=2)                        # doctest: +SKIP
        [('n1', {'kind': 'note'}), ('n2', {'kind': 'note'})]
        """
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ArgumentError(f"limit must be a non-negative integer, got {limit!r}")
        with self._lock:
            rows = self.kernel.bitmap_rows(search.allowed(self, where)[0], self._n_rows)
            rows = rows[:limit] if limit is not None else rows
            return [(self._ids.id_of_row[r], self._meta.copy_of(r)) for r in rows]

    def query(self, vector, k=10, *, where=None, ef=None, exact=False, adapt=False):
        """The k best matches, best first: Results of (id, score, metadata) hits.

        where: a metadata filter (see agentdb.store.filters), applied inside the search, so k
        hits come back whenever k rows match. ef: HNSW beam width (default ef_search).
        exact=True scans every candidate row. Small candidate sets are scanned exactly anyway.
        adapt=True maps the query by the adapter db.learn() trained (a name: that adapter)
        first. Scores: cosine similarity, inner product, or squared L2 distance (smaller first).
        """
        return search.query(self, vector, k, where, ef, exact, adapt)

    def query_batch(self, vectors, k=10, *, where=None, ef=None, exact=False, adapt=False):
        """query() for each of m vectors (m x dim), the same answers; the filter is evaluated
        once, and the graph walks of all m queries are one kernel call."""
        return search.query_batch(self, vectors, k, where, ef, exact, adapt)

    # ---- the HNSW graph's levels (agentdb.store.levels; agentdb.nn.hierarchy walks them) -------

    def hnsw_levels(self):
        """The HNSW graph level by level: {"entry": the entry node, "max_level", "m", "levels":
        [per level 0..max_level: {"level", "nodes", "ids", "offsets", "targets"}]}. A node is a
        row (insertion order; compact() renumbers); "nodes" are the level's nodes ascending
        (array('I'); a node is on levels 0..its own), "ids" theirs (None for a deleted row),
        and node nodes[p]'s neighbour list there is targets[offsets[p]:offsets[p + 1]] (CSR,
        node numbers, in the order a search walks them). ArgumentError without an HNSW graph.

        >>> db = open(dim=2); _ = db.ingest(["a", "b"], [[1, 0], [0, 1]])
        >>> level0 = db.hnsw_levels()["levels"][0]
        >>> level0["ids"], level0["offsets"].tolist(), level0["targets"].tolist()
        (['a', 'b'], [0, 1, 2], [1, 0])
        """
        return levels.levels(self)

    def hnsw_neighbours(self, node, level=0):
        """Node's neighbour list on `level` (array('I') of nodes, as hnsw_levels() has it);
        ArgumentError for a level the graph lacks, or a node that is not on it."""
        return levels.neighbours(self, node, level)

    def hnsw_descent(self, vector, k=10, *, ef=None):
        """The rows the query meets on each level as the graph search walks down, top level
        first: [{"level", "node", "rows", "ids", "vectors"}]. On a level l >= 1, "node" is where
        the search's greedy descent stops (the closest node it reaches on l) and "rows" are that
        node and then its neighbours on l, in list order; on level 0, "node" is where the beam
        search starts and "rows" are the k nearest it finds with beam width ef (default
        ef_search), best first: what query() answers from the graph. Deleted rows are walked
        through but never listed. "vectors": the rows as stored (float32, row-major)."""
        return levels.descent(self, vector, k, ef)

    @property
    def graph(self):
        """The store's property graph (agentdb.graph.Graph): nodes, edges and hyperedges kept
        in the same .rvf, written in the same commits as the vectors inside a transaction.

        >>> db = open(dim=2); a = db.graph.add_node(labels=["Person"]); db.graph.stats()["nodes"]
        1
        """
        from ..graph import Graph                 # the graph layer sits above the store

        return Graph(self)

    def transaction(self):
        """A context manager: the writes inside it (ingest, delete, update_metadata, adapters,
        the graph) are one commit, or nothing. An exception inside undoes them all, in memory
        and in the file (or IndexedDB), and is raised again; a crash before the end reopens
        at the commit before it. compact() and freeze() inside raise TransactionError; a
        transaction inside another is part of it. A store in memory only pays for a snapshot
        at begin (O(its size)); a file or browser store rebuilds from its bytes only on failure.

        >>> db = open(dim=2)
        >>> with db.transaction():
        ...     _ = db.ingest(["a"], [[1, 0]])
        ...     _ = db.ingest(["b"], [[0, 1]])
        >>> len(db)
        2
        """
        return transactions.transaction(self)

    # ---- query adapters: what db.learn() trains, kept in the file ------------------------------

    def set_adapter(self, name, lora, *, ewc=None):
        """Keeps a copy of LoRA `lora` (dim -> dim) as the query adapter `name` (a commit for a
        file): query(..., adapt=name) then searches with q + s * q A B. ewc: an EWC kept with
        it (db.learn with a continual-learning preset keeps one, and the next such run trains
        under its penalty).

        >>> from agentdb.learn import LoRA
        >>> db = open(dim=4); db.set_adapter("query", LoRA(4, 4, rank=1)); db.adapters()
        ['query']
        """
        adapters.set_adapter(self, name, lora, ewc)

    def learn(self, queries, positives, *, preset="quick_finetune", adapter=adapters.DEFAULT, **options):
        """Trains the query adapter from relevance feedback: queries (m x dim) and, per query,
        the id (or ids) that was useful. Hard negatives are mined from this store; the adapter
        is kept in the store (a commit for a file) and query(..., adapt=True) applies it.
        options: rank, alpha, hard_negatives, negative_margin, negatives_where (a filter on
        the rows negatives are mined from), temperature, seed, progress and any
        TrainingConfig field (lr, epochs, batch_size, ...). Returns a FeedbackReport.

        >>> db = open(dim=4)
        >>> _ = db.ingest(["a", "b", "c"], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
        >>> db.learn([[0, 0.9, 0.1, 0]], ["c"], epochs=30, hard_negatives=1).pairs
        1
        >>> db.query([0, 0.9, 0.1, 0], k=1, adapt=True).ids
        ['c']
        """
        from ..learn.feedback import learn        # the learning layer sits above the store

        return learn(self, queries, positives, preset=preset, adapter=adapter, **options)

    def remove_adapter(self, name):
        """Forgets the query adapter `name` (UnknownIdError if there is none)."""
        adapters.remove_adapter(self, name)

    def adapter(self, name=adapters.DEFAULT):
        """A copy of the query adapter `name` (UnknownIdError if there is none)."""
        return adapters.get(self, name).clone()

    def adapters(self):
        """The names of the store's query adapters, sorted."""
        return sorted(self._adapters)

    def status(self):
        """Counts, configuration and memory, as a plain dict."""
        return report.status(self)


# re-exported (agentdb.store.store.open_log and friends); last, as opening.py imports VectorStore
from .opening import open, open_bytes, open_log  # noqa: E402,F401
