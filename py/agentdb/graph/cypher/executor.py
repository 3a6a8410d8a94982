"""The Cypher executor: runs a parsed query against an agentdb.graph.Graph.

`execute(graph, text, params=None)` returns a CypherResult: `columns` (the names, as RETURN
gives them) and `rows` (a list of tuples, one value per column; `records()` gives dicts).
Nodes come back as agentdb.graph.model.Node, relationships as Edge, a variable-length
relationship as a list of Edge, a named path as a CypherPath.

Supported: MATCH / OPTIONAL MATCH with node patterns (labels, property maps), relationship
patterns (types, direction, property maps, variable length `*min..max`), named paths, several
patterns per MATCH (joined on shared variables) and several MATCH clauses; WHERE; UNWIND;
WITH (projection, DISTINCT, aggregation, ORDER BY, SKIP, LIMIT, WHERE); RETURN likewise;
UNION [ALL]; the vector SEARCH subclause and shortestPath (paths.py); CREATE, MERGE, SET,
REMOVE, DELETE (updates.py: a query with any of them runs inside one db.transaction(), all or
nothing). Not supported (CypherError): CALL, allShortestPaths. Matching follows openCypher:

- relationship uniqueness: within one MATCH clause no relationship is bound twice (across all
  its patterns), so a variable-length relationship matches trails (no relationship repeated;
  nodes may repeat), not walks as Kùzu does;
- an undirected pattern `(a)-[r]-(b)` matches each relationship once in each direction (a
  self-loop once); `*0..` also matches the empty path (a = b);
- an unbounded `*` / `*2..` stops at MAX_HOPS hops; an explicit upper bound above
  MAX_EXPLICIT_HOPS is a CypherError.

The query reads the graph as it walks it (view.py: a node and its edges when first needed,
under the store's lock for the whole query), from starts the planner picks (plan.py: ids and
property equalities from the patterns and the WHERE, the cheaper end of each pattern); edges
are taken whatever their validity window. Limits keep any query bounded: at most `max_rows` rows
between clauses and `max_steps` expansion steps (CypherError past either).

>>> import agentdb
>>> from agentdb.graph.model import Graph
>>> g = Graph(agentdb.open(dim=2))
>>> _ = g.batch_insert(nodes=[{"id": "a", "labels": ["P"], "properties": {"age": 30}},
...                           {"id": "b", "labels": ["P"], "properties": {"age": 40}}], edges=[("a", "b", "KNOWS")])
>>> r = execute(g, "MATCH (x:P)-[:KNOWS]->(y) WHERE x.age < $max RETURN id(x) AS x, y.age ORDER BY x", {"max": 35})
>>> r.columns, r.rows
(['x', 'y.age'], [('a', 40)])
>>> execute(g, "MATCH (n:P) RETURN count(*) AS n, sum(n.age) AS total, collect(n.missing) AS none").records()
[{'n': 2, 'total': 70, 'none': []}]
"""
import functools
from dataclasses import dataclass, field

from ...errors import CypherError
from . import ast as A
from .functions import Context, CypherPath, aggregate, equals, evaluate, hash_key, sort_key, truth
from .parser import parse
from .paths import shortest, vector_search
from .plan import anchor_terms, anchors, order, start_filter
from .scope import aggregates_in as _aggregates_in, check_scopes
from .updates import UPDATING, Updater, has_updates
from .view import View as _View
from ..model import Edge, Node

MAX_HOPS = 10
"""The upper bound of an unbounded variable-length relationship (`*`, `*2..`)."""
MAX_EXPLICIT_HOPS = 32
"""The largest upper bound a query may write (`*1..32`)."""
MAX_ROWS = 1_000_000
"""The default limit on rows between clauses (and on the result)."""
MAX_STEPS = 10_000_000
"""The default limit on pattern-expansion steps (edges looked at) in one query."""


@dataclass
class CypherResult:
    """A query's result: `columns` (names) and `rows` (tuples of values, in column order);
    `updates` counts what updating clauses changed (nodes_created, relationships_created,
    properties_set, labels_added, labels_removed, nodes_deleted, relationships_deleted; only
    the non-zero ones)."""
    columns: list
    rows: list = field(default_factory=list)
    updates: dict = field(default_factory=dict)

    def records(self):
        """The rows as dicts, column name -> value."""
        return [dict(zip(self.columns, row)) for row in self.rows]

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)


