"""GraphState: a graph's nodes, edges and hyperedges as arrays (the edge columns and every
adjacency in kernel memory), and the one way they change: a change document ("doc", the
layout persisted as META graph records, docs/FORMAT.md) is checked by prepare(), which
resolves every id and raises a typed error before anything changes, and carried out by the
function prepare() returns. A live write and a file's replay run the same two steps, so a
reopened graph is the graph that was written.

Doc sections, applied in this order (each section checked whole before it changes anything):
  delete     {"hyperedges": [ids], "edges": [ids], "nodes": [ids]}: a node must have no other
             live edge or hyperedge left (NodeHasEdgesError)
  nodes      {"n", "ids" ([id or None] or None: generated), "labels" ([[str]]), "props"
             ([dict or None]), "embedded" (u8 array), "seq" (u64 array: a snapshot's)}
  edges      {"n", "ids", "ref" ([node ids]), "src", "dst" (u32 arrays: index i < the nodes
             section's n is that section's i-th node, else ref[i - n]), "types" ([str]), "type"
             (u32 codes into types; None: all types[0]), "weight", "valid_from", "valid_to"
             (f64 arrays; None: all 1.0 / -inf / +inf), "props", "seq"}
  hyperedges {"n", "ids", "ref", "off" (u32, n + 1), "members" (u32 indexes as for edges), "types",
             "type", "valid_from", "valid_to", "props", "embedded", "seq"}
  update     [{"node" | "edge" | "hyperedge": id, "props", "replace", "remove", "add_labels",
             "remove_labels", "weight", "valid_from", "valid_to", "embedded"}], in order
A snapshot (the whole graph) is a doc with "next": [node, edge, hyperedge next seq] and the
seq arrays, applied to an empty state.
"""
import array
import functools
import math

from ..errors import ArgumentError, IdError, NodeHasEdgesError, UnknownIdError
from ..store.arrays import GrowableArray
from ..store.bitmaps import set_bit, set_bits
from .adjacency import Adjacency, Scratch
from .tables import ID_INT_MAX, IdTable, PropertyTable, check_labels, check_name, check_number, check_properties, normalize_id

KINDS = ("node", "edge", "hyperedge")
INF = math.inf


def _has(bitmap, i):
    return bitmap[i >> 3] >> (i & 7) & 1


def _grow(bitmap, n):
    need = (n + 7) // 8
    if len(bitmap) < need:
        bitmap.extend(bytes(need - len(bitmap)))


def _count(n, what):
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1 << 32:
        raise ArgumentError(f"{what}: a count must be an integer in 0 .. 2**32 - 1, got {n!r}")
    return n


def _array(sec, key, fmt, n, what, optional=True):
    value = sec.get(key)
    if value is None:
        if optional:
            return None
        raise ArgumentError(f"{what}.{key} is missing")
    if not isinstance(value, array.array) or value.typecode != fmt or len(value) != n:
        shown = f"{value.typecode!r} array of {len(value)}" if isinstance(value, array.array) else type(value).__name__
        raise ArgumentError(f"{what}.{key} must be a {fmt!r} array of {n} values, got {shown}")
    return value


def _list(sec, key, n, what):
    value = sec.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n:
        raise ArgumentError(f"{what}.{key} must be a list of {n} values, got "
                            f"{type(value).__name__}{f' of {len(value)}' if isinstance(value, list) else ''}")
    return value


def _finite_array(values, what, *, lo=-INF):
    """The first index whose value is not finite (or below lo), checked in C-speed passes."""
    if values is None:
        return
    if all(map(math.isfinite, values)) and (lo == -INF or min(values, default=0.0) >= lo):
        return
    for i, v in enumerate(values):
        if not math.isfinite(v) or v < lo:
            raise ArgumentError(f"{what}[{i}] must be a finite number{f' >= {lo}' if lo != -INF else ''}, got {v}")


def _windows(vf, vt, what):
    """valid_from / valid_to arrays: no NaN, from <= to."""
    for name, values in (("valid_from", vf), ("valid_to", vt)):
        if values is not None and any(map(math.isnan, values)):
            i = next(i for i, v in enumerate(values) if v != v)
            raise ArgumentError(f"{what}.{name}[{i}] is NaN (None means unbounded)")
    if vf is not None and vt is not None and not all(map(float.__le__, vf, vt)):
        i = next(i for i, (a, b) in enumerate(zip(vf, vt)) if not a <= b)
        raise ArgumentError(f"{what}[{i}]: valid_from ({vf[i]}) is after valid_to ({vt[i]})")
    if vf is not None and any(v == INF for v in vf) or vt is not None and any(v == -INF for v in vt):
        raise ArgumentError(f"{what}: valid_from cannot be +inf, nor valid_to -inf")


