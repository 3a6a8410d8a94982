"""MemoryCore: every kind of agent memory is a record in one VectorStore.

A record's id is "<kind>:<n>" (episode:1, skill:4, edge:2, ...); its metadata holds `kind`,
the fields of that kind, `created` / `updated` (seconds since the epoch) and, for each tag, a
boolean field `tag:<name>` so tag filters run in the kernel like any other filter; the
caller's own `metadata=` stays a dict under `metadata`, filtered as "metadata.<name>" (see
metadata_filter). A call that changes several records writes them in one store commit, so
it is all there or not at all, in memory, in the .rvf file and in IndexedDB alike.

The four recall-type calls (recall, retrieve_episodes, search_skills, find_patterns) go
through _recall: it searches with the store's query adapter once mem.learn() trained one,
remembers the query vector under a recall id (kept in memory, see RECALLS_KEPT) and answers
an Answer, the list of hits as before that also carries that id for feedback().

Float sums use math.fsum (see mean): Python 3.12 changed how sum() adds floats and Pyodide
runs a newer Python than many native installs; fsum is correctly rounded on every version,
so both homes compute the same bits.
"""
import array
import hashlib
import json
import math
import numbers
import time
from collections import OrderedDict

from .. import metrics
from ..embed import EmbedderMismatchError, embedder_for, identity_of
from ..errors import DimensionError, MemoryInputError, UnknownIdError  # noqa: F401  (MemoryInputError: used by the mixins)
from ..store.adapters import DEFAULT as ADAPTER
from ..store.filters import prefix_fields
from .cache import QueryCache

TAG = "tag:"
RECALLS_KEPT = 1000      # how many recalls (the latest distinct ones) an AgentMemory keeps for feedback()


class Answer(list):
    """The hits of a recall-type call (a list of dicts, equal to the plain list of them; JSON
    sees only the list) and its `recall_id`, which feedback(recall_id, useful=[...]) takes.

    >>> hits = mem.recall("release day")                            # doctest: +SKIP
    >>> mem.feedback(hits.recall_id, useful=[hits[0]["id"]])        # doctest: +SKIP
    'feedback:1'
    """

    def __init__(self, hits=(), recall_id=None):
        super().__init__(hits)
        self.recall_id = recall_id


