"""The Cypher subset's lexer and parser (issue 19): a table of queries and the AST each must
give, a table of broken queries and the line, column and expectation each error must name,
the limits (length, nesting, a caller's short stack), and fuzzing: token soups and mutated
valid queries either parse or raise CypherSyntaxError, quickly; nothing else ever escapes."""
import doctest
import importlib
import inspect
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentdb
from agentdb import AgentDBError, CypherSyntaxError
from agentdb.graph.cypher import MAX_DEPTH, MAX_QUERY_CHARS, parse, tokenize, walk
from agentdb.graph.cypher import ast as A
from agentdb.graph.cypher.parser import RESERVED as RESERVED_WORDS

# ---------------------------------------------------------------- builders for expected trees

V, L, Pm = A.Variable, A.Literal, A.Parameter


def P(subject, *keys):
    """P('n', 'a', 'b') is n.a.b."""
    subject = V(subject) if isinstance(subject, str) else subject
    for key in keys:
        subject = A.Property(subject, key)
    return subject


def B(op, left, right):
    return A.Binary(op, left, right)


def F(name, *args, distinct=False, star=False):
    return A.FunctionCall(name, tuple(args), distinct, star)


def Map(**items):
    return A.MapLiteral(tuple(items.items()))


def node(variable=None, *labels, props=None):
    return A.NodePattern(variable, tuple(labels), props)


def rel(variable=None, *types, d=A.OUT, props=None, hops=None):
    return A.RelPattern(variable, tuple(types), props, d, None if hops is None else A.Hops(*hops))


def path(*elements, var=None, shortest=None):
    return A.PathPattern(tuple(elements), var, shortest)


def item(expr, alias=None, text=None):
    return A.ReturnItem(expr, alias, text)


def proj(*items, **kw):
    return A.Projection(tuple(items), **kw)


def E(text):
    """The expression of `RETURN <text>`."""
    return parse(f"RETURN {text}").clauses[-1].projection.items[0].expr


def c(i):
    """A getter: clause i of a query."""
    return lambda s: s.clauses[i]


def pat(i=0, j=0):
    """A getter: pattern j of clause i."""
    return lambda s: s.clauses[i].patterns[j]


def where(i=0):
    return lambda s: s.clauses[i].where


def ret():
    return lambda s: s.clauses[-1].projection


def kinds():
    return lambda s: tuple(type(x).__name__ for x in s.clauses)


def strip_text(projection):
    """Projections compared without the source text of each item (checked elsewhere)."""
    items = tuple(A.ReturnItem(i.expr, i.alias, None) for i in projection.items)
    return A.Projection(items, projection.star, projection.distinct, projection.order_by,
                        projection.skip, projection.limit)


def rproj():
    return lambda s: strip_text(s.clauses[-1].projection)


# ---------------------------------------------------------------- valid queries

