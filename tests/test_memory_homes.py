"""One memory, both homes: the scenario gives the same JSON on every kernel backend; a memory
file written by one backend recalls the same on the other; the embedder is never switched
silently; the worker's memory op is the same API."""
import json

import pytest

import agentdb
import agentdb.memory
import memory_scenario
from agentdb.embed import EmbedderMismatchError, FunctionEmbedder
from agentdb.kernel import load
from agentdb.memory import MemoryInputError
from agentdb.persist import ReadOnlyError
from memory_support import new_memory


def test_the_scenario_is_identical_on_every_backend():
    native = memory_scenario.run(load("native"))
    assert memory_scenario.run(load("wasmhost")) == native
    assert native["recall"][0]["uplift"] > 0 and native["route"][2] == [] or native["route"][2][0]["score"] < 0.1


def test_a_file_from_one_backend_recalls_the_same_on_the_other(tmp_path):
    path = tmp_path / "agent.rvf"
    mem, clock = new_memory(load("native"), path=path)
    for i in range(40):
        mem.store_episode(f"s{i % 3}", f"task number {i % 8}", input=f"detail {i}", reward=(i % 10) / 10,
                          success=i % 4 != 0, tags=[f"t{i % 2}"])
    mem.add_intent("greet", ["hello there", "good morning"])
    queries = [("task number 3 detail", {}), ("task number 5", {"only_success": True, "tags": ["t1"]})]
    want = [mem.retrieve_episodes(q, k=6, **f) for q, f in queries]
    route = mem.route("hello")
    mem.close()
    with agentdb.memory.open(path, kernel=load("wasmhost"), clock=clock) as again:
        assert [again.retrieve_episodes(q, k=6, **f) for q, f in queries] == want
        assert again.route("hello") == route


def test_the_embedder_is_never_switched_silently(tmp_path):
    path = tmp_path / "model.rvf"
    model = FunctionEmbedder(lambda texts: [[float(len(t)), 1.0, 0.0, 2.0] for t in texts], name="toy-model", dim=4)
    with agentdb.memory.open(path, embedder=model) as mem:
        mem.remember("a long enough note")
    with pytest.raises(EmbedderMismatchError, match="toy-model"):
        agentdb.memory.open(path)                         # no embedder given: the file records another model
    with agentdb.memory.open(path, embedder=model) as mem:
        assert mem.recall("another note")[0]["text"] == "a long enough note"
        assert mem.stats()["embedder"] == {"name": "toy-model", "dim": 4, "semantic": True}
    plain = agentdb.open(dim=384)
    plain.ingest(["x"], [[1.0] * 384])                        # vectors of unknown origin
    with pytest.raises(EmbedderMismatchError, match="1 vectors of unrecorded origin"):
        agentdb.memory.AgentMemory(plain)
    agentdb.memory.AgentMemory(plain, force=True)
    numbered = agentdb.open(dim=16)
    numbered.ingest([1], [[1.0] * 16])
    with pytest.raises(MemoryInputError, match="integer ids"):
        agentdb.memory.AgentMemory(numbered)


def test_a_readonly_memory_reads_and_refuses_writes(tmp_path):
    path = tmp_path / "ro.rvf"
    mem, _ = new_memory(path=path)
    mem.remember("read me later")
    mem.close()
    with agentdb.memory.open(path, readonly=True) as ro:
        assert ro.recall("read me")[0]["text"] == "read me later"
        with pytest.raises(ReadOnlyError):
            ro.remember("nope")


def test_the_worker_memory_op():
    from agentdb import worker_api

    hashing = {"name": "agentdb-hash-v1", "dim": 64, "semantic": False}
    worker_api.handle("open", json.dumps({"name": "m", "options": {"dim": 64, "embedder": hashing}}))
    call = lambda method, **args: json.loads(worker_api.handle(   # noqa: E731
        "memory", json.dumps({"name": "m", "method": method, "args": args})))["value"]
    ep = call("store_episode", session="s", task="water the plants", reward=1.0, success=True)
    assert call("retrieve_episodes", task="plants")[0]["id"] == ep
    assert call("stats")["memories"] == {"episode": 1}
    with pytest.raises(AttributeError, match="no method 'close'"):
        call("close")
    with pytest.raises(AttributeError, match="no method '_put'"):
        call("_put")
    worker_api.handle("close", json.dumps({"name": "m"}))


def test_the_worker_asks_the_page_for_a_models_vectors():
    from agentdb import worker_api

    model = {"name": "page-model", "dim": 8, "semantic": True}
    worker_api.handle("open", json.dumps({"name": "p", "options": {"dim": 8, "embedder": model}}))
    vec = lambda text: [float(len(text) % 5 + 1)] + [float(ord(c) % 7) for c in (text + "xxxxxxx")[:7]]  # noqa: E731
    rounds = []

    def call(method, **args):
        embeddings = {}
        while True:
            out = json.loads(worker_api.handle("memory", json.dumps(
                {"name": "p", "method": method, "args": args, "embeddings": embeddings})))
            if "value" in out:
                return out["value"]
            rounds.append(out["needEmbeddings"])
            embeddings.update({t: vec(t) for t in out["needEmbeddings"]})

    for i in range(6):
        call("store_episode", session="s", task=f"task {i % 2}", output=f"out {i}", reward=0.9, success=True)
    assert rounds[0] == ["task 0"] and [ep["id"] for ep in call("retrieve_episodes", task="task 1")][:1] == \
        ["episode:2"]                                    # a repeated call did not skip ids
    rounds.clear()
    created = call("consolidate_skills", min_attempts=3)["created"]
    assert created == ["skill:1", "skill:2"] and len(rounds) == 2          # one round per new text
    worker_api.handle("close", json.dumps({"name": "p"}))
