"""Cypher values for the executor: expression evaluation with openCypher's null semantics,
the scalar functions, the aggregates, equality, ordering and DISTINCT keys.

Values are Python's: None (null), bool, int (64-bit, overflow is a CypherError), float, str,
list, dict, and the graph's own agentdb.graph.model.Node and Edge (a variable-length
relationship is a list of Edge; a named path is a CypherPath). Three-valued logic: a
comparison with null is null, AND/OR/XOR/NOT follow Kleene's tables, and WHERE keeps a row
only when its predicate is true.

>>> from agentdb.graph.cypher import parse
>>> ev = lambda text: evaluate(parse("RETURN " + text).clauses[0].projection.items[0].expr, {}, Context())
>>> ev("1 = null"), ev("null OR true"), ev("null AND false"), ev("2 IN [1, null]"), ev("7 / 2"), ev("-7 % 3")
(None, True, False, None, 3, -1)
"""
import math
from dataclasses import dataclass

from ...errors import CypherError
from ..model import Edge, Node
from . import ast as A

INT_MIN, INT_MAX = -2 ** 63, 2 ** 63 - 1


@dataclass(frozen=True)
class CypherPath:
    """A named path `p = (a)-[r]->(b)`: its nodes and relationships in order."""
    nodes: tuple
    relationships: tuple


class Context:
    """What evaluation needs besides the row: the parameters and, after aggregation, the
    values of the group's aggregate calls (keyed by the FunctionCall node)."""

    def __init__(self, params=None):
        self.params = params or {}
        self.aggregates = None


def is_number(v):
    return (type(v) is int or type(v) is float)


def kind(v):
    """The Cypher type name of a value (for error messages)."""
    if v is None:
        return "null"
    if type(v) is bool:
        return "boolean"
    if type(v) is int:
        return "integer"
    if type(v) is float:
        return "float"
    if type(v) is str:
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict):
        return "map"
    if isinstance(v, Node):
        return "node"
    if isinstance(v, Edge):
        return "relationship"
    if isinstance(v, CypherPath):
        return "path"
    return type(v).__name__


def _where(expr):
    return f" at line {expr.pos[0]}, column {expr.pos[1]}" if getattr(expr, "pos", None) else ""


def _int(value, expr):
    if not INT_MIN <= value <= INT_MAX:
        raise CypherError(f"integer overflow{_where(expr)}: {value} is outside 64 bits")
    return value


# ---------------------------------------------------------------- equality and order

def equals(a, b):
    """Cypher `=`: null when either side is null (or a list/map holds a null that decides)."""
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b):
        return a == b
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, Node) or isinstance(a, Edge):
        return type(a) is type(b) and a.id == b.id
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False
        result = True
        for x, y in zip(a, b):
            r = equals(x, y)
            if r is False:
                return False
            if r is None:
                result = None
        return result
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False
        result = True
        for key in a:
            r = equals(a[key], b[key])
            if r is False:
                return False
            if r is None:
                result = None
        return result
    if isinstance(a, CypherPath) and isinstance(b, CypherPath):
        return equals(list(a.nodes) + list(a.relationships), list(b.nodes) + list(b.relationships))
    if type(a) is str and type(b) is str:
        return a == b
    return False


def compare(a, b):
    """-1, 0 or 1 for `<` and friends, or None when the values are not comparable (null, or
    different types: openCypher gives null)."""
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b) or (type(a) is str and type(b) is str) or (type(a) is bool and type(b) is bool):
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return None
        return (a > b) - (a < b)
    if isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b):
            c = compare(x, y)
            if c is None or c != 0:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    return None


_RANK = {"map": 0, "node": 1, "relationship": 2, "list": 3, "path": 4, "string": 5, "boolean": 6,
         "integer": 7, "float": 7, "null": 9}


def _id_key(ident):
    return (0, ident, "") if type(ident) is int else (1, 0, str(ident))


def sort_key(v):
    """openCypher's global order (ORDER BY, min, max): map < node < relationship < list < path
    < string < boolean < number < null, so nulls sort last ascending and first descending."""
    k = kind(v)
    rank = _RANK.get(k, 8)
    if k in ("integer", "float"):
        return (rank, (1, 0) if math.isnan(v) else (0, v))
    if k in ("string", "boolean"):
        return (rank, v)
    if k in ("node", "relationship"):
        return (rank, _id_key(v.id))
    if k == "list":
        return (rank, tuple(sort_key(x) for x in v))
    if k == "map":
        return (rank, tuple(sorted((key, sort_key(x)) for key, x in v.items())))
    if k == "path":
        return (rank, tuple(sort_key(x) for x in v.nodes + v.relationships))
    return (rank, ())


