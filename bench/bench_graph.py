"""Graph benchmark (issue 19): agentdb's graph layer against Kùzu and networkx natively and
against kuzu-wasm in Chromium, on the same generated graph, ratios in one run.

    .venv/bin/python bench/bench_graph.py [--nodes 100000] [--edges 1000000] [--starts 200]
        [--queries 50] [--cypher-budget 20] [--repeat 3] [--browser-repeat 2] [--no-browser]
        [--site DIR]

The graph: --nodes nodes with label Person and an int property nid (= the node's id,
0 .. n-1) and --edges directed KNOWS edges, src and dst uniform over the nodes, drawn from a
counter-mode splitmix64 stream (graph_edges: pure Python, so Pyodide draws the same; numpy
natively, checked against it; BigInt in the kuzu-wasm worker; a fingerprint of the edge list
is compared across all four). Duplicates and loops are kept (a multigraph, as drawn).

What is measured, each side from the same rows held in memory to a graph that answers queries:
- batch insert: ours is agentdb.open(dim=8) + one graph.batch_insert of the node columns
  ({"id": ids, "labels": "Person", "properties": {"nid": ids}}) and the edge columns ({"src",
  "dst", "type"}), the Python lists as they are, + the first k_hop (the adjacency is built on
  the first walk, so it is counted). Kùzu (Python API, default threads) is Database(":memory:") + Connection +
  CREATE NODE TABLE Person(nid INT64 PRIMARY KEY) / CREATE REL TABLE KNOWS + its bulk load,
  COPY Person / COPY KNOWS, from whichever documented source is fastest here: pandas DataFrames,
  pyarrow tables (each when installed; building them from the Python lists is counted) or CSV
  files (writing them from the lists is counted); all available are timed, the fastest is the
  peer. An ids-only insert of ours (no label, no property) is shown for information.
- 2-hop expansion from one node: the distinct nodes within 1..2 out-hops, start excluded.
  Ours graph.k_hop(s, 2); Kùzu a prepared MATCH (a:Person {nid: $id})-[:KNOWS*1..2]->(b)
  WHERE b.nid <> $id RETURN DISTINCT b.nid (get_all); networkx 3 on a DiGraph two ways: the
  hand-written set over its successor dicts (G._succ, the fastest found) and
  single_source_shortest_path_length(G, s, cutoff=2) minus s (the issue's ~0.03 ms); the
  target is against the faster. Result sets are asserted equal on 5 starts before timing.
  --starts random start nodes (the same for every side), mean ms per expansion.
- Cypher point patterns: MATCH (a:Person {nid: $id})-[:KNOWS]->(b) RETURN b.nid (both sides;
  Kùzu prepared) and ours also by id, MATCH (a)-[:KNOWS]->(b) WHERE id(a) = $id RETURN b.nid,
  --queries starts, queries per second; rows (sorted) asserted equal to Kùzu's on 3 starts.
  When one of our queries takes so long that --queries would pass --cypher-budget seconds per
  pass, fewer are run (said in the output).
Timing: natively the sides take turns (a round of each, --repeat rounds; 2-hop and Cypher
passes after a warm-up pass), best of the rounds, so a busy spell on the shared machine hits
them alike. In Chromium (headless, Playwright) ours runs in the built site's worker
(AgentDB.runPython: the package in Pyodide over kernel.wasm, time.perf_counter) and kuzu-wasm
(npm, pinned in bench/browser) in a module worker of the same page, its default build
(single-threaded, needs no cross-origin isolation) and its sync API, bulk-loaded by COPY from
CSV files written to its in-memory FS (building the CSV text from the typed arrays counted);
they take turns the same way, --browser-repeat rounds.
Needs: kuzu, networkx (build/setup.sh), optionally pandas / pyarrow (more Kùzu load paths),
and for the browser column chromium, playwright and a built site (built here by
build/build_site.py into web/dist unless --site names one).

## Measured
On the 2-core shared AMD EPYC box (native kernel avx512, Chromium simd128, Kùzu 0.11.3 with
its default 2 threads, kuzu-wasm 0.11.3 default build, networkx 3.6.1, pandas 3.1 / pyarrow 26),
100k nodes / 1M edges; ratio = peer / ours (above 1: agentdb is faster). Batch insert after the
columnar path (node ids as a run, a shared label and scalar property columns kept as columns,
edge columns checked by agk_column_stats_u32, ids returned as an Ids range): three runs while
other jobs kept the load at 4-7 (which slows Kùzu's two threads more than our one, so these
ratios are higher than on a quiet box), best of 3-5 rounds:

                                              agentdb          peer             ratio
    native batch insert (s), Kùzu COPY        0.040-0.069      0.56-1.32        14.0-27.8x
      ours ids only (no label, no property)   0.062-0.080      1.18-1.32        14.7-21.3x
      both from numpy columns (Kùzu pandas)   0.045-0.063      0.99-1.21        19.2-22.1x
    Chromium batch insert (s), COPY CSV       0.140            10.1             72x

On a quiet box (load about 1, three runs of best of 5 rounds, 2026-12-08), after the store's
rows without metadata became a count (MetadataColumns.append_none: no list of a million Nones for
the property-less edges) and the edge section stopped making an all-None id list: batch insert
0.029 / 0.029 / 0.031 s vs Kùzu pandas 0.342 / 0.352 / 0.382 s = 11.6x / 12.1x / 12.5x: the
target met; ids only 0.025-0.026 s = 13.4-14.6x; from numpy columns 0.021-0.024 s = 14.3-14.9x.
The session before (two quiet runs: 11.0x / 8.6x, back-to-back builds 0.054-0.059 s) had this
floor (cProfile of one 0.055 s build): the caller's Python
lists made u32 arrays (array('I', list), 0.017 s for 2 x 1M + 100k), the store's rows and
filter columns for the nodes (0.011 s), the CSR of the first walk in the kernel (0.007 s), the
edge section's assembly (0.004 s) and the property column's checks (0.003 s); perf then showed
a fifth of the wall time in page faults, most from the two 8 MB lists of Nones. array('I', list)
(8.9 ms per 1M ints) is the fastest conversion measured (array 'L' the same, cffi's
ffi.new 2.7x slower), so it stays the floor with list input; no Python step per node or edge
remains. Before this work: 0.36-0.51 s (0.87-1.67x), whose cProfile was per-node dicts,
Python max/min passes over the index arrays, seqs made by array('Q', range) and a 1M-int
list returned (plain ids, before they too took the id_first form: 0.188 s); and before that
dict records 1.05-1.9 s (0.33-0.48x).

The other rows, from the runs before the columnar path (best of 3 rounds natively, 2 in
Chromium; other jobs were running), unchanged by it within the noise of the loaded runs above:

                                              agentdb          peer             ratio
    native 2-hop warm (ms) vs Kùzu            0.005            5.9-6.5          1134-1339x
    native 2-hop warm vs networkx hand set    0.005            0.018-0.019      3.5-4.0x
    native 2-hop cold vs networkx hand set    0.008            0.031-0.038      3.8-4.6x
    native Cypher {nid: $id} (ms/query)       0.41-0.46        1.87-2.02        4.4-4.6x
    native Cypher id(a) = $id (ms/query)      0.26-0.29        (Kùzu's {nid})   6.9-7.1x
    Chromium 2-hop (ms) vs kuzu-wasm          0.030-0.032      7.8-7.9          245-264x
    Chromium Cypher {nid: $id} (ms/query)     1.17-1.36        2.15-2.50        1.8x
    Chromium Cypher id(a) = $id (ms/query)    0.55-0.71        (kuzu-wasm's)    3.5-3.9x

Queries per second natively: ours 2,180-2,470 ({nid}) and 3,440-3,830 (id), Kùzu 500-540; in
Chromium ours 730-860 and 1,400-1,830, kuzu-wasm 400-470 (the loaded runs: ours 1,150-2,420
and 1,040-4,500, Kùzu 290-460). Targets: 2-hop <= networkx MET warm and cold (its fastest
way, the hand-written set over G._succ), 2-hop >= 5x Kùzu MET (680x and more), batch insert
>= 10x Kùzu: MET, from Python lists 11.6-12.5x over three quiet runs (best of 5 rounds each)
and from numpy columns 14.3-14.9x; under load 14-28x (Kùzu's two threads slow more). Before: k_hop 0.029 ms (~10 kernel calls per
walk), Cypher reading the whole graph per query (~2 s for a point pattern). Chromium's edge
lists, 2-hop sets and Cypher rows equal the native ones on every run.
"""
import argparse
import inspect
import json
import os
import pathlib
import sys
import tempfile
import time
import warnings

