"""The updating clauses of the Cypher executor: CREATE, MERGE, SET, REMOVE, DELETE.

Every write goes through the Graph API (batch_insert, update_node, update_edge, delete_edge,
delete_node), and execute() runs a query that has any of these clauses inside one
db.transaction(): the whole query is one commit, and an error anywhere (a bad value, a
DELETE of a node that still has relationships, a failing RETURN) leaves the graph and the
file as they were.

- CREATE makes a node for each unbound node variable (or anonymous node) with its labels and
  properties (null values are left out), and a relationship for each relationship pattern;
  all rows' nodes are one batch_insert, then all their relationships another. Property
  expressions see the variables bound before the clause, not the ones it creates.
- MERGE, row by row: if the whole pattern matches (as MATCH would), ON MATCH SET runs on each
  match; otherwise the pattern's unbound parts are created (an undirected relationship as
  left to right) and ON CREATE SET runs. A null in its property maps is a CypherError.
- SET `n.k = v` (null removes k), `n = map` (replaces all properties; a node or relationship
  copies its properties), `n += map` (null values remove keys), `n:A:B`; REMOVE `n.k`,
  `n:A`. A null target is skipped, as openCypher says. Items run in order and each sees the
  ones before it.
- DELETE / DETACH DELETE take nodes, relationships, paths (all their parts) or lists of them;
  relationships are deleted before nodes, so `DELETE r, n` works. DELETE of a node that still
  has relationships (or hyperedges) is a CypherError whose __cause__ is the graph's
  NodeHasEdgesError (every failure of a query is a CypherError, one class for callers and for
  JS). Deleting something already deleted in the same query is a no-op.

After each updating clause the rows' nodes and relationships are replaced by their new
versions, so a later SET, WITH or RETURN sees the updated values (a deleted one keeps its last
value). CypherResult.updates counts what changed.

>>> import agentdb
>>> from agentdb.graph.cypher import execute
>>> g = agentdb.open(dim=2).graph
>>> execute(g, "CREATE (a:P {name: 'ada'})-[:KNOWS {since: 1833}]->(b:P {name: 'bab'})").updates
{'nodes_created': 2, 'relationships_created': 1, 'properties_set': 3, 'labels_added': 2}
>>> execute(g, "MATCH (a:P {name: 'ada'}) SET a.born = 1815, a:Math RETURN a.born, labels(a)").rows
[(1815, ['Math', 'P'])]
"""
from collections import Counter

from ...errors import AgentDBError, CypherError, NodeHasEdgesError, UnknownIdError
from ..model import Edge, Node
from . import ast as A
from .functions import CypherPath, evaluate, kind
from .plan import order

COUNTERS = ("nodes_created", "relationships_created", "properties_set", "labels_added", "labels_removed",
            "nodes_deleted", "relationships_deleted")
"""CypherResult.updates' keys, in this order (only the non-zero ones are given)."""
UPDATING = (A.Create, A.Merge, A.Set, A.Remove, A.Delete)
"""The clause types this module runs."""


def has_updates(statement):
    """Whether a parsed statement has an updating clause (execute() then runs it in a transaction)."""
    queries = statement.queries if isinstance(statement, A.Union) else (statement,)
    return any(isinstance(c, UPDATING) for q in queries for c in q.clauses)


def _at(node):
    return f" (line {node.pos[0]}, column {node.pos[1]})" if getattr(node, "pos", None) else ""


class _New:
    """A node or relationship a CREATE makes, until its batch is written."""
    __slots__ = ("kind", "index")

    def __init__(self, kind, index):
        self.kind, self.index = kind, index


def _storable(value, where):
    """A property value the graph can keep (JSON): not a node, relationship or path."""
    if isinstance(value, (Node, Edge, CypherPath)):
        raise CypherError(f"{where}: a {kind(value)} cannot be a property value")
    if isinstance(value, list):
        for v in value:
            _storable(v, where)
    elif isinstance(value, dict):
        for v in value.values():
            _storable(v, where)
    return value


