"""Negative mining: hard and semi-hard semantics against a NumPy reference, the
distance-weighted draw against its density, the same bits on every backend, and the same
store negatives whether the exact scan or the HNSW graph serves them."""
import doctest
import math

import numpy as np
import pytest

import agentdb
from agentdb.errors import ArgumentError, DimensionError, NonFiniteError, UnknownIdError
from agentdb.kernel import load
from agentdb.learn import mining
from store_data import clustered
from support import SEED, bits, f32

DIM = 17


def data(rng, m=7, n=203, dim=DIM):
    anchors, candidates = f32(rng.standard_normal((m, dim))), f32(rng.standard_normal((n, dim)))
    positives = [int(j) for j in rng.integers(0, n, m)]
    positives[1] = [positives[1], int((positives[1] + 5) % n)]          # an anchor with two positives
    return anchors, candidates, positives


def as_sets(positives):
    return [{p} if isinstance(p, int) else set(p) for p in positives]


def kernel_scores(kernel, anchors, candidates, metric):
    return np.frombuffer(kernel.scan_batch(anchors, candidates, dim=anchors.shape[1], metric=metric),
                         dtype=np.float32).reshape(len(anchors), len(candidates))


def closeness_order(row, larger):
    """Candidate indices closest first, ties to the lower index (topk's rule)."""
    return np.lexsort((np.arange(len(row)), -row if larger else row))


def reference_hard(scores, positives, count, larger):
    out = []
    for row, p in zip(scores, as_sets(positives)):
        out.append([int(j) for j in closeness_order(row, larger) if int(j) not in p][:count])
    return out


def reference_semi_hard(scores, positives, count, margin, larger):
    out = []
    for row, p in zip(scores, as_sets(positives)):
        own = [float(row[j]) for j in p]
        if larger:
            far = min(own)
            window = lambda s: far - margin < s < far            # noqa: E731
        else:
            far = max(own)
            window = lambda s: far < s < far + margin            # noqa: E731
        out.append([int(j) for j in closeness_order(row, larger) if int(j) not in p and window(float(row[j]))][:count])
    return out