import networkx as nx
import numpy as np

import agentdb

ROOT = pathlib.Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "browser" / "node_modules" / "kuzu-wasm"
SEED = 7
KUZU_2HOP = "MATCH (a:Person {nid: $id})-[:KNOWS*1..2]->(b) WHERE b.nid <> $id RETURN DISTINCT b.nid"
POINT = "MATCH (a:Person {nid: $id})-[:KNOWS]->(b) RETURN b.nid"
POINT_ID = "MATCH (a)-[:KNOWS]->(b) WHERE id(a) = $id RETURN b.nid"


# ---- the data (these functions also run in Pyodide: stdlib only) ------------------------------

def graph_edges(n, m, seed):
    """(src, dst): m edges over nodes 0 .. n-1, edge i = (h(2i+1) % n, h(2i+2) % n), h(k) the
    splitmix64 output for the counter seed + k * golden (pure Python; numpy_edges is the same)."""
    mask, gold = (1 << 64) - 1, 0x9E3779B97F4A7C15
    out = [0] * (2 * m)
    z = seed
    for i in range(2 * m):
        z = (z + gold) & mask
        x = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        out[i] = (x ^ (x >> 31)) % n
    return out[0::2], out[1::2]


def start_nodes(n, count, seed):
    """count start nodes (another splitmix64 stream), the same in every home."""
    return graph_edges(n, count, seed ^ 0xD1B54A32D192ED03)[0]


