"""agentdb.graph.cypher.plan: the starts the planner picks narrow what a query reads (a point
pattern touches a node and its edges, whatever the graph's size) and never change its rows:
anchors that Cypher's = would not honour exactly (booleans against numbers, ints against
floats, nulls, dotted keys, values that cannot be had up front) fall back to the full match."""
import random

import pytest

import agentdb
from agentdb import CypherError
from agentdb.graph.cypher.executor import execute
from agentdb.graph.cypher.parser import parse
from agentdb.graph.cypher.plan import anchor_terms, reversed_pattern


def rows(g, query, params=None, **limits):
    return sorted(execute(g, query, params, **limits).rows, key=repr)


@pytest.fixture(scope="module")
def big():
    """5,000 nodes in a ring with chords: enough that a scan of every node is 5,000 steps."""
    g = agentdb.open(dim=2).graph
    n = 5000
    r = random.Random(3)
    g.batch_insert(nodes=[{"id": i, "labels": ["P" if i % 2 else "Q"], "properties": {"nid": i, "m": i % 10}}
                          for i in range(n)],
                   edges={"src": list(range(n)) + [r.randrange(n) for _ in range(n)],
                          "dst": [(i + 1) % n for i in range(n)] + [r.randrange(n) for _ in range(n)],
                          "type": ["NEXT"] * n + ["CHORD"] * n})
    return g


@pytest.mark.parametrize("query", [
    "MATCH (a:P {nid: $x})-[:NEXT]->(b) RETURN b.nid",
    "MATCH (a)-[:NEXT]->(b) WHERE id(a) = $x RETURN b.nid",
    "MATCH (a)-[:NEXT]->(b) WHERE $x = a.nid RETURN b.nid",
    "MATCH (b)<-[:NEXT]-(a) WHERE id(a) IN [$x, 17] RETURN b.nid",
    "MATCH (a)-[:NEXT]->(b)-[:NEXT]->(c) WHERE id(c) = $x RETURN a.nid",       # walked from c
    "MATCH (a)-[:NEXT]->(b), (c {nid: $x})-[:NEXT]->(a) RETURN b.nid",         # the anchored pattern first
    "MATCH (a {nid: $x}) MATCH (a)-[:NEXT]->(b) WHERE b.m = a.m + 1 RETURN b.nid",
])
def test_a_point_pattern_reads_only_what_it_walks(big, query):
    """Without a plan each of these looks at all 5,000 nodes (max_steps counts every
    candidate and edge looked at); with one, a handful."""
    assert rows(big, query, {"x": 41}, max_steps=60)
    with pytest.raises(CypherError, match="max_steps"):
        execute(big, "MATCH (a)-[:NEXT]->(b) WHERE a.nid + 0 = $x RETURN b.nid", {"x": 41}, max_steps=60)


def test_planned_rows_equal_the_rows_of_the_pattern_written_the_other_way(big):
    for x in (0, 41, 4999):
        fwd = rows(big, "MATCH (a)-[r:CHORD|NEXT]->(b)-[s]->(c) WHERE id(c) = $x RETURN id(a), id(r), id(b), id(s)",
                   {"x": x})
        back = rows(big, "MATCH (c)<-[s]-(b)<-[r:CHORD|NEXT]-(a) WHERE id(c) = $x RETURN id(a), id(r), id(b), id(s)",
                    {"x": x})
        scan = rows(big, "MATCH (a)-[r:CHORD|NEXT]->(b)-[s]->(c) WHERE id(c) + 0 = $x "
                         "RETURN id(a), id(r), id(b), id(s)", {"x": x})
        assert fwd == back == scan and fwd


@pytest.fixture
def odd():
    g = agentdb.open(dim=2).graph
    g.batch_insert(nodes=[{"id": 1, "properties": {"f": 1, "x": 2.5, "a.b": 1}},
                          {"id": 2, "properties": {"f": True, "x": 2, "a": {"b": 1}}},
                          {"id": 3, "properties": {"f": 1.0, "and": 1}},
                          {"id": "1", "properties": {"f": "1"}}],
                   edges=[(1, 2, "R"), (2, 3, "R"), (3, 1, "R"), ("1", 1, "R")])
    return g


@pytest.mark.parametrize("query, expected", [
    ("MATCH (n {f: 1}) RETURN id(n)", [(1,), (3,)]),              # 1 = 1.0, not true
    ("MATCH (n {f: true}) RETURN id(n)", [(2,)]),
    ("MATCH (n {f: '1'}) RETURN id(n)", [("1",)]),
    ("MATCH (n) WHERE n.x = 2.0 RETURN id(n)", [(2,)]),
    ("MATCH (n) WHERE n.x = null RETURN id(n)", []),
    ("MATCH (n) WHERE n.`a.b` = 1 RETURN id(n)", [(1,)]),          # the top-level key, not a path
    ("MATCH (n) WHERE n.and = 1 RETURN id(n)", [(3,)]),            # a key named like a filter operator
    ("MATCH (n) WHERE id(n) = 1.0 RETURN id(n)", [(1,)]),          # ids are ints or strings; 1 = 1.0
    ("MATCH (n) WHERE id(n) = '1' RETURN n.f", [("1",)]),
    ("MATCH (n) WHERE id(n) IN [3, null, 'x'] RETURN id(n)", [(3,)]),
    ("MATCH (n) WHERE id(n) IN null RETURN id(n)", []),
    ("MATCH (n) WHERE id(n) = 1 AND id(n) = 2 RETURN id(n)", []),
    ("MATCH (n) WHERE id(n) = 1 OR id(n) = 2 RETURN id(n)", [(1,), (2,)]),   # OR pins nothing down
    ("MATCH (a)-[:R]->(b {f: a.f}) RETURN id(a), id(b)", [(3, 1)]),  # a map reading the pattern
    ("MATCH (a)-[:R]->(b) WHERE a.f = b.f RETURN id(a)", [(3,)]),
    ("OPTIONAL MATCH (n) WHERE id(n) = 99 RETURN n", [(None,)]),
    ("UNWIND [1, 3, 7] AS i MATCH (n) WHERE id(n) = i RETURN i, n.f", [(1, 1), (3, 1.0)]),
])
def test_anchors_keep_cypher_equality(odd, query, expected):
    assert rows(odd, query) == sorted(expected, key=repr)


def test_only_top_level_and_terms_that_pin_a_variable_are_anchors():
    where = parse("MATCH (a), (b) WHERE id(a) = 1 AND (b.x = 2 OR b.y = 3) AND a.k = $v AND 4 = b.z "
                  "AND id(b) IN [1] AND a.k < 3 RETURN a").clauses[0].where
    got = [(name, kind, key) for name, kind, key, _ in anchor_terms(where)]
    assert got == [("a", "id", None), ("a", "prop", "k"), ("b", "prop", "z"), ("b", "ids", None)]


def test_a_reversed_pattern_flips_each_direction():
    p = parse("MATCH (a)-[:R]->(b)<-[:S]-(c)-[:T]-(d) RETURN a").clauses[0].patterns[0]
    back = reversed_pattern(p)
    assert [e.variable for e in back.nodes] == ["d", "c", "b", "a"]
    assert [(r.types, r.direction) for r in back.relationships] == [(("T",), "both"), (("S",), "out"),
                                                                     (("R",), "in")]
    assert reversed_pattern(back) == p
