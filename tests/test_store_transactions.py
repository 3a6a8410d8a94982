"""db.transaction(): the writes inside are one commit or nothing — in memory, in a file, and
through the browser's BufferLog; a crash before the end reopens at the commit before it."""
import os

import numpy as np
import pytest

import agentdb
from agentdb import rvf
from agentdb.errors import TransactionError, UnknownIdError
from agentdb.learn import LoRA
from agentdb.store.store import open_log

DIM = 8


def vectors(n, seed):
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


class Boom(Exception):
    pass


def state(db):
    """What a reader sees: ids, metadata, adapters and an answer."""
    ids = sorted(db.ids(), key=str)
    return ids, [db.get(i).metadata for i in ids], db.adapters(), db.query(vectors(1, 99)[0], k=3).ids


@pytest.mark.parametrize("home", ["memory", "file", "log"])
def test_a_failed_transaction_changes_nothing(home, tmp_path):
    path = tmp_path / "tx.rvf"
    db = {"memory": lambda: agentdb.open(dim=DIM), "file": lambda: agentdb.open(path, dim=DIM),
          "log": lambda: open_log(dim=DIM)}[home]()
    db.ingest(range(50), vectors(50, 1), metadata=[{"n": i} for i in range(50)])
    before = state(db)
    size = os.path.getsize(path) if home == "file" else None
    with pytest.raises(Boom):
        with db.transaction():
            db.ingest(range(50, 80), vectors(30, 2))
            db.delete([1, 2, 3])
            db.update_metadata([4], [{"n": -4}])
            db.set_adapter("query", LoRA(DIM, DIM, rank=1))
            assert len(db) == 77                              # inside, the writes are visible
            raise Boom()
    assert state(db) == before
    db.ingest([100], vectors(1, 3))                           # and the store goes on writing
    assert 100 in db and len(db) == 51
    if home == "file":
        db.close()
        again = agentdb.open(path)
        assert 100 in again and 60 not in again and again.get(1).metadata == {"n": 1}
        again.close()
        assert size < os.path.getsize(path)


@pytest.mark.parametrize("home", ["memory", "file", "log"])
def test_a_transaction_is_one_commit(home, tmp_path):
    path = tmp_path / "tx.rvf"
    db = agentdb.open(path, dim=DIM) if home == "file" else open_log(dim=DIM) if home == "log" else \
        agentdb.open(dim=DIM)
    db.ingest(range(10), vectors(10, 1))
    if home == "log":
        db.take_commits() if hasattr(db, "take_commits") else None
    epoch = db._log.writer.epoch if db._log else None
    with db.transaction():
        db.ingest(range(10, 20), vectors(10, 2))
        db.delete([0, 1])
        with db.transaction():                                # nested: part of the outer one
            db.ingest([0], vectors(1, 3))                     # revived in the same commit
        db.set_adapter("query", LoRA(DIM, DIM, rank=1))
    assert len(db) == 19 and 0 in db and 1 not in db
    if db._log is not None:
        assert db._log.writer.epoch == epoch + 1
    if home == "file":
        db.close()
        again = agentdb.open(path)
        assert sorted(again.ids()) == [0] + list(range(2, 20)) and again.adapters() == ["query"]
        witness = [s for s in rvf.read(again.kernel, path.read_bytes()).segments if s.seg_type == rvf.segments.WITNESS]
        assert witness                                        # one witness for the whole transaction
        again.close()


def test_a_crash_inside_a_transaction_reopens_at_the_commit_before(tmp_path):
    path = tmp_path / "crash.rvf"
    db = agentdb.open(path, dim=DIM)
    db.ingest(range(10), vectors(10, 1))
    committed = path.read_bytes()
    with db.transaction():
        db.ingest(range(10, 30), vectors(20, 2))
        db.delete([5])
        # the process dies here: the staged segments are in the file, no manifest commits them
        torn = path.read_bytes()
        assert len(torn) > len(committed)
        (tmp_path / "copy.rvf").write_bytes(torn)
    db.close()
    with pytest.warns(agentdb.errors.RecoveryWarning):
        again = agentdb.open(tmp_path / "copy.rvf")
    assert sorted(again.ids()) == list(range(10))
    again.close()


def test_the_browser_log_hands_over_one_chunk_per_transaction():
    db = open_log(dim=DIM)
    db.ingest(range(5), vectors(5, 1))
    db.take_commits()
    with db.transaction():
        db.ingest(range(5, 10), vectors(5, 2))
        assert db.take_commits() == []                        # nothing for IndexedDB before the end
        db.delete([0])
    chunks = db.take_commits()
    assert len(chunks) == 1 and chunks[0][0] == "append"
    with pytest.raises(Boom):
        with db.transaction():
            db.ingest([50], vectors(1, 3))
            raise Boom()
    assert db.take_commits() == [] and 50 not in db


def test_whole_store_rewrites_are_refused_inside():
    db = agentdb.open(dim=DIM)
    db.ingest(range(5), vectors(5, 1))
    db.delete([0])
    for call in (db.compact, db.freeze):
        with pytest.raises(TransactionError):
            with db.transaction():
                call()
    assert len(db) == 4
    with pytest.raises(UnknownIdError):
        with db.transaction():
            db.ingest([7], vectors(1, 2))
            db.delete([12345])                                # an error inside rolls back too
    assert 7 not in db
