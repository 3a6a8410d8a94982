"""Compressed stores: int8 scalar and product codes, searched on codes and re-ranked with
exact distances, or codes alone; real byte counts; the same answers on both backends."""
import numpy as np
import pytest

import agentdb
from support import HOST_BACKENDS
from store_data import dataset, recall

N, DIM = 4000, 64


@pytest.fixture(scope="module")
def data():
    return dataset(8, N, DIM, 30, clusters=30, spread=0.3)


@pytest.mark.parametrize("compression,floor", [("scalar", 0.99), ("product", 0.75)])
@pytest.mark.parametrize("metric", ["cosine", "l2", "dot"])
def test_reranked_search_finds_the_exact_neighbours(kernel, data, compression, floor, metric):
    x, queries, meta = data
    db = agentdb.open(dim=DIM, metric=metric, compression=compression, index="flat", kernel=kernel)
    db.ingest(range(N), x, metadata=meta)
    assert not db.query(queries[0], k=10).exact
    assert recall(db, queries) >= floor
    assert recall(db, queries, where={"kind": {"ne": "log"}}) >= floor
    status = db.status()
    per_row = DIM if compression == "scalar" else DIM // 8
    assert status["bytes"]["codes"] >= N * per_row and status["bytes"]["vectors"] == N * DIM * 4


@pytest.mark.parametrize("compression,code_bytes", [("scalar", DIM + 4), ("product", DIM // 8)])
def test_codes_only_stores_are_smaller_and_still_search(kernel, data, compression, code_bytes):
    x, queries, _ = data
    db = agentdb.open(dim=DIM, metric="l2", compression=compression, index="flat", keep_vectors=False,
                      kernel=kernel)
    db.ingest(range(N), x)
    status = db.status()["bytes"]
    # per row: 64 code bytes + a 4-byte norm for L2 (3.8x smaller than float32), or 8 (32x); plus fixed parameters
    fixed = 8 * DIM if compression == "scalar" else 4 * 256 * DIM
    assert status["vectors"] == 0 and status["codes"] == N * code_bytes + fixed
    exact = agentdb.open(dim=DIM, metric="l2", index="flat", kernel=kernel)
    exact.ingest(range(N), x)
    hits = sum(len(set(db.query(q, k=10).ids) & set(exact.query(q, k=10).ids)) for q in queries) / (10 * len(queries))
    assert hits >= (0.9 if compression == "scalar" else 0.3)
    approx = np.asarray(db.get(5).vector)
    assert np.linalg.norm(approx - x[5]) < 0.5 * np.linalg.norm(x[5])


def test_compressed_store_survives_delete_upsert_and_compact(kernel, data):
    x, queries, meta = data
    db = agentdb.open(dim=DIM, metric="cosine", compression="scalar", index="flat", kernel=kernel)
    db.ingest(range(N), x, metadata=meta)
    db.delete(range(0, N, 2))
    db.ingest([1], x[2:3])                      # upsert row 1 with another vector
    before = [db.query(q, k=10).ids for q in queries[:5]]
    db.compact()
    assert [db.query(q, k=10).ids for q in queries[:5]] == before
    assert all(i % 2 for r in before for i in r)


def test_same_compressed_answers_on_every_backend(data):
    x, queries, _ = data
    out = []
    for backend in HOST_BACKENDS:
        db = agentdb.open(dim=DIM, metric="l2", compression="product", index="flat", keep_vectors=False,
                          kernel=agentdb.kernel.load(backend))
        db.ingest(range(1500), x[:1500])
        out.append([(r.ids, r.scores.tobytes()) for r in db.query_batch(queries[:10], k=5)])
    assert out[0] == out[1]


def test_codes_only_needs_compression_and_a_flat_index(kernel):
    with pytest.raises(ValueError, match="keep_vectors=False needs"):
        agentdb.open(dim=4, compression="scalar", keep_vectors=False, kernel=kernel)
    with pytest.raises(ValueError, match="keep_vectors=False needs"):
        agentdb.open(dim=4, index="flat", keep_vectors=False, kernel=kernel)


@pytest.mark.parametrize("compression, keep", [("scalar", True), ("scalar", False), ("product", True),
                                               ("product", False)])
def test_a_reopened_file_uses_the_quantizer_it_was_built_with(tmp_path, data, compression, keep):
    x, queries = data[0], data[1][:5]
    path = tmp_path / "q.rvf"
    options = {} if keep else {"index": "flat", "keep_vectors": False}
    with agentdb.open(path, dim=x.shape[1], metric="l2", compression=compression, **options) as db:
        db.ingest(range(300), x[:300] * 0.1)                     # trained on this small-scale batch
        db.ingest(range(300, 2500), x[300:2500])                 # then rows the parameters never saw
        before = [db.query(q, k=10) for q in queries]
    with agentdb.open(path, readonly=True) as again:
        after = [again.query(q, k=10) for q in queries]
        for b, a in zip(before, after):
            assert a.ids == b.ids and np.array_equal(np.asarray(a.scores), np.asarray(b.scores))
        segs = [s["type"] for s in again.segments()]
        assert segs.count("quant") == 1
    retrained = agentdb.open(dim=x.shape[1], metric="l2", compression=compression, **options)
    retrained.ingest(range(2500), np.concatenate([x[:300] * 0.1, x[300:2500]]))
    assert [retrained.query(q, k=10).ids for q in queries] != [b.ids for b in before] or keep
    copy = agentdb.open_bytes(agentdb.open(path, readonly=True).to_bytes())
    assert [copy.query(q, k=10).ids for q in queries] == [b.ids for b in before]
