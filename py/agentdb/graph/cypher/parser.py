"""The Cypher parser: tokens -> the typed AST of agentdb.graph.cypher.ast.

Recursive descent over clauses and patterns, precedence climbing for expressions (one loop
per call, so a long `a + b + c ...` or `x AND y AND ...` costs no recursion). Only nesting
recurses (parentheses, lists, maps, calls, CASE, unary operators), and it is capped at
MAX_DEPTH levels with a CypherSyntaxError, so no query can exhaust the stack. The parser looks
at most a few tokens ahead and never backtracks further than a dotted name, so its time is
linear in the number of tokens. Every error is a CypherSyntaxError naming the line, the column
and what was expected there.

The grammar is split by part, each a mixin of Parser over one token cursor:
    parser_tokens.py       the cursor, reserved words, nesting cap and error helpers
    parser_clauses.py      statements (UNION) and clauses, with the clause-order rules
    parser_patterns.py     node and relationship patterns, paths, hops
    parser_expressions.py  operators by precedence climbing, atoms, literals, calls, CASE
"""
from ...errors import CypherSyntaxError
from .lexer import describe
from .parser_clauses import ClauseParser
from .parser_expressions import ExpressionParser
from .parser_patterns import PatternParser
from .parser_tokens import MAX_DEPTH, RESERVED

__all__ = ["MAX_DEPTH", "RESERVED", "Parser", "parse"]   # the limit and the words are imported from here


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


class Parser(ClauseParser, PatternParser, ExpressionParser):
    """One use per query text: Parser(text).statement(). Each part of the grammar is a mixin
    over one TokenStream (one cursor and depth), so the parts call each other through self."""
