"""agentdb.graph.Graph: every call, its typed errors, subscriptions, search through the store,
and the docstring examples (on every backend)."""
import doctest
import inspect
import math

import pytest

import agentdb
from agentdb import (ArgumentError, DimensionError, FilterError, IdError, MetadataError, NodeHasEdgesError,
                     NonFiniteError, ReadOnlyError, UnknownIdError)
import agentdb.graph
from agentdb.graph import adjacency, inputs, model, persist, state, tables, traverse
from agentdb.graph.model import Edge, Graph, Hyperedge, Node


@pytest.fixture
def g(kernel):
    return Graph(agentdb.open(dim=3, kernel=kernel))


def people(g):
    g.batch_insert(nodes=[{"id": "ada", "labels": ["Person", "Math"], "properties": {"born": 1815, "city": "London"}},
                          {"id": "bab", "labels": "Person", "properties": {"born": 1791}},
                          {"id": "eng", "labels": ["Machine"], "properties": {"built": 1837}}],
                   edges=[("ada", "bab", "KNOWS"), ("bab", "eng", "BUILT"), ("ada", "eng", "WROTE_ABOUT")])


# ---- nodes ------------------------------------------------------------------------------------

def test_nodes_are_added_read_listed_updated_and_deleted(g):
    assert g.add_node("x", labels=["A", "B", "A"], properties={"n": 1, "doc": {"lang": "en"}}) == "x"
    assert g.add_node() == 1 and g.add_node() == 2               # generated ids: the seq ("x" took 0)
    assert g.add_node(7) == 7 and g.add_node() == 8              # an int id moves the generator past it
    assert g.add_node(3) == 3                                    # an int below: still free, still fine
    node = g.get_node("x")
    assert node == Node("x", ("A", "B"), {"n": 1, "doc": {"lang": "en"}}, False, None)
    node.properties["n"] = 99                                   # the caller's copy
    assert g.get_node("x").properties["n"] == 1
    assert "x" in g and g.has_node(1) and not g.has_node(0) and not g.has_node("nope") and len(g) == 6
    assert [n.id for n in g.nodes()] == ["x", 1, 2, 7, 8, 3]
    assert [n.id for n in g.nodes("A")] == ["x"] and g.nodes("Z") == []
    assert [n.id for n in g.nodes(where={"doc.lang": "en"})] == ["x"]
    assert [n.id for n in g.nodes(limit=2)] == ["x", 1]
    updated = g.update_node("x", properties={"m": 2}, add_labels="C", remove_labels=["A"])
    assert updated.properties == {"n": 1, "doc": {"lang": "en"}, "m": 2} and updated.labels == ("B", "C")
    assert g.update_node("x", properties={"k": 0}, replace=True).properties == {"k": 0}
    assert g.update_node("x", remove_properties="k").properties == {}
    assert [n.id for n in g.nodes("A")] == [] and [n.id for n in g.nodes("C")] == ["x"]
    assert g.delete_node("x") == {"nodes": 1, "edges": 0, "hyperedges": 0}
    assert "x" not in g
    assert g.add_node("x") == "x"                                # a deleted id may be used again


def test_node_errors_are_typed(g):
    g.add_node("a")
    with pytest.raises(IdError, match="already has node 'a'"):
        g.add_node("a")
    with pytest.raises(IdError, match="appears twice"):
        g.batch_insert(nodes=["b", "b"])
    for bad in ("", True, -1, 2 ** 63, 1.5, None.__class__):
        with pytest.raises(IdError):
            g.add_node(bad)
    with pytest.raises(UnknownIdError, match="no node 'zz'"):
        g.get_node("zz")
    with pytest.raises(UnknownIdError):
        g.update_node("zz", properties={"a": 1})
    with pytest.raises(UnknownIdError):
        g.delete_node("zz")
    with pytest.raises(MetadataError, match="finite"):
        g.add_node("c", properties={"x": math.nan})
    with pytest.raises(MetadataError, match="keys must be strings"):
        g.add_node("c", properties={1: "x"})
    with pytest.raises(MetadataError):
        g.add_node("c", properties=["not", "a", "dict"])
    with pytest.raises(MetadataError, match="64 bits"):
        g.update_node("a", properties={"big": 2 ** 70})
    with pytest.raises(ArgumentError, match="non-empty string"):
        g.add_node("c", labels=[""])
    with pytest.raises(ArgumentError, match="string or a list"):
        g.add_node("c", labels=5)
    with pytest.raises(ArgumentError, match="unknown keys"):
        g.batch_insert(nodes=[{"id": "c", "label": "typo"}])
    with pytest.raises(FilterError):
        g.nodes(where={"n": {"bogus": 1}})
    with pytest.raises(ArgumentError, match="limit"):
        g.nodes(limit=-1)
    assert [n.id for n in g.nodes()] == ["a"]                   # nothing half-added