def fingerprint(src, dst):
    """Three sums that tell edge lists apart (exact in a JS double too for m <= 1e6)."""
    return [sum(src), sum(dst), sum((s * 31 + d) * (i % 1000 + 1) for i, (s, d) in enumerate(zip(src, dst)))]


def ours_build(n, src, dst, plain=False, ids=None):
    """(graph, seconds): from the columns to a graph answering k_hop and Cypher (ids: the node
    id column, by default a list 0 .. n-1)."""
    import time

    import agentdb

    t = time.perf_counter()
    g = agentdb.open(dim=8).graph
    ids = list(range(n)) if ids is None else ids
    nodes = ids if plain else {"id": ids, "labels": "Person", "properties": {"nid": ids}}
    g.batch_insert(nodes=nodes, edges={"src": src, "dst": dst, "type": "KNOWS"})
    g.k_hop(0, 1)                   # the adjacency is built on the first walk: count it
    return g, time.perf_counter() - t


def ours_khop_pass(g, starts):
    """Mean ms of g.k_hop(s, 2) over the starts."""
    import time

    t = time.perf_counter()
    for s in starts:
        g.k_hop(s, 2)
    return (time.perf_counter() - t) / len(starts) * 1e3


def ours_cypher_pass(g, query, starts):
    """Mean ms of one Cypher query (params {"id": s}) over the starts."""
    import time

    t = time.perf_counter()
    for s in starts:
        g.cypher(query, {"id": s}).rows
    return (time.perf_counter() - t) / len(starts) * 1e3


def ours_cypher_plan(g, queries, budget):
    """(queries to run, ms of the first query, error or None): fewer than asked when one query
    is so slow that a pass of them would take more than budget seconds."""
    import time

    t = time.perf_counter()
    try:
        g.cypher(POINT, {"id": queries[0]}).rows
    except Exception as exc:           # the executor is being rewritten: report, do not stop
        return [], None, f"{type(exc).__name__}: {exc}"
    first = time.perf_counter() - t
    keep = max(3, min(len(queries), int(budget / max(first, 1e-9))))
    return queries[:keep], first * 1e3, None


# ---- native peers ---------------------------------------------------------------------------

def numpy_edges(n, m, seed):
    """graph_edges vectorised (uint64 arithmetic wraps as the masks do)."""
    def mix(z):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))
    with np.errstate(over="ignore"):
        k = np.arange(1, 2 * m + 1, dtype=np.uint64)
        h = mix(np.uint64(seed) + k * np.uint64(0x9E3779B97F4A7C15)) % np.uint64(n)
    return h[0::2].tolist(), h[1::2].tolist()


def kuzu_methods():
    """The Kùzu bulk-load sources available here: name -> function(conn, n, src, dst, tmp)."""
    def csv(conn, n, src, dst, tmp):
        nodes, edges = os.path.join(tmp, "nodes.csv"), os.path.join(tmp, "edges.csv")
        with open(nodes, "w") as f:
            f.write("\n".join(map(str, range(n))) + "\n")
        with open(edges, "w") as f:
            f.write("\n".join(f"{s},{d}" for s, d in zip(src, dst)) + "\n")
        conn.execute(f"COPY Person FROM '{nodes}' (HEADER=false)")
        conn.execute(f"COPY KNOWS FROM '{edges}' (HEADER=false)")

    methods = {"CSV": csv}
    try:
        import pandas as pd

        def pandas(conn, n, src, dst, tmp):
            people = pd.DataFrame({"nid": np.arange(n, dtype=np.int64)})
            knows = pd.DataFrame({"from": np.array(src, dtype=np.int64), "to": np.array(dst, dtype=np.int64)})
            conn.execute("COPY Person FROM people")
            conn.execute("COPY KNOWS FROM knows")
            del people, knows        # Kùzu finds them by name in this frame
        methods["pandas"] = pandas
    except ImportError:
        pass
    try:
        import pyarrow as pa

        def arrow(conn, n, src, dst, tmp):
            people = pa.table({"nid": pa.array(range(n), pa.int64())})
            knows = pa.table({"from": pa.array(src, pa.int64()), "to": pa.array(dst, pa.int64())})
            conn.execute("COPY Person FROM people")
            conn.execute("COPY KNOWS FROM knows")
            del people, knows        # Kùzu finds them by name in this frame
        methods["pyarrow"] = arrow
    except ImportError:
        pass
    return methods


