"""Agent-memory recall benchmark: retrieve_episodes over 100k episodes with filters, against
numpy brute force and hnswlib (its filter callback) on the same vectors, one thread, one run;
--browser repeats it in Chromium through the JS client (db.memory) and states the ratio.

    python bench/bench_memory.py [--n 100000] [--queries 200] [--browser]

Episodes: tasks composed from word lists (so the offline hashing embedder gives clustered
vectors, with many exact duplicates), 200 sessions, 10 tags, rewards in [0, 1]. Our latency
includes embedding the query text and evaluating the filter; the peers get the query vector
and a boolean mask computed by numpy outside the timing (their best case).
Needs: pip install hnswlib numpy threadpoolctl (and playwright + Chromium for --browser)
"""
import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import hnswlib
import numpy as np
from threadpoolctl import threadpool_limits

import agentdb.memory
from agentdb.embed import HashEmbedder

ROOT = Path(__file__).resolve().parent.parent
VERBS = ["parse", "fix", "summarise", "deploy", "rename", "index", "translate", "review", "resize", "schedule"]
OBJECTS = ["the log file", "a flaky test", "the email thread", "the web app", "a database column", "the search index",
           "the release notes", "a pull request", "the product images", "the team meeting", "the invoice batch",
           "the sales report"]
QUALIFIERS = ["quickly", "for the audit", "before friday", "in staging", "with tests", "for the customer",
              "on the new server", "again"]
CAMEL = {"min_reward": "minReward", "only_failures": "onlyFailures"}
FILTERS = {   # name -> (retrieve_episodes arguments, numpy mask)
    "none": ({}, lambda m: np.ones(len(m["reward"]), bool)),
    "reward >= 0.8": ({"min_reward": 0.8}, lambda m: m["reward"] >= 0.8),
    "failures of one session": ({"only_failures": True, "session": "s17"},
                                lambda m: ~m["success"] & (m["session"] == 17)),
    "tag, reward >= 0.9": ({"tags": ["t3"], "min_reward": 0.9}, lambda m: (m["tag"] == 3) & (m["reward"] >= 0.9)),
}


def episodes(n, seed=5):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        task = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(QUALIFIERS)}"
        out.append({"session": f"s{rng.randrange(200)}", "task": task, "input": f"case {rng.randrange(50)}",
                    "reward": round(rng.random(), 3), "success": rng.random() < 0.7, "latency_ms": rng.uniform(20, 900),
                    "tags": [f"t{rng.randrange(10)}"]})
    return out


def queries(nq, seed=9):
    rng = random.Random(seed)
    return [f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}" for _ in range(nq)]


def tie_recall(found, truth):
    """The share of the k best found: rows scoring at least the exact k-th best (ties count)."""
    threshold, wanted, scores = truth
    return sum(scores[i] >= threshold for i in set(found)) / wanted if wanted else 1.0


def mean_us(times):
    return statistics.fmean(times) * 1e6


def build_native(eps):
    mem = agentdb.memory.open(dim=384, cache_size=0, embedder=HashEmbedder(dim=384))   # the store is measured here
    t = time.perf_counter()
    for start in range(0, len(eps), 1000):
        mem.store_episodes(eps[start:start + 1000])
    return mem, time.perf_counter() - t