def test_delete_node_refuses_while_edges_remain_unless_detach(g):
    people(g)
    g.add_hyperedge(["ada", "eng"], "PAIR")
    with pytest.raises(NodeHasEdgesError, match="2 edge"):
        g.delete_node("ada")
    assert g.delete_node("ada", detach=True) == {"nodes": 1, "edges": 2, "hyperedges": 1}
    assert [e.type for e in g.edges()] == ["BUILT"] and g.hyperedges() == []
    assert isinstance(NodeHasEdgesError("x"), ValueError)


# ---- edges ------------------------------------------------------------------------------------

def test_edges_are_added_read_filtered_updated_and_deleted(g):
    people(g)
    e = g.add_edge("eng", "ada", "NAMED_FOR", id="e-1", properties={"year": 1843}, weight=2.5, valid_from=10,
                   valid_to=20)
    assert e == "e-1"
    assert g.get_edge("e-1") == Edge("e-1", "eng", "ada", "NAMED_FOR", {"year": 1843}, 2.5, 10.0, 20.0)
    assert g.get_edge(0) == Edge(0, "ada", "bab", "KNOWS", {}, 1.0, None, None)
    assert [x.id for x in g.edges()] == [0, 1, 2, "e-1"]
    assert [x.id for x in g.edges("KNOWS")] == [0] and [x.id for x in g.edges(["KNOWS", "BUILT"])] == [0, 1]
    assert g.edges("NOPE") == []
    assert [x.id for x in g.edges(where={"year": {"gt": 1800}})] == ["e-1"]
    assert [x.id for x in g.edges(as_of=15)] == [0, 1, 2, "e-1"]
    assert [x.id for x in g.edges(as_of=20)] == [0, 1, 2]                 # [10, 20): over at 20
    assert [x.id for x in g.edges(during=(0, 10))] == [0, 1, 2, "e-1"]    # valid at 10
    assert [x.id for x in g.edges(during=(0, 9.5))] == [0, 1, 2]
    assert g.update_edge("e-1", weight=1, valid_to=None, properties={"k": 1}).valid_to is None
    assert g.get_edge("e-1").properties == {"year": 1843, "k": 1} and g.get_edge("e-1").weight == 1.0
    assert g.update_edge("e-1", valid_from=None).valid_from is None
    g.delete_edge("e-1")
    with pytest.raises(UnknownIdError):
        g.get_edge("e-1")
    assert g.add_edge("ada", "ada", "SELF", id="e-1") == "e-1"         # a loop, and the id again


def test_edge_errors_are_typed(g):
    people(g)
    with pytest.raises(UnknownIdError, match="node 'ghost'"):
        g.add_edge("ada", "ghost", "KNOWS")
    with pytest.raises(UnknownIdError, match="node 'ghost'"):
        g.batch_insert(edges=[{"src": "ghost", "dst": "ada", "type": "R"}])
    with pytest.raises(ArgumentError, match="weight must be a finite number"):
        g.add_edge("ada", "bab", "R", weight=math.nan)
    with pytest.raises(ArgumentError, match=r"edges.weight\[1\]"):
        g.batch_insert(edges={"src": ["ada", "ada"], "dst": ["bab", "bab"], "type": "R", "weight": [1, "x"]})
    with pytest.raises(ArgumentError, match="after valid_to"):
        g.add_edge("ada", "bab", "R", valid_from=5, valid_to=1)
    with pytest.raises(ArgumentError, match="non-empty string"):
        g.add_edge("ada", "bab", "")
    with pytest.raises(IdError, match="already has edge 0"):
        g.add_edge("ada", "bab", "R", id=0)
    with pytest.raises(ArgumentError, match="needs src, dst and type"):
        g.batch_insert(edges=[{"src": "ada", "dst": "bab"}])
    with pytest.raises(MetadataError):
        g.add_edge("ada", "bab", "R", properties={"x": math.inf})
    with pytest.raises(UnknownIdError):
        g.update_edge(99, weight=1)
    with pytest.raises(UnknownIdError):
        g.delete_edge(99)
    with pytest.raises(ArgumentError, match="as_of and during"):
        g.edges(as_of=1, during=(0, 1))
    with pytest.raises(ArgumentError, match="during"):
        g.edges(during=(5, 1))
    assert g.stats()["edges"] == 3


