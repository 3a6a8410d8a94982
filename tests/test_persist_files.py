"""File-backed stores: every commit lands in the .rvf, reopening answers the same, a torn
final write reopens at the previous commit and says so, one writer at a time, readers
without a lock, atomic compaction, and a manifest the real tools can always find."""
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

import agentdb
from agentdb import CorruptFileError, DimensionError
from agentdb.kernel import load
from agentdb.persist import LockHeldError, ReadOnlyError, RecoveryWarning
from agentdb.persist import files as persist_files
from agentdb.rvf import read
from agentdb.rvf import segments as seg
from support import HOST_BACKENDS
from store_data import dataset
from test_rvf_interop import PACKAGES, real


@pytest.fixture(scope="module")
def data():
    return dataset(5, 800, 12, 4, clusters=10, spread=0.4)


def answers(db, queries):
    return [(r.ids, r.scores.tobytes(), r.metadata) for w in (None, {"kind": "note"})
            for r in db.query_batch(queries, k=6, where=w)]


def build(path, data, **kw):
    x, _, meta = data
    db = agentdb.open(path, dim=12, m=8, ef_construction=40, **kw)
    ids = [f"n{i}" for i in range(len(x))]
    db.ingest(ids[:500], x[:500], metadata=meta[:500])
    db.ingest(ids[500:], x[500:], metadata=meta[500:])
    db.delete(ids[::7])
    db.ingest(ids[:3], x[3:6], metadata=[{"kind": "moved"}] * 3)    # upsert, and revive a deleted id
    db.delete(where={"kind": "log"})
    return db


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_reopen_answers_the_same_on_every_backend(tmp_path, data, metric):
    path = tmp_path / "store.rvf"
    db = build(path, data, metric=metric)
    want = answers(db, data[1])
    count = len(db)
    db.close()
    assert not Path(str(path) + ".lock").exists()
    for backend in HOST_BACKENDS:
        again = agentdb.open(path, readonly=True, kernel=agentdb.kernel.load(backend))
        assert len(again) == count and answers(again, data[1]) == want
        assert again.get("n0").metadata == {"kind": "moved"}


def test_each_commit_is_in_the_file_before_the_call_returns(tmp_path, data):
    path = tmp_path / "live.rvf"
    writer = agentdb.open(path, dim=12)
    writer.ingest([1, 2], data[0][:2], metadata=[{"a": 1}, {"a": 2}])
    reader = agentdb.open(path, readonly=True)          # no lock: opens while the writer holds it
    assert sorted(reader.ids()) == [1, 2]
    writer.delete([1])
    assert agentdb.open(path, readonly=True).ids() == [2]
    with pytest.raises(ReadOnlyError):
        reader.ingest([3], data[0][:1])
    with pytest.raises(ReadOnlyError):
        reader.delete([2])
    with pytest.raises(ReadOnlyError):
        reader.compact()
    writer.close()


def test_one_writer_at_a_time(tmp_path):
    path = tmp_path / "locked.rvf"
    first = agentdb.open(path, dim=2)
    with pytest.raises(LockHeldError, match=f"process {os.getpid()}"):
        agentdb.open(path)
    first.close()
    agentdb.open(path).close()


def test_a_dead_writers_lock_is_taken_over_and_a_foreign_lock_is_respected(tmp_path):
    path = str(tmp_path / "stale.rvf")
    agentdb.open(path, dim=2).close()
    Path(path + ".lock").write_bytes(persist_files.LOCK_MAGIC + f" agentdb=1 pid=999999999 host={os.uname().nodename}\n".encode())
    agentdb.open(path).close()
    Path(path + ".lock").write_bytes(b"FLVR" + bytes(100))     # the real tools' lock
    with pytest.raises(LockHeldError, match="another program"):
        agentdb.open(path)