def kuzu_build(kuzu, method, n, src, dst, tmp):
    """((db, conn), seconds)."""
    t = time.perf_counter()
    db = kuzu.Database(":memory:")
    conn = kuzu.Connection(db)
    conn.execute("CREATE NODE TABLE Person(nid INT64, PRIMARY KEY(nid))")
    conn.execute("CREATE REL TABLE KNOWS(FROM Person TO Person)")
    method(conn, n, src, dst, tmp)
    return (db, conn), time.perf_counter() - t


def kuzu_prepare(conn, query):
    with warnings.catch_warnings():      # prepare + execute is deprecated, and faster (measured)
        warnings.simplefilter("ignore", DeprecationWarning)
        return conn.prepare(query)


def kuzu_rows(conn, statement, s):
    return conn.execute(statement, {"id": s}).get_all()


def kuzu_pass(conn, statement, starts):
    t = time.perf_counter()
    for s in starts:
        conn.execute(statement, {"id": s}).get_all()
    return (time.perf_counter() - t) / len(starts) * 1e3


def nx_hand(succ, s):
    """The 2-hop set over networkx's successor dicts (G._succ)."""
    first = succ[s]
    out = set(first)
    for v in first:
        out.update(succ[v])
    out.discard(s)
    return out


def nx_bfs(G, s):
    out = set(nx.single_source_shortest_path_length(G, s, cutoff=2))
    out.discard(s)
    return out


def best_of(passes, rounds, twice=False):
    """Best result of each pass function, the passes taking turns, after one warm-up round.
    twice: each turn is two passes back to back, and (best of the first, best of the second)
    is returned for each: cold (caches left by the other sides) and warm."""
    for fn in passes:
        fn()
    cold, warm = [float("inf")] * len(passes), [float("inf")] * len(passes)
    for _ in range(rounds):
        for i, fn in enumerate(passes):
            cold[i] = min(cold[i], fn())
            if twice:
                warm[i] = min(warm[i], fn())
    return list(zip(cold, warm)) if twice else cold


def native(args):
    import kuzu

    n, m = args.nodes, args.edges
    t = time.perf_counter()
    src, dst = numpy_edges(n, m, SEED)
    gen_s = time.perf_counter() - t
    check = graph_edges(n, min(m, 20_000), SEED)
    assert (src[:len(check[0])], dst[:len(check[1])]) == check, "numpy and pure-Python generators differ"
    starts = start_nodes(n, args.starts, SEED)
    out = {"gen_s": gen_s, "fingerprint": fingerprint(src, dst), "starts": starts}

    # batch insert: rounds of ours, ours ids-only and every Kùzu source, taking turns
    methods = kuzu_methods()
    ins = {"ours": float("inf"), "ours_plain": float("inf"), "ours_numpy": float("inf"),
           "pandas_numpy": float("inf"), **{k: float("inf") for k in methods}}
    src_np, dst_np, ids_np = np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), np.arange(n)
    g = conn = None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            g, sec = ours_build(n, src, dst)
            ins["ours"] = min(ins["ours"], sec)
            plain, sec = ours_build(n, src, dst, plain=True)
            ins["ours_plain"] = min(ins["ours_plain"], sec)
            del plain
            numpy_g, sec = ours_build(n, src_np, dst_np, ids=ids_np)     # the same rows as numpy columns
            ins["ours_numpy"] = min(ins["ours_numpy"], sec)
            del numpy_g
            for name, method in methods.items():
                if conn is not None:
                    conn[1].close()
                    conn[0].close()
                conn, sec = kuzu_build(kuzu, method, n, src, dst, tmp)
                ins[name] = min(ins[name], sec)
                if name == "pandas":                 # ... and from the numpy columns
                    conn[1].close()
                    conn[0].close()
                    conn, sec = kuzu_build(kuzu, method, n, src_np, dst_np, tmp)
                    ins["pandas_numpy"] = min(ins["pandas_numpy"], sec)
    db_k, conn = conn
    out["insert"] = ins
    out["kuzu_method"] = min(methods, key=ins.__getitem__)
    t = time.perf_counter()
    G = nx.DiGraph()
    G.add_nodes_from(range(n))
    G.add_edges_from(zip(src, dst))
    out["nx_build_s"] = time.perf_counter() - t
    out["kuzu_edges"] = conn.execute("MATCH ()-[r:KNOWS]->() RETURN count(r)").get_next()[0]

    # 2-hop: the same sets first
    two = kuzu_prepare(conn, KUZU_2HOP)
    succ = G._succ
    for s in starts[:5]:
        ours = set(g.k_hop(s, 2))
        assert ours == {row[0] for row in kuzu_rows(conn, two, s)}, f"k_hop({s}, 2) differs from Kùzu's"
        assert ours == nx_hand(succ, s) == nx_bfs(G, s), f"k_hop({s}, 2) differs from networkx's"
    out["sample_khop"] = {str(s): sorted(g.k_hop(s, 2)) for s in starts[:3]}
    out["mean_2hop_size"] = sum(len(g.k_hop(s, 2)) for s in starts) / len(starts)

    def nx_pass(fn, graph):
        def run():
            t = time.perf_counter()
            for s in starts:
                fn(graph, s)
            return (time.perf_counter() - t) / len(starts) * 1e3
        return run
    timed = best_of([lambda: ours_khop_pass(g, starts), lambda: kuzu_pass(conn, two, starts),
                     nx_pass(nx_hand, succ), nx_pass(nx_bfs, G)], args.repeat, twice=True)
    out["khop"] = {when: dict(zip(("ours", "kuzu", "nx_hand", "nx_bfs"), (t[w] for t in timed)))
                   for w, when in enumerate(("cold", "warm"))}

    # Cypher point patterns
    point = kuzu_prepare(conn, POINT)
    queries, first_ms, error = ours_cypher_plan(g, starts[:args.queries], args.cypher_budget)
    cy = {"asked": min(args.queries, len(starts)), "ran": len(queries), "first_ms": first_ms, "error": error}
    if not error:
        try:
            for s in queries[:3]:
                want = sorted(kuzu_rows(conn, point, s))
                for q in (POINT, POINT_ID):
                    got = sorted(list(row) for row in g.cypher(q, {"id": s}).rows)
                    assert got == want, f"{q} with id={s}: {got[:5]}... != Kùzu's {want[:5]}..."
            cy["ours"], cy["ours_id"], cy["kuzu"] = best_of(
                [lambda: ours_cypher_pass(g, POINT, queries), lambda: ours_cypher_pass(g, POINT_ID, queries),
                 lambda: kuzu_pass(conn, point, queries)], args.repeat)
        except Exception as exc:
            cy["error"] = f"{type(exc).__name__}: {exc}"
    out["cypher"] = cy
    conn.close()
    db_k.close()
    return out


