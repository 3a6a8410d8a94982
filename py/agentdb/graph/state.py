"""GraphState: a graph's nodes, edges and hyperedges as arrays (the edge columns and every
adjacency in kernel memory), and the one way they change: a change document ("doc", the
layout persisted as META graph records, docs/FORMAT.md) is checked by prepare(), which
resolves every id and raises a typed error before anything changes, and carried out by the
function prepare() returns. A live write and a file's replay run the same two steps, so a
reopened graph is the graph that was written.

Doc sections, applied in this order (each section checked whole before it changes anything):
  delete     {"hyperedges": [ids], "edges": [ids], "nodes": [ids]}: a node must have no other
             live edge or hyperedge left (NodeHasEdgesError)
  nodes      {"n", "ids" ([id or None] or None: generated) or "id_first" (int: the ids are a run
             from it), "labels" ([[str]]) or "label_sets" ([[str]]) + "label" (u32 codes into
             them; None: all the first), "props" ([dict or None]) or "prop_cols" ({name: [value or
             None]}, scalars), "embedded" (u8 array), "seq" (u64 array: a snapshot's)}
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

The state's parts, each a mixin of GraphState (they share its arrays, so methods read best):
    state_prepare.py   prepare(): every section checked (state_fields.py: one field at a time)
    state_apply.py     the steps prepare() returns: arrays appended, slots killed, values set
    state_snapshot.py  snapshot(): the live graph as one doc
    state_slots.py     SlotTable: one kind's ids, live bitmap and properties
"""
import array

from ..errors import UnknownIdError
from ..store.arrays import GrowableArray
from .adjacency import Adjacency, Scratch
from .labels import LabelIndex
from .state_apply import ApplyMixin
from .state_fields import INF
from .state_prepare import PrepareMixin
from .state_slots import SlotTable
from .state_snapshot import SnapshotMixin
from .tables import normalize_id


class GraphState(PrepareMixin, ApplyMixin, SnapshotMixin):
    """The graph held by a store (db._graph); agentdb.graph.Graph is its API."""

    def __init__(self, kernel):
        k = self.k = kernel
        self.nodes = SlotTable(k)
        self.node_labels = []            # slot -> sorted tuple of labels
        self.label_index = LabelIndex(k)  # label -> the live slots with it
        self.node_embedded = bytearray()
        self.edges = SlotTable(k)
        self.src, self.dst, self.etype = GrowableArray(k, "I"), GrowableArray(k, "I"), GrowableArray(k, "I")
        self.weight = self.vfrom = self.vto = None       # GrowableArray('d') once an edge needs one
        self.hyper = SlotTable(k)
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


def number_or_none(value):
    """A float64 column value back as the API shows it: None for an unbounded end."""
    return None if value in (INF, -INF) else value

