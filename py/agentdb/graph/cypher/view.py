"""The executor's view of a graph: read once through the public API (nodes(), edges() under
the store's lock), indexed for matching, extended in place by CREATE and read again after
any other update."""


class View:
    """The graph read once: nodes by id and by label, edges out of and into each node."""

    def __init__(self, graph):
        lock = getattr(graph.store, "_lock", None)
        if lock is not None:
            with lock:
                nodes, edges = graph.nodes(), graph.edges()
        else:
            nodes, edges = graph.nodes(), graph.edges()
        self.nodes = nodes
        self.by_id = {n.id: n for n in nodes}
        self.by_label = {}
        for n in nodes:
            for label in n.labels:
                self.by_label.setdefault(label, []).append(n)
        self.out, self.into = {}, {}
        self.add((), edges)

    def add(self, nodes, edges):
        """Takes in what a CREATE made (cheaper than reading the graph again)."""
        for n in nodes:
            self.nodes.append(n)
            self.by_id[n.id] = n
            for label in n.labels:
                self.by_label.setdefault(label, []).append(n)
        for e in edges:
            self.out.setdefault(e.src, []).append(e)
            self.into.setdefault(e.dst, []).append(e)
            if getattr(self, "edge_by_id", None) is not None:
                self.edge_by_id[e.id] = e
