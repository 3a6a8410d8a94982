"""A Hypothesis state machine runs random graph changes (nodes, edges, hyperedges: add, update,
delete, detach, batch, compact, reopen) against a plain-dict model and checks every walk; and
k_hop / shortest paths agree with networkx on generated graphs — on every backend."""
import math

import networkx as nx
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import agentdb
from agentdb import IdError, NodeHasEdgesError, UnknownIdError
from agentdb.graph.model import Graph
from graph_support import RefGraph, random_graph
from support import StoreMachine
from support import SEED

node_ids = st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "f"]), st.integers(0, 12))
types = st.sampled_from(["R", "S", "T"])
labels = st.lists(st.sampled_from(["L1", "L2", "L3"]), max_size=2)
props = st.dictionaries(st.sampled_from(["n", "s", "f"]), st.one_of(st.integers(-5, 5), st.text(max_size=3)),
                        max_size=2)
times = st.one_of(st.none(), st.integers(0, 20))
directions = st.sampled_from(["out", "in", "both"])


class GraphModel(StoreMachine, RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.open_store("agentdb-graph-", "g.rvf", dim=2)
        self.g = Graph(self.db)
        self.ref = RefGraph()

    # ---- changes ------------------------------------------------------------------------------

    @rule(ident=node_ids, ls=labels, p=props)
    def add_node(self, ident, ls, p):
        if ident in self.ref.nodes:
            with pytest.raises(IdError):
                self.g.add_node(ident)
            return
        assert self.g.add_node(ident, labels=ls, properties=p) == ident
        self.ref.nodes[ident] = {"labels": set(ls), "props": dict(p)}

    @rule(ls=labels)
    def add_generated_node(self, ls):
        ident = self.g.add_node(labels=ls)
        assert isinstance(ident, int) and ident not in self.ref.nodes
        self.ref.nodes[ident] = {"labels": set(ls), "props": {}}

    @rule(src=node_ids, dst=node_ids, t=types, w=st.integers(0, 9), lo=times, span=times)
    def add_edge(self, src, dst, t, w, lo, span):
        hi = None if span is None else (lo or 0) + span
        if src not in self.ref.nodes or dst not in self.ref.nodes:
            with pytest.raises(UnknownIdError):
                self.g.add_edge(src, dst, t)
            return
        e = self.g.add_edge(src, dst, t, weight=w, valid_from=lo, valid_to=hi)
        assert e not in self.ref.edges
        self.ref.edges[e] = {"src": src, "dst": dst, "type": t, "props": {}, "weight": float(w),
                             "from": -math.inf if lo is None else lo, "to": math.inf if hi is None else hi}

    @rule(pairs=st.lists(st.tuples(node_ids, node_ids, types), min_size=1, max_size=8))
    def batch_edges(self, pairs):
        if any(s not in self.ref.nodes or d not in self.ref.nodes for s, d, _ in pairs):
            with pytest.raises(UnknownIdError):
                self.g.batch_insert(edges=pairs)
            return
        ids = self.g.batch_insert(edges=pairs)["edges"]
        for e, (s, d, t) in zip(ids, pairs):
            self.ref.edges[e] = {"src": s, "dst": d, "type": t, "props": {}, "weight": 1.0, "from": -math.inf,
                                 "to": math.inf}

    @rule(first=st.integers(0, 14), data=st.data(), label=st.one_of(st.none(), st.sampled_from(["L1", "L2"])))
    def batch_columns(self, first, data, label):
        """Node columns (an id run, a shared label, a property column with gaps) and edge
        columns among them: the column forms of the change doc."""
        n = data.draw(st.integers(1, 4))
        ids = list(range(first, first + n))
        nums = data.draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=n, max_size=n))
        pairs = data.draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=5))
        nodes = {"id": ids, "properties": {"n": nums}, **({"labels": label} if label else {})}
        edges = {"src": [s for s, _ in pairs], "dst": [d for _, d in pairs], "type": "R"}
        if any(i in self.ref.nodes for i in ids):
            with pytest.raises(IdError):
                self.g.batch_insert(nodes=nodes, edges=edges)
            return
        got = self.g.batch_insert(nodes=nodes, edges=edges)
        assert got["nodes"] == ids and len(got["edges"]) == len(pairs)
        for i, v in zip(ids, nums):
            self.ref.nodes[i] = {"labels": {label} if label else set(), "props": {} if v is None else {"n": v}}
        for e, (s, d) in zip(got["edges"], pairs):
            self.ref.edges[e] = {"src": s, "dst": d, "type": "R", "props": {}, "weight": 1.0, "from": -math.inf,
                                 "to": math.inf}
        for name in ("L1", "L2"):
            assert [x.id for x in self.g.nodes(name)] == [i for i, d in self.ref.nodes.items() if name in d["labels"]]
        assert [x.id for x in self.g.nodes(where={"n": {"ge": 0}})] == [
            i for i, d in self.ref.nodes.items() if isinstance(d["props"].get("n"), int) and d["props"]["n"] >= 0]

    @rule(members=st.lists(node_ids, min_size=2, max_size=4), t=types)
    def add_hyperedge(self, members, t):
        if any(m not in self.ref.nodes for m in members):
            with pytest.raises(UnknownIdError):
                self.g.add_hyperedge(members, t)
            return
        h = self.g.add_hyperedge(members, t)
        self.ref.hyper[h] = {"nodes": tuple(members), "type": t, "props": {}}

    @rule(ident=node_ids, p=props, replace=st.booleans(), add=labels, drop=labels)
    def update_node(self, ident, p, replace, add, drop):
        if ident not in self.ref.nodes:
            with pytest.raises(UnknownIdError):
                self.g.update_node(ident, properties=p)
            return
        node = self.g.update_node(ident, properties=p, replace=replace, add_labels=add, remove_labels=drop)
        mine = self.ref.nodes[ident]
        mine["props"] = dict(p) if replace else {**mine["props"], **p}
        mine["labels"] = (mine["labels"] - set(drop)) | set(add)
        assert node.properties == mine["props"] and set(node.labels) == mine["labels"]

    @precondition(lambda self: self.ref.edges)
    @rule(data=st.data(), w=st.integers(0, 9))
    def update_edge(self, data, w):
        e = data.draw(st.sampled_from(sorted(self.ref.edges, key=str)))
        self.g.update_edge(e, weight=w, properties={"w": w})
        self.ref.edges[e]["weight"] = float(w)
        self.ref.edges[e]["props"] = {"w": w}

    @rule(ident=node_ids, detach=st.booleans())
    def delete_node(self, ident, detach):
        if ident not in self.ref.nodes:
            with pytest.raises(UnknownIdError):
                self.g.delete_node(ident)
            return
        edges, hyper = self.ref.incident(ident)
        if (edges or hyper) and not detach:
            with pytest.raises(NodeHasEdgesError):
                self.g.delete_node(ident)
            return
        assert self.g.delete_node(ident, detach=detach) == {"nodes": 1, "edges": len(edges), "hyperedges": len(hyper)}
        for e in edges:
            del self.ref.edges[e]
        for h in hyper:
            del self.ref.hyper[h]
        del self.ref.nodes[ident]

    @precondition(lambda self: self.ref.edges)
    @rule(data=st.data())
    def delete_edge(self, data):
        e = data.draw(st.sampled_from(sorted(self.ref.edges, key=str)))
        self.g.delete_edge(e)
        del self.ref.edges[e]

    @precondition(lambda self: self.ref.hyper)
    @rule(data=st.data())
    def delete_hyperedge(self, data):
        h = data.draw(st.sampled_from(sorted(self.ref.hyper, key=str)))
        self.g.delete_hyperedge(h)
        del self.ref.hyper[h]

    @rule()
    def compact(self):
        self.g.compact()

    @rule()
    def reopen(self):
        self.reopen_store()
        self.g = Graph(self.db)

    # ---- reads --------------------------------------------------------------------------------

    @invariant()
    def same_objects(self):
        g, ref = self.g, self.ref
        assert [n.id for n in g.nodes()] == list(ref.nodes)
        for n in g.nodes():
            assert set(n.labels) == ref.nodes[n.id]["labels"] and n.properties == ref.nodes[n.id]["props"]
        assert [e.id for e in g.edges()] == list(ref.edges)
        for e in g.edges():
            d = ref.edges[e.id]
            assert (e.src, e.dst, e.type, e.weight, e.properties) == (d["src"], d["dst"], d["type"], d["weight"],
                                                                       d["props"])
        assert [(h.id, h.nodes, h.type) for h in g.hyperedges()] == [(h, d["nodes"], d["type"])
                                                                     for h, d in ref.hyper.items()]
        s = g.stats()
        assert (s["nodes"], s["edges"], s["hyperedges"]) == (len(ref.nodes), len(ref.edges), len(ref.hyper))

    @rule(start=node_ids, k=st.integers(1, 4), direction=directions, t=st.one_of(st.none(), types), at=times)
    def walks(self, start, k, direction, t, at):
        g, ref = self.g, self.ref
        if start not in ref.nodes:
            with pytest.raises(UnknownIdError):
                g.k_hop(start, k)
            return
        wanted = None if t is None else (t,)
        found = g.k_hop(start, k, direction=direction, types=t, as_of=at)
        assert len(found) == len(set(found)) and set(found) == ref.k_hop(start, k, direction, wanted, at)
        depth = [ref.hops(start, n, direction, wanted) if at is None else 0 for n in found]
        assert depth == sorted(depth)                            # nearest first
        near = g.neighbors(start, direction=direction, types=t, as_of=at)
        assert near == list(dict.fromkeys(ref.step(start, direction, wanted, at)))
        assert [h.id for h in g.hyperedges_of(start)] == [h for h, d in ref.hyper.items() if start in d["nodes"]]

    @rule(a=node_ids, b=node_ids, direction=directions)
    def paths(self, a, b, direction):
        if a not in self.ref.nodes or b not in self.ref.nodes:
            return
        path = self.g.shortest_path(a, b, direction=direction)
        hops = self.ref.hops(a, b, direction)
        assert (path is None) == (hops is None)
        if path is not None:
            assert len(path) == hops and path.nodes[0] == a and path.nodes[-1] == b
            for u, v, e in zip(path.nodes, path.nodes[1:], path.edges):
                d = self.ref.edges[e]
                assert (d["src"], d["dst"]) == (u, v) or direction != "out" and (d["dst"], d["src"]) == (u, v)


