"""agentdb.graph.cypher updating clauses (CREATE, MERGE, SET, REMOVE, DELETE), each checked
through the Graph API and against Kùzu where the syntax is shared; atomicity (in memory and
in a file, after reopen); the SEARCH subclause against Graph.search; shortestPath against
Graph.shortest_path; typed errors."""
import random

import pytest

import agentdb
from agentdb import CypherError, CypherSyntaxError, NodeHasEdgesError
from agentdb.graph.cypher import execute
from agentdb.graph.model import Edge, Graph, Node

kuzu = pytest.importorskip("kuzu")


def state(g):
    """The graph as plain data: nodes (id, labels, properties) and edges (src, dst, type, properties)."""
    nodes = sorted((repr(n.id), n.labels, sorted(n.properties.items())) for n in g.nodes())
    edges = sorted((repr(e.src), repr(e.dst), e.type, sorted(e.properties.items())) for e in g.edges())
    return nodes, edges


@pytest.fixture
def g():
    return Graph(agentdb.open(dim=3))


# ---- against Kùzu: the same updates, then the same reads -----------------------------------------

UPDATES = [
    "CREATE (:P {nid: 1, name: 'ada', age: 36}), (:P {nid: 2, name: 'bab', age: 79})",
    "UNWIND [3, 4, 5] AS i CREATE (:P {nid: i, name: 'p', age: 20 + i})",
    "MATCH (a:P {nid: 1}), (b:P {nid: 2}) CREATE (a)-[:KNOWS {since: 1833}]->(b)",
    "MATCH (a:P), (b:P) WHERE a.nid = b.nid - 1 AND a.nid >= 2 CREATE (a)-[:KNOWS {since: 2000 + a.nid}]->(b)",
    "MATCH (a:P {nid: 5}), (b:P {nid: 1}) CREATE (b)<-[:KNOWS {since: 5}]-(a)",
    "MERGE (n:P {nid: 1}) ON MATCH SET n.age = 37 ON CREATE SET n.age = 0",
    "MERGE (n:P {nid: 6}) ON MATCH SET n.age = 37 ON CREATE SET n.age = 0, n.name = 'new'",
    "MATCH (a:P {nid: 5}), (b:P {nid: 6}) MERGE (a)-[r:KNOWS]->(b) ON CREATE SET r.since = 1 ON MATCH SET r.since = 2",
    "MATCH (a:P {nid: 5}), (b:P {nid: 6}) MERGE (a)-[r:KNOWS]->(b) ON CREATE SET r.since = 1 ON MATCH SET r.since = 2",
    "MATCH (n:P) WHERE n.age > 70 SET n.age = n.age + 1, n.name = NULL",
    "MATCH (a:P)-[r:KNOWS]->(b:P) WHERE a.nid = 3 SET r.since = r.since * 10",
    "MATCH (a:P {nid: 3})-[r:KNOWS]->(b) DELETE r",
    "MATCH (n:P {nid: 4}) DETACH DELETE n",
    "MATCH (n:P {nid: 2}) SET n.age = NULL",
    "UNWIND [7, 8] AS i MERGE (n:P {nid: i}) ON CREATE SET n.age = i",
    "MATCH (n:P) WHERE n.nid = 8 DELETE n",
]

READS = [
    "MATCH (n:P) RETURN n.nid, n.name, n.age",
    "MATCH (a:P)-[r:KNOWS]->(b:P) RETURN a.nid, r.since, b.nid",
    "MATCH (n:P) RETURN count(*), sum(n.age)",
]


def _kuzu():
    import tempfile
    conn = kuzu.Connection(kuzu.Database(tempfile.mkdtemp() + "/db"))
    conn.execute("CREATE NODE TABLE P(nid INT64 PRIMARY KEY, name STRING, age INT64)")
    conn.execute("CREATE REL TABLE KNOWS(FROM P TO P, since INT64)")
    return conn