# ---- hyperedges ---------------------------------------------------------------------------------

def test_hyperedges(g):
    people(g)
    h = g.add_hyperedge(["eng", "ada", "bab"], "TEAM", properties={"size": 3}, valid_from=0, valid_to=100)
    h2 = g.add_hyperedge(["ada", "bab"], "PAIR", id="p")
    assert g.get_hyperedge(h) == Hyperedge(0, ("eng", "ada", "bab"), "TEAM", {"size": 3}, 0.0, 100.0, False, None)
    assert [x.id for x in g.hyperedges()] == [0, "p"] and [x.id for x in g.hyperedges("PAIR")] == ["p"]
    assert [x.id for x in g.hyperedges_of("ada")] == [0, "p"]
    assert [x.id for x in g.hyperedges_of("eng")] == [0]
    assert [x.id for x in g.hyperedges_of("ada", as_of=200)] == ["p"]
    assert [x.id for x in g.hyperedges_of("ada", types="TEAM")] == [0]
    assert [x.id for x in g.hyperedges(where={"size": 3})] == [0]
    assert g.update_hyperedge("p", properties={"k": 1}, valid_to=5).valid_to == 5.0
    assert [x.id for x in g.hyperedges(as_of=10)] == [0]
    g.delete_hyperedge(h2)
    assert [x.id for x in g.hyperedges_of("bab")] == [0]
    with pytest.raises(ArgumentError, match="2 or more"):
        g.add_hyperedge(["ada"], "SOLO")
    with pytest.raises(UnknownIdError, match="node 'ghost'"):
        g.add_hyperedge(["ada", "ghost"], "X")
    with pytest.raises(UnknownIdError):
        g.get_hyperedge("p")
    with pytest.raises(UnknownIdError):
        g.hyperedges_of("ghost")


# ---- traversal --------------------------------------------------------------------------------

def chain(g):
    g.batch_insert(nodes=list("abcdef"), edges=[("a", "b", "R"), ("b", "c", "R"), ("c", "d", "S"), ("d", "e", "R"),
                                                 ("f", "a", "R"), ("c", "c", "R")])


def test_neighbors_k_hop_and_directions(g):
    chain(g)
    assert g.neighbors("a") == ["b"] and g.neighbors("a", direction="in") == ["f"]
    assert g.neighbors("a", direction="both") == ["b", "f"]
    assert g.neighbors("c") == ["d", "c"]                       # a loop: its own neighbour
    assert g.neighbors("c", types="R") == ["c"]
    assert g.k_hop("a", 0) == [] and g.k_hop("a", 1) == ["b"]
    assert g.k_hop("a", 3) == ["b", "c", "d"] and g.k_hop("a", 10) == ["b", "c", "d", "e"]
    assert g.k_hop("a", 10, types="R") == ["b", "c"]
    assert g.k_hop("c", 2, direction="in") == ["b", "a"]
    assert set(g.k_hop("c", 1, direction="both")) == {"b", "d"}   # the start is excluded, even with its loop
    assert g.k_hop("a", 3, types="NONE") == []
    for bad in (-1, 1.5, True):
        with pytest.raises(ArgumentError, match="non-negative integer"):
            g.k_hop("a", bad)
    with pytest.raises(ArgumentError, match="direction"):
        g.neighbors("a", direction="sideways")
    with pytest.raises(UnknownIdError):
        g.k_hop("zz", 1)