VALID = [
    # node patterns
    ("MATCH (n) RETURN n", pat(), path(node("n"))),
    ("MATCH () RETURN 1", pat(), path(node())),
    ("MATCH (:Person) RETURN 1", pat(), path(node(None, "Person"))),
    ("MATCH (v:Label:Other) RETURN v", pat(), path(node("v", "Label", "Other"))),
    ("MATCH (v:Label {key: 'value', n: 2}) RETURN v", pat(),
     path(node("v", "Label", props=Map(key=L("value"), n=L(2))))),
    ("MATCH (v {}) RETURN v", pat(), path(node("v", props=A.MapLiteral(())))),
    ("MATCH (v $props) RETURN v", pat(), path(node("v", props=Pm("props")))),
    ("MATCH (n:Order {end: 1, `my key`: 2}) RETURN n", pat(),
     path(node("n", "Order", props=A.MapLiteral((("end", L(1)), ("my key", L(2))))))),
    ("MATCH (`weird name`:`Label with space`) RETURN `weird name`", pat(),
     path(node("weird name", "Label with space"))),
    ("MATCH (`a``b`) RETURN 1", pat(), path(node("a`b"))),
    # relationship patterns and directions
    ("MATCH (a)-[r:TYPE]->(b) RETURN r", pat(), path(node("a"), rel("r", "TYPE"), node("b"))),
    ("MATCH (a)<-[r:TYPE]-(b) RETURN r", pat(), path(node("a"), rel("r", "TYPE", d=A.IN), node("b"))),
    ("MATCH (a)-[r:TYPE]-(b) RETURN r", pat(), path(node("a"), rel("r", "TYPE", d=A.BOTH), node("b"))),
    ("MATCH (a)<-[r]->(b) RETURN r", pat(), path(node("a"), rel("r", d=A.BOTH), node("b"))),
    ("MATCH (a)-->(b) RETURN a", pat(), path(node("a"), rel(), node("b"))),
    ("MATCH (a)<--(b) RETURN a", pat(), path(node("a"), rel(d=A.IN), node("b"))),
    ("MATCH (a)--(b) RETURN a", pat(), path(node("a"), rel(d=A.BOTH), node("b"))),
    ("MATCH (a)-[]->(b) RETURN a", pat(), path(node("a"), rel(), node("b"))),
    ("MATCH (a)-[r:TYPE|OTHER {k: 1}]->(b) RETURN r", pat(),
     path(node("a"), rel("r", "TYPE", "OTHER", props=Map(k=L(1))), node("b"))),
    ("MATCH (a)-[:A|:B|C]->(b) RETURN a", pat(), path(node("a"), rel(None, "A", "B", "C"), node("b"))),
    ("MATCH (a)-[r $p]->(b) RETURN r", pat(), path(node("a"), rel("r", props=Pm("p")), node("b"))),
    ("MATCH (a)-[:R]->(b)<-[:S]-(c)-[:T]-(d) RETURN a", lambda s: [r.direction for r in s.clauses[0].patterns[0].relationships],
     [A.OUT, A.IN, A.BOTH]),
    ("MATCH (a) - [ r : R ] -> ( b ) RETURN r", pat(), path(node("a"), rel("r", "R"), node("b"))),
    # variable length
    ("MATCH (a)-[*]->(b) RETURN a", lambda s: s.clauses[0].patterns[0].elements[1].length, A.Hops(1, None)),
    ("MATCH (a)-[*2]->(b) RETURN a", lambda s: s.clauses[0].patterns[0].elements[1].length, A.Hops(2, 2)),
    ("MATCH (a)-[*1..3]->(b) RETURN a", lambda s: s.clauses[0].patterns[0].elements[1].length, A.Hops(1, 3)),
    ("MATCH (a)-[*..3]->(b) RETURN a", lambda s: s.clauses[0].patterns[0].elements[1].length, A.Hops(1, 3)),
    ("MATCH (a)-[*2..]->(b) RETURN a", lambda s: s.clauses[0].patterns[0].elements[1].length, A.Hops(2, None)),
    ("MATCH (a)-[*0..1]->(b) RETURN a", lambda s: s.clauses[0].patterns[0].elements[1].length, A.Hops(0, 1)),
    ("MATCH (a)-[r:KNOWS* 1 .. 3 {since: 2020}]->(b) RETURN r", pat(),
     path(node("a"), rel("r", "KNOWS", props=Map(since=L(2020)), hops=(1, 3)), node("b"))),
    # named paths, shortest paths
    ("MATCH p = (a)-[*1..3]->(b) RETURN p", pat(),
     path(node("a"), rel(hops=(1, 3)), node("b"), var="p")),
    ("MATCH p = shortestPath((a)-[*]-(b)) RETURN p", pat(),
     path(node("a"), rel(d=A.BOTH, hops=(1, None)), node("b"), var="p", shortest="shortest")),
    ("MATCH p = allShortestPaths((a)-[:R*..5]->(b)) RETURN p", lambda s: s.clauses[0].patterns[0].shortest, "all"),
    # several patterns, several MATCH, OPTIONAL MATCH
    ("MATCH (a), (b)-->(c), p = (d) RETURN a", lambda s: [p.variables() for p in s.clauses[0].patterns],
     [("a",), ("b", "c"), ("p", "d")]),
    ("MATCH (a) MATCH (a)-->(b) RETURN b", kinds(), ("Match", "Match", "Return")),
    ("MATCH (a) OPTIONAL MATCH (a)-->(b) RETURN b", lambda s: [m.optional for m in s.clauses[:2]], [False, True]),
    ("OPTIONAL MATCH (n) RETURN n", lambda s: s.clauses[0].optional, True),
    # WHERE: comparisons and boolean operators
    ("MATCH (n) WHERE n.age = 3 RETURN n", where(), B("=", P("n", "age"), L(3))),
    ("MATCH (n) WHERE n.a <> 1 AND n.b < 2 OR n.c <= 3 XOR n.d > 4 AND NOT n.e >= 5 RETURN n", where(),
     B("OR", B("AND", B("<>", P("n", "a"), L(1)), B("<", P("n", "b"), L(2))),
       B("XOR", B("<=", P("n", "c"), L(3)),
         B("AND", B(">", P("n", "d"), L(4)), A.Unary("NOT", B(">=", P("n", "e"), L(5))))))),
    ("MATCH (n) WHERE NOT NOT n.x RETURN n", where(), A.Unary("NOT", A.Unary("NOT", P("n", "x")))),
    ("MATCH (n) WHERE n.x IN [1, 2, 3] RETURN n", where(),
     B("IN", P("n", "x"), A.ListLiteral((L(1), L(2), L(3))))),
    ("MATCH (n) WHERE n.name STARTS WITH 'A' RETURN n", where(), B("STARTS WITH", P("n", "name"), L("A"))),
    ("MATCH (n) WHERE n.name ENDS WITH $s RETURN n", where(), B("ENDS WITH", P("n", "name"), Pm("s"))),
    ("MATCH (n) WHERE n.name CONTAINS 'x' + 'y' RETURN n", where(),
     B("CONTAINS", P("n", "name"), B("+", L("x"), L("y")))),
    ("MATCH (n) WHERE n.x IS NULL RETURN n", where(), A.IsNull(P("n", "x"))),
    ("MATCH (n) WHERE n.x IS NOT NULL RETURN n", where(), A.IsNull(P("n", "x"), True)),
    ("MATCH (n) WHERE n:Person:Admin RETURN n", where(), A.HasLabels(V("n"), ("Person", "Admin"))),
    ("MATCH (n) WHERE n.x = 1 IS NULL RETURN n", where(), B("=", P("n", "x"), A.IsNull(L(1)))),
    ("MATCH (n) WHERE n.x IN $xs = true RETURN n", where(), B("=", B("IN", P("n", "x"), Pm("xs")), L(True))),
    # expressions: arithmetic and precedence (openCypher's)
    ("RETURN 1 + 2 * 3 - 4 / 5 % 6", lambda s: E("1 + 2 * 3 - 4 / 5 % 6"),
     B("-", B("+", L(1), B("*", L(2), L(3))), B("%", B("/", L(4), L(5)), L(6)))),
    ("RETURN 2 ^ 3 ^ 2", lambda s: E("2 ^ 3 ^ 2"), B("^", B("^", L(2), L(3)), L(2))),
    ("RETURN -2 ^ 2", lambda s: E("-2 ^ 2"), B("^", L(-2), L(2))),
    ("RETURN -x ^ 2", lambda s: E("-x ^ 2"), B("^", A.Unary("-", V("x")), L(2))),
    ("RETURN 2 ^ -x", lambda s: E("2 ^ -x"), B("^", L(2), A.Unary("-", V("x")))),
    ("RETURN (1 + 2) * 3", lambda s: E("(1 + 2) * 3"), B("*", B("+", L(1), L(2)), L(3))),
    ("RETURN - - 1, +x", lambda s: [i.expr for i in s.clauses[0].projection.items],
     [A.Unary("-", L(-1)), A.Unary("+", V("x"))]),
    ("RETURN 1 < 2 <= 3", lambda s: E("1 < 2 <= 3"), B("AND", B("<", L(1), L(2)), B("<=", L(2), L(3)))),
    ("RETURN a.b.c, a[0], a[1..2], a[..2], a[1..], a.b[0].c", lambda s: [i.expr for i in s.clauses[0].projection.items],
     [P("a", "b", "c"), A.Index(V("a"), L(0)), A.Slice(V("a"), L(1), L(2)), A.Slice(V("a"), None, L(2)),
      A.Slice(V("a"), L(1), None), P(A.Index(P("a", "b"), L(0)), "c")]),
    # function calls and aggregates
    ("RETURN toUpper(n.name), f(), db.x.y(1, 2)", lambda s: [i.expr for i in s.clauses[0].projection.items],
     [F("toupper", P("n", "name")), F("f"), F("db.x.y", L(1), L(2))]),
    ("MATCH (n) RETURN count(*)", lambda s: s.clauses[1].projection.items[0],
     A.ReturnItem(F("count", star=True), None, "count(*)")),
    ("MATCH (n) RETURN COUNT( * ) AS c", lambda s: s.clauses[1].projection.items[0].expr, F("count", star=True)),
    ("MATCH (n) RETURN count(DISTINCT n.x) AS c", lambda s: s.clauses[1].projection.items[0].expr,
     F("count", P("n", "x"), distinct=True)),
    ("MATCH (n) RETURN sum(n.x), avg(n.x), min(n.x), max(n.x), collect(DISTINCT n.x)",
     lambda s: [(i.expr.name, i.expr.distinct, i.expr.is_aggregate) for i in s.clauses[1].projection.items],
     [("sum", False, True), ("avg", False, True), ("min", False, True), ("max", False, True),
      ("collect", True, True)]),
    ("RETURN vector.similarity($a, $b) AS s", lambda s: E("vector.similarity($a, $b)"),
     F("vector.similarity", Pm("a"), Pm("b"))),
    # literals
    ("RETURN 0, 42, 0x1F, 0o17, -9223372036854775808, 9223372036854775807",
     lambda s: [i.expr.value for i in s.clauses[0].projection.items], [0, 42, 31, 15, -2 ** 63, 2 ** 63 - 1]),
    ("RETURN 1.5, .5, 1e3, 1.5E-3, 2e+2, -0.25", lambda s: [i.expr.value for i in s.clauses[0].projection.items],
     [1.5, 0.5, 1000.0, 0.0015, 200.0, -0.25]),
    ("RETURN 'a', \"b\", 'it''s'", None, None),   # adjacent strings are not Cypher: see INVALID
    ("RETURN 'single', \"double\", 'q\"', \"q'\"", lambda s: [i.expr.value for i in s.clauses[0].projection.items],
     ["single", "double", 'q"', "q'"]),
    (r"RETURN 'a\tb\nc\\d\'e\"f\u00e9\U0001F600\b\f\r'", lambda s: s.clauses[0].projection.items[0].expr.value,
     "a\tb\nc\\d'e\"f\u00e9\U0001F600\b\f\r"),
    ("RETURN 'multi\nline'", lambda s: s.clauses[0].projection.items[0].expr.value, "multi\nline"),
    ("RETURN true, FALSE, Null", lambda s: [i.expr.value for i in s.clauses[0].projection.items], [True, False, None]),
    ("RETURN [], [1, 'a', [null]], {}, {a: 1, b: {c: [2]}}", lambda s: [i.expr for i in s.clauses[0].projection.items],
     [A.ListLiteral(()), A.ListLiteral((L(1), L("a"), A.ListLiteral((L(None),)))), A.MapLiteral(()),
      Map(a=L(1), b=Map(c=A.ListLiteral((L(2),))))]),
    ("RETURN $p, $0, $`my param`", lambda s: [i.expr for i in s.clauses[0].projection.items],
     [Pm("p"), Pm("0"), Pm("my param")]),
    # CASE
    ("RETURN CASE n.x WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END AS c",
     lambda s: s.clauses[0].projection.items[0].expr,
     A.Case(P("n", "x"), ((L(1), L("one")), (L(2), L("two"))), L("many"))),
    ("RETURN CASE WHEN n.x > 1 THEN true END AS c", lambda s: s.clauses[0].projection.items[0].expr,
     A.Case(None, ((B(">", P("n", "x"), L(1)), L(True)),), None)),
    # WITH
    ("MATCH (a) WITH a, a.x AS x WHERE x > 1 RETURN x", lambda s: (strip_text(s.clauses[1].projection), s.clauses[1].where),
     (proj(item(V("a")), item(P("a", "x"), "x")), B(">", V("x"), L(1)))),
    ("MATCH (a)-->(b) WITH a, count(b) AS n ORDER BY n DESC LIMIT 3 MATCH (a)<--(c) RETURN a, n, c",
     kinds(), ("Match", "With", "Match", "Return")),
    ("WITH 1 AS x WITH x + 1 AS y WITH * RETURN y", lambda s: [w.projection.star for w in s.clauses[:3]],
     [False, False, True]),
    ("MATCH (n) WITH DISTINCT n.k AS k RETURN k", lambda s: s.clauses[1].projection.distinct, True),
    # RETURN, aliases, star, DISTINCT, ORDER BY, SKIP, LIMIT
    ("MATCH (n) RETURN n.name AS name, n", rproj(), proj(item(P("n", "name"), "name"), item(V("n")))),
    ("MATCH (n) RETURN *", rproj(), proj(star=True)),
    ("MATCH (n) RETURN *, n.x AS x", rproj(), proj(item(P("n", "x"), "x"), star=True)),
    ("MATCH (n) RETURN DISTINCT n.x", rproj(), proj(item(P("n", "x")), distinct=True)),
    ("MATCH (n) RETURN n.x AS x ORDER BY n.y DESC, x ASC, n.z SKIP 2 LIMIT 10", rproj(),
     proj(item(P("n", "x"), "x"), order_by=(A.SortItem(P("n", "y"), True), A.SortItem(V("x")), A.SortItem(P("n", "z"))),
          skip=L(2), limit=L(10))),
    ("MATCH (n) RETURN n ORDER BY n.a DESCENDING, n.b ASCENDING SKIP $s LIMIT $l + 1", rproj(),
     proj(item(V("n")), order_by=(A.SortItem(P("n", "a"), True), A.SortItem(P("n", "b"))),
          skip=Pm("s"), limit=B("+", Pm("l"), L(1)))),
    ("RETURN 1 LIMIT 0", lambda s: s.clauses[0].projection.limit, L(0)),
    ("MATCH (n) RETURN n.x  +  1, count(n)", lambda s: [i.name for i in s.clauses[1].projection.items],
     ["n.x  +  1", "count(n)"]),
    ("RETURN 1 AS `a b`", lambda s: s.clauses[0].projection.items[0].name, "a b"),
    # CREATE
    ("CREATE (n:Person {name: 'Ann', age: 30})", c(0),
     A.Create((path(node("n", "Person", props=Map(name=L("Ann"), age=L(30)))),))),
    ("CREATE (a:A), (b:B), (a)-[:R {w: 1.5}]->(b)", lambda s: len(s.clauses[0].patterns), 3),
    ("MATCH (a), (b) CREATE (a)<-[r:KNOWS]-(b) RETURN r", pat(1),
     path(node("a"), rel("r", "KNOWS", d=A.IN), node("b"))),
    ("CREATE (n $props) RETURN n", pat(), path(node("n", props=Pm("props")))),
    ("CREATE p = (a)-[:R]->(b) RETURN p", lambda s: s.clauses[0].patterns[0].variable, "p"),
    # MERGE
    ("MERGE (n:P {id: 1})", c(0), A.Merge(path(node("n", "P", props=Map(id=L(1)))))),
    ("MERGE (n:P {id: 1}) ON CREATE SET n.created = 1 ON MATCH SET n.seen = n.seen + 1, n:Seen RETURN n", c(0),
     A.Merge(path(node("n", "P", props=Map(id=L(1)))), (A.SetProperty(P("n", "created"), L(1)),),
             (A.SetProperty(P("n", "seen"), B("+", P("n", "seen"), L(1))), A.SetLabels("n", ("Seen",))))),
    ("MATCH (a), (b) MERGE (a)-[r:R]-(b) ON MATCH SET r.w = 1 ON MATCH SET r.v = 2",
     lambda s: (s.clauses[1].pattern.relationships[0].direction, len(s.clauses[1].on_match)), (A.BOTH, 2)),
    # SET, REMOVE, DELETE
    ("MATCH (a) SET a.k = 1, a += {x: 2}, a = {y: 3}, a:L1:L2, a.b.c = null", c(1),
     A.Set((A.SetProperty(P("a", "k"), L(1)), A.SetProperties("a", Map(x=L(2)), True),
            A.SetProperties("a", Map(y=L(3)), False), A.SetLabels("a", ("L1", "L2")),
            A.SetProperty(P("a", "b", "c"), L(None))))),
    ("MATCH (a) SET a = $map RETURN a", lambda s: s.clauses[1].items[0], A.SetProperties("a", Pm("map"))),
    ("MATCH (a) REMOVE a.k, a:L1:L2", c(1), A.Remove((A.RemoveProperty(P("a", "k")), A.RemoveLabels("a", ("L1", "L2"))))),
    ("MATCH (a)-[r]->() DELETE r, a", c(1), A.Delete((V("r"), V("a")))),
    ("MATCH (a) DETACH DELETE a", c(1), A.Delete((V("a"),), True)),
    ("MATCH (a) SET a.n = 1 REMOVE a.m DELETE a", kinds(), ("Match", "Set", "Remove", "Delete")),
    ("MATCH (a) SET a.x = 1 WITH a MATCH (a)-->(b) RETURN b", kinds(), ("Match", "Set", "With", "Match", "Return")),
    ("CREATE (a) SET a.x = 1 RETURN a", kinds(), ("Create", "Set", "Return")),
    # UNWIND
    ("UNWIND [1, 2, 3] AS x RETURN x", c(0), A.Unwind(A.ListLiteral((L(1), L(2), L(3))), "x")),
    ("UNWIND $rows AS row CREATE (n:N {id: row.id})", lambda s: (s.clauses[0], kinds()(s)),
     (A.Unwind(Pm("rows"), "row"), ("Unwind", "Create"))),
    # CALL
    ("CALL db.labels()", c(0), A.Call("db.labels")),
    ("CALL db.nearest('Doc', $v, 10) YIELD node, score RETURN node, score", c(0),
     A.Call("db.nearest", (L("Doc"), Pm("v"), L(10)), (A.YieldItem("node"), A.YieldItem("score")))),
    ("MATCH (n) CALL my.proc(n) YIELD out AS o WHERE o > 1 RETURN o", c(1),
     A.Call("my.proc", (V("n"),), (A.YieldItem("out", "o"),), B(">", V("o"), L(1)))),
    # the vector predicate
    ("MATCH (n:Doc) SEARCH n IN (VECTOR FOR $v LIMIT 10) SCORE AS score RETURN n, score",
     lambda s: s.clauses[0].search, A.VectorSearch("n", Pm("v"), L(10), None, None, "score")),
    ("MATCH (n:Doc)-[:IN]->(:Folder {name: $f}) SEARCH n IN (VECTOR INDEX docs FOR $v WHERE n.year > 2020 "
     "LIMIT $k) SCORE AS s WHERE s > 0.5 RETURN n",
     lambda s: (s.clauses[0].search, s.clauses[0].where),
     (A.VectorSearch("n", Pm("v"), Pm("k"), B(">", P("n", "year"), L(2020)), "docs", "s"), B(">", V("s"), L(0.5)))),
    ("OPTIONAL MATCH (n) SEARCH n IN (VECTOR FOR [1.0, 2.0] LIMIT 3) RETURN n",
     lambda s: (s.clauses[0].optional, s.clauses[0].search.vector, s.clauses[0].search.score),
     (True, A.ListLiteral((L(1.0), L(2.0))), None)),
    ("MATCH (search) SEARCH search IN (VECTOR FOR $v LIMIT 1) SCORE AS score RETURN search, score",
     lambda s: s.clauses[0].search.variable, "search"),
    # UNION
    ("RETURN 1 AS x UNION RETURN 2 AS x", lambda s: (type(s), s.all, len(s.queries)), (A.Union, False, 2)),
    ("MATCH (a) RETURN a UNION ALL MATCH (b) RETURN b UNION ALL RETURN 3 AS a",
     lambda s: (s.all, [len(q.clauses) for q in s.queries]), (True, [2, 2, 1])),
    # case-insensitive keywords, comments, whitespace, a trailing ';'
    ("match (n:Person) where n.x is not null and n.y in [1] return distinct n order by n.x desc skip 1 limit 2",
     lambda s: (s.clauses[0].where.right.op, s.clauses[1].projection.distinct), ("IN", True)),
    ("MaTcH (n) ReTuRn N", lambda s: s.clauses[1].projection.items[0].expr, V("N")),
    ("// leading comment\nMATCH (n) /* inline\ncomment */ RETURN n // trailing", kinds(), ("Match", "Return")),
    ("MATCH (n) RETURN n;", kinds(), ("Match", "Return")),
    ("\n\t MATCH\n(n)\r\nRETURN\tn ;  ", kinds(), ("Match", "Return")),
    ("MATCH (n) RETURN n.count, n.end, count", lambda s: [i.expr for i in s.clauses[1].projection.items],
     [P("n", "count"), P("n", "end"), V("count")]),
]
VALID = [entry for entry in VALID if entry[1] is not None]