def _rows(rows):
    return sorted((tuple(r) for r in rows), key=repr)


def test_updates_leave_the_same_graph_as_kuzu(g):
    kz = _kuzu()
    for i, q in enumerate(UPDATES):
        execute(g, q)
        kz.execute(q)
        for read in READS:          # after every step, not only at the end
            assert _rows(execute(g, read).rows) == _rows(kz.execute(read).get_all()), (i, q, read)
    assert _rows(execute(g, READS[0]).rows)[0][0] == 1 and len(g) == 6 and len(g.edges()) == 4


@pytest.mark.parametrize("query", [
    "MATCH (n:P {nid: 1}) SET n.age = 40 RETURN n.nid, n.age",
    "MATCH (n:P) WHERE n.age < 30 SET n.age = n.age * 2 RETURN n.nid, n.age",
    "MATCH (a:P {nid: 1})-[r:KNOWS]->(b) SET r.since = 1900 RETURN b.nid, r.since",
    "CREATE (n:P {nid: 100, age: 5}) RETURN n.nid, n.age",
    "MERGE (n:P {nid: 2}) ON MATCH SET n.name = 'again' RETURN n.nid, n.name, n.age",
    "MERGE (n:P {nid: 200}) ON CREATE SET n.name = 'fresh' RETURN n.nid, n.name",
    "MATCH (n:P) WHERE n.nid > 2 SET n.age = 1 WITH n MATCH (m:P) WHERE m.age = 1 RETURN count(*)",
])
def test_return_after_updates_sees_the_new_values_like_kuzu(g, query):
    kz = _kuzu()
    for q in UPDATES[:5]:
        execute(g, q)
        kz.execute(q)
    assert _rows(execute(g, query).rows) == _rows(kz.execute(query).get_all())
    for read in READS:
        assert _rows(execute(g, read).rows) == _rows(kz.execute(read).get_all())


def test_delete_of_a_node_with_relationships_fails_in_both(g):
    kz = _kuzu()
    for q in UPDATES[:3]:
        execute(g, q)
        kz.execute(q)
    q = "MATCH (n:P {nid: 1}) DELETE n"
    with pytest.raises(CypherError, match="DETACH DELETE") as info:
        execute(g, q)
    assert isinstance(info.value.__cause__, NodeHasEdgesError)
    with pytest.raises(RuntimeError):
        kz.execute(q)
    assert g.has_node(execute(g, "MATCH (n:P {nid: 1}) RETURN id(n)").rows[0][0])


# ---- each clause through the Graph API ------------------------------------------------------------

def test_create_nodes_relationships_and_paths(g):
    r = execute(g, "CREATE p = (a:A:B {x: 1, gone: null})-[r:R {w: 2}]->(b)<-[:S]-(c:C) RETURN a, r, b, c, p")
    a, rel, b, c, p = r.rows[0]
    assert isinstance(a, Node) and a.labels == ("A", "B") and a.properties == {"x": 1}
    assert g.get_node(a.id).properties == {"x": 1} and g.get_node(b.id).labels == ()
    assert isinstance(rel, Edge) and g.get_edge(rel.id).properties == {"w": 2} and (rel.src, rel.dst) == (a.id, b.id)
    s = g.edges("S")[0]
    assert (s.src, s.dst) == (c.id, b.id)                 # <- creates right to left
    assert [n.id for n in p.nodes] == [a.id, b.id, c.id] and len(p.relationships) == 2
    assert r.updates == {"nodes_created": 3, "relationships_created": 2, "properties_set": 2, "labels_added": 3}
    # a bound variable is reused, rows each create their own
    execute(g, "MATCH (a:A) UNWIND [1, 2] AS i CREATE (a)-[:T {i: i}]->(:D {i: i})")
    assert sorted(e.properties["i"] for e in g.edges("T")) == [1, 2] and len(g.nodes("D")) == 2
    assert all(e.src == a.id for e in g.edges("T"))
    # a self-loop from one variable, params as property maps' values
    execute(g, "CREATE (x:L {v: $v})-[:SELF]->(x)", {"v": [1, 2]})
    loop = g.edges("SELF")[0]
    assert loop.src == loop.dst and g.get_node(loop.src).properties == {"v": [1, 2]}


