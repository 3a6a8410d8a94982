"""The typed AST of agentdb's Cypher subset: what `parse()` returns and the executor consumes.

Every node is a frozen dataclass (hashable, comparable field by field) deriving from `Node`,
and carries `pos`, the (line, column) of its first token, which is left out of comparisons
and reprs (so `parse(q) == expected` holds for hand-built trees without positions). Sequences
are tuples. Names are as written, except function names, which are lower-cased (Cypher's
function names are case-insensitive; procedure names, labels, types, keys and variables are
not). The parser has already applied the rules that need no schema or data:

- a query is `(reading clause)* (updating clause)*` parts separated by WITH, ending with
  RETURN, or after an updating clause, or a lone CALL; `RETURN` is last;
- WITH items other than bare variables have an alias; no two columns share a name;
- CREATE relationships have exactly one type and a direction; MERGE relationships exactly
  one type; neither has variable length; MERGE has no `$map` properties;
- `SEARCH v ...` names a variable of its MATCH's pattern; `a < b < c` is `a < b AND b < c`;
- integer literals fit 64 bits; a unary minus on a number literal is folded into it.

What is left to the executor: which variables are bound (and to what), which functions and
procedures exist, aggregation rules, types of values, SKIP/LIMIT being non-negative integers.

Expressions (`Expr`):
    Literal(value)                    None, bool, int, float or str
    Parameter(name)                   $name / $0
    Variable(name)
    Property(subject, key)            a.key
    Index(subject, index)             xs[i]
    Slice(subject, start, end)        xs[i..j], either end may be None
    HasLabels(subject, labels)        n:A:B (in WHERE)
    ListLiteral(items)                [1, 2]
    MapLiteral(items)                 {k: v}: items is ((key, Expr), ...) in written order
    FunctionCall(name, args, distinct, star)   f(x), count(DISTINCT x), count(*) (star=True)
    Unary(op, operand)                op in UNARY_OPS: 'NOT', '-', '+'
    Binary(op, left, right)           op in BINARY_OPS (see the groups below)
    IsNull(operand, negated)          x IS NULL / x IS NOT NULL (negated=True)
    Case(subject, whens, default)     CASE [subject] WHEN a THEN b ... [ELSE c] END
Patterns:
    PathPattern(elements, variable, shortest)  (a)-[r]->(b): alternating NodePattern and
                                               RelPattern, starting and ending with a node
    NodePattern(variable, labels, properties)  properties: MapLiteral, Parameter or None
    RelPattern(variable, types, properties, direction, length)
        direction: OUT 'out' (a)-->(b), IN 'in' (a)<--(b), BOTH 'both' (a)--(b) or (a)<-->(b)
        types: () means any type; length: None for one hop, else Hops(min, max)
    Hops(min, max)                    *: (1, None); *2: (2, 2); *1..3; *..3: (1, 3); *2..: (2, None)
Clauses (`Clause`) of a `Query(clauses)`; a `Union(queries, all)` joins queries:
    Match(patterns, where, optional, search)   search: VectorSearch or None
    VectorSearch(variable, vector, limit, where, index, score)
    Unwind(expr, variable)
    With(projection, where)          Return(projection)
    Projection(items, star, distinct, order_by, skip, limit)
    ReturnItem(expr, alias, text)    .name: the column name (alias, else the source text)
    SortItem(expr, descending)
    Create(patterns)                 Merge(pattern, on_create, on_match)
    Set(items)                       items: SetProperty(target, value), SetProperties(variable,
                                     value, merge) for `n = map` / `n += map`, SetLabels(variable, labels)
    Remove(items)                    items: RemoveProperty(target), RemoveLabels(variable, labels)
    Delete(exprs, detach)
    Call(procedure, args, yields, where)        yields: (YieldItem(field, alias), ...) or None

The vector predicate, `MATCH ... SEARCH v IN (VECTOR [INDEX name] FOR $q [WHERE p] LIMIT k)
[SCORE AS s]`, follows Neo4j's Cypher 25 SEARCH subclause; see VectorSearch for its meaning.

`walk(node)` yields a node and everything below it (no recursion), for finding variables,
parameters or aggregates:

>>> from agentdb.graph.cypher import parse
>>> q = parse("MATCH (n:Doc) RETURN count(DISTINCT n.topic) AS topics")
>>> q.clauses[1].projection.items[0]
ReturnItem(expr=FunctionCall(name='count', args=(Property(subject=Variable(name='n'), key='topic'),), \
distinct=True, star=False), alias='topics', text='count(DISTINCT n.topic)')
>>> sorted({v.name for v in walk(q) if isinstance(v, Variable)})
['n']
"""
from dataclasses import dataclass, field, fields
from typing import Optional, Tuple, Union as _Union

