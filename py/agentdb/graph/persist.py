"""The graph in the store's .rvf: each change a META graph-ops record (kind 5) in its own
commit, the whole graph a META graph snapshot (kind 6, written by to_bytes() and
Graph.compact()); both are a change doc (agentdb.graph.state) whose array fields hold an index
into the record's arrays (layout in docs/FORMAT.md and agentdb.rvf.meta).

The store's hooks: segments(db) for codec.to_bytes() and load(db, contents.graph) for opening;
the graph's state lives in db._graph (a GraphState, or None for a store without a graph).
"""
from ..errors import AgentDBError, CorruptFileError
from ..rvf import meta as rvf_meta
from ..rvf import segments as rvf_segments
from .state import GraphState

# the fields of each section that are arrays, and their element type
ARRAYS = {
    "nodes": {"seq": "Q", "embedded": "B", "label": "I"},
    "edges": {"seq": "Q", "src": "I", "dst": "I", "type": "I", "weight": "d", "valid_from": "d", "valid_to": "d"},
    "hyperedges": {"seq": "Q", "off": "I", "members": "I", "type": "I", "valid_from": "d", "valid_to": "d",
                   "embedded": "B"},
}


def dead_slots(state):
    """{"nodes", "edges", "hyperedges": the deleted slots compacted() would drop}."""
    return {"nodes": state.nodes.n - state.nodes.count, "edges": state.edges.n - state.edges.count,
            "hyperedges": state.hyper.n - state.hyper.count}


def compacted(state):
    """(the state rebuilt without its dead slots, its snapshot doc); `state` is left as it was."""
    doc = state.snapshot()
    fresh = GraphState(state.k)
    fresh.prepare(doc, snapshot=True)()
    return fresh, doc


def encode(doc, *, snapshot=False):
    """A change doc as the payload of a META graph record (ops, or a snapshot)."""
    head, arrays = {}, []
    for name, value in doc.items():
        fields = ARRAYS.get(name)
        if fields is None or value is None:
            head[name] = value
            continue
        section = {}
        for key, item in value.items():
            if key in fields and item is not None:
                section[key] = len(arrays)
                arrays.append(item)
            else:
                section[key] = item
        head[name] = section
    return rvf_meta.encode_graph(rvf_meta.GRAPH_SNAPSHOT if snapshot else rvf_meta.GRAPH_OPS, head, arrays)


def decode(record):
    """The change doc of a decoded META graph record (agentdb.rvf.meta.decode's value);
    CorruptFileError when an array reference is not one of the record's arrays of its type."""
    doc, arrays, offset = record["doc"], record["arrays"], record["offset"]
    out = {}
    for name, value in doc.items():
        fields = ARRAYS.get(name)
        if fields is None or not isinstance(value, dict):
            out[name] = value
            continue
        section = dict(value)
        for key, fmt in fields.items():
            ref = section.get(key)
            if ref is None:
                continue
            if type(ref) is not int or not 0 <= ref < len(arrays) or arrays[ref].typecode != fmt:
                raise CorruptFileError(f"graph record: {name}.{key} must name one of its {fmt!r} arrays, "
                                       f"got {ref!r}", offset)
            section[key] = arrays[ref]
        out[name] = section
    return out


def replay(kernel, records):
    """A GraphState from a file's graph records (contents.graph), or None when there are none.
    A record that does not apply (an unknown node, a bad field) is a CorruptFileError with its
    segment's offset: a graph is never half loaded."""
    if not records:
        return None
    state = GraphState(kernel)
    for kind, record in records:
        offset = record["offset"]
        try:
            doc = decode(record)
            state.prepare(doc, snapshot=kind == rvf_meta.GRAPH_SNAPSHOT)()
        except CorruptFileError:
            raise
        except (AgentDBError, TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            raise CorruptFileError(f"graph record does not apply: {exc}", offset) from None
    return state


def segments(db):
    """The META segment carrying the store's graph, for to_bytes() (none without a graph)."""
    state = getattr(db, "_graph", None)
    if state is None:
        return []
    return [(rvf_segments.META, encode(state.snapshot(), snapshot=True))]


def load(db, records):
    """Gives a store opened from a file (or bytes) the graph its graph records hold."""
    db._graph = replay(db.kernel, records)
