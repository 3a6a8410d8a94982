"""agentdb.nn.hierarchy and the store's HNSW level API (VectorStore.hnsw_levels,
hnsw_neighbours, hnsw_descent): the levels against an independent check of their structure and
against a search replayed over them, the forward against gnn.hierarchical_forward composed by
hand over the rows read through the level API, the same bits after a reopen, across backends
and ISA levels, and the typed errors."""
import array
import doctest
import heapq

import numpy as np
import pytest

import agentdb
from agentdb.errors import ArgumentError, DimensionError, NonFiniteError, OptionError
from agentdb.nn import gnn, hierarchy
from agentdb.nn.gnn import GNNLayer
from agentdb.nn.hierarchy import hierarchical_forward_store, level_rows
from support import bits, f32

DIM, ROWS, M = 8, 3000, 6       # m = 6: about log_6(3000) ~ 4.5 levels above 0


def make_store(kernel, metric="cosine", rows=ROWS, seed=3, **options):
    rng = np.random.default_rng(seed)
    x = f32(rng.standard_normal((rows, DIM)))
    db = agentdb.open(dim=DIM, metric=metric, m=M, ef_construction=64, brute_force_rows=0, kernel=kernel, **options)
    db.ingest(list(range(rows)), x)
    return db, x


def layers_for(db, kernel, seed=10):
    n = db.hnsw_levels()["max_level"] + 1
    return [GNNLayer(DIM, DIM, heads=2 if i % 2 else 1, seed=seed + i, kernel=kernel) for i in range(n)]


def queries(count=6, seed=5):
    return [f32(q) for q in np.random.default_rng(seed).standard_normal((count, DIM))]


def prepared(db, q):
    q = np.asarray(q, np.float32)
    return q / np.float32(np.sqrt(np.dot(q.astype(np.float64), q))) if db.metric == "cosine" else q


class Replay:
    """HNSW search replayed in Python over the exported lists (hnswlib's algorithm, the kernel's
    tie rule), with the distances of one full kernel scan."""

    def __init__(self, db, q):
        g = db.hnsw_levels()
        self.entry, self.top = g["entry"], g["max_level"]
        self.lists = [{int(n): lv["targets"][lv["offsets"][p]:lv["offsets"][p + 1]].tolist()
                       for p, n in enumerate(lv["nodes"])} for lv in g["levels"]]
        rows = array.array("f", np.concatenate([db.get(i).vector for i in range(ROWS)]))
        scan = "l2" if db.metric == "l2" else "dot"
        s = db.kernel.scan(prepared(db, q), rows, dim=DIM, metric=scan)
        self.d = [float(v) if scan == "l2" else -float(v) for v in s]

    def greedy(self):
        ep, path = self.entry, []
        for level in range(self.top, 0, -1):
            changed = True
            while changed:
                changed = False
                for nb in self.lists[level][ep]:
                    if (self.d[nb], nb) < (self.d[ep], ep):
                        ep, changed = nb, True
            path.append((level, ep))
        return path

    def search(self, k, ef):
        ep = self.greedy()[-1][1] if self.top else self.entry
        ef = max(ef, k)
        visited, cand, res = {ep}, [(self.d[ep], ep)], [(-self.d[ep], -ep)]
        while cand:
            dc, c = cand[0]
            if len(res) == ef and (dc, c) > (-res[0][0], -res[0][1]):
                break
            heapq.heappop(cand)
            for nb in self.lists[0][c]:
                if nb in visited:
                    continue
                visited.add(nb)
                if len(res) < ef or (self.d[nb], nb) < (-res[0][0], -res[0][1]):
                    heapq.heappush(cand, (self.d[nb], nb))
                    heapq.heappush(res, (-self.d[nb], -nb))
                    if len(res) > ef:
                        heapq.heappop(res)
        return [n for _, n in sorted((-d, -n) for d, n in res)][:k]


@pytest.fixture(scope="module")
def store():
    db, x = make_store(agentdb.kernel.load("native"))
    yield db
    db.close()


