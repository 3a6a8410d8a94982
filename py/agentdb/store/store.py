"""VectorStore: ids, vectors, metadata, filters, tombstones and the HNSW index, orchestrated
in Python over kernel calls. Runs unchanged in Pyodide: no numpy, no cffi here.

State, all of it a set of arrays a file format can hold: the rows (float32, unit length for
cosine), row -> id and id -> row, one dict of metadata per row plus its filter columns, a
`live` bitmap (deleted rows are tombstones until compact()), and the HNSW graph arrays.
"""
import array
import contextlib
import itertools
import json
import math
import secrets
import struct
import threading
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .. import rvf
from .. import metrics
from ..embed import identity_of
from ..errors import (ArgumentError, DimensionError, EmbedderMismatchError, IdError, OptionError,
                      ReadOnlyError, RecoveryWarning)
from ..kernel import load
from ..kernel.buffers import as_view
from ..persist import BufferLog, FileLog
from ..persist.files import release_lock, take_lock, writer_active
from ..rvf import containers, ed25519
from ..rvf import meta as rvf_meta
from ..rvf import segments as rvf_segments
from ..rvf.hashes import toy_hash
from ..rvf.payloads import Identity
from .arrays import GrowableArray
from .filters import FilterEvaluator, compile_filter
from .hnsw import HnswIndex
from .ids import IdMap
from .metadata import MetadataColumns
from .options import check_ef, check_k, resolve
from .quant import gather_into, make_quantizer
from .results import Results

FILTER_CACHE = 32                # filters whose bitmaps are kept until the next write


@dataclass(frozen=True)
class Record:
    """A stored vector: its id, the vector as stored (unit length for cosine) and metadata."""

    id: Any
    vector: array.array
    metadata: dict


BESIDE_BYTES = 4 << 20      # a batch from this size is copied into memory beside its file commit


def _set_bits(bitmap, start, count, value):
    """Sets or clears bits [start, start + count) of a bytearray, whole bytes at a time."""
    bit, end = start, start + count
    while bit < end and bit & 7:
        _set_bit(bitmap, bit, value)
        bit += 1
    full_end = end & ~7
    if full_end > bit:
        bitmap[bit >> 3:full_end >> 3] = (b"\xff" if value else b"\x00") * ((full_end - bit) >> 3)
        bit = full_end
    while bit < end:
        _set_bit(bitmap, bit, value)
        bit += 1


