"""Expressions by precedence climbing: one loop per binding level, so a long `a + b + c ...`
or `x AND y AND ...` costs no recursion; only nesting recurses (parentheses, lists, maps, calls,
CASE, unary operators), each level counted against MAX_DEPTH. A mixin of
agentdb.graph.cypher.parser.Parser.
"""
from . import ast as A
from .lexer import FLOAT, IDENT, INT, INT_LIMIT, PARAM, PUNCT, QUOTED, STRING
from .parser_tokens import CLAUSES, RESERVED, TokenStream

# binding power of the binary operators, loosest first; NOT sits between AND and comparisons
_OR, _XOR, _AND, _NOT, _CMP, _PRED, _ADD, _MUL, _POW = range(1, 10)
_PUNCT_OPS = {"=": _CMP, "<>": _CMP, "<": _CMP, "<=": _CMP, ">": _CMP, ">=": _CMP,
              "+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "%": _MUL, "^": _POW}
_WORD_OPS = {"OR": _OR, "XOR": _XOR, "AND": _AND, "IN": _PRED, "STARTS": _PRED, "ENDS": _PRED,
             "CONTAINS": _PRED, "IS": _PRED}
_POSTFIX = (".", "[", ":")


class ExpressionParser(TokenStream):
    """Precedence climbing over operators, recursive descent over atoms."""

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
