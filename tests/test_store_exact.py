"""Exact search equals a brute-force float64 reference: every metric, with and without
filters, after deletes and after compact, on both backends."""
import numpy as np
import pytest

import agentdb
import reference as ref
from store_data import clustered, metadata

METRICS = ("cosine", "dot", "l2")
FILTERS = [None, {"kind": "note"}, {"year": {"ge": 2010, "lt": 2020}}, {"or": [{"kind": "idea"}, {"pinned": True}]},
           {"not": {"kind": {"in": ["note", "todo"]}}}]


def check(db, data, ids, q, metric, where, k=10):
    allowed = np.array([ident in db and (where is None or ref.matches(md, where))
                        for ident, md in zip(ids, data["meta"])])
    want_rows, want_scores = ref.knn(q, data["x"], metric, k, allowed)
    got = db.query(q, k=k, where=where, exact=True)
    assert got.exact
    assert len(got) == min(k, allowed.sum())
    got_scores = np.asarray(got.scores, np.float64)
    assert np.allclose(got_scores, want_scores, rtol=1e-4, atol=1e-4)
    # the same ids, except where float32 rounding reorders near-equal scores
    want_ids = [ids[r] for r in want_rows]
    if got.ids != want_ids:
        gaps = np.abs(np.diff(want_scores))
        assert gaps.min() < 1e-4, (got.ids, want_ids)
    for hit in got:
        assert hit.metadata == data["meta"][ids.index(hit.id)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    n, dim = 1500, 33
    return {"x": clustered(rng, n, dim), "meta": metadata(rng, n), "q": clustered(rng, 5, dim), "dim": dim}


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("where", FILTERS)
def test_exact_matches_reference(kernel, data, metric, where):
    db = agentdb.open(dim=data["dim"], metric=metric, kernel=kernel)
    ids = list(range(100, 100 + len(data["x"])))
    db.ingest(ids, data["x"], metadata=data["meta"])
    for q in data["q"]:
        check(db, data, ids, q, metric, where)


@pytest.mark.parametrize("metric", METRICS)
def test_exact_after_delete_and_compact(kernel, data, metric):
    db = agentdb.open(dim=data["dim"], metric=metric, kernel=kernel)
    ids = [f"doc-{i}" for i in range(len(data["x"]))]
    db.ingest(ids, data["x"], metadata=data["meta"])
    gone = ids[::3]
    assert db.delete(gone) == len(gone)
    assert db.delete(where={"kind": "log"}) > 0
    for where in FILTERS[:3]:
        check(db, data, ids, data["q"][0], metric, where)
    live_before = db.ids()
    stats = db.compact()
    assert stats["removed"] > len(gone) and stats["bytes_reclaimed"] > 0
    assert db.ids() == live_before and db.status()["deleted"] == 0
    for where in FILTERS:
        check(db, data, ids, data["q"][1], metric, where)


def test_upsert_replaces_vector_and_metadata(kernel):
    db = agentdb.open(dim=2, metric="l2", kernel=kernel)
    db.ingest([1, 2], [[0, 0], [5, 5]], metadata=[{"v": 1}, {"v": 2}])
    assert db.ingest([1], [[9, 9]], metadata=[{"v": 3}]) == {"accepted": 1, "replaced": 1, "deleted": 0}
    assert len(db) == 2 and db.status()["deleted"] == 1
    hit = db.query([9, 9], k=1)[0]
    assert (hit.id, hit.score, hit.metadata) == (1, 0.0, {"v": 3})
    assert db.query([0, 0], k=5, where={"v": 1}).ids == []
    assert db.get(1).vector.tolist() == [9.0, 9.0]


def test_query_batch_equals_single_queries(kernel, data):
    db = agentdb.open(dim=data["dim"], metric="dot", kernel=kernel)
    db.ingest(range(len(data["x"])), data["x"], metadata=data["meta"])
    batch = db.query_batch(data["q"], k=7, where={"kind": "todo"})
    for q, res in zip(data["q"], batch):
        single = db.query(q, k=7, where={"kind": "todo"})
        assert res.ids == single.ids and res.scores == single.scores


def test_hits_carry_rvf_style_distances(kernel):
    for metric, want in (("cosine", 0.0), ("dot", -1.0), ("l2", 0.0)):
        db = agentdb.open(dim=2, metric=metric, kernel=kernel)
        db.ingest([7], [[1, 0]])
        hit = db.query([1, 0], k=1)[0]
        assert hit.distance == pytest.approx(want)


def test_string_and_integer_ids(kernel):
    db = agentdb.open(dim=2, kernel=kernel)
    db.ingest(["a", "b"], [[1, 0], [0, 1]])
    assert db.query([1, 0], k=1).ids == ["a"] and "a" in db and db.status()["id_kind"] == "str"
    big = agentdb.open(dim=1, kernel=kernel)
    big.ingest([2 ** 64 - 1, 0], [[1], [2]])
    assert set(big.ids()) == {2 ** 64 - 1, 0}


def test_numpy_float64_and_nested_lists_are_accepted(kernel):
    db = agentdb.open(dim=3, metric="l2", kernel=kernel)
    db.ingest([1], np.array([[1.0, 2.0, 3.0]]))
    db.ingest([2], [[4, 5, 6]])
    db.ingest([3], np.array([[7, 8, 9]], dtype=np.int64))
    assert db.query([4, 5, 6], k=1).ids == [2]
    assert db.get(3).vector.tolist() == [7.0, 8.0, 9.0]