def test_create_with_parameter_map_and_no_return(g):
    r = execute(g, "CREATE (n:Q $props)", {"props": {"a": 1, "b": "x"}})
    assert r.columns == [] and r.rows == [] and r.updates["nodes_created"] == 1
    assert g.nodes("Q")[0].properties == {"a": 1, "b": "x"}


def test_merge_nodes_and_relationships(g):
    for _ in range(3):
        execute(g, "MERGE (n:City {name: 'Oslo'}) ON CREATE SET n.created = 1 ON MATCH SET n.hits = coalesce(n.hits, 0) + 1")
    (oslo,) = g.nodes("City")
    assert oslo.properties == {"name": "Oslo", "created": 1, "hits": 2}
    # a whole pattern: created when it does not match, all of its unbound parts
    q = "MATCH (c:City {name: 'Oslo'}) MERGE (c)<-[:LIVES_IN]-(p:Person {name: 'kari'}) RETURN p.name"
    assert execute(g, q).rows == [("kari",)] and execute(g, q).updates == {}
    assert len(g.nodes("Person")) == 1 and len(g.edges("LIVES_IN")) == 1
    # undirected MERGE matches either direction, creates left to right
    execute(g, "MATCH (c:City), (p:Person) MERGE (c)-[:LIVES_IN]-(p)")
    assert len(g.edges("LIVES_IN")) == 1
    execute(g, "MATCH (c:City), (p:Person) MERGE (c)-[:NEAR]-(p)")
    (near,) = g.edges("NEAR")
    assert near.src == oslo.id
    # rows see what earlier rows merged
    execute(g, "UNWIND ['a', 'b', 'a', 'a'] AS t MERGE (:Tag {t: t})")
    assert sorted(n.properties["t"] for n in g.nodes("Tag")) == ["a", "b"]


def test_set_and_remove(g):
    execute(g, "CREATE (:N {a: 1, b: 2})-[:R {w: 1}]->(:M)")
    (n,) = g.nodes("N")
    execute(g, "MATCH (n:N) SET n.c = n.a + n.b, n.a = null, n:X:Y")
    assert g.get_node(n.id).properties == {"b": 2, "c": 3} and g.get_node(n.id).labels == ("N", "X", "Y")
    execute(g, "MATCH (n:N) SET n += {d: 4, b: null}")
    assert g.get_node(n.id).properties == {"c": 3, "d": 4}
    execute(g, "MATCH (n:N) SET n = {z: 26, nothing: null}")
    assert g.get_node(n.id).properties == {"z": 26}
    execute(g, "MATCH (n:N)-[r:R]->(m) SET m = r, r.w = r.w + 1, r += {k: 'v'}")
    (m,) = g.nodes("M")
    assert m.properties == {"w": 1} and g.edges("R")[0].properties == {"w": 2, "k": "v"}
    r = execute(g, "MATCH (n:N) REMOVE n.z, n:X, n:Nope RETURN n, labels(n) AS l")
    assert r.rows[0][0].properties == {} and r.rows[0][1] == ["N", "Y"]
    assert r.updates == {"properties_set": 1, "labels_removed": 1}
    # items in order, each seeing the ones before; a null target is skipped
    assert execute(g, "MATCH (n:N) SET n.a = 1, n.b = n.a + 1 RETURN n.b").rows == [(2,)]
    r = execute(g, "MATCH (n:N) OPTIONAL MATCH (n)-[:NONE]->(x) SET x.k = 1, x:L REMOVE x.k RETURN x")
    assert r.rows == [(None,)] and r.updates == {}
    # two rows on one node: the second sees the first's write
    execute(g, "MATCH (n:N) SET n.count = 0")
    execute(g, "MATCH (n:N) UNWIND [1, 2, 3] AS i SET n.count = n.count + i")
    assert g.get_node(n.id).properties["count"] == 6