def test_levels_pass_an_independent_structural_check(store):
    g = store.hnsw_levels()
    levels = g["levels"]
    assert g["max_level"] == store.status()["index"]["max_level"] == len(levels) - 1 >= 3
    assert levels[0]["nodes"].tolist() == list(range(ROWS)) and levels[0]["ids"] == list(range(ROWS))
    assert g["entry"] in levels[-1]["nodes"]
    for level, lv in enumerate(levels):
        nodes, offsets, targets = lv["nodes"].tolist(), lv["offsets"].tolist(), lv["targets"].tolist()
        assert lv["level"] == level and nodes == sorted(set(nodes)) and lv["ids"] == nodes
        assert offsets[0] == 0 and offsets[-1] == len(targets) and len(offsets) == len(nodes) + 1
        cap = 2 * M if level == 0 else M
        on = set(nodes)
        for p, node in enumerate(nodes):
            hood = targets[offsets[p]:offsets[p + 1]]
            assert len(hood) <= cap and len(set(hood)) == len(hood) and node not in hood
            assert hood or len(nodes) == 1                # only a node alone on its level has none
            assert set(hood) <= on                          # a level links only nodes on it
            assert store.hnsw_neighbours(node, level).tolist() == hood
        if level + 1 < len(levels):
            assert set(levels[level + 1]["nodes"].tolist()) < on    # level l + 1 within level l
    # the level counts follow the seeded geometric draw: about a 1/m share per level
    sizes = [len(lv["nodes"]) for lv in levels]
    assert all(abs(b / a - 1 / M) < 0.1 for a, b in zip(sizes, sizes[1:]) if a >= 100)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_search_walks_these_lists(metric):
    """The graph search's answers are a search replayed over the exported lists, bit for bit;
    hnsw_descent's stop nodes are the replay's greedy descent."""
    db, _ = make_store(agentdb.kernel.load("native"), metric=metric, rows=ROWS)
    for q in queries():
        replay = Replay(db, q)
        for k, ef in ((10, 10), (5, 40)):
            assert db.query(q, k=k, ef=ef).ids == replay.search(k, ef)
        walk = db.hnsw_descent(q, k=7, ef=30)
        assert [(s["level"], s["node"]) for s in walk[:-1]] == replay.greedy()
        assert walk[-1]["ids"] == db.query(q, k=7, ef=30).ids == replay.search(7, 30)


def by_hand(db, q, layers, k, ef, stored=None):
    """gnn.hierarchical_forward over the rows the public level API lists: the greedy descent's
    stop node and its neighbours on each upper level, the graph's k nearest on level 0.
    stored: every node's row as stored (by default db.get of its id; deleted rows need it)."""
    g = db.hnsw_levels()
    stored = stored or [db.get(i).vector for i in g["levels"][0]["ids"]]
    ep, embeddings = g["entry"], []
    qp, scan = prepared(db, q), ("l2" if db.metric == "l2" else "dot")

    def d(node):
        s = db.kernel.scan(qp, stored[node], dim=DIM, metric=scan)[0]
        return s if scan == "l2" else -s

    for level in range(g["max_level"], 0, -1):
        changed = True
        while changed:
            changed = False
            for nb in db.hnsw_neighbours(ep, level).tolist():
                if (d(nb), nb) < (d(ep), ep):
                    ep, changed = nb, True
        hood = [ep] + db.hnsw_neighbours(ep, level).tolist()
        ids = [g["levels"][0]["ids"][n] for n in hood]
        embeddings.append([stored[n] for n, i in zip(hood, ids) if i is not None])
    embeddings.append([db.get(i).vector for i in db.query(q, k=k, ef=ef).ids])
    return gnn.hierarchical_forward(q, embeddings, layers)


