"""One conformance suite for both homes of a store's bytes: a file (FileLog) and the chunks the
browser keeps in IndexedDB (BufferLog). The same operations give the same .rvf bytes."""
import warnings

import numpy as np
import pytest

import agentdb
from agentdb.errors import RecoveryWarning
from agentdb.store.store import open_log


def apply(chunks, image=b""):
    """What IndexedDB holds after storing these chunks (as the worker does)."""
    image = bytearray(image)
    for kind, offset, data in chunks:
        if kind == "replace":
            image = bytearray()
        assert offset == len(image), "chunks must extend the image exactly"
        image += data
    return bytes(image)


def operations(db, x):
    db.ingest(range(50), x[:50], metadata=[{"i": i} for i in range(50)])
    db.delete([3, 4, 5])
    db.ingest([4, 60], x[50:52], metadata=[{"i": "back"}, {"i": 60}])
    db.delete(where={"i": {"lt": 10}})


@pytest.mark.parametrize("compact", [False, True])
def test_file_and_indexeddb_chunks_hold_the_same_bytes(tmp_path, compact, monkeypatch):
    x = np.random.default_rng(0).standard_normal((60, 6)).astype(np.float32)
    # one file id for both (it is the only random part, and the seals cover the create commit)
    monkeypatch.setattr("agentdb.store.store.secrets.token_bytes", lambda n: bytes(range(n)))
    on_disk = agentdb.open(tmp_path / "a.rvf", dim=6, metric="l2")
    in_chunks = open_log(dim=6, metric="l2")
    image = b""
    for db in (on_disk, in_chunks):
        operations(db, x)
        if compact:
            db.compact()
    on_disk.close()
    in_chunks.close()                                 # close saves the graph: an INDEX commit
    image = apply(in_chunks.take_commits(), image)
    assert image == (tmp_path / "a.rvf").read_bytes()
    again = open_log(image)
    assert sorted(again.ids()) == sorted(agentdb.open(tmp_path / "a.rvf", readonly=True).ids())


def test_a_failed_commit_leaves_no_chunk_and_no_change():
    db = open_log(dim=2)
    db.take_commits()
    db.ingest([1], [[1.0, 2.0]])
    with pytest.raises(agentdb.NonFiniteError):
        db.ingest([2], [[float("nan"), 0.0]])
    chunks = db.take_commits()
    assert len(chunks) == 1 and db.ids() == [1]


def test_the_browser_saves_its_graph_when_idle_not_in_a_users_commit():
    x = np.random.default_rng(1).standard_normal((3000, 8)).astype(np.float32)
    db = open_log(dim=8, brute_force_rows=100)
    created = db.take_commits()
    db.ingest(range(2000), x[:2000])
    commit = db.take_commits()
    assert sum(len(data) for _, _, data in commit) < 2000 * 8 * 4 * 1.3        # its own rows, no graph
    assert db.maintain() is True and db.maintain() is False                   # the graph, once
    graph = db.take_commits()
    assert len(graph) == 1 and b"AGIX" in graph[0][2]
    db.ingest(range(2000, 2100), x[2000:2100])
    assert sum(len(data) for _, _, data in db.take_commits()) < 100 * 8 * 4 * 2
    assert db.maintain() is False                                             # 2000 of 2100 rows covered
    again = open_log(apply(created + commit + graph))
    assert again.status()["index"]["nodes"] == 2000 and len(again) == 2000  # the saved graph, not rebuilt


def test_a_reload_before_the_idle_graph_save_rebuilds_it_without_a_warning():
    """The browser saves its graph when idle, so stored commits without an INDEX are normal
    there (a reload right after a bulk load): rebuilt quietly. The same bytes opened as a
    file, or imported, lack a graph a file store would have saved: that still warns."""
    x = np.random.default_rng(2).standard_normal((500, 8)).astype(np.float32)
    db = open_log(dim=8, brute_force_rows=100)
    db.ingest(range(500), x)
    stored = apply(db.take_commits())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecoveryWarning)
        again = open_log(stored)
    assert again.status()["index"]["nodes"] == 500 and again.query(x[7], k=1).ids == [7]
    for opener in (agentdb.open_bytes, lambda data: open_log(data, imported=True)):
        with pytest.warns(RecoveryWarning, match="no INDEX segment"):
            opener(stored)
