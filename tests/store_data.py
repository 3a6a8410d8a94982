"""Generated data for store tests: clustered vectors and varied metadata (fixed seeds)."""
import numpy as np

KINDS = ["note", "todo", "idea", "log"]


def clustered(rng, n, dim, clusters=40, spread=0.35):
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    return (centers[labels] + spread * rng.standard_normal((n, dim))).astype(np.float32)


def dataset(seed, n, dim, n_queries, clusters, spread):
    """(vectors, queries, metadata): the queries are held-out points of the same clusters."""
    rng = np.random.default_rng(seed)
    x = clustered(rng, n + n_queries, dim, clusters=clusters, spread=spread)
    return x[:n], x[n:], metadata(rng, n)


def metadata(rng, n):
    out = []
    for i in range(n):
        md = {"kind": KINDS[rng.integers(0, 4)], "year": int(rng.integers(2000, 2026))}
        if rng.random() < 0.3:
            md["score"] = float(np.round(rng.random(), 3))
        if rng.random() < 0.2:
            md["pinned"] = bool(rng.random() < 0.5)
        if rng.random() < 0.1:
            md["year"] = str(md["year"])          # a string in a numeric field: a different kind
        if rng.random() < 0.05:
            md["tags"] = ["a", "b"]               # stored, not filterable
        out.append(md)
    return out


def recall(db, queries, k=10, **kw):
    """Mean recall@k of the store's default search against its exact search."""
    hits = sum(len(set(db.query(q, k=k, **kw).ids) & set(db.query(q, k=k, exact=True, **kw).ids)) for q in queries)
    return hits / (k * len(queries))
