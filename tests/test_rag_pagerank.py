"""Personalised PageRank over the graph API against networkx.pagerank(personalization=...):
the whole graph (undirected and directed, with dangling nodes), a k-hop neighbourhood against
networkx on the same induced subgraph, and typed errors for bad seeds and options."""
import random

import networkx as nx
import pytest

import agentdb
from agentdb.errors import ArgumentError, UnknownIdError
from agentdb.rag import pagerank, personalized_pagerank


def random_graph(seed, n=30, m=70):
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(n)]
    edges = set()
    while len(edges) < m:
        a, b = rng.sample(nodes, 2)
        edges.add((a, b))
    g = agentdb.open(dim=2).graph
    g.batch_insert(nodes=nodes, edges=[(a, b, "R") for a, b in sorted(edges)])
    seeds = {nodes[i]: rng.uniform(0.1, 2.0) for i in rng.sample(range(n), 3)}
    return g, nodes, sorted(edges), seeds


def close(ours, ref, tol=1e-6):
    assert set(ours) == set(ref)
    worst = max(abs(ours[n] - ref[n]) for n in ref)
    assert worst < tol, worst


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("direction", ["both", "out"])
def test_whole_graph_matches_networkx(seed, direction):
    g, nodes, edges, seeds = random_graph(seed)
    ref_graph = nx.Graph() if direction == "both" else nx.DiGraph()
    ref_graph.add_nodes_from(nodes)
    ref_graph.add_edges_from(edges)
    for damping in (0.85, 0.5):
        ref = nx.pagerank(ref_graph, alpha=damping, personalization=seeds, tol=1e-12, max_iter=1000)
        close(personalized_pagerank(g, seeds, damping=damping, direction=direction, tol=1e-12, max_iter=1000), ref)


def test_a_neighbourhood_matches_networkx_on_the_induced_subgraph():
    g, nodes, edges, seeds = random_graph(7, n=60, m=80)
    ours = personalized_pagerank(g, seeds, hops=2, tol=1e-12, max_iter=1000)
    ref_graph = nx.Graph()
    ref_graph.add_nodes_from(nodes)
    ref_graph.add_edges_from(edges)
    near = set(seeds)
    for s in seeds:
        near |= set(nx.single_source_shortest_path_length(ref_graph, s, cutoff=2))
    assert len(near) < len(nodes)
    close(ours, nx.pagerank(ref_graph.subgraph(near), personalization=seeds, tol=1e-12, max_iter=1000))


def test_plain_adjacency_and_a_list_of_seeds():
    adjacency = {"a": ["b", "b"], "b": ["a", "c"], "c": []}        # a repeated neighbour counts once
    ref = nx.pagerank(nx.DiGraph([("a", "b"), ("b", "a"), ("b", "c")]), personalization={"a": 1, "c": 1}, tol=1e-12)
    close(pagerank(adjacency, ["a", "c"], tol=1e-12), ref)


@pytest.mark.parametrize("seeds,cls,message", [
    ({"zz": 1.0}, UnknownIdError, "seed 'zz' is not a node"),
    ({"n1": -1.0}, ArgumentError, "finite number >= 0"),
    ({"n1": 0.0}, ArgumentError, "at least one seed of positive weight"),
    ({"n1": float("nan")}, ArgumentError, "finite number"),
    ("n1", ArgumentError, "a dict"),
])
def test_bad_seeds_get_typed_errors(seeds, cls, message):
    g, *_ = random_graph(1)
    with pytest.raises(cls, match=message):
        personalized_pagerank(g, seeds)


def test_bad_options_get_typed_errors():
    g, *_ = random_graph(1)
    for kwargs, message in (({"damping": 1.0}, "damping"), ({"tol": 0}, "tol"), ({"max_iter": 0}, "max_iter"),
                            ({"hops": -1}, "hops")):
        with pytest.raises(ArgumentError, match=message):
            personalized_pagerank(g, ["n1"], **kwargs)
    with pytest.raises(ArgumentError, match="not a node"):
        pagerank({"a": ["q"]}, ["a"])