def _pair(vf, vt, n):
    """Validity columns come in pairs: the missing one of the two filled with its default."""
    if vf is None and vt is not None:
        vf = array.array("d", [-INF]) * n
    if vt is None and vf is not None:
        vt = array.array("d", [INF]) * n
    return vf, vt


class _Table:
    """What nodes, edges and hyperedges share: ids, a live bitmap (and its kernel copy for
    walks), properties, counts."""

    def __init__(self, kernel):
        self.k = kernel
        self.ids = IdTable()
        self.live = bytearray()
        self.props = PropertyTable(kernel)
        self.n = 0                     # slots, dead ones included
        self.count = 0                 # live ones
        self._live_k, self._live_dirty = None, True

    def live_kbuf(self):
        """The live bitmap in kernel memory (copied there after a change)."""
        need = max(1, len(self.live))
        if self._live_k is None or len(self._live_k) < need:
            self._live_k = self.k.alloc(max(need, len(self._live_k or ()) * 3 // 2), "B")
            self._live_dirty = True
        if self._live_dirty:
            if self.live:
                self._live_k.write(self.live)
            self._live_dirty = False
        return self._live_k

    def is_live(self, slot):
        return slot is not None and slot < self.n and _has(self.live, slot)

    def slot(self, ident):
        """The live slot of an id, or None."""
        try:
            ident = normalize_id(ident)
        except IdError:
            return None
        slot = self.ids.slot(ident)
        return slot if self.is_live(slot) else None

    def add_slots(self, n):
        first = self.n
        _grow(self.live, first + n)
        set_bits(self.live, first, n, True)
        self._live_dirty = True
        self.n += n
        self.count += n
        return first

    def kill(self, slot):
        set_bit(self.live, slot, False)
        self._live_dirty = True
        self.ids.forget(slot)
        self.props.retire(slot)
        self.count -= 1

    def live_slots(self):
        return self.k.bitmap_rows(self.live, self.n) if self.n else array.array("I")


class GraphState:
    """The graph held by a store (db._graph); agentdb.graph.Graph is its API."""

    def __init__(self, kernel):
        k = self.k = kernel
        self.nodes = _Table(k)
        self.node_labels = []            # slot -> sorted tuple of labels
        self.label_index = {}            # label -> set of live slots
        self.node_embedded = bytearray()
        self.edges = _Table(k)
        self.src, self.dst, self.etype = GrowableArray(k, "I"), GrowableArray(k, "I"), GrowableArray(k, "I")
        self.weight = self.vfrom = self.vto = None       # GrowableArray('d') once an edge needs one
        self.hyper = _Table(k)
        self.h_off = GrowableArray(k, "I")
        self.h_off.append(array.array("I", [0]), 1)
        self.h_members, self.h_owner, self.htype = GrowableArray(k, "I"), GrowableArray(k, "I"), GrowableArray(k, "I")
        self.h_vfrom = self.h_vto = None
        self.h_embedded = bytearray()
        self.types, self.type_code = [], {}   # edge and hyperedge types share one dictionary
        self.out = Adjacency(k, self.src, self.dst)
        self.inn = Adjacency(k, self.dst, self.src)
        self.both = Adjacency(k, self.src, self.dst, both=True)
        self.member = Adjacency(k, self.h_members, self.h_owner, ids=self.h_owner)
        self.scratch = Scratch(k)
        self.walks = {}                  # bound expanders of recent walks (agentdb.graph.traverse)
        self.version = 0                 # changes applied (caches of derived values key on it)

    # ---- reading --------------------------------------------------------------------------

    def table(self, kind):
        """The table of "node", "edge" or "hyperedge"."""
        return {"node": self.nodes, "edge": self.edges, "hyperedge": self.hyper}[kind]

    def live_slot(self, kind, ident):
        """The live slot of a `kind` id, or UnknownIdError naming it."""
        ident = normalize_id(ident, f"{kind} id")
        slot = self.table(kind).ids.slot(ident)
        if not self.table(kind).is_live(slot):
            raise UnknownIdError(f"the graph has no {kind} {ident!r}")
        return slot

    def adjacency(self, direction, *, max_delta=None):
        """The edges' adjacency for direction "out", "in" or "both", built if it needs to be."""
        adj = {"out": self.out, "in": self.inn, "both": self.both}[direction]
        adj.ensure(self.edges.n, self.nodes.n, self.nodes.n, self.edges.live_kbuf(), max_delta=max_delta)
        return adj

    def membership(self):
        """The node -> hyperedge adjacency, built if it needs to be."""
        self.member.ensure(self.h_members.length, self.nodes.n, self.hyper.n, None)
        return self.member

    def read1(self, buf, slot, default=None):
        """One value of an optional column (default when the column does not exist)."""
        return default if buf is None else buf.buf.read(slot, slot + 1)[0]

    def h_nodes_of(self, slot):
        """The member node slots of hyperedge `slot`, in order."""
        lo, hi = self.h_off.buf.read(slot, slot + 2)
        return self.h_members.buf.read(lo, hi)

    def incident(self, slot):
        """(edge slots, hyperedge slots) live and touching node `slot`."""
        edges = set()
        for direction in ("out", "in"):
            edges.update(self._entry_ids(self.adjacency(direction), slot, self.edges.n, self.nodes.n,
                                       self.edges.live_kbuf(), self.edges.n))
        hyper = set(self._entry_ids(self.membership(), slot, self.h_members.length, self.hyper.n,
                                  self.hyper.live_kbuf(), self.hyper.n)) if self.hyper.count else set()
        return edges, hyper

    def _entry_ids(self, adj, slot, n_entries, n_targets, mask, n_ids):
        """Ids of the entries (passing mask) of one key, from the CSR and the delta."""
        s = self.scratch.ready(max(self.nodes.n, n_targets))
        s.out.write(array.array("I", [slot]))
        cap = 64
        while True:
            tgt, eid = self.k.alloc(cap, "I"), self.k.alloc(cap, "I")
            count = self.k.graph_expand(**adj.walk_args(n_entries), frontier=s.out, n_frontier=1,
                                        n_keys=self.nodes.n, n_targets=n_targets, n_edges=n_ids, out=tgt,
                                        out_cap=cap, out_edge=eid, edge_mask=mask, frontier_bits=s.frontier_bits)
            if count <= cap:
                return eid.read(0, count)
            cap = count

    # ---- checking a doc (nothing changes) ----------------------------------------------------

    def prepare(self, doc, *, snapshot=False):
        """Checks a change doc against this state and returns the function that applies it
        (typed errors name the first problem; nothing changes until the function runs)."""
        if not isinstance(doc, dict):
            raise ArgumentError(f"a graph change is a dict, got {type(doc).__name__}")
        unknown = set(doc) - {"delete", "nodes", "edges", "hyperedges", "update", "next"}
        if unknown:
            raise ArgumentError(f"a graph change has unknown sections {sorted(unknown)}")
        if snapshot:
            if self.nodes.n or self.edges.n or self.hyper.n:
                raise ArgumentError("a snapshot applies to an empty graph")
            nxt = doc.get("next")
            if not isinstance(nxt, list) or len(nxt) != 3 or not all(
                    type(v) is int and 0 <= v < 1 << 64 for v in nxt):
                raise ArgumentError(f"a snapshot's next must be 3 seq counters, got {nxt!r}")
        elif "next" in doc:
            raise ArgumentError("only a snapshot has 'next'")
        steps = []
        if doc.get("delete") is not None:
            steps.append(self._prep_delete(doc["delete"]))
        adds = [doc.get(s) for s in ("nodes", "edges", "hyperedges")]
        if any(sec is not None for sec in adds):
            steps.append(self._prep_adds(*adds, snapshot=snapshot))
        if doc.get("update") is not None:
            steps.append(self._prep_updates(doc["update"]))
        if snapshot:
            steps.append(lambda: self._set_next(doc["next"]))

        def run():
            for step in steps:
                step()
            self.version += 1
        return run

    def _set_next(self, nxt):
        for table, value in zip((self.nodes, self.edges, self.hyper), nxt):
            table.ids.next_seq = max(table.ids.next_seq, value)

    def _slots_of(self, kind, ids, what):
        if not isinstance(ids, list):
            raise ArgumentError(f"{what} must be a list of ids, got {type(ids).__name__}")
        slots = []
        for ident in ids:
            slot = self.live_slot(kind, ident)
            if slot not in slots:
                slots.append(slot)
        return slots

    def _prep_delete(self, sec):
        if not isinstance(sec, dict) or set(sec) - {"nodes", "edges", "hyperedges"}:
            raise ArgumentError("delete: expected {nodes, edges, hyperedges}")
        h = self._slots_of("hyperedge", sec.get("hyperedges") or [], "delete.hyperedges")
        e = self._slots_of("edge", sec.get("edges") or [], "delete.edges")
        nodes = self._slots_of("node", sec.get("nodes") or [], "delete.nodes")
        gone_e, gone_h = set(e), set(h)
        for slot in nodes:
            edges, hyper = self.incident(slot)
            edges -= gone_e
            hyper -= gone_h
            if edges or hyper:
                ident = self.nodes.ids.id_of(slot)
                raise NodeHasEdgesError(f"node {ident!r} still has {len(edges)} edge(s) and {len(hyper)} "
                                        f"hyperedge(s); delete them first or pass detach=True")

        def run():
            for slot in h:
                self.hyper.kill(slot)
                set_bit(self.h_embedded, slot, False)
            for slot in e:
                self.edges.kill(slot)
            for adj in (self.out, self.inn, self.both):
                adj.retire(len(e))
            self.member.retire(len(h))
            for slot in nodes:
                self.nodes.kill(slot)
                set_bit(self.node_embedded, slot, False)
                for label in self.node_labels[slot]:
                    self.label_index[label].discard(slot)
                    if not self.label_index[label]:
                        del self.label_index[label]
        return run

    def _prep_ids(self, table, sec, n, what, snapshot):
        """(ids or None, seq plan) for n new slots: ids checked, unique, not live."""
        ids = _list(sec, "ids", n, what)
        if ids is not None:
            kinds = set(map(type, ids))
            if not (kinds <= {int, str, type(None)} and (int not in kinds or 0 <= min(
                    i for i in ids if type(i) is int) and max(i for i in ids if type(i) is int) <= ID_INT_MAX)
                    and "" not in ids):
                ids = [None if i is None else normalize_id(i, f"{what}.ids[{j}]") for j, i in enumerate(ids)]
            given = [i for i in ids if i is not None] if None in ids else ids
            if len(set(given)) != len(given):
                seen = set()
                dup = next(i for i in given if i in seen or seen.add(i))
                raise IdError(f"{what}: id {dup!r} appears twice")
            if table.n:
                # an int at or past the next seq names nothing yet (every seq so far is below it)
                nxt, named = table.ids.next_seq, table.ids.named
                taken = [i for i in given if (i in named or type(i) is int and i < nxt)
                         and table.is_live(table.ids.slot(i))]
                if taken:
                    raise IdError(f"{what}: the graph already has {what.rstrip('s')} {taken[0]!r}")
        if snapshot:
            seqs = _array(sec, "seq", "Q", n, what, optional=False)
            if n and (any(a >= b for a, b in zip(seqs, seqs[1:])) or len(table.ids) and seqs[0] <= table.ids.seqs[-1]):
                raise ArgumentError(f"{what}.seq must be ascending")
        else:
            seqs = None
        return ids, seqs

    def _types(self, sec, n, what):
        """(type names, codes array or None: all the first) -> the state's codes (new names
        added when the step runs), as a function."""
        types = sec.get("types")
        if not isinstance(types, list) or (n and not types):
            raise ArgumentError(f"{what}.types must be a list of type names, got {types!r}")
        for t in types:
            check_name(t, f"{what} type")
        codes = _array(sec, "type", "I", n, what)
        if codes is None and n and len(types) != 1:
            raise ArgumentError(f"{what}: {len(types)} types need a 'type' array")
        if codes is not None and n and max(codes) >= len(types):
            raise ArgumentError(f"{what}.type: code {max(codes)} names no type (there are {len(types)})")
        return types, codes

    def _intern(self, types):
        remap = array.array("I")
        for t in types:
            code = self.type_code.get(t)
            if code is None:
                code = self.type_code[t] = len(self.types)
                self.types.append(t)
            remap.append(code)
        return remap

    def _endpoints(self, sec, n_block, what):
        """Slots of the ref ids (live nodes)."""
        ref = sec.get("ref") or []
        if not isinstance(ref, list):
            raise ArgumentError(f"{what}.ref must be a list of node ids")
        slots = array.array("I")
        for ident in ref:
            slot = self.nodes.slot(ident)
            if slot is None:
                raise UnknownIdError(f"{what} refers to node {ident!r}, which is not in the graph")
            slots.append(slot)
        return slots

    def _indexes(self, values, limit, what):
        if len(values) and max(values) >= limit:
            raise ArgumentError(f"{what}: index {max(values)} names no node (there are {limit})")

    def _prep_adds(self, nodes, edges, hyper, *, snapshot):
        steps = []
        n_block = 0
        node_first = self.nodes.n
        if nodes is not None:
            if not isinstance(nodes, dict):
                raise ArgumentError("nodes: expected a dict")
            n = n_block = _count(nodes.get("n"), "nodes.n")
            ids, seqs = self._prep_ids(self.nodes, nodes, n, "nodes", snapshot)
            labels = _list(nodes, "labels", n, "nodes")
            if labels is not None:
                labels = [check_labels(ls, f"nodes.labels[{i}]") if ls else () for i, ls in enumerate(labels)]
            props = nodes.get("props")
            props = check_properties(props, n) if props is not None else None
            emb = _array(nodes, "embedded", "B", n, "nodes")
            if emb is not None and n and max(emb) > 1:
                raise ArgumentError("nodes.embedded holds 0 or 1 per node")
            steps.append(functools.partial(self._add_nodes, n, ids, seqs, labels, props, emb))
        if edges is not None:
            if not isinstance(edges, dict):
                raise ArgumentError("edges: expected a dict")
            m = _count(edges.get("n"), "edges.n")
            eids, eseqs = self._prep_ids(self.edges, edges, m, "edges", snapshot)
            ref = self._endpoints(edges, n_block, "edges")
            src = _array(edges, "src", "I", m, "edges", optional=False)
            dst = _array(edges, "dst", "I", m, "edges", optional=False)
            self._indexes(src, n_block + len(ref), "edges.src")
            self._indexes(dst, n_block + len(ref), "edges.dst")
            types, codes = self._types(edges, m, "edges")
            weight = _array(edges, "weight", "d", m, "edges")
            _finite_array(weight, "edges.weight")
            vf, vt = _pair(_array(edges, "valid_from", "d", m, "edges"), _array(edges, "valid_to", "d", m, "edges"), m)
            _windows(vf, vt, "edges")
            eprops = edges.get("props")
            eprops = check_properties(eprops, m) if eprops is not None else None
            for buf in (self.src, self.dst, self.etype):
                buf.reserve(self.edges.n + m)
            steps.append(functools.partial(self._add_edges, m, eids, eseqs, node_first, n_block, ref, src, dst, types,
                                           codes, weight, vf, vt, eprops))
        if hyper is not None:
            if not isinstance(hyper, dict):
                raise ArgumentError("hyperedges: expected a dict")
            h = _count(hyper.get("n"), "hyperedges.n")
            hids, hseqs = self._prep_ids(self.hyper, hyper, h, "hyperedges", snapshot)
            ref = self._endpoints(hyper, n_block, "hyperedges")
            off = _array(hyper, "off", "I", h + 1, "hyperedges", optional=False)
            members = hyper.get("members")
            if not isinstance(members, array.array) or members.typecode != "I":
                raise ArgumentError("hyperedges.members must be a 'I' array")
            if off[0] != 0 or off[h] != len(members) or any(b - a < 2 for a, b in zip(off, off[1:])):
                raise ArgumentError("hyperedges.off must start at 0, end at the member count and give every "
                                    "hyperedge 2 or more nodes")
            self._indexes(members, n_block + len(ref), "hyperedges.members")
            types, codes = self._types(hyper, h, "hyperedges")
            vf, vt = _pair(_array(hyper, "valid_from", "d", h, "hyperedges"),
                           _array(hyper, "valid_to", "d", h, "hyperedges"), h)
            _windows(vf, vt, "hyperedges")
            hprops = hyper.get("props")
            hprops = check_properties(hprops, h) if hprops is not None else None
            emb = _array(hyper, "embedded", "B", h, "hyperedges")
            if emb is not None and h and max(emb) > 1:
                raise ArgumentError("hyperedges.embedded holds 0 or 1 per hyperedge")
            steps.append(functools.partial(self._add_hyper, h, hids, hseqs, node_first, n_block, ref, off, members,
                                           types, codes, vf, vt, hprops, emb))

        def run():
            for step in steps:
                step()
        return run

    def _endpoint_slots(self, node_first, n_block, ref, index):
        table = array.array("I", range(node_first, node_first + n_block))
        table.extend(ref)
        if not len(index):
            return array.array("I")
        return self.k.gather_rows(table, index, row_bytes=4, fmt="I")

    def _column(self, name, n_before, default, values, n):
        """Appends n values (or n defaults) to an optional float64 column, made when first needed."""
        col = getattr(self, name)
        if col is None and values is None:
            return
        if col is None:
            col = GrowableArray(self.k, "d")
            if n_before:
                col.append(array.array("d", [default]) * n_before, n_before)
            setattr(self, name, col)
        col.append(values if values is not None else array.array("d", [default]) * n, n)

    def _add_nodes(self, n, ids, seqs, labels, props, emb):
        t = self.nodes
        if seqs is not None:
            t.ids.restore(seqs, ids or [None] * n, 0)
        else:
            t.ids.assign(ids, n)
        first = t.add_slots(n)
        labels = labels if labels is not None else [()] * n
        self.node_labels.extend(labels)
        index = self.label_index
        if labels and all(ls == labels[0] for ls in labels):
            for label in labels[0]:
                index.setdefault(label, set()).update(range(first, first + n))
        else:
            for i, ls in enumerate(labels):
                for label in ls:
                    index.setdefault(label, set()).add(first + i)
        t.props.append(props if props is not None else [None] * n, first)
        _grow(self.node_embedded, first + n)
        if emb is not None:
            for i in (i for i, v in enumerate(emb) if v):
                set_bit(self.node_embedded, first + i, True)

    def _add_edges(self, m, ids, seqs, node_first, n_block, ref, src, dst, types, codes, weight, vf, vt, props):
        t = self.edges
        if seqs is not None:
            t.ids.restore(seqs, ids or [None] * m, 0)
        else:
            t.ids.assign(ids, m)
        n_before = t.n
        self.src.append(self._endpoint_slots(node_first, n_block, ref, src), m)
        self.dst.append(self._endpoint_slots(node_first, n_block, ref, dst), m)
        remap = self._intern(types)
        if codes is None:
            self.etype.append(array.array("I", [remap[0]]) * m if m else array.array("I"), m)
        else:
            self.etype.append(self.k.gather_rows(remap, codes, row_bytes=4, fmt="I") if m else codes, m)
        self._column("weight", n_before, 1.0, weight, m)
        self._column("vfrom", n_before, -INF, vf, m)
        self._column("vto", n_before, INF, vt, m)
        t.props.append(props if props is not None else [None] * m, n_before)
        t.add_slots(m)

    def _add_hyper(self, h, ids, seqs, node_first, n_block, ref, off, members, types, codes, vf, vt, props, emb):
        t = self.hyper
        if seqs is not None:
            t.ids.restore(seqs, ids or [None] * h, 0)
        else:
            t.ids.assign(ids, h)
        n_before = t.n
        base = self.h_members.length
        self.h_members.append(self._endpoint_slots(node_first, n_block, ref, members), len(members))
        self.h_off.append(array.array("I", [base + o for o in off[1:]]), h)
        owner = array.array("I")
        for i, (a, b) in enumerate(zip(off, off[1:])):
            owner.extend(array.array("I", [n_before + i]) * (b - a))
        self.h_owner.append(owner, len(owner))
        remap = self._intern(types)
        if codes is None:
            self.htype.append(array.array("I", [remap[0]]) * h if h else array.array("I"), h)
        else:
            self.htype.append(self.k.gather_rows(remap, codes, row_bytes=4, fmt="I") if h else codes, h)
        self._column("h_vfrom", n_before, -INF, vf, h)
        self._column("h_vto", n_before, INF, vt, h)
        t.props.append(props if props is not None else [None] * h, n_before)
        t.add_slots(h)
        _grow(self.h_embedded, n_before + h)
        if emb is not None:
            for i in (i for i, v in enumerate(emb) if v):
                set_bit(self.h_embedded, n_before + i, True)

    # ---- updates --------------------------------------------------------------------------

    def _prep_updates(self, updates):
        if not isinstance(updates, list):
            raise ArgumentError("update must be a list")
        steps, pending = [], {}           # (kind, slot) -> props as earlier updates in the list leave them
        for i, u in enumerate(updates):
            what = f"update[{i}]"
            if not isinstance(u, dict):
                raise ArgumentError(f"{what} must be a dict")
            kinds = [k for k in KINDS if k in u]
            if len(kinds) != 1:
                raise ArgumentError(f"{what} names one of node, edge or hyperedge")
            kind = kinds[0]
            allowed = {kind, "props", "replace", "remove"} | (
                {"add_labels", "remove_labels", "embedded"} if kind == "node" else
                {"weight", "valid_from", "valid_to"} if kind == "edge" else {"valid_from", "valid_to", "embedded"})
            if set(u) - allowed:
                raise ArgumentError(f"{what}: a {kind} update has no {sorted(set(u) - allowed)}")
            slot = self.live_slot(kind, u[kind])
            table = self.table(kind)
            key = (kind, slot)
            props = None
            if "props" in u or "remove" in u or u.get("replace"):
                new = u.get("props") or {}
                if not isinstance(new, dict):
                    raise ArgumentError(f"{what}.props must be a dict")
                remove = u.get("remove") or []
                if not isinstance(remove, list) or not all(isinstance(r, str) for r in remove):
                    raise ArgumentError(f"{what}.remove must be a list of property names")
                base = {} if u.get("replace") else dict(pending.get(key, table.props.stored(slot)))
                base.update(new)
                for name in remove:
                    base.pop(name, None)
                props = check_properties(base)
                pending[key] = props or {}
            steps.append(self._update_step(kind, slot, u, props, what))

        def run():
            for step in steps:
                step()
        return run

    def _update_step(self, kind, slot, u, props, what):
        table = self.table(kind)
        sets = []
        if props is not None or "props" in u or "remove" in u or u.get("replace"):
            sets.append(lambda: table.props.set(slot, props, table.n))
        if kind == "node":
            add = check_labels(u.get("add_labels") or (), f"{what}.add_labels")
            remove = check_labels(u.get("remove_labels") or (), f"{what}.remove_labels")
            if add or remove:
                sets.append(lambda: self._relabel(slot, add, remove))
        if "embedded" in u:
            if not isinstance(u["embedded"], bool):
                raise ArgumentError(f"{what}.embedded must be true or false")
            bits = self.node_embedded if kind == "node" else self.h_embedded
            sets.append(lambda: set_bit(bits, slot, u["embedded"]))
        if "weight" in u:
            w = check_number(u["weight"], f"{what}.weight")
            sets.append(lambda: self._set_value("weight", 1.0, slot, w, self.edges.n))
        for name in ("valid_from", "valid_to"):
            if name in u:
                check_number(u[name], f"{what}.{name}", allow_none=True)
        if "valid_from" in u or "valid_to" in u:
            cols = ("vfrom", "vto") if kind == "edge" else ("h_vfrom", "h_vto")
            lo = u["valid_from"] if "valid_from" in u else self.read1(getattr(self, cols[0]), slot, -INF)
            hi = u["valid_to"] if "valid_to" in u else self.read1(getattr(self, cols[1]), slot, INF)
            lo, hi = -INF if lo is None else float(lo), INF if hi is None else float(hi)
            if lo > hi:
                raise ArgumentError(f"{what}: valid_from ({lo}) is after valid_to ({hi})")
            sets.append(lambda: (self._set_value(cols[0], -INF, slot, lo, table.n),
                                 self._set_value(cols[1], INF, slot, hi, table.n)))

        def run():
            for s in sets:
                s()
        return run

    def _set_value(self, name, default, slot, value, n):
        col = getattr(self, name)
        if col is None:
            if value == default:
                return
            col = GrowableArray(self.k, "d")
            col.append(array.array("d", [default]) * n, n)
            setattr(self, name, col)
        col.buf.write(array.array("d", [value]), start=slot)

    def _relabel(self, slot, add, remove):
        labels = set(self.node_labels[slot])
        for label in remove:
            if label in labels:
                labels.discard(label)
                self.label_index[label].discard(slot)
                if not self.label_index[label]:
                    del self.label_index[label]
        for label in add:
            if label not in labels:
                labels.add(label)
                self.label_index.setdefault(label, set()).add(slot)
        self.node_labels[slot] = tuple(sorted(labels))

    # ---- the whole state as one doc (a snapshot) ---------------------------------------------

    def snapshot(self):
        """The live graph as a snapshot doc: slots renumbered densely, seqs and given ids kept."""
        k = self.k
        doc = {"next": [self.nodes.ids.next_seq, self.edges.ids.next_seq, self.hyper.ids.next_seq]}
        nodes = self.nodes.live_slots()
        rank, n = k.bitmap_rank(self.nodes.live, self.nodes.n) if self.nodes.n else (array.array("I"), 0)
        doc["nodes"] = {
            "n": n, "ids": _none_if_all_none(self.nodes.ids.named_ids(nodes)),
            "seq": _gather_q(k, self.nodes.ids.seqs, nodes),
            "labels": _none_if_empty([list(self.node_labels[s]) for s in nodes]),
            "props": _none_if_all_none(self.nodes.props.stored_many(nodes)),
            "embedded": _bits_of(self.node_embedded, nodes)}
        edges = self.edges.live_slots()
        m = len(edges)
        remap = (lambda col: k.gather_rows(rank, _gather(k, col, edges, "I"), row_bytes=4, fmt="I")
                 if m else array.array("I"))
        doc["edges"] = {
            "n": m, "ids": _none_if_all_none(self.edges.ids.named_ids(edges)),
            "seq": _gather_q(k, self.edges.ids.seqs, edges), "ref": [], "src": remap(self.src),
            "dst": remap(self.dst), "types": list(self.types),
            "type": _gather(k, self.etype, edges, "I") if len(self.types) != 1 else None,
            "weight": _gather(k, self.weight, edges, "d"), "valid_from": _gather(k, self.vfrom, edges, "d"),
            "valid_to": _gather(k, self.vto, edges, "d"),
            "props": _none_if_all_none(self.edges.props.stored_many(edges))}
        hyper = self.hyper.live_slots()
        h = len(hyper)
        off, members = array.array("I", [0]), array.array("I")
        if h:
            all_off, all_members = self.h_off.read(), self.h_members.read()
            for s in hyper:
                members.extend(all_members[all_off[s]:all_off[s + 1]])
                off.append(len(members))
        doc["hyperedges"] = {
            "n": h, "ids": _none_if_all_none(self.hyper.ids.named_ids(hyper)),
            "seq": _gather_q(k, self.hyper.ids.seqs, hyper), "ref": [], "off": off,
            "members": k.gather_rows(rank, members, row_bytes=4, fmt="I") if len(members) else members,
            "types": list(self.types), "type": _gather(k, self.htype, hyper, "I") if len(self.types) != 1 else None,
            "valid_from": _gather(k, self.h_vfrom, hyper, "d"), "valid_to": _gather(k, self.h_vto, hyper, "d"),
            "props": _none_if_all_none(self.hyper.props.stored_many(hyper)),
            "embedded": _bits_of(self.h_embedded, hyper)}
        return doc

    @property
    def nbytes(self):
        """Bytes of kernel memory the arrays and adjacencies hold (in use)."""
        arrays = [self.src, self.dst, self.etype, self.weight, self.vfrom, self.vto, self.h_off, self.h_members,
                  self.h_owner, self.htype, self.h_vfrom, self.h_vto]
        return sum(a.nbytes for a in arrays if a is not None) + sum(
            adj.nbytes for adj in (self.out, self.inn, self.both, self.member))

    @property
    def empty(self):
        return not (self.nodes.n or self.edges.n or self.hyper.n)


def _none_if_all_none(values):
    return None if all(v is None for v in values) else [v if v else None for v in values] if \
        any(isinstance(v, dict) for v in values) else values


def _none_if_empty(lists):
    return lists if any(lists) else None


def _bits_of(bitmap, slots):
    out = array.array("B", (bitmap[s >> 3] >> (s & 7) & 1 for s in slots))
    return out if any(out) else None


def _gather_q(kernel, seqs, slots):
    """seqs[slots] (u64), gathered in the kernel as 8-byte rows."""
    out = array.array("Q")
    if len(slots):
        out.frombytes(kernel.gather_rows(memoryview(seqs).cast("B"), slots, row_bytes=8, fmt="B"))
    return out


def _gather(kernel, col, slots, fmt):
    """col[slots] for a GrowableArray column (None stays None)."""
    if col is None:
        return None
    if not len(slots):
        return array.array(fmt)
    return kernel.gather_rows(col.buf.head(col.length), slots, row_bytes=8 if fmt == "d" else 4, fmt=fmt)


def number_or_none(value):
    """A float64 column value back as the API shows it: None for an unbounded end."""
    return None if value in (INF, -INF) else value

