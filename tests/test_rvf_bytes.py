"""to_bytes() / open_bytes(): a store travels as .rvf bytes and answers the same, bit for bit,
on every backend; the real tools open those bytes (and keep our META through compaction)."""
from pathlib import Path

import numpy as np
import pytest

import agentdb
from agentdb import CorruptFileError
from agentdb.rvf import read
from agentdb.rvf import segments as seg
from support import HOST_BACKENDS
from store_data import dataset
from test_rvf_interop import PACKAGES, real

WHERES = [None, {"kind": "note"}, {"year": {"ge": 2015}}, {"not": {"kind": {"in": ["idea", "log"]}}}]


def answers(db, queries):
    return [[(r.ids, r.scores.tobytes(), r.metadata) for r in db.query_batch(queries, k=8, where=w)] for w in WHERES]


@pytest.fixture(scope="module")
def data():
    return dataset(31, 3000, 24, 6, clusters=20, spread=0.4)


@pytest.mark.parametrize("metric", ["cosine", "dot", "l2"])
@pytest.mark.parametrize("string_ids", [False, True])
def test_round_trip_answers_the_same_on_every_backend(data, metric, string_ids):
    x, queries, meta = data
    ids = [f"doc-{i}" for i in range(len(x))] if string_ids else list(range(10, 10 + len(x)))
    src = agentdb.open(dim=24, metric=metric, m=8, ef_construction=64, kernel=agentdb.kernel.load("native"))
    src.ingest(ids, x, metadata=meta)
    src.delete(ids[::5])
    src.ingest(ids[1:3], x[100:102], metadata=[{"kind": "moved"}, {"kind": "moved"}])   # upserts
    want = answers(src, queries)
    data_bytes = src.to_bytes()
    for backend in HOST_BACKENDS:
        db = agentdb.open_bytes(data_bytes, kernel=agentdb.kernel.load(backend))
        assert len(db) == len(src) and db.status()["metric"] == metric and db.status()["index"]["m"] == 8
        assert answers(db, queries) == want
        assert db.to_bytes() == data_bytes          # stable: the same bytes again, on either backend
    assert db.query(queries[0], k=3, where={"kind": "moved"}).ids[0] in ids[1:3]


def test_codes_only_store_round_trips_its_decoded_vectors(data):
    x, queries, _ = data
    src = agentdb.open(dim=24, metric="l2", compression="scalar", index="flat", keep_vectors=False)
    src.ingest(range(len(x)), x)
    db = agentdb.open_bytes(src.to_bytes())
    assert db.status()["compression"] == "scalar" and not db.status()["keep_vectors"]
    assert len(db) == len(x)
    overlap = np.mean([len(set(db.query(q, k=10).ids) & set(src.query(q, k=10).ids)) / 10 for q in queries])
    assert overlap >= 0.8


@pytest.mark.parametrize("package", PACKAGES)
def test_real_tools_open_our_bytes_and_keep_our_meta_through_compaction(data, package, tmp_path):
    x, queries, meta = data
    src = agentdb.open(dim=24, metric="l2", index="flat")
    src.ingest(range(500), x[:500], metadata=meta[:500])
    path = tmp_path / "ours.rvf"
    path.write_bytes(src.to_bytes())
    q = queries[0]
    status, hits, segs, _ = real(package, [{"op": "open", "path": str(path)}, {"op": "status"},
                                           {"op": "query", "vector": q.tolist(), "k": 5}, {"op": "segments"},
                                           {"op": "delete", "ids": [hit.id for hit in src.query(q, k=2)]}])[1:]
    assert status["totalVectors"] == 500
    assert [h["id"] for h in hits] == src.query(q, k=5).ids
    assert sum(1 for s in segs if s["segType"] in ("meta", "unknown(0x07)")) == 3     # options, records, seal
    real(package, [{"op": "open", "path": str(path)}, {"op": "compact"}])
    back = agentdb.open_bytes(path.read_bytes())
    assert len(back) == 498 and back.status()["metric"] == "l2"
    for ident in back.ids()[:50]:
        assert back.get(ident).metadata == meta[ident]


def test_real_tool_files_open_with_integer_ids_and_no_metadata(tmp_path):
    path = str(tmp_path / "real.rvf")
    x = np.random.default_rng(0).standard_normal((20, 6)).astype(np.float32)
    real(PACKAGES[1], [{"op": "create", "path": path, "dim": 6, "metric": "cosine"},
                       {"op": "ingest", "vectors": x.ravel().tolist(), "ids": list(range(1, 21))}])
    db = agentdb.open_bytes(Path(path).read_bytes())
    assert db.status()["metric"] == "cosine" and sorted(db.ids()) == list(range(1, 21))
    assert db.get(5).metadata == {} and db.query(x[4], k=1).ids == [5]


def test_corrupt_meta_is_refused(data):
    src = agentdb.open(dim=24)
    src.ingest([1], data[0][:1], metadata=[{"a": 1}])
    raw = bytearray(src.to_bytes())
    metas = [s for s in read(agentdb.kernel.load(), bytes(raw)).segments if s.seg_type == seg.META]
    records = metas[1]                                          # options, records, seal
    at = raw.index(b"{\"meta\"", records.payload_offset)
    raw[at] = ord("[")
    with pytest.raises(CorruptFileError, match="META segment .* fails its content hash"):
        agentdb.open_bytes(bytes(raw))
    # the same damage under a valid CRC (a buggy writer): the JSON check still refuses it
    raw[records.offset:records.end] = seg.pack(agentdb.kernel.load(), seg.META, records.seg_id,
                                               bytes(raw[records.payload_offset:records.end]))
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        agentdb.open_bytes(bytes(raw))


def test_unstorable_metadata_is_refused_at_ingest():
    db = agentdb.open(dim=1)
    with pytest.raises(TypeError, match=r"metadata\[0\] cannot be stored"):
        db.ingest([1], [[1.0]], metadata=[{"when": object()}])
    assert len(db) == 0
