"""agentdb.graph.cypher: the Cypher subset of db.graph.cypher(query, params) — lexer, parser
and the typed AST the executor runs (issue 19).

    lexer.py    text -> tokens (line and column each; comments, escapes, backticks)
    parser.py   tokens -> ast (recursive descent, precedence climbing; depth and length capped),
                over parser_tokens / parser_clauses / parser_patterns / parser_expressions
    ast.py      frozen dataclasses: the contract between the parser and the executor
    scope.py    every variable bound before anything is matched
    executor.py a query run over a Graph (execute -> CypherResult): matching and projection
    view.py     the graph as the executor reads it (what it walks, read when first needed)
    plan.py     where each pattern starts and with which nodes (ids, properties, cheaper end)
    paths.py    the SEARCH subclause (Graph.search) and shortestPath (Graph.shortest_path)
    updates.py  CREATE, MERGE, SET, REMOVE, DELETE through the Graph API, in one transaction
    functions.py values, null semantics, operators, functions, aggregates, sort order

Every syntax error is an agentdb.CypherSyntaxError with `line`, `column` and `expected`:

>>> from agentdb import CypherSyntaxError
>>> from agentdb.graph.cypher import parse
>>> parse("MATCH (n:Note) SEARCH n IN (VECTOR FOR $q LIMIT 5) SCORE AS s RETURN n, s").clauses[0].search
VectorSearch(variable='n', vector=Parameter(name='q'), limit=Literal(value=5), where=None, index=None, score='s')
>>> try:
...     parse("MATCH (n:Person\\nWHERE n.age > 3 RETURN n")
... except CypherSyntaxError as e:
...     print(e.line, e.column, e)
2 1 line 2, column 1: expected ':', '{' or ')' in the node pattern, found 'WHERE'
"""
from . import ast
from .ast import walk
from .lexer import MAX_QUERY_CHARS, tokenize
from .parser import MAX_DEPTH, parse
from .executor import CypherResult, execute

__all__ = ["MAX_DEPTH", "MAX_QUERY_CHARS", "CypherResult", "ast", "execute", "parse", "tokenize", "walk"]
