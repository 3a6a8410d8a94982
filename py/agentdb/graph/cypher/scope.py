"""Static checks of a read query before the executor runs it: which variables are bound
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
            _check(clause.where, bound, "WHERE")
            scope = bound
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
