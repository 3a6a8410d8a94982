"""Multi-hop retrieval benchmark: supporting-memory recall@5 of agentdb.rag's RetrievalController
against a single dense query (mem.recall(question, k=5)) on the same store, one run.

    .venv/bin/python bench/bench_rag.py [--seed 2024] [--limit N] [--no-browser]

Corpus (tests/multihop_corpus.py, generated, nothing downloaded): a seeded entity graph of 80
people, 30 organisations, 20 cities with their countries and 40 products (works_at, born_in,
lives_in, located_in, founded_by, made_by, in_country), one memory per fact rendered by varied
English templates (360 memories), and every question whose chain of facts starts at an entity:
300 two-hop questions ("In which city is the company that Alice Moreau works for located?"
needs "Alice Moreau works for Vantex" and "Vantex is based in Lyon") and 240 three-hop ones.
Both sides use the default embedder (all-MiniLM-L6-v2 in the kernel) over one store, filled
through controller.index_many (notes plus MENTIONS edges to their entities in mem.graph).
recall@5 = the fraction of a question's supporting memories among the top 5 returned, averaged.
The controller runs with its defaults (RagConfig) and depth = the question's hops; rows below
it switch parts off (ppr_weight=0: PageRank unused in ranking; depth=1: sub-queries only).

## Supporting-memory recall@5 (seed 2024, 360 memories; 2-core shared AMD EPYC, native kernel)

                                          2 hops (300 q)    3 hops (240 q)
    dense: mem.recall(question, k=5)          0.517             0.343
    controller (defaults)                     0.878             0.432
      lift                                  +36.2 points       +8.9 points
    controller, ppr_weight=0                  0.868             0.444
    controller, depth=1 (sub-queries only)    0.517             0.339
    ms per question (controller)              19                24

In Chromium (the same store built by db.rag.indexMany in the site's worker, MiniLM there;
the questions through db.rag.query): controller recall@5 0.878 and 0.432, and 540 of 540
answers are the native ids in order (indexing 4.1 s, 50 ms per question).

Indexing the 360 memories (one MiniLM call and one commit per 256, 550 graph nodes, 720
MENTIONS edges) takes 1.7 s. Target (issue 20): >= 15 points at two hops: met (+36.2).
The gain is the graph hop: without it (depth=1) the decomposed sub-queries find what the
single query finds. PageRank picks which entities to follow and takes ppr_weight of the final
score; in the score it adds 1 point at two hops and costs 1.2 at three (the ppr_weight=0 row).
Three hops gain less: the relation left to ask after two hops ("In which country is the
company based") matches the second hop's kind of fact ("Umbrio is based in Porto") as well
as the third ("Porto lies in Portugal"). Tried and dropped: penalising a follow-up memory's
likeness to the memory it was reached from (an MMR term) lost 3-12 points at two hops.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import agentdb.memory  # noqa: E402
from agentdb.rag import RetrievalController  # noqa: E402

import multihop_corpus  # noqa: E402


def recall_at(found, needed, k=5):
    return len(set(needed) & set(found[:k])) / len(needed)


def measure(rag, mem, questions, ids, **settings):
    """(dense recall@5, controller recall@5, controller ms per question, the controller's ids
    per question) over `questions`."""
    rag.update_config(cache=False, **settings)
    dense = ctrl = 0.0
    found = []
    start = time.perf_counter()
    for q in questions:
        found.append(rag.query(q.text, depth=settings.get("depth", q.hops)).ids)
        ctrl += recall_at(found[-1], [ids[i] for i in q.support])
    ms = (time.perf_counter() - start) * 1000 / len(questions)
    for q in questions:
        dense += recall_at([h["id"] for h in mem.recall(q.text, k=5)], [ids[i] for i in q.support])
    rag.update_config(**{name: getattr(type(rag.config)(), name) for name in settings})
    return dense / len(questions), ctrl / len(questions), ms, found


BROWSER_RUN = """async ([texts, questions]) => {
    const db = await AgentDB.open("bench-rag", { dim: 384, metric: "cosine" });
    await db.rag.updateConfig({ cache: false });
    let t = performance.now();
    const ids = await db.rag.indexMany(texts);
    const indexS = (performance.now() - t) / 1000;
    const found = [];
    t = performance.now();
    for (const [q, hops] of questions) found.push((await db.rag.query(q, { depth: hops })).evidence.map((e) => e.id));
    return { ids, indexS, found, ms: (performance.now() - t) / questions.length };
}"""


def browser(corpus, questions):
    """The same store and questions in Chromium (db.rag in the site's worker, MiniLM there):
    {ids, indexS, found (the controller's ids per question), ms}."""
    sys.path.insert(0, str(ROOT / "build"))
    sys.path.insert(0, str(ROOT / "e2e"))
    sys.path.insert(0, str(ROOT / "bench"))
    import build_site
    from site_server import app_page

    with app_page(build_site.build()) as page:
        return page.evaluate(BROWSER_RUN, [corpus.texts(), [[q.text, q.hops] for q in questions]])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--limit", type=int, default=None, help="questions per hop count (default: all)")
    ap.add_argument("--no-browser", action="store_true", help="skip the Chromium run")
    args = ap.parse_args(argv)
    corpus = multihop_corpus.build(seed=args.seed, limit=args.limit)
    mem = agentdb.memory.open(cache_size=0)
    rag = RetrievalController(mem, cache=False)
    start = time.perf_counter()
    ids = rag.index_many(corpus.texts())
    print(f"indexed {len(ids)} memories in {time.perf_counter() - start:.1f} s "
          f"({mem.graph.stats()['nodes']} graph nodes, {mem.graph.stats()['edges']} MENTIONS edges)")
    rows = {}
    for hops in (2, 3):
        qs = corpus.questions(hops)
        dense, ctrl, ms, found = measure(rag, mem, qs, ids)
        rows[hops] = {"n": len(qs), "dense": dense, "controller": ctrl, "ms": ms, "found": found,
                      "ppr_weight=0": measure(rag, mem, qs, ids, ppr_weight=0.0)[1],
                      "depth=1": measure(rag, mem, qs, ids, depth=1)[1]}
    heads = [f"{hops} hops ({row['n']} q)" for hops, row in rows.items()]
    print(f"\n{'supporting-memory recall@5':42}" + "".join(f"{h:>18}" for h in heads))
    lines = [("dense: mem.recall(question, k=5)", "dense", "{:.3f}"), ("controller (defaults)", "controller", "{:.3f}"),
             ("  lift", None, None), ("controller, ppr_weight=0", "ppr_weight=0", "{:.3f}"),
             ("controller, depth=1 (sub-queries only)", "depth=1", "{:.3f}"),
             ("ms per question (controller)", "ms", "{:.0f}")]
    for label, key, fmt in lines:
        cells = [f"{(r['controller'] - r['dense']) * 100:+.1f} points" if key is None else fmt.format(r[key])
                 for r in rows.values()]
        print(f"{label:42}" + "".join(f"{c:>18}" for c in cells))
    lift = (rows[2]["controller"] - rows[2]["dense"]) * 100
    if not args.no_browser:
        questions = corpus.questions(2) + corpus.questions(3)
        got = browser(corpus, questions)
        native = rows[2]["found"] + rows[3]["found"]
        same = sum(a == b for a, b in zip(got["found"], native))
        page = {hops: sum(recall_at(f, [ids[i] for i in q.support]) for q, f in zip(questions, got["found"])
                          if q.hops == hops) / rows[hops]["n"] for hops in (2, 3)}
        print(f"\nChromium (db.rag in the worker): indexed in {got['indexS']:.1f} s, {got['ms']:.0f} ms per question; "
              f"controller recall@5 {page[2]:.3f} (2 hops), {page[3]:.3f} (3 hops); "
              f"{same} of {len(questions)} answers the native ids in order{'' if got['ids'] == ids else '; NOTE ids differ'}")
    print(f"\ntarget: >= 15 points at two hops: {'met' if lift >= 15 else 'NOT met'} ({lift:+.1f})")
    return rows


if __name__ == "__main__":
    main()