def test_delete_paths_lists_and_detach(g):
    execute(g, "CREATE (a:A)-[:R]->(b:B)-[:R]->(c:C), (a)-[:S]->(c)")
    with pytest.raises(CypherError, match="DETACH DELETE"):
        execute(g, "MATCH (a:A)-[r:R]->(b) DELETE r, b")
    assert len(g.nodes("B")) == 1 and len(g.edges("R")) == 2      # all or nothing
    r = execute(g, "MATCH (b:B)-[r]-() DELETE r, b")
    assert r.updates == {"nodes_deleted": 1, "relationships_deleted": 2}
    assert len(g.nodes()) == 2 and [e.type for e in g.edges()] == ["S"]
    r = execute(g, "MATCH p = (:A)-[:S]->(:C) DELETE p")
    assert r.updates == {"nodes_deleted": 2, "relationships_deleted": 1} and len(g) == 0
    execute(g, "CREATE (a:A)-[:R]->(b:B), (a)-[:R]->(b)")
    r = execute(g, "MATCH (a:A), (b:B) DETACH DELETE a, b RETURN count(*) AS n")
    assert r.rows == [(1,)] and r.updates == {"nodes_deleted": 2, "relationships_deleted": 2}
    # a node matched by several rows is deleted once; null is skipped; a list of nodes works
    execute(g, "CREATE (:X)-[:R]->(:Y), (:X)")
    r = execute(g, "MATCH (x:X) OPTIONAL MATCH (x)-[:R]->(y) WITH collect(x) + collect(y) AS xs, y "
                   "DETACH DELETE xs, y")
    assert len(g) == 0 and r.updates["nodes_deleted"] == 3


# ---- atomicity ----------------------------------------------------------------------------------

FAILING = [
    # the CREATE and SET are written before the error in each of these
    ("CREATE (:New {v: 1}) WITH 1 AS one MATCH (n:P) SET n.touched = true WITH n MATCH (m:P {nid: 1}) DELETE m",
     "DETACH DELETE"),
    ("MATCH (n:P) SET n.age = 0 WITH n MERGE (m:P {nid: 99}) WITH m RETURN 1 / 0", "division by zero"),
    ("MATCH (n:P {nid: 2}) DETACH DELETE n WITH 1 AS x UNWIND [1, 0] AS d CREATE (:New {v: 1 / d})",
     "division by zero"),
    ("MATCH (a:P {nid: 1}) CREATE (a)-[:KNOWS]->(:New) SET a.bad = a", "cannot be a property value"),
]


@pytest.mark.parametrize("query,match", FAILING)
def test_an_error_midway_changes_nothing(g, query, match):
    for q in UPDATES[:4]:
        execute(g, q)
    before = state(g)
    seen = []
    g.subscribe(seen.append)
    with pytest.raises(CypherError, match=match):
        execute(g, query)
    assert state(g) == before and seen == []
    execute(g, "CREATE (:After)")                 # the store is usable afterwards
    assert len(g.nodes("After")) == 1 and len(seen) == 1


def test_atomic_in_a_file_after_reopen(tmp_path):
    path = tmp_path / "g.rvf"
    with agentdb.open(path, dim=3) as db:
        for q in UPDATES[:4]:
            db.graph.cypher(q)
        before = state(db.graph)
        for query, match in FAILING:
            with pytest.raises(CypherError, match=match):
                db.graph.cypher(query)
            assert state(db.graph) == before
        r = db.graph.cypher("MATCH (n:P {nid: 5}) SET n.age = 50, n:Five CREATE (n)-[:SELF]->(n) RETURN n.age")
        assert r.rows == [(50,)]
        after = state(db.graph)
        assert after != before
    with agentdb.open(path) as db:
        assert state(db.graph) == after
        assert db.graph.cypher("MATCH (n:Five)-[:SELF]->(n) RETURN n.nid, n.age").rows == [(5, 50)]
        with pytest.raises(CypherError):
            db.graph.cypher(FAILING[0][0])
    with agentdb.open(path) as db:
        assert state(db.graph) == after


