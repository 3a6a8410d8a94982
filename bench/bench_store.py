"""Vector store benchmark against hnswlib and faiss-cpu, one thread each, same data, one run.

    python bench/bench_store.py [--n 100000] [--dim 384] [--queries 500] [--data clustered|minilm]

Data: clustered synthetic vectors, normalised (cosine / inner product); queries are held-out
points of the same clusters; --data minilm: real sentence embeddings (bench/sentences.py).
Reports build time, memory per vector, and for each target recall@10 (0.90 / 0.95 / 0.99)
the smallest ef reaching it, with QPS and mean latency (the indexes take turns, best of
three passes each); then exact search against numpy and compressed search against faiss's
equivalents.
Needs: pip install hnswlib faiss-cpu threadpoolctl
"""
import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

import agentdb

TARGETS = (0.90, 0.95, 0.99)
EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def data(n, dim, nq, seed=1):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(n // 500, 10), dim)).astype(np.float32)
    labels = rng.integers(0, len(centers), n + nq)
    x = centers[labels] + 0.6 * rng.standard_normal((n + nq, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:]


def recall(found, truth):
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def sweep(searches, queries, truth, rounds=3):
    """{name: [(ef, recall, qps)]} for growing ef until every index reaches recall 0.995.

    The indexes take turns: each round times one pass of every index at that ef, and each
    keeps its best round, so a noisy neighbour on a shared machine (passes here vary by +-30%)
    hits every index alike instead of whichever happened to run during it."""
    rows = {name: [] for name in searches}
    for ef in EFS:
        todo = [name for name in searches if not rows[name] or rows[name][-1][1] < 0.995]
        if not todo:
            break
        best, found = {}, {}
        for _ in range(rounds):
            for name in todo:
                t = time.perf_counter()
                found[name] = [searches[name](q, ef) for q in queries]
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - t)
        for name in todo:
            rows[name].append((ef, recall(found[name], truth), len(queries) / best[name]))
    return rows


def at_target(rows, target):
    for ef, r, qps in rows:
        if r >= target:
            return ef, r, qps
    return None


def main():
    import faiss
    import hnswlib

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--data", choices=("clustered", "minilm"), default="clustered",
                    help="minilm: real sentence embeddings (bench/sentences.py; 384 dims)")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    if args.data == "minilm":
        from sentences import minilm

        vectors, _ = minilm(args.n + args.queries)
        x, queries, args.dim = vectors[:args.n], vectors[args.n:], vectors.shape[1]
        kind = "all-MiniLM-L6-v2 embeddings of library docstring and comment sentences"
    else:
        x, queries = data(args.n, args.dim, args.queries)
        kind = "clustered, normalised"
    with threadpool_limits(1):
        truth = np.argsort(-(queries @ x.T), axis=1)[:, :10]
    print(f"{args.n} x {args.dim} {kind}; {args.queries} queries; one thread everywhere; "
          f"kernel {agentdb.kernel.load().isa}")

    results = {}
    before = rss()
    t = time.perf_counter()
    db = agentdb.open(dim=args.dim, metric="cosine", m=16, ef_construction=200)
    db.ingest(range(args.n), x)
    build = time.perf_counter() - t
    status = db.status()["bytes"]
    results["agentdb"] = dict(build=build, mem=(rss() - before) / args.n,
                              exact_mem=(status["vectors"] + status["graph"]) / args.n)

    before = rss()
    t = time.perf_counter()
    hn = hnswlib.Index(space="ip", dim=args.dim)
    hn.init_index(args.n, M=16, ef_construction=200, random_seed=0)
    hn.set_num_threads(1)
    hn.add_items(x, np.arange(args.n))
    build = time.perf_counter() - t

    def hn_search(q, ef):
        hn.set_ef(ef)
        return hn.knn_query(q, k=10)[0][0]

    results["hnswlib"] = dict(build=build, mem=(rss() - before) / args.n)

    before = rss()
    t = time.perf_counter()
    fh = faiss.IndexHNSWFlat(args.dim, 16, faiss.METRIC_INNER_PRODUCT)
    fh.hnsw.efConstruction = 200
    fh.add(x)
    build = time.perf_counter() - t

    def faiss_search(q, ef):
        fh.hnsw.efSearch = ef
        return fh.search(q[None], 10)[1][0]

    results["faiss HNSWFlat"] = dict(build=build, mem=(rss() - before) / args.n)
    swept = sweep({"agentdb": lambda q, ef: db.query(q, k=10, ef=ef).ids, "hnswlib": hn_search,
                   "faiss HNSWFlat": faiss_search}, queries, truth)
    for name, rows in swept.items():
        results[name]["rows"] = rows

    print(f"\n{'index':16} {'build s':>8} {'B/vector (RSS)':>15}  " +
          "  ".join(f"{'ef':>4} {'recall':>6} {'QPS':>7} {'ms':>6}" for _ in TARGETS[:1]) + "   (per target recall)")
    for name, r in results.items():
        for target in TARGETS:
            hit = at_target(r["rows"], target)
            cell = f"{hit[0]:>4} {hit[1]:>6.3f} {hit[2]:>7.0f} {1e3 / hit[2]:>6.3f}" if hit else "   -      -       -      -"
            print(f"{name:16} {r['build']:>8.1f} {r['mem']:>15.0f}  {cell}   @{target}")
    ours, peer = results["agentdb"], results["hnswlib"]
    print(f"\nagentdb store bytes per vector (vectors + graph, from status()): {ours['exact_mem']:.0f}")
    print(f"{'ratio vs hnswlib':40} {'measured':>10}  target")
    print(f"{'build time':40} {ours['build'] / peer['build']:>9.2f}x  <= 1.5x")
    print(f"{'memory per vector (RSS)':40} {ours['mem'] / peer['mem']:>9.2f}x  within 1.10x")
    for target in TARGETS:
        a, b = at_target(ours["rows"], target), at_target(peer["rows"], target)
        if a and b:
            print(f"{f'QPS at recall {target}':40} {a[2] / b[2]:>9.2f}x  >= 1.0x")

    # exact search and compression against numpy and faiss
    print(f"\n{'search':34} {'recall@10':>9} {'QPS':>8}  peer")
    def timed(fn, qs):
        t = time.perf_counter()
        out = [fn(q) for q in qs]
        return out, len(qs) / (time.perf_counter() - t)

    qs = queries[:200]
    found, qps = timed(lambda q: db.query(q, k=10, exact=True).ids, qs)
    with threadpool_limits(1):
        np_found, np_qps = timed(lambda q: np.argpartition(-(x @ q), 10)[:10], qs)
    print(f"{'agentdb exact scan':34} {recall(found, truth[:200]):>9.3f} {qps:>8.0f}  numpy X@q + argpartition "
          f"{np_qps:.0f} QPS -> {qps / np_qps:.2f}x")
    for comp, peer_index in (("scalar", faiss.IndexScalarQuantizer(args.dim, faiss.ScalarQuantizer.QT_8bit,
                                                                     faiss.METRIC_INNER_PRODUCT)),
                             ("product", faiss.IndexPQ(args.dim, args.dim // 8, 8, faiss.METRIC_INNER_PRODUCT))):
        store = agentdb.open(dim=args.dim, metric="cosine", compression=comp, index="flat", keep_vectors=False)
        t = time.perf_counter()
        store.ingest(range(args.n), x)
        ours_build = time.perf_counter() - t
        found, qps = timed(lambda q: store.query(q, k=10).ids, qs)
        t = time.perf_counter()
        peer_index.train(x)
        peer_index.add(x)
        peer_build = time.perf_counter() - t
        pf, pqps = timed(lambda q: peer_index.search(q[None], 10)[1][0], qs)
        print(f"{f'agentdb {comp} codes only':34} {recall(found, truth[:200]):>9.3f} {qps:>8.0f}  faiss "
              f"{recall(pf, truth[:200]):.3f} at {pqps:.0f} QPS -> {qps / pqps:.2f}x QPS; build "
              f"{ours_build:.1f}s vs {peer_build:.1f}s; {store.status()['bytes']['codes'] / args.n:.1f} B/vector")


if __name__ == "__main__":
    main()
