"""The Cypher parser: tokens -> the typed AST of agentdb.graph.cypher.ast.

Recursive descent over clauses and patterns, precedence climbing for expressions (one loop
per call, so a long `a + b + c ...` or `x AND y AND ...` costs no recursion). Only nesting
recurses (parentheses, lists, maps, calls, CASE, unary operators), and it is capped at
MAX_DEPTH levels with a CypherSyntaxError, so no query can exhaust the stack. The parser looks
at most a few tokens ahead and never backtracks further than a dotted name, so its time is
linear in the number of tokens. Every error is a CypherSyntaxError naming the line, the column
and what was expected there.
"""
from ...errors import CypherSyntaxError
from . import ast as A
from .lexer import EOF, FLOAT, IDENT, INT, INT_LIMIT, PARAM, PUNCT, QUOTED, STRING, describe, tokenize

MAX_DEPTH = 64
"""The deepest nesting of expressions accepted (parentheses, lists, maps, calls, CASE, NOT, -)."""

RESERVED = frozenset("""
    ALL AND AS ASC ASCENDING BY CALL CASE CONTAINS CREATE DELETE DESC DESCENDING DETACH DISTINCT
    ELSE END ENDS FALSE IN IS LIMIT MATCH MERGE NOT NULL ON OPTIONAL OR ORDER REMOVE RETURN SET
    SKIP STARTS THEN TRUE UNION UNWIND WHEN WHERE WITH XOR YIELD""".split())
"""Words that cannot name a variable or a function unless backticked (labels, types and
property keys may be any word)."""

READING = ("MATCH", "OPTIONAL", "UNWIND", "CALL")
UPDATING = ("CREATE", "MERGE", "SET", "REMOVE", "DELETE", "DETACH")
CLAUSES = frozenset(READING + UPDATING + ("WITH", "RETURN"))