def test_one_commit_per_query_inside_an_outer_transaction(tmp_path):
    with agentdb.open(tmp_path / "t.rvf", dim=3) as db:
        with pytest.raises(RuntimeError):
            with db.transaction():
                db.graph.cypher("CREATE (:A)")
                db.ingest(["v"], [[1.0, 0.0, 0.0]])
                raise RuntimeError("abort")
        assert len(db.graph) == 0 and len(db) == 0


# ---- SEARCH --------------------------------------------------------------------------------------

@pytest.fixture
def docs():
    rng = random.Random(int(__import__("os").environ.get("AGENTDB_SEED", "19")))
    g = Graph(agentdb.open(dim=3))
    nodes = [{"id": f"f{i}", "labels": "Folder", "properties": {"name": f"f{i}"}} for i in range(3)]
    for i in range(60):
        nodes.append({"id": f"d{i}", "labels": "Doc" if i % 5 else ["Doc", "Old"], "properties": {"year": 2000 + i % 25},
                      "embedding": [rng.uniform(-1, 1) for _ in range(3)] if i % 7 else None})
    edges = [(f"d{i}", f"f{i % 3}", "IN") for i in range(60)]
    g.batch_insert(nodes=nodes, edges=edges)
    return g


QS = [[0.3, -0.2, 0.9], [1.0, 0.0, 0.0], [-0.5, 0.5, 0.1]]


@pytest.mark.parametrize("q", QS)
def test_search_equals_graph_search(docs, q):
    ids = [n.id for n in docs.nodes("Doc")]
    r = execute(docs, "MATCH (n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 5) SCORE AS s RETURN id(n) AS id, s", {"q": q})
    hits = docs.search(q, 5, within=ids)
    assert r.rows == [(h.id, h.score) for h in hits] and len(hits) == 5
    # brute force: the 5 best scores among the embedded docs
    exact = docs.search(q, 5, within=ids, exact=True)
    assert [h.id for h in exact] == [h.id for h in hits]
    # restricted to a pattern (a folder's docs), with the inner WHERE, and the outer one on the score
    within = [e.src for e in docs.edges("IN") if e.dst == "f1" and docs.get_node(e.src).properties["year"] > 2010]
    r = execute(docs, "MATCH (n:Doc)-[:IN]->(:Folder {name: 'f1'}) SEARCH n IN (VECTOR FOR $q WHERE n.year > 2010 "
                      "LIMIT 3) SCORE AS s WHERE s > -100 RETURN id(n), s", {"q": q})
    assert r.rows == [(h.id, h.score) for h in docs.search(q, 3, within=within)] and len(r.rows) == 3
    # a label restriction, without SCORE AS, then ORDER BY something else
    old = [n.id for n in docs.nodes("Old")]
    r = execute(docs, "MATCH (n:Old) SEARCH n IN (VECTOR FOR $q LIMIT 4) RETURN id(n) AS id ORDER BY id", {"q": q})
    assert [row[0] for row in r.rows] == sorted(h.id for h in docs.search(q, 4, within=old))