def hash_key(v):
    """A hashable key under which equal values (DISTINCT, grouping) coincide: 1 and 1.0 are
    one, true and 1 are not, nulls are one."""
    if v is None:
        return ("null",)
    if type(v) is bool:
        return ("b", v)
    if is_number(v):
        return ("nan",) if isinstance(v, float) and math.isnan(v) else ("n", v)
    if type(v) is str:
        return ("s", v)
    if isinstance(v, Node):
        return ("node", v.id)
    if isinstance(v, Edge):
        return ("rel", v.id)
    if isinstance(v, list):
        return ("l",) + tuple(hash_key(x) for x in v)
    if isinstance(v, dict):
        return ("m",) + tuple(sorted((key, hash_key(x)) for key, x in v.items()))
    if isinstance(v, CypherPath):
        return ("p",) + tuple(hash_key(x) for x in v.nodes + v.relationships)
    return ("?", repr(v))


# ---------------------------------------------------------------- evaluation

def truth(v, expr):
    """A boolean operand: True, False or None; anything else is a CypherError."""
    if v is None or type(v) is bool:
        return v
    raise CypherError(f"expected a boolean{_where(expr)}, got {kind(v)} {v!r}")


def evaluate(expr, env, ctx):
    """The value of `expr` in the row `env` (variable name -> value)."""
    t = type(expr)
    if t is A.Literal:
        return expr.value
    if t is A.Variable:
        try:
            return env[expr.name]
        except KeyError:
            raise CypherError(f"unknown variable '{expr.name}'{_where(expr)}") from None
    if t is A.Parameter:
        try:
            return ctx.params[expr.name]
        except KeyError:
            raise CypherError(f"missing parameter ${expr.name}{_where(expr)}: params has "
                              f"{sorted(ctx.params) or 'none'}") from None
    if t is A.Property:
        return get_property(evaluate(expr.subject, env, ctx), expr.key, expr)
    if t is A.Binary:
        return _binary(expr, env, ctx)
    if t is A.Unary:
        v = evaluate(expr.operand, env, ctx)
        if expr.op == "NOT":
            v = truth(v, expr)
            return None if v is None else not v
        if v is None:
            return None
        if not is_number(v):
            raise CypherError(f"unary {expr.op}{_where(expr)} expects a number, got {kind(v)}")
        return _int(-v, expr) if expr.op == "-" and type(v) is int else (-v if expr.op == "-" else v)
    if t is A.IsNull:
        v = evaluate(expr.operand, env, ctx)
        return (v is not None) if expr.negated else (v is None)
    if t is A.FunctionCall:
        if expr.is_aggregate:
            if ctx.aggregates is None or expr not in ctx.aggregates:
                raise CypherError(f"aggregate {expr.name}(){_where(expr)} is only allowed in RETURN or WITH")
            return ctx.aggregates[expr]
        return call(expr, [evaluate(a, env, ctx) for a in expr.args])
    if t is A.ListLiteral:
        return [evaluate(item, env, ctx) for item in expr.items]
    if t is A.MapLiteral:
        return {key: evaluate(value, env, ctx) for key, value in expr.items}
    if t is A.HasLabels:
        v = evaluate(expr.subject, env, ctx)
        if v is None:
            return None
        if not isinstance(v, Node):
            raise CypherError(f"a label test{_where(expr)} needs a node, got {kind(v)}")
        return all(label in v.labels for label in expr.labels)
    if t is A.Index:
        return _index(evaluate(expr.subject, env, ctx), evaluate(expr.index, env, ctx), expr)
    if t is A.Slice:
        return _slice(expr, env, ctx)
    if t is A.Case:
        return _case(expr, env, ctx)
    raise CypherError(f"unsupported expression {t.__name__}{_where(expr)}")


def get_property(subject, key, expr):
    if subject is None:
        return None
    if isinstance(subject, (Node, Edge)):
        return subject.properties.get(key)
    if isinstance(subject, dict):
        return subject.get(key)
    raise CypherError(f"cannot read property '{key}'{_where(expr)} of {kind(subject)} {subject!r}")