@pytest.mark.parametrize("query,get,expected", VALID, ids=[q[:60] for q, _, _ in VALID])
def test_valid_query_gives_its_ast(query, get, expected):
    statement = parse(query)
    assert get(statement) == expected
    # every node has the position of its first token, inside the query
    lines = query.split("\n")
    for n in walk(statement):
        assert n.pos is not None, n
        line, column = n.pos
        assert 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1, (n, n.pos)


def test_the_table_is_wide():
    assert len(VALID) >= 80


def test_positions_point_at_first_tokens():
    s = parse("MATCH (a:A)\n  -[r:R]->(b)\nWHERE a.x = $p\nRETURN a.x AS x")
    match = s.clauses[0]
    assert match.pos == (1, 1)
    assert match.patterns[0].elements[1].pos == (2, 3)
    assert match.patterns[0].elements[2].pos == (2, 11)
    assert match.where.pos == (3, 7) and match.where.right.pos == (3, 13)
    assert s.clauses[1].pos == (4, 1) and s.clauses[1].projection.items[0].pos == (4, 8)


def test_return_item_text_is_the_source():
    s = parse("MATCH (n) RETURN n.name, count(DISTINCT n), toUpper( n.x ) , 1+2 AS three")
    assert [i.name for i in s.clauses[1].projection.items] == ["n.name", "count(DISTINCT n)", "toUpper( n.x )", "three"]


