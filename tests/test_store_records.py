"""Store operations the memory layer builds on: ingest with deletes in one commit (torn
anywhere, the file reopens without either half), metadata updates that keep vector bits,
listings by filter, recording the embedder."""
import warnings

import pytest

import agentdb
from agentdb.embed import EmbedderMismatchError, HashEmbedder
from agentdb.persist import RecoveryWarning

HASH = HashEmbedder(dim=8).identity


def test_ingest_with_deletes_is_one_commit_at_every_cut(tmp_path, rng):
    path = tmp_path / "swap.rvf"
    vecs = rng.normal(size=(6, 8)).astype("float32")
    db = agentdb.open(path, dim=8, index="flat")           # flat: no graph commit on close
    db.ingest(["a", "b", "c"], vecs[:3], metadata=[{"n": i} for i in range(3)])
    before, version = path.stat().st_size, db.version
    assert db.ingest(["d", "a"], vecs[3:5], metadata=[{"n": 3}, {"n": 9}], delete=["b", "c"]) == \
        {"accepted": 2, "replaced": 1, "deleted": 2}
    assert db.version == version + 1 and sorted(db.ids()) == ["a", "d"]
    db.close()
    full = path.read_bytes()
    assert sorted(agentdb.open(path, readonly=True).ids()) == ["a", "d"]
    for cut in range(before + 1, len(full), 7):
        path.write_bytes(full[:cut])
        with pytest.warns(RecoveryWarning, match="reopened at commit"):
            again = agentdb.open(path)
        assert sorted(again.ids()) == ["a", "b", "c"] and again.get("a").metadata == {"n": 0}
        again.close()


def test_ingest_with_deletes_refuses_bad_batches_unchanged(rng):
    db = agentdb.open(dim=8)
    db.ingest(["a", "b"], rng.normal(size=(2, 8)))
    with pytest.raises(KeyError, match="unknown id"):
        db.ingest(["c"], rng.normal(size=(1, 8)), delete=["zzz"])
    with pytest.raises(ValueError, match="both ingested and deleted"):
        db.ingest(["a"], rng.normal(size=(1, 8)), delete=["a"])
    assert sorted(db.ids()) == ["a", "b"] and db.version == 1
    assert db.ingest([], [], delete=["b"]) == {"accepted": 0, "replaced": 0, "deleted": 1}


def test_update_metadata_keeps_vector_bits_and_find_lists(rng):
    db = agentdb.open(dim=8)
    db.ingest(["a", "b", "c"], rng.normal(size=(3, 8)), metadata=[{"k": "x"}, {"k": "y"}, {"k": "x"}])
    vec = bytes(db.get("a").vector)
    db.update_metadata(["a"], [{"k": "y", "uses": 2}])
    assert bytes(db.get("a").vector) == vec and db.get("a").metadata == {"k": "y", "uses": 2}
    assert db.find({"k": "y"}) == [("b", {"k": "y"}), ("a", {"k": "y", "uses": 2})]   # row order: a moved
    assert db.find(limit=1) == [("b", {"k": "y"})] and db.find({"k": "zzz"}) == []
    with pytest.raises(KeyError, match="unknown id"):
        db.update_metadata(["nope"], [{}])
    with pytest.raises(ValueError, match="limit must be a non-negative integer"):
        db.find(limit=-1)


def test_record_embedder(tmp_path, rng):
    path = tmp_path / "e.rvf"
    db = agentdb.open(path, dim=8)
    db.record_embedder(HASH)                               # empty: recorded (the file rewritten)
    db.close()
    db = agentdb.open(path)
    assert db.embedder == HASH
    db.ingest(["a"], rng.normal(size=(1, 8)))
    other = {"name": "minilm", "dim": 8, "semantic": True}
    with pytest.raises(EmbedderMismatchError, match="needs force=True"):
        db.record_embedder(other)
    db.record_embedder(other, force=True)
    db.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert agentdb.open(path, readonly=True).embedder == other
    with pytest.raises(agentdb.DimensionError):
        agentdb.open(dim=4).record_embedder(HASH)
