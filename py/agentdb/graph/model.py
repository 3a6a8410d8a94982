"""Graph: the property graph of a VectorStore (issue 19), kept in the store's own .rvf.

Nodes have an id (a non-empty string or an int in 0 .. 2**63 - 1; generated as an int when not
given), labels (a set of names, returned sorted), properties (a JSON dict, no schema) and an
optional embedding. Edges join two nodes with a type, properties, a weight (1.0 by default)
and an optional validity window [valid_from, valid_to) (None: unbounded). Hyperedges join two
or more nodes in order, with a type, properties, a validity window and an optional embedding.

An embedding makes the node also a row of the store, so the store's index searches it: the
row's id is "graph-node:<seq>" (a hyperedge's "graph-hyperedge:<seq>"), <seq> the object's
sequence number (agentdb.graph.tables: unique, never reused, whatever the id's kind), and its
metadata {"kind": "graph-node", "node": <id>, "seq": "<seq>", "labels": [...], "label:<name>":
true per label} (a hyperedge's {"kind": "graph-hyperedge", "hyperedge": <id>, "seq", "type"}).
Such rows need a store with string ids (or an empty one). The graph is authoritative: a row
is written before the graph change that claims it and dropped after the one that lets it go,
and search() returns only rows the graph claims.

Every call that changes the graph is one commit of the store's file (a META graph record,
docs/FORMAT.md): checked whole first (typed errors, nothing changes), then written, then
applied in memory; an embedding's row is one more store commit just before it (one commit
with it inside db.transaction()). Subscribers hear of each committed change.

>>> g = Graph(agentdb.open(dim=2))
>>> g.add_node("ada", labels=["Person"], properties={"born": 1815})
'ada'
>>> g.add_node("bab", labels=["Person"]); g.add_edge("ada", "bab", "KNOWS")
'bab'
0
>>> g.k_hop("ada", 2)
['bab']
"""
import array
import functools
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..errors import ArgumentError, UnknownIdError
from ..kernel.buffers import KBuffer
from ..rvf import segments as rvf_segments
from . import inputs, persist, traverse
from .state import INF, GraphState, number_or_none
from .tables import check_labels, check_name, check_number, check_where
from .ids import Ids
from .traverse import Path  # noqa: F401  (part of the API)

NODE_ROW, HYPER_ROW = "graph-node:", "graph-hyperedge:"
NODE_KIND, HYPER_KIND = "graph-node", "graph-hyperedge"     # the "kind" of those rows' metadata
_KEEP = object()                 # "leave as it is" for update arguments where None means "none"


@dataclass(frozen=True)
class Node:
    """A node: id, labels (sorted), properties (the caller's copy), whether it has an
    embedding, and the embedding itself (get_node() only; None in listings)."""

    id: Any
    labels: tuple = ()
    properties: dict = field(default_factory=dict)
    embedded: bool = False
    embedding: Any = None


@dataclass(frozen=True)
class Edge:
    """An edge: id, src and dst node ids, type, properties, weight and validity window
    [valid_from, valid_to) (None: unbounded)."""

    id: Any
    src: Any
    dst: Any
    type: str
    properties: dict = field(default_factory=dict)
    weight: float = 1.0
    valid_from: Any = None
    valid_to: Any = None


@dataclass(frozen=True)
class Hyperedge:
    """A hyperedge: id, its nodes in order, type, properties, validity window, whether it has
    an embedding and the embedding (get_hyperedge() only)."""

    id: Any
    nodes: tuple
    type: str
    properties: dict = field(default_factory=dict)
    valid_from: Any = None
    valid_to: Any = None
    embedded: bool = False
    embedding: Any = None


@dataclass(frozen=True)
class NodeHit:
    """A search result: the node's id, the store's score for its row and the node."""

    id: Any
    score: float
    node: Node


@dataclass(frozen=True)
class HyperedgeHit:
    """A hyperedge search result: its id, the score and the hyperedge."""

    id: Any
    score: float
    hyperedge: Hyperedge