def test_ast_nodes_are_frozen_and_hashable():
    s = parse("MATCH (a)-[r:R*1..2]->(b {k: [1, 2]}) RETURN a")
    with pytest.raises(AttributeError):
        s.clauses[0].where = None
    assert hash(s) == hash(parse("MATCH (a)-[r:R*1..2]->(b {k: [1, 2]})\nRETURN a"))
    assert s == parse("match (a)-[r:R*1..2]->(b {k: [1, 2]}) return a")


def test_walk_finds_variables_parameters_and_aggregates():
    s = parse("MATCH (n)-[:R]->(m) WHERE n.x IN $xs RETURN m.k AS k, count(DISTINCT n) AS c, sum(m.w) ORDER BY c")
    assert {v.name for v in walk(s) if isinstance(v, A.Variable)} == {"n", "m", "c"}
    assert [p.name for p in walk(s) if isinstance(p, A.Parameter)] == ["xs"]
    assert [f.name for f in walk(s) if isinstance(f, A.FunctionCall) and f.is_aggregate] == ["count", "sum"]


def test_lexer_tokens():
    tokens = tokenize("a.b x[.5] 1..3 'q' `b``c` $p $`x y` $0 <= <> += 0x1F 1e3")
    assert [(t.kind, t.value) for t in tokens] == [
        ("ident", "a"), ("punct", "."), ("ident", "b"), ("ident", "x"), ("punct", "["), ("float", 0.5),
        ("punct", "]"), ("int", 1), ("punct", ".."), ("int", 3), ("string", "q"), ("quoted", "b`c"),
        ("param", "p"), ("param", "x y"), ("param", "0"), ("punct", "<="), ("punct", "<>"), ("punct", "+="),
        ("int", 31), ("float", 1000.0), ("eof", None)]
    assert tokens[1].kw is None and tokens[0].kw == "A" and tokens[11].kw is None   # backticked: never a keyword


def test_arrows_are_not_tokens_so_minus_stays_arithmetic():
    assert E("a<-1") == B("<", V("a"), L(-1))
    assert E("a--1") == B("-", V("a"), L(-1))


