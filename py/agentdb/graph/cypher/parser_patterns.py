"""Patterns: comma-separated paths of node and relationship patterns, named paths,
shortestPath(...), labels, property maps and variable-length hops. A mixin of
agentdb.graph.cypher.parser.Parser (property maps are parsed as expressions by its sibling).
"""
from . import ast as A
from .lexer import FLOAT, INT, INT_LIMIT, PARAM
from .parser_tokens import TokenStream


class PatternParser(TokenStream):
    """Recursive descent over patterns; a chain of steps is a loop, so its length costs no recursion."""

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