# ---- Chromium -------------------------------------------------------------------------------


OURS_SETUP = """
import json, time
POINT, POINT_ID = {point!r}, {point_id!r}
{functions}
t = time.perf_counter()
_src, _dst = graph_edges({n}, {m}, {seed})
_gen = time.perf_counter() - t
_starts = start_nodes({n}, {starts}, {seed})
_g = None
json.dumps({{"gen_s": _gen, "fingerprint": fingerprint(_src, _dst)}})
"""

OURS_BUILD = """
_g = None
_g, _sec = ours_build({n}, _src, _dst, plain={plain})
json.dumps(_sec)
"""

OURS_KHOP = """
_sample = {str(s): sorted(_g.k_hop(s, 2)) for s in _starts[:3]}
json.dumps({"ms": ours_khop_pass(_g, _starts), "sample": _sample})
"""

OURS_CYPHER_PLAN = """
_q, _first, _err = ours_cypher_plan(_g, _starts[:{queries}], {budget})
_sample = {{}}
if not _err:
    try:
        _sample = {{str(s): sorted(r[0] for r in _g.cypher(POINT, {{"id": s}}).rows) for s in _q[:3]}}
    except Exception as exc:
        _err = f"{{type(exc).__name__}}: {{exc}}"
json.dumps({{"ran": len(_q), "first_ms": _first, "error": _err, "sample": _sample}})
"""

OURS_CYPHER_PASS = """
json.dumps({"ms": ours_cypher_pass(_g, POINT, _q), "ms_id": ours_cypher_pass(_g, POINT_ID, _q)})
"""