@pytest.mark.parametrize("module", ["agentdb.graph.cypher", "agentdb.graph.cypher.ast", "agentdb.graph.cypher.lexer",
                                    "agentdb.graph.cypher.parser"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_every_ast_node_and_its_public_members_are_documented():
    """The AST is the executor's contract: each node type says what it means."""
    classes = [cls for cls in vars(A).values() if inspect.isclass(cls) and issubclass(cls, A.Node)]
    assert len(classes) > 35
    for cls in classes:
        assert (cls.__doc__ or "").strip() and not cls.__doc__.startswith(cls.__name__ + "("), cls
        for name, member in vars(cls).items():
            if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)):
                assert (member.__doc__ or "").strip(), f"{cls.__name__}.{name}"
    assert (A.walk.__doc__ or "").strip() and (A.children.__doc__ or "").strip()


# ---------------------------------------------------------------- invalid queries

INVALID = [
    # (query, line, column, text the message must contain)
    ("", 1, 1, "expected a clause"),
    ("   \n  ", 2, 3, "expected a clause"),
    ("MATCH (n RETURN n", 1, 10, "expected ':', '{' or ')' in the node pattern, found 'RETURN'"),
    ("MATCH (n:Person {name: 'x'}\n WHERE n.age > 3) RETURN n", 2, 2, "expected ')' after node pattern, found 'WHERE'"),
    ("MATCH (n)", 1, 10, "expected RETURN or an updating clause after MATCH"),
    ("MATCH (n) WITH n", 1, 17, "expected a clause after WITH"),
    ("MATCH (n) RETRUN n", 1, 11, "expected ',', a relationship pattern, SEARCH, WHERE or a clause, found 'RETRUN'"),
    ("RETURN a b", 1, 10, "expected an operator, AS, ',', ORDER BY, SKIP, LIMIT, UNION or end of query, found 'b'"),
    ("RETURN 1 +", 1, 11, "expected an expression, found end of input"),
    ("MATCH (a)\nCREATE (b)\nMATCH (c) RETURN c", 3, 1, "expected WITH between CREATE and MATCH"),
    ("RETURN 1 RETURN 2", 1, 10, "expected UNION or end of query after RETURN, found 'RETURN'"),
    ("MATCH (a)-(b) RETURN a", 1, 11, "expected '[' or '-' after '-' in the relationship pattern, found '('"),
    ("MATCH (a)-[r:KNOWS RETURN a", 1, 20, "expected '|', '*', '{' or ']' in the relationship pattern"),
    ("MATCH (a)-[r]>(b) RETURN a", 1, 14, "expected '-' after ']' in the relationship pattern, found '>'"),
    ("MATCH (a)<>(b) RETURN a", 1, 10, "found '<>'"),
    ("MATCH (a)-[*3..1]->(b) RETURN a", 1, 16, "expected an upper bound of at least 3 hops, found '1'"),
    ("MATCH (a)-[*1.5]->(b) RETURN a", 1, 13, "expected a whole number of hops"),
    ("MATCH (a)-[r:R]->b RETURN a", 1, 18, "expected '(' for the node after the relationship pattern, found 'b'"),
    ("MATCH n RETURN n", 1, 7, "expected '(' to start a pattern, found 'n'"),
    ("MATCH (a), RETURN a", 1, 12, "expected '(' to start a pattern, found 'RETURN'"),
    ("MATCH (match) RETURN 1", 1, 8, "'match' is a reserved word"),
    ("WITH a.x RETURN 1", 1, 10, "expected an operator or AS after the WITH expression 'a.x'"),
    ("RETURN 'abc", 1, 8, "expected a closing ' for the string that starts here, found end of input"),
    ('RETURN\n  "abc', 2, 3, 'expected a closing " for the string'),
    ('RETURN "a\\qb"', 1, 10, "expected an escape"),
    ("RETURN '\\u12'", 1, 9, "expected 4 hex digits after '\\u'"),
    ("RETURN '\\uD800'", 1, 9, "expected a Unicode scalar value"),
    ("RETURN 'a' 'b'", 1, 12, "found string 'b'"),
    ("MATCH (n) WHERE n.x != 1 RETURN n", 1, 21, "expected '<>' for 'not equal', found '!='"),
    ("MATCH (n) WHERE n.x =~ 'a.*' RETURN n", 1, 21, "regular expressions are not supported"),
    ("RETURN 99999999999999999999", 1, 8, "expected an integer within 64 bits"),
    ("RETURN 9223372036854775808", 1, 8, "expected an integer within 64 bits"),
    ("RETURN 1.5e999", 1, 8, "expected a finite floating point number"),
    ("RETURN 1e", 1, 8, "expected a number, found '1e'"),
    ("RETURN 12abc", 1, 8, "expected a number, found '12a'"),
    ("RETURN x ~ y", 1, 10, "expected a token, found the character '~'"),
    ("RETURN /* never closed", 1, 8, "expected '*/' to close the comment"),
    ("RETURN ``", 1, 8, "expected a name between the backticks"),
    ("RETURN `open", 1, 8, "expected a closing ` for the name"),
    ("RETURN $", 1, 9, "expected a parameter name after '$', found end of input"),
    ("RETURN $ x", 1, 9, "expected a parameter name after '$'"),
    ("MATCH (n) WHERE (n)-[:R]->() RETURN n", 1, 20, "patterns inside expressions are not supported"),
    ("RETURN [x IN [1, 2] | x]", 1, 21, "list comprehensions are not supported"),
    ("RETURN {a: 1, a: 2}", 1, 15, "expected distinct keys in the map ('a' is given twice)"),
    ("RETURN {a 1}", 1, 11, "expected ':' after the map key, found '1'"),
    ("RETURN {1: 2}", 1, 9, "expected a property key in the map, found '1'"),
    ("RETURN [1, 2", 1, 13, "expected an operator, ',' or ']' in the list, found end of input"),
    ("RETURN (1 + 2", 1, 14, "expected an operator or ')' to close '('"),
    ("RETURN f(1 2)", 1, 12, "expected an operator, ',' or ')' in the arguments of f()"),
    ("CREATE (a)-[:R]-(b)", 1, 11, "expected a direction ('->' or '<-') for the relationship in CREATE"),
    ("CREATE (a)-[:R|S]->(b)", 1, 11, "expected exactly one relationship type in CREATE, found 2"),
    ("CREATE (a)-->(b)", 1, 11, "expected exactly one relationship type in CREATE, found none"),
    ("CREATE (a)-[:R*2]->(b)", 1, 11, "expected a single relationship in CREATE"),
    ("MERGE (a $p)", 1, 10, "expected a map literal of properties in MERGE"),
    ("MERGE (a) ON DELETE SET a.x = 1", 1, 14, "expected CREATE or MATCH after ON, found 'DELETE'"),
    ("MERGE (a) ON CREATE a.x = 1", 1, 21, "expected SET after ON CREATE, found 'a'"),
    ("MATCH (n) SEARCH m IN (VECTOR FOR $v LIMIT 3) RETURN n", 1, 18, "expected a variable of this MATCH's pattern"),
    ("MATCH (n) SEARCH n IN (VECTOR FOR $v) RETURN n", 1, 37, "expected an operator, WHERE or LIMIT in SEARCH"),
    ("MATCH (n) SEARCH n IN (VECTOR $v LIMIT 2) RETURN n", 1, 31, "expected INDEX or FOR after VECTOR"),
    ("MATCH (n) SEARCH n IN VECTOR FOR $v LIMIT 2 RETURN n", 1, 23, "expected '(' after SEARCH ... IN"),
    ("MATCH (n) SEARCH n IN (VECTOR FOR $v LIMIT 2 RETURN n", 1, 46, "expected an operator or ')' to close SEARCH"),
    ("MATCH (n) SEARCH n IN (VECTOR FOR $v LIMIT 2) SCORE s RETURN n", 1, 53, "expected AS after SCORE"),
    ("RETURN 1 AS x UNION RETURN 2 AS x UNION ALL RETURN 3 AS x", 1, 35, "expected UNION or UNION ALL throughout"),
    ("MATCH (n) UNION RETURN 1", 1, 11, "expected RETURN before UNION"),
    ("RETURN 1 UNION CREATE (n)", 1, 26, "expected RETURN at the end of each query of a UNION"),
    ("RETURN 1; RETURN 2", 1, 11, "expected end of query after ';'"),
    ("RETURN count(DISTINCT *)", 1, 23, "expected an expression after DISTINCT"),
    ("RETURN sum(*)", 1, 12, "expected an argument to sum() ('*' is only for count(*))"),
    ("RETURN count(DISTINCT)", 1, 22, "expected an expression, found ')'"),
    ("RETURN a, a", 1, 11, "expected distinct column names, found 'a' twice"),
    ("RETURN 1 AS x, 2 AS x", 1, 16, "expected distinct column names, found 'x' twice"),
    ("MATCH (n) RETURN n ORDER n", 1, 26, "expected BY after ORDER, found 'n'"),
    ("MATCH (n) RETURN n ORDER BY", 1, 28, "expected an expression, found end of input"),
    ("MATCH (n) RETURN n SKIP", 1, 24, "expected an expression, found end of input"),
    ("MATCH (n) RETURN n AS ORDER", 1, 23, "'ORDER' is a reserved word"),
    ("CALL db.labels() YIELD label, label", 1, 31, "expected distinct names after YIELD ('label' is given twice)"),
    ("CALL db.labels YIELD label", 1, 16, "expected '(' and the procedure's arguments"),
    ("MATCH (n) SET n", 1, 16, "expected '.', '=', '+=' or ':' after the variable to SET, found end of input"),
    ("MATCH (n) SET n.x", 1, 18, "expected '=' after the property to SET, found end of input"),
    ("MATCH (n) REMOVE n", 1, 19, "expected '.' or ':' after the variable to REMOVE from"),
    ("MATCH (n) DETACH n", 1, 18, "expected DELETE after DETACH, found 'n'"),
    ("OPTIONAL (n) RETURN n", 1, 10, "expected MATCH after OPTIONAL, found '('"),
    ("UNWIND [1] x RETURN x", 1, 12, "expected an operator or AS after the UNWIND expression, found 'x'"),
    ("RETURN CASE WHEN 1 THEN 2", 1, 26, "expected an operator, WHEN, ELSE or END in CASE, found end of input"),
    ("RETURN CASE END", 1, 13, "expected WHEN after CASE, found 'END'"),
    ("RETURN CASE WHEN 1 2 END", 1, 20, "expected an operator or THEN after the WHEN expression, found '2'"),
    ("MATCH (n) WHERE n.x IS 3 RETURN n", 1, 24, "expected NULL or NOT NULL after IS, found '3'"),
    ("MATCH (n) WHERE n.x STARTS 'a' RETURN n", 1, 28, "expected WITH after STARTS"),
    ("MATCH (n) WHERE x = NOT y RETURN n", 1, 21, "expected an expression, found 'NOT'"),
    ("MATCH (n) WHERE RETURN n", 1, 17, "expected an expression, found 'RETURN'"),
    ("RETURN n.", 1, 10, "expected a property name after '.', found end of input"),
    ("RETURN n.5", 1, 10, "expected a property name after '.', found '5'"),
    ("RETURN xs[1", 1, 12, "expected an operator, '..' or ']' after the index"),
    ("MATCH p = shortestPath((a)) RETURN p", 1, 27, "expected a relationship in shortestPath(...)"),
    ("MATCH p = shortestPath((a)-->(b)-->(c)) RETURN p", 1, 33, "expected ')' after one relationship in shortestPath(...)"),
    ("MATCH (n:) RETURN n", 1, 10, "expected a label name after ':', found ')'"),
    ("MATCH (a)-[:]->(b) RETURN a", 1, 13, "expected a relationship type after ':', found ']'"),
    ("MATCH (n {a: 1} RETURN n", 1, 17, "expected ')' after node pattern, found 'RETURN'"),
    ("MATCH (n)\n  WHERE n.x = 1\n  RETURN n.x AS\n", 4, 1, "expected a name after AS, found end of input"),
    ("RETURN 1 2", 1, 10, "found '2'"),
    ("SET", 1, 4, "expected a variable to SET, found end of input"),
]