def text(value, name, *, required=True):
    """A string argument; required ones must hold more than whitespace."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise MemoryInputError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise MemoryInputError(f"{name} is empty")
    return value


def number(value, name, *, low=None, high=None, required=True):
    """A finite number within [low, high] (None: no bound), or None when not required."""
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise MemoryInputError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise MemoryInputError(f"{name} must be in {bounds}, got {value!r}")
    return float(value)


def mean(values):
    """The mean of a non-empty sequence, the same bits on every Python version."""
    return math.fsum(values) / len(values)


def count(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MemoryInputError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def flag(value, name):
    if not isinstance(value, bool):
        raise MemoryInputError(f"{name} must be True or False, got {value!r}")
    return value


def tag_fields(tags):
    """{"tags": [...], "tag:<t>": True, ...} for a list of tag strings."""
    if isinstance(tags, str):
        raise MemoryInputError("tags must be a list of strings, not one string")
    tags = [text(t, f"tags[{i}]") for i, t in enumerate(tags or ())]
    return {"tags": tags, **{TAG + t: True for t in tags}}


def tag_filter(tags):
    """A filter matching records that carry every one of `tags`."""
    return {TAG + text(t, f"tags[{i}]"): True for i, t in enumerate(tags or ())}


def metadata_filter(where):
    """A filter on the caller's own metadata (None: none): `where` names its fields, as given
    to metadata=, and reads like any store filter (dotted names reach into nested dicts);
    FilterError names a malformed part.

    >>> metadata_filter({"project": "x", "n": {"gt": 2}})
    {'metadata.project': 'x', 'metadata.n': {'gt': 2}}
    """
    return None if where is None else prefix_fields(where, "metadata.")


def public(ident, md, score=None):
    """A record as callers see it: id, similarity (for search hits) and its fields."""
    out = {"id": ident}
    if score is not None:
        out["similarity"] = score
    out.update(md)
    for tag in md.get("tags") or ():          # the filter columns of tag_fields, not for callers
        out.pop(TAG + tag, None)
    return out


def both(*filters):
    """The conjunction of the given filters (None and empty ones left out; None if none is left)."""
    filters = [f for f in filters if f]
    return None if not filters else filters[0] if len(filters) == 1 else {"and": filters}


class MemoryCore:
    """The store, the embedder, the clock and the cache that every memory kind shares."""

    def __init__(self, store, *, embedder=None, force=False, clock=time.time, cache_size=1000, cache_ttl=300.0):
        if store.status()["id_kind"] == "int":
            raise MemoryInputError("agent memory keeps string ids (episode:1, ...); this store has integer ids")
        self.store = store
        self.embedder = embedder if embedder is not None else embedder_for(store.embedder, dim=store.dim,
                                                                            kernel=store.kernel)
        ident = identity_of(self.embedder)
        if ident["dim"] != store.dim:
            raise DimensionError(f"embedder {ident['name']!r} makes {ident['dim']}-dimensional vectors, "
                                 f"the store's dimension is {store.dim}")
        if store.embedder != ident:
            if store.readonly:
                if not force:
                    raise EmbedderMismatchError(f"this store's vectors come from {store.embedder}, not {ident}")
            else:
                store.record_embedder(ident, force=force)    # refuses a silent switch
        self.clock = clock
        self.cache = QueryCache(max_size=cache_size, ttl=cache_ttl, clock=clock)
        self._next = None
        self._recalls = OrderedDict()    # recall id -> what it searched (see _recall), oldest first

    # ---- vectors -----------------------------------------------------------------------------

    def _vector(self, value, name, embedding=None):
        """The vector for a text (embedded), or the caller's own embedding of it (checked)."""
        if embedding is not None:
            flat = array.array("f", embedding)
            if len(flat) != self.store.dim:
                raise DimensionError(f"{name} embedding has {len(flat)} values, the store's dimension is "
                                     f"{self.store.dim}")
            self.store.kernel.check_finite(flat, name=f"{name} embedding")
            return flat
        return self.embedder.embed([text(value, name)])

    # ---- records -----------------------------------------------------------------------------

    def _new_ids(self, kind, n=1):
        """n fresh ids of a kind: one past the largest number in use."""
        if self._next is None:
            self._next = {}
            for ident in self.store.ids():
                head, _, num = ident.rpartition(":")
                if num.isdigit():
                    self._next[head] = max(self._next.get(head, 1), int(num) + 1)
        first = self._next.get(kind, 1)
        self._next[kind] = first + n
        return [f"{kind}:{first + i}" for i in range(n)]

    def _put(self, records, *, delete=()):
        """Writes [(id, vector, fields)] (and deletes `delete`) in one commit. A vector of None
        keeps the record's stored vector bit for bit; new ones are normalised here once."""
        now = self.clock()
        flat = array.array("f")
        metadata = []
        for ident, vec, fields in records:
            if vec is None:
                flat.extend(self.store.get(ident).vector)
            else:
                vec = array.array("f", vec)
                if metrics.get(self.store.metric).normalized:
                    self.store.kernel.normalize_rows(vec, dim=self.store.dim)
                flat.extend(vec)
            metadata.append({"created": now, **fields, "updated": now})
        self.store.ingest([r[0] for r in records], flat, metadata, delete=delete, normalized=True)

    def _put_records(self, records):
        """Writes [(id, vector, fields)] as given, in one commit: the fields whole (kind and
        timestamps included) and, under cosine, a unit vector's bits unchanged (others are
        normalised); an id in use is replaced. For agentdb.io's imports, which restore records
        exactly; the id counters then start past the imported ids."""
        k, flat = self.store.kernel, array.array("f")
        for ident, vec, _ in records:
            vec = array.array("f", vec)
            if len(vec) != self.store.dim:
                raise DimensionError(f"{ident!r}: {len(vec)} values, the store's dimension is {self.store.dim}")
            if metrics.get(self.store.metric).normalized and abs(k.dot(vec, vec) - 1.0) > 1e-5:
                k.normalize_rows(vec, dim=self.store.dim)
            flat.extend(vec)
        self.store.ingest([r[0] for r in records], flat, [dict(r[2]) for r in records], normalized=True)
        self._next = None

    def _forget(self, ids):
        """Deletes records and every record that refers to them (causal edges from or to them,
        observations of them) in one commit; returns how many records went."""
        ids = list(ids)
        if not ids:
            return 0
        gone = set(ids)
        refs = self.store.find({"or": [{field: {"in": ids}} for field in ("cause", "effect", "episode")]})
        return self.store.delete(ids + [i for i, _ in refs if i not in gone])

    def _get(self, ident, kind):
        """The fields of the record `ident`, which must be of `kind` (UnknownIdError otherwise)."""
        md = self.store.get(ident).metadata if isinstance(ident, str) and ident in self.store else None
        if md is None or md.get("kind") != kind:
            raise UnknownIdError(f"no {kind} with id {ident!r}")
        return md

    def _update(self, changes):
        """Applies {id: {field: value}} to existing records in one commit (vectors unchanged)."""
        now = self.clock()
        ids = list(changes)
        merged = [{**self.store.get(i).metadata, **changes[i], "updated": now} for i in ids]
        self.store.update_metadata(ids, merged)

    def _search(self, kind, vector, k, where=None, *, threshold=None, adapt=False):
        """The k records of `kind` (one, or a list) most similar to `vector` (and matching
        `where`), as dicts; adapt=True maps the query by the store's query adapter first."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise MemoryInputError(f"k must be a positive integer, got {k!r}")
        kinds = {"kind": kind} if isinstance(kind, str) else {"kind": {"in": list(kind)}}
        hits = self.store.query(vector, k=k, where=both(kinds, where), adapt=adapt)
        return [public(h.id, h.metadata, h.score) for h in hits if threshold is None or h.score >= threshold]

    def _adapting(self, adapt):
        """Whether a recall-type call maps its query by the adapter mem.learn() trained: None
        (the default) when the store has one, True (it must), False never."""
        if adapt is None:
            return ADAPTER in self.store.adapters()
        if not isinstance(adapt, bool):
            raise MemoryInputError(f"adapt must be True, False or None (when trained), got {adapt!r}")
        if adapt and ADAPTER not in self.store.adapters():
            raise UnknownIdError("this memory has no query adapter yet: mem.learn() trains one from feedback")
        return adapt

    def _recall(self, method, kind, query, k, where, args, *, embedding=None, adapt=None, name="query",
                threshold=None):
        """A recall-type call: the k records of `kind` nearest the embedded `query` (or the
        caller's embedding), through the cache and, per _adapting, the adapter; remembers the
        query vector under a recall id (a hash of the call and the vector, so asking the
        same again gives the same id) and returns the hits as an Answer carrying it."""
        adapt = self._adapting(adapt)

        def compute():
            vec = self._vector(query, name, embedding)
            return self._search(kind, vec, k, where, threshold=threshold, adapt=adapt), vec
        hits, vec = self._cached(method, {**args, "adapt": adapt}, compute, embedding)
        vec = array.array("f", vec)
        digest = hashlib.sha256(json.dumps([method, args], sort_keys=True, default=repr).encode())
        digest.update(memoryview(vec).cast("B"))
        recall_id = "recall:" + digest.hexdigest()[:16]
        self._recalls.pop(recall_id, None)
        self._recalls[recall_id] = {"method": method, "searched": [kind], "vector": vec,
                                    "query": query if embedding is None else None,
                                    "answered": [h["id"] for h in hits]}
        while len(self._recalls) > RECALLS_KEPT:
            self._recalls.popitem(last=False)
        return Answer(hits, recall_id)

    def _find(self, kind, where=None):
        """Every record of `kind` matching `where` as (id, fields), in the store's row order
        (an updated record moves to the end: sort by `created` for age)."""
        return self.store.find(both({"kind": kind}, where))

    def _cached(self, name, args, compute, embedding=None):
        """compute() through the query cache; a caller's own embedding is not a cache key."""
        if embedding is not None:
            return compute()
        # the store's version counts every write, a new or removed query adapter included
        return self.cache.get_or_compute(name, args, self.store.version, compute)

    def _since(self, days, name="time_window_days"):
        """A filter on `created` for the last `days` days (None: no filter)."""
        if days is None:
            return None
        return {"created": {"ge": self.clock() - 86400.0 * number(days, name, low=0)}}