# kuzu-wasm (default build: one thread, no cross-origin isolation needed; sync API) in a module
# worker: the same edges drawn with BigInt, loaded by COPY from CSV in its in-memory FS
PEER_WORKER = r"""
import kuzu from 'ORIGIN/kuzu/sync/index.js';
const MASK = (1n << 64n) - 1n, GOLD = 0x9E3779B97F4A7C15n;
function draw(n, m, seed) {
    const src = new Uint32Array(m), dst = new Uint32Array(m), N = BigInt(n);
    let z = BigInt(seed);
    for (let i = 0; i < 2 * m; i++) {
        z = (z + GOLD) & MASK;
        let x = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & MASK;
        x = ((x ^ (x >> 27n)) * 0x94D049BB133111EBn) & MASK;
        const v = Number((x ^ (x >> 31n)) % N);
        if (i & 1) dst[i >> 1] = v; else src[i >> 1] = v;
    }
    return [src, dst];
}
let n, src, dst, db, conn, two, point;
const rows = (r) => { const all = r.getAllRows(); r.close(); return all; };
const pass = (stmt, starts) => {
    const t = performance.now();
    for (const s of starts) rows(conn.execute(stmt, { id: s }));
    return (performance.now() - t) / starts.length;
};
const sample = (stmt, starts) => Object.fromEntries(starts.slice(0, 3).map(
    (s) => [String(s), rows(conn.execute(stmt, { id: s })).map((r) => Number(r[0])).sort((a, b) => a - b)]));
const ops = {
    async init({ nodes, edges, seed }) {
        n = nodes;
        await kuzu.init();
        let t = performance.now();
        [src, dst] = draw(nodes, edges, seed);
        const gen = (performance.now() - t) / 1000;
        let a = 0, b = 0, c = 0;
        for (let i = 0; i < edges; i++) { a += src[i]; b += dst[i]; c += (src[i] * 31 + dst[i]) * (i % 1000 + 1); }
        return { gen_s: gen, fingerprint: [a, b, c], version: kuzu.getVersion() };
    },
    build() {
        if (conn) { two.close(); point.close(); conn.close(); db.close(); }
        const FS = kuzu.getFS();
        for (const f of ['/nodes.csv', '/edges.csv']) { try { FS.unlink(f); } catch (e) {} }
        const t = performance.now();
        const lines = new Array(src.length);
        for (let i = 0; i < src.length; i++) lines[i] = src[i] + ',' + dst[i];
        FS.writeFile('/nodes.csv', Array.from({ length: n }, (_, i) => i).join('\n') + '\n');
        FS.writeFile('/edges.csv', lines.join('\n') + '\n');
        db = new kuzu.Database(':memory:');
        conn = new kuzu.Connection(db);
        for (const q of ['CREATE NODE TABLE Person(nid INT64, PRIMARY KEY(nid))',
                         'CREATE REL TABLE KNOWS(FROM Person TO Person)',
                         "COPY Person FROM '/nodes.csv' (HEADER=false)",
                         "COPY KNOWS FROM '/edges.csv' (HEADER=false)"]) {
            const r = conn.query(q);
            if (!r.isSuccess()) throw new Error(q + ': ' + r.getErrorMessage());
            r.close();
        }
        const seconds = (performance.now() - t) / 1000;
        two = conn.prepare(TWO);
        point = conn.prepare(POINT);
        return { seconds, edges: Number(rows(conn.query('MATCH ()-[r:KNOWS]->() RETURN count(r)'))[0][0]) };
    },
    khop({ starts }) { return { ms: pass(two, starts), sample: sample(two, starts) }; },
    cypher({ starts }) { return { ms: pass(point, starts), sample: sample(point, starts) }; },
};
onmessage = async ({ data }) => {
    try { postMessage({ ok: await ops[data.op](data) }); }
    catch (e) { postMessage({ error: String(e && e.stack || e) }); }
};
"""

PEER_START = """async (source) => {
    const url = URL.createObjectURL(new Blob([source.replace('ORIGIN', location.origin)], { type: 'text/javascript' }));
    window.kuzuWorker = new Worker(url, { type: 'module' });
    window.kuzuWorker.onerror = (e) => { window.kuzuError = String(e.message || e); };
    window.askKuzu = (msg) => new Promise((res) => {
        window.kuzuWorker.onmessage = (e) => res(e.data);
        window.kuzuWorker.postMessage(msg);
    });
}"""


