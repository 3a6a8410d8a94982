"""Walks over a GraphState: neighbours, k-hop expansion, shortest paths, a node's hyperedges.

A walk is one kernel call (agk_graph_bfs): breadth-first over the adjacency's CSR rows of each
hop's frontier and its delta, with the walk's filter applied to each edge in the kernel: the
live bitmap (left out while every edge is live), the wanted types (a bitmap over type codes)
and a time window (as_of t is [t, t]; during (t0, t1) is [t0, t1]; an edge valid over
[valid_from, valid_to) passes when the two meet). The kernel marks the start, reads each hop's
frontier from the part of the out list the hop before wrote and clears the visited bits of
the walk's nodes before it returns; its fixed arguments are bound once per walk kind and state
version (a Walker), so k_hop and neighbors cost one call with three numbers and one read.
Weighted paths are one Dijkstra call (agk_graph_dijkstra) over a CSR built without a delta.
"""
import array
import math
from dataclasses import dataclass, field

from ..errors import ArgumentError, KernelError
from .tables import check_name, check_number

DIRECTIONS = ("out", "in", "both")


@dataclass(frozen=True)
class Path:
    """A path: its nodes from the start to the end, the edges between them (ids, one fewer)
    and the sum of their weights. len(path) is the number of hops."""

    nodes: list
    edges: list = field(default_factory=list)
    weight: float = 0.0

    def __len__(self):
        return len(self.edges)


def check_direction(direction):
    if direction not in DIRECTIONS:
        raise ArgumentError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    return direction


def window(as_of, during):
    """(t0, t1) for a walk's time filter, or None (every edge, whatever its validity)."""
    if as_of is not None and during is not None:
        raise ArgumentError("as_of and during are alternatives: give one of them")
    if as_of is not None:
        t = check_number(as_of, "as_of")
        return t, t
    if during is not None:
        if not isinstance(during, (list, tuple)) or len(during) != 2:
            raise ArgumentError(f"during must be (t0, t1), got {during!r}")
        t0, t1 = (check_number(t, f"during[{i}]") for i, t in enumerate(during))
        if t0 > t1:
            raise ArgumentError(f"during: t0 ({t0}) is after t1 ({t1})")
        return t0, t1
    return None


def type_names(types, what="types"):
    """A type filter as a tuple of names (a single string is one type), or None for any."""
    if types is None:
        return None
    if isinstance(types, str):
        types = (types,)
    if isinstance(types, dict) or not hasattr(types, "__iter__"):
        raise ArgumentError(f"{what} must be a type name or a list of them, got {types!r}")
    return tuple(check_name(t, what) for t in types)