def test_torn_last_commit_reopens_at_the_previous_one_at_every_offset(tmp_path, data):
    path = tmp_path / "torn.rvf"
    db = agentdb.open(path, dim=12, metric="l2", index="flat")
    db.ingest(range(20), data[0][:20], metadata=[{"i": i} for i in range(20)])
    before = path.stat().st_size
    want = answers(db, data[1])
    db.ingest(range(20, 30), data[0][20:30])
    db.close()
    full = path.read_bytes()
    for cut in range(before + 1, len(full)):
        path.write_bytes(full[:cut])
        with pytest.warns(RecoveryWarning, match="reopened at commit epoch 1"):
            again = agentdb.open(path)
        assert len(again) == 20 and answers(again, data[1]) == want
        again.ingest([99], data[0][:1])                      # writing continues after the cut
        again.close()
        assert sorted(agentdb.open(path, readonly=True).ids()) == list(range(20)) + [99]
    path.write_bytes(full)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(agentdb.open(path, readonly=True)) == 30


def test_a_torn_commit_longer_than_the_real_readers_64_kib_window_reopens_at_the_previous_one(tmp_path, data):
    """A crash (or a writer still at work) can leave more than 64 KiB of an unfinished commit:
    no manifest lies in the window the real reader scans, and the file must still open."""
    path = tmp_path / "long.rvf"
    db = agentdb.open(path, dim=12, metric="l2", index="flat")
    db.ingest(range(20), data[0][:20])
    before = path.stat().st_size
    want = answers(db, data[1])
    rows = np.random.default_rng(5).standard_normal((4000, 12)).astype(np.float32)
    db.ingest(range(100, 4100), rows, metadata=[{"i": i} for i in range(4000)])
    db.close()
    full = path.read_bytes()
    assert len(full) - before > 2 * seg.TAIL_SCAN
    for cut in (before + seg.TAIL_SCAN + 1, before + seg.TAIL_SCAN + 64, len(full) - 1):
        path.write_bytes(full[:cut])
        reader = agentdb.open(path, readonly=True)      # a reader sees the last complete commit
        assert len(reader) == 20 and answers(reader, data[1]) == want
        with pytest.warns(RecoveryWarning, match="reopened at commit epoch 1"):
            writer = agentdb.open(path)
        assert len(writer) == 20 and path.stat().st_size == before      # the writer cut it off
        writer.close()
        assert agentdb.open(path, readonly=True).verify()["ok"]


