"""A store records the embedder its vectors come from, reports it, and refuses to be reopened
with another one unless forced: embedders are never switched silently."""
import pytest

import agentdb
from agentdb.embed import EmbedderMismatchError, HashEmbedder

OTHER = {"name": "other-model", "dim": 16, "semantic": True}


def test_identity_is_recorded_and_enforced(tmp_path):
    path = tmp_path / "notes.rvf"
    db = agentdb.open(path, dim=16, embedder=HashEmbedder(dim=16))
    db.ingest(["a"], HashEmbedder(dim=16).embed(["water the plants"]))
    assert db.status()["embedder"] == {"name": "agentdb-hash-v1", "dim": 16, "semantic": False}
    db.close()
    assert agentdb.open(path, readonly=True).status()["embedder"]["name"] == "agentdb-hash-v1"
    with pytest.raises(EmbedderMismatchError, match="built with embedder .*agentdb-hash-v1.*force=True"):
        agentdb.open(path, embedder=OTHER)
    switched = agentdb.open(path, embedder=OTHER, force=True)
    assert switched.status()["embedder"] == OTHER
    switched.close()


def test_identity_travels_in_bytes_and_must_match_the_dimension():
    db = agentdb.open(dim=8, embedder={"name": "m", "dim": 8, "semantic": True})
    assert agentdb.open_bytes(db.to_bytes()).embedder == {"name": "m", "dim": 8, "semantic": True}
    with pytest.raises(EmbedderMismatchError):
        agentdb.open_bytes(db.to_bytes(), embedder={"name": "n", "dim": 8, "semantic": True})
    with pytest.raises(agentdb.DimensionError, match="makes 384-dimensional vectors"):
        agentdb.open(dim=8, embedder=HashEmbedder(dim=384))
    with pytest.raises(ValueError, match="needs name, dim and semantic"):
        agentdb.open(dim=8, embedder={"name": "x"})


def test_the_worker_refuses_text_ops_on_another_embedders_store():
    import json

    from agentdb import worker_api

    worker_api.handle("open", json.dumps({"name": "w", "options": {"dim": 16, "embedder": OTHER}}))
    with pytest.raises(EmbedderMismatchError, match="come from 'other-model'"):
        worker_api.handle("ingestTexts", json.dumps({"name": "w", "ids": [1], "texts": ["hello"]}))
    worker_api.handle("close", json.dumps({"name": "w"}))