def test_search_keeps_every_row_of_a_found_node_and_works_per_input_row(docs):
    q = QS[0]
    r = execute(docs, "MATCH (f:Folder)<-[:IN]-(n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 2) SCORE AS s "
                      "RETURN f.name, id(n), s", {"q": q})
    assert [row[1] for row in r.rows] == [h.id for h in docs.search(q, 2, label="Doc")]
    # after a WITH, one search per input row (each folder's 2 nearest docs)
    r = execute(docs, "MATCH (f:Folder) WITH f MATCH (f)<-[:IN]-(n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 2) "
                      "RETURN f.name, id(n)", {"q": q})
    for name in ("f0", "f1", "f2"):
        within = [e.src for e in docs.edges("IN") if e.dst == name]
        assert [row[1] for row in r.rows if row[0] == name] == [h.id for h in docs.search(q, 2, within=within)]
    # nothing matches: no rows; OPTIONAL keeps one with nulls; LIMIT 0
    assert execute(docs, "MATCH (n:Nope) SEARCH n IN (VECTOR FOR $q LIMIT 2) RETURN n", {"q": q}).rows == []
    assert execute(docs, "OPTIONAL MATCH (n:Nope) SEARCH n IN (VECTOR FOR $q LIMIT 2) SCORE AS s RETURN n, s",
                   {"q": q}).rows == [(None, None)]
    assert execute(docs, "MATCH (n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 0) RETURN n", {"q": q}).rows == []


def test_search_after_updates_sees_new_embeddingless_nodes_not(docs):
    q = QS[1]
    r = execute(docs, "CREATE (:Doc {year: 1}) WITH 1 AS x MATCH (n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 60) "
                      "RETURN count(*)", {"q": q})
    assert r.rows == [(sum(1 for n in docs.nodes("Doc") if n.embedded),)]


def test_search_errors(docs):
    with pytest.raises(CypherError, match="DimensionError"):
        execute(docs, "MATCH (n:Doc) SEARCH n IN (VECTOR FOR [1, 2] LIMIT 2) RETURN n")
    with pytest.raises(CypherError):
        execute(docs, "MATCH (n:Doc) SEARCH n IN (VECTOR FOR 'text' LIMIT 2) RETURN n")
    with pytest.raises(CypherError, match="non-negative integer"):
        execute(docs, "MATCH (n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 1.5) RETURN n", {"q": QS[0]})


# ---- shortestPath --------------------------------------------------------------------------------

def test_shortest_path_equals_graph_shortest_path():
    g = Graph(agentdb.open(dim=2))
    rng = random.Random(7)
    g.batch_insert(nodes=[{"id": i, "labels": "V", "properties": {"i": i}} for i in range(40)],
                   edges=[(rng.randrange(40), rng.randrange(40), rng.choice("AB")) for _ in range(80)])
    for a, b in [(0, 5), (3, 17), (8, 8), (12, 39), (20, 1)]:
        for types, direction, arrow in [(None, "out", "-[r*..10]->"), ("A", "out", "-[r:A*..10]->"),
                                        (None, "both", "-[r*..10]-"), (None, "in", "<-[r*..10]-")]:
            q = f"MATCH p = shortestPath((x:V {{i: $a}}){arrow}(y:V {{i: $b}})) RETURN nodes(p) AS ns, r"
            rows = execute(g, q, {"a": a, "b": b}).rows
            want = g.shortest_path(a, b, types=types, direction=direction) if a != b else None
            if want is None:
                assert rows == []
            else:
                (ns, rels), = rows
                assert len(ns) == len(want.nodes) and ns[0].id == a and ns[-1].id == b
                assert [e.id for e in rels] == want.edges
    # the hop bound drops longer paths; *0.. matches a node with itself
    far = next((a, b) for a in range(40) for b in range(40)
               if (p := g.shortest_path(a, b)) is not None and len(p.edges) >= 3)
    q = "MATCH p = shortestPath((x:V {i: $a})-[*..2]->(y:V {i: $b})) RETURN length(p)"
    assert execute(g, q, {"a": far[0], "b": far[1]}).rows == []
    q = "MATCH p = shortestPath((x:V {i: 4})-[*0..3]->(y:V {i: 4})) RETURN length(p)"
    assert execute(g, q).rows == [(0,)]


