"""Query adapters kept in a store (store/adapters.py): set, replace, remove, reopen, compact,
bytes round trip, bad input and corrupt records."""
import array

import numpy as np
import pytest

import agentdb
from agentdb.errors import CorruptFileError, DimensionError, OptionError, UnknownIdError
from agentdb.learn import EWC, LoRA
from agentdb.rvf import meta as rvf_meta


def trained_lora(dim, seed):
    lora = LoRA(dim, dim, rank=2, seed=seed)
    lora.b[:] = array.array("f", np.random.default_rng(seed).standard_normal(2 * dim).astype(np.float32))
    return lora


def store(path=None):
    rng = np.random.default_rng(0)
    db = agentdb.open(path, dim=8, metric="cosine") if path else agentdb.open(dim=8, metric="cosine")
    db.ingest(range(200), rng.standard_normal((200, 8)).astype(np.float32))
    return db, rng.standard_normal(8).astype(np.float32)


def test_adapters_live_in_the_file(tmp_path):
    path = tmp_path / "a.rvf"
    db, q = store(path)
    db.set_adapter("query", trained_lora(8, 1))
    db.set_adapter("other", trained_lora(8, 2), ewc=EWC(lam=3.0))
    db.set_adapter("query", trained_lora(8, 3))                      # the last record wins
    want = {name: db.query(q, k=5, adapt=name).ids for name in db.adapters()}
    assert want["query"] != db.query(q, k=5).ids
    db.delete(list(range(5)))
    db.compact()                                                     # a rewrite keeps them
    want = {name: db.query(q, k=5, adapt=name).ids for name in db.adapters()}
    db.close()
    again = agentdb.open(path)
    assert again.adapters() == ["other", "query"]
    assert {name: again.query(q, k=5, adapt=name).ids for name in again.adapters()} == want
    assert again.adapter("query").to_json() == trained_lora(8, 3).to_json()
    assert agentdb.open_bytes(again.to_bytes()).query(q, k=5, adapt=True).ids == want["query"]
    again.remove_adapter("other")
    again.close()
    assert agentdb.open(path).adapters() == ["query"]


def test_a_kept_adapter_is_a_copy():
    db, q = store()
    lora = trained_lora(8, 1)
    db.set_adapter("query", lora)
    before = db.query(q, k=5, adapt=True).ids
    lora.b[:] = array.array("f", [0.0] * len(lora.b))                # the caller's copy changes
    assert db.query(q, k=5, adapt=True).ids == before
    db.adapter().b[0] = 99.0                                         # so does a copy handed out
    assert db.query(q, k=5, adapt=True).ids == before


def test_bad_adapters_are_refused():
    db, q = store()
    with pytest.raises(DimensionError):
        db.set_adapter("query", LoRA(8, 4, rank=1))
    with pytest.raises(OptionError):
        db.set_adapter("", LoRA(8, 8, rank=1))
    with pytest.raises(OptionError):
        db.set_adapter("query", "not an adapter")
    with pytest.raises(UnknownIdError):
        db.remove_adapter("query")
    with pytest.raises(UnknownIdError, match="db.learn"):
        db.query(q, adapt=True)
    with pytest.raises(UnknownIdError):
        db.query_batch(q[None, :], adapt="nope")


@pytest.mark.parametrize("record", [b'{"name": 3, "lora": null}', b'{"name": "q", "lora": 5}', b"[1, 2]",
                                    b'{"name": "q", "lora": null, "ewc": 1}'])
def test_a_malformed_adapter_record_is_corrupt(record):
    payload = rvf_meta._HEAD.pack(rvf_meta.MAGIC, rvf_meta.VERSION, rvf_meta.ADAPTER) + \
        len(record).to_bytes(4, "little") + record
    with pytest.raises(CorruptFileError):
        rvf_meta.decode(payload)