def test_temporal_walks(g):
    g.batch_insert(nodes=list("abc"), edges=[{"src": "a", "dst": "b", "type": "R", "valid_from": 0, "valid_to": 10},
                                              {"src": "b", "dst": "c", "type": "R", "valid_from": 5}])
    assert g.k_hop("a", 2, as_of=7) == ["b", "c"]
    assert g.k_hop("a", 2, as_of=2) == ["b"]
    assert g.k_hop("a", 2, as_of=12) == []
    assert g.k_hop("a", 2, during=(9, 11)) == ["b", "c"]
    assert g.shortest_path("a", "c", as_of=2) is None
    assert g.shortest_path("a", "c", as_of=7).nodes == ["a", "b", "c"]


def test_shortest_paths(g):
    chain(g)
    p = g.shortest_path("a", "e")
    assert p.nodes == ["a", "b", "c", "d", "e"] and p.edges == [0, 1, 2, 3] and len(p) == 4 and p.weight == 4.0
    assert g.shortest_path("e", "a") is None
    assert g.shortest_path("e", "a", direction="in").nodes == ["e", "d", "c", "b", "a"]
    assert g.shortest_path("e", "f", direction="both").nodes == ["e", "d", "c", "b", "a", "f"]
    assert g.shortest_path("a", "e", types="R") is None
    assert g.shortest_path("a", "a").nodes == ["a"]
    g.add_edge("a", "d", "R", weight=10)
    assert g.shortest_path("a", "e").nodes == ["a", "d", "e"]
    w = g.shortest_path("a", "e", weighted=True)
    assert w.nodes == ["a", "b", "c", "d", "e"] and w.weight == 4.0
    g.add_edge("e", "a", "R", weight=-1)
    with pytest.raises(ArgumentError, match="weights >= 0"):
        g.shortest_path("a", "f", weighted=True, direction="both")


# ---- embeddings and search --------------------------------------------------------------------