Pos = Tuple[int, int]
"""(line, column) of a node's first token, both 1-based."""

OUT, IN, BOTH = "out", "in", "both"
"""RelPattern.direction, as written left to right: -->, <--, -- (or <-->)."""

UNARY_OPS = ("NOT", "-", "+")
BOOLEAN_OPS = ("OR", "XOR", "AND")
COMPARISON_OPS = ("=", "<>", "<", "<=", ">", ">=")
STRING_OPS = ("STARTS WITH", "ENDS WITH", "CONTAINS")
LIST_OPS = ("IN",)
ARITHMETIC_OPS = ("+", "-", "*", "/", "%", "^")
BINARY_OPS = BOOLEAN_OPS + COMPARISON_OPS + STRING_OPS + LIST_OPS + ARITHMETIC_OPS
"""Binary.op values. Precedence, loosest first: OR, XOR, AND, (NOT), comparisons, string and
list predicates with IS [NOT] NULL, + -, * / %, ^, (unary - +); all binary ones are
left-associative, as in openCypher (so 2 ^ 3 ^ 2 is (2 ^ 3) ^ 2 and -2 ^ 2 is (-2) ^ 2)."""

AGGREGATES = frozenset({"count", "sum", "avg", "min", "max", "collect"})
"""Function names the issue's subset treats as aggregates (FunctionCall.is_aggregate)."""


def _pos():
    return field(default=None, compare=False, repr=False, kw_only=True)


class Node:
    """Base of every AST node; `pos` is its (line, column), not compared."""

    __slots__ = ()


class Expr(Node):
    """Base of expressions."""

    __slots__ = ()


class Clause(Node):
    """Base of clauses."""

    __slots__ = ()


# ---------------------------------------------------------------- expressions