def test_a_failed_write_leaves_file_and_store_unchanged(tmp_path, data, monkeypatch):
    path = tmp_path / "full.rvf"
    db = agentdb.open(path, dim=12, metric="l2", index="flat")
    db.ingest([1, 2], data[0][:2])
    size = path.stat().st_size

    def disk_full(self, chunk):
        self.fh.write(chunk[:len(chunk) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persist_files.FileSink, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        db.ingest([3], data[0][2:3])
    with pytest.raises(OSError):
        db.delete([1])
    monkeypatch.undo()
    assert path.stat().st_size == size and sorted(db.ids()) == [1, 2]
    db.ingest([3], data[0][2:3])
    db.close()
    again = agentdb.open(path, readonly=True)
    assert sorted(again.ids()) == [1, 2, 3]
    assert again.verify()["ok"], again.verify()["problems"]     # the failed commits left no seal entry


@pytest.mark.parametrize("package", PACKAGES)
def test_compaction_is_atomic_and_the_real_tools_read_the_result(tmp_path, data, package):
    path = tmp_path / "compact.rvf"
    db = build(path, data, metric="l2")
    want = answers(db, data[1])
    db.compact()
    assert not list(tmp_path.glob("*.tmp")) and answers(db, data[1]) == want
    db.close()
    assert answers(agentdb.open(path, readonly=True), data[1]) == want
    status = real(package, [{"op": "openReadonly", "path": str(path)}, {"op": "status"}])[1]
    assert status["totalVectors"] == len(agentdb.open(path, readonly=True))


def test_many_commits_keep_the_manifest_in_the_real_tools_tail_scan(tmp_path, data):
    path = tmp_path / "many.rvf"
    db = agentdb.open(path, dim=12, metric="l2", index="flat")
    x = data[0]
    for i in range(600):
        db.ingest([i], x[i:i + 1], metadata=[{"i": i}])
        if i % 5 == 4:
            db.delete([i - 2])
    db.close()
    raw = path.read_bytes()
    last = seg.scan_manifests(raw)[0]
    assert len(raw) - last <= seg.TAIL_SCAN
    contents = read(agentdb.kernel.load(), raw)
    assert contents.manifest_offset == last and len(contents.ids) == 600 - 120
    assert 7 not in contents.ids and 6 in contents.ids     # deletes of i - 2 at every fifth step
    hits = real(PACKAGES[1], [{"op": "openReadonly", "path": str(path)}, {"op": "query", "vector": x[6].tolist(), "k": 1}])
    assert hits[1][0]["id"] == 6


def test_open_checks(tmp_path):
    path = tmp_path / "checks.rvf"
    with pytest.raises(DimensionError, match="needs dim="):
        agentdb.open(path)
    with pytest.raises(FileNotFoundError):
        agentdb.open(path, readonly=True)
    agentdb.open(path, dim=4, metric="dot").close()
    with pytest.raises(DimensionError, match="holds 4-dimensional vectors, dim=5"):
        agentdb.open(path, dim=5)
    with pytest.raises(ValueError, match="created with metric 'dot'"):
        agentdb.open(path, metric="l2")
    png = tmp_path / "photo.rvf"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    with pytest.raises(CorruptFileError):
        agentdb.open(png)
    assert not Path(str(png) + ".lock").exists()


def test_a_failed_batch_leaves_no_id_kind_and_no_labels(tmp_path, data, monkeypatch):
    path = tmp_path / "labels.rvf"
    db = agentdb.open(path, dim=12, metric="l2", index="flat")

    def disk_full(self, chunk):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persist_files.FileSink, "write", disk_full)
    with pytest.raises(OSError):
        db.ingest(["a", "b"], data[0][:2])                     # the first batch fails
    monkeypatch.undo()
    assert db.status()["id_kind"] is None
    db.ingest([7], data[0][:1])                                # so integer ids are still welcome
    db.close()
    other = agentdb.open(tmp_path / "s.rvf", dim=12, metric="l2", index="flat")
    other.ingest(["x"], data[0][:1])
    monkeypatch.setattr(persist_files.FileSink, "write", disk_full)
    with pytest.raises(OSError):
        other.ingest(["y", "z"], data[0][1:3])
    monkeypatch.undo()
    other.ingest(["z"], data[0][3:4])                          # takes the next label, as if y never was
    other.close()
    stored = read(load(), (tmp_path / "s.rvf").read_bytes())
    assert stored.entry_ids == [1, 2] and [stored.records[label]["sid"] for label in (1, 2)] == ["x", "z"]


def test_a_file_streams_in_pieces_to_the_same_store_as_its_bytes(tmp_path, monkeypatch):
    """Opening a file reads its VEC rows piece by piece straight into kernel memory; with pieces
    far smaller than a segment (and not a whole number of rows) it must give exactly what
    reading the whole file as bytes gives, on every backend, and refuse a flipped bit."""
    import numpy as np
    from agentdb.rvf import source

    monkeypatch.setattr(source, "PIECE", 1000)              # 1000 bytes: rows of 8 + 48 split across pieces
    monkeypatch.setattr("agentdb.rvf.file.PIECE", 1000)
    path = tmp_path / "pieces.rvf"
    x = np.random.default_rng(4).standard_normal((300, 12)).astype(np.float32)
    db = agentdb.open(path, dim=12, metric="l2", index="flat")
    db.ingest(range(200), x[:200])
    db.ingest(range(150, 300), x[150:])                       # upserts: a second VEC segment wins for 150..199
    db.close()
    data = path.read_bytes()
    for backend in HOST_BACKENDS:
        kernel = load(backend)
        whole = read(kernel, data)
        with open(path, "rb", buffering=0) as fh:
            streamed = read(kernel, source.FileSource(fh), rows_in_kernel=True)
        assert streamed.entry_ids == whole.entry_ids and streamed.entry_live == whole.entry_live
        assert streamed.entry_rows == whole.entry_rows == x[:200].tobytes() + x[150:].tobytes()
        again = agentdb.open(path, readonly=True, kernel=kernel)
        assert again.get(170).vector.tobytes() == x[170].tobytes() and len(again) == 300
    first_vec = next(s for s in whole.segments if s.seg_type == seg.VEC)
    damaged = bytearray(data)
    damaged[first_vec.payload_offset + 5000] ^= 1            # in the fifth piece of the first VEC
    path.write_bytes(damaged)
    with pytest.raises(CorruptFileError, match="VEC segment .* fails its content hash"):
        agentdb.open(path, readonly=True)


def test_a_file_cut_short_while_it_is_read_is_refused_not_misread(tmp_path):
    from agentdb.rvf import source

    path = tmp_path / "cut.rvf"
    db = agentdb.open(path, dim=4, index="flat")
    db.ingest(range(50), [[float(i), 1, 2, 3] for i in range(50)])
    db.close()
    with open(path, "rb", buffering=0) as fh:
        src = source.FileSource(fh)                            # the size is taken here
        os.truncate(path, src.size - 100)
        with pytest.raises(CorruptFileError, match="cut short"):
            read(load(), src, rows_in_kernel=True)


@pytest.mark.parametrize("fail_at", ["vec", "manifest", "copy"])
def test_a_large_batch_is_copied_beside_its_commit_and_a_failure_anywhere_undoes_both(tmp_path, monkeypatch, fail_at):
    """A batch of 4 MB or more goes into memory on a second thread while its commit is written;
    the commit waits for the copy before its manifest. A disk that fails during the VEC or
    the manifest, or a copy that fails, leaves the file, the store and its vectors as they
    were; the next large batches then land whole (their VEC payloads encoded into one reused
    buffer)."""
    import numpy as np

    path = tmp_path / "large.rvf"
    rng = np.random.default_rng(8)
    first, big = rng.standard_normal((100, 64), dtype=np.float32), rng.standard_normal((20_000, 64), dtype=np.float32)
    db = agentdb.open(path, dim=64, metric="l2", index="flat")
    db.ingest(range(100), first)
    size, calls = path.stat().st_size, []
    real_write = persist_files.FileSink.write

    def failing_write(self, chunk):
        calls.append(len(chunk))
        if fail_at == "vec" and len(chunk) > 1_000_000 or fail_at == "manifest" and len(calls) > 6:
            raise OSError(28, "No space left on device")
        real_write(self, chunk)

    def failing_copy(self, data, count):
        raise MemoryError("copy failed")

    if fail_at == "copy":
        monkeypatch.setattr("agentdb.store.arrays.GrowableArray.append", failing_copy)
    else:
        monkeypatch.setattr(persist_files.FileSink, "write", failing_write)
    with pytest.raises((OSError, MemoryError)):
        db.ingest(range(1000, 21_000), big)
    monkeypatch.undo()
    assert path.stat().st_size == size and len(db) == 100 and db._vectors.length == 100 * 64
    assert db.query(first[7], k=1, exact=True).ids == [7]
    db.ingest(range(1000, 21_000), big)
    assert db.get(20_999).vector.tobytes() == big[-1].tobytes()
    db.ingest(range(30_000, 50_000), big[::-1].copy())     # encoded into the buffer the last one used
    db.close()
    again = agentdb.open(path, readonly=True)
    assert len(again) == 40_100 and again.get(1000).vector.tobytes() == big[0].tobytes()
    assert again.get(30_000).vector.tobytes() == big[-1].tobytes() and again.verify()["ok"]


def test_a_forked_child_commits_large_batches_with_its_own_helper_threads(tmp_path):
    """Large commits use helper threads; a child forked after the parent used them gets its own
    (the parent's pool has no threads in the child, and waiting on it would hang)."""
    import multiprocessing

    import numpy as np

    big = np.random.default_rng(2).standard_normal((20_000, 64), dtype=np.float32)
    parent = agentdb.open(tmp_path / "parent.rvf", dim=64, metric="l2", index="flat")
    parent.ingest(range(20_000), big)
    parent.close()
    child = multiprocessing.get_context("fork").Process(target=_ingest_large, args=(str(tmp_path / "child.rvf"),))
    child.start()
    child.join(60)
    if child.exitcode is None:          # hung on the parent's threads
        child.kill()
    assert child.exitcode == 0
    assert len(agentdb.open(tmp_path / "child.rvf", readonly=True)) == 20_000


def _ingest_large(path):
    import numpy as np
    from agentdb.persist import files

    assert files._helpers().submit(int, "3").result(timeout=20) == 3     # the pool works here
    db = agentdb.open(path, dim=64, metric="l2", index="flat")
    db.ingest(range(20_000), np.ones((20_000, 64), dtype=np.float32))
    db.close()