def browser(args, starts):
    """{ours: {...}, peer: {...} or {error}} from one page: ours in the site's worker, kuzu-wasm in
    a module worker, taking turns."""
    sys.path.insert(0, str(ROOT / "build"))
    sys.path.insert(0, str(ROOT / "e2e"))
    sys.path.insert(0, str(ROOT / "bench"))
    from site_server import app_page

    site = args.site
    if site is None:
        import build_site
        site = build_site.build()
    functions = "\n\n".join(inspect.getsource(f) for f in (graph_edges, start_nodes, fingerprint, ours_build,
                                                           ours_khop_pass, ours_cypher_pass, ours_cypher_plan))
    n, m = args.nodes, args.edges
    peer_source = PEER_WORKER.replace("TWO", json.dumps(KUZU_2HOP)).replace("POINT", json.dumps(POINT))
    ours, peer = {}, {}
    with app_page(site, {"/kuzu/": PEER}) as page:
        run = lambda code: json.loads(page.evaluate("(code) => AgentDB.runPython(code)", code))

        def ask(msg):
            if peer.get("error"):
                return None
            reply = page.evaluate("(msg) => askKuzu(msg)", msg)
            if "error" in reply:
                peer["error"] = reply["error"]
                return None
            return reply["ok"]

        ours.update(run(OURS_SETUP.format(point=POINT, point_id=POINT_ID, functions=functions, n=n, m=m,
                                          seed=SEED, starts=args.starts)))
        page.evaluate(PEER_START, peer_source)
        init = ask({"op": "init", "nodes": n, "edges": m, "seed": SEED})
        if init:
            peer.update(init)
        ours["insert"] = ours["insert_plain"] = peer["insert"] = float("inf")
        for _ in range(args.browser_repeat):
            ours["insert_plain"] = min(ours["insert_plain"], run(OURS_BUILD.format(n=n, plain=True)))
            ours["insert"] = min(ours["insert"], run(OURS_BUILD.format(n=n, plain=False)))
            built = ask({"op": "build"})
            if built:
                peer["insert"] = min(peer["insert"], built["seconds"])
                peer["edges"] = built["edges"]
        ours["khop"] = peer["khop"] = float("inf")
        for r in range(args.browser_repeat + 1):          # the first round is the warm-up
            got = run(OURS_KHOP)
            ours["sample_khop"] = got["sample"]
            if r:
                ours["khop"] = min(ours["khop"], got["ms"])
            got = ask({"op": "khop", "starts": starts})
            if got:
                peer["sample_khop"] = got["sample"]
                if r:
                    peer["khop"] = min(peer["khop"], got["ms"])
        cy = run(OURS_CYPHER_PLAN.format(queries=args.queries, budget=args.cypher_budget))
        ours["cypher"] = cy
        if not cy["error"] and cy["ran"]:
            queries = starts[:cy["ran"]]
            cy["ms"] = cy["ms_id"] = peer["cypher"] = float("inf")
            for r in range(args.browser_repeat + 1):      # the first round is the warm-up
                try:
                    got = run(OURS_CYPHER_PASS)
                except Exception as exc:                   # the executor raised in the worker
                    cy["error"] = str(exc).splitlines()[0][:300]
                    break
                if r:
                    cy["ms"], cy["ms_id"] = min(cy["ms"], got["ms"]), min(cy["ms_id"], got["ms_id"])
                got = ask({"op": "cypher", "starts": queries})
                if got:
                    peer["cypher_sample"] = got["sample"]
                    if r:
                        peer["cypher"] = min(peer["cypher"], got["ms"])
    if page_error := peer.get("error"):
        peer["error"] = page_error.splitlines()[0][:300]
    return {"ours": ours, "peer": peer}


# ---- report ---------------------------------------------------------------------------------