def execute(graph, query, params=None, *, max_rows=MAX_ROWS, max_steps=MAX_STEPS):
    """Runs `query` (text or a parsed Statement) on `graph`; params: {name: value} for
    `$name`. CypherSyntaxError when it does not parse, CypherError when it cannot run. A
    query with updating clauses is one db.transaction(): when it raises, nothing changed."""
    statement = _parsed(query) if isinstance(query, str) else query
    if params is not None and not isinstance(params, dict):
        raise CypherError(f"params must be a dict, got {type(params).__name__}")
    with graph.store._lock:          # the graph holds still while the query reads it (View)
        if has_updates(statement):
            with graph.store.transaction():
                return _execute(graph, statement, params, max_rows, max_steps)
        return _execute(graph, statement, params, max_rows, max_steps)


@functools.lru_cache(maxsize=256)
def _parsed(text):
    """parse(text), kept for the queries run again (an AST is immutable; a syntax error is
    raised again, not kept)."""
    return parse(text)


def _execute(graph, statement, params, max_rows, max_steps):
    run = _Run(graph, Context(dict(params or {})), max_rows, max_steps)
    if isinstance(statement, A.Union):
        results = [run.query(q) for q in statement.queries]
        columns = results[0].columns
        for r in results[1:]:
            if r.columns != columns:
                raise CypherError(f"UNION needs the same columns in every query: {columns} vs {r.columns}")
        rows = [row for r in results for row in r.rows]
        if not statement.all:
            seen, unique = set(), []
            for row in rows:
                key = tuple(hash_key(v) for v in row)
                if key not in seen:
                    seen.add(key)
                    unique.append(row)
            rows = unique
        return CypherResult(list(columns), rows, run.update_counts())
    result = run.query(statement)
    result.updates = run.update_counts()
    return result


def _unsupported(clause):
    name = {A.Call: "CALL"}.get(type(clause), type(clause).__name__)
    where = f" (line {clause.pos[0]}, column {clause.pos[1]})" if clause.pos else ""
    return CypherError(f"{name}{where} is not supported by the executor yet; supported clauses: MATCH, "
                       f"OPTIONAL MATCH, WHERE, UNWIND, WITH, RETURN, UNION, CREATE, MERGE, SET, REMOVE, "
                       f"DELETE")