TestGraphModel = GraphModel.TestCase
TestGraphModel.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestGraphModelWasm = type("GraphModelWasm", (GraphModel,), {"backend": "wasmhost"}).TestCase
TestGraphModelWasm.settings = settings(max_examples=12, stateful_step_count=30, deadline=None)
TestGraphModelFile = type("GraphModelFile", (GraphModel,), {"on_file": True}).TestCase
TestGraphModelFile.settings = settings(max_examples=20, stateful_step_count=25, deadline=None)
TestGraphModelFileWasm = type("GraphModelFileWasm", (GraphModel,), {"on_file": True, "backend": "wasmhost"}).TestCase
TestGraphModelFileWasm.settings = settings(max_examples=6, stateful_step_count=25, deadline=None)


# ---- networkx on generated graphs ------------------------------------------------------------

def nx_graph(nodes, edges, direction, types=None):
    # built per direction from the edge list (nx.MultiGraph(a MultiDiGraph) merges u->v and v->u
    # edges that share a key)
    G = nx.MultiGraph() if direction == "both" else nx.MultiDiGraph()
    G.add_nodes_from(nodes)
    for s, d, t, w in edges:
        if types is None or t in types:
            G.add_edge(*((d, s) if direction == "in" else (s, d)), weight=w)
    return G


