"""The query planner: which candidates a query has (the filter's bitmap, kept for recent
filters), and which path answers it: the HNSW graph, an exact float32 scan (of a row subset
when the filter is selective) or a scan of the codes re-ranked exactly; a graph walk that
returns too few hits falls back to the scan. One QueryPlan carries a query's decisions."""
import array
import json
import math
from dataclasses import dataclass
from typing import Any

from ..kernel.buffers import as_view
from . import adapters, inputs
from .filters import FilterEvaluator, compile_filter
from .options import check_ef, check_k
from .results import Results

FILTER_CACHE = 32                # filters whose bitmaps are kept until the next write


@dataclass(frozen=True)
class QueryPlan:
    """One query's settings and candidates: k hits wanted, the bitmap of allowed rows and how
    many there are, whether a filter made it, the beam width and whether exact was asked."""

    k: int
    allowed: Any                 # bytearray bitmap of the candidate rows (the live bitmap unfiltered)
    n_allowed: int
    filtered: bool
    ef: int                      # the beam width of a graph walk (the store's ef_search by default)
    exact: bool                  # exact=True was asked: scan every candidate


def allowed(db, where):
    """(bitmap of live rows passing `where`, how many). Bitmaps of recent filters are kept
    until the next write: agents ask the same few filters again and again."""
    if where is None:
        return db._live, len(db._ids)
    try:
        key = json.dumps(where, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        key = None                           # not JSON (a set, nested too deep): compile_filter names it
    cached = db._filter_cache.get(key)
    if cached is not None and cached[0] == db.version:
        return cached[1], cached[2]
    node = compile_filter(where)
    bitmap = FilterEvaluator(db.kernel, db._meta, db._n_rows, db._live).evaluate(node)
    count = db.kernel.bitmap_count(bitmap)
    if key is not None:
        if len(db._filter_cache) >= FILTER_CACHE:
            db._filter_cache.pop(next(iter(db._filter_cache)))
        db._filter_cache[key] = (db.version, bitmap, count)
    return bitmap, count


def plan(db, k, where, ef, exact):
    """The QueryPlan of a query against `where` (evaluated now, or taken from the cache)."""
    bitmap, count = allowed(db, where)
    return QueryPlan(k, bitmap, count, where is not None, ef or db.ef_search, exact)


def prepare_query(db):
    """The taken query, checked and (for cosine) normalised into the query slot, for the
    scans (a graph search prepares it in the same kernel call)."""
    if not math.isfinite(db._query_preparer()):
        db.kernel.refuse_query(db._query_in)


def graph_serves(db, p):
    """Whether the graph answers: not exact queries, nor few candidates (scanning those is
    cheaper than a walk that must step over the rest)."""
    return db._index is not None and not p.exact and p.n_allowed > max(
        db.brute_force_rows, math.isqrt(db.brute_force_rows * db._n_rows))


def limit(db, p):
    """The bitmap a graph walk or scan checks: none when every row is allowed."""
    return p.allowed if p.n_allowed < db._n_rows else None


def exact_scan(db, q, p):
    """(rows, scores) of an exact float32 scan of the candidates."""
    rows_buf = db._vectors.buf.head(db._n_rows * db.dim)
    metric = db._scan_metric
    subset = None
    if p.filtered and p.n_allowed * 4 < db._n_rows:   # few rows: score only those
        subset = db.kernel.bitmap_rows(p.allowed, db._n_rows)
        scores = db.kernel.scan(q, rows_buf, dim=db.dim, metric=metric, subset=subset)
    else:
        scores = db.kernel.scan(q, rows_buf, dim=db.dim, metric=metric, bitmap=limit(db, p))
    idx, top = db.kernel.topk(scores, p.k, largest=db._metric.larger_is_closer)
    rows = [subset[i] for i in idx] if subset is not None else list(idx)
    return rows, top


def compressed(db, q, p):
    """Scores every candidate on its codes, then (with the vectors kept) re-ranks the best
    k * rerank exactly; without them the code scores are the answer."""
    k, n_allowed = p.k, p.n_allowed
    approx = db._quant.scores(q, db._n_rows, limit(db, p))
    largest = db._metric.larger_is_closer
    if not db.keep_vectors:
        idx, top = db.kernel.topk(approx, k, largest=largest)
        return list(idx), top
    candidates, _ = db.kernel.topk(approx, min(n_allowed, max(k * db._quant.rerank, k + 16)), largest=largest)
    rows_buf = db._vectors.buf.head(db._n_rows * db.dim)
    scores = db.kernel.scan(q, rows_buf, dim=db.dim, metric=db._scan_metric, subset=candidates)
    idx, top = db.kernel.topk(scores, k, largest=largest)
    return [candidates[i] for i in idx], top


def search(db, p):
    """(rows, scores, exact?) for the taken query."""
    if graph_serves(db, p):
        rows, scores = db._index.search(db._vectors.buf, db._query_in, db._query_slot, p.k, p.ef,
                                        limit(db, p))
        if len(rows) >= min(p.k, p.n_allowed):
            return rows, scores, False
    else:
        prepare_query(db)
    return scan(db, p)


def scan(db, p):
    """(rows, scores, exact?) by scanning for the prepared query: codes serve large candidate
    sets (and every query when only codes are kept), the float32 rows the rest."""
    q = db._query_slot
    if db._quant is not None and (not db.keep_vectors or not p.exact and p.n_allowed > db.brute_force_rows):
        rows, scores = compressed(db, q, p)
        return rows, scores, False
    rows, scores = exact_scan(db, q, p)
    return rows, scores, True


def results(db, rows, scores, was_exact):
    """The Results of the given rows and scores."""
    id_of_row = db._ids.id_of_row
    return Results([id_of_row[r] for r in rows], scores, db._meta.stored_of(rows), db.metric, was_exact)


def answer(db, p):
    """Results for the taken query under a plan."""
    if p.n_allowed == 0:
        prepare_query(db)           # a bad query is refused even where nothing can match
        return Results([], array.array("f"), [], db.metric, True)
    return results(db, *search(db, p))


def query(db, vector, k, where, ef, exact, adapt=False):
    """VectorStore.query()."""
    check_k(k), check_ef(ef)
    with db._lock:
        if adapt:
            vector = adapters.adapt(db, inputs.vector_view(db, vector, 1, "query"), 1, adapt)
        inputs.take_query(db, vector)
        return answer(db, plan(db, k, where, ef, exact))


def query_batch(db, vectors, k, where, ef, exact, adapt=False):
    """VectorStore.query_batch(): the filter evaluated once, every graph walk in one kernel call."""
    check_k(k), check_ef(ef)
    flat = inputs.vector_view(db, vectors, len(vectors) if isinstance(vectors, (list, tuple)) else
                              len(as_view(vectors, "f", name="vectors")) // db.dim)
    dim, m = db.dim, len(flat) // db.dim
    with db._lock:
        if adapt and m:
            flat = memoryview(adapters.adapt(db, flat, m, adapt))
        p = plan(db, k, where, ef, exact)

        def alone(i):                              # query i as query() answers it
            db._query_in.write(flat[i * dim:(i + 1) * dim])
            return answer(db, p)

        if p.n_allowed == 0 or not graph_serves(db, p):
            return [alone(i) for i in range(m)]
        found = db._index.search_batch(db._vectors.buf, flat, db._query_slot, k, p.ef, limit(db, p)) if m else []
        # a walk that met too few allowed rows: query()'s own path
        return [alone(i) if len(rows) < min(k, p.n_allowed) else results(db, rows, scores, False)
                for i, (rows, scores) in enumerate(found)]