# binding power of the binary operators, loosest first; NOT sits between AND and comparisons
_OR, _XOR, _AND, _NOT, _CMP, _PRED, _ADD, _MUL, _POW = range(1, 10)
_PUNCT_OPS = {"=": _CMP, "<>": _CMP, "<": _CMP, "<=": _CMP, ">": _CMP, ">=": _CMP,
              "+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "%": _MUL, "^": _POW}
_WORD_OPS = {"OR": _OR, "XOR": _XOR, "AND": _AND, "IN": _PRED, "STARTS": _PRED, "ENDS": _PRED,
             "CONTAINS": _PRED, "IS": _PRED}
_POSTFIX = (".", "[", ":")


def parse(text):
    """Parse one Cypher statement (an optional trailing ';') into a Query or a Union.

    >>> parse("MATCH (a:Person)-[:KNOWS*1..2]->(b) WHERE a.age > $min RETURN b.name").clauses[0].patterns[0]
    PathPattern(elements=(NodePattern(variable='a', labels=('Person',), properties=None), \
RelPattern(variable=None, types=('KNOWS',), properties=None, direction='out', length=Hops(min=1, max=2)), \
NodePattern(variable='b', labels=(), properties=None)), variable=None, shortest=None)
    >>> parse("RETURN 1 +")
    Traceback (most recent call last):
    ...
    agentdb.errors.CypherSyntaxError: line 1, column 11: expected an expression, found end of input
    """
    parser = Parser(text)
    try:
        return parser.statement()
    except RecursionError:
        # MAX_DEPTH keeps the parser well inside Python's default limit; this is the backstop for
        # a caller already deep in its own stack (or a smaller limit)
        token = parser.tok
        raise CypherSyntaxError(f"expected a less deeply nested query (the stack is exhausted), found "
                                f"{describe(token)}", token.line, token.column,
                                expected="a less deeply nested query") from None


class Parser:
    """One use per query text: Parser(text).statement()."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.follow = []   # what could have continued the last clause (for error messages)

    # ------------------------------------------------------------ token helpers

    @property
    def tok(self):
        return self.tokens[self.i]

    def peek(self, k=1):
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self):
        token = self.tokens[self.i]
        if token.kind != EOF:
            self.i += 1
        return token

    def at(self, value, token=None):
        token = token or self.tokens[self.i]
        return token.kind == PUNCT and token.value == value

    def at_kw(self, *words, token=None):
        token = token or self.tokens[self.i]
        return token.kind == IDENT and token.kw in words

    def accept(self, value):
        if self.at(value):
            return self.advance()
        return None

    def accept_kw(self, word):
        if self.at_kw(word):
            return self.advance()
        return None

    def fail(self, expected, token=None):
        token = token or self.tokens[self.i]
        raise CypherSyntaxError(f"expected {expected}, found {describe(token)}", token.line, token.column,
                                expected=expected)

    def expect(self, value, context=""):
        if not self.at(value):
            self.fail(f"'{value}'{' ' + context if context else ''}")
        return self.advance()

    def expect_kw(self, word, context=""):
        if not self.at_kw(word):
            self.fail(f"{word}{' ' + context if context else ''}")
        return self.advance()

    @staticmethod
    def pos(token):
        return (token.line, token.column)

    def is_name(self, token=None):
        """A token usable as a variable or function name: unreserved or backticked."""
        token = token or self.tokens[self.i]
        return token.kind == QUOTED or (token.kind == IDENT and token.kw not in RESERVED)

    def name(self, what):
        """A variable's name (an unreserved word or a backticked name)."""
        if not self.is_name():
            self.fail(what + self.reserved_hint())
        return self.advance().value

    def schema_name(self, what):
        """A label, relationship type or property key: any word, or a backticked name."""
        if self.tok.kind not in (IDENT, QUOTED):
            self.fail(what)
        return self.advance().value

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"at most {MAX_DEPTH} levels of nesting")

    @staticmethod
    def options(parts):
        """'a', 'a or b', 'a, b or c'."""
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]

    # ------------------------------------------------------------ statements and clauses

    def statement(self):
        start = self.tok
        query, state = self.query(in_union=False)
        queries = [query]
        union_all = None
        while self.at_kw("UNION"):
            union = self.advance()
            is_all = bool(self.accept_kw("ALL"))
            if union_all is not None and is_all != union_all:
                self.fail("UNION or UNION ALL throughout (they cannot be mixed)", union)
            union_all = is_all
            query, state = self.query(in_union=True)
            queries.append(query)
        if self.accept(";"):
            if self.tok.kind != EOF:
                self.fail("end of query after ';' (one statement at a time)")
        elif self.tok.kind != EOF:
            tail = {"done": ["UNION", "end of query"], "end": ["a clause", "end of query"],
                    "open": ["a clause"]}[state]
            self.fail(self.options([part for text in self.follow for part in text.split(", ")] + tail))
        if len(queries) == 1:
            return queries[0]
        return A.Union(tuple(queries), union_all, pos=self.pos(start))

    def query(self, in_union):
        """One query up to UNION, ';' or the end; returns it and whether it is "done" (RETURN),
        may "end" there (after an updating clause, or a lone CALL) or is still "open"."""
        start = self.tok
        clauses = []
        state = "reading"            # -> "updating" after an updating clause, "done" after RETURN
        last_update = last_name = None
        while self.tok.kind == IDENT and self.tok.kw in CLAUSES:
            token = self.tok
            name = self.clause_name(token)
            if state == "done":
                self.fail("UNION or end of query after RETURN")
            if token.kw in READING and state == "updating":
                self.fail(f"WITH between {last_update} and {name} (a reading clause cannot follow an "
                          "updating one directly)")
            clause = self.clause()
            clauses.append(clause)
            last_name = name
            if isinstance(clause, A.Return):
                state = "done"
            elif isinstance(clause, A.With):
                state, last_update = "reading", None
            elif token.kw in UPDATING:
                state, last_update = "updating", name
        if not clauses:
            self.fail("a clause (MATCH, CREATE, MERGE, UNWIND, WITH, RETURN, CALL, ...)")
        query = A.Query(tuple(clauses), pos=self.pos(start))
        if state == "done":
            return query, "done"
        stops = self.tok.kind == EOF or self.at(";") or self.at_kw("UNION")
        if (in_union or self.at_kw("UNION")) and stops:
            self.fail("RETURN " + ("before UNION" if self.at_kw("UNION") else "at the end of each query of a UNION")
                      + " (every query of a UNION returns rows)")
        if state == "updating" or (len(clauses) == 1 and isinstance(clauses[0], A.Call)):
            return query, "end"
        if stops:
            if last_name == "WITH":
                self.fail("a clause after WITH (a query cannot end with WITH)")
            self.fail(f"RETURN or an updating clause after {last_name} (a query cannot end with a reading clause)")
        return query, "open"

    @staticmethod
    def clause_name(token):
        return {"OPTIONAL": "OPTIONAL MATCH", "DETACH": "DETACH DELETE"}.get(token.kw, token.kw)

    def clause(self):
        kw = self.tok.kw
        if kw in ("MATCH", "OPTIONAL"):
            return self.match()
        if kw in ("DELETE", "DETACH"):
            return self.delete()
        return getattr(self, "clause_" + kw.lower())()

    def match(self):
        start = self.tok
        optional = bool(self.accept_kw("OPTIONAL"))
        if optional:
            self.expect_kw("MATCH", "after OPTIONAL")
        else:
            self.advance()
        patterns = self.patterns()
        self.follow = ["',', a relationship pattern, SEARCH, WHERE"]
        search = self.search(patterns) if self.at_kw("SEARCH") else None
        if search:
            self.follow = ["WHERE"]
        where = self.where()
        return A.Match(tuple(patterns), where, optional, search, pos=self.pos(start))

    def where(self):
        if not self.accept_kw("WHERE"):
            return None
        expr = self.expression()
        self.follow = ["an operator"]
        return expr

    def search(self, patterns):
        start = self.advance()
        variable_token = self.tok
        variable = self.name("a variable after SEARCH")
        if not any(variable in p.variables() for p in patterns):
            self.fail("a variable of this MATCH's pattern after SEARCH", variable_token)
        self.expect_kw("IN", "after the SEARCH variable")
        self.expect("(", "after SEARCH ... IN")
        self.expect_kw("VECTOR", "after SEARCH ... IN (")
        index = None
        if self.accept_kw("INDEX"):
            index = self.schema_name("an index name after INDEX")
        if not self.at_kw("FOR"):
            self.fail("FOR and the query vector" if index is not None else "INDEX or FOR after VECTOR")
        self.advance()
        vector = self.expression()
        where = self.expression() if self.accept_kw("WHERE") else None
        if not self.at_kw("LIMIT"):
            self.fail("an operator, WHERE or LIMIT in SEARCH (...)" if where is None
                      else "an operator or LIMIT in SEARCH (...)")
        self.advance()
        limit = self.expression()
        if not self.at(")"):
            self.fail("an operator or ')' to close SEARCH (...)")
        self.advance()
        score = None
        if self.accept_kw("SCORE"):
            self.expect_kw("AS", "after SCORE")
            score = self.name("a variable after SCORE AS")
        return A.VectorSearch(variable, vector, limit, where, index, score, pos=self.pos(start))

    def clause_unwind(self):
        start = self.advance()
        expr = self.expression()
        if not self.at_kw("AS"):
            self.fail("an operator or AS after the UNWIND expression")
        self.advance()
        variable = self.name("a variable after UNWIND ... AS")
        self.follow = []
        return A.Unwind(expr, variable, pos=self.pos(start))

    def clause_with(self):
        start = self.advance()
        projection = self.projection("WITH")
        self.follow = self.follow + ["WHERE"]
        where = self.where()
        return A.With(projection, where, pos=self.pos(start))

    def clause_return(self):
        start = self.advance()
        return A.Return(self.projection("RETURN"), pos=self.pos(start))

    def projection(self, clause):
        start = self.tok
        distinct = bool(self.accept_kw("DISTINCT"))
        star = bool(self.accept("*"))
        items = []
        if star:
            self.follow = ["',', ORDER BY, SKIP, LIMIT"]
        else:
            items.append(self.return_item(clause))
        while self.accept(","):
            items.append(self.return_item(clause))
        seen = set()
        for item in items:
            if item.name in seen:
                raise CypherSyntaxError(f"expected distinct column names, found '{item.name}' twice "
                                        "(name one with AS)", *item.pos, expected="distinct column names")
            seen.add(item.name)
        order_by = ()
        if self.at_kw("ORDER"):
            self.advance()
            self.expect_kw("BY", "after ORDER")
            order = [self.sort_item()]
            while self.accept(","):
                order.append(self.sort_item())
            order_by = tuple(order)
        skip = limit = None
        if self.accept_kw("SKIP"):
            skip = self.expression()
            self.follow = ["an operator, LIMIT"]
        if self.accept_kw("LIMIT"):
            limit = self.expression()
            self.follow = ["an operator"]
        return A.Projection(tuple(items), star, distinct, order_by, skip, limit, pos=self.pos(start))

    def return_item(self, clause):
        start = self.tok
        expr = self.expression()
        end = self.tokens[self.i - 1].end
        text = self.text[start.start:end]
        alias = None
        if self.accept_kw("AS"):
            alias = self.name("a name after AS")
            self.follow = ["',', ORDER BY, SKIP, LIMIT"]
        elif clause == "WITH" and not isinstance(expr, A.Variable):
            self.fail(f"an operator or AS after the WITH expression '{text if len(text) < 40 else text[:37] + '...'}'"
                      " (WITH items other than variables need an alias)")
        else:
            self.follow = ["an operator, AS, ',', ORDER BY, SKIP, LIMIT"]
        return A.ReturnItem(expr, alias, text, pos=self.pos(start))

    def sort_item(self):
        start = self.tok
        expr = self.expression()
        descending = False
        if self.at_kw("ASC", "ASCENDING", "DESC", "DESCENDING"):
            descending = self.advance().kw.startswith("DESC")
            self.follow = ["',', SKIP, LIMIT"]
        else:
            self.follow = ["an operator, ASC, DESC, ',', SKIP, LIMIT"]
        return A.SortItem(expr, descending, pos=self.pos(start))

    def clause_create(self):
        start = self.advance()
        patterns = self.patterns()
        for pattern in patterns:
            for rel in pattern.relationships:
                self.check_write_rel(rel, "CREATE")
        self.follow = ["',', a relationship pattern"]
        return A.Create(tuple(patterns), pos=self.pos(start))

    @staticmethod
    def check_write_rel(rel, clause):
        """CREATE and MERGE make exactly one relationship of one type per pattern step."""
        if len(rel.types) != 1:
            raise CypherSyntaxError(f"expected exactly one relationship type in {clause}, found "
                                    f"{len(rel.types) or 'none'}", *rel.pos, expected="one relationship type")
        if rel.length is not None:
            raise CypherSyntaxError(f"expected a single relationship in {clause}, found a variable-length one",
                                    *rel.pos, expected="a single relationship")
        if clause == "CREATE" and rel.direction == A.BOTH:
            raise CypherSyntaxError("expected a direction ('->' or '<-') for the relationship in CREATE, found "
                                    "an undirected one", *rel.pos, expected="a direction")

    def clause_merge(self):
        start = self.advance()
        pattern = self.pattern()
        for rel in pattern.relationships:
            self.check_write_rel(rel, "MERGE")
        for element in pattern.elements:
            if isinstance(element.properties, A.Parameter):
                raise CypherSyntaxError("expected a map literal of properties in MERGE, found a parameter "
                                        "(write {key: $p.key, ...})", *element.properties.pos,
                                        expected="a map literal")
        on_create, on_match = [], []
        self.follow = ["a relationship pattern, ON CREATE, ON MATCH"]
        while self.at_kw("ON"):
            self.advance()
            if not self.at_kw("CREATE", "MATCH"):
                self.fail("CREATE or MATCH after ON")
            kind = self.advance().kw
            self.expect_kw("SET", f"after ON {kind}")
            (on_create if kind == "CREATE" else on_match).extend(self.set_items())
            self.follow = ["',', an operator, ON CREATE, ON MATCH"]
        return A.Merge(pattern, tuple(on_create), tuple(on_match), pos=self.pos(start))

    def clause_set(self):
        start = self.advance()
        items = self.set_items()
        self.follow = ["',', an operator"]
        return A.Set(tuple(items), pos=self.pos(start))

    def set_items(self):
        items = [self.set_item()]
        while self.accept(","):
            items.append(self.set_item())
        return items

    def set_item(self):
        start = self.tok
        variable = self.name("a variable to SET")
        if self.at("."):
            target = self.property_chain(A.Variable(variable, pos=self.pos(start)))
            self.expect("=", "after the property to SET")
            return A.SetProperty(target, self.expression(), pos=self.pos(start))
        if self.at("=") or self.at("+="):
            merge = self.advance().value == "+="
            return A.SetProperties(variable, self.expression(), merge, pos=self.pos(start))
        if self.at(":"):
            return A.SetLabels(variable, self.labels(), pos=self.pos(start))
        self.fail("'.', '=', '+=' or ':' after the variable to SET")

    def property_chain(self, subject):
        while self.accept("."):
            subject = A.Property(subject, self.schema_name("a property name after '.'"), pos=subject.pos)
        return subject

    def clause_remove(self):
        start = self.advance()
        items = [self.remove_item()]
        while self.accept(","):
            items.append(self.remove_item())
        self.follow = ["','"]
        return A.Remove(tuple(items), pos=self.pos(start))

    def remove_item(self):
        start = self.tok
        variable = self.name("a variable to REMOVE from")
        if self.at("."):
            return A.RemoveProperty(self.property_chain(A.Variable(variable, pos=self.pos(start))),
                                    pos=self.pos(start))
        if self.at(":"):
            return A.RemoveLabels(variable, self.labels(), pos=self.pos(start))
        self.fail("'.' or ':' after the variable to REMOVE from")

    def delete(self):
        start = self.advance()
        detach = start.kw == "DETACH"
        if detach:
            self.expect_kw("DELETE", "after DETACH")
        exprs = [self.expression()]
        while self.accept(","):
            exprs.append(self.expression())
        self.follow = ["',', an operator"]
        return A.Delete(tuple(exprs), detach, pos=self.pos(start))

    def clause_call(self):
        start = self.advance()
        parts = [self.schema_name("a procedure name after CALL")]
        while self.accept("."):
            parts.append(self.schema_name("a procedure name part after '.'"))
        self.expect("(", "and the procedure's arguments after its name")
        args = self.arguments("the procedure's arguments")
        yields = where = None
        self.follow = ["YIELD"]
        if self.accept_kw("YIELD"):
            items, names = [], set()
            while True:
                token = self.tok
                item = self.yield_item()
                if item.name in names:
                    self.fail(f"distinct names after YIELD ('{item.name}' is given twice)", token)
                names.add(item.name)
                items.append(item)
                if not self.accept(","):
                    break
            yields = tuple(items)
            self.follow = ["',', AS, WHERE"]
            where = self.where()
        return A.Call(".".join(parts), tuple(args), yields, where, pos=self.pos(start))

    def yield_item(self):
        start = self.tok
        field = self.schema_name("a field name after YIELD")
        alias = self.name("a name after AS") if self.accept_kw("AS") else None
        return A.YieldItem(field, alias, pos=self.pos(start))

    # ------------------------------------------------------------ patterns

    def patterns(self):
        patterns = [self.pattern()]
        while self.accept(","):
            patterns.append(self.pattern())
        return patterns

    def pattern(self):
        start = self.tok
        variable = None
        if self.is_name() and self.at("=", self.peek()):
            variable = self.advance().value
            self.advance()
        shortest = None
        if self.at_kw("SHORTESTPATH", "ALLSHORTESTPATHS") and self.at("(", self.peek()):
            function = self.advance().text
            shortest = "shortest" if function.upper() == "SHORTESTPATH" else "all"
            self.advance()
            elements = self.chain(function)
            if len(elements) == 1:
                self.fail(f"a relationship in {function}(...)")
            self.expect(")", f"after the {function}(...) pattern")
        else:
            elements = self.chain()
        return A.PathPattern(tuple(elements), variable, shortest, pos=self.pos(start))

    def chain(self, shortest=None):
        if not self.at("("):
            self.fail("'(' to start a pattern")
        elements = [self.node_pattern()]
        while self.at("-") or self.at("<"):
            if shortest and len(elements) == 3:
                self.fail(f"')' after one relationship in {shortest}(...)")
            elements.append(self.rel_pattern())
            if not self.at("("):
                self.fail("'(' for the node after the relationship pattern")
            elements.append(self.node_pattern())
        return elements

    def reserved_hint(self):
        token = self.tok
        if token.kind == IDENT and token.kw in RESERVED:
            return f" ('{token.text}' is a reserved word; write `{token.text}` to use it as a name)"
        return ""

    def node_pattern(self):
        start = self.advance()
        variable = self.advance().value if self.is_name() else None
        labels = self.labels() if self.at(":") else ()
        properties = self.properties()
        if not self.at(")"):
            if properties is not None:
                self.fail("')' after node pattern")
            parts = ([] if variable is not None or labels else ["a variable"]) + ["':'", "'{'", "')'"]
            self.fail(self.options(parts) + " in the node pattern"
                      + (self.reserved_hint() if variable is None and not labels else ""))
        self.advance()
        return A.NodePattern(variable, labels, properties, pos=self.pos(start))

    def labels(self):
        labels = []
        while self.accept(":"):
            labels.append(self.schema_name("a label name after ':'"))
        return tuple(labels)

    def properties(self):
        if self.at("{"):
            return self.map_literal()
        if self.tok.kind == PARAM:
            token = self.advance()
            return A.Parameter(token.value, pos=self.pos(token))
        return None

    def rel_pattern(self):
        start = self.tok
        left = bool(self.accept("<"))
        if not self.at("-"):
            self.fail("'-' after '<' in the relationship pattern")
        self.advance()
        variable, types, properties, length = None, (), None, None
        bracket = self.accept("[")
        if bracket:
            variable = self.advance().value if self.is_name() else None
            if self.accept(":"):
                names = [self.schema_name("a relationship type after ':'")]
                while self.accept("|"):
                    self.accept(":")
                    names.append(self.schema_name("a relationship type after '|'"))
                types = tuple(names)
            if self.at("*"):
                length = self.hops()
            properties = self.properties()
            if not self.at("]"):
                if properties is not None:
                    self.fail("']' to close the relationship pattern")
                parts = []
                if variable is None and not types and length is None:
                    parts.append("a variable")
                if length is None:
                    parts += ["'|'"] if types else ["':'"]
                    parts.append("'*'")
                parts += ["'{'", "']'"]
                self.fail(self.options(parts) + " in the relationship pattern"
                          + (self.reserved_hint() if parts[0] == "a variable" else ""))
            self.advance()
        if not self.at("-"):
            self.fail("'-' after ']' in the relationship pattern" if bracket
                      else "'[' or '-' after '-' in the relationship pattern")
        self.advance()
        right = bool(self.accept(">"))
        direction = A.BOTH if left == right else (A.IN if left else A.OUT)
        return A.RelPattern(variable, types, properties, direction, length, pos=self.pos(start))

    def hops(self):
        star = self.advance()
        low = high = None
        if self.tok.kind == INT:
            low = self.hop_bound()
        if self.accept(".."):
            if self.tok.kind == INT:
                high = self.hop_bound()
        elif low is not None:
            high = low
        elif self.tok.kind == FLOAT:
            self.fail("a whole number of hops")
        minimum = 1 if low is None else low
        if high is not None and high < minimum:
            self.fail(f"an upper bound of at least {minimum} hops", self.tokens[self.i - 1])
        return A.Hops(minimum, high, pos=self.pos(star))

    def hop_bound(self):
        token = self.advance()
        if token.value >= INT_LIMIT:
            self.fail("an integer within 64 bits", token)
        return token.value

    # ------------------------------------------------------------ expressions

    def expression(self):
        self.enter()
        try:
            return self.binary(_OR)
        finally:
            self.depth -= 1

    def operator(self):
        """The binary operator at the current token and its binding power, or (None, 0)."""
        token = self.tok
        if token.kind == PUNCT:
            power = _PUNCT_OPS.get(token.value)
            return (token.value, power) if power else (None, 0)
        if token.kind == IDENT:
            power = _WORD_OPS.get(token.kw)
            return (token.kw, power) if power else (None, 0)
        return None, 0

    def binary(self, min_power):
        """Precedence climbing: an operand, then every operator binding at least min_power."""
        start = self.tok
        if min_power <= _NOT and self.at_kw("NOT"):
            self.advance()
            self.enter()
            operand = self.binary(_NOT)
            self.depth -= 1
            left = A.Unary("NOT", operand, pos=self.pos(start))
        else:
            left = self.unary()
        while True:
            op, power = self.operator()
            if op is None or power < min_power:
                return left
            if power == _CMP:
                left = self.comparisons(left, start)
            elif power == _PRED:
                left = self.predicate(left, start)
            else:
                self.advance()
                right = self.binary(power + 1)
                left = A.Binary(op, left, right, pos=self.pos(start))

    def comparisons(self, left, start):
        """`a < b <= c` is `a < b AND b <= c` (openCypher's chained comparison)."""
        result = None
        while True:
            op, power = self.operator()
            if power != _CMP:
                return result
            self.advance()
            right = self.binary(_CMP + 1)
            pair = A.Binary(op, left, right, pos=left.pos or self.pos(start))
            result = pair if result is None else A.Binary("AND", result, pair, pos=self.pos(start))
            left = right

    def predicate(self, left, start):
        token = self.advance()
        if token.kw == "IS":
            negated = bool(self.accept_kw("NOT"))
            self.expect_kw("NULL", "after IS NOT" if negated else "or NOT NULL after IS")
            return A.IsNull(left, negated, pos=self.pos(start))
        op = token.kw
        if op in ("STARTS", "ENDS"):
            self.expect_kw("WITH", f"after {op}")
            op += " WITH"
        right = self.binary(_ADD)
        return A.Binary(op, left, right, pos=self.pos(start))

    def unary(self):
        token = self.tok
        if self.at("-") or self.at("+"):
            self.advance()
            number = self.tok
            if number.kind in (INT, FLOAT) and not any(self.at(p, self.peek()) for p in _POSTFIX):
                self.advance()
                value = number.value if token.value == "+" else -number.value
                if number.kind == INT and not -INT_LIMIT <= value < INT_LIMIT:
                    self.fail("an integer within 64 bits", number)
                return A.Literal(value, pos=self.pos(token))
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return A.Unary(token.value, operand, pos=self.pos(token))
        return self.postfix()

    def postfix(self):
        start = self.tok
        expr = self.atom()
        while True:
            if self.at("."):
                self.advance()
                expr = A.Property(expr, self.schema_name("a property name after '.'"), pos=self.pos(start))
            elif self.at("["):
                self.advance()
                if self.accept(".."):
                    end = None if self.at("]") else self.expression()
                    expr = A.Slice(expr, None, end, pos=self.pos(start))
                else:
                    index = self.expression()
                    if self.accept(".."):
                        end = None if self.at("]") else self.expression()
                        expr = A.Slice(expr, index, end, pos=self.pos(start))
                    else:
                        expr = A.Index(expr, index, pos=self.pos(start))
                if not self.at("]"):
                    self.fail("an operator, '..' or ']' after the index" if isinstance(expr, A.Index)
                              else "an operator or ']' after the slice")
                self.advance()
            elif self.at(":"):
                return A.HasLabels(expr, self.labels(), pos=self.pos(start))
            else:
                return expr

    def atom(self):
        token = self.tok
        kind = token.kind
        if kind == INT:
            if token.value >= INT_LIMIT:
                self.fail("an integer within 64 bits")
            self.advance()
            return A.Literal(token.value, pos=self.pos(token))
        if kind in (FLOAT, STRING):
            self.advance()
            return A.Literal(token.value, pos=self.pos(token))
        if kind == PARAM:
            self.advance()
            return A.Parameter(token.value, pos=self.pos(token))
        if kind == PUNCT:
            if token.value == "(":
                return self.parenthesized()
            if token.value == "[":
                return self.list_literal()
            if token.value == "{":
                return self.map_literal()
        if kind == IDENT:
            kw = token.kw
            if kw in ("TRUE", "FALSE", "NULL"):
                self.advance()
                return A.Literal({"TRUE": True, "FALSE": False, "NULL": None}[kw], pos=self.pos(token))
            if kw == "CASE":
                return self.case()
            if kw in RESERVED:
                self.fail(f"an expression ('{token.text}' is a reserved word; write `{token.text}` to use it "
                          "as a name)" if kw not in _WORD_OPS and kw not in CLAUSES and kw != "NOT" else "an expression")
        if kind in (IDENT, QUOTED):
            if self.function_ahead():
                return self.function_call()
            self.advance()
            return A.Variable(token.value, pos=self.pos(token))
        self.fail("an expression")

    def function_ahead(self):
        """Is the name here the start of `a.b.c(`? (a bounded look-ahead over one dotted name)."""
        j = self.i + 1
        tokens = self.tokens
        while tokens[j].kind == PUNCT and tokens[j].value == "." and tokens[j + 1].kind in (IDENT, QUOTED):
            j += 2
        return tokens[j].kind == PUNCT and tokens[j].value == "("

    def function_call(self):
        start = self.tok
        parts = [self.advance().value]
        while self.accept("."):
            parts.append(self.advance().value)
        name = ".".join(parts).lower()
        self.advance()                                  # '('
        if self.at("*"):
            if name != "count":
                self.fail(f"an argument to {name}() ('*' is only for count(*))")
            self.advance()
            self.expect(")", "after count(*")
            return A.FunctionCall(name, (), False, True, pos=self.pos(start))
        distinct = bool(self.accept_kw("DISTINCT"))
        if distinct and self.at("*"):
            self.fail("an expression after DISTINCT (count(DISTINCT *) is not Cypher)")
        args = self.arguments(f"the arguments of {name}()", require=distinct)
        return A.FunctionCall(name, tuple(args), distinct, False, pos=self.pos(start))

    def arguments(self, what, require=False):
        """Comma-separated expressions up to ')' (the '(' is consumed already)."""
        args = []
        if not self.at(")") or require:
            args.append(self.expression())
            while self.accept(","):
                args.append(self.expression())
        if not self.at(")"):
            self.fail(f"an operator, ',' or ')' in {what}")
        self.advance()
        return args

    def parenthesized(self):
        self.advance()
        after = self.tok
        expr = self.expression()
        if not self.at(")"):
            self.fail("an operator or ')' to close '('")
        self.advance()
        # (a)-[...]-(b) inside an expression: name the missing feature instead of a confusing error
        # (only the unambiguous forms: (a)--(b) also reads as a - (-b))
        if isinstance(expr, (A.Variable, A.HasLabels)) and after.kind in (IDENT, QUOTED) and (
                (self.at("-") and (self.at("[", self.peek()) or self.at(">", self.peek())
                                   or (self.at("-", self.peek()) and self.at(">", self.peek(2)))))
                or (self.at("<") and self.at("-", self.peek()) and self.at("[", self.peek(2)))):
            self.fail("an operator (patterns inside expressions are not supported; match them with "
                      "MATCH or OPTIONAL MATCH)")
        return expr

    def list_literal(self):
        start = self.advance()
        items = []
        if not self.at("]"):
            items.append(self.expression())
            while self.accept(","):
                items.append(self.expression())
        if not self.at("]"):
            if self.at("|") or self.at_kw("WHERE"):
                self.fail("',' or ']' in the list (list comprehensions are not supported)")
            self.fail("an operator, ',' or ']' in the list")
        self.advance()
        return A.ListLiteral(tuple(items), pos=self.pos(start))

    def map_literal(self):
        start = self.advance()
        items = []
        keys = set()
        if not self.at("}"):
            while True:
                key_token = self.tok
                key = self.schema_name("a property key in the map" if not items else "a property key after ','")
                if key in keys:
                    self.fail(f"distinct keys in the map ('{key}' is given twice)", key_token)
                keys.add(key)
                self.expect(":", "after the map key")
                items.append((key, self.expression()))
                if not self.accept(","):
                    break
        if not self.at("}"):
            self.fail("an operator, ',' or '}' in the map")
        self.advance()
        return A.MapLiteral(tuple(items), pos=self.pos(start))

    def case(self):
        start = self.advance()
        if self.at_kw("END", "ELSE", "THEN"):
            self.fail("WHEN after CASE")
        subject = None if self.at_kw("WHEN") else self.expression()
        whens = []
        while self.accept_kw("WHEN"):
            condition = self.expression()
            if not self.at_kw("THEN"):
                self.fail("an operator or THEN after the WHEN expression")
            self.advance()
            whens.append((condition, self.expression()))
        if not whens:
            self.fail("WHEN after CASE" if subject is None else "an operator or WHEN after the CASE expression")
        default = self.expression() if self.accept_kw("ELSE") else None
        if not self.at_kw("END"):
            self.fail("an operator, WHEN, ELSE or END in CASE" if default is None
                      else "an operator or END after ELSE")
        self.advance()
        return A.Case(subject, tuple(whens), default, pos=self.pos(start))
