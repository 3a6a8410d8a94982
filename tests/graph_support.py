"""Shared by the graph tests: a plain-dict reference model of a graph, generated graphs, and
one scenario run natively and in Pyodide (tests/pyodide/run.mjs runs this file as a script:
it prints the scenario's JSON)."""
import array
import hashlib
import json
import random

import agentdb
from agentdb.graph.model import Graph
from agentdb.kernel import load


class RefGraph:
    """The reference: dicts of nodes, edges and hyperedges, walks by plain BFS."""

    def __init__(self):
        self.nodes = {}       # id -> {"labels": set, "props": dict}
        self.edges = {}       # id -> {"src", "dst", "type", "props", "weight", "from", "to"}
        self.hyper = {}       # id -> {"nodes": tuple, "type", "props"}

    def incident(self, n):
        return [e for e, d in self.edges.items() if n in (d["src"], d["dst"])], \
            [h for h, d in self.hyper.items() if n in d["nodes"]]

    def step(self, n, direction, types, t=None):
        out = []
        for e, d in self.edges.items():
            if types is not None and d["type"] not in types:
                continue
            if t is not None and not (d["from"] <= t < d["to"]):
                continue
            if direction in ("out", "both") and d["src"] == n:
                out.append(d["dst"])
            if direction in ("in", "both") and d["dst"] == n:
                out.append(d["src"])
        return out

    def k_hop(self, start, k, direction="out", types=None, t=None):
        seen, frontier = {start}, [start]
        found = set()
        for _ in range(k):
            nxt = []
            for n in frontier:
                for m in self.step(n, direction, types, t):
                    if m not in seen:
                        seen.add(m)
                        found.add(m)
                        nxt.append(m)
            frontier = nxt
        return found

    def hops(self, a, b, direction="out", types=None):
        """Length of a shortest path a -> b in hops, None when unreachable."""
        if a == b:
            return 0
        dist, frontier = {a: 0}, [a]
        while frontier:
            nxt = []
            for n in frontier:
                for m in self.step(n, direction, types):
                    if m not in dist:
                        dist[m] = dist[n] + 1
                        if m == b:
                            return dist[m]
                        nxt.append(m)
            frontier = nxt
        return None


def random_graph(seed, n_nodes, n_edges, types=("A", "B")):
    """(node ids, edge tuples (src, dst, type, weight)) drawn from `seed`."""
    r = random.Random(seed)
    nodes = [f"n{i}" for i in range(n_nodes)]
    edges = [(r.choice(nodes), r.choice(nodes), r.choice(types), round(r.uniform(0.1, 5.0), 3))
             for _ in range(n_edges)]
    return nodes, edges



CYPHER = [
    "MATCH (a:Even)-[r:A]->(b) WHERE a.i < 40 RETURN id(a), id(b), type(r), b.i ORDER BY id(a), id(b)",
    "MATCH (a {i: 3})-[:A|B*1..2]->(b) RETURN count(DISTINCT b) AS n, collect(DISTINCT b.i)[0] IS NOT NULL",
    "MATCH (a)-[:B]->(b) WHERE id(b) IN $ids RETURN id(a), id(b)",
    "MATCH (n:Odd) WITH n.i % 5 AS g, count(*) AS c RETURN g, c ORDER BY g",
    "MATCH (n:Even) SEARCH n IN (VECTOR FOR $q LIMIT 3) SCORE AS s RETURN id(n), s",
    "MATCH p = shortestPath((a)-[*..6]->(b)) WHERE id(a) = 'n0' AND id(b) = 'n12' RETURN length(p)",
]
"""Read queries the scenario runs in each home (rows compared whole, in the order returned)."""


def scenario(kernel):
    """A graph with embeddings, walked, searched, saved and reopened: plain values (scores as the
    hex of their float32 bits, the .rvf as its SHA-256), the same in every home."""
    nodes, edges = random_graph(11, 300, 1500)
    r = random.Random(5)
    vectors = [[r.gauss(0, 1) for _ in range(8)] for _ in range(60)]
    db = agentdb.open(dim=8, kernel=kernel)
    g = Graph(db)
    g.batch_insert(nodes=[{"id": n, "labels": ["Even" if i % 2 else "Odd"], "properties": {"i": i},
                           **({"embedding": vectors[i]} if i < 60 else {})} for i, n in enumerate(nodes)],
                   edges=[{"src": s, "dst": d, "type": t, "weight": w, **({"valid_to": 50} if i % 7 == 0 else {})}
                          for i, (s, d, t, w) in enumerate(edges)])
    g.add_hyperedge(nodes[:4], "GROUP", embedding=vectors[0])
    g.delete_node(nodes[-1], detach=True)

    def answers(graph):
        def hexes(hits):
            return [(h.id, array.array("f", [h.score]).tobytes().hex()) for h in hits]
        return {
            "k_hop": [graph.k_hop(n, 2, direction=d) for n in nodes[:30:3] for d in ("out", "in", "both")],
            "typed": [graph.k_hop(n, 3, types="A", as_of=60) for n in nodes[:10]],
            "paths": [[p.nodes, p.weight] if p else None for p in
                      (graph.shortest_path(nodes[0], nodes[k], weighted=w) for k in range(10, 20) for w in (0, 1))],
            "search": hexes(graph.search(vectors[3], k=5)),
            "search_label": hexes(graph.search(vectors[3], k=5, label="Even", within=graph.k_hop(nodes[3], 2))),
            "search_where": hexes(graph.search(vectors[3], k=3, where={"i": {"lt": 20}})),
            "hyper": hexes(graph.search_hyperedges(vectors[0], k=1)),
            "stats": {k: v for k, v in graph.stats().items() if k != "kernel_bytes"},
            "cypher": [graph.cypher(q, {"q": vectors[3], "ids": nodes[5:9]}).rows for q in CYPHER],
        }
    out = answers(g)
    db.identity.file_id = bytes(16)        # the only random part of the bytes
    data = db.to_bytes()
    out["rvf"] = hashlib.sha256(data).hexdigest()
    out["reopened"] = answers(Graph(agentdb.open_bytes(data, kernel=kernel))) == {k: v for k, v in out.items()
                                                                                if k != "rvf"}
    return out


if __name__ == "__main__":
    print(json.dumps(scenario(load())))