def _binary(expr, env, ctx):
    op = expr.op
    if op in ("AND", "OR", "XOR"):
        a = truth(evaluate(expr.left, env, ctx), expr.left)
        if op == "AND" and a is False:
            return False
        if op == "OR" and a is True:
            return True
        b = truth(evaluate(expr.right, env, ctx), expr.right)
        if op == "AND":
            return False if b is False else (None if a is None or b is None else True)
        if op == "OR":
            return True if b is True else (None if a is None or b is None else False)
        return None if a is None or b is None else a != b
    a, b = evaluate(expr.left, env, ctx), evaluate(expr.right, env, ctx)
    if op == "=":
        return equals(a, b)
    if op == "<>":
        r = equals(a, b)
        return None if r is None else not r
    if op in ("<", "<=", ">", ">="):
        c = compare(a, b)
        if c is None:
            return None
        return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]
    if op in ("STARTS WITH", "ENDS WITH", "CONTAINS"):
        if type(a) is not str or type(b) is not str:
            return None
        return a.startswith(b) if op == "STARTS WITH" else a.endswith(b) if op == "ENDS WITH" else b in a
    if op == "IN":
        if b is None:
            return None
        if not isinstance(b, list):
            raise CypherError(f"IN{_where(expr)} needs a list on its right, got {kind(b)}")
        result = False
        for item in b:
            r = equals(a, item)
            if r is True:
                return True
            if r is None:
                result = None
        return result
    return arithmetic(op, a, b, expr)


def arithmetic(op, a, b, expr):
    if a is None or b is None:
        return None
    if op == "+":
        if isinstance(a, list) or isinstance(b, list):
            return (a if isinstance(a, list) else [a]) + (b if isinstance(b, list) else [b])
        if type(a) is str and type(b) is str:
            return a + b
    if not (is_number(a) and is_number(b)):
        raise CypherError(f"'{op}'{_where(expr)} cannot combine {kind(a)} {a!r} and {kind(b)} {b!r}")
    both_int = type(a) is int and type(b) is int
    if op == "+":
        return _int(a + b, expr) if both_int else a + b
    if op == "-":
        return _int(a - b, expr) if both_int else a - b
    if op == "*":
        return _int(a * b, expr) if both_int else a * b
    if op == "^":
        try:
            return float(a) ** float(b)
        except (OverflowError, ZeroDivisionError):
            return math.inf
        except ValueError:
            return math.nan
    if op in ("/", "%"):
        if both_int:
            if b == 0:
                raise CypherError(f"division by zero{_where(expr)}")
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)     # truncated, as in Java
            return _int(q, expr) if op == "/" else a - b * q
        a, b = float(a), float(b)
        if op == "%":
            return math.fmod(a, b) if b != 0 else math.nan
        if b == 0:
            return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
        return a / b
    raise CypherError(f"unsupported operator '{op}'{_where(expr)}")


def _index(subject, index, expr):
    if subject is None or index is None:
        return None
    if isinstance(subject, list):
        if type(index) is not int:
            raise CypherError(f"a list index{_where(expr)} must be an integer, got {kind(index)}")
        return subject[index] if -len(subject) <= index < len(subject) else None
    if isinstance(subject, (dict, Node, Edge)):
        if type(index) is not str:
            raise CypherError(f"a map key{_where(expr)} must be a string, got {kind(index)}")
        return get_property(subject, index, expr)
    raise CypherError(f"cannot index {kind(subject)}{_where(expr)}")


def _slice(expr, env, ctx):
    subject = evaluate(expr.subject, env, ctx)
    start = evaluate(expr.start, env, ctx) if expr.start is not None else 0
    end = evaluate(expr.end, env, ctx) if expr.end is not None else None
    if subject is None or start is None or (expr.end is not None and end is None):
        return None
    if not isinstance(subject, list) or type(start) is not int or (end is not None and type(end) is not int):
        raise CypherError(f"a slice{_where(expr)} needs a list and integer bounds")
    return subject[start:end]


def _case(expr, env, ctx):
    if expr.subject is not None:
        subject = evaluate(expr.subject, env, ctx)
        for when, then in expr.whens:
            if equals(subject, evaluate(when, env, ctx)) is True:
                return evaluate(then, env, ctx)
    else:
        for when, then in expr.whens:
            if evaluate(when, env, ctx) is True:
                return evaluate(then, env, ctx)
    return evaluate(expr.default, env, ctx) if expr.default is not None else None


# ---------------------------------------------------------------- scalar functions

def _need(name, v, *kinds):
    if kind(v) not in kinds:
        raise CypherError(f"{name}() expects {' or '.join(kinds)}, got {kind(v)} {v!r}")


def _f_id(v):
    _need("id", v, "node", "relationship")
    return v.id


def _f_labels(v):
    _need("labels", v, "node")
    return list(v.labels)


def _f_type(v):
    _need("type", v, "relationship")
    return v.type


def _f_properties(v):
    _need("properties", v, "node", "relationship", "map")
    return dict(v) if isinstance(v, dict) else dict(v.properties)