@pytest.mark.parametrize("query,line,column,message", INVALID, ids=[q[:60] or "<empty>" for q, *_ in INVALID])
def test_invalid_query_names_line_column_and_what_was_expected(query, line, column, message):
    with pytest.raises(CypherSyntaxError) as caught:
        parse(query)
    error = caught.value
    assert (error.line, error.column) == (line, column), str(error)
    assert message in str(error)
    assert str(error).startswith(f"line {line}, column {column}: expected ")
    assert error.expected and isinstance(error, ValueError) and isinstance(error, AgentDBError)


def test_the_invalid_table_is_wide():
    assert len(INVALID) >= 40


def test_the_error_is_exported_typed_and_carries_its_parts():
    assert agentdb.CypherSyntaxError is CypherSyntaxError
    with pytest.raises(ValueError) as caught:
        parse("MATCH (n:Person\n       WHERE n.age > 3 RETURN n")
    e = caught.value
    assert (e.line, e.column) == (2, 8)
    assert e.expected == "':', '{' or ')' in the node pattern"
    assert str(e) == "line 2, column 8: expected ':', '{' or ')' in the node pattern, found 'WHERE'"


def test_a_query_must_be_text():
    with pytest.raises(CypherSyntaxError, match="expected the query as a str, found bytes"):
        parse(b"RETURN 1")


# ---------------------------------------------------------------- limits: length, nesting, stack

def test_a_query_longer_than_the_limit_is_refused_with_its_position():
    query = "RETURN 1" + " " * MAX_QUERY_CHARS
    with pytest.raises(CypherSyntaxError, match=f"at most {MAX_QUERY_CHARS} characters") as caught:
        parse(query)
    assert (caught.value.line, caught.value.column) == (1, MAX_QUERY_CHARS + 1)
    parse("RETURN 1" + " " * (MAX_QUERY_CHARS - 8))            # exactly at the limit is fine


@pytest.mark.parametrize("open_,close", [("(", ")"), ("[", "]"), ("{a: ", "}"), ("f(", ")"), ("-(", ")"),
                                         ("NOT (", ")"), ("x[", "]"), ("CASE WHEN ", " THEN 1 END")])
def test_nesting_is_capped_with_a_syntax_error_never_a_recursion_error(open_, close):
    shallow = 20
    parse("RETURN " + open_ * shallow + "1" + close * shallow)
    for depth in (MAX_DEPTH + 1, 10 * MAX_DEPTH, 5000):
        query = "RETURN " + open_ * depth + "1" + close * depth
        with pytest.raises(CypherSyntaxError, match=f"at most {MAX_DEPTH} levels of nesting"):
            parse(query[:MAX_QUERY_CHARS])


