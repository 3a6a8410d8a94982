"""INDEX segments: a reopen adopts the stored HNSW graph instead of rebuilding it; a damaged,
inconsistent or foreign-dropped INDEX is rebuilt (deterministically, so answers are unchanged)
with a RecoveryWarning, never trusted and never silent."""
import re
import struct
import warnings

import pytest

import agentdb
from agentdb.persist import RecoveryWarning
from agentdb.rvf import read
from agentdb.rvf import segments as seg
from agentdb.store.hnsw import HnswIndex
from store_data import dataset
from test_rvf_interop import PACKAGES, real

N = 3000          # above the brute-force threshold, so queries walk the graph


@pytest.fixture(scope="module")
def data():
    return dataset(12, N, 16, 8, clusters=20, spread=0.4)


def graph_bytes(db):
    ix = db._index
    return tuple(bytes(memoryview(a.read()).cast("B")) for a in (ix.levels, ix.upper_off, ix.links0, ix.upper))


def answers(db, queries):
    out = [(r.ids, r.scores.tobytes(), r.exact) for r in db.query_batch(queries, k=10)]
    assert not any(exact for _, _, exact in out)
    return out


@pytest.fixture
def count_inserts(monkeypatch):
    inserted = []
    original = HnswIndex.add

    def add(self, vectors, count):
        inserted.append(count)
        return original(self, vectors, count)

    monkeypatch.setattr(HnswIndex, "add", add)
    return inserted


def build_file(path, data):
    x, _, meta = data
    db = agentdb.open(path, dim=16, metric="cosine", m=8, ef_construction=48)
    db.ingest(range(N), x, metadata=meta)
    db.delete(range(0, N, 9))
    db.ingest([5, 7], x[:2], metadata=[{"kind": "moved"}] * 2)        # upserts: rows 3000, 3001
    return db


def test_a_reopened_file_adopts_its_graph(tmp_path, data, count_inserts):
    path = tmp_path / "graph.rvf"
    db = build_file(path, data)
    want, graph = answers(db, data[1]), graph_bytes(db)
    db.close()                                          # writes the INDEX commit
    assert read(agentdb.kernel.load(), path.read_bytes()).index is not None
    count_inserts.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = agentdb.open(path)
    # the INDEX was saved with the first commit (3000 rows); only the 2 rows after it are inserted,
    # and with the stored RNG state they link exactly as before
    assert count_inserts == [2] and graph_bytes(again) == graph and answers(again, data[1]) == want
    assert again.status()["deleted"] == len(range(0, N, 9)) + 2      # deletes, and the 2 replaced rows
    again.ingest([N + 1], data[0][:1])                  # the adopted graph keeps growing
    assert count_inserts == [2, 1] and again.query(data[0][0], k=1).ids[0] in (5, N + 1)   # 0 is deleted
    again.close()


def test_bytes_round_trip_carries_the_graph(data, count_inserts):
    x, queries, meta = data
    db = agentdb.open(dim=16, metric="l2", m=8, ef_construction=48)
    db.ingest(range(N), x, metadata=meta)
    db.delete(range(10))
    count_inserts.clear()
    copy = agentdb.open_bytes(db.to_bytes(), kernel=agentdb.kernel.load("wasmhost"))
    assert count_inserts == [] and graph_bytes(copy) == graph_bytes(db)
    assert answers(copy, queries) == answers(db, queries)


def _index_segment(raw):
    contents = read(agentdb.kernel.load(), bytes(raw))
    return [s for s in contents.segments if s.seg_type == seg.INDEX][-1]


def test_a_damaged_index_is_rebuilt_with_a_warning(tmp_path, data):
    path = tmp_path / "damaged.rvf"
    db = build_file(path, data)
    want = answers(db, data[1])
    db.close()
    raw = bytearray(path.read_bytes())
    ix = _index_segment(raw)
    raw[ix.end - 5] ^= 0xFF                              # a byte of the graph: hash no longer matches
    path.write_bytes(bytes(raw))
    with pytest.warns(RecoveryWarning, match="INDEX segment at byte .* fails its content hash"):
        again = agentdb.open(path, readonly=True)
    assert answers(again, data[1]) == want               # the rebuild is deterministic


def test_an_inconsistent_index_is_never_trusted(tmp_path, data):
    db = agentdb.open(dim=16, metric="cosine", m=8, ef_construction=48)
    db.ingest(range(N), data[0])
    want = answers(db, data[1])
    raw = bytearray(db.to_bytes())
    ix = _index_segment(raw)
    body = ix.payload_offset + 64 + 8 * N                # links0 of node 0: count, then neighbours
    raw[body + 4:body + 8] = struct.pack("<I", N + 1000)  # a neighbour that does not exist
    kernel = agentdb.kernel.load()
    raw[ix.offset:ix.end] = seg.pack(kernel, seg.INDEX, ix.seg_id, bytes(raw[ix.payload_offset:ix.end]))
    with pytest.warns(RecoveryWarning, match="graph is inconsistent"):
        again = agentdb.open_bytes(bytes(raw))
    assert answers(again, data[1]) == want


def test_an_index_of_other_rows_is_not_used(data):
    a = agentdb.open(dim=16, metric="cosine", m=8, ef_construction=48)
    a.ingest(range(N), data[0])
    b = agentdb.open(dim=16, metric="cosine", m=8, ef_construction=48)
    b.ingest(range(N), data[0][::-1].copy())
    raw_a, raw_b = a.to_bytes(), bytearray(b.to_bytes())
    ia, ib = _index_segment(raw_a), _index_segment(raw_b)
    mixed = raw_b[:ib.offset] + raw_a[ia.offset:ia.end] + raw_b[ib.end:]
    if ia.end - ia.offset != ib.end - ib.offset:
        pytest.skip("graphs of different sizes; the swap would move later segments")
    with pytest.warns(RecoveryWarning, match="belongs to other rows"):
        again = agentdb.open_bytes(bytes(mixed))
    assert answers(again, data[1]) == answers(b, data[1])


@pytest.mark.parametrize("package", PACKAGES)
def test_after_a_real_tool_compaction(tmp_path, data, package):
    path = tmp_path / "foreign.rvf"
    db = build_file(path, data)
    db.close()
    real(package, [{"op": "open", "path": str(path)}, {"op": "compact"}])
    kept = read(agentdb.kernel.load(), path.read_bytes()).index is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = agentdb.open(path, readonly=True)
    notices = [str(w.message) for w in caught if issubclass(w.category, RecoveryWarning)]
    if kept:   # 0.1.7 copies the INDEX through, but the compacted rows are not the ones it indexed
        assert any(re.search(r"covers 30\d\d rows, the file holds 2666", n) for n in notices)
    else:      # 0.2.x drops INDEX segments
        assert any("no INDEX segment" in n for n in notices)
    assert len(again) == N - len(range(0, N, 9))
    assert again.query(data[0][0], k=1).ids[0] in again