def test_forward_is_gnn_hierarchical_forward_over_the_listed_rows(store):
    layers = layers_for(store, store.kernel)
    for q in queries(4):
        got = hierarchical_forward_store(q, store, layers, k=8, ef=32)
        assert bits(got).tolist() == bits(by_hand(store, q, layers, 8, 32)).tolist()
        rows = level_rows(q, store, k=8, ef=32)
        assert [lvl for lvl, _, _ in rows] == list(range(len(layers) - 1, -1, -1))
        for _, ids, vectors in rows:
            assert len(vectors) == DIM * len(ids)
            assert np.array_equal(f32(vectors).reshape(-1, DIM), np.stack([store.get(i).vector for i in ids]))
    # JSON layers give the same bits
    q = queries(1)[0]
    assert bits(hierarchical_forward_store(q, store, [la.to_json() for la in layers])).tolist() == \
        bits(hierarchical_forward_store(q, store, layers)).tolist()


def test_deleted_rows_are_walked_through_but_never_contribute():
    db, _ = make_store(agentdb.kernel.load("native"), rows=1500)
    q = queries(1)[0]
    before = db.hnsw_descent(q, k=10)
    stored = [db.get(i).vector for i in range(1500)]
    gone = sorted({i for step in before for i in step["ids"][:2]})
    db.delete(gone)
    after = db.hnsw_descent(q, k=10)
    assert [(s["level"], s["node"]) for s in after[:-1]] == [(s["level"], s["node"]) for s in before[:-1]]
    for step in after:
        assert None not in step["ids"] and not set(step["ids"]) & set(gone)
    assert after[-1]["ids"] == db.query(q, k=10).ids
    g = db.hnsw_levels()
    assert [g["levels"][0]["ids"][r] for r in gone] == [None] * len(gone)     # still nodes, no ids
    layers = layers_for(db, db.kernel)
    want = by_hand(db, q, layers, 10, None, stored)
    assert bits(hierarchical_forward_store(q, db, layers)).tolist() == bits(want).tolist()


def test_a_reopened_store_gives_the_same_bits(tmp_path):
    kernel = agentdb.kernel.load("native")
    path = tmp_path / "h.rvf"
    db, x = make_store(kernel, path=str(path))
    layers = layers_for(db, kernel)
    qs = queries(3)
    want = [bits(hierarchical_forward_store(q, db, layers)).tolist() for q in qs]
    levels, data = db.hnsw_levels(), db.to_bytes()
    db.close()
    for again in (agentdb.open(str(path), kernel=kernel), agentdb.open_bytes(data, kernel=kernel)):
        assert again.hnsw_levels() == levels
        assert [bits(hierarchical_forward_store(q, again, layers)).tolist() for q in qs] == want
        again.close()


def outputs(kernel, rows=ROWS):
    db, _ = make_store(kernel, rows=rows)
    layers = layers_for(db, kernel)
    g = db.hnsw_levels()
    return ([(lv["nodes"].tolist(), lv["offsets"].tolist(), lv["targets"].tolist()) for lv in g["levels"]],
            [bits(hierarchical_forward_store(q, db, layers, k=12)).tolist() for q in queries(3)])


def test_backends_are_bit_identical(native, wasmhost):
    assert outputs(native) == outputs(wasmhost)


def test_isa_levels_are_bit_identical(level_kernel, native):
    assert outputs(level_kernel, rows=800) == outputs(native, rows=800)


def test_the_worker_op_answers_the_native_bits():
    """The browser's db.hnswLevels / hnswDescent / hierarchicalForward: the `hnsw` worker op."""
    import json

    from agentdb import worker_api

    def call(method, buffer=None, **args):
        return json.loads(worker_api.handle("hnsw", json.dumps({"name": "h", "method": method, "args": args}),
                                            buffer))["value"]

    db, x = make_store(agentdb.kernel.load(), rows=600)
    worker_api.handle("open", json.dumps({"name": "h", "options": {"dim": DIM, "m": M, "ef_construction": 64,
                                                                     "brute_force_rows": 0}}))
    worker_api.handle("ingest", json.dumps({"name": "h", "ids": list(range(600))}), memoryview(x).cast("B").cast("f"))
    try:
        levels = db.hnsw_levels()
        got = call("levels")
        assert got["entry"] == levels["entry"] and [lv["targets"] for lv in got["levels"]] == \
            [lv["targets"].tolist() for lv in levels["levels"]]
        assert call("neighbours", node=levels["entry"], level=1) == db.hnsw_neighbours(levels["entry"], 1).tolist()
        q = queries(1)[0]
        walk = call("descent", memoryview(q).cast("B").cast("f"), k=5)
        assert [s["ids"] for s in walk] == [s["ids"] for s in db.hnsw_descent(q, k=5)]
        layers = layers_for(db, db.kernel)
        out = call("hierarchical_forward", memoryview(q).cast("B").cast("f"), layers=[la.to_json() for la in layers],
                   k=5)
        assert bytes.fromhex(out["f32"]) == hierarchical_forward_store(q, db, layers, k=5).tobytes()
        with pytest.raises(ArgumentError, match="unknown hnsw method"):
            call("drop")
    finally:
        worker_api.handle("close", json.dumps({"name": "h"}))


