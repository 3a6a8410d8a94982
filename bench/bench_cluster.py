"""agentdb.cluster throughput on this machine: ingest (rows/s, batches of --batch rows, each
committed on every shard in two phases) and queries (single queries/s, and query_batch of 100
queries/s; HNSW and exact) with 1, 2 and 4 shards on a local Ray, against one in-process
store (agentdb.open on a file, the same rows and batches) measured in the same run. Scaling
efficiency = throughput with N shards / (throughput with 1 shard x min(N, cores)). Each
figure is the best of --passes passes. Also prints what docs/SCALING.md's model takes as
input: bytes per row in a shard's memory and the bytes one query's answers carry.

    python bench/bench_cluster.py [--rows 20000] [--dim 128] [--batch 2000] [--queries 200] [--passes 3]

Measured here (2 cores shared with other jobs, load average 4-7; 20,000 x 128 cosine rows,
batches of 2,000, k=10, best of 3):

    store           ingest rows/s     query/s hnsw   batch q/s hnsw    query/s exact  batch q/s exact
    one store               4,016            9,515            9,703            3,278            4,489
    1 shard                 2,534              227            4,089              239            2,075
    2 shards                2,639              161            4,436              163            3,449
    4 shards                2,710              100            1,658              106            2,383

    ratio to one store (1 / 2 / 4 shards): ingest 0.63 / 0.66 / 0.67; single hnsw queries
    0.02 / 0.02 / 0.01; batched hnsw 0.42 / 0.46 / 0.17; single exact 0.07 / 0.05 / 0.03;
    batched exact 0.46 / 0.77 / 0.53
    scaling efficiency, 2 / 4 shards: ingest 0.52 / 0.53, batched exact 0.83 / 0.57,
    batched hnsw 0.54 / 0.20
    memory per row in a shard: 664 bytes (vectors 512, graph 144, write order 8)
    recall@10 by k_per_shard, 4 shards: k'=2 0.621, 3 0.753, 5 0.819, 10 0.825; one store 0.507
    (random 128-d data at the default ef_search=64: four 5k-row graphs searched at ef 64 each
    find more than one 20k-row graph)
    one shard's answer to a k=10 query: 197 bytes; the query 512 bytes

An earlier run at a heavier load (best of 2) measured 472 single and 6,465 batched hnsw
queries/s with 1 shard, and ingest at 0.89 / 0.99 / 1.04 of one store: on this shared machine
the figures move by up to 2x between runs; the ratios within a run are what to read.

A single query pays Ray's round trips (client -> every shard -> client, ~2 ms), which an
in-process store does not; batched queries and ingest amortise them, and with 2 shards the two
cores both scan. On one machine the cluster does not beat one store; it is there for data and
writers that one process cannot hold (docs/SCALING.md).
Needs: pip install 'agentdb[cluster]'
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import ray

import agentdb
import agentdb.cluster


def best_rate(passes, work, count):
    """count / the best of `passes` timings of work()."""
    times = []
    for _ in range(passes):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return count / min(times)


def measure(db, x, ids, queries, batch, passes, root=None):
    """{ingest, q_hnsw, qb_hnsw, q_exact, qb_exact} rates for a store or a cluster (`db` makes
    a fresh one per ingest pass, so every pass writes the same rows into an empty store)."""
    n = len(ids)
    stores = []

    def ingest():
        store = db(len(stores))
        for lo in range(0, n, batch):
            store.ingest(ids[lo:lo + batch], x[lo:lo + batch])
        stores.append(store)

    out = {"ingest": best_rate(passes, ingest, n)}
    store = stores[-1]
    for extra in stores[:-1]:
        extra.close()
    m = len(queries)
    for mode, exact in (("hnsw", False), ("exact", True)):
        few = queries[: max(m // (4 if exact else 1), 10)]
        out[f"q_{mode}"] = best_rate(passes, lambda: [store.query(q, k=10, exact=exact) for q in few], len(few))
        out[f"qb_{mode}"] = best_rate(passes, lambda: [store.query_batch(queries[i:i + 100], k=10, exact=exact)
                                                       for i in range(0, m, 100)], m)
    return out, store


def recall_by_k_per_shard(coll, queries, ks, k=10):
    """{k': recall@k of the merged HNSW answers when each shard returns its top k'}."""
    truth = [set(r.ids) for r in coll.query_batch(queries, k=k, exact=True)]
    out = {}
    for kk in ks:
        got = coll.query_batch(queries, k=k, k_per_shard=kk)
        out[kk] = sum(len(t & set(r.ids)) for t, r in zip(truth, got)) / (k * len(queries))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    ids = list(range(args.rows))
    cores = os.cpu_count() or 1
    tmp = tempfile.mkdtemp(prefix="bench-cluster-")
    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
    rows = {}
    rows["one store"], single = measure(lambda p: agentdb.open(os.path.join(tmp, f"one-{p}.rvf"), dim=args.dim),
                                        x, ids, queries, args.batch, args.passes)
    bytes_per_row = single.status()["bytes"]
    truth = [set(single.query(q, k=10, exact=True).ids) for q in queries]
    single_recall = sum(len(t & set(single.query(q, k=10).ids)) for t, q in zip(truth, queries)) / (10 * len(queries))
    single.close()
    answer_bytes = None
    for shards in (1, 2, 4):
        def make(p, shards=shards):
            return agentdb.cluster.open(os.path.join(tmp, f"c{shards}-{p}"), shards=shards, dim=args.dim)
        rows[f"{shards} shard{'s' if shards > 1 else ''}"], coll = measure(make, x, ids, queries, args.batch,
                                                                           args.passes)
        if shards == 2:
            answer_bytes = len(ray.cloudpickle.dumps(ray.get(coll.shard_actors[0].query.remote(
                queries[0], 10, None, None, False, None, 10.0))))
            shard_bytes = coll.status()["shards"][0]["bytes"], coll.status()["shards"][0]["count"]
        if shards == 4:
            recall = recall_by_k_per_shard(coll, queries, (2, 3, 5, 10))
        coll.close()
        print(f"  {shards} shard(s) done", file=sys.stderr)
    cols = [("ingest", "ingest rows/s"), ("q_hnsw", "query/s hnsw"), ("qb_hnsw", "batch q/s hnsw"),
            ("q_exact", "query/s exact"), ("qb_exact", "batch q/s exact")]
    print(f"\n{args.rows:,} x {args.dim} cosine rows, batches of {args.batch:,}, k=10, best of {args.passes}, "
          f"{cores} cores\n")
    print(f"{'store':<12}" + "".join(f"{title:>17}" for _, title in cols))
    for name, r in rows.items():
        print(f"{name:<12}" + "".join(f"{r[key]:>17,.0f}" for key, _ in cols))
    print("\nratio to one store (1 / 2 / 4 shards):")
    for key, title in cols:
        print(f"  {title:<16}" + " / ".join(f"{rows[n][key] / rows['one store'][key]:.2f}"
                                            for n in ("1 shard", "2 shards", "4 shards")))
    print("scaling efficiency, throughput(N) / (throughput(1) x min(N, cores)), 2 / 4 shards:")
    for key, title in cols:
        print(f"  {title:<16}" + " / ".join(f"{rows[n][key] / (rows['1 shard'][key] * min(s, cores)):.2f}"
                                            for n, s in (("2 shards", 2), ("4 shards", 4))))
    n = args.rows
    print(f"\nmemory per row in a store: {sum(bytes_per_row.values()) / n:.0f} bytes "
          f"({', '.join(f'{k} {v / n:.0f}' for k, v in bytes_per_row.items())})")
    per_shard_row = sum(shard_bytes[0].values()) / shard_bytes[1]
    print(f"memory per row in a shard (2 shards): {per_shard_row:.0f} bytes "
          f"({', '.join(f'{k} {v / shard_bytes[1]:.0f}' for k, v in shard_bytes[0].items())})")
    print("recall@10 of 4 shards' HNSW answers by k_per_shard: " +
          ", ".join(f"k'={kk}: {r:.3f}" for kk, r in recall.items()) + f"; one store: {single_recall:.3f}")
    print(f"one shard's answer to a k=10 query: {answer_bytes} bytes pickled; the query itself {args.dim * 4} bytes")
    ray.shutdown()


if __name__ == "__main__":
    main()