class _Run:
    def __init__(self, graph, ctx, max_rows, max_steps):
        self.graph, self.ctx = graph, ctx
        self.max_rows, self.max_steps = max_rows, max_steps
        self.steps = 0
        self._view = None
        self.updater = None
        self.terms = {}              # id(Match clause) -> its WHERE's anchor terms (plan.py)

    @property
    def view(self):
        if self._view is None:
            self._view = _View(self.graph)
        return self._view

    def changed(self):
        """The graph changed: the next read takes a new view."""
        self._view = None

    def update_counts(self):
        """CypherResult.updates for this run."""
        return self.updater.summary() if self.updater is not None else {}

    def step(self, n=1):
        self.steps += n
        if self.steps > self.max_steps:
            raise CypherError(f"the query needs more than {self.max_steps} expansion steps "
                              f"(max_steps); narrow the pattern or lower the hops")

    def check_rows(self, rows, what):
        if len(rows) > self.max_rows:
            raise CypherError(f"{what} produces more than {self.max_rows} rows (max_rows); add a LIMIT "
                              f"or narrow the pattern")

    # ------------------------------------------------------------ clauses

    def query(self, q):
        for clause in q.clauses:
            if type(clause) not in (A.Match, A.Unwind, A.With, A.Return) + UPDATING:
                raise _unsupported(clause)
        check_scopes(q)
        rows = [{}]
        for clause in q.clauses:
            t = type(clause)
            if t in UPDATING:
                if self.updater is None:
                    self.updater = Updater(self)
                rows = self.updater.apply(clause, rows)
                self.check_rows(rows, type(clause).__name__.upper())
            elif t is A.Match:
                rows = self.match(clause, rows)
            elif t is A.Unwind:
                out = []
                for row in rows:
                    value = evaluate(clause.expr, row, self.ctx)
                    items = [] if value is None else value if isinstance(value, list) else [value]
                    for item in items:
                        out.append({**row, clause.variable: item})
                    self.check_rows(out, "UNWIND")
                rows = out
            elif t is A.With:
                _, rows = self.project(clause.projection, rows)
                if clause.where is not None:
                    rows = [r for r in rows if truth(evaluate(clause.where, r, self.ctx), clause.where) is True]
            elif t is A.Return:
                columns, rows = self.project(clause.projection, rows)
                return CypherResult(columns, [tuple(r[c] for c in columns) for r in rows])
            else:
                raise _unsupported(clause)
        if type(q.clauses[-1]) in UPDATING:
            return CypherResult([], [])
        raise _unsupported(q.clauses[-1])

    def match(self, clause, rows):
        out = []
        terms = self.terms.get(id(clause))
        if terms is None:
            terms = self.terms[id(clause)] = anchor_terms(clause.where)
        for row in rows:
            found = False
            pinned = anchors(terms, row, self.ctx)
            envs = self.match_patterns(order(self.view, clause.patterns, row, pinned), row, pinned)
            if clause.search is not None:
                envs = vector_search(self, clause.search, row, envs)
            for env in envs:
                if clause.where is None or truth(evaluate(clause.where, env, self.ctx), clause.where) is True:
                    out.append(env)
                    found = True
                    if len(out) > self.max_rows:
                        self.check_rows(out, "MATCH")
            if clause.optional and not found:
                env = dict(row)
                for p in clause.patterns:
                    for name in p.variables():
                        env.setdefault(name, None)
                if clause.search is not None and clause.search.score is not None:
                    env.setdefault(clause.search.score, None)
                out.append(env)
        return out

    def match_patterns(self, patterns, row, pinned=None):
        """Every extension of `row` matching all patterns, no relationship used twice; pinned:
        {variable: plan.Anchor} narrowing where a pattern starts."""
        # an explicit stack (pattern index, element index, env, used edges, path so far): no
        # recursion, whatever the pattern's length
        stack = [(0, 0, row, frozenset(), None)]
        while stack:
            pi, ei, env, used, path = stack.pop()
            if pi == len(patterns):
                yield env
                continue
            p = patterns[pi]
            elems = p.elements
            if ei == 0 and p.shortest:
                pushed = [(pi + 1, 0, e, used, None) for e in shortest(self, p, env)]
            elif ei == 0:
                anchor = pinned.get(elems[0].variable) if pinned else None
                pushed = [(pi, 1, e, used, [node]) for node, e in self.start_nodes(elems[0], env, anchor)]
            elif ei >= len(elems):
                if p.variable is not None:
                    value = self.path_value(path)
                    if p.variable in env and equals(env[p.variable], value) is not True:
                        continue
                    env = {**env, p.variable: value}
                stack.append((pi + 1, 0, env, used, None))
                continue
            else:
                pushed = [(pi, ei + 2, e, u, path + [rel, node])
                          for rel, node, e, u in self.expand(path[-1], elems[ei], elems[ei + 1], env, used)]
            stack.extend(reversed(pushed))

    def path_value(self, path):
        """A CypherPath from [node, rel or [rels], node, ...] (a variable-length part's inner
        nodes found by walking its relationships)."""
        nodes, rels = [path[0]], []
        for part in path[1::2]:
            for e in part if isinstance(part, list) else [part]:
                other = e.dst if e.src == nodes[-1].id else e.src
                nodes.append(self.view.node(other))
                rels.append(e)
        return CypherPath(tuple(nodes), tuple(rels))

    # ------------------------------------------------------------ patterns

    def props_of(self, pattern, env):
        """The property map a pattern requires, evaluated (None: none)."""
        if pattern.properties is None:
            return None
        value = evaluate(pattern.properties, env, self.ctx)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise CypherError(f"a pattern's properties must be a map, got {type(value).__name__}")
        return value

    @staticmethod
    def has_props(obj, props):
        return props is None or all(equals(obj.properties.get(k), v) is True for k, v in props.items())

    def node_fits(self, node, pattern, props):
        return all(label in node.labels for label in pattern.labels) and self.has_props(node, props)

    def bind_node(self, node, pattern, env, props):
        """env extended with pattern's variable bound to node, or None if it does not fit."""
        name = pattern.variable
        if name is not None and name in env:
            bound = env[name]
            if bound is None:
                return None
            if not isinstance(bound, Node):
                raise CypherError(f"variable '{name}' is a {type(bound).__name__}, not a node")
            if bound.id != node.id:
                return None
        if not self.node_fits(node, pattern, props):
            return None
        return env if name is None or name in env else {**env, name: node}

    def start_nodes(self, pattern, env, anchor=None):
        """(node, env) for each node the pattern's first node binds to; anchor: a plan.Anchor
        narrowing the candidates."""
        props = self.props_of(pattern, env)
        name = pattern.variable
        if name is not None and name in env:
            bound = env[name]
            if bound is None:
                return
            if not isinstance(bound, Node):
                raise CypherError(f"variable '{name}' is a {type(bound).__name__}, not a node")
            node = self.view.node(bound.id)
            candidates = [node] if node is not None else []
        elif anchor is not None and anchor.ids is not None:
            candidates = [n for n in map(self.view.node, anchor.ids) if n is not None]
        else:
            label = min(pattern.labels, key=self.view.count) if pattern.labels else None
            candidates = self.view.nodes(label, start_filter({**(props or {}), **((anchor and anchor.props) or {})}))
        self.step(len(candidates))
        for node in candidates:
            e = self.bind_node(node, pattern, env, props)
            if e is not None:
                yield node, e

    def edges_from(self, node, direction, types):
        """(edge, the node at its other end) for each edge of `types` (any when empty) leaving
        `node` as direction says."""
        view = self.view
        if direction in (A.OUT, A.BOTH):
            for e in view.relationships(node.id, "out", types):
                yield e, e.dst
        if direction in (A.IN, A.BOTH):
            for e in view.relationships(node.id, "in", types):
                if direction == A.IN or e.src != e.dst:       # a loop once in an undirected pattern
                    yield e, e.src

    def expand(self, node, rel, next_pattern, env, used):
        """(relationship value, next node, env, used) for each way `rel` leads on from `node`."""
        rprops = self.props_of(rel, env)
        nprops = self.props_of(next_pattern, env)
        name = rel.variable
        if rel.length is None:
            bound = env.get(name) if name is not None else None
            if name is not None and name in env:
                if bound is None:
                    return
                if not isinstance(bound, Edge):
                    raise CypherError(f"variable '{name}' is a {type(bound).__name__}, not a relationship")
            for e, other in self.edges_from(node, rel.direction, rel.types):
                self.step()
                if e.id in used or not self.has_props(e, rprops):
                    continue
                if bound is not None and bound.id != e.id:
                    continue
                nxt = self.view.node(other)
                if nxt is None:
                    continue
                e2 = self.bind_node(nxt, next_pattern, env, nprops)
                if e2 is None:
                    continue
                if name is not None and name not in e2:
                    e2 = {**e2, name: e}
                yield e, nxt, e2, used | {e.id}
            return
        lo, hi = rel.length.min, rel.length.max
        if hi is None:
            hi = max(lo, MAX_HOPS)
        elif hi > MAX_EXPLICIT_HOPS:
            raise CypherError(f"a variable-length relationship may span at most {MAX_EXPLICIT_HOPS} hops, "
                              f"got *{lo}..{hi}")
        # trails: depth-first, no relationship twice in one path (nor one the clause used already)
        trail_stack = [(node, [], used)]
        while trail_stack:
            cur, edges, u = trail_stack.pop()
            if len(edges) >= lo:
                e2 = self.bind_node(cur, next_pattern, env, nprops)
                if e2 is not None:
                    if name is not None:
                        if name in e2:
                            if equals(e2[name], list(edges)) is not True:
                                e2 = None
                        else:
                            e2 = {**e2, name: list(edges)}
                    if e2 is not None:
                        yield list(edges), cur, e2, u
            if len(edges) == hi:
                continue
            more = []
            for e, other in self.edges_from(cur, rel.direction, rel.types):
                self.step()
                if e.id in u or not self.has_props(e, rprops):
                    continue
                nxt = self.view.node(other)
                if nxt is not None:
                    more.append((nxt, edges + [e], u | {e.id}))
            trail_stack.extend(reversed(more))

    # ------------------------------------------------------------ projection

    def project(self, proj, rows):
        """(column names, output rows as dicts) for a WITH or RETURN projection."""
        items = list(proj.items)
        if proj.star:
            scope = sorted({name for row in rows[:1] for name in row}) if rows else []
            items = [A.ReturnItem(A.Variable(name), None, name) for name in scope] + items
            if not items:
                raise CypherError("RETURN * / WITH * with no variables in scope")
        columns = [item.name for item in items]
        aggs = _aggregates_in([item.expr for item in items])
        sort_aggs = _aggregates_in([s.expr for s in proj.order_by])
        ctx = self.ctx
        if aggs or sort_aggs and proj.distinct:
            out, sort_envs = self.group(items, aggs + [a for a in sort_aggs if a not in aggs], rows)
        else:
            if sort_aggs:
                raise CypherError("ORDER BY uses an aggregate but the projection has none")
            out, sort_envs = [], []
            for row in rows:
                values = {item.name: evaluate(item.expr, row, ctx) for item in items}
                out.append(values)
                sort_envs.append(({**row, **values}, None))
        if proj.distinct:
            seen, keep = set(), []
            for i, values in enumerate(out):
                key = tuple(hash_key(values[c]) for c in columns)
                if key not in seen:
                    seen.add(key)
                    keep.append(i)
            out = [out[i] for i in keep]
            sort_envs = [({**sort_envs[i][0], **out[j]} if not aggs else sort_envs[i][0], sort_envs[i][1])
                         for j, i in enumerate(keep)]
        if proj.order_by:
            by_expr = {item.expr: item.name for item in items}
            keyed = []
            for values, (env, group_aggs) in zip(out, sort_envs):
                ctx.aggregates = group_aggs
                try:
                    keys = [sort_key(values[by_expr[s.expr]] if s.expr in by_expr else evaluate(s.expr, env, ctx))
                            for s in proj.order_by]
                finally:
                    ctx.aggregates = None
                keyed.append((keys, values))
            for i in reversed(range(len(proj.order_by))):
                keyed.sort(key=lambda kv: kv[0][i], reverse=proj.order_by[i].descending)
            out = [values for _, values in keyed]
        skip = self.count(proj.skip, "SKIP")
        limit = self.count(proj.limit, "LIMIT")
        if skip:
            out = out[skip:]
        if limit is not None:
            out = out[:limit]
        return columns, out

    def group(self, items, aggs, rows):
        """Aggregation: one output row per distinct tuple of the non-aggregate items."""
        ctx = self.ctx
        keys = [item for item in items if not _aggregates_in([item.expr])]
        groups = {}
        for row in rows:
            key_values = [evaluate(item.expr, row, ctx) for item in keys]
            gk = tuple(hash_key(v) for v in key_values)
            if gk not in groups:
                groups[gk] = (row, key_values, [])
            groups[gk][2].append(row)
        if not groups and not keys:
            groups[()] = ({}, [], [])
        out, sort_envs = [], []
        for first, key_values, members in groups.values():
            values_of = {}
            for agg in aggs:
                if agg.star:
                    values_of[agg] = aggregate(agg, members)
                else:
                    if len(agg.args) != 1:
                        raise CypherError(f"{agg.name}() takes 1 argument, got {len(agg.args)}")
                    values_of[agg] = aggregate(agg, [evaluate(agg.args[0], m, ctx) for m in members])
            values = {}
            ctx.aggregates = values_of
            try:
                for item in items:
                    values[item.name] = (key_values[keys.index(item)] if item in keys
                                         else evaluate(item.expr, first, ctx))
            finally:
                ctx.aggregates = None
            out.append(values)
            sort_envs.append(({**first, **values}, values_of))
        return out, sort_envs

    def count(self, expr, what):
        if expr is None:
            return None
        value = evaluate(expr, {}, self.ctx)
        if type(value) is not int or value < 0:
            raise CypherError(f"{what} needs a non-negative integer, got {value!r}")
        return value