def browser_run(eps, qs, k):
    """{filter: (mean seconds, ids per query)} measured in Chromium through db.memory (a
    mean: the page's clock ticks in 100 us steps)."""
    sys.path.insert(0, str(ROOT / "build"))
    sys.path.insert(0, str(ROOT / "e2e"))
    import functools
    import http.server
    import socketserver
    import threading

    import build_site
    from conftest import ARGS, CHROMIUM, QuietHandler
    from playwright.sync_api import sync_playwright

    dist = build_site.build()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(dist)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_function("window.AgentDB !== undefined && !document.getElementById('sample').disabled",
                                   timeout=120_000)
            page.evaluate("async () => { window.bench = await AgentDB.open('bench', { dim: 384 }); }")
            t = time.perf_counter()
            for start in range(0, len(eps), 2000):
                page.evaluate("async (batch) => { await window.bench.memory.storeEpisodes({ episodes: batch }); }",
                              eps[start:start + 2000])
            build = time.perf_counter() - t
            out = {}
            for name, (args, _) in FILTERS.items():
                res = page.evaluate("""async ([qs, args, k]) => {
                    const times = [], ids = [];
                    for (const task of qs) {
                        const t = performance.now();
                        const hits = await window.bench.memory.retrieveEpisodes({ task, k, ...args });
                        times.push(performance.now() - t);
                        ids.push(hits.map((h) => h.id));
                    }
                    return { times, ids };
                }""", [qs, {CAMEL.get(a, a): v for a, v in args.items()}, k])
                out[name] = (statistics.fmean(res["times"]) / 1000, res["ids"])
            browser.close()
            return build, out
    finally:
        server.shutdown()
        server.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--browser", action="store_true")
    args = ap.parse_args()
    eps = episodes(args.n)
    qs = queries(args.queries)
    with threadpool_limits(1):
        mem, build = build_native(eps)
        print(f"{args.n:,} episodes stored in {build:.1f} s ({build / args.n * 1e6:.0f} us/episode, batches of 1000)")
        emb = HashEmbedder(dim=384)
        x = np.frombuffer(emb.embed([f"{e['task']}\n{e['input']}" for e in eps]), np.float32).reshape(-1, 384)
        qv = np.frombuffer(emb.embed(qs), np.float32).reshape(-1, 384)
        meta = {"reward": np.array([e["reward"] for e in eps]), "success": np.array([e["success"] for e in eps]),
                "session": np.array([int(e["session"][1:]) for e in eps]),
                "tag": np.array([int(e["tags"][0][1:]) for e in eps])}
        t = time.perf_counter()
        hn = hnswlib.Index(space="ip", dim=384)
        hn.init_index(max_elements=args.n, M=16, ef_construction=200, random_seed=0)
        hn.add_items(x, np.arange(args.n), num_threads=1)
        hn.set_ef(64)
        hn_build = time.perf_counter() - t
        print(f"hnswlib index of the same vectors built in {hn_build:.1f} s (ours includes embedding and metadata)")
        browser = browser_run(eps, qs, args.k) if args.browser else None
        if browser:
            print(f"browser: {args.n:,} episodes stored in {browser[0]:.1f} s through db.memory.storeEpisodes")
        print()
        head = f"{'filter':26} {'matches':>8} | {'agentdb us':>10} {'recall':>6} | {'numpy us':>8} {'ratio':>6} | " \
               f"{'hnswlib us':>10} {'recall':>6} {'ratio':>6}"
        if browser:
            head += f" | {'browser us':>10} {'vs native':>9}"
        print(head)
        print("-" * len(head))
        for name, (fargs, maskf) in FILTERS.items():
            mask = maskf(meta)
            truth, ours, times, np_times, hn_times, hn_found = [], [], [], [], [], []
            for task, q in zip(qs, qv):
                t = time.perf_counter()
                hits = mem.retrieve_episodes(task, k=args.k, **fargs)
                ids = [int(h["id"].split(":")[1]) - 1 for h in hits]
                times.append(time.perf_counter() - t)
                ours.append(ids)
                t = time.perf_counter()
                scores = x @ q
                scores[~mask] = -np.inf
                top = np.argpartition(-scores, args.k)[:args.k] if mask.sum() > args.k else np.flatnonzero(mask)
                np_times.append(time.perf_counter() - t)
                finite = top[np.isfinite(scores[top])]
                # ties: many episodes share a text, so any row scoring at least the k-th best counts
                truth.append((scores[finite].min() - 1e-6 if len(finite) else np.inf, len(finite), scores))
                t = time.perf_counter()
                try:
                    labels, _ = hn.knn_query(q, k=min(args.k, int(mask.sum())), filter=lambda i, m=mask: bool(m[i]))
                    hn_found.append(set(labels[0].tolist()))
                except RuntimeError:           # hnswlib: fewer than k found
                    hn_found.append(set())
                hn_times.append(time.perf_counter() - t)
            rec = np.mean([tie_recall(o, t) for o, t in zip(ours, truth)])
            hn_rec = np.mean([tie_recall(f, t) for f, t in zip(hn_found, truth)])
            line = f"{name:26} {int(mask.sum()):>8,} | {mean_us(times):>10.0f} {rec:>6.3f} | " \
                   f"{mean_us(np_times):>8.0f} {mean_us(np_times) / mean_us(times):>5.2f}x | " \
                   f"{mean_us(hn_times):>10.0f} {hn_rec:>6.3f} {mean_us(hn_times) / mean_us(times):>5.2f}x"
            if browser:
                b = browser[1][name][0] * 1e6
                line += f" | {b:>10.0f} {b / mean_us(times):>8.2f}x"
            print(line)
        print("\nratio = peer latency / agentdb latency (above 1: agentdb is faster); mean over "
              f"{args.queries} queries, k = {args.k}; recall@{args.k} against exact numpy (rows tied with "
              "the k-th best count as found)")


if __name__ == "__main__":
    main()
