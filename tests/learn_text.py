"""Real text with known relevance for db.learn(): docstring summaries (queries) and their
bodies (the documents), from tests/text_corpus.docstring_pairs, embedded by all-MiniLM-L6-v2
in our kernel. A control set asks for the same bodies in another style (the summary's first
four content words, as a search box gets them), never given as feedback. The vectors are
cached in tests/.cache (git-ignored): the same texts give the same file.

measure(seeds) is the proof of issue 18: recall@10 of held-out summaries before and after
db.learn on the others, and of the control queries; run this file to print it.
"""
import hashlib
import re
import sys
from pathlib import Path

import numpy as np

import agentdb
import text_corpus

CACHE = Path(__file__).resolve().parent / ".cache"
TRAIN = 1400                       # of ~1,930 pairs: the rest are held out
STOP = set("a an the of to in for and or is are be by with on as this that it its from at return returns".split())
LEARN = dict(hard_negatives=4, lr=1e-3, epochs=10, batch_size=64)


def keywords(text):
    words = [w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text) if w.lower() not in STOP]
    return " ".join(words[:4])


def corpus():
    """(summaries, bodies, keyword queries): three n x 384 float32 arrays, row i about pair i."""
    pairs = text_corpus.docstring_pairs(2000, seed=0)
    texts = [q for q, _ in pairs] + [d for _, d in pairs] + [keywords(q) for q, _ in pairs]
    key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"learn-text-{key}.npy"
    if not path.exists():
        from agentdb.embed.minilm import MiniLM

        CACHE.mkdir(exist_ok=True)
        vectors = np.frombuffer(MiniLM().embed(texts), np.float32).reshape(len(texts), 384)
        np.save(path.with_suffix(".tmp.npy"), vectors)
        path.with_suffix(".tmp.npy").rename(path)
    vectors = np.load(path)
    n = len(pairs)
    return vectors[:n], vectors[n:2 * n], vectors[2 * n:]


def recall_at_10(db, queries, rows, adapt):
    found = db.query_batch(queries[rows], k=10, exact=True, adapt=adapt)
    return float(np.mean([int(i) in hits.ids for hits, i in zip(found, rows)]))


def run(seed, kernel=None, data=None):
    """{held_before, held_after, control_before, control_after, store} for one split."""
    summaries, bodies, keyword_queries = data if data is not None else corpus()
    order = np.random.default_rng(seed).permutation(len(summaries))
    train, held = order[:TRAIN], order[TRAIN:]
    db = agentdb.open(dim=384, metric="cosine", kernel=kernel or agentdb.kernel.load())
    db.ingest(range(len(bodies)), bodies)
    before = recall_at_10(db, summaries, held, False), recall_at_10(db, keyword_queries, order, False)
    db.learn(summaries[train], [int(i) for i in train], seed=seed, **LEARN)
    after = recall_at_10(db, summaries, held, True), recall_at_10(db, keyword_queries, order, True)
    return {"held_before": before[0], "held_after": after[0], "control_before": before[1],
            "control_after": after[1], "store": db}


def measure(seeds=range(5)):
    data = corpus()
    return [{k: v for k, v in run(seed, data=data).items() if k != "store"} for seed in seeds]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    results = measure()
    lifts = np.array([r["held_after"] - r["held_before"] for r in results])
    control = np.array([r["control_after"] - r["control_before"] for r in results])
    for seed, r in enumerate(results):
        print(f"seed {seed}: held-out {r['held_before']:.3f} -> {r['held_after']:.3f}   "
              f"control {r['control_before']:.3f} -> {r['control_after']:.3f}")
    print(f"lift {100 * lifts.mean():.1f} ± {100 * lifts.std():.1f} points; control {100 * control.mean():+.1f} "
          f"(worst {100 * control.min():+.1f})")
