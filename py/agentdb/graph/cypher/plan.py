"""The executor's plan for one MATCH: where each pattern starts and with which nodes, so a
query reads the part of the graph it needs (a point pattern reads a node and its edges, not
the graph).

Anchors pin a node variable down before any matching: its pattern's property map, and the
top-level AND terms of the clause's WHERE of the forms `id(n) = e`, `id(n) IN e` and
`n.key = e` (either side), where `e` reads only literals, parameters and variables bound
before the clause. A start node's candidates are then the nodes with those ids, or the nodes
the store's filter finds for those properties (kernel bitmaps over the property columns)
with its rarest label, else its rarest label's nodes, else every node. Patterns are then
matched cheapest start first, and a pattern whose far end is cheaper is walked from that end
(its relationships reversed). Anchors only narrow candidates: every candidate is still matched
against the whole pattern and the WHERE, so a plan never changes the rows, only their order
(which openCypher leaves open without ORDER BY).
"""
import math
from dataclasses import dataclass, replace

from ...errors import CypherError
from . import ast as A
from .functions import evaluate

FILTER_OPERATORS = {"and", "or", "not", "op"}
PROPERTY_SHARE = 100     # a property equality is guessed to keep one node in this many


@dataclass
class Anchor:
    """What pins one node variable down: ids (None: any) and properties {key: value}."""

    ids: list = None
    props: dict = None


def anchor_terms(where):
    """[(variable, "id" | "ids" | "prop", key, expr)] from WHERE's top-level AND terms."""
    terms, stack = [], [where] if where is not None else []
    while stack:
        e = stack.pop()
        if type(e) is not A.Binary:
            continue
        if e.op == "AND":
            stack.extend((e.right, e.left))
        elif e.op in ("=", "IN"):
            for pinned, value in ((e.left, e.right), (e.right, e.left)) if e.op == "=" else ((e.left, e.right),):
                term = _pinned(pinned)
                if term is not None:
                    kind, name, key = term
                    terms.append((name, "ids" if e.op == "IN" else kind, key, value))
    return terms


def _pinned(e):
    """("id", var, None) for id(var), ("prop", var, key) for var.key, else None."""
    if type(e) is A.FunctionCall and e.name == "id" and len(e.args) == 1 and type(e.args[0]) is A.Variable \
            and not e.distinct:
        return "id", e.args[0].name, None
    if type(e) is A.Property and type(e.subject) is A.Variable:
        return "prop", e.subject.name, e.key
    return None


def reads_only(expr, bound):
    """True when expr reads no variable outside `bound` (so it can be evaluated up front)."""
    return all(type(n) is not A.Variable or n.name in bound for n in A.walk(expr))


def anchors(terms, row, ctx):
    """{variable: Anchor} for one input row (terms whose value cannot be had up front are
    left to the WHERE)."""
    out = {}
    for name, kind, key, expr in terms:
        if name in row or not reads_only(expr, row):
            continue
        try:
            value = evaluate(expr, row, ctx)
        except CypherError:
            continue
        a = out.setdefault(name, Anchor())
        if kind == "prop":
            if pushable(key, value):
                a.props = {**(a.props or {}), key: value} if key not in (a.props or {}) else a.props
            continue
        ids = _ids([value] if kind == "id" else value)
        if ids is not None:
            a.ids = ids if a.ids is None else [i for i in a.ids if i in ids]
    return out


def _ids(values):
    """The candidate ids for id(n) = v / id(n) IN list (None: the hint cannot be used)."""
    if not isinstance(values, list):
        return [] if values is None else None          # IN null is null: nothing matches
    ids = []
    for v in values:
        if v is None:
            continue                      # id(n) = null is never true
        if type(v) not in (int, str):
            return None
        ids.append(v)
    return list(dict.fromkeys(ids))


def pushable(key, value):
    """A property equality the store's filter can run exactly as Cypher's = (or as a
    superset of it: candidates are checked again)."""
    if not isinstance(key, str) or "." in key or key.startswith("$") or key in FILTER_OPERATORS:
        return False
    if type(value) is float:
        return math.isfinite(value)
    return type(value) in (int, str, bool)


def start_filter(props):
    """The store filter for the pushable entries of a property map (None: none)."""
    terms = [{k: {"eq": v}} for k, v in (props or {}).items() if pushable(k, v)]
    return {"and": terms} if terms else None


def estimate(view, pattern, env, anchor, bound):
    """About how many candidates a start at node pattern `pattern` looks at."""
    if pattern.variable is not None and (pattern.variable in env or pattern.variable in bound):
        return 1
    if anchor is not None and anchor.ids is not None:
        return len(anchor.ids)
    base = min((view.count(label) for label in pattern.labels), default=view.count())
    if (anchor is not None and anchor.props) or _has_props(pattern):
        base = base // PROPERTY_SHARE + 1
    return base


def _has_props(pattern):
    p = pattern.properties
    return p is not None and (type(p) is not A.MapLiteral or bool(p.items))


def reversed_pattern(p):
    """The same path written from its other end (directions flipped)."""
    flip = {A.OUT: A.IN, A.IN: A.OUT, A.BOTH: A.BOTH}
    elements = tuple(e if isinstance(e, A.NodePattern) else replace(e, direction=flip[e.direction])
                     for e in reversed(p.elements))
    return replace(p, elements=elements)


def can_reorder(patterns, row):
    """Patterns may be matched in any order and from either end when their property maps
    read only what the row binds (no map reads a variable of another pattern element)."""
    return all(e.properties is None or reads_only(e.properties, row) for p in patterns for e in p.elements)


def _reversible(p):
    """A path keeps its meaning walked backwards unless it is named, a shortestPath, or binds
    a variable-length relationship's list (whose order would flip)."""
    return p.variable is None and p.shortest is None and \
        not any(isinstance(e, A.RelPattern) and e.length is not None and e.variable is not None for e in p.elements)


def order(view, patterns, env, found):
    """The patterns in matching order, each from its cheaper end: greedily the pattern whose
    best start looks at the fewest candidates, given the variables bound so far."""
    if len(patterns) == 1 and len(patterns[0].elements) == 1 or not can_reorder(patterns, env):
        return patterns
    left, out, bound = list(patterns), [], set()
    while left:
        best = None
        for i, p in enumerate(left):
            first, last = p.elements[0], p.elements[-1]
            cost = estimate(view, first, env, found.get(first.variable), bound)
            choice = (cost, i, p)
            if len(p.elements) > 1 and _reversible(p):
                back = estimate(view, last, env, found.get(last.variable), bound)
                if back < cost:
                    choice = (back, i, reversed_pattern(p))
            if best is None or choice[0] < best[0]:
                best = choice
        _, i, p = best
        out.append(p)
        bound.update(p.variables())
        del left[i]
    return out
