"""The graph in the store's .rvf: a reopened file (or to_bytes() / open_bytes(), or the browser's
commit chunks) holds the same nodes, edges and hyperedges and answers the same walks (the
original's RuVector#64: traversal broken after reopen); each change is one sealed commit;
transactions cover graph and vectors together; damaged graph records are refused with
CorruptFileError, never half loaded."""
import array
import os
import struct
import warnings

import pytest

import agentdb
import graph_support
from agentdb import CorruptFileError, RecoveryWarning, rvf
from agentdb.graph import persist
from agentdb.graph.model import Graph
from agentdb.rvf import meta as rvf_meta
from agentdb.rvf import segments as rvf_segments
from agentdb.rvf.writer import BytesSink, RvfWriter
from agentdb.store.store import open_log


def build(g):
    g.batch_insert(nodes=[{"id": "ada", "labels": ["Person"], "properties": {"born": 1815}, "embedding": [1, 0, 0]},
                          {"id": "bab", "labels": "Person", "embedding": [0, 1, 0]}, "eng", 42],
                   edges=[("ada", "bab", "KNOWS"), {"src": "bab", "dst": "eng", "type": "BUILT", "weight": 3.5},
                          {"src": "eng", "dst": 42, "type": "RUNS", "valid_from": 10, "valid_to": 20,
                           "properties": {"note": "é"}}])
    g.add_hyperedge(["ada", "bab", "eng"], "TEAM", id="team", properties={"size": 3}, embedding=[0, 0, 1])
    g.update_node("eng", properties={"built": 1837}, add_labels="Machine")
    g.add_edge("ada", "eng", "WROTE_ABOUT", id="w")
    g.delete_edge(0)
    g.add_node()


def answers(g):
    """Everything a reader can ask, as plain values."""
    return {
        "nodes": [(n.id, n.labels, n.properties, n.embedded) for n in g.nodes()],
        "edges": g.edges(), "hyperedges": g.hyperedges(), "stats": g.stats() | {"kernel_bytes": None},
        "k_hop": [g.k_hop(n.id, 3, direction=d) for n in g.nodes() for d in ("out", "in", "both")],
        "paths": [g.shortest_path("ada", 42), g.shortest_path("ada", 42, weighted=True),
                  g.shortest_path(42, "ada", direction="in", as_of=15)],
        "neighbors": g.neighbors("eng", direction="both"), "of": [g.hyperedges_of(n.id) for n in g.nodes()],
        "search": [(h.id, h.score) for h in g.search([1, 0.2, 0], k=3)],
        "search_h": [(h.id, h.score) for h in g.search_hyperedges([0, 0.1, 1], k=1)],
        "embedding": list(g.get_node("ada").embedding), "next": g.store._graph.nodes.ids.next_seq,
    }


