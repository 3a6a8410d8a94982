"""Static checks of a query before the executor runs it: which variables are bound
where (so `RETURN m` with no `m` fails even when no row would reach it) and where the
aggregates are.

>>> from agentdb.graph.cypher import parse
>>> check_scopes(parse("MATCH (n) WITH n.x AS x RETURN n"))
Traceback (most recent call last):
...
agentdb.errors.CypherError: unknown variable 'n' at line 1, column 32 in the projection; in scope: x
"""
from ...errors import CypherError
from . import ast as A


def aggregates_in(exprs):
    """The aggregate calls in exprs (in order, once each); nested aggregates are an error."""
    found = []
    for expr in exprs:
        for node in A.walk(expr):
            if isinstance(node, A.FunctionCall) and node.is_aggregate:
                for arg in node.args:
                    for inner in A.walk(arg):
                        if isinstance(inner, A.FunctionCall) and inner.is_aggregate:
                            raise CypherError(f"aggregate {inner.name}() inside aggregate {node.name}()")
                if node not in found:
                    found.append(node)
    return found


def _variables(node):
    return [v for v in A.walk(node) if isinstance(v, A.Variable)]


def _check(node, scope, where):
    for v in _variables(node) if node is not None else ():
        if v.name not in scope:
            at = f" at line {v.pos[0]}, column {v.pos[1]}" if v.pos else ""
            raise CypherError(f"unknown variable '{v.name}'{at} in {where}; in scope: "
                              f"{', '.join(sorted(scope)) or 'none'}")


def _check_items(items, scope):
    """SET / REMOVE items: the variable written to and the values read."""
    for item in items:
        name = getattr(item, "variable", None)
        if name is not None:
            _check(A.Variable(name, pos=item.pos), scope, type(item).__name__)
        for node in (getattr(item, "target", None), getattr(item, "value", None)):
            _check(node, scope, "SET" if type(item).__name__.startswith("Set") else "REMOVE")


def check_scopes(q):
    """Checks, before any matching, that every variable is bound where it is used (so an
    unknown variable is an error even when no row would reach it)."""
    scope = set()
    for clause in q.clauses:
        t = type(clause)
        if t is A.Match:
            bound = set(scope)
            for p in clause.patterns:
                for e in p.elements:
                    if getattr(e, "properties", None) is not None:
                        _check(e.properties, bound | set(p.variables()), "a pattern's properties")
                bound |= set(p.variables())
            search = clause.search
            if search is not None:
                _check(search.vector, scope, "SEARCH ... FOR")
                _check(search.limit, set(), "SEARCH ... LIMIT")
                _check(search.where, bound, "SEARCH ... WHERE")
                if search.score is not None:
                    bound.add(search.score)
            _check(clause.where, bound, "WHERE")
            scope = bound
        elif t is A.Create:
            # properties see the variables bound before the clause (its nodes are made in one batch)
            new = set(scope)
            for p in clause.patterns:
                for e in p.elements:
                    _check(e.properties, scope, "CREATE's properties")
                new |= set(p.variables())
            scope = new
        elif t is A.Merge:
            for e in clause.pattern.elements:
                _check(e.properties, scope, "MERGE's properties")
            scope = scope | set(clause.pattern.variables())
            _check_items(clause.on_create + clause.on_match, scope)
        elif t in (A.Set, A.Remove):
            _check_items(clause.items, scope)
        elif t is A.Delete:
            for expr in clause.exprs:
                _check(expr, scope, "DELETE")
        elif t is A.Unwind:
            _check(clause.expr, scope, "UNWIND")
            scope = scope | {clause.variable}
        elif t in (A.With, A.Return):
            proj = clause.projection
            for item in proj.items:
                _check(item.expr, scope, "the projection")
            new = (set(scope) if proj.star else set()) | {item.name for item in proj.items}
            aggregating = bool(aggregates_in([item.expr for item in proj.items]))
            order_scope = new if (proj.distinct or aggregating) else new | scope
            if aggregating or proj.distinct:
                order_scope = order_scope | {item.expr.name for item in proj.items
                                             if isinstance(item.expr, A.Variable)}
            for s in proj.order_by:
                if s.expr not in {item.expr for item in proj.items}:
                    _check(s.expr, order_scope, "ORDER BY")
            _check(proj.skip, set(), "SKIP")
            _check(proj.limit, set(), "LIMIT")
            if t is A.With:
                _check(clause.where, new, "WITH ... WHERE")
            scope = new
