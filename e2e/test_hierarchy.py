"""The hierarchical GNN forward over a store's HNSW levels in real Chromium (db.hnswLevels,
hnswNeighbours, hnswDescent, hierarchicalForward: the `hnsw` worker op over kernel.wasm) gives
the native bits."""
import numpy as np

import agentdb
from agentdb.nn.gnn import GNNLayer
from agentdb.nn.hierarchy import hierarchical_forward_store
from e2e_support import run

DIM, N = 16, 1200
OPTIONS = {"dim": DIM, "m": 6, "ef_construction": 64, "brute_force_rows": 0}


def test_hierarchical_forward_in_the_page_gives_the_native_bits(page):
    rng = np.random.default_rng(12)
    x, q = rng.standard_normal((N, DIM)).astype(np.float32), rng.standard_normal(DIM).astype(np.float32)
    native = agentdb.open(**OPTIONS)
    native.ingest(range(N), x)
    native.delete(list(range(0, N, 17)))
    levels = native.hnsw_levels()
    layers = [GNNLayer(DIM, DIM, heads=2, seed=i) for i in range(levels["max_level"] + 1)]
    got = run(page, """
        const [x, q, layers, options, gone] = args;
        const hex = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
                                      (b) => b.toString(16).padStart(2, "0")).join("");
        const db = await AgentDB.open("hierarchy", options);
        await db.ingest(x.map((_, i) => i).slice(0, x.length / options.dim), new Float32Array(x));
        await db.delete(gone);
        const levels = await db.hnswLevels();
        const walk = await db.hnswDescent(new Float32Array(q), { k: 8 });
        const out = {
            entry: levels.entry, maxLevel: levels.maxLevel,
            targets: levels.levels.map((l) => l.targets), ids: levels.levels.map((l) => l.ids),
            top: await db.hnswNeighbours(levels.entry, levels.maxLevel),
            walk: walk.map((s) => [s.level, s.node, s.ids, hex(s.vectors)]),
            forward: hex(await db.hierarchicalForward(new Float32Array(q), layers, { k: 8 })),
        };
        try { await db.hnswNeighbours(0, levels.maxLevel + 1); } catch (e) { out.error = e.name; }
        await db.close();
        return out;
    """, x.ravel().tolist(), q.tolist(), [la.to_json() for la in layers], OPTIONS, list(range(0, N, 17)))
    assert (got["entry"], got["maxLevel"]) == (levels["entry"], levels["max_level"])
    assert got["targets"] == [lv["targets"].tolist() for lv in levels["levels"]]
    assert got["ids"] == [lv["ids"] for lv in levels["levels"]]
    assert got["top"] == native.hnsw_neighbours(levels["entry"], levels["max_level"]).tolist()
    assert got["walk"] == [[s["level"], s["node"], s["ids"], s["vectors"].tobytes().hex()]
                           for s in native.hnsw_descent(q, 8)]
    assert bytes.fromhex(got["forward"]) == hierarchical_forward_store(q, native, layers, k=8).tobytes()
    assert got["error"] == "ArgumentError"