def ratio(peer, ours):
    return f"{peer / ours:.2f}x" if ours and peer not in (None, float("inf")) else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--starts", type=int, default=200, help="start nodes of the 2-hop expansions")
    ap.add_argument("--queries", type=int, default=50, help="Cypher point queries per pass")
    ap.add_argument("--cypher-budget", type=float, default=20.0,
                    help="seconds one pass of our Cypher queries may take (fewer queries run when slower)")
    ap.add_argument("--repeat", type=int, default=3, help="native rounds (best kept)")
    ap.add_argument("--browser-repeat", type=int, default=2, help="Chromium rounds (best kept)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--site", type=pathlib.Path, help="serve this built site (web/dist of a copy) instead of building")
    args = ap.parse_args()
    args.starts = min(args.starts, args.nodes)

    import kuzu
    nat = native(args)
    web = None if args.no_browser else browser(args, nat["starts"])
    n, m = args.nodes, args.edges
    ins, kh, cy = nat["insert"], nat["khop"], nat["cypher"]
    method = nat["kuzu_method"]
    print(f"graph: {n:,} Person nodes (nid), {m:,} KNOWS edges (uniform, seed {SEED}), mean 2-hop set "
          f"{nat['mean_2hop_size']:.0f} nodes over {len(nat['starts'])} starts; Kùzu {kuzu.__version__} "
          f"(default threads), networkx {nx.__version__}, agentdb kernel {agentdb.kernel.load().isa}")
    print(f"native: best of {args.repeat} rounds taking turns" +
          ("" if web is None else f"; Chromium: best of {args.browser_repeat}"))
    kuzu_loads = ", ".join(f"{k} {ins[k]:.2f} s" for k in kuzu_methods())
    print(f"Kùzu bulk load by source: {kuzu_loads} (peer: {method}); networkx DiGraph build "
          f"{nat['nx_build_s']:.2f} s (not compared)\n")
    head = f"{'':48} | {'ours':>9} | {'peer':>9} | {'peer/ours':>9}"
    print(head)
    print("-" * len(head))
    row = lambda label, o, p: print(f"{label:48} | {o:>9.3f} | "
                                    f"{f'{p:.3f}' if p not in (None, float('inf')) else 'n/a':>9} | {ratio(p, o):>9}")
    row(f"native batch insert (s) vs Kùzu COPY ({method})", ins["ours"], ins[method])
    row("  ours ids only (no label / property)", ins["ours_plain"], ins[method])
    if "pandas" in ins and ins["pandas_numpy"] < float("inf"):
        row("  both from numpy columns (Kùzu: pandas)", ins["ours_numpy"], ins["pandas_numpy"])
    for when in ("warm", "cold"):
        k = kh[when]
        row(f"native 2-hop {when} (ms) vs Kùzu", k["ours"], k["kuzu"])
        row(f"native 2-hop {when} (ms) vs networkx (hand set)", k["ours"], k["nx_hand"])
        row(f"native 2-hop {when} (ms) vs networkx (sssp)", k["ours"], k["nx_bfs"])
    if cy["error"]:
        print(f"{'native Cypher point (ms/query)':48} | not measured: {cy['error'][:150]}")
    else:
        note = "" if cy["ran"] == cy["asked"] else f" [{cy['ran']} of {cy['asked']} queries]"
        row("native Cypher {nid: $id} (ms/query) vs Kùzu" + note, cy["ours"], cy["kuzu"])
        row("native Cypher id(a) = $id (ms/query) vs Kùzu", cy["ours_id"], cy["kuzu"])
    if web is not None:
        o, p = web["ours"], web["peer"]
        why = p.get("error")
        row("Chromium batch insert (s) vs kuzu-wasm COPY CSV", o["insert"], None if why else p["insert"])
        row("  ours ids only (no label / property)", o["insert_plain"], None if why else p["insert"])
        row("Chromium 2-hop (ms) vs kuzu-wasm", o["khop"], None if why else p["khop"])
        c = o["cypher"]
        if c["error"]:
            print(f"{'Chromium Cypher point (ms/query)':48} | not measured: {c['error'][:150]}")
        else:
            row("Chromium Cypher {nid: $id} (ms/query)", c["ms"], None if why else p.get("cypher"))
            row("Chromium Cypher id(a) = $id (ms/query)", c["ms_id"], None if why else p.get("cypher"))
        if why:
            print(f"\nkuzu-wasm not measured: {why}")
        same = [o["fingerprint"] == nat["fingerprint"], o["sample_khop"] == nat["sample_khop"]]
        if not why:
            same += [p.get("fingerprint") == nat["fingerprint"], p.get("sample_khop") == nat["sample_khop"],
                     p.get("edges") == m]
            if not o["cypher"]["error"] and p.get("cypher_sample") is not None:
                same.append(o["cypher"]["sample"] == p["cypher_sample"])
        print(f"\nChromium: edges drawn in Pyodide in {o['gen_s']:.1f} s" +
              ("" if why else f", in the kuzu-wasm worker in {p['gen_s']:.1f} s (kuzu-wasm {p.get('version')})") +
              f"; edge lists, 2-hop sets (and Cypher rows) {'equal the native ones' if all(same) else 'DIFFER: ' + str(same)}")
    print()
    qps = lambda ms: f"{1e3 / ms:,.0f}/s" if ms else "-"
    if not cy["error"]:
        print(f"Cypher point queries per second natively: ours {qps(cy['ours'])} ({{nid}}), {qps(cy['ours_id'])} "
              f"(id), Kùzu {qps(cy['kuzu'])}; first query {cy['first_ms']:.1f} ms")
    if web is not None and not web["ours"]["cypher"]["error"] and not web["peer"].get("error"):
        c = web["ours"]["cypher"]
        print(f"Cypher point queries per second in Chromium: ours {qps(c['ms'])} ({{nid}}), {qps(c['ms_id'])} (id), "
              f"kuzu-wasm {qps(web['peer'].get('cypher'))}")
    verdict = lambda ok: "met" if ok else "MISSED"
    r_ins = ins[method] / ins["ours"]
    nx_ok = {w: kh[w]["ours"] <= min(kh[w]["nx_hand"], kh[w]["nx_bfs"]) for w in kh}
    kuzu_x = min(kh[w]["kuzu"] / kh[w]["ours"] for w in kh)
    print(f"targets: batch insert >= 10x Kùzu: {r_ins:.2f}x {verdict(r_ins >= 10)}; 2-hop <= networkx (its "
          f"faster way; warm and cold): warm {kh['warm']['ours']:.4f} vs {min(kh['warm']['nx_hand'], kh['warm']['nx_bfs']):.4f} "
          f"ms, cold {kh['cold']['ours']:.4f} vs {min(kh['cold']['nx_hand'], kh['cold']['nx_bfs']):.4f} ms "
          f"{verdict(nx_ok['warm'] and nx_ok['cold'])}"
          f"{'' if nx_ok['warm'] == nx_ok['cold'] else ' (met ' + ('cold' if nx_ok['cold'] else 'warm') + ' only)'}; "
          f"2-hop >= 5x Kùzu: {kuzu_x:.1f}x {verdict(kuzu_x >= 5)}")
    print(f"same rows: Kùzu holds {nat['kuzu_edges']:,} edges; 2-hop sets equal Kùzu's and networkx's on 5 starts"
          + ("" if cy["error"] else "; Cypher rows equal Kùzu's on 3 starts"))


if __name__ == "__main__":
    main()