def _f_keys(v):
    _need("keys", v, "node", "relationship", "map")
    return sorted(v if isinstance(v, dict) else v.properties)


def _f_size(v):
    _need("size", v, "list", "string")
    return len(v)


def _f_length(v):
    if isinstance(v, CypherPath):
        return len(v.relationships)
    _need("length", v, "path", "list", "string")
    return len(v)


def _f_str(name, method):
    def f(v):
        _need(name, v, "string")
        return getattr(v, method)()
    return f


def _f_tostring(v):
    if type(v) is bool:
        return "true" if v else "false"
    _need("toString", v, "integer", "float", "string")
    return str(v) if not isinstance(v, float) or not v.is_integer() else f"{v:.1f}"


def _f_tointeger(v):
    if type(v) is str:
        try:
            return _int(int(float(v.strip())) if "." in v or "e" in v.lower() else int(v.strip()), None)
        except ValueError:
            return None
    _need("toInteger", v, "integer", "float")
    return _int(int(v), None) if math.isfinite(v) else None


def _f_tofloat(v):
    if type(v) is str:
        try:
            return float(v)
        except ValueError:
            return None
    _need("toFloat", v, "integer", "float")
    return float(v)


def _f_abs(v):
    _need("abs", v, "integer", "float")
    return _int(abs(v), None) if type(v) is int else abs(v)


def _f_nodes(v):
    _need("nodes", v, "path")
    return list(v.nodes)


def _f_relationships(v):
    _need("relationships", v, "path")
    return list(v.relationships)


def _f_head(v):
    _need("head", v, "list")
    return v[0] if v else None


def _f_last(v):
    _need("last", v, "list")
    return v[-1] if v else None


# name -> (function, number of arguments); every one gives null for a null argument
SCALARS = {
    "id": (_f_id, 1), "labels": (_f_labels, 1), "type": (_f_type, 1), "properties": (_f_properties, 1),
    "keys": (_f_keys, 1), "size": (_f_size, 1), "length": (_f_length, 1),
    "tolower": (_f_str("toLower", "lower"), 1), "toupper": (_f_str("toUpper", "upper"), 1),
    "trim": (_f_str("trim", "strip"), 1), "tostring": (_f_tostring, 1), "tointeger": (_f_tointeger, 1),
    "tofloat": (_f_tofloat, 1), "abs": (_f_abs, 1), "nodes": (_f_nodes, 1),
    "relationships": (_f_relationships, 1), "head": (_f_head, 1), "last": (_f_last, 1),
}


def call(expr, args):
    """A scalar function call on evaluated arguments."""
    name = expr.name
    if name == "coalesce":
        if not args:
            raise CypherError(f"coalesce(){_where(expr)} needs at least one argument")
        return next((a for a in args if a is not None), None)
    if name not in SCALARS:
        raise CypherError(f"unknown function {name}(){_where(expr)}; supported: "
                          f"{', '.join(sorted(list(SCALARS) + ['coalesce'] + sorted(A.AGGREGATES)))}")
    if expr.distinct:
        raise CypherError(f"DISTINCT{_where(expr)} is only allowed in an aggregate, not in {name}()")
    fn, arity = SCALARS[name]
    if len(args) != arity:
        raise CypherError(f"{name}(){_where(expr)} takes {arity} argument(s), got {len(args)}")
    if any(a is None for a in args):
        return None
    return fn(*args)


# ---------------------------------------------------------------- aggregates

def aggregate(expr, values):
    """The value of aggregate `expr` over `values` (one per row; count(*) gets the row count
    as len(values)). Nulls are skipped; over no values count and sum are 0, collect is [],
    avg, min and max are null (openCypher)."""
    if expr.star:
        return len(values)
    if len(expr.args) != 1:
        raise CypherError(f"{expr.name}(){_where(expr)} takes 1 argument, got {len(expr.args)}")
    values = [v for v in values if v is not None]
    if expr.distinct:
        seen, unique = set(), []
        for v in values:
            key = hash_key(v)
            if key not in seen:
                seen.add(key)
                unique.append(v)
        values = unique
    name = expr.name
    if name == "count":
        return len(values)
    if name == "collect":
        return values
    if name in ("min", "max"):
        if not values:
            return None
        return (min if name == "min" else max)(values, key=sort_key)
    for v in values:
        if not is_number(v):
            raise CypherError(f"{name}(){_where(expr)} needs numbers, got {kind(v)} {v!r}")
    if name == "sum":
        total = sum(values) if values else 0
        return _int(total, expr) if type(total) is int else total
    if name == "avg":
        return math.fsum(values) / len(values) if values else None
    raise CypherError(f"unknown aggregate {name}(){_where(expr)}")
