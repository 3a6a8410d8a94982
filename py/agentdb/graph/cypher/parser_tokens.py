"""The parser's base: a cursor over the tokens, the reserved words and the error helpers that
every part of the parser (parser_clauses, parser_patterns, parser_expressions) reads the query
through. Every error is a CypherSyntaxError naming the line, the column and what was expected.
"""
from ...errors import CypherSyntaxError
from .lexer import EOF, IDENT, PUNCT, QUOTED, describe, tokenize

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


class TokenStream:
    """The position in one query's tokens, the nesting depth, and what the last clause could
    have continued with; the parser's parts are mixins over it."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.follow = []   # what could have continued the last clause (for error messages)

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

    def reserved_hint(self):
        token = self.tok
        if token.kind == IDENT and token.kw in RESERVED:
            return f" ('{token.text}' is a reserved word; write `{token.text}` to use it as a name)"
        return ""