# ---- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("query,match", [
    ("MATCH (n:A) CREATE (n:B)", "already bound"),
    ("MATCH (n:A)-[r]->(m) CREATE (n)-[r:R]->(m)", "already bound"),
    ("MATCH ()-[r]->() CREATE (r)-[:R]->()", "not a node"),
    ("MATCH ()-[r]->() SET r:L", "needs a node"),
    ("MATCH (n:A) SET n.k = [n]", "cannot be a property value"),
    ("MATCH (n:A) SET n = 5", "needs a map"),
    ("MATCH (n:A) SET n.a.b = 1", "nested"),
    ("MATCH (n:A) DELETE n.x", "DELETE"),
    ("MATCH (n:A) DELETE n", "DETACH DELETE"),
    ("MATCH (n:A) DETACH DELETE n SET n.x = 1", "deleted"),
    ("MERGE (n:A {k: null})", "null property"),
    ("MERGE (n:A {k: $missing})", r"missing parameter \$missing"),
    ("CREATE (n:A {k: m.x})", "unknown variable 'm'"),
    ("CREATE (a:A {x: 1}), (b:B {y: a.x})", "unknown variable 'a'"),
    ("MATCH (n) SET m.x = 1", "unknown variable 'm'"),
    ("MATCH (n) DELETE m", "unknown variable 'm'"),
    ("MATCH (n:A) SEARCH n IN (VECTOR FOR $q LIMIT 2) RETURN m", "unknown variable 'm'"),
    ("MATCH (n:A) SEARCH n IN (VECTOR FOR $q LIMIT -1) RETURN n", "non-negative integer"),
    ("MATCH (n:A) SEARCH n IN (VECTOR INDEX other FOR $q LIMIT 2) RETURN n", "one index"),
    ("MATCH (n:A)-[r]->(m) SEARCH r IN (VECTOR FOR $q LIMIT 2) RETURN n", "needs a node"),
    ("MATCH p = allShortestPaths((a)-[*]-(b)) RETURN p", "allShortestPaths"),
    ("MATCH p = shortestPath((a)-[*2..3]-(b)) RETURN p", "minimum length"),
    ("CALL db.labels()", "CALL"),
])
def test_errors_are_typed_and_change_nothing(query, match):
    g = Graph(agentdb.open(dim=2))
    execute(g, "CREATE (:A {x: 1})-[:R]->(:B)")
    before = state(g)
    with pytest.raises(CypherError, match=match) as info:
        execute(g, query, {"q": [1.0, 0.0]})
    assert isinstance(info.value, agentdb.AgentDBError) and isinstance(info.value, ValueError)
    assert state(g) == before


@pytest.mark.parametrize("query", ["CREATE (n", "CREATE (a)-[:R]-(b)", "CREATE (a)-[]->(b)", "MERGE (a)-[:R*2]->(b)",
                                   "MATCH (n) SET n.x", "MATCH (n) DELETE", "CREATE (a) MATCH (b) RETURN b"])
def test_syntax_errors(g, query):
    with pytest.raises(CypherSyntaxError):
        execute(g, query)


def test_a_read_only_store_refuses_updates_but_reads(tmp_path):
    path = tmp_path / "r.rvf"
    with agentdb.open(path, dim=2) as db:
        db.graph.cypher("CREATE (:A {x: 1})")
    with agentdb.open(path, readonly=True) as db:
        assert db.graph.cypher("MATCH (n:A) RETURN n.x").rows == [(1,)]
        with pytest.raises(agentdb.ReadOnlyError):
            db.graph.cypher("MATCH (n:A) SET n.x = 2")


@pytest.mark.parametrize("module", ["updates", "paths"])
def test_docstring_examples(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(f"agentdb.graph.cypher.{module}"))
    assert result.failed == 0 and result.attempted > 0
