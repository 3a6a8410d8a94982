"""mem.graph: an agent memory's property graph is its store's graph, in the same .rvf, where a
text stands for an embedding (the memory's embedder makes it); graph and memory writes commit
together in a transaction; graph rows are not counted as memories."""
import array
import doctest

import pytest

import agentdb
import agentdb.memory
import agentdb.memory.graph
from agentdb import ArgumentError
from memory_support import new_memory

PEOPLE = {
    "ada": "Ada Lovelace wrote the first computer program for the analytical engine",
    "kew": "Kew Gardens holds a huge collection of living plants in London",
    "tur": "Alan Turing broke wartime codes and described a universal machine",
}


def test_it_is_the_stores_graph_and_texts_are_embedded_by_the_memorys_embedder():
    mem, _ = new_memory()
    mem.graph.batch_insert(nodes=[{"id": k, "labels": "Thing", "embedding": v} for k, v in PEOPLE.items()],
                           edges=[("ada", "tur", "INSPIRED")])
    assert mem.store.graph.k_hop("ada", 1) == ["tur"]
    # a text is stored as the embedder's vector for it would be (the store normalises both alike)
    mem.graph.add_node("kew-vector", embedding=list(mem.embedder.embed([PEOPLE["kew"]])))
    assert bits(mem.graph.get_node("kew").embedding) == bits(mem.graph.get_node("kew-vector").embedding)
    mem.graph.update_node("kew", embedding="a museum of steam engines")
    mem.graph.update_node("kew-vector", embedding=list(mem.embedder.embed(["a museum of steam engines"])))
    assert bits(mem.graph.get_node("kew").embedding) == bits(mem.graph.get_node("kew-vector").embedding)
    assert bits(mem.graph.get_node("kew").embedding) != bits(mem.graph.get_node("ada").embedding)
    h = mem.graph.add_hyperedge(["ada", "tur", "kew"], "MET", embedding="a meeting of pioneers")
    assert mem.graph.search_hyperedges("a meeting of pioneers", k=1)[0].id == h


def bits(vector):
    return array.array("f", vector).tobytes()


def test_a_plain_stores_graph_refuses_a_text_with_the_way_out():
    g = agentdb.open(dim=8).graph
    with pytest.raises(ArgumentError, match=r"mem\.graph"):
        g.add_node("a", embedding="some text")
    with pytest.raises(ArgumentError, match=r"mem\.graph"):
        g.search("some text")
    assert len(g) == 0


def test_graph_search_and_cypher_search_by_meaning():
    """The default embedder (all-MiniLM-L6-v2): a question sharing no content word with the
    node's text finds it."""
    mem = agentdb.memory.open()
    mem.graph.batch_insert(nodes=[{"id": k, "labels": "Person" if k != "kew" else "Place", "embedding": v}
                                  for k, v in PEOPLE.items()])
    assert mem.graph.search("who created software before computers existed", k=1)[0].id == "ada"
    rows = mem.graph.cypher("MATCH (n:Person) SEARCH n IN (VECTOR FOR $q LIMIT 1) SCORE AS s RETURN id(n), s",
                            {"q": "cryptography during the war"}).rows
    assert rows[0][0] == "tur" and 0 < rows[0][1] <= 1


def test_memories_and_graph_commit_together_and_reopen(tmp_path):
    path = tmp_path / "agent.rvf"
    mem, _ = new_memory(path=path)
    with mem.store.transaction():
        note = mem.remember("ada met babbage in 1833")
        mem.graph.add_node("ada", labels="Person", embedding="Ada Lovelace")
        mem.graph.add_node("bab", labels="Person")
        mem.graph.add_edge("ada", "bab", "MET", properties={"year": 1833, "note": note})
    with pytest.raises(RuntimeError):
        with mem.store.transaction():
            mem.remember("never kept")
            mem.graph.add_node("ghost", embedding="a ghost")
            raise RuntimeError("boom")
    stats = mem.stats()
    assert stats["memories"] == {"note": 1}             # the node's embedding row is no memory
    assert stats["graph"] == {"nodes": 2, "edges": 1, "hyperedges": 0}
    mem.close()
    again, _ = new_memory(path=path)
    assert [r["text"] for r in again.recall("ada and babbage", k=5)] == ["ada met babbage in 1833"]
    assert again.graph.cypher("MATCH (a)-[m:MET]->(b) RETURN id(b), m.note").rows == [("bab", note)]
    assert "ghost" not in again.graph and again.graph.search("Ada Lovelace", k=5)[0].id == "ada"
    again.close()


def test_forgetting_memories_leaves_the_graph():
    mem, _ = new_memory()
    note = mem.remember("x")
    mem.graph.add_node("n", embedding="x")
    mem.forget_memory(note)
    assert mem.graph.search("x", k=1)[0].id == "n" and mem.recall("x") == []


def test_docstring_examples():
    assert doctest.testmod(agentdb.memory.graph).failed == 0