def test_unary_chains_are_capped():
    parse("RETURN " + "- " * 30 + "x")
    with pytest.raises(CypherSyntaxError, match="levels of nesting"):
        parse("RETURN " + "- " * 5000 + "x")
    with pytest.raises(CypherSyntaxError, match="levels of nesting"):
        parse("MATCH (n) WHERE " + "NOT " * 5000 + "n.x RETURN n")


def test_a_caller_with_little_stack_left_gets_a_syntax_error():
    """MAX_DEPTH keeps the parser inside the default limit; a caller that has used most of the
    stack already still gets a CypherSyntaxError (the backstop), not a RecursionError."""
    query = "RETURN " + "f(" * (MAX_DEPTH - 2) + ")" * (MAX_DEPTH - 2)
    parse(query)
    used = 0
    frame = sys._getframe()
    while frame:
        used, frame = used + 1, frame.f_back

    def descend(n):
        return parse(query) if n == 0 else descend(n - 1)

    with pytest.raises(CypherSyntaxError, match="stack is exhausted"):
        descend(sys.getrecursionlimit() - used - 60)


def test_long_flat_queries_parse_in_linear_time():
    """Long runs of operators, patterns or dotted names cost no recursion, and time grows with
    the length (here: a query near the length limit parses in well under 2 s)."""
    big = "MATCH (a) WHERE " + " AND ".join(f"a.x{i} = {i}" for i in range(5000)) + " RETURN a"
    chain = "MATCH " + "-".join(["(a)-[:R]"] * 10000) + "->(b) RETURN 1"
    dotted = "RETURN " + "a." * 45000 + "b"
    for query in (big, chain, dotted):
        assert len(query) <= MAX_QUERY_CHARS
        started = time.perf_counter()
        parse(query)
        assert time.perf_counter() - started < 2.0


# ---------------------------------------------------------------- fuzzing

VOCABULARY = [
    "MATCH", "OPTIONAL", "WHERE", "RETURN", "WITH", "UNWIND", "AS", "CREATE", "MERGE", "ON", "SET", "REMOVE",
    "DELETE", "DETACH", "CALL", "YIELD", "UNION", "ALL", "ORDER", "BY", "ASC", "DESC", "SKIP", "LIMIT",
    "DISTINCT", "AND", "OR", "XOR", "NOT", "IN", "STARTS", "ENDS", "CONTAINS", "IS", "NULL", "TRUE", "FALSE",
    "CASE", "WHEN", "THEN", "ELSE", "END", "SEARCH", "VECTOR", "INDEX", "FOR", "SCORE", "count", "shortestPath",
    "n", "m", "x", "`q`", "`", "``", "$p", "$", "$0", "0", "1", "42", "1.5", ".5", "1e3", "0x1F",
    "99999999999999999999", "'s'", '"d"', "'", '"', "'\\n'", "'\\", "(", ")", "[", "]", "{", "}", ",", ".", "..",
    ":", "|", ";", "=", "<>", "<", "<=", ">", ">=", "+", "+=", "-", "*", "/", "%", "^", "->", "<-", "-->", "!=",
    "=~", "~", "#", "é", "\u00a0", "//", "/*", "*/", "\\", "\x00",
]
SPACES = st.sampled_from(["", " ", "\n", "\t", " /* c */ ", " // c\n"])
SOUP = st.lists(st.tuples(st.sampled_from(VOCABULARY), SPACES), max_size=40).map(
    lambda parts: "".join(token + space for token, space in parts))
SEEDS = [q for q, _, _ in VALID] + [q for q, *_ in INVALID]
FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TIME_BOUND = 1.0     # seconds per input; these inputs parse in well under a millisecond


def parse_or_syntax_error(query):
    """Parse, and check that nothing but a CypherSyntaxError with a sane position escapes, in time."""
    started = time.perf_counter()
    try:
        result = parse(query)
    except CypherSyntaxError as error:
        lines = query.split("\n")
        assert 1 <= error.line <= len(lines) and 1 <= error.column <= len(lines[error.line - 1]) + 1, str(error)
        assert error.expected
        result = None
    else:
        assert isinstance(result, (A.Query, A.Union))
        for n in walk(result):
            assert n.pos is not None
    assert time.perf_counter() - started < TIME_BOUND
    return result


@FUZZ
@given(SOUP)
def test_fuzz_token_soup(query):
    parse_or_syntax_error(query)


@st.composite
def mutated(draw):
    query = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        n = len(query)
        at = draw(st.integers(0, n))
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "swap", "truncate", "replace"]))
        if kind == "delete":
            query = query[:at] + query[at + draw(st.integers(1, 8)):]
        elif kind == "insert":
            query = query[:at] + draw(st.sampled_from(VOCABULARY)) + draw(SPACES) + query[at:]
        elif kind == "duplicate":
            span = query[at:at + draw(st.integers(1, 20))]
            query = query[:at] + span * draw(st.integers(2, 5)) + query[at:]
        elif kind == "swap" and n >= 2:
            j = draw(st.integers(0, n - 1))
            chars = list(query)
            chars[min(at, n - 1)], chars[j] = chars[j], chars[min(at, n - 1)]
            query = "".join(chars)
        elif kind == "truncate":
            query = query[:at]
        else:
            query = query[:at] + draw(st.characters()) + query[at + 1:]
    return query


@FUZZ
@given(mutated())
def test_fuzz_mutated_valid_queries(query):
    parse_or_syntax_error(query)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=80))
def test_fuzz_arbitrary_text(query):
    parse_or_syntax_error(query)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from([("(", ")"), ("[", "]"), ("{k: ", "}"), ("f(", ")"), ("-", ""), ("NOT ", ""),
                                 ("CASE WHEN ", " THEN 1 END"), ("x[", "]")]), min_size=1, max_size=300))
def test_fuzz_deep_mixed_nesting(layers):
    query = "RETURN " + "".join(o for o, _ in layers) + "1" + "".join(c for _, c in reversed(layers))
    parse_or_syntax_error(query)


# ---------------------------------------------------------------- round trips: random trees -> text -> the same trees

# binding levels for the printer (as in the parser): a child is parenthesized when its level is
# below what its position needs
_LEVEL = {"OR": 1, "XOR": 2, "AND": 3, "NOT": 4, **{op: 5 for op in A.COMPARISON_OPS},
          **{op: 6 for op in A.STRING_OPS + A.LIST_OPS}, "+": 7, "-": 7, "*": 8, "/": 8, "%": 8, "^": 9}
UNARY, LABELS, POSTFIX, ATOM = 10, 10.5, 11, 12
NAMES = ["a", "b", "n", "x1", "_y", "count", "search", "odd name", "or"]     # the last two need backticks
KEYS = ["k", "name", "end", "order", "two words"]                           # keys may be reserved words


def q_name(name, *, key=False):
    plain = name.isidentifier() and (key or name.upper() not in RESERVED_WORDS)
    return name if plain else "`" + name.replace("`", "``") + "`"


def level(e):
    if isinstance(e, A.Binary):
        return _LEVEL[e.op]
    if isinstance(e, A.IsNull):
        return 6
    if isinstance(e, A.Unary):
        return 4 if e.op == "NOT" else UNARY
    if isinstance(e, A.Literal) and type(e.value) in (int, float) and (e.value < 0 or str(e.value).startswith("-")):
        return UNARY
    if isinstance(e, A.HasLabels):
        return LABELS
    if isinstance(e, (A.Property, A.Index, A.Slice)):
        return POSTFIX
    return ATOM