@pytest.mark.parametrize("seed,n,m", [(SEED, 60, 150), (SEED + 1, 300, 1200), (SEED + 2, 500, 600)])
def test_k_hop_and_paths_agree_with_networkx(kernel, seed, n, m):
    nodes, edges = random_graph(seed, n, m)
    g = Graph(agentdb.open(dim=2, kernel=kernel))
    half = len(edges) // 2        # half in the CSR, half as the delta (a bigger second batch rebuilds)
    g.batch_insert(nodes=nodes, edges=[{"src": s, "dst": d, "type": t, "weight": w} for s, d, t, w in edges[:half]])
    g.k_hop(nodes[0], 1)
    g.batch_insert(edges=[{"src": s, "dst": d, "type": t, "weight": w} for s, d, t, w in edges[half:]])
    starts = nodes[:: max(1, n // 12)]
    for direction in ("out", "in", "both"):
        for types in (None, ("A",)):
            G = nx_graph(nodes, edges, direction, types)
            for s in starts:
                lengths = nx.single_source_shortest_path_length(G, s)
                for k in (1, 2, 3):
                    want = {v for v, d in lengths.items() if 0 < d <= k}
                    assert set(g.k_hop(s, k, direction=direction, types=types)) == want
                for t in starts[:4]:
                    p = g.shortest_path(s, t, direction=direction, types=types)
                    assert (p is None) == (t not in lengths)
                    if p is not None:
                        assert len(p) == lengths[t]
                    w = g.shortest_path(s, t, direction=direction, types=types, weighted=True)
                    if w is not None:
                        assert w.weight == pytest.approx(nx.dijkstra_path_length(G, s, t), rel=1e-12)
                        assert sum(g.get_edge(e).weight for e in w.edges) == pytest.approx(w.weight, rel=1e-12)


def test_walks_are_the_same_on_every_backend():
    nodes, edges = random_graph(SEED + 7, 200, 900)
    results = []
    for backend in ("native", "wasmhost"):
        g = Graph(agentdb.open(dim=2, kernel=agentdb.kernel.load(backend)))
        g.batch_insert(nodes=nodes, edges=[{"src": s, "dst": d, "type": t, "weight": w} for s, d, t, w in edges])
        results.append([(g.k_hop(s, 3, direction="both"), g.shortest_path(s, nodes[-1], weighted=True),
                         g.neighbors(s, direction="in")) for s in nodes[:20]])
    assert results[0] == results[1]