def test_embedded_nodes_are_rows_of_the_store_and_searchable(kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    g = Graph(db)
    g.batch_insert(nodes=[{"id": "x", "labels": "Doc", "embedding": [1, 0, 0]},
                          {"id": "y", "labels": ["Doc", "Hot"], "embedding": [0.9, 0.1, 0]},
                          {"id": "z", "embedding": [0, 0, 1], "properties": {"n": 3}}, "w"],
                   edges=[("x", "y", "R"), ("y", "z", "R")])
    assert sorted(db.ids()) == ["graph-node:0", "graph-node:1", "graph-node:2"]
    assert db.get("graph-node:1").metadata == {"kind": "graph-node", "node": "y", "seq": "1", "labels": ["Doc", "Hot"],
                                               "label:Doc": True, "label:Hot": True}
    assert list(g.get_node("x").embedding) == [1.0, 0.0, 0.0] and g.get_node("w").embedding is None
    assert [h.id for h in g.search([1, 0, 0], k=3)] == ["x", "y", "z"]
    assert [h.id for h in g.search([1, 0, 0], k=3, label="Hot")] == ["y"]
    assert [h.id for h in g.search([1, 0, 0], k=3, within=g.k_hop("y", 1))] == ["z"]
    assert [h.id for h in g.search([1, 0, 0], k=3, where={"n": 3})] == ["z"]
    assert g.search([1, 0, 0], within=["w"]) == []
    hit = g.search([1, 0, 0], k=1)[0]
    assert hit.score == pytest.approx(1.0) and hit.node.labels == ("Doc",)
    g.update_node("x", add_labels="Hot")                        # the row's labels follow
    assert [h.id for h in g.search([1, 0, 0], k=3, label="Hot")] == ["x", "y"]
    g.update_node("x", embedding=None)                          # the row goes with the embedding
    assert "graph-node:0" not in db and [h.id for h in g.search([1, 0, 0], k=3)] == ["y", "z"]
    g.update_node("w", embedding=[1, 0, 0])
    assert g.search([1, 0, 0], k=1)[0].id == "w"
    g.delete_node("y", detach=True)
    assert "graph-node:1" not in db
    h = g.add_hyperedge(["x", "z"], "PAIR", embedding=[0, 1, 0])
    assert [x.id for x in g.search_hyperedges([0, 1, 0])] == [h]
    assert g.search_hyperedges([0, 1, 0], type="OTHER") == []
    assert list(g.get_hyperedge(h).embedding) == [0.0, 1.0, 0.0]
    g.delete_node("x", detach=True)                             # its hyperedge's row goes too
    assert f"graph-hyperedge:{0}" not in db


def test_embedding_errors_change_nothing(kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    g = Graph(db)
    with pytest.raises(DimensionError):
        g.add_node("a", embedding=[1, 0])
    with pytest.raises(NonFiniteError):
        g.add_node("a", embedding=[1, math.nan, 0])
    with pytest.raises(NonFiniteError):
        g.batch_insert(nodes=[{"id": "a", "embedding": [1, 0, 0]}, {"id": "b", "embedding": [math.inf, 0, 0]}])
    assert len(g) == 0 and len(db) == 0
    ints = agentdb.open(dim=3, kernel=kernel)
    ints.ingest([1], [[1, 0, 0]])
    with pytest.raises(ArgumentError, match="string ids"):
        Graph(ints).add_node("a", embedding=[1, 0, 0])
    assert Graph(ints).add_node("a") == "a"                     # without an embedding: fine


# ---- bulk, stats, subscriptions, compaction, read-only ----------------------------------------

def test_batch_insert_forms(g):
    out = g.batch_insert(nodes=[1, 2, {"id": "s", "labels": "L"}, {"labels": "Gen"}],
                         edges=[(1, 2, "R"), (2, "s", "R", {"w": 1}), {"src": "s", "dst": 1, "type": "T", "id": "t"}],
                         hyperedges=[{"nodes": [1, 2, "s"], "type": "H"}])
    assert out == {"nodes": [1, 2, "s", 4], "edges": [0, 1, "t"], "hyperedges": [0]}
    assert g.get_edge(1).properties == {"w": 1}
    cols = g.batch_insert(edges={"src": [1, 2], "dst": [2, 1], "type": ["A", "B"], "weight": [0.5, 2],
                                 "valid_to": [None, 9]})
    assert cols["edges"] == [3, 4]                                # "t" took seq 2
    assert [(e.type, e.weight, e.valid_to) for e in g.edges(["A", "B"])] == [("A", 0.5, None), ("B", 2.0, 9.0)]
    assert g.batch_insert() == {"nodes": [], "edges": [], "hyperedges": []}
    with pytest.raises(ArgumentError, match="list of 2 values"):
        g.batch_insert(edges={"src": [1, 2], "dst": [2], "type": "R"})
    with pytest.raises(ArgumentError, match="must be a dict"):
        g.batch_insert(edges=[5])


def test_stats(g):
    people(g)
    g.add_hyperedge(["ada", "bab"], "PAIR")
    s = g.stats()
    assert (s["nodes"], s["edges"], s["hyperedges"]) == (3, 3, 1)
    assert s["labels"] == {"Machine": 1, "Math": 1, "Person": 2}
    assert s["edge_types"] == {"BUILT": 1, "KNOWS": 1, "WROTE_ABOUT": 1} and s["hyperedge_types"] == {"PAIR": 1}
    assert s["avg_degree"] == 2.0 and s["embedded_nodes"] == 0
    g.delete_edge(0)
    assert g.stats()["edge_types"] == {"BUILT": 1, "WROTE_ABOUT": 1}
    assert Graph(agentdb.open(dim=2)).stats()["avg_degree"] == 0.0


def test_subscribers_hear_each_committed_change(g):
    seen, other = [], []
    stop = g.subscribe(seen.append)
    Graph(g.store).subscribe(other.append)                      # another view of the same graph
    g.add_node("a")
    g.batch_insert(nodes=["b"], edges=[("a", "b", "R")])
    g.update_node("a", properties={"x": 1})
    g.delete_node("a", detach=True)
    assert [(c["op"], c["id"], c["nodes"], c["edges"]) for c in seen] == [
        ("add_node", "a", 1, 0), ("batch_insert", None, 1, 1), ("update_node", "a", 0, 0),
        ("delete_node", "a", -1, -1)]
    assert all(c["epoch"] is None for c in seen) and len(other) == 4
    stop()
    g.add_node("c")
    assert len(seen) == 4 and len(other) == 5

    def broken(change):
        raise RuntimeError("boom")
    g.subscribe(broken)
    with pytest.warns(RuntimeWarning, match="boom"):
        g.add_node("d")
    assert "d" in g and len(other) == 6
    with pytest.raises(ArgumentError):
        g.subscribe("not callable")
    with pytest.raises(IdError):
        g.add_node("d")


def test_compact_drops_dead_slots_and_keeps_everything_else(g):
    chain(g)
    g.delete_edge(1)
    g.delete_node("f", detach=True)
    before = (g.k_hop("a", 5, direction="both"), [e.id for e in g.edges()], g.stats()["edges"])
    assert g.compact() == {"nodes": 1, "edges": 2, "hyperedges": 0}
    assert (g.k_hop("a", 5, direction="both"), [e.id for e in g.edges()], g.stats()["edges"]) == before
    assert g.add_node() == 6 and g.add_edge("a", "b", "R") == 6     # the generators go on past the old ids
    assert Graph(agentdb.open(dim=2)).compact() == {"nodes": 0, "edges": 0, "hyperedges": 0}


def test_a_read_only_store_refuses_graph_writes(tmp_path, kernel):
    path = tmp_path / "g.rvf"
    with agentdb.open(path, dim=2, kernel=kernel) as db:
        Graph(db).add_node("a")
    with agentdb.open(path, readonly=True, kernel=kernel) as db:
        g = Graph(db)
        assert g.has_node("a")
        with pytest.raises(ReadOnlyError):
            g.add_node("b")


def test_a_large_batch_uses_the_csr_and_the_delta(kernel):
    """Enough edges that walks read a CSR, then more than a delta's worth added after it."""
    g = Graph(agentdb.open(dim=2, kernel=kernel))
    n = 3000
    g.batch_insert(nodes=list(range(n)), edges={"src": list(range(n - 1)), "dst": list(range(1, n)), "type": "NEXT"})
    assert g.k_hop(0, 3) == [1, 2, 3]
    st = g.store._graph
    assert st.out.built and st.out.base == n - 1
    g.batch_insert(edges={"src": [n - 1] * 5000, "dst": [0] * 5000, "type": "BACK"})
    assert g.k_hop(n - 1, 2) == [0, 1]                            # rebuilt: the delta outgrew DELTA_MIN
    g.add_edge(5, 0, "SKIP")
    assert g.k_hop(5, 1) == [6, 0] and st.out.base == n - 1 + 5000   # a small delta is read as it is
    assert g.shortest_path(0, n - 1).weight == n - 1
    assert g.shortest_path(n - 1, 0, weighted=True).nodes == [n - 1, 0]


# ---- docs ---------------------------------------------------------------------------------------

GRAPH_MODULES = [agentdb.graph, model, state, tables, adjacency, traverse, persist, inputs]


@pytest.mark.parametrize("module", GRAPH_MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module, kernel, monkeypatch):
    real_open = agentdb.open
    monkeypatch.setattr(agentdb, "open", lambda *a, **kw: real_open(*a, kernel=kernel, **kw))
    result = doctest.testmod(module, extraglobs={"agentdb": agentdb}, verbose=False)
    assert result.failed == 0


@pytest.mark.parametrize("cls", [Graph, Node, Edge, Hyperedge, model.NodeHit, traverse.Path, state.GraphState])
def test_every_public_call_is_documented(cls):
    assert (cls.__doc__ or "").strip()
    missing = [name for name, obj in vars(cls).items() if not name.startswith("_") and inspect.isfunction(obj)
               and not (obj.__doc__ or "").strip()]
    assert not missing, missing


def test_every_public_graph_method_has_an_example():
    lacking = [name for name, obj in vars(Graph).items() if not name.startswith("_") and inspect.isfunction(obj)
               and ">>>" not in (obj.__doc__ or "")]
    assert not lacking, lacking