def type_set(state, types):
    """The bitmap of the state's type codes among `types` (None when any type goes), or b""
    when none of them exists (nothing passes)."""
    if types is None:
        return None
    codes = [state.type_code[t] for t in types if t in state.type_code]
    if not codes:
        return b""
    bits = bytearray((len(state.types) + 7) // 8)
    for c in codes:
        bits[c >> 3] |= 1 << (c & 7)
    return bits


def edge_filter(state, types, span, *, hyper=False):
    """graph_expand's filter arguments for the edges (or hyperedges), or None when nothing can
    pass (none of the types exists)."""
    table = state.hyper if hyper else state.edges
    tset = type_set(state, types)
    if tset == b"":
        return None
    args = dict(edge_mask=table.live_kbuf(), n_edges=table.n)
    if tset is not None:
        args.update(etype=(state.htype if hyper else state.etype).buf, type_set=tset, n_types=len(state.types))
    vf, vt = (state.h_vfrom, state.h_vto) if hyper else (state.vfrom, state.vto)
    if span is not None and vf is not None:
        args.update(vfrom=vf.buf, vto=vt.buf, window=array.array("d", span))
    return args


WALKS_KEPT = 16          # bound walkers a state keeps (one per direction, type filter and kind in use)


def _walker(state, direction, types, span, *, open_start=False, parents=None):
    """The bound Walker (agk_graph_bfs) of a walk over the state's scratch, or None when no edge
    can pass. Walks without a time filter or parents are bound once and kept until the next
    change (or CSR build, or scratch growth): the same walk again is then one kernel call."""
    key = (direction, types, open_start) if span is None and parents is None else None
    if key is not None:
        kept = state.walks.get(key)
        if kept is not None and kept[0] == state.version and kept[1].builds == kept[2] and \
                kept[3] is state.scratch.out:
            return kept[4]
    adj = state.adjacency(direction)
    filt = edge_filter(state, types, span)
    walker = None
    s = state.scratch.ready(state.nodes.n)
    if filt is not None:
        if state.edges.count == state.edges.n:      # every edge is live: no mask to test per edge
            filt["edge_mask"] = None
        n_nodes = state.nodes.n
        walker = state.k.graph_walker(**adj.walk_args(state.edges.n), **filt, n_keys=n_nodes, n_targets=n_nodes,
                                      frontier_bits=s.frontier_bits, visited=s.visited, out=s.out,
                                      parent_node=parents[0] if parents else None,
                                      parent_edge=parents[1] if parents else None, open_start=open_start)
    if key is not None:
        walks = state.walks
        if len(walks) >= WALKS_KEPT or any(v[0] != state.version for v in walks.values()):
            walks.clear()                 # (stale walkers hold the old arrays alive)
        walks[key] = (state.version, adj, adj.builds, s.out, walker)
    return walker


def node_slot(state, ident):
    """The live slot of node `ident` (state.live_slot, with its errors), the plain id types
    looked up directly."""
    nodes = state.nodes
    slot = nodes.ids.slot(ident) if type(ident) is int or type(ident) is str else None
    return slot if nodes.is_live(slot) else state.live_slot("node", ident)


def k_hop(state, slot, k, direction, types, span):
    """Slots within k hops of slot (itself excluded), nearest first, in the order reached."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ArgumentError(f"k must be a non-negative integer, got {k!r}")
    walk = _walker(state, direction, types, span) if k else None
    if walk is None:
        return array.array("I")
    return walk.read(1, walk(slot, hops=min(k, 0xFFFFFFFE)))


def neighbors(state, slot, direction, types, span):
    """Distinct slots one edge away (slot itself when it has a loop), in the order reached."""
    walk = _walker(state, direction, types, span, open_start=True)
    if walk is None:
        return array.array("I")
    return walk.read(1, walk(slot, hops=1))


def hyperedges_of(state, slot, types, span):
    """Distinct live hyperedge slots holding node `slot` (passing the filter), in order."""
    if not state.hyper.count:
        return array.array("I")
    filt = edge_filter(state, types, span, hyper=True)
    if filt is None:
        return array.array("I")
    adj = state.membership()
    n_hyper = state.hyper.n
    kern = state.k
    s = state.scratch.ready(max(state.nodes.n, n_hyper))
    s.out.write(array.array("I", [slot]))
    seen = kern.alloc((n_hyper + 7) // 8, "B")
    out = kern.alloc(max(1, n_hyper), "I")
    count = kern.graph_expand(**adj.walk_args(state.h_members.length), **filt, frontier=s.out, n_frontier=1,
                              n_keys=state.nodes.n, n_targets=n_hyper, out=out, out_cap=n_hyper,
                              frontier_bits=s.frontier_bits, visited=seen)
    return out.read(0, count)


def relationships(state, slot, direction, types):
    """The live edge slots leaving ("out") or entering ("in") node `slot`, of `types` (None:
    any), ascending (insertion order): one kernel call over the CSR row and the delta, retried
    once with room for all when the first guess is short."""
    filt = edge_filter(state, types, None)
    if filt is None or not state.edges.count:
        return array.array("I")
    adj = state.adjacency(direction)
    kern = state.k
    s = state.scratch.ready(state.nodes.n)
    s.out.write(array.array("I", [slot]))
    cap = 64
    while True:
        tgt, eid = kern.alloc(cap, "I"), kern.alloc(cap, "I")
        count = kern.graph_expand(**adj.walk_args(state.edges.n), **filt, frontier=s.out, n_frontier=1,
                                  n_keys=state.nodes.n, n_targets=state.nodes.n, out=tgt, out_cap=cap, out_edge=eid,
                                  frontier_bits=s.frontier_bits)
        if count <= cap:
            return array.array("I", sorted(eid.read(0, count)))
        cap = count


def _path_back(state, parent_node, parent_edge, a, b):
    nodes, edges = [b], []
    v = b
    while v != a:
        e = parent_edge.read(v, v + 1)[0]
        v = parent_node.read(v, v + 1)[0]
        edges.append(e)
        nodes.append(v)
    nodes.reverse()
    edges.reverse()
    return nodes, edges


def _path_weight(state, edges):
    if state.weight is None:
        return float(len(edges))
    total = 0.0
    for e in edges:                    # in path order: the sum Dijkstra computes
        total += state.weight.buf.read(e, e + 1)[0]
    return total


def shortest_path(state, a, b, direction, types, span, weighted):
    """(node slots, edge slots, weight) of a shortest path from a to b, or None: the fewest
    hops (the first found breadth-first), or with weighted=True the least total weight."""
    if a == b:
        return [a], [], 0.0
    filt = edge_filter(state, types, span)
    if filt is None:
        return None
    kern, n = state.k, state.nodes.n
    if weighted and state.weight is not None:
        adj = state.adjacency(direction, max_delta=0)
        dist, pn, pe, heap, pos = kern.alloc(n, "d"), *(kern.alloc(n, "I") for _ in range(4))
        try:
            kern.graph_dijkstra(off=adj.off, tgt=adj.tgt, eid=adj.eid, n_rows=adj.rows, weight=state.weight.buf,
                                source=a, target=b, n_nodes=n, dist=dist, parent_node=pn, parent_edge=pe, heap=heap,
                                pos=pos, **filt)
        except KernelError as exc:
            if "AGK_E_ARG" in str(exc) or "code -1" in str(exc):
                raise ArgumentError("a weighted shortest path needs weights >= 0; the edges walked include a "
                                    "negative weight") from None
            raise
        if math.isinf(dist.read(b, b + 1)[0]):
            return None
        nodes, edges = _path_back(state, pn, pe, a, b)
        return nodes, edges, dist.read(b, b + 1)[0]
    pn, pe = kern.alloc(max(1, n), "I"), kern.alloc(max(1, n), "I")
    walk = _walker(state, direction, types, span, parents=(pn, pe))
    count = walk(a, stop=b)               # ends once b is reached: then b is the last node
    if count < 2 or walk.read(count - 1, count)[0] != b:
        return None
    nodes, edges = _path_back(state, pn, pe, a, b)
    return nodes, edges, _path_weight(state, edges)

