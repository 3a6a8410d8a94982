"""The hierarchical GNN forward over a store's HNSW levels, run natively (imported by
tests/test_nn_hierarchy.py) and inside Pyodide (tests/pyodide/run.mjs): the graph's levels, the
rows each level contributes and the refined queries. Pure Python, no numpy, data from
random.Random, so both homes start from the same bits. Prints JSON when run as a script."""
import array
import json
import random

import agentdb
from agentdb.kernel import load
from agentdb.nn.gnn import GNNLayer
from agentdb.nn.hierarchy import hierarchical_forward_store

DIM, N = 16, 1500


def run(kernel):
    rng = random.Random(7)
    x = array.array("f", (rng.gauss(0, 1) for _ in range(N * DIM)))
    db = agentdb.open(dim=DIM, m=6, ef_construction=64, brute_force_rows=0, kernel=kernel)
    db.ingest([f"r{i}" for i in range(N)], x)
    db.delete([f"r{i}" for i in range(0, N, 13)])
    g = db.hnsw_levels()
    # every list whole (a few thousand numbers), so a difference shows where it is
    out = {"entry": g["entry"], "levels": [[lv["nodes"].tolist(), lv["offsets"].tolist(), lv["targets"].tolist()]
                                           for lv in g["levels"]]}
    layers = [GNNLayer(DIM, DIM, heads=2, seed=i, kernel=kernel) for i in range(len(g["levels"]))]
    for t in range(3):
        q = array.array("f", (rng.gauss(0, 1) for _ in range(DIM)))
        out[f"descent{t}"] = [[s["level"], s["node"], s["ids"], s["vectors"].tobytes().hex()]
                              for s in db.hnsw_descent(q, 8)]
        out[f"forward{t}"] = hierarchical_forward_store(q, db, layers, k=8).tobytes().hex()
    return out


if __name__ == "__main__":
    print(json.dumps(run(load())))
