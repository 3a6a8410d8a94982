"""The committed .rvf fixtures (tests/fixtures/, written by tests/fixtures/make_fixtures.py):
each opens (agentdb.open readonly, open_bytes, a writable open of a copy; agentdb.memory.open
for the agent memory) on every kernel backend and answers exactly as its JSON records (ids,
float32 score bits, status, records, the memory's recall results), verify() is ok, and the
generator still writes the very same bytes.

A failure here means the format or the answers drifted. If a change alters the bytes on
purpose, re-run the generator (`.venv/bin/python tests/fixtures/make_fixtures.py`), review the
diff of the .rvf and .json files, and commit them (keep the old files too when files written
by the earlier version must still open).
"""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

import agentdb
import agentdb.memory
from agentdb.embed import EmbedderMismatchError, HashEmbedder, MiniLM
from agentdb.memory.agent import AgentMemory

HERE = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make_fixtures.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

NAMES = sorted(gen.FIXTURES)
STORES = [n for n in NAMES if n != "memory_hash64"]


def expected(name):
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def plain(value):
    """value as its JSON reads back (tuples become lists), for comparing with a fixture's JSON."""
    return json.loads(json.dumps(value))


def store_answers(db, doc):
    queries = [{k: v for k, v in q.items() if k != "expect"} for q in doc["queries"]]
    return plain(gen.store_answers(db, queries, gets=[g["id"] for g in doc["get"]],
                                   finds=[f["where"] for f in doc["find"]]))


def check_store(db, doc):
    got = store_answers(db, doc)
    for q, want in zip(got["queries"], doc["queries"]):
        assert q["expect"] == want["expect"], f"query {want['k']=} {want['where']=} {want['exact']=}"
    for key in ("status", "ids", "get", "find"):
        assert got[key] == doc[key], key


def memory_answers(mem):
    return plain(gen.memory_answers(mem))


def test_every_fixture_has_its_answers():
    rvfs = {p.stem for p in HERE.glob("*.rvf")}
    assert rvfs == {p.stem for p in HERE.glob("*.json")} == set(NAMES)
    total = sum(p.stat().st_size for p in HERE.iterdir() if p.is_file())
    assert total < 1_000_000, f"the fixtures are {total} bytes; keep them under 1 MB"
    for name in NAMES:
        doc, data = expected(name), (HERE / f"{name}.rvf").read_bytes()
        assert doc["bytes"] == len(data) and doc["verify"]["ok"], name


@pytest.mark.parametrize("name", STORES)
def test_store_fixture_answers_as_recorded(name, kernel, tmp_path):
    doc, path = expected(name), HERE / f"{name}.rvf"
    with agentdb.open(path, readonly=True, kernel=kernel) as db:
        check_store(db, doc)
    with agentdb.open_bytes(path.read_bytes(), kernel=kernel) as db:
        check_store(db, doc)
    # a writer that opens and closes the file answers the same and leaves every byte alone
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    with agentdb.open(copy, kernel=kernel) as db:
        check_store(db, doc)
    assert copy.read_bytes() == path.read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_fixture_verifies(name):
    doc = expected(name)
    key = bytes.fromhex(doc["public_key"]) if "public_key" in doc else None
    with agentdb.open(HERE / f"{name}.rvf", readonly=True) as db:
        assert gen.verify_of(db.verify(public_key=key)) == doc["verify"]
        assert db.file_id == gen.FixedSecrets(name).file_id.hex()


def test_signed_fixture_names_its_key_and_keeps_its_ebpf():
    doc = expected("signed")
    with agentdb.open(HERE / "signed.rvf", readonly=True) as db:
        assert db.verify(public_key=bytes.fromhex(doc["public_key"]))["signed_by"] == [doc["public_key"]]
        assert not db.verify(public_key=bytes(range(32)))["ok"]           # another key's signature fails
        ebpf = db.extract_ebpf()
        assert ebpf["bytecode"].hex() == doc["ebpf"]["bytecode"]
        assert [ebpf[k] for k in ("program_type", "attach_type", "max_dimension")] == \
            [doc["ebpf"][k] for k in ("program_type", "attach_type", "max_dimension")]
        assert db.frozen


def test_memory_fixture_recalls_as_recorded(kernel, tmp_path):
    doc, path = expected("memory_hash64"), HERE / "memory_hash64.rvf"
    clock = gen.Clock(doc["clock"])
    # the embedder comes from the identity the file records (HashEmbedder(dim=64))
    with agentdb.memory.open(path, readonly=True, clock=clock, kernel=kernel) as mem:
        assert isinstance(mem.embedder, HashEmbedder) and mem.embedder.dim == 64
        assert plain(gen.status_of(mem.store)) == doc["status"]
        assert memory_answers(mem) == doc["answers"]
    with AgentMemory(agentdb.open_bytes(path.read_bytes(), kernel=kernel), clock=clock) as mem:
        assert memory_answers(mem) == doc["answers"]
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    with agentdb.memory.open(copy, embedder=HashEmbedder(dim=64, kernel=kernel), clock=clock, kernel=kernel) as mem:
        assert memory_answers(mem) == doc["answers"]
        assert mem.get_causal_edge(doc["edge"])["cause"] == doc["helper"]
    assert copy.read_bytes() == path.read_bytes()


def test_minilm_fixture_queries_by_text():
    doc = expected("minilm")
    model = MiniLM()
    with agentdb.open(HERE / "minilm.rvf", readonly=True, embedder=model) as db:
        assert db.embedder == model.identity
        vectors = model.embed([q["text"] for q in doc["queries"]])
        for i, q in enumerate(doc["queries"]):
            assert gen.vector_hex(vectors[i * 384:(i + 1) * 384]) == q["vector"], q["text"]
            res = db.query(vectors[i * 384:(i + 1) * 384], k=q["k"])
            assert [res.ids, gen.vector_hex(res.scores)] == [q["expect"]["ids"], q["expect"]["scores"]]
    with pytest.raises(EmbedderMismatchError):
        agentdb.open(HERE / "minilm.rvf", readonly=True, embedder=HashEmbedder(dim=384))


def test_generator_reproduces_the_committed_bytes(tmp_path):
    """Re-running make_fixtures.py must give the committed files byte for byte; if a change
    alters them on purpose, re-run it, review the diff and commit the new files."""
    gen.write_all(tmp_path)
    for name in NAMES:
        for ext in ("rvf", "json"):
            new, old = (tmp_path / f"{name}.{ext}").read_bytes(), (HERE / f"{name}.{ext}").read_bytes()
            assert new == old, f"tests/fixtures/{name}.{ext} is no longer what make_fixtures.py writes: " \
                               f"re-run it and review the diff if the change is intended"