def f64_scores(anchors, candidates, metric):
    a, c = anchors.astype(np.float64), candidates.astype(np.float64)
    if metric == "cos":
        a, c = a / np.linalg.norm(a, axis=1, keepdims=True), c / np.linalg.norm(c, axis=1, keepdims=True)
    if metric == "l2":
        return ((a[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    return a @ c.T


@pytest.mark.parametrize("metric", ["dot", "cos", "l2"])
def test_hard_negatives_are_the_closest_non_positives(kernel, rng, metric):
    anchors, candidates, positives = data(rng)
    got = mining.hard_negatives(anchors, candidates, positives, dim=DIM, count=9, metric=metric, kernel=kernel)
    larger = metric != "l2"
    scores = kernel_scores(kernel, anchors, candidates, metric)
    assert [list(ix) for ix in got.indices] == reference_hard(scores, positives, 9, larger)
    exact = f64_scores(anchors, candidates, metric)
    for i, (ix, sc) in enumerate(zip(got.indices, got.scores)):
        np.testing.assert_allclose(np.asarray(sc), exact[i, list(ix)], rtol=1e-5, atol=1e-5)
        rest = [j for j in range(len(candidates)) if j not in ix and j not in as_sets(positives)[i]]
        worst = min(sc) if larger else max(sc)
        assert all((exact[i, j] <= worst + 1e-5) if larger else (exact[i, j] >= worst - 1e-5) for j in rest)


@pytest.mark.parametrize("metric,margin", [("cos", 0.2), ("dot", 1.5), ("l2", 4.0)])
def test_semi_hard_negatives_lie_between_the_positive_and_the_margin(kernel, rng, metric, margin):
    anchors, candidates, positives = data(rng)
    got = mining.semi_hard_negatives(anchors, candidates, positives, dim=DIM, count=6, margin=margin, metric=metric,
                                     kernel=kernel)
    scores = kernel_scores(kernel, anchors, candidates, metric)
    want = reference_semi_hard(scores, positives, 6, margin, metric != "l2")
    assert [list(ix) for ix in got.indices] == want
    assert sum(map(len, want)) >= 5                                    # the data reaches the window
    for ix, sc, i in zip(got.indices, got.scores, range(len(want))):
        assert np.array_equal(bits(sc), bits(f32(scores[i, list(ix)])))


def test_semi_hard_may_find_none(kernel):
    # the positive is the farthest candidate: nothing is farther
    got = mining.semi_hard_negatives([1, 0], [1, 0, 0, 1, 0.5, 0.5], [1], dim=2, count=3, margin=0.5,
                                     metric="cos", kernel=kernel)
    assert got.indices[0].tolist() == []


def test_distance_weighted_draws_in_proportion_to_the_inverse_density(kernel, rng):
    dim = 9
    anchor = f32(rng.standard_normal((1, dim)))
    candidates = f32(rng.standard_normal((60, dim)))
    got = mining.distance_weighted(anchor, candidates, [3], dim=dim, count=30000, seed=SEED, kernel=kernel)
    drawn = np.bincount(np.asarray(got.indices[0]), minlength=60)
    a = anchor[0] / np.linalg.norm(anchor[0])
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    d = np.linalg.norm(c - a, axis=1).clip(0.5)
    w = d ** (2.0 - dim) * (1 - d * d / 4) ** ((3.0 - dim) / 2)
    w[np.linalg.norm(c - a, axis=1) > 1.4] = 0
    w[3] = 0
    p = w / w.sum()
    assert drawn[3] == 0 and drawn[p == 0].sum() == 0
    assert (p > 0).sum() >= 5                                         # the data really spreads the weights
    np.testing.assert_allclose(drawn / 30000, p, atol=0.012)


def test_distance_weighted_is_seeded_and_falls_back_to_uniform(kernel):
    anchors, candidates = [[1, 0, 0, 0]], [[1, 0, 0, 0], [-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0]]
    # every non-positive is beyond max_distance: a uniform draw among them
    got = mining.distance_weighted(anchors, candidates, [0], dim=4, count=3000, seed=5, kernel=kernel)
    counts = np.bincount(np.asarray(got.indices[0]), minlength=4)
    assert counts[0] == 0 and all(abs(c - 1000) < 120 for c in counts[1:])
    again = mining.distance_weighted(anchors, candidates, [0], dim=4, count=3000, seed=5, kernel=kernel)
    other = mining.distance_weighted(anchors, candidates, [0], dim=4, count=3000, seed=6, kernel=kernel)
    assert again.indices == got.indices != other.indices


def test_random_negatives_skip_the_positives_and_are_seeded(kernel):
    got = mining.random_negatives(50, [3, [0, 1, 2], 49], count=10, seed=7, kernel=kernel)
    for ix, p in zip(got.indices, [{3}, {0, 1, 2}, {49}]):
        assert len(set(ix)) == 10 and not set(ix) & p and max(ix) < 50
    assert mining.random_negatives(50, [3, [0, 1, 2], 49], count=10, seed=7, kernel=kernel).indices == got.indices
    assert mining.random_negatives(50, [3, [0, 1, 2], 49], count=10, seed=8, kernel=kernel).indices != got.indices
    few = mining.random_negatives(4, [[0, 2]], count=10, seed=1, kernel=kernel).indices[0]
    assert sorted(few) == [1, 3]


def test_in_batch_negatives_are_the_other_positives_without_duplicates(kernel):
    got = mining.in_batch(["a", "b", "a", "c", "b"], kernel=kernel)
    assert [list(ix) for ix in got.indices] == [[1, 3, 4], [0, 2, 3], [1, 3, 4], [0, 1, 2, 4], [0, 2, 3]]
    assert [list(ix) for ix in mining.in_batch([7], kernel=kernel).indices] == [[]]


def every_miner(kernel, seed):
    rng = np.random.default_rng(seed)
    anchors, candidates, positives = data(rng, m=5, n=97, dim=33)
    kw = dict(dim=33, kernel=kernel)
    return [mining.hard_negatives(anchors, candidates, positives, count=8, metric="cos", **kw),
            mining.hard_negatives(anchors, candidates, positives, count=8, metric="l2", **kw),
            mining.semi_hard_negatives(anchors, candidates, positives, count=8, margin=0.3, **kw),
            mining.distance_weighted(anchors, candidates, positives, count=40, seed=seed, **kw),
            mining.random_negatives(97, positives, count=8, seed=seed, kernel=kernel),
            mining.in_batch([str(p) for p in positives], kernel=kernel)]


def test_every_miner_gives_the_same_bits_on_every_backend(kernel):
    native = load("native")
    for got, want in zip(every_miner(kernel, SEED), every_miner(native, SEED)):
        assert got.indices == want.indices
        if want.scores is not None:
            assert [bits(s).tolist() for s in got.scores] == [bits(s).tolist() for s in want.scores]


def graph_store(kernel, vectors):
    db = agentdb.open(dim=vectors.shape[1], metric="cosine", brute_force_rows=0, seed=11, kernel=kernel)
    db.ingest([f"doc{i}" for i in range(len(vectors))], vectors)
    return db


def test_store_negatives_are_the_same_from_the_exact_scan_and_the_graph(kernel):
    rng = np.random.default_rng(SEED)
    vectors = clustered(rng, 2000 + 24, 32, clusters=30, spread=0.4)
    db, queries = graph_store(kernel, vectors[:2000]), vectors[2000:]
    nearest = [db.query(q, k=3, exact=True).ids for q in queries]
    positives = [ids[0] if i % 2 else ids[:2] for i, ids in enumerate(nearest)]     # one or two per query
    scan = mining.store_negatives(db, queries, positives, count=10, exact=True)
    graph = mining.store_negatives(db, queries, positives, count=10, ef=2000)
    assert scan.exact and not graph.exact
    assert scan.ids == graph.ids
    assert [bits(s).tolist() for s in scan.scores] == [bits(s).tolist() for s in graph.scores]
    # the same negatives as mining the vectors themselves (the store keeps unit rows: cosine)
    rows = mining.hard_negatives(queries, vectors[:2000], [[int(p[3:]) for p in ([p] if isinstance(p, str) else p)]
                                                             for p in positives], dim=32, count=10, metric="cos",
                                 kernel=kernel)
    assert scan.ids == [[f"doc{j}" for j in ix] for ix in rows.indices]
    for ids, p in zip(scan.ids, positives):
        assert len(ids) == 10 and not set(ids) & set([p] if isinstance(p, str) else p)


def test_store_negatives_honour_a_filter():
    db = agentdb.open(dim=3)
    db.ingest([1, 2, 3, 4], [[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0], [0, 1, 0]],
              metadata=[{"k": "a"}, {"k": "b"}, {"k": "a"}, {"k": "a"}])
    got = mining.store_negatives(db, [[1, 0, 0]], [1], count=2, where={"k": "a"})
    assert got.ids == [[3, 4]] and got.exact


@pytest.mark.parametrize("call,cls,message", [
    (lambda k: mining.hard_negatives([1, 0], [1, 0], [0], dim=2, count=0, kernel=k), ArgumentError, "count"),
    (lambda k: mining.hard_negatives([1, 0], [1, 0], [1], dim=2, count=1, kernel=k), ArgumentError, "0..0"),
    (lambda k: mining.hard_negatives([1, 0], [1, 0], [0, 0], dim=2, count=1, kernel=k), ArgumentError, "2 positives"),
    (lambda k: mining.hard_negatives([1, 0, 0], [1, 0], [0], dim=2, count=1, kernel=k), DimensionError, "anchors"),
    (lambda k: mining.hard_negatives([1, math.nan], [1, 0], [0], dim=2, count=1, kernel=k), NonFiniteError,
     "element 1"),
    (lambda k: mining.hard_negatives([1, 0], [1, 0], [0], dim=2, count=1, metric="cosh", kernel=k), Exception,
     "unknown metric"),
    (lambda k: mining.semi_hard_negatives([1, 0], [1, 0], [0], dim=2, count=1, margin=0, kernel=k), ArgumentError,
     "margin"),
    (lambda k: mining.store_negatives(agentdb.open(dim=2, kernel=k), [[1, 0]], ["x"], count=1), UnknownIdError,
     "'x' is not in the store"),
])
def test_mistakes_raise_typed_errors(kernel, call, cls, message):
    with pytest.raises(cls, match=message):
        call(kernel)


def test_docstring_examples_run():
    assert doctest.testmod(mining).failed == 0