def _locked(method):
    """Runs a Graph method under its store's lock (reads and the commit see one state)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self._db._lock:
            return method(self, *args, **kwargs)
    return run


def deliver(db, changes):
    """Calls the store's graph subscribers with each change (after its commit). A subscriber
    that raises does not undo the change or stop the others: it is reported as a RuntimeWarning."""
    subscribers = list(getattr(db, "_graph_subscribers", None) or ())
    for change in changes:
        for callback in subscribers:
            try:
                callback(dict(change))
            except Exception as exc:      # the change is committed whatever a subscriber does
                warnings.warn(f"graph subscriber {callback!r} raised {type(exc).__name__}: {exc}", RuntimeWarning,
                              stacklevel=3)


def flush_pending(db, transaction):
    """Delivers the graph changes a transaction held back (call once it has committed)."""
    deliver(db, transaction.pop("graph_changes", ()) if transaction else ())


class Graph:
    """The property graph of `store` (a VectorStore). Its state lives in store._graph, so every
    Graph(store) is the same graph, saved with the store (to_bytes(), the file).

    >>> g = Graph(agentdb.open(dim=2))
    >>> g.batch_insert(nodes=["a", "b", "c"], edges=[("a", "b", "R"), ("b", "c", "R")])["edges"]
    [0, 1]
    >>> g.shortest_path("a", "c").nodes
    ['a', 'b', 'c']
    """

    def __init__(self, store):
        self._db = store
        self._empty = None

    # ---- state ----------------------------------------------------------------------------

    @property
    def store(self):
        """The VectorStore this graph belongs to."""
        return self._db

    def _state(self):
        """The state to read (an empty one, not attached, for a store without a graph)."""
        st = getattr(self._db, "_graph", None)
        if st is None:
            if self._empty is None:
                self._empty = GraphState(self._db.kernel)
            return self._empty
        return st

    def _attached(self):
        st = getattr(self._db, "_graph", None)
        if st is None:
            st = self._db._graph = GraphState(self._db.kernel)
        return st

    def _commit(self, doc, action, change, *, rows=None, relabel=None, drop=()):
        """Checks doc, writes an embedding's rows, commits doc, applies it, drops rows no
        longer claimed, tells subscribers. rows: (ids, vectors, metadata) for db.ingest;
        relabel: (ids, metadata) for db.update_metadata."""
        db = self._db
        db._writable()
        with db._lock:
            st = self._attached()
            run = st.prepare(doc)
            written = []
            try:
                if rows is not None:
                    self._rows_allowed()
                    db.ingest(*rows)
                    written = list(rows[0])
                if relabel is not None:
                    db.update_metadata(*relabel)
                if db._log is not None:
                    db._log.segments([(rvf_segments.META, persist.encode(doc))], action)
            except BaseException:
                if written:          # the graph does not claim them: do not leave them behind
                    try:
                        db.delete(written, missing_ok=True)
                    except Exception:
                        pass
                raise
            run()
            if drop:
                db.delete(list(drop), missing_ok=True)
            db._after_commit()
            change = dict(change, epoch=db._log.writer.epoch if db._log is not None and
                          getattr(db, "_transaction", None) is None else None)
            transaction = getattr(db, "_transaction", None)
            if transaction is not None:      # told once the transaction commits (flush_pending)
                transaction.setdefault("graph_changes", []).append(change)
            else:
                deliver(db, [change])

    def _embeddings(self, values):
        """The vectors for embeddings as the caller gave them. A text is refused here: an agent
        memory's graph (agentdb.memory.graph.MemoryGraph) embeds texts with its embedder."""
        for v in values:
            if isinstance(v, str):
                raise ArgumentError(f"an embedding is a vector of {self._db.dim} numbers, got the text {v[:40]!r}; "
                                    f"an agent memory's graph (mem.graph) embeds texts with its embedder")
        return values

    def _rows_allowed(self):
        if self._db._ids.kind == "int":
            raise ArgumentError("embeddings make nodes rows of the store under string ids "
                                "('graph-node:<seq>'); this store's ids are integers")

    def _node_row_meta(self, ident, seq, labels):
        md = {"kind": NODE_KIND, "node": ident, "seq": str(seq), "labels": list(labels)}
        md.update({f"label:{label}": True for label in labels})
        return md

    # ---- nodes ------------------------------------------------------------------------------

    def add_node(self, id=None, *, labels=(), properties=None, embedding=None):
        """Adds a node and returns its id (generated when not given). labels: a name or names;
        properties: a JSON dict; embedding: a vector of the store's dimension (the node is then
        searchable). IdError for an id in use, MetadataError for properties that cannot be
        stored, DimensionError / NonFiniteError for a bad embedding.

        >>> g = Graph(agentdb.open(dim=2))
        >>> g.add_node(labels="Doc", embedding=[1, 0])
        0
        >>> g.get_node(0).labels
        ('Doc',)
        """
        return self.batch_insert(nodes=[{"id": id, "labels": labels, "properties": properties,
                                         "embedding": embedding}], _op="add_node")["nodes"][0]

    def _node(self, st, slot, *, embedding=False):
        t = st.nodes
        ident = t.ids.id_of(slot)
        embedded = bool(st.node_embedded[slot >> 3] >> (slot & 7) & 1)
        vector = None
        if embedding and embedded:
            try:
                vector = self._db.get(f"{NODE_ROW}{t.ids.seq_at(slot)}").vector
            except UnknownIdError:         # the row was deleted behind the graph's back
                vector = None
        return Node(ident, st.node_labels[slot], t.props.get(slot), embedded, vector)

    def get_node(self, id):
        """The Node with this id, its embedding included (UnknownIdError if absent).

        >>> g = Graph(agentdb.open(dim=2)); g.add_node("x", properties={"n": 1})
        'x'
        >>> g.get_node("x").properties
        {'n': 1}
        """
        with self._db._lock:
            st = self._state()
            return self._node(st, st.live_slot("node", id), embedding=True)

    def has_node(self, id):
        """Whether the graph has a node with this id.

        >>> Graph(agentdb.open(dim=2)).has_node("x")
        False
        """
        return self._state().nodes.slot(id) is not None

    def __contains__(self, id):
        return self.has_node(id)

    def __len__(self):
        return self._state().nodes.count

    @_locked
    def update_node(self, id, *, properties=None, replace=False, remove_properties=(), add_labels=(),
                    remove_labels=(), embedding=_KEEP):
        """Changes a node: properties merged into its own (replace=True: instead of them),
        remove_properties (names) dropped, labels added and removed, embedding set (None removes
        it). Returns the Node as it now is.

        >>> g = Graph(agentdb.open(dim=2)); g.add_node("x", labels="A", properties={"n": 1})
        'x'
        >>> g.update_node("x", properties={"m": 2}, add_labels="B").properties, g.get_node("x").labels
        ({'n': 1, 'm': 2}, ('A', 'B'))
        """
        st = self._state()
        slot = st.live_slot("node", id)
        ident = st.nodes.ids.id_of(slot)
        u = self._update_common("node", ident, properties, replace, remove_properties)
        add, drop = check_labels(add_labels, "add_labels"), check_labels(remove_labels, "remove_labels")
        if add:
            u["add_labels"] = list(add)
        if drop:
            u["remove_labels"] = list(drop)
        was = bool(st.node_embedded[slot >> 3] >> (slot & 7) & 1)
        row = f"{NODE_ROW}{st.nodes.ids.seq_at(slot)}"
        labels = sorted((set(st.node_labels[slot]) - set(drop)) | set(add))
        rows = relabel = None
        dropped = ()
        if embedding is not _KEEP:
            u["embedded"] = embedding is not None
            if embedding is not None:
                rows = ([row], self._embeddings([embedding]), [self._node_row_meta(ident, st.nodes.ids.seq_at(slot), labels)])
            elif was:
                dropped = (row,)
        elif was and (add or drop):
            relabel = ([row], [self._node_row_meta(ident, st.nodes.ids.seq_at(slot), labels)])
        self._commit({"update": [u]}, "graph:update_node", {"op": "update_node", "id": ident, "nodes": 0,
                                                             "edges": 0, "hyperedges": 0},
                     rows=rows, relabel=relabel, drop=dropped)
        return self.get_node(ident)

    @_locked
    def delete_node(self, id, *, detach=False):
        """Deletes a node. One that still has edges or hyperedges raises NodeHasEdgesError
        unless detach=True, which deletes them with it (one commit). Returns the counts deleted.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        >>> g.delete_node("a", detach=True)
        {'nodes': 1, 'edges': 1, 'hyperedges': 0}
        """
        st = self._state()
        slot = st.live_slot("node", id)
        ident = st.nodes.ids.id_of(slot)
        edges, hyper = st.incident(slot) if detach else (set(), set())
        hyper_ids = [st.hyper.ids.id_of(h) for h in sorted(hyper)]
        drop = [f"{HYPER_ROW}{st.hyper.ids.seq_at(h)}" for h in sorted(hyper)
                if st.h_embedded[h >> 3] >> (h & 7) & 1]
        if st.node_embedded[slot >> 3] >> (slot & 7) & 1:
            drop.append(f"{NODE_ROW}{st.nodes.ids.seq_at(slot)}")
        doc = {"delete": {"nodes": [ident], "edges": [st.edges.ids.id_of(e) for e in sorted(edges)],
                          "hyperedges": hyper_ids}}
        counts = {"nodes": 1, "edges": len(edges), "hyperedges": len(hyper)}
        self._commit(doc, "graph:delete_node", {"op": "delete_node", "id": ident, "nodes": -1,
                                                "edges": -len(edges), "hyperedges": -len(hyper)}, drop=drop)
        return counts

    def nodes(self, label=None, *, where=None, limit=None):
        """The live nodes (without embeddings), in insertion order; label: only those with it;
        where: a filter on properties in the store's filter algebra (eq ne lt le gt ge in range
        and or not, dotted paths).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=[{"id": 1, "properties": {"n": 5}}, 2])
        >>> [n.id for n in g.nodes(where={"n": {"gt": 3}})]
        [1]
        """
        check_where(where)
        limit = _limit(limit)
        with self._db._lock:
            st = self._state()
            t = st.nodes
            if label is not None:
                check_name(label, "label")
            if where is not None:          # the filter's bitmap, and the label's
                bits = st.k.bitmap_and(t.live, t.props.where(where, t.n))
                if label is not None:
                    bits = st.k.bitmap_and(bits, st.label_index.bitmap(label, t.n))
                slots = st.k.bitmap_rows(bits, t.n) if t.n else ()
            elif label is not None:
                slots = st.label_index.slots(label, t.n)
            else:
                slots = st.k.bitmap_rows(t.live, t.n) if t.n else ()
            slots = slots[:limit] if limit is not None else slots
            return [self._node(st, s) for s in slots]

    # ---- edges ------------------------------------------------------------------------------

    def add_edge(self, src, dst, type, *, id=None, properties=None, weight=1.0, valid_from=None, valid_to=None):
        """Adds an edge src -> dst of `type` and returns its id (generated when not given).
        weight: a finite number; valid_from / valid_to: the window [from, to) in which it holds
        (numbers, e.g. Unix seconds; None: unbounded). UnknownIdError when a node is missing.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> g.add_edge("a", "b", "KNOWS", weight=0.5, valid_from=10)
        0
        """
        check_number(weight, "weight")
        inputs.check_window(valid_from, valid_to, "")
        edge = {"src": src, "dst": dst, "type": type, "id": id, "properties": properties, "weight": weight,
                "valid_from": valid_from, "valid_to": valid_to}
        return self.batch_insert(edges=[edge], _op="add_edge")["edges"][0]

    def _edges(self, st, slots):
        """Edge objects for many slots, each column gathered in one kernel call."""
        if not len(slots):
            return []
        k, t = st.k, st.edges
        rows = slots if isinstance(slots, array.array) else array.array("I", slots)
        col = (lambda buf, fmt: k.gather_rows(buf.buf.head(buf.length), rows, row_bytes=8 if fmt == "d" else 4,
                                              fmt=fmt) if buf is not None else None)
        src, dst, etype = col(st.src, "I"), col(st.dst, "I"), col(st.etype, "I")
        weight, vf, vt = col(st.weight, "d"), col(st.vfrom, "d"), col(st.vto, "d")
        ids, srcs, dsts = t.ids.ids_of(rows), st.nodes.ids.ids_of(src), st.nodes.ids.ids_of(dst)
        props = t.props.dicts(rows)
        return [Edge(ids[i], srcs[i], dsts[i], st.types[etype[i]], props[i],
                     weight[i] if weight is not None else 1.0,
                     number_or_none(vf[i]) if vf is not None else None,
                     number_or_none(vt[i]) if vt is not None else None) for i in range(len(rows))]

    def get_edge(self, id):
        """The Edge with this id (UnknownIdError if absent).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        >>> e = g.get_edge(0); (e.src, e.dst, e.type, e.weight)
        ('a', 'b', 'R', 1.0)
        """
        with self._db._lock:
            st = self._state()
            return self._edges(st, [st.live_slot("edge", id)])[0]

    @_locked
    def update_edge(self, id, *, properties=None, replace=False, remove_properties=(), weight=None,
                    valid_from=_KEEP, valid_to=_KEEP):
        """Changes an edge: properties merged (replace=True: replaced), remove_properties
        dropped, a new weight, a new validity window end (None: unbounded). Returns the Edge.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        >>> g.update_edge(0, weight=2, valid_to=100).weight
        2.0
        """
        st = self._state()
        slot = st.live_slot("edge", id)
        ident = st.edges.ids.id_of(slot)
        u = self._update_common("edge", ident, properties, replace, remove_properties)
        if weight is not None:
            u["weight"] = check_number(weight, "weight")
        for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
            if value is not _KEEP:
                u[name] = check_number(value, name, allow_none=True)
        self._commit({"update": [u]}, "graph:update_edge", {"op": "update_edge", "id": ident, "nodes": 0,
                                                             "edges": 0, "hyperedges": 0})
        return self.get_edge(ident)

    @staticmethod
    def _update_common(kind, ident, properties, replace, remove_properties):
        u = {kind: ident}
        if properties is not None or replace:
            u["props"] = properties if properties is not None else {}
        if replace:
            u["replace"] = True
        remove = [remove_properties] if isinstance(remove_properties, str) else list(remove_properties)
        if remove:
            u["remove"] = remove
        return u

    @_locked
    def delete_edge(self, id):
        """Deletes an edge (UnknownIdError if absent).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        >>> g.delete_edge(0); g.stats()["edges"]
        0
        """
        st = self._state()
        ident = st.edges.ids.id_of(st.live_slot("edge", id))
        self._commit({"delete": {"edges": [ident]}}, "graph:delete_edge",
                     {"op": "delete_edge", "id": ident, "nodes": 0, "edges": -1, "hyperedges": 0})

    def _window_bits(self, st, table, vf, vt, span):
        """Bitmap of slots whose validity window meets span (all when no window column)."""
        k, n = st.k, table.n
        if span is None or vf is None:
            return None
        a = k.mask_range(vf.buf.head(n), -INF, span[1])
        b = k.mask_range(vt.buf.head(n), span[0], INF, lo_inclusive=False)
        return k.bitmap_and(a, b)

    def _select(self, st, table, type_col, types, where, as_of, during):
        """Bitmap of the live slots of a table passing type, where and time filters."""
        k, n = st.k, table.n
        span = traverse.window(as_of, during)
        vf, vt = (st.vfrom, st.vto) if table is st.edges else (st.h_vfrom, st.h_vto)
        bits = bytearray(table.live)
        if not n:
            return bits
        if types is not None:
            tset = traverse.type_set(st, types)
            codes = k.mask_codes(type_col.buf.head(n), tset) if tset else bytearray(len(bits))
            bits = k.bitmap_and(bits, codes)
        window = self._window_bits(st, table, vf, vt, span)
        if window is not None:
            bits = k.bitmap_and(bits, window)
        if where is not None:
            bits = k.bitmap_and(bits, table.props.where(where, n))
        return bits

    def edges(self, type=None, *, where=None, as_of=None, during=None, limit=None):
        """The live edges, in insertion order: type (a name or names), where (a filter on
        properties), as_of (valid at that time: valid_from <= t < valid_to) or during=(t0, t1)
        (valid at some time in [t0, t1]).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> _ = g.add_edge("a", "b", "R", valid_from=0, valid_to=10); _ = g.add_edge("a", "b", "R", valid_from=10)
        >>> [e.id for e in g.edges(as_of=5)], [e.id for e in g.edges(during=(8, 12))]
        ([0], [0, 1])
        """
        types = traverse.type_names(type, "type")
        check_where(where)
        limit = _limit(limit)
        with self._db._lock:
            st = self._state()
            bits = self._select(st, st.edges, st.etype, types, where, as_of, during)
            slots = st.k.bitmap_rows(bits, st.edges.n) if st.edges.n else array.array("I")
            return self._edges(st, slots[:limit] if limit is not None else slots)

    # ---- hyperedges ---------------------------------------------------------------------------

    def add_hyperedge(self, nodes, type, *, id=None, properties=None, embedding=None, valid_from=None,
                      valid_to=None):
        """Adds a hyperedge over two or more nodes (in order) and returns its id. embedding:
        a vector of the store's dimension (search_hyperedges finds it).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b", "c"])
        >>> g.add_hyperedge(["a", "b", "c"], "MEETING", properties={"room": 4})
        0
        """
        return self.batch_insert(hyperedges=[{"nodes": nodes, "type": type, "id": id, "properties": properties,
                                              "embedding": embedding, "valid_from": valid_from,
                                              "valid_to": valid_to}], _op="add_hyperedge")["hyperedges"][0]

    def _hyperedge(self, st, slot, *, embedding=False):
        t = st.hyper
        ident = t.ids.id_of(slot)
        nodes = tuple(st.nodes.ids.ids_of(st.h_nodes_of(slot)))
        embedded = bool(st.h_embedded[slot >> 3] >> (slot & 7) & 1)
        vector = None
        if embedding and embedded:
            try:
                vector = self._db.get(f"{HYPER_ROW}{t.ids.seq_at(slot)}").vector
            except UnknownIdError:
                vector = None
        vf = number_or_none(st.read1(st.h_vfrom, slot, -INF))
        vt = number_or_none(st.read1(st.h_vto, slot, INF))
        return Hyperedge(ident, nodes, st.types[st.htype.buf.read(slot, slot + 1)[0]], t.props.get(slot), vf, vt,
                         embedded, vector)

    def get_hyperedge(self, id):
        """The Hyperedge with this id, its embedding included (UnknownIdError if absent).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> g.add_hyperedge(["b", "a"], "PAIR"); g.get_hyperedge(0).nodes
        0
        ('b', 'a')
        """
        with self._db._lock:
            st = self._state()
            return self._hyperedge(st, st.live_slot("hyperedge", id), embedding=True)

    @_locked
    def update_hyperedge(self, id, *, properties=None, replace=False, remove_properties=(), valid_from=_KEEP,
                         valid_to=_KEEP, embedding=_KEEP):
        """Changes a hyperedge's properties, validity window or embedding (None removes it).
        Returns the Hyperedge.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> _ = g.add_hyperedge(["a", "b"], "PAIR"); g.update_hyperedge(0, properties={"k": 1}).properties
        {'k': 1}
        """
        st = self._state()
        slot = st.live_slot("hyperedge", id)
        ident = st.hyper.ids.id_of(slot)
        u = self._update_common("hyperedge", ident, properties, replace, remove_properties)
        for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
            if value is not _KEEP:
                u[name] = check_number(value, name, allow_none=True)
        rows, drop = None, ()
        row = f"{HYPER_ROW}{st.hyper.ids.seq_at(slot)}"
        if embedding is not _KEEP:
            u["embedded"] = embedding is not None
            if embedding is not None:
                rows = ([row], self._embeddings([embedding]), [self._hyper_row_meta(ident, st.hyper.ids.seq_at(slot),
                                                                  self._hyperedge(st, slot).type)])
            elif st.h_embedded[slot >> 3] >> (slot & 7) & 1:
                drop = (row,)
        self._commit({"update": [u]}, "graph:update_hyperedge", {"op": "update_hyperedge", "id": ident,
                                                                  "nodes": 0, "edges": 0, "hyperedges": 0},
                     rows=rows, drop=drop)
        return self.get_hyperedge(ident)

    @_locked
    def delete_hyperedge(self, id):
        """Deletes a hyperedge (UnknownIdError if absent).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> _ = g.add_hyperedge(["a", "b"], "PAIR"); g.delete_hyperedge(0); g.hyperedges()
        []
        """
        st = self._state()
        slot = st.live_slot("hyperedge", id)
        ident = st.hyper.ids.id_of(slot)
        drop = (f"{HYPER_ROW}{st.hyper.ids.seq_at(slot)}",) if st.h_embedded[slot >> 3] >> (slot & 7) & 1 else ()
        self._commit({"delete": {"hyperedges": [ident]}}, "graph:delete_hyperedge",
                     {"op": "delete_hyperedge", "id": ident, "nodes": 0, "edges": 0, "hyperedges": -1}, drop=drop)

    def hyperedges(self, type=None, *, where=None, as_of=None, during=None, limit=None):
        """The live hyperedges, in insertion order, filtered as edges() filters edges.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> _ = g.add_hyperedge(["a", "b"], "PAIR", valid_to=5); [h.id for h in g.hyperedges(as_of=7)]
        []
        """
        types = traverse.type_names(type, "type")
        check_where(where)
        limit = _limit(limit)
        with self._db._lock:
            st = self._state()
            bits = self._select(st, st.hyper, st.htype, types, where, as_of, during)
            slots = st.k.bitmap_rows(bits, st.hyper.n) if st.hyper.n else array.array("I")
            slots = slots[:limit] if limit is not None else slots
            return [self._hyperedge(st, s) for s in slots]

    def hyperedges_of(self, node, *, types=None, as_of=None, during=None):
        """The live hyperedges that hold `node`, in insertion order (filters as for edges()).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b", "c"])
        >>> _ = g.add_hyperedge(["a", "b"], "PAIR"); _ = g.add_hyperedge(["b", "c"], "PAIR")
        >>> [h.nodes for h in g.hyperedges_of("c")]
        [('b', 'c')]
        """
        types = traverse.type_names(types)
        with self._db._lock:
            st = self._state()
            slot = st.live_slot("node", node)
            found = traverse.hyperedges_of(st, slot, types, traverse.window(as_of, during))
            return [self._hyperedge(st, s) for s in sorted(found)]

    def _hyper_row_meta(self, ident, seq, type):
        return {"kind": HYPER_KIND, "hyperedge": ident, "seq": str(seq), "type": type}

    # ---- bulk -------------------------------------------------------------------------------

    def batch_insert(self, nodes=(), edges=(), hyperedges=(), *, _op="batch_insert"):
        """Adds nodes, then edges and hyperedges (which may join the nodes of the same call) in
        one graph commit (plus one store commit for the embeddings given); returns {"nodes",
        "edges", "hyperedges"}: the ids, in order, each an Ids (agentdb.graph.ids: a read-only
        sequence equal to the list of them; list() or tolist() gives one). nodes: ids or dicts {id?, labels?,
        properties?, embedding?}, or for large batches a dict of columns {"id": [...]?,
        "labels": name or [...]?, "properties": {name: [...]}?} (None in a property column: that
        node lacks it); edges: dicts {src, dst, type, id?, properties?, weight?, valid_from?,
        valid_to?}, tuples (src, dst, type[, properties]), or a dict of columns {"src": [...],
        "dst": [...], "type": name or [...], "weight": [...]}. A column may be a list, a range,
        an array.array or a numpy array. hyperedges: dicts {nodes, type, id?, properties?,
        embedding?, valid_from?, valid_to?}. All or nothing: the first bad entry raises before
        anything changes.

        >>> g = Graph(agentdb.open(dim=2))
        >>> g.batch_insert(nodes=[1, 2, 3], edges={"src": [1, 2], "dst": [2, 3], "type": "NEXT"})
        {'nodes': [1, 2, 3], 'edges': [0, 1], 'hyperedges': []}
        >>> g.batch_insert(nodes={"id": range(10, 13), "labels": "Doc", "properties": {"n": [5, None, 7]}})["nodes"]
        [10, 11, 12]
        >>> g.get_node(11).properties, g.get_node(12).labels
        ({}, ('Doc',))
        """
        db = self._db
        with db._lock:
            st = self._attached() if (nodes or edges or hyperedges) else self._state()
            doc = {}
            node_ids, node_seqs, labels, node_emb = [], array.array("Q"), [], []
            nodes = list(nodes) if not isinstance(nodes, (list, dict)) else nodes
            if nodes:
                section, node_ids, labels, node_emb = inputs.nodes_section(nodes, st.k)
                node_seqs = st.nodes.ids.plan(node_ids if type(node_ids) is range else section.get("ids"),
                                              section["n"])[0]
                doc["nodes"] = section
            block, block_first = _block(node_ids, node_seqs)
            edge_ids = []
            if isinstance(edges, dict) or edges:
                section, given = inputs.edges_section(edges if isinstance(edges, dict) else list(edges), block, st.k,
                                                      block_first)
                edge_ids = self._planned_ids(st.edges, given, section["n"])
                doc["edges"] = section
            hyper_ids, hyper_emb, hyper_types = [], [], []
            if hyperedges:
                section, given, hyper_emb, hyper_types = inputs.hyperedges_section(list(hyperedges), block)
                hyper_ids = self._planned_ids(st.hyper, given, section["n"])
                hyper_seqs = st.hyper.ids.plan(section["ids"], section["n"])[0]
                doc["hyperedges"] = section
            if not doc:
                return {"nodes": [], "edges": [], "hyperedges": []}
            rows = None
            if node_emb or hyper_emb:
                ids, vectors, metadata = [], [], []
                for i, vector in node_emb:
                    ids.append(f"{NODE_ROW}{node_seqs[i]}")
                    vectors.append(vector)
                    metadata.append(self._node_row_meta(block[i], node_seqs[i], labels[i]))
                for i, vector in hyper_emb:
                    ids.append(f"{HYPER_ROW}{hyper_seqs[i]}")
                    vectors.append(vector)
                    metadata.append(self._hyper_row_meta(hyper_ids[i], hyper_seqs[i], hyper_types[i]))
                rows = (ids, _vectors(self._embeddings(vectors)), metadata)
            counts = {"nodes": len(block), "edges": len(edge_ids), "hyperedges": len(hyper_ids)}
            single = {"add_node": block, "add_edge": edge_ids, "add_hyperedge": hyper_ids}.get(_op)
            change = {"op": _op, "id": single[0] if single else None, **counts}
            self._commit(doc, f"graph:{_op}:nodes={counts['nodes']},edges={counts['edges']},"
                              f"hyperedges={counts['hyperedges']}", change, rows=rows)
            return {"nodes": Ids(block), "edges": Ids(edge_ids), "hyperedges": Ids(hyper_ids)}

    @staticmethod
    def _planned_ids(table, given, n):
        seqs = table.ids.plan(given, n)[0]
        if given is None:
            return seqs if type(seqs) is range else list(seqs)
        return [ident if ident is not None else seq for ident, seq in zip(given, seqs)]

    # ---- traversal --------------------------------------------------------------------------

    def neighbors(self, id, *, types=None, direction="out", as_of=None, during=None):
        """The distinct nodes one edge away, in the order their edges were added: direction
        "out" (id -> n), "in" (n -> id) or "both"; types: edge types to follow; as_of / during:
        only edges valid then. A node with a loop is its own neighbour.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b", "c"], edges=[("a", "b", "R"), ("c", "a", "S")])
        >>> g.neighbors("a"), g.neighbors("a", direction="both"), g.neighbors("a", direction="in", types="R")
        (['b'], ['b', 'c'], [])
        """
        traverse.check_direction(direction)
        types = None if types is None else traverse.type_names(types)
        span = None if as_of is None and during is None else traverse.window(as_of, during)
        with self._db._lock:
            st = self._state()
            return st.nodes.ids.ids_of(traverse.neighbors(st, traverse.node_slot(st, id), direction, types, span))

    def k_hop(self, node, k, *, types=None, direction="out", as_of=None, during=None):
        """The nodes within k hops of `node` (itself excluded), nearest first, in the order they
        were reached (breadth-first), following edges as neighbors() does.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b", "c", "d"], edges=[("a", "b", "R"), ("b", "c", "R"), ("c", "d", "R")])
        >>> g.k_hop("a", 2), g.k_hop("d", 5, direction="in")
        (['b', 'c'], ['c', 'b', 'a'])
        """
        traverse.check_direction(direction)
        types = None if types is None else traverse.type_names(types)
        span = None if as_of is None and during is None else traverse.window(as_of, during)
        with self._db._lock:
            st = self._state()
            return st.nodes.ids.ids_of(traverse.k_hop(st, traverse.node_slot(st, node), k, direction, types, span))

    def shortest_path(self, a, b, *, types=None, direction="out", weighted=False, as_of=None, during=None):
        """A shortest path from a to b as a Path (nodes, edges, weight), or None when b cannot
        be reached: the fewest hops, or with weighted=True the least sum of weights (weights must
        be >= 0: ArgumentError otherwise). Edges are followed as neighbors() follows them.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b", "c"])
        >>> _ = g.batch_insert(edges=[("a", "c", "R"), {"src": "a", "dst": "b", "type": "R", "weight": 0.1}, {"src": "b", "dst": "c", "type": "R", "weight": 0.1}])
        >>> g.shortest_path("a", "c").nodes, g.shortest_path("a", "c", weighted=True).nodes
        (['a', 'c'], ['a', 'b', 'c'])
        """
        traverse.check_direction(direction)
        types = traverse.type_names(types)
        span = traverse.window(as_of, during)
        with self._db._lock:
            st = self._state()
            sa, sb = st.live_slot("node", a), st.live_slot("node", b)
            found = traverse.shortest_path(st, sa, sb, direction, types, span, bool(weighted))
            if found is None:
                return None
            nodes, edges, weight = found
            return Path(st.nodes.ids.ids_of(nodes), st.edges.ids.ids_of(edges), weight)

    # ---- search -------------------------------------------------------------------------------

    def search(self, vector, k=10, *, label=None, within=None, where=None, ef=None, exact=False):
        """The k nodes whose embeddings are nearest `vector`, best first, through the store's
        query: label (only nodes with it), within (a set of node ids, e.g. a k_hop() result),
        where (a filter on node properties); ef and exact as for the store's query().

        >>> g = Graph(agentdb.open(dim=2))
        >>> _ = g.batch_insert(nodes=[{"id": "x", "embedding": [1, 0]}, {"id": "y", "embedding": [0, 1]}])
        >>> [h.id for h in g.search([0.9, 0.1], k=1)], [h.id for h in g.search([0.9, 0.1], k=1, within={"y"})]
        (['x'], ['y'])
        """
        check_where(where)
        with self._db._lock:
            st = self._state()
            t = st.nodes
            wanted = None
            if within is not None:
                if isinstance(within, (str, int)):
                    within = [within]
                wanted = {s for s in map(t.slot, within) if s is not None}
            if where is not None:
                bits = t.props.where(where, t.n)
                chosen = set(st.k.bitmap_rows(bits, t.n)) if t.n else set()
                wanted = chosen if wanted is None else wanted & chosen
            filt = {"kind": NODE_KIND}
            if label is not None:
                filt[f"label:{check_name(label, 'label')}"] = True
            if wanted is not None:
                seqs = [str(t.ids.seq_at(s)) for s in sorted(wanted) if st.node_embedded[s >> 3] >> (s & 7) & 1]
                if not seqs:
                    return []
                filt["seq"] = {"in": seqs}
            hits = []
            [vector] = self._embeddings([vector])
            for hit in self._db.query(vector, k, where=filt, ef=ef, exact=exact):
                slot = _row_slot(t, hit.id, NODE_ROW)
                if slot is None or not st.node_embedded[slot >> 3] >> (slot & 7) & 1 or \
                        label is not None and label not in st.node_labels[slot] or \
                        wanted is not None and slot not in wanted:
                    continue               # a row the graph does not claim (left by a crash)
                node = self._node(st, slot)
                hits.append(NodeHit(node.id, hit.score, node))
            return hits

    def search_hyperedges(self, vector, k=10, *, type=None, ef=None, exact=False):
        """The k hyperedges whose embeddings are nearest `vector`, best first (type: only those).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"])
        >>> _ = g.add_hyperedge(["a", "b"], "PAIR", embedding=[0, 1]); [h.id for h in g.search_hyperedges([0, 1])]
        [0]
        """
        with self._db._lock:
            st = self._state()
            filt = {"kind": HYPER_KIND}
            if type is not None:
                filt["type"] = check_name(type, "type")
            hits = []
            [vector] = self._embeddings([vector])
            for hit in self._db.query(vector, k, where=filt, ef=ef, exact=exact):
                slot = _row_slot(st.hyper, hit.id, HYPER_ROW)
                if slot is None or not st.h_embedded[slot >> 3] >> (slot & 7) & 1:
                    continue
                h = self._hyperedge(st, slot)
                hits.append(HyperedgeHit(h.id, hit.score, h))
            return hits

    # ---- the whole graph ------------------------------------------------------------------------

    def cypher(self, query, params=None, **limits):
        """Runs a query of the Cypher subset (agentdb.graph.cypher: MATCH, OPTIONAL MATCH,
        WHERE, WITH, UNWIND, RETURN, ORDER BY, SKIP, LIMIT, UNION, aggregates, the vector
        SEARCH, shortestPath, and CREATE / MERGE / SET / REMOVE / DELETE, which run in one
        db.transaction(): all or nothing) and returns a CypherResult (columns, rows;
        records() as dicts; updates: what changed). limits: max_rows, max_steps.

        >>> import agentdb; g = agentdb.open(dim=2).graph
        >>> a = g.add_node("a", labels=["P"], properties={"age": 3}); b = g.add_node("b", labels=["P"])
        >>> _ = g.add_edge("a", "b", "KNOWS")
        >>> g.cypher("MATCH (x:P)-[:KNOWS]->(y) RETURN x.age AS age, y.age AS other").rows
        [(3, None)]
        """
        from .cypher import execute           # the parser and executor load on first use

        return execute(self, query, params, **limits)

    def stats(self):
        """Counts: nodes, edges, hyperedges, per label, per edge and hyperedge type, nodes with
        embeddings, and avg_degree (edges at a node, in and out: 2 x edges / nodes).

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=[{"id": "a", "labels": "P"}, "b"], edges=[("a", "b", "R")])
        >>> s = g.stats(); s["nodes"], s["edges"], s["labels"], s["edge_types"], s["avg_degree"]
        (2, 1, {'P': 1}, {'R': 1}, 1.0)
        """
        with self._db._lock:
            st = self._state()
            k = st.k
            edge_types = Counter()
            if st.edges.count:
                codes = k.gather_rows(st.etype.buf.head(st.etype.length), st.edges.live_slots(), row_bytes=4, fmt="I")
                edge_types = Counter(codes)
            hyper_types = Counter()
            if st.hyper.count:
                codes = k.gather_rows(st.htype.buf.head(st.htype.length), st.hyper.live_slots(), row_bytes=4, fmt="I")
                hyper_types = Counter(codes)
            nodes = st.nodes.count
            return {
                "nodes": nodes, "edges": st.edges.count, "hyperedges": st.hyper.count,
                "labels": dict(st.label_index.items()),
                "edge_types": {st.types[c]: n for c, n in sorted(edge_types.items())},
                "hyperedge_types": {st.types[c]: n for c, n in sorted(hyper_types.items())},
                "embedded_nodes": k.bitmap_count(st.node_embedded) if st.nodes.n else 0,
                "avg_degree": 2 * st.edges.count / nodes if nodes else 0.0,
                "kernel_bytes": st.nbytes,
            }

    def subscribe(self, callback):
        """Calls callback(change) after each committed change of this store's graph (inside a
        db.transaction(), once it commits); change = {"op", "id" (of the object the call named,
        or None), "nodes", "edges", "hyperedges" (how many were added, negative when deleted),
        "epoch" (the file's commit, None in memory)}. Returns the function that unsubscribes.

        >>> g = Graph(agentdb.open(dim=2)); seen = []; stop = g.subscribe(seen.append)
        >>> _ = g.add_node("a"); stop(); _ = g.add_node("b"); [c["op"] for c in seen]
        ['add_node']
        """
        if not callable(callback):
            raise ArgumentError(f"subscribe() needs a callable, got {type(callback).__name__}")
        db = self._db
        subscribers = getattr(db, "_graph_subscribers", None)
        if subscribers is None:
            subscribers = db._graph_subscribers = []
        subscribers.append(callback)

        def unsubscribe():
            if callback in subscribers:
                subscribers.remove(callback)
        return unsubscribe

    def compact(self):
        """Drops the slots of deleted nodes, edges and hyperedges and rebuilds every adjacency;
        for a file, appends the whole graph as one snapshot record (one commit), from which a
        reopen starts. Returns how many slots were dropped.

        >>> g = Graph(agentdb.open(dim=2)); _ = g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        >>> g.delete_edge(0); g.compact()
        {'nodes': 0, 'edges': 1, 'hyperedges': 0}
        """
        db = self._db
        db._writable()
        with db._lock:
            st = getattr(db, "_graph", None)
            if st is None:
                return {"nodes": 0, "edges": 0, "hyperedges": 0}
            dropped = persist.dead_slots(st)
            fresh, doc = persist.compacted(st)
            if db._log is not None:
                db._log.segments([(rvf_segments.META, persist.encode(doc, snapshot=True))], "graph:compact")
            db._graph = fresh
            db._after_commit()
            return dropped


def _block(ids, seqs):
    """(the ids of a call's nodes, the first of them when they are a run of ints else None):
    given ids as they are, generated ones their seqs (a range for a run)."""
    if type(ids) is range:
        return ids, ids.start
    if type(seqs) is range and ids.count(None) == len(ids):
        return seqs, seqs.start
    return [ident if ident is not None else seq for ident, seq in zip(ids, seqs)], None


def _row_slot(table, row_id, prefix):
    """The slot whose seq a store row's id names ("graph-node:<seq>"), or None."""
    if not isinstance(row_id, str) or not row_id.startswith(prefix):
        return None
    try:
        seq = int(row_id[len(prefix):])
    except ValueError:
        return None
    slot = table.ids.slot_of_seq(seq)
    return slot if table.is_live(slot) else None


def _limit(limit):
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ArgumentError(f"limit must be a non-negative integer, got {limit!r}")
    return limit


def _vectors(vectors):
    """Embeddings as rows for the store's ingest (its checks name a bad one)."""
    if len(vectors) == 1 and isinstance(vectors[0], KBuffer):
        return vectors[0]
    return [list(v) if not isinstance(v, (list, tuple)) else v for v in vectors]