def test_typed_errors(store):
    layers = layers_for(store, store.kernel)
    q = queries(1)[0]
    flat = agentdb.open(dim=DIM, index="flat")
    flat.ingest([1, 2], f32(np.eye(2, DIM)))
    for call in (flat.hnsw_levels, lambda: flat.hnsw_neighbours(0), lambda: flat.hnsw_descent(q),
                 lambda: hierarchical_forward_store(q, flat, layers)):
        with pytest.raises(ArgumentError, match="no HNSW graph"):
            call()
    empty = agentdb.open(dim=DIM)
    with pytest.raises(ArgumentError, match="empty"):
        hierarchical_forward_store(q, empty, layers[:1])
    assert empty.hnsw_levels()["levels"] == []
    with pytest.raises(ArgumentError, match="levels"):
        hierarchical_forward_store(q, store, layers[1:])                  # one layer short
    with pytest.raises(ArgumentError, match="levels"):
        hierarchical_forward_store(q, store, layers + layers[:1])
    with pytest.raises(DimensionError):
        hierarchical_forward_store(q[:-1], store, layers)                  # query of the wrong dimension
    with pytest.raises(DimensionError):
        hierarchical_forward_store(q, store, [GNNLayer(DIM + 1, DIM + 1)] * len(layers))
    with pytest.raises(ArgumentError):
        hierarchical_forward_store(q, store, [object()] * len(layers))
    with pytest.raises(NonFiniteError):
        hierarchical_forward_store(f32([np.nan] + [0] * (DIM - 1)), store, layers)
    with pytest.raises(OptionError):
        hierarchical_forward_store(q, store, layers, k=0)
    top = store.hnsw_levels()["max_level"]
    low = next(n for n in range(ROWS) if n not in store.hnsw_levels()["levels"][1]["nodes"])
    for node, level, match in ((0, top + 1, "not a level"), (0, -1, "not a level"), (ROWS, 0, "not a node"),
                               (low, 1, "not on level 1"), ("0", 0, "integer")):
        with pytest.raises(ArgumentError, match=match):
            store.hnsw_neighbours(node, level)


def test_docstring_examples():
    assert doctest.testmod(hierarchy).failed == 0
    finder = doctest.DocTestFinder()
    for name in ("hnsw_levels",):
        for test in finder.find(getattr(agentdb.VectorStore, name), name, globs={"open": agentdb.open}):
            assert doctest.DocTestRunner().run(test).failed == 0


def test_the_same_bits_in_pyodide_as_natively(tmp_path_factory):
    """The browser home: the scenario in the real Pyodide runtime (the `browser` backend)."""
    import json
    import sys
    from pathlib import Path

    import hierarchy_scenario
    from test_pyodide import ROOT, in_pyodide

    sys.path.insert(0, str(ROOT / "build"))
    import package_zip

    zipped = package_zip.build(tmp_path_factory.mktemp("pkg") / "agentdb.zip")
    browser = json.loads(in_pyodide(zipped, Path(hierarchy_scenario.__file__)).strip().splitlines()[-1])
    assert browser == json.loads(json.dumps(hierarchy_scenario.run(agentdb.kernel.load("native"))))