def _set_bit(bitmap, bit, value):
    if value:
        bitmap[bit >> 3] |= 1 << (bit & 7)
    else:
        bitmap[bit >> 3] &= ~(1 << (bit & 7)) & 0xFF


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
        self.identity = Identity(file_id=secrets.token_bytes(16))
        self.path, self._log, self.readonly = None, None, False
        self.profile, self.frozen = o["profile"], o["frozen"]
        self._containers = {}          # rvf seg type (KERNEL, EBPF) -> payload: stored, never run
        self._final_commits = []       # a BufferLog's last chunks, kept for the host after close()
        self.version = 0               # counts writes, so caches of answers know when they are stale
        # a query crosses into kernel memory once: written into _query_in, prepared (checked,
        # normalised for cosine) into _query_slot by the graph search itself or _prepare_query
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
            self._log.index(self._index_payload(), self._n_rows)

    def _after_commit(self):
        """Keeps the file's manifest where the real tools' tail scan finds it, and its graph
        fresh enough that a reopen (or a browser tab that never closes) rebuilds little."""
        self.version += 1
        if self._log is None:
            return
        if self._log.needs_rewrite():
            self._log.rewrite(self.to_bytes())
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

    # ---- input checks --------------------------------------------------------------------------

    def _vector_view(self, vectors, n, name="vectors", check_finite=True):
        """A flat float32 view of n vectors, from a buffer or nested lists."""
        dtype = getattr(vectors, "dtype", None)
        kind = getattr(dtype, "kind", None)
        if kind in ("i", "u") or kind == "f" and dtype.itemsize != 4:
            vectors = vectors.astype("float32")          # numpy float64 / ints, without importing numpy
        if isinstance(vectors, (list, tuple)) and vectors and isinstance(vectors[0], (list, tuple, array.array)):
            for i, row in enumerate(vectors):
                if len(row) != self.dim:
                    raise DimensionError(f"{name}[{i}] has {len(row)} values, the store's dimension is {self.dim}")
            vectors = array.array("f", itertools.chain.from_iterable(vectors))
        view = as_view(vectors, "f", name=name)
        if len(view) != n * self.dim:
            raise DimensionError(f"expected {n} vector(s) of dimension {self.dim} ({n * self.dim} values), "
                                 f"got {len(view)} values")
        if check_finite:
            self.kernel.check_finite(view, name=name, dim=self.dim)
        return view

    def _take_query(self, vector):
        """Writes the query into the store's query input slot (kernel memory every search
        reads in place), checked for shape; NaN and infinity are caught when it is prepared.
        Callers hold the lock (the slot is shared)."""
        try:
            view = memoryview(vector)
        except TypeError:
            view = None
        if view is None or view.format != "f" or view.ndim != 1 or len(view) != self.dim or not view.c_contiguous:
            view = self._vector_view(vector, 1, "query", check_finite=False)     # lists, float64, odd shapes
        self._query_in.write(view)

    def _prepare_query(self):
        """The taken query, checked and (for cosine) normalised into the query slot, for the
        scans (a graph search prepares it in the same kernel call)."""
        if not math.isfinite(self._query_preparer()):
            self.kernel.refuse_query(self._query_in)

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

    def _rvf_bytes(self):
        """The store's .rvf: its file's bytes, or to_bytes() for a store in memory."""
        if self.path is None:
            return self.to_bytes()
        with builtins_open(self.path, "rb") as fh:
            return fh.read()

    def segments(self):
        """The segments of the store's .rvf (its file, or to_bytes() in memory), in order."""
        return [{"id": sg.seg_id, "type": sg.name, "offset": sg.offset, "payload_bytes": sg.payload_length}
                for sg in rvf.read(self.kernel, self._rvf_bytes()).segments]

    def derive(self, path=None, *, kind="snapshot", where=None, parents=(), transform=None):
        """A new store descended from this one, recorded as lineage (parent_id = this file_id,
        lineage_depth + 1, parent_hash = the real tools' hash of this store's last 64 KiB):

            snapshot   a copy of the live vectors and metadata
            filter     the live rows matching `where`
            merge      the union of this store and `parents` (other stores); ids must not collide
            transform  transform(rows) -> new rows: a flat float sequence of the same shape

        path=None keeps the child in memory; a path creates that file (which must not exist)."""
        if kind not in ("snapshot", "filter", "merge", "transform"):
            raise ArgumentError(f"unknown derive kind {kind!r}: expected snapshot, filter, merge or transform")
        if (where is not None) != (kind == "filter") or (transform is not None) != (kind == "transform") or \
                (bool(parents) != (kind == "merge")):
            raise ArgumentError(f"derive(kind={kind!r}) takes where= only for filter, parents= only for merge, "
                             f"transform= only for transform")
        sources = [self] + list(parents)
        for other in parents:
            if other.dim != self.dim or other.metric != self.metric:
                raise DimensionError(f"cannot merge a {other.dim}-d {other.metric} store into a {self.dim}-d "
                                     f"{self.metric} one")
        ids, rows, metadata = [], array.array("f"), []
        with self._lock:
            for src in sources:
                allowed = src._allowed(where)[0] if kind == "filter" else src._live
                picked = src.kernel.bitmap_rows(allowed, src._n_rows)
                ids.extend(src._ids.id_of_row[r] for r in picked)
                metadata.extend(src._meta.copy_of(r) for r in picked)
                rows.extend(src._stored_rows(picked))
            parent_bytes = self.to_bytes()
        if len(set(ids)) != len(ids):
            clash = sorted((i for i, n in Counter(ids).items() if n > 1), key=str)[:5]
            raise IdError(f"merge: ids present in more than one store: {clash}")
        if kind == "transform":
            rows = array.array("f", transform(rows))
        options = {k: v for k, v in self._options().items() if k not in ("metric", "id_kind", "frozen")}
        child = VectorStore(dim=self.dim, metric=self.metric, kernel=self.kernel, signing_key=self._signing_key,
                            **options)
        child.identity = Identity(file_id=secrets.token_bytes(16), parent_id=self.identity.file_id,
                                  parent_hash=toy_hash(parent_bytes[-rvf_segments.TAIL_SCAN:]),
                                  depth=self.identity.depth + 1)
        # stored rows are already unit length for cosine; a transform's output is not
        child._ingest(ids, rows, metadata, normalize=self._metric.normalized and kind == "transform")
        if path is None:
            return child
        import os

        path = os.fspath(path)
        with builtins_open(path, "xb") as fh:
            fh.write(child.to_bytes())
        return open(path, signing_key=self._signing_key)

    def _options(self):
        """What a file needs to reopen this store as it is (META kind 2)."""
        return {"metric": self.metric, "index": self.index_kind, "compression": self.compression,
                "keep_vectors": self.keep_vectors, "pq_m": self._pq_m, "ef_search": self.ef_search,
                "brute_force_rows": self.brute_force_rows, "id_kind": self._ids.kind, "embedder": self.embedder,
                "profile": self.profile, "frozen": self.frozen, **self._index_options}

    def _index_crcs(self, n):
        """Checksums tying an INDEX to the first n rows and their ids."""
        rows = self.kernel.crc32c(self._vectors.buf.head(n * self.dim)) if self.keep_vectors else 0
        return rows, self.kernel.crc32c(struct.pack(f"<{n}Q", *self._ids.label_of_row[:n]))

    def _index_payload(self):
        return self._index.export(*self._index_crcs(len(self._index)))

    def to_bytes(self):
        """The store as one .rvf byte string: its rows in order (tombstones too: a deleted id is
        in the manifest's deleted list, a replaced row is followed by its id's newer row, the
        real tools' own rules), META segments with metadata, string ids and options, and an
        INDEX segment with the graph, so open_bytes() rebuilds nothing. The real tools open it
        (string-id stores appear there under labels 1, 2, ...). compact() first for a file
        without the dead rows."""
        with self._lock:
            n = self._n_rows
            if self.keep_vectors:
                rows = self._vectors.read(0, n * self.dim)
            else:  # codes only: the decoded (approximate) vectors are what the store has
                rows = self._stored_rows(range(n))
            labels = self._ids.label_of_row
            live = self.kernel.bitmap_rows(self._live, n)
            live_labels = {labels[r] for r in live}
            strings = self._ids.kind == "str"
            records = rvf_meta.encode_records([labels[r] for r in live], [self._meta.stored(r) for r in live],
                                              [self._ids.id_of_row[r] for r in live] if strings else None)
            extra = [(rvf_segments.META, rvf_meta.encode_options(self._options()))] + \
                ([(rvf_segments.META, records)] if records else [])
            if self._index is not None and self.keep_vectors and len(self._index) == n:
                extra.append((rvf_segments.INDEX, self._index_payload()))
            if self._quant is not None and self._quant.trained:
                extra.append((rvf_segments.QUANT, self._quant.export()))
            extra += [(seg_type, payload) for seg_type, (_, payload) in sorted(self._containers.items())
                      if payload is not None]
            return rvf.write(self.kernel, dim=self.dim, metric=self.metric, ids=list(labels), rows=rows,
                             deleted=sorted(set(labels) - live_labels), identity=self.identity, extra=extra,
                             signing_key=self._signing_key, profile=self.profile)

    # ---- containers: kernel images and eBPF programs, stored and returned, never run ------------

    def embed_kernel(self, arch, kernel_type, flags, image, api_port, cmdline=""):
        """Stores a kernel image (bytes) in the file, as the real tools' embedKernel does (the
        same bytes); returns its segment id (None in memory). It is never executed.

        >>> db.embed_kernel(1, 2, 0, image_bytes, 8080, "console=ttyS0")   # doctest: +SKIP
        5
        """
        return self._embed(rvf_segments.KERNEL, containers.encode_kernel(
            arch=arch, kernel_type=kernel_type, flags=flags, image=image, api_port=api_port, cmdline=cmdline))

    def embed_ebpf(self, program_type, attach_type, max_dimension, bytecode, btf=b""):
        """Stores an eBPF program (bytecode: whole 8-byte instructions) as embedEbpf does;
        returns its segment id (None in memory). It is never loaded or run."""
        return self._embed(rvf_segments.EBPF, containers.encode_ebpf(
            program_type=program_type, attach_type=attach_type, max_dimension=max_dimension, bytecode=bytecode,
            btf=btf))

    def _embed(self, seg_type, payload):
        self._writable()
        with self._lock:
            seg_id = None
            if self._log is not None:
                seg_id = self._log.segments([(seg_type, payload)],
                                            f"embed_{rvf_segments.type_name(seg_type)}:bytes={len(payload)}")
            self._containers[seg_type] = (None, payload)
            return seg_id

    def _extract(self, seg_type, decode):
        entry = self._containers.get(seg_type)
        if entry is None:
            return None
        offset, payload = entry
        if payload is None:
            raise rvf.CorruptFileError(f"the {rvf_segments.type_name(seg_type)} segment fails its content hash",
                                       offset)
        return decode(payload, offset or 0)

    def extract_kernel(self):
        """The last embedded kernel: {"header" (128 bytes), "arch", "kernel_type", "flags",
        "api_port", "image", "cmdline"}, its header and image hash checked; None without one."""
        return self._extract(rvf_segments.KERNEL, containers.decode_kernel)

    def extract_ebpf(self):
        """The last embedded eBPF program: {"header" (64 bytes), "program_type", "attach_type",
        "max_dimension", "bytecode", "btf"}, checked; None without one."""
        return self._extract(rvf_segments.EBPF, containers.decode_ebpf)

    def freeze(self):
        """Makes the store read-only for good: recorded in the file (a reopen stays frozen,
        unlike the real tools' freeze, which lasts until close). derive() makes a writable
        child. Returns the file's epoch (None in memory)."""
        self._writable()
        with self._lock:
            self.frozen = True
            if self._log is None:
                return None
            try:
                self._log.segments([(rvf_segments.META, rvf_meta.encode_options(self._options()))], "freeze")
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
        return rvf.verify(self.kernel, self._rvf_bytes(), public_key=public_key, writer_active=active)

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
        view = self._vector_view(vectors, n)
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
                _set_bits(self._live, first, n, True)
                for row in previous.values():        # the rows upserted ids leave
                    _set_bit(self._live, row, False)
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
                _set_bit(self._live, row, False)
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
        if (self.embedder is not None or len(self)) and not force:
            origin = f"embedder {self.embedder}" if self.embedder else f"{len(self)} vectors of unrecorded origin"
            raise EmbedderMismatchError(f"this store holds {origin}; recording {ident} needs force=True")
        with self._lock:
            self.embedder = ident
            if self._log is not None:
                self._log.rewrite(self.to_bytes())

    def _rollback(self, first, previous, live_before, next_label):
        self._vectors.truncate(first * self.dim)
        if self._quant is not None:
            self._quant.truncate(first)
        self._meta.truncate(first)
        self._ids.truncate(first, next_label)
        self._ids.row_of.update(previous)
        self._live = bytearray(live_before)
        self._n_rows = first

    def _load(self, contents, own):
        """Fills an empty store with a file's physical rows (see to_bytes) and its graph."""
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
            self.kernel.check_finite(chunk, name="stored vectors", dim=self.dim)
            if self._metric.normalized and not own:   # agentdb's rows are already unit length
                self.kernel.normalize_rows(chunk, dim=self.dim)
        rows = chunks[0] if len(chunks) == 1 else None
        if self._quant is not None:
            if rows is None:
                rows = array.array("f")
                for chunk in chunks:
                    rows.frombytes(chunk.cast("B"))
            if contents.quant is not None and contents.quant["dim"] != self.dim:
                raise rvf.CorruptFileError(f"QUANT parameters are {contents.quant['dim']}-dimensional, the store "
                                           f"{self.dim}-dimensional")
            if contents.quant is not None and contents.quant["kind"] == self.compression:
                self._quant.load(contents.quant)     # the parameters it was built with: the same codes
            else:
                self._quant.train(rows)              # a file without them (older, or the real tools')
            self._quant.add(rows, n)
        if self.keep_vectors and contents.entry_buffer is not None:
            self._vectors.replace(contents.entry_buffer, n * self.dim)
        elif self.keep_vectors:
            self._vectors.reserve(n * self.dim)
            for chunk in chunks:
                self._vectors.append(chunk, len(chunk))
        self._meta.append(metadata)
        self._ids.load("str" if strings else "int", labels, ids, live)
        self._live = bytearray((n + 7) // 8)
        if all(live):
            _set_bits(self._live, 0, n, True)
        else:
            for row, ok in enumerate(live):
                if ok:
                    _set_bit(self._live, row, True)
        self._n_rows = n
        if self._index is None:
            return
        if contents.index_problem:
            warnings.warn(f"rebuilding the HNSW index: {contents.index_problem}", RecoveryWarning, stacklevel=3)
        elif contents.index is not None and self.keep_vectors:
            adopted = self._index.load(contents.index, n, lambda k: self._index_crcs(k)[0],
                                       lambda k: self._index_crcs(k)[1])
            if isinstance(adopted, str):
                warnings.warn(f"rebuilding the HNSW index: {adopted}", RecoveryWarning, stacklevel=3)
        elif own and contents.options.get("index") == "hnsw" and n > self.brute_force_rows:
            warnings.warn("rebuilding the HNSW index: the file has no INDEX segment (it was not saved before "
                          "the file was copied or the writer stopped, or a 0.2.x compaction by the real tools "
                          "dropped it)", RecoveryWarning, stacklevel=3)
        if n > len(self._index):
            self._index.add(self._vectors.buf, n - len(self._index))

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
                rows = list(self.kernel.bitmap_rows(self._allowed(where)[0], self._n_rows))
            if self._log is not None and rows:
                self._log.delete(self._ids.labels_for([self._ids.id_of_row[r] for r in rows]))
            self._ids.remove_rows(rows)
            for row in rows:
                _set_bit(self._live, row, False)
            self._after_commit()
            return len(rows)

    def compact(self):
        """Drops deleted rows for good and rebuilds the index over the live ones.
        Returns {"removed": rows dropped, "bytes_reclaimed": bytes of vectors and graph}.
        A file is rewritten through a temporary file and an atomic rename."""
        self._writable()
        with self._lock:
            keep = self.kernel.bitmap_rows(self._live, self._n_rows)
            removed = self._n_rows - len(keep)
            if removed == 0:
                return {"removed": 0, "bytes_reclaimed": 0}
            before = self._bytes_total()
            if self.keep_vectors:
                gather_into(self.kernel, self._vectors, keep, self.dim)
            if self._quant is not None:
                self._quant.compact(keep)
            self._meta.compact(self.kernel, keep)
            self._ids.compact(keep)
            self._n_rows = len(keep)
            self._live = bytearray((self._n_rows + 7) // 8)
            _set_bits(self._live, 0, self._n_rows, True)
            if self._index is not None:
                self._index = self._new_index()
                if self._n_rows:
                    self._index.add(self._vectors.buf, self._n_rows)
            if self._log is not None:
                self._log.rewrite(self.to_bytes())
            self.version += 1
            return {"removed": removed, "bytes_reclaimed": before - self._bytes_total()}

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
            rows = self.kernel.bitmap_rows(self._allowed(where)[0], self._n_rows)
            rows = rows[:limit] if limit is not None else rows
            return [(self._ids.id_of_row[r], self._meta.copy_of(r)) for r in rows]

    def _allowed(self, where):
        """(bitmap of live rows passing `where`, how many). Bitmaps of recent filters are kept
        until the next write: agents ask the same few filters again and again."""
        if where is None:
            return self._live, len(self._ids)
        try:
            key = json.dumps(where, sort_keys=True)
        except (TypeError, ValueError, RecursionError):
            key = None                           # not JSON (a set, nested too deep): compile_filter names it
        cached = self._filter_cache.get(key)
        if cached is not None and cached[0] == self.version:
            return cached[1], cached[2]
        node = compile_filter(where)
        bitmap = FilterEvaluator(self.kernel, self._meta, self._n_rows, self._live).evaluate(node)
        count = self.kernel.bitmap_count(bitmap)
        if key is not None:
            if len(self._filter_cache) >= FILTER_CACHE:
                self._filter_cache.pop(next(iter(self._filter_cache)))
            self._filter_cache[key] = (self.version, bitmap, count)
        return bitmap, count

    def _exact(self, q, k, allowed, n_allowed, filtered):
        rows_buf = self._vectors.buf.head(self._n_rows * self.dim)
        metric = self._scan_metric
        subset = None
        if filtered and n_allowed * 4 < self._n_rows:   # few rows: score only those
            subset = self.kernel.bitmap_rows(allowed, self._n_rows)
            scores = self.kernel.scan(q, rows_buf, dim=self.dim, metric=metric, subset=subset)
        else:
            bitmap = allowed if n_allowed < self._n_rows else None
            scores = self.kernel.scan(q, rows_buf, dim=self.dim, metric=metric, bitmap=bitmap)
        idx, top = self.kernel.topk(scores, k, largest=self._metric.larger_is_closer)
        rows = [subset[i] for i in idx] if subset is not None else list(idx)
        return rows, top

    def _compressed(self, q, k, allowed, n_allowed):
        """Scores every candidate on its codes, then (with the vectors kept) re-ranks the best
        k * rerank exactly; without them the code scores are the answer."""
        approx = self._quant.scores(q, self._n_rows, allowed if n_allowed < self._n_rows else None)
        largest = self._metric.larger_is_closer
        if not self.keep_vectors:
            idx, top = self.kernel.topk(approx, k, largest=largest)
            return list(idx), top
        candidates, _ = self.kernel.topk(approx, min(n_allowed, max(k * self._quant.rerank, k + 16)),
                                         largest=largest)
        rows_buf = self._vectors.buf.head(self._n_rows * self.dim)
        scores = self.kernel.scan(q, rows_buf, dim=self.dim, metric=self._scan_metric, subset=candidates)
        idx, top = self.kernel.topk(scores, k, largest=largest)
        return [candidates[i] for i in idx], top

    def _graph_serves(self, n_allowed, exact):
        """Whether the graph answers: not exact queries, nor few candidates (scanning those is
        cheaper than a walk that must step over the rest)."""
        return self._index is not None and not exact and n_allowed > max(
            self.brute_force_rows, math.isqrt(self.brute_force_rows * self._n_rows))

    def _walk_limit(self, allowed, n_allowed):
        """The bitmap a graph walk checks: none when every row is allowed."""
        return allowed if n_allowed < self._n_rows else None

    def _search(self, k, allowed, n_allowed, filtered, ef, exact):
        """(rows, scores, exact?) for the taken query."""
        if self._graph_serves(n_allowed, exact):
            rows, scores = self._index.search(self._vectors.buf, self._query_in, self._query_slot, k,
                                              ef or self.ef_search, self._walk_limit(allowed, n_allowed))
            if len(rows) >= min(k, n_allowed):
                return rows, scores, False
        else:
            self._prepare_query()
        return self._scan(k, allowed, n_allowed, filtered, exact)

    def _scan(self, k, allowed, n_allowed, filtered, exact):
        """(rows, scores, exact?) by scanning for the prepared query: codes serve large candidate
        sets (and every query when only codes are kept), the float32 rows the rest."""
        q = self._query_slot
        if self._quant is not None and (not self.keep_vectors or not exact and n_allowed > self.brute_force_rows):
            rows, scores = self._compressed(q, k, allowed, n_allowed)
            return rows, scores, False
        rows, scores = self._exact(q, k, allowed, n_allowed, filtered)
        return rows, scores, True

    def _results(self, rows, scores, was_exact):
        id_of_row = self._ids.id_of_row
        return Results([id_of_row[r] for r in rows], scores, self._meta.stored_of(rows), self.metric, was_exact)

    def _answer(self, k, allowed, n_allowed, filtered, ef, exact):
        """Results for the taken query against an evaluated filter."""
        if n_allowed == 0:
            self._prepare_query()           # a bad query is refused even where nothing can match
            return Results([], array.array("f"), [], self.metric, True)
        return self._results(*self._search(k, allowed, n_allowed, filtered, ef, exact))

    def query(self, vector, k=10, *, where=None, ef=None, exact=False):
        """The k best matches, best first: Results of (id, score, metadata) hits.

        where: a metadata filter (see agentdb.store.filters), applied inside the search, so k
        hits come back whenever k rows match. ef: HNSW beam width (default ef_search).
        exact=True scans every candidate row. Small candidate sets are scanned exactly anyway.
        Scores: cosine similarity, inner product, or squared L2 distance (smaller first).
        """
        check_k(k), check_ef(ef)
        with self._lock:
            self._take_query(vector)
            return self._answer(k, *self._allowed(where), where is not None, ef, exact)

    def query_batch(self, vectors, k=10, *, where=None, ef=None, exact=False):
        """query() for each of m vectors (m x dim), the same answers; the filter is evaluated
        once, and the graph walks of all m queries are one kernel call."""
        check_k(k), check_ef(ef)
        flat = self._vector_view(vectors, len(vectors) if isinstance(vectors, (list, tuple)) else
                                 len(as_view(vectors, "f", name="vectors")) // self.dim)
        dim, m = self.dim, len(flat) // self.dim
        with self._lock:
            allowed, n_allowed = self._allowed(where)

            def alone(i):                              # query i as query() answers it
                self._query_in.write(flat[i * dim:(i + 1) * dim])
                return self._answer(k, allowed, n_allowed, where is not None, ef, exact)

            if n_allowed == 0 or not self._graph_serves(n_allowed, exact):
                return [alone(i) for i in range(m)]
            found = self._index.search_batch(self._vectors.buf, flat, self._query_slot, k, ef or self.ef_search,
                                             self._walk_limit(allowed, n_allowed)) if m else []
            # a walk that met too few allowed rows: query()'s own path
            return [alone(i) if len(rows) < min(k, n_allowed) else self._results(rows, scores, False)
                    for i, (rows, scores) in enumerate(found)]

    # ---- status -----------------------------------------------------------------------------

    def _bytes_total(self):
        return (self._vectors.nbytes + (self._index.nbytes if self._index is not None else 0) +
                (self._quant.nbytes if self._quant is not None else 0))

    def status(self):
        """Counts, configuration and memory, as a plain dict."""
        with self._lock:
            live = len(self._ids)
            index = {"kind": self.index_kind}
            if self._index is not None:
                index.update(m=self._index.m, ef_construction=self._index.ef_construction, ef_search=self.ef_search,
                             seed=self._index.seed, nodes=len(self._index), max_level=self._index.max_level)
            return {
                "count": live,
                "deleted": self._n_rows - live,
                "rows": self._n_rows,
                "dim": self.dim,
                "metric": self.metric,
                "compression": self.compression,
                "keep_vectors": self.keep_vectors,
                "embedder": self.embedder,
                "id_kind": self._ids.kind,
                "index": index,
                "bytes": {"vectors": self._vectors.nbytes,
                          "codes": self._quant.nbytes if self._quant is not None else 0,
                          "graph": self._index.nbytes if self._index is not None else 0,
                          "metadata_columns": self._meta.nbytes},
                "kernel": {"backend": self.kernel.backend, "isa": self.kernel.isa},
                "signed_by": self._public_key,
                "profile": self.profile,
                "frozen": self.frozen,
                "containers": {rvf_segments.type_name(t): len(p) if p is not None else None
                               for t, (_, p) in sorted(self._containers.items())},
            }


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


def _open_contents(data, *, kernel=None, embedder=None, force=False, **overrides):
    """open_bytes() from bytes or an agentdb.rvf.source, and the RvfContents it was made from."""
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
    db._load(contents, own=bool(contents.options))
    db._containers = dict(contents.containers)
    return db, contents


def _check_reopen(db, where, dim, metric):
    if dim is not None and dim != db.dim:
        raise DimensionError(f"{where} holds {db.dim}-dimensional vectors, dim={dim} was given")
    if metric is not None and metrics.get(metric).name != db.metric:
        raise OptionError(f"{where} was created with metric {db.metric!r}, metric={metric!r} was given")


def open_log(data=None, *, dim=None, metric=None, kernel=None, embedder=None, force=False, **options):
    """A store whose commits are handed to a host (the browser worker stores them in IndexedDB):
    from the stored bytes when there are any, else new (dim needed). take_commits() gives the
    bytes each commit added, in the .rvf layout, so the stored chunks concatenated are always
    a valid .rvf file (what exportRvf downloads)."""
    if data:
        db, contents = _open_contents(data, kernel=kernel, embedder=embedder, force=force, **options)
        _check_reopen(db, "the stored store", dim, metric)
        db._log = BufferLog.resume(db.kernel, bytes(data), contents, signing_key=db._signing_key)
        return db
    if dim is None:
        raise DimensionError("a new store needs dim=")
    db = VectorStore(dim=dim, metric=metric or "cosine", kernel=kernel, embedder=embedder, **options)
    db._log = BufferLog.create(db.kernel, dim=dim, metric=db.metric, options=db._options(), identity=db.identity,
                               signing_key=db._signing_key, profile=db.profile)
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
    import os

    path = os.fspath(path)
    # an empty file holds no commit (older versions could leave one when killed mid-create):
    # a writer creates over it
    if os.path.exists(path) and (readonly or os.path.getsize(path) > 0):
        kernel = options.pop("kernel", None)
        lock = None if readonly else take_lock(path)      # before reading: no commit lands in between
        try:
            with builtins_open(path, "rb", buffering=0) as fh:      # read piece by piece, never whole
                source = rvf.FileSource(fh)
                db, contents = _open_contents(source, kernel=kernel, embedder=embedder, force=force, **options)
                _check_reopen(db, path, dim, metric)
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
    db._log = FileLog.create(db.kernel, path, dim=dim, metric=db.metric, options=db._options(),
                             identity=db.identity, signing_key=db._signing_key, profile=db.profile)
    return db


builtins_open = __builtins__["open"] if isinstance(__builtins__, dict) else __builtins__.open
