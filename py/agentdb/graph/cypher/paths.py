"""The executor's pattern parts that call the graph's own algorithms: the vector SEARCH
subclause (Graph.search, restricted to the pattern's nodes) and shortestPath (Graph.shortest_path).

SEARCH: for each input row, the nodes the MATCH's patterns bind to the variable (and that the
inner WHERE accepts) are the `within` set of one Graph.search(vector, k); the rows whose node
is among the k hits are kept, nearest first (a node's rows in match order), with SCORE AS
bound to the hit's score. Nodes without an embedding are never found. `VECTOR INDEX name` is
refused: a store has one index.

shortestPath((a)-[r:T*..5]->(b)): for each pair of a and b the patterns allow, one path with
the fewest hops (Graph.shortest_path with the pattern's types and direction), kept when its
length is within the bounds; `r` is bound to its list of relationships (one relationship for
a one-hop pattern), the path variable to a CypherPath. allShortestPaths and property maps on
the relationship are CypherErrors.

>>> import agentdb
>>> from agentdb.graph.cypher import execute
>>> g = agentdb.open(dim=2).graph
>>> _ = g.batch_insert(nodes=[{"id": "a", "labels": "Doc", "embedding": [1, 0]}, {"id": "b", "labels": "Doc",
...     "embedding": [0, 1]}, "c"], edges=[("a", "b", "R"), ("b", "c", "R")])
>>> execute(g, "MATCH (n:Doc) SEARCH n IN (VECTOR FOR $q LIMIT 1) SCORE AS s RETURN n.id, id(n)", {"q": [0, 1]}).rows
[(None, 'b')]
>>> execute(g, "MATCH p = shortestPath((x)-[*..5]->(y)) WHERE id(x) = 'a' AND id(y) = 'c' RETURN length(p)").rows
[(2,)]
"""
from ...errors import AgentDBError, CypherError
from ..model import Node
from .functions import CypherPath, evaluate, hash_key, kind, truth


def vector_search(run, search, row, envs):
    """The envs (extensions of `row`) kept by a SEARCH subclause, nearest first."""
    ctx = run.ctx
    if search.index is not None:
        raise CypherError(f"SEARCH ... VECTOR INDEX {search.index}: a store has one index, leave the name out")
    keep, ids = [], {}
    for env in envs:
        node = env.get(search.variable)
        if node is None:
            continue
        if not isinstance(node, Node):
            raise CypherError(f"SEARCH {search.variable} needs a node, got {kind(node)}")
        if search.where is not None and truth(evaluate(search.where, env, ctx), search.where) is not True:
            continue
        keep.append(env)
        ids.setdefault(hash_key(node.id), node.id)
        run.check_rows(keep, "SEARCH")
    k = run.count(search.limit, "SEARCH ... LIMIT")
    if not keep or not k:
        return []
    vector = evaluate(search.vector, row, ctx)
    if vector is None:
        return []
    try:
        hits = run.graph.search(vector, k, within=list(ids.values()))
    except AgentDBError as exc:
        raise CypherError(f"SEARCH ... FOR: {type(exc).__name__}: {exc}") from exc
    rank = {hash_key(h.id): (i, h.score) for i, h in enumerate(hits)}
    found = [(rank[hash_key(env[search.variable].id)], n, env) for n, env in enumerate(keep)
             if hash_key(env[search.variable].id) in rank]
    found.sort(key=lambda t: (t[0][0], t[1]))
    if search.score is None:
        return [env for _, _, env in found]
    return [{**env, search.score: score} for (_, score), _, env in found]


def shortest(run, pattern, env):
    """The extensions of env by one shortest path per pair of end nodes."""
    if pattern.shortest != "shortest":
        raise CypherError(f"{pattern.shortest}ShortestPaths() is not supported; use shortestPath()")
    if len(pattern.elements) != 3:
        raise CypherError("shortestPath() takes one relationship pattern: shortestPath((a)-[*..5]->(b))")
    a_pat, rel, b_pat = pattern.elements
    if rel.properties is not None:
        raise CypherError("shortestPath() does not support property maps on its relationship")
    if rel.variable is not None and rel.variable in env:
        raise CypherError(f"shortestPath(): relationship variable '{rel.variable}' is already bound")
    lo, hi = (1, 1) if rel.length is None else (rel.length.min, rel.length.max)
    if lo > 1:
        raise CypherError(f"shortestPath() needs a minimum length of 0 or 1, got {lo}")
    view = run.view
    types = list(rel.types) or None
    for a, env1 in list(run.start_nodes(a_pat, env)):
        for b, env2 in list(run.start_nodes(b_pat, env1)):
            if a.id == b.id:
                if lo > 0:
                    continue
                nodes, edges = [a], []
            else:
                found = run.graph.shortest_path(a.id, b.id, types=types, direction=rel.direction)
                run.step(1 + (len(found.edges) if found is not None else 0))
                if found is None or hi is not None and len(found.edges) > hi:
                    continue
                nodes = [view.node(i) for i in found.nodes]
                edges = [view.edge(i) for i in found.edges]
            out = dict(env2)
            if rel.variable is not None:
                out[rel.variable] = edges if rel.length is not None else edges[0]
            if pattern.variable is not None:
                out[pattern.variable] = CypherPath(tuple(nodes), tuple(edges))
            yield out