@dataclass(frozen=True)
class Literal(Expr):
    """A constant: None (null), True/False, an int (64-bit), a float, or a str."""
    value: object
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Parameter(Expr):
    """`$name` (or `$0`): a value from cypher(..., params=), looked up by `name`."""
    name: str
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Variable(Expr):
    """A variable: bound by a pattern, UNWIND, WITH/RETURN alias, YIELD or SEARCH ... SCORE AS."""
    name: str
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Property(Expr):
    """`subject.key`: a node's, relationship's or map's property (null when missing)."""
    subject: Expr
    key: str
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Index(Expr):
    """`subject[index]`: a list element (negative counts from the end) or a map value."""
    subject: Expr
    index: Expr
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Slice(Expr):
    """`subject[start..end]`: a sub-list, end exclusive; a missing end is None."""
    subject: Expr
    start: Optional[Expr]
    end: Optional[Expr]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class HasLabels(Expr):
    """`subject:A:B`: true when the node has every one of `labels`."""
    subject: Expr
    labels: Tuple[str, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class ListLiteral(Expr):
    """`[a, b, ...]`."""
    items: Tuple[Expr, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class MapLiteral(Expr):
    """`{key: value, ...}`: `items` is ((key, Expr), ...) in written order, keys distinct."""
    items: Tuple[Tuple[str, Expr], ...]
    pos: Optional[Pos] = _pos()

    def keys(self):
        """The keys in written order.

        >>> MapLiteral((("a", Literal(1)),)).keys()
        ('a',)
        """
        return tuple(key for key, _ in self.items)


@dataclass(frozen=True)
class FunctionCall(Expr):
    """`name(args)`: `name` lower-cased and dotted when namespaced (`vector.similarity`);
    `distinct` for `f(DISTINCT x)`; `star` for `count(*)` (then `args` is empty)."""
    name: str
    args: Tuple[Expr, ...]
    distinct: bool = False
    star: bool = False
    pos: Optional[Pos] = _pos()

    @property
    def is_aggregate(self):
        """True for count, sum, avg, min, max, collect (AGGREGATES).

        >>> FunctionCall("count", (), star=True).is_aggregate
        True
        """
        return self.name in AGGREGATES


@dataclass(frozen=True)
class Unary(Expr):
    """`NOT x`, `-x`, `+x` (op in UNARY_OPS; `-` on a number literal is folded into it)."""
    op: str
    operand: Expr
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Binary(Expr):
    """`left op right`, op in BINARY_OPS: boolean (OR XOR AND), comparison (= <> < <= > >=),
    string (STARTS WITH, ENDS WITH, CONTAINS), list (IN), arithmetic (+ - * / % ^)."""
    op: str
    left: Expr
    right: Expr
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class IsNull(Expr):
    """`operand IS NULL`, or `operand IS NOT NULL` when `negated`."""
    operand: Expr
    negated: bool = False
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Case(Expr):
    """`CASE [subject] WHEN w THEN t ... [ELSE default] END`: `whens` is ((w, t), ...). With a
    subject, the first w equal to it wins; without, the first true w; no match gives default
    (None means null)."""
    subject: Optional[Expr]
    whens: Tuple[Tuple[Expr, Expr], ...]
    default: Optional[Expr] = None
    pos: Optional[Pos] = _pos()


# ---------------------------------------------------------------- patterns

@dataclass(frozen=True)
class NodePattern(Node):
    """`(variable:Label:Other {k: v})`; every part optional. `properties` is a MapLiteral, a
    Parameter (a map given at run time) or None; a node matches when it has all labels and
    each property equals its value."""
    variable: Optional[str] = None
    labels: Tuple[str, ...] = ()
    properties: Optional[Expr] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Hops(Node):
    """A variable-length relationship's bounds: `min` hops (0 or more, 1 when not written) to
    `max` (None: unbounded), both inclusive."""
    min: int = 1
    max: Optional[int] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class RelPattern(Node):
    """`-[variable:TYPE|OTHER *1..3 {k: v}]->`. `types`: any of them (() means any type);
    `direction`: OUT, IN or BOTH, read left to right; `length`: None for exactly one
    relationship, else Hops (the variable is then bound to the list of relationships)."""
    variable: Optional[str] = None
    types: Tuple[str, ...] = ()
    properties: Optional[Expr] = None
    direction: str = BOTH
    length: Optional[Hops] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class PathPattern(Node):
    """A chain `(a)-[r]->(b)<-[s]-(c)`: `elements` alternates NodePattern and RelPattern,
    starting and ending with a node (a single node is a path of length 0). `variable` names
    the path (`p = ...`); `shortest` is None, 'shortest' (shortestPath(...)) or 'all'
    (allShortestPaths(...))."""
    elements: Tuple[Node, ...]
    variable: Optional[str] = None
    shortest: Optional[str] = None
    pos: Optional[Pos] = _pos()

    @property
    def nodes(self):
        """The node patterns, in order.

        >>> PathPattern((NodePattern("a"), RelPattern(), NodePattern("b"))).nodes[1].variable
        'b'
        """
        return self.elements[0::2]

    @property
    def relationships(self):
        """The relationship patterns, in order (nodes[i] -relationships[i]- nodes[i + 1])."""
        return self.elements[1::2]

    def variables(self):
        """The variables this pattern binds, in written order (path, nodes, relationships).

        >>> PathPattern((NodePattern("a"), RelPattern("r"), NodePattern()), "p").variables()
        ('p', 'a', 'r')
        """
        names = [self.variable] + [e.variable for e in self.elements]
        return tuple(dict.fromkeys(name for name in names if name is not None))


# ---------------------------------------------------------------- clauses

@dataclass(frozen=True)
class VectorSearch(Node):
    """`SEARCH variable IN (VECTOR [INDEX index] FOR vector [WHERE where] LIMIT limit)
    [SCORE AS score]`, a subclause of MATCH / OPTIONAL MATCH.

    Meaning (agentdb): of the nodes the MATCH's pattern binds to `variable` and for which
    `where` (if given) holds, keep the `limit` nearest to `vector` by the store's metric (the
    rows of other nodes are dropped); `score` names a variable bound to each kept node's score
    (as in Hit.score: higher is nearer). The MATCH's own WHERE applies afterwards, to the kept
    rows (it may use the score). `index` is None for the store's index. Unlike Neo4j, where
    the ANN search runs over the whole index first and the pattern then filters its top k,
    the k nearest here are the k nearest among the pattern's matches (neighbourhood-restricted
    search), so up to `limit` nodes come back whenever that many match."""
    variable: str
    vector: Expr
    limit: Expr
    where: Optional[Expr] = None
    index: Optional[str] = None
    score: Optional[str] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Match(Clause):
    """`[OPTIONAL] MATCH pattern, ... [SEARCH ...] [WHERE where]`: every pattern must match
    (joined on shared variables); OPTIONAL keeps a row with nulls when nothing matches."""
    patterns: Tuple[PathPattern, ...]
    where: Optional[Expr] = None
    optional: bool = False
    search: Optional[VectorSearch] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Unwind(Clause):
    """`UNWIND expr AS variable`: one row per element of the list."""
    expr: Expr
    variable: str
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class ReturnItem(Node):
    """One projected column: `expr [AS alias]`; `text` is the expression's source text."""
    expr: Expr
    alias: Optional[str] = None
    text: str = ""
    pos: Optional[Pos] = _pos()

    @property
    def name(self):
        """The column's name: the alias, else the expression as written.

        >>> ReturnItem(Variable("n"), None, "n").name
        'n'
        """
        return self.alias if self.alias is not None else self.text


@dataclass(frozen=True)
class SortItem(Node):
    """One ORDER BY key: `expr [ASC | DESC]`."""
    expr: Expr
    descending: bool = False
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Projection(Node):
    """The body of WITH and RETURN: `[DISTINCT] (* | items) [ORDER BY ...] [SKIP n] [LIMIT n]`.
    `star` keeps every variable in scope (before `items`); ORDER BY may use the projected
    names and, without DISTINCT or aggregation, the variables in scope before it."""
    items: Tuple[ReturnItem, ...]
    star: bool = False
    distinct: bool = False
    order_by: Tuple[SortItem, ...] = ()
    skip: Optional[Expr] = None
    limit: Optional[Expr] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class With(Clause):
    """`WITH projection [WHERE where]`: the rows and variables the next part of the query sees."""
    projection: Projection
    where: Optional[Expr] = None
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Return(Clause):
    """`RETURN projection`: the query's columns (always the last clause)."""
    projection: Projection
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Create(Clause):
    """`CREATE pattern, ...`: new nodes for unbound node variables, a relationship for every
    relationship pattern (one type, directed, one hop)."""
    patterns: Tuple[PathPattern, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class SetProperty(Node):
    """`target = value` with target a Property (`n.k = 1`; null removes the property)."""
    target: Property
    value: Expr
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class SetProperties(Node):
    """`variable = map` (replace every property) or `variable += map` (`merge`: update)."""
    variable: str
    value: Expr
    merge: bool = False
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class SetLabels(Node):
    """`variable:A:B`: add the labels."""
    variable: str
    labels: Tuple[str, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class RemoveProperty(Node):
    """`REMOVE n.k`: target is a Property."""
    target: Property
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class RemoveLabels(Node):
    """`REMOVE n:A:B`."""
    variable: str
    labels: Tuple[str, ...]
    pos: Optional[Pos] = _pos()


SetItem = _Union[SetProperty, SetProperties, SetLabels]
RemoveItem = _Union[RemoveProperty, RemoveLabels]


@dataclass(frozen=True)
class Merge(Clause):
    """`MERGE pattern [ON CREATE SET ...] [ON MATCH SET ...]`: match the whole pattern, or
    create it all; `on_create` / `on_match` are the SET items run in either case (several ON
    clauses of a kind are concatenated in order)."""
    pattern: PathPattern
    on_create: Tuple[Node, ...] = ()
    on_match: Tuple[Node, ...] = ()
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Set(Clause):
    """`SET item, ...` (SetProperty, SetProperties, SetLabels), applied in order."""
    items: Tuple[Node, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Remove(Clause):
    """`REMOVE item, ...` (RemoveProperty, RemoveLabels)."""
    items: Tuple[Node, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Delete(Clause):
    """`[DETACH] DELETE expr, ...`: nodes, relationships or paths; `detach` also deletes a
    node's relationships (without it, deleting a node that has some is an error)."""
    exprs: Tuple[Expr, ...]
    detach: bool = False
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class YieldItem(Node):
    """`field [AS alias]` of a CALL's YIELD; `.name` is the variable it binds."""
    field: str
    alias: Optional[str] = None
    pos: Optional[Pos] = _pos()

    @property
    def name(self):
        """The variable bound: the alias, else the field."""
        return self.alias if self.alias is not None else self.field


@dataclass(frozen=True)
class Call(Clause):
    """`CALL procedure(args) [YIELD field [AS alias], ... [WHERE where]]`: `procedure` dotted,
    as written (procedure names are case-sensitive); `yields` None when there is no YIELD
    (a lone CALL then returns all the procedure's fields)."""
    procedure: str
    args: Tuple[Expr, ...] = ()
    yields: Optional[Tuple[YieldItem, ...]] = None
    where: Optional[Expr] = None
    pos: Optional[Pos] = _pos()


# ---------------------------------------------------------------- statements

@dataclass(frozen=True)
class Query(Node):
    """One query: its clauses in order (see the module docstring for the order the parser
    guarantees)."""
    clauses: Tuple[Clause, ...]
    pos: Optional[Pos] = _pos()


@dataclass(frozen=True)
class Union(Node):
    """`query UNION [ALL] query ...`: the rows of all queries (same column names), with
    duplicates removed unless `all`."""
    queries: Tuple[Query, ...]
    all: bool = False
    pos: Optional[Pos] = _pos()


Statement = _Union[Query, Union]
"""What parse() returns."""


def children(node):
    """The AST nodes directly below `node`, in field order (tuples, and the pairs of MapLiteral
    and Case, are looked into).

    >>> children(Binary("+", Literal(1), Variable("x")))
    (Literal(value=1), Variable(name='x'))
    """
    out = []
    for f in fields(node):
        if f.name == "pos":
            continue
        stack = [getattr(node, f.name)]
        while stack:
            value = stack.pop()
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, tuple):
                stack.extend(reversed(value))
    return tuple(out)


def walk(node):
    """`node` and every node below it, depth first, parents before children (iterative, so
    any depth the parser accepts is fine).

    >>> [type(n).__name__ for n in walk(Unary("-", Property(Variable("a"), "k")))]
    ['Unary', 'Property', 'Variable']
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