class Updater:
    """Runs the updating clauses of one query for an executor run (`run`: its graph,
    parameters, view and pattern matching)."""

    def __init__(self, run):
        self.run, self.graph, self.ctx = run, run.graph, run.ctx
        self.counts = Counter()
        self.latest = {}             # ("node" | "rel", id) -> the newest Node / Edge
        self.deleted = set()

    # ------------------------------------------------------------ plumbing

    def summary(self):
        """The non-zero counts, in COUNTERS order."""
        return {k: self.counts[k] for k in COUNTERS if self.counts[k]}

    def apply(self, clause, rows):
        """The rows after running one updating clause on each."""
        t = type(clause)
        if t is A.Create:
            rows = self.create(clause.patterns, rows)
        elif t is A.Merge:
            rows = self.merge(clause, rows)
        elif t is A.Delete:
            self.delete(clause, rows)
        else:
            for row in rows:
                self.set_items(clause.items, row, remove=t is A.Remove)
        return [self.fresh_row(r) for r in rows] if self.latest else rows

    def write(self, what, fn, *args, **kwargs):
        """A Graph write; its typed errors become CypherErrors naming what was being done (the
        run reads the graph afresh after it)."""
        try:
            result = fn(*args, **kwargs)
        except CypherError:
            raise
        except NodeHasEdgesError as exc:
            raise CypherError(f"{what}: the node still has relationships; use DETACH DELETE ({exc})") from exc
        except AgentDBError as exc:
            raise CypherError(f"{what}: {type(exc).__name__}: {exc}") from exc
        self.run.changed()
        return result

    def fresh(self, value):
        """value with its nodes and relationships replaced by their newest versions."""
        if isinstance(value, Node):
            return self.latest.get(("node", value.id), value)
        if isinstance(value, Edge):
            return self.latest.get(("rel", value.id), value)
        if isinstance(value, list):
            return [self.fresh(v) for v in value]
        if isinstance(value, dict):
            return {k: self.fresh(v) for k, v in value.items()}
        if isinstance(value, CypherPath):
            return CypherPath(tuple(self.fresh(n) for n in value.nodes),
                              tuple(self.fresh(r) for r in value.relationships))
        return value

    def fresh_row(self, row):
        """A row with fresh() values."""
        return {k: self.fresh(v) for k, v in row.items()}

    def props(self, expr, env, where, *, merge=False):
        """A pattern's property map, evaluated, nulls left out (MERGE: a null is an error)."""
        if expr is None:
            return {}
        value = evaluate(expr, env, self.ctx)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise CypherError(f"{where}'s properties must be a map, got {kind(value)}")
        if merge:
            for k, v in value.items():
                if v is None:
                    raise CypherError(f"MERGE{_at(expr)} cannot match or create a null property value ({k})")
        return {k: _storable(v, where) for k, v in value.items() if v is not None}

    # ------------------------------------------------------------ CREATE

    def create(self, patterns, rows, *, what="CREATE"):
        """Rows extended with the patterns' new nodes, relationships and paths."""
        node_specs, edge_specs, envs = [], [], []
        for row in rows:
            env = dict(row)
            for p in patterns:
                elems = p.elements
                refs = [self._create_node(n, env, node_specs, what) for n in elems[0::2]]
                rels = []
                for i, rel in enumerate(elems[1::2]):
                    if rel.variable is not None and rel.variable in env:
                        raise CypherError(f"{what}{_at(rel)}: relationship variable '{rel.variable}' is "
                                          f"already bound")
                    src, dst = refs[i], refs[i + 1]
                    if rel.direction == A.IN:
                        src, dst = dst, src
                    props = self.props(rel.properties, row, what)
                    new = _New("rel", len(edge_specs))
                    edge_specs.append((src, dst, rel.types[0], props))
                    rels.append(new)
                    if rel.variable is not None:
                        env[rel.variable] = new
                if p.variable is not None:
                    env[p.variable] = ("path", refs, rels)
            envs.append(env)
        if not node_specs and not edge_specs:
            return envs
        made_nodes = []
        if node_specs:
            ids = self.write(what, self.graph.batch_insert, nodes=node_specs)["nodes"]
            made_nodes = [self.graph.get_node(i) for i in ids]
            self.counts["nodes_created"] += len(ids)
            self.counts["labels_added"] += sum(len(s["labels"]) for s in node_specs)
            self.counts["properties_set"] += sum(len(s["properties"]) for s in node_specs)
            for n in made_nodes:
                self.latest[("node", n.id)] = n

        def resolve(ref):
            return made_nodes[ref.index] if isinstance(ref, _New) else ref
        made_edges = []
        if edge_specs:
            spec = [{"src": resolve(s).id, "dst": resolve(d).id, "type": t, "properties": props}
                    for s, d, t, props in edge_specs]
            ids = self.write(what, self.graph.batch_insert, edges=spec)["edges"]
            made_edges = [self.graph.get_edge(i) for i in ids]
            self.counts["relationships_created"] += len(ids)
            self.counts["properties_set"] += sum(len(s[3]) for s in edge_specs)

        def value(v):
            if isinstance(v, _New):
                return made_nodes[v.index] if v.kind == "node" else made_edges[v.index]
            if isinstance(v, tuple) and len(v) == 3 and v[0] == "path":
                return CypherPath(tuple(resolve(r) for r in v[1]), tuple(value(r) for r in v[2]))
            return v
        return [{k: value(v) for k, v in env.items()} for env in envs]

    def _create_node(self, pattern, env, specs, what):
        """The node a CREATE pattern element stands for: the bound one, or a new spec."""
        name = pattern.variable
        if name is not None and name in env:
            bound = env[name]
            if pattern.labels or pattern.properties is not None:
                raise CypherError(f"{what}{_at(pattern)}: '{name}' is already bound; labels and properties "
                                  f"can only be given to a new node (use SET)")
            if isinstance(bound, _New) and bound.kind == "node" or isinstance(bound, Node):
                return bound
            raise CypherError(f"{what}{_at(pattern)}: '{name}' is {kind(bound)}, not a node")
        specs.append({"labels": list(pattern.labels), "properties": self.props(pattern.properties, env, what)})
        new = _New("node", len(specs) - 1)
        if name is not None:
            env[name] = new
        return new

    # ------------------------------------------------------------ MERGE

    def merge(self, clause, rows):
        """MERGE row by row: every match (ON MATCH SET), else the pattern created (ON CREATE SET)."""
        out = []
        pattern = clause.pattern
        for row in rows:
            row = self.fresh_row(row)
            for e in pattern.elements:
                self.props(e.properties, row, "MERGE", merge=True)       # nulls are an error
                if e.variable is not None and e.variable in row and row[e.variable] is None:
                    raise CypherError(f"MERGE{_at(e)}: '{e.variable}' is null")
            matches = list(self.run.match_patterns(order(self.run.view, (pattern,), row, {}), row))
            if matches:
                for env in matches:
                    out.append(self.set_items(clause.on_match, env))
            else:
                env = self.create((pattern,), [row], what="MERGE")[0]
                out.append(self.set_items(clause.on_create, env))
        return out

    # ------------------------------------------------------------ SET and REMOVE

    def set_items(self, items, env, *, remove=False):
        """Runs SET (or REMOVE) items on one row in order; returns the row, refreshed."""
        ctx = self.ctx
        for item in items:
            env = self.fresh_row(env) if self.latest else env
            t = type(item)
            if t in (A.SetProperty, A.RemoveProperty):
                target = item.target
                if type(target.subject) is not A.Variable:
                    raise CypherError(f"{'REMOVE' if remove else 'SET'}{_at(item)}: only a variable's own "
                                      f"property can be written (n.key), not a nested one")
                subject = evaluate(target.subject, env, ctx)
                value = None if remove else evaluate(item.value, env, ctx)
                self.write_props(subject, {target.key: value}, False, item)
            elif t is A.SetProperties:
                subject = evaluate(A.Variable(item.variable), env, ctx)
                value = evaluate(item.value, env, ctx)
                if isinstance(value, (Node, Edge)):
                    value = dict(value.properties)
                elif value is None:
                    value = {}
                elif not isinstance(value, dict):
                    raise CypherError(f"SET{_at(item)} {item.variable} {'+=' if item.merge else '='} needs a map, "
                                      f"got {kind(value)}")
                self.write_props(subject, value, not item.merge, item)
            else:                                          # SetLabels, RemoveLabels
                subject = evaluate(A.Variable(item.variable), env, ctx)
                if subject is None:
                    continue
                node = self._live(subject, item, nodes_only=True)
                if remove:
                    change = [x for x in item.labels if x in node.labels]
                    kw, counter = {"remove_labels": change}, "labels_removed"
                else:
                    change = [x for x in dict.fromkeys(item.labels) if x not in node.labels]
                    kw, counter = {"add_labels": change}, "labels_added"
                if change:
                    new = self.write("REMOVE" if remove else "SET", self.graph.update_node, node.id, **kw)
                    self.latest[("node", new.id)] = new
                    self.counts[counter] += len(change)
        return self.fresh_row(env) if self.latest else env

    def _live(self, subject, item, *, nodes_only=False):
        if not isinstance(subject, Node) and (nodes_only or not isinstance(subject, Edge)):
            what = "a node" if nodes_only else "a node or relationship"
            raise CypherError(f"SET/REMOVE{_at(item)} needs {what}, got {kind(subject)}")
        key = ("node" if isinstance(subject, Node) else "rel", subject.id)
        if key in self.deleted:
            raise CypherError(f"SET/REMOVE{_at(item)}: {kind(subject)} {subject.id!r} was deleted by this query")
        return self.latest.get(key, subject)

    def write_props(self, subject, props, replace, item):
        """Sets props on a node or relationship (None values remove keys; replace: all others too)."""
        if subject is None:
            return
        obj = self._live(subject, item)
        where = "SET" if type(item) is not A.RemoveProperty else "REMOVE"
        keep = {k: _storable(v, where) for k, v in props.items() if v is not None}
        drop = [] if replace else [k for k, v in props.items() if v is None and k in obj.properties]
        if not replace and not keep and not drop:
            return
        if isinstance(obj, Node):
            new = self.write(where, self.graph.update_node, obj.id, properties=keep or None, replace=replace,
                             remove_properties=drop)
            self.latest[("node", new.id)] = new
        else:
            new = self.write(where, self.graph.update_edge, obj.id, properties=keep or None, replace=replace,
                             remove_properties=drop)
            self.latest[("rel", new.id)] = new
        self.counts["properties_set"] += len(keep) + len(drop)

    # ------------------------------------------------------------ DELETE

    def delete(self, clause, rows):
        """[DETACH] DELETE: everything the rows name, relationships first, each once."""
        nodes, edges = {}, {}

        def collect(v, expr):
            if v is None:
                return
            if isinstance(v, Node):
                nodes.setdefault(v.id, v)
            elif isinstance(v, Edge):
                edges.setdefault(v.id, v)
            elif isinstance(v, CypherPath):
                for x in v.relationships + v.nodes:
                    collect(x, expr)
            elif isinstance(v, list):
                for x in v:
                    collect(x, expr)
            else:
                raise CypherError(f"DELETE{_at(expr)} needs nodes, relationships or paths, got {kind(v)}")
        for row in rows:
            for expr in clause.exprs:
                collect(evaluate(expr, row, self.ctx), expr)
        for ident in edges:
            if ("rel", ident) in self.deleted:
                continue
            try:
                self.write("DELETE", self.graph.delete_edge, ident)
                self.counts["relationships_deleted"] += 1
            except CypherError as exc:
                if not isinstance(exc.__cause__, UnknownIdError):    # gone with a node DETACH DELETEd earlier
                    raise
            self.deleted.add(("rel", ident))
        for ident in nodes:
            if ("node", ident) in self.deleted:
                continue
            what = "DETACH DELETE" if clause.detach else f"DELETE of node {ident!r}"
            try:
                counts = self.write(what, self.graph.delete_node, ident, detach=clause.detach)
            except CypherError as exc:
                if isinstance(exc.__cause__, UnknownIdError):
                    self.deleted.add(("node", ident))
                    continue
                raise
            self.deleted.add(("node", ident))
            self.counts["nodes_deleted"] += 1
            self.counts["relationships_deleted"] += counts["edges"]
