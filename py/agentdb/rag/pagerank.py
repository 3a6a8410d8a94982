"""Personalised PageRank over a store's graph, in Python over the Graph API (k_hop and
neighbors; each a kernel walk): the neighbourhood of the seeds (k_hop from each, `hops` deep;
the whole graph for hops=None), its adjacency (one neighbors() call per node, kept to the
neighbourhood), then power iteration

    x' = d * (x W + dangling(x) * p) + (1 - d) * p

with W the row-normalised adjacency (each distinct neighbour weighs 1 / out-degree), p the
normalised personalisation and dangling(x) the mass on nodes without neighbours, which goes
back to p as in networkx.pagerank (dangling=None). It stops when the L1 change is below
n * tol, as networkx does, so on the whole graph the scores match networkx.pagerank(G,
alpha=d, personalization=p) to ~tol. Nodes outside a neighbourhood are left out (their
share of a boundary node's walk is not followed), which only lowers scores far from the seeds.

>>> import agentdb
>>> g = agentdb.open(dim=2).graph
>>> _ = g.batch_insert(nodes=["a", "b", "c", "d"], edges=[("a", "b", "R"), ("b", "c", "R"), ("c", "a", "R"), ("c", "d", "R")])
>>> scores = personalized_pagerank(g, {"a": 1.0})
>>> max(scores, key=scores.get), round(sum(scores.values()), 6)
('a', 1.0)
>>> pagerank({"a": ["b"], "b": ["a"]}, {"a": 1.0}, damping=0.5)["b"]   # doctest: +ELLIPSIS
0.333333...
"""
import math
import numbers

from ..errors import ArgumentError, UnknownIdError


def _check_options(damping, tol, max_iter):
    if isinstance(damping, bool) or not isinstance(damping, numbers.Real) or not 0 <= damping < 1:
        raise ArgumentError(f"damping must be a number in [0, 1), got {damping!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0 or not math.isfinite(tol):
        raise ArgumentError(f"tol must be a positive number, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ArgumentError(f"max_iter must be a positive integer, got {max_iter!r}")


def _personalisation(seeds):
    """{node: weight} from a dict or a list of nodes (each weighing 1), normalised to sum 1."""
    if isinstance(seeds, dict):
        items = list(seeds.items())
    elif isinstance(seeds, (list, tuple, set, frozenset)):
        items = [(s, 1.0) for s in seeds]
    else:
        raise ArgumentError(f"seeds must be a dict {{node: weight}} or a list of nodes, got {type(seeds).__name__}")
    for node, w in items:
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not math.isfinite(w) or w < 0:
            raise ArgumentError(f"the weight of seed {node!r} must be a finite number >= 0, got {w!r}")
    total = math.fsum(w for _, w in items)
    if not total > 0:
        raise ArgumentError("personalised PageRank needs at least one seed of positive weight")
    return {node: w / total for node, w in items if w > 0}


def pagerank(adjacency, seeds, *, damping=0.85, tol=1e-10, max_iter=200):
    """Personalised PageRank of a plain adjacency {node: [neighbour, ...]} (every neighbour a
    key too; repeated neighbours count once) for seeds (a dict {node: weight} or a list):
    {node: score}, summing to 1. ArgumentError for bad options or a seed that is no node."""
    _check_options(damping, tol, max_iter)
    p = _personalisation(seeds)
    nodes = list(adjacency)
    index = {n: i for i, n in enumerate(nodes)}
    for node in p:
        if node not in index:
            raise ArgumentError(f"seed {node!r} is not a node of the graph")
    out = []
    for n in nodes:
        nbrs = list(dict.fromkeys(adjacency[n]))
        try:
            out.append([index[m] for m in nbrs])
        except KeyError as e:
            raise ArgumentError(f"{n!r} has the neighbour {e.args[0]!r}, which is not a node of the graph") from None
    n = len(nodes)
    pv = [0.0] * n
    for node, w in p.items():
        pv[index[node]] = w
    share = [damping / len(o) if o else 0.0 for o in out]
    dangling = [i for i, o in enumerate(out) if not o]
    x = [1.0 / n] * n
    for _ in range(max_iter):
        spill = damping * math.fsum(x[i] for i in dangling)
        nxt = [spill * pv[i] + (1.0 - damping) * pv[i] for i in range(n)]
        for i, targets in enumerate(out):
            if targets:
                give = x[i] * share[i]
                for j in targets:
                    nxt[j] += give
        err = math.fsum(abs(a - b) for a, b in zip(nxt, x))
        x = nxt
        if err < n * tol:
            break
    return {node: x[i] for i, node in enumerate(nodes)}


def neighbourhood(graph, seeds, hops, *, direction="both", types=None):
    """The seeds and every node within `hops` hops of one (all nodes for hops=None), seeds first."""
    if hops is None:
        return [node.id for node in graph.nodes()]
    if isinstance(hops, bool) or not isinstance(hops, int) or hops < 0:
        raise ArgumentError(f"hops must be a non-negative integer or None, got {hops!r}")
    found = dict.fromkeys(seeds)
    for seed in seeds:
        if hops:
            found.update(dict.fromkeys(graph.k_hop(seed, hops, types=types, direction=direction)))
    return list(found)


def adjacency_of(graph, nodes, *, direction="both", types=None):
    """{node: [neighbour, ...]} over `nodes` (neighbours outside them left out)."""
    keep = set(nodes)
    return {n: [m for m in graph.neighbors(n, types=types, direction=direction) if m in keep] for n in nodes}


def personalized_pagerank(graph, seeds, *, damping=0.85, hops=None, direction="both", types=None, tol=1e-10,
                          max_iter=200):
    """Personalised PageRank of an agentdb graph (a Graph or mem.graph) for seeds (a dict
    {node id: weight} or a list of node ids) over the nodes within `hops` of a seed (None: the
    whole graph), following edges of `types` (None: all) in `direction` ("both": as
    undirected, "out", "in"). Returns {node id: score}. UnknownIdError for a seed not in it."""
    p = _personalisation(seeds)
    for node in p:
        if not graph.has_node(node):
            raise UnknownIdError(f"seed {node!r} is not a node of the graph")
    nodes = neighbourhood(graph, list(p), hops, direction=direction, types=types)
    return pagerank(adjacency_of(graph, nodes, direction=direction, types=types), p, damping=damping, tol=tol,
                    max_iter=max_iter)