def show(e, need=0):
    text = _show(e)
    return f"({text})" if level(e) < need else text


def _show(e):
    if isinstance(e, A.Literal):
        v = e.value
        if v is None or isinstance(v, bool):
            return {None: "null", True: "true", False: "false"}[v]
        if isinstance(v, str):
            return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return repr(v)
    if isinstance(e, A.Parameter):
        return "$" + q_name(e.name)
    if isinstance(e, A.Variable):
        return q_name(e.name)
    if isinstance(e, A.Property):
        return f"{show(e.subject, POSTFIX)}.{q_name(e.key, key=True)}"
    if isinstance(e, A.Index):
        return f"{show(e.subject, POSTFIX)}[{show(e.index)}]"
    if isinstance(e, A.Slice):
        start = "" if e.start is None else show(e.start)
        end = "" if e.end is None else show(e.end)
        return f"{show(e.subject, POSTFIX)}[{start} .. {end}]"
    if isinstance(e, A.HasLabels):
        return show(e.subject, POSTFIX) + "".join(":" + q_name(label, key=True) for label in e.labels)
    if isinstance(e, A.ListLiteral):
        return "[" + ", ".join(show(i) for i in e.items) + "]"
    if isinstance(e, A.MapLiteral):
        return "{" + ", ".join(f"{q_name(k, key=True)}: {show(v)}" for k, v in e.items) + "}"
    if isinstance(e, A.FunctionCall):
        if e.star:
            return f"{e.name}(*)"
        return f"{e.name}({'DISTINCT ' if e.distinct else ''}{', '.join(show(a) for a in e.args)})"
    if isinstance(e, A.Unary):
        return f"NOT {show(e.operand, 4)}" if e.op == "NOT" else f"{e.op} {show(e.operand, UNARY)}"
    if isinstance(e, A.IsNull):
        return f"{show(e.operand, 6)} IS {'NOT ' if e.negated else ''}NULL"
    if isinstance(e, A.Binary):
        p = _LEVEL[e.op]
        if p == 5:                       # comparisons chain, so a comparison operand is parenthesized
            return f"{show(e.left, 6)} {e.op} {show(e.right, 6)}"
        if p == 6:
            return f"{show(e.left, 6)} {e.op} {show(e.right, 7)}"
        return f"{show(e.left, p)} {e.op} {show(e.right, p + 1)}"
    if isinstance(e, A.Case):
        parts = ["CASE"] + ([show(e.subject)] if e.subject is not None else [])
        parts += [f"WHEN {show(w)} THEN {show(t)}" for w, t in e.whens]
        parts += [f"ELSE {show(e.default)}"] if e.default is not None else []
        return " ".join(parts + ["END"])
    raise AssertionError(e)

LEAVES = st.one_of(
    st.integers(-2 ** 63, 2 ** 63 - 1).map(L),
    st.floats(allow_nan=False, allow_infinity=False).map(L),
    st.text(max_size=6).map(L),
    st.sampled_from([True, False, None]).map(L),
    st.sampled_from(NAMES).map(Pm),
    st.sampled_from(NAMES).map(V),
)


def _canonical(e):
    """`- 1` parses as the literal -1 (the parser folds a sign into a number literal)."""
    v = e.operand.value if isinstance(e.operand, A.Literal) else None
    if e.op in "-+" and type(v) in (int, float) and level(e.operand) == ATOM:
        return L(-v if e.op == "-" else v)
    return e


def _extend(children):
    small = st.lists(children, max_size=3).map(tuple)
    return st.one_of(
        st.builds(A.Property, children, st.sampled_from(KEYS)),
        st.builds(A.Index, children, children),
        st.builds(A.Slice, children, st.none() | children, st.none() | children),
        st.builds(A.HasLabels, children, st.lists(st.sampled_from(KEYS), min_size=1, max_size=2).map(tuple)),
        st.builds(A.ListLiteral, small),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3).map(lambda d: A.MapLiteral(tuple(d.items()))),
        st.builds(A.FunctionCall, st.sampled_from(["f", "count", "db.x"]), small, st.just(False)),
        st.builds(A.FunctionCall, st.sampled_from(["sum", "collect"]), st.lists(children, min_size=1, max_size=2).map(tuple),
                  st.just(True)),
        st.just(A.FunctionCall("count", (), False, True)),
        st.builds(A.Unary, st.sampled_from(A.UNARY_OPS), children).map(_canonical),
        st.builds(A.Binary, st.sampled_from(A.BINARY_OPS), children, children),
        st.builds(A.IsNull, children, st.booleans()),
        st.builds(A.Case, st.none() | children, st.lists(st.tuples(children, children), min_size=1, max_size=2).map(tuple),
                  st.none() | children),
    )


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_round_trip_expressions(expr):
    text = show(expr)
    assert E(text) == expr, text


NODES = st.builds(A.NodePattern, st.none() | st.sampled_from(NAMES), st.lists(st.sampled_from(KEYS), max_size=2).map(tuple),
                  st.none() | st.sampled_from([Map(k=L(1)), A.MapLiteral(()), Pm("p")]))
RELS = st.builds(A.RelPattern, st.none() | st.sampled_from(NAMES), st.lists(st.sampled_from(KEYS), max_size=2).map(tuple),
                 st.none() | st.sampled_from([Map(k=L("v")), Pm("q")]), st.sampled_from([A.OUT, A.IN, A.BOTH]),
                 st.none() | st.tuples(st.integers(0, 3), st.none() | st.integers(3, 9)).map(lambda t: A.Hops(*t)))


def show_hops(h, written):
    if h is None:
        return ""
    low = "" if (h.min == 1 and written == "omit") else str(h.min)
    if h.max == h.min and written == "exact":
        return f"*{h.min}"
    return f"*{low}..{'' if h.max is None else h.max}"


def show_pattern(p, style):
    out = []
    for e in p.elements:
        props = "" if e.properties is None else " " + show(e.properties)
        labels = "".join(":" + q_name(x, key=True) for x in (e.labels if isinstance(e, A.NodePattern) else ()))
        var = "" if e.variable is None else q_name(e.variable)
        if isinstance(e, A.NodePattern):
            out.append(f"({var}{labels}{props})")
        else:
            types = (":" + "|".join(q_name(t, key=True) for t in e.types)) if e.types else ""
            body = f"[{var}{types}{show_hops(e.length, style)}{props}]"
            if style == "short" and not (var or types or props or e.length):
                body = ""
            left, right = {A.OUT: ("-", "->"), A.IN: ("<-", "-"), A.BOTH: ("-", "-")}[e.direction]
            out.append(f"{left}{body}{right}")
    return ("" if p.variable is None else q_name(p.variable) + " = ") + "".join(out)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(RELS, NODES), max_size=4), NODES, st.none() | st.sampled_from(NAMES),
       st.sampled_from(["omit", "exact", "short", "full"]))
def test_round_trip_patterns(steps, first, variable, style):
    elements = (first,) + tuple(x for step in steps for x in step)
    expected = A.PathPattern(elements, variable)
    text = show_pattern(expected, style)
    assert parse(f"MATCH {text} RETURN 1").clauses[0].patterns[0] == expected, text