def test_a_reopened_file_holds_the_same_graph_and_walks_it(tmp_path, kernel):
    path = tmp_path / "g.rvf"
    with agentdb.open(path, dim=3, kernel=kernel) as db:
        build(Graph(db))
        want = answers(Graph(db))
        assert db.verify()["ok"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # a clean reopen: nothing recovered
        db = agentdb.open(path, kernel=kernel)
    g = Graph(db)
    assert answers(g) == want
    g.add_edge(42, "ada", "LOOP")                       # and it goes on from there
    g.delete_node("bab", detach=True)
    want = answers(g)
    db.close()
    with agentdb.open(path, kernel=kernel) as db:
        assert answers(Graph(db)) == want
        assert Graph(db).add_node() == want["next"]     # generated ids never come back


def test_each_change_is_one_sealed_commit(tmp_path, kernel):
    path = tmp_path / "g.rvf"
    with agentdb.open(path, dim=3, kernel=kernel) as db:
        g = Graph(db)
        epoch = db._log.writer.epoch
        g.add_node("a")
        g.batch_insert(nodes=["b", "c"], edges=[("a", "b", "R"), ("b", "c", "R")])
        g.delete_node("a", detach=True)
        assert db._log.writer.epoch == epoch + 3
        metas = [s for s in db.segments() if s["type"] == "meta"]
        assert len(metas) >= 3
        report = db.verify()
        assert report["ok"], report["problems"]


def test_to_bytes_and_open_bytes_round_trip(kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    build(Graph(db))
    want = answers(Graph(db))
    data = db.to_bytes()
    copy = agentdb.open_bytes(data, kernel=kernel)
    assert answers(Graph(copy)) == want
    assert copy.to_bytes() == data                      # the same bytes: the snapshot is canonical
    other = agentdb.open_bytes(data, kernel=agentdb.kernel.load("wasmhost" if kernel.backend == "native" else "native"))
    assert answers(Graph(other)) == want                # and the same answers in the other home


def test_a_store_without_a_graph_writes_no_graph_record(kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    db.ingest(["x"], [[1, 0, 0]])
    Graph(db).nodes()                                   # reading attaches nothing
    assert rvf.read(kernel, db.to_bytes()).graph == []
    assert getattr(agentdb.open_bytes(db.to_bytes(), kernel=kernel), "_graph", None) is None


def test_graph_compact_appends_one_snapshot_a_reopen_starts_from(tmp_path, kernel):
    path = tmp_path / "g.rvf"
    with agentdb.open(path, dim=3, kernel=kernel) as db:
        g = Graph(db)
        build(g)
        g.compact()
        g.add_edge("ada", 42, "AFTER")
        want = answers(g)
    contents = rvf.read(kernel, path.read_bytes())
    assert [kind for kind, _ in contents.graph] == [rvf_meta.GRAPH_SNAPSHOT, rvf_meta.GRAPH_OPS]
    with agentdb.open(path, kernel=kernel) as db:
        assert answers(Graph(db)) == want


def test_a_rewritten_file_keeps_the_graph(tmp_path, kernel):
    """store.compact() and the manifest-size rewrite go through to_bytes(): the graph goes along."""
    path = tmp_path / "g.rvf"
    with agentdb.open(path, dim=3, kernel=kernel) as db:
        g = Graph(db)
        build(g)
        db.ingest(["tmp"], [[1, 1, 1]])
        db.delete(["tmp"])
        db.compact()
        for i in range(520):                             # enough commits that the manifest would pass 48 KiB
            g.add_node(f"n{i}")
        assert os.path.getsize(path) < 520 * 1000
        want = answers(g)
    with agentdb.open(path, kernel=kernel) as db:
        assert answers(Graph(db)) == want


def test_store_compact_drops_the_graphs_deleted_slots_too(tmp_path, kernel):
    path = tmp_path / "c.rvf"
    with agentdb.open(path, dim=3, kernel=kernel) as db:
        g = Graph(db)
        build(g)
        g.add_node("gone", embedding=[1, 0, 0])
        g.add_edge("gone", next(iter(g.nodes())).id, "R")
        g.delete_node("gone", detach=True)
        want_before = answers(g)
        # build()'s deleted edge 0 and the detached one
        assert db.compact()["graph"] == {"nodes": 1, "edges": 2, "hyperedges": 0}
        st = db._graph
        assert (st.nodes.n, st.edges.n) == (st.nodes.count, st.edges.count)
        assert answers(g) == want_before
        assert db.compact() == {"removed": 0, "bytes_reclaimed": 0, "graph": {"nodes": 0, "edges": 0, "hyperedges": 0}}
    with agentdb.open(path, kernel=kernel) as db:
        assert answers(Graph(db)) == want_before and db._graph.nodes.n == db._graph.nodes.count


@pytest.mark.parametrize("home", ["memory", "file", "log"])
def test_a_transaction_covers_graph_and_vectors(home, tmp_path, kernel):
    path = tmp_path / "tx.rvf"
    db = {"memory": lambda: agentdb.open(dim=3, kernel=kernel), "file": lambda: agentdb.open(path, dim=3, kernel=kernel),
          "log": lambda: open_log(dim=3, kernel=kernel)}[home]()
    g = Graph(db)
    build(g)
    before = answers(g)
    with pytest.raises(ZeroDivisionError):
        with db.transaction():
            g.add_node("new", embedding=[1, 1, 0])
            g.add_edge("new", "ada", "R")
            db.ingest(["plain"], [[0, 1, 1]])
            assert g.k_hop("new", 1) == ["ada"]         # seen inside the transaction
            1 / 0
    g = Graph(db)
    assert answers(g) == before and "plain" not in db and "graph-node:6" not in db
    epoch = db._log.writer.epoch if db._log is not None else None
    with db.transaction():
        g.add_node("new", embedding=[1, 1, 0])
        g.add_edge("new", "ada", "R")
    if epoch is not None:
        assert db._log.writer.epoch == epoch + 1        # one commit for both
    assert g.k_hop("new", 1) == ["ada"] and g.search([1, 1, 0], k=1)[0].id == "new"
    if home == "file":
        db.close()
        db = agentdb.open(path, kernel=kernel)
        assert Graph(db).k_hop("new", 1) == ["ada"]
    db.close()


def test_a_crash_inside_a_graph_transaction_reopens_at_the_commit_before(tmp_path, kernel):
    """The process dies mid-transaction (graph and vector segments staged, no manifest): the
    file reopens at the last commit, graph and rows both."""
    path = tmp_path / "crash.rvf"
    db = agentdb.open(path, dim=3, kernel=kernel)
    g = Graph(db)
    build(g)
    want = answers(g)
    with db.transaction():
        g.add_node("late", embedding=[0, 1, 0])
        g.add_edge("late", "ada", "R")
        db.ingest(["row"], [[1, 0, 0]])
        torn = path.read_bytes()
        (tmp_path / "copy.rvf").write_bytes(torn)
    db.close()
    with pytest.warns(RecoveryWarning):
        again = agentdb.open(tmp_path / "copy.rvf", kernel=kernel)
    assert answers(Graph(again)) == want and "late" not in Graph(again) and "row" not in again
    again.close()


def test_subscribers_hear_nothing_of_a_rolled_back_transaction(kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    g = Graph(db)
    seen = []
    g.subscribe(seen.append)
    with pytest.raises(ZeroDivisionError):
        with db.transaction():
            g.add_node("a")
            1 / 0
    assert seen == [] and not g.has_node("a")


def test_subscribers_hear_a_transaction_once_it_commits(kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    g = Graph(db)
    seen = []
    g.subscribe(seen.append)
    with db.transaction():
        g.add_node("a")
        g.add_node("b")
        assert seen == []
    assert [c["id"] for c in seen] == ["a", "b"]
    with pytest.raises(ZeroDivisionError):
        with db.transaction():
            g.add_node("c")
            1 / 0
    g.add_node("d")                                     # still subscribed after the rollback
    assert [c["id"] for c in seen] == ["a", "b", "d"]


def test_the_browser_log_commits_reopen_to_the_same_graph(kernel):
    db = open_log(dim=3, kernel=kernel)
    chunks = db.take_commits()
    g = Graph(db)
    build(g)
    want = answers(g)
    chunks += db.take_commits()
    data = bytearray()
    for kind, offset, chunk in chunks:
        if kind == "replace":
            data = bytearray(chunk)
        else:
            assert offset == len(data)
            data += chunk
    again = open_log(bytes(data), kernel=kernel)
    assert answers(Graph(again)) == want


def column_graph(g, n=300, m=2000, seed=5):
    """Nodes as columns (an id run, a shared label, a scalar property column with gaps, a
    mixed labels column) and edges as columns, in two calls (the second names the first's nodes)."""
    import random
    r = random.Random(seed)
    score = [r.choice([None, r.random(), r.randrange(-5, 5), "s", True]) for _ in range(n)]
    g.batch_insert(nodes={"id": list(range(n)), "labels": "P", "properties": {"nid": list(range(n)), "score": score}},
                   edges={"src": [r.randrange(n) for _ in range(m)], "dst": [r.randrange(n) for _ in range(m)],
                          "type": "R"})
    g.batch_insert(nodes={"id": list(range(n, 2 * n)), "labels": [r.choice([["P"], ["Q", "P"], None]) for _ in range(n)]},
                   edges={"src": [r.randrange(2 * n) for _ in range(m)], "dst": [r.randrange(n, 2 * n) for _ in range(m)],
                          "type": [r.choice("RS") for _ in range(m)]})


def column_answers(g):
    return {"nodes": [(n.id, n.labels, n.properties) for n in g.nodes()], "stats": g.stats() | {"kernel_bytes": None},
            "P": [n.id for n in g.nodes("P")], "Q": [n.id for n in g.nodes("Q")], "P<150": [n.id for n in g.nodes("P", where={"nid": {"lt": 150}})],
            "where": [n.id for n in g.nodes("P", where={"score": {"gt": 0}})],
            "k_hop": [g.k_hop(s, 2) for s in (0, 7, 299, 450)],
            "cypher": g.cypher("MATCH (a:Q)-[:S]->(b) WHERE a.nid IS NULL RETURN id(a), id(b) ORDER BY id(a), id(b)").rows}


def test_node_columns_are_written_as_columns_and_reopen_as_the_records_graph(tmp_path, kernel):
    path = tmp_path / "c.rvf"
    with agentdb.open(path, dim=2, kernel=kernel) as db:
        column_graph(Graph(db))
        want = column_answers(Graph(db))
    records = [persist.decode(record) for _, record in rvf.read(kernel, path.read_bytes()).graph]
    nodes = [r["nodes"] for r in records if "nodes" in r]
    assert nodes[0]["id_first"] == 0 and "ids" not in nodes[0] and nodes[0]["label_sets"] == [["P"]]
    assert set(nodes[0]["prop_cols"]) == {"nid", "score"} and "props" not in nodes[0]
    assert nodes[1]["id_first"] == 300 and "label_sets" not in nodes[1]     # a labels column: one list per node
    with agentdb.open(path, kernel=kernel) as db:
        assert column_answers(Graph(db)) == want
        snap = persist.encode(db._graph.snapshot(), snapshot=True)
    # the same graph from records (the per-node forms every earlier file holds) reopens the same
    path = tmp_path / "r.rvf"
    with agentdb.open(path, dim=2, kernel=kernel) as db:
        g = Graph(db)
        column_graph(_AsRecords(g))
        assert column_answers(g) == want
    with agentdb.open(path, kernel=kernel) as db:
        assert column_answers(Graph(db)) == want
        assert persist.encode(db._graph.snapshot(), snapshot=True) == snap


class _AsRecords:
    """A graph whose batch_insert turns node columns into node dicts (the per-node form)."""

    def __init__(self, g):
        self.g = g

    def batch_insert(self, nodes, edges):
        labels = nodes["labels"] if not isinstance(nodes["labels"], str) else [nodes["labels"]] * len(nodes["id"])
        props = nodes.get("properties", {})
        records = [{"id": i, "labels": ls, "properties": {k: v[j] for k, v in props.items() if v[j] is not None}}
                   for j, (i, ls) in enumerate(zip(nodes["id"], labels))]
        return self.g.batch_insert(nodes=records, edges=edges)


# ---- damage ---------------------------------------------------------------------------------

def with_record(kernel, payload, *, base=None):
    """A store's bytes with one more commit holding the META payload (its CRC right)."""
    if base is None:
        db = agentdb.open(dim=3, kernel=kernel)
        Graph(db).batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        base = db.to_bytes()
    contents = rvf.read(kernel, base)
    sink = BytesSink()
    sink.data += base
    writer = RvfWriter.resume(kernel, sink, contents, len(base))
    writer.commit([(rvf_segments.META, payload)], action="graph:test")
    return bytes(sink.data)


def ops(doc):
    return persist.encode(doc)


BAD_DOCS = [
    ({"edges": {"n": 1, "ref": ["a", "ghost"], "src": 0, "dst": 1, "types": ["R"]}}, "ghost"),   # unknown node
    ({"delete": {"nodes": ["a"]}}, "still has"),                     # would orphan an edge
    ({"nodes": {"n": 1, "ids": ["a"]}}, "already has"),
    ({"nodes": {"n": 2, "ids": ["c"]}}, "list of 2"),
    ({"nodes": {"n": -1}}, "count"),
    ({"update": [{"edge": 99, "weight": 1}]}, "no edge 99"),
    ({"update": [{"node": "a", "weight": 1}]}, "has no"),
    ({"hyperedges": {"n": 1, "ref": ["a"], "off": 0, "members": 1, "types": ["H"]}}, "2 or more"),
    ({"mystery": 1}, "unknown sections"),
    ({"nodes": {"n": 1, "props": [{"x": float("nan")}]}}, "finite"),
    ({"nodes": {"n": 2, "prop_cols": {"x": [1, {"y": 2}]}}}, "prop_cols"),
    ({"nodes": {"n": 2, "prop_cols": {"x": [1]}}}, "prop_cols"),
    ({"nodes": {"n": 1, "id_first": "a"}}, "id_first"),
    ({"nodes": {"n": 1, "id_first": 0, "ids": [0]}}, "not both"),
    ({"nodes": {"n": 2, "label_sets": [["P"], ["Q"]]}}, "label"),
    ({"nodes": {"n": 2, "label_sets": [["P"], [""]], "label": [0, 1]}}, "label_sets"),
]


@pytest.mark.parametrize("doc,message", BAD_DOCS, ids=[m for _, m in BAD_DOCS])
def test_a_record_that_does_not_apply_is_refused(kernel, doc, message):
    arrays_of = {"edges": {"src": ("I", [0]), "dst": ("I", [1])}, "nodes": {"label": ("I", [0, 1])},
                 "hyperedges": {"off": ("I", [0, 1]), "members": ("I", [0])}}
    for section, fields in arrays_of.items():
        if section in doc:
            for key, (fmt, values) in fields.items():
                if key in doc[section]:
                    doc[section][key] = array.array(fmt, values)
    data = with_record(kernel, ops(doc))
    with pytest.raises(CorruptFileError, match=message) as err:
        agentdb.open_bytes(data, kernel=kernel)
    assert err.value.offset is not None


def test_malformed_record_bytes_are_refused(kernel):
    good = ops({"nodes": {"n": 1, "ids": ["c"]}})
    head, body = good[:8], good[12:]
    encode = rvf_meta.encode_graph
    framing = {      # meta.decode refuses these
        "truncated arrays": encode(rvf_meta.GRAPH_OPS, {"nodes": {"n": 1, "seq": 0}}, [array.array("Q", [1])])[:-3],
        "bytes after the arrays": good + b"\0",
        "length past the end": head + struct.pack("<I", len(body) + 5) + body,
        "not JSON": head + struct.pack("<I", 3) + b"{{{",
        "bad array format": head + struct.pack("<I", 20) + b'{"arrays":[["x",1]]}',
        "JSON not an object": head + struct.pack("<I", 2) + b"[]",
    }
    meaning = {      # decoded, but they do not apply
        "array reference of the wrong type": encode(rvf_meta.GRAPH_OPS, {"nodes": {"n": 1, "embedded": 0}},
                                                    [array.array("I", [1])]),
        "array reference out of range": encode(rvf_meta.GRAPH_OPS, {"nodes": {"n": 1, "embedded": 3}}, []),
        "a snapshot without counters": encode(rvf_meta.GRAPH_SNAPSHOT, {"nodes": {"n": 0}}, []),
        "a snapshot over a graph": encode(rvf_meta.GRAPH_OPS, {"next": [1, 1, 1]}, []),
    }
    for name, payload in {**framing, **meaning}.items():
        with pytest.raises(CorruptFileError):
            agentdb.open_bytes(with_record(kernel, payload), kernel=kernel)
        if name in framing:
            with pytest.raises(CorruptFileError):
                rvf_meta.decode(payload)
        else:
            with pytest.raises(CorruptFileError):
                persist.replay(kernel, [rvf_meta.decode(payload)])


def test_flipped_and_truncated_graph_bytes(tmp_path, kernel):
    db = agentdb.open(dim=3, kernel=kernel)
    build(Graph(db))
    data = db.to_bytes()
    contents = rvf.read(kernel, data)
    snap = next(s for s in contents.segments if s.seg_type == rvf_segments.META and
                rvf_meta.decode(bytes(data[s.payload_offset:s.end]))[0] == rvf_meta.GRAPH_SNAPSHOT)
    for at in range(snap.payload_offset, snap.end, max(1, (snap.end - snap.payload_offset) // 40)):
        flipped = bytearray(data)
        flipped[at] ^= 0x40
        with pytest.raises(CorruptFileError):
            agentdb.open_bytes(bytes(flipped), kernel=kernel)
    # a file cut inside a graph commit reopens at the commit before it, graph included
    path = tmp_path / "cut.rvf"
    with agentdb.open(path, dim=3, kernel=kernel) as fdb:
        g = Graph(fdb)
        g.batch_insert(nodes=["a", "b"], edges=[("a", "b", "R")])
        size = os.path.getsize(path)
        g.add_edge("b", "a", "BACK")
    whole = path.read_bytes()
    path.write_bytes(whole[:size + (len(whole) - size) // 2])
    with pytest.warns(RecoveryWarning, match="reopened at commit"):
        fdb = agentdb.open(path, kernel=kernel)
    assert Graph(fdb).k_hop("a", 3, direction="out") == ["b"] and [e.type for e in Graph(fdb).edges()] == ["R"]
    fdb.close()


def test_the_same_graph_in_pyodide_as_natively(tmp_path):
    """The browser home (real Pyodide, the browser kernel backend): the same walks, the same
    search score bits, the same Cypher rows and the same .rvf bytes."""
    import json

    from support import run_in_pyodide

    browser = run_in_pyodide(graph_support.__file__, tmp_path)
    native = json.loads(json.dumps(graph_support.scenario(agentdb.kernel.load("native"))))
    assert native["reopened"] is True
    assert browser == native
