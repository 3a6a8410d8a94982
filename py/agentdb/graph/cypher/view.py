"""The executor's view of a graph: nodes and each node's relationships read from the graph's
state when a query first needs them and kept for the rest of the query, so a query reads the
part of the graph it walks, not the whole graph. The executor holds the store's lock while it
runs, so nothing changes underneath a view; after an update it takes a new one."""
from .. import traverse


class View:
    """Nodes by id, by label and by property filter; a node's relationships out and in."""

    def __init__(self, graph):
        self.graph = graph
        self.state = graph._state()
        self._nodes = {}                 # id -> Node, or None for an id the graph lacks
        self._edges = {}                 # id -> Edge
        self._adjacent = {"out": {}, "in": {}}    # direction -> {(node id, types): [Edge]}

    def node(self, ident):
        """The Node with this id, or None."""
        try:
            return self._nodes[ident]
        except KeyError:
            pass
        except TypeError:                # an unhashable value is no node's id
            return None
        st = self.state
        slot = st.nodes.slot(ident)
        node = None if slot is None else self.graph._node(st, slot)
        self._nodes[ident] = node
        return node

    def nodes(self, label=None, where=None):
        """The live nodes (with `label`, matching the store filter `where`), in insertion order."""
        found = self.graph.nodes(label, where=where)
        for n in found:
            self._nodes.setdefault(n.id, n)
        return found

    def count(self, label=None):
        """How many nodes (with `label`): what a scan from a pattern's end would look at."""
        st = self.state
        return st.nodes.count if label is None else st.label_index.count(label)

    def relationships(self, node_id, direction, types=()):
        """The live relationships leaving ("out") or entering ("in") a node, of `types` (any
        when empty), in insertion order: one kernel walk over the adjacency, filtered there."""
        key = (node_id, types)
        cache = self._adjacent[direction]
        got = cache.get(key)
        if got is None:
            st = self.state
            slot = st.nodes.slot(node_id) if st.edges.count else None
            got = []
            if slot is not None:
                got = self.graph._edges(st, traverse.relationships(st, slot, direction, types or None))
                for e in got:
                    self._edges.setdefault(e.id, e)
            cache[key] = got
        return got

    def edge(self, ident):
        """The Edge with this id, or None."""
        got = self._edges.get(ident)
        if got is None:
            st = self.state
            slot = st.edges.slot(ident)
            if slot is not None:
                got = self._edges[ident] = self.graph._edges(st, [slot])[0]
        return got
