"""SONA trajectories in the agent memory: trajectories around seeded cluster centres, whose
successful ones learn_trajectories turns into patterns that recover the centres (from one
trajectory up); every ended trajectory one "trajectory:<n>" record; a reopened memory (a
file, a read-only open, the worker's stored bytes) rebuilt from those records answers with
the same patterns and the same micro-LoRA bits, and carries on learning the same; every
backend gives the same bits; mistakes raise typed errors."""
import json

import numpy as np
import pytest

import agentdb.memory
from agentdb import worker_api
from agentdb.embed import HashEmbedder
from agentdb.errors import ArgumentError, DimensionError, NonFiniteError, ReadOnlyError, UnknownIdError
from agentdb.kernel import load
from agentdb.memory import MemoryInputError
from agentdb.memory.trajectories import LEARNER
from memory_support import new_memory
from support import SEED, bits, f32

DIM = 17
ROUTES = ["search", "code", "math", "chat"]


def unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x)


def centres(seed, k=4):
    return f32([unit(v) for v in np.random.default_rng(seed).standard_normal((k, DIM))])


def play(mem, rng, c, n, *, failing=(3,), spread=0.05):
    """n trajectories, each around a random centre (one step toward it); those of `failing`
    centres end below the quality threshold. Returns the centre of each."""
    labels = rng.integers(0, len(c), n)
    for j in labels:
        t = mem.begin_trajectory(embedding=f32(c[j] + spread * rng.standard_normal(DIM)), route=ROUTES[j])
        mem.add_trajectory_step(t, reward=float(rng.random()), embedding=f32(c[j] + 0.05 * rng.standard_normal(DIM)))
        mem.add_trajectory_context(t, f"doc:{j}")
        mem.end_trajectory(t, quality=float(rng.uniform(0.1, 0.4) if j in failing else rng.uniform(0.6, 1.0)))
    return labels


def test_patterns_recover_the_centres_of_the_successful_trajectories(kernel, rng):
    mem, _ = new_memory(kernel, dim=DIM)
    c = centres(SEED)
    labels = play(mem, rng, c, 120)
    good = int((labels != 3).sum())
    assert mem.learn_trajectories(clusters=3) == {"trajectories_used": good, "patterns_extracted": 3,
                                                  "below_threshold": 120 - good}
    patterns = mem.trajectory_patterns()
    assert sorted(p["routes"][0][0] for p in patterns) == sorted(ROUTES[:3])
    for p in patterns:
        j = ROUTES.index(p["routes"][0][0])
        assert p["routes"] == [[ROUTES[j], int((labels == j).sum())]] and p["size"] == (labels == j).sum()
        assert np.linalg.norm(np.asarray(p["centroid"]) - c[j]) < 0.1    # noise: 0.05 per element / sqrt(n)
        assert unit(p["centroid"]) @ c[j] > 0.998
        assert 0.6 <= p["avg_quality"] <= 1.0
        nearest = mem.trajectory_patterns(embedding=f32(c[j] + 0.02 * rng.standard_normal(DIM)), k=2)
        assert nearest[0]["id"] == p["id"] and len(nearest) == 2
    assert mem.stats()["memories"] == {"trajectory": 120}
    assert mem.trajectory_stats()["ended"] == 120 and mem.trajectory_stats()["patterns"] == 3
    assert mem.recall("anything", k=5) == []                    # recall never returns trajectories


def test_one_trajectory_is_enough_to_learn(kernel):
    mem, _ = new_memory(kernel, dim=DIM)
    with pytest.raises(MemoryInputError, match="needs at least one ended trajectory"):
        mem.learn_trajectories()
    t = mem.begin_trajectory("parse the date in a log line", route="regex")
    mem.add_trajectory_step(t, reward=1.0, text="used a strict ISO-8601 regex")
    ended = mem.end_trajectory(t, quality=0.9)
    assert ended == {"id": "trajectory:1", "trajectory": t, "steps": 1, "mean_reward": 1.0, "quality": 0.9,
                     "route": "regex", "contexts": [], "successful": True}
    assert mem.learn_trajectories() == {"trajectories_used": 1, "patterns_extracted": 1, "below_threshold": 0}
    [p] = mem.trajectory_patterns("when was this logged", k=3)
    stored = mem.store.get("trajectory:1")
    assert (p["size"], p["routes"], p["avg_quality"]) == (1, [["regex", 1]], float(np.float32(0.9)))
    assert np.array_equal(bits(f32(p["centroid"])), bits(stored.vector))     # the one query is the centroid
    record = mem.get_memory("trajectory:1")
    assert record["query"] == "parse the date in a log line" and record["learned"] == [[8, 1]]
    assert record["signal_steps"] == 1 and isinstance(record["signal"], str)      # base64 float32


def test_a_record_holds_the_trajectory(kernel):
    mem, clock = new_memory(kernel, dim=DIM)
    t = mem.begin_trajectory(embedding=[1.0] * DIM)
    mem.add_trajectory_step(t, reward=0.5)                     # no vector: counts, teaches nothing
    mem.add_trajectory_step(t, reward=1.0, activations=[0.5] * DIM)
    mem.set_trajectory_route(t, "code")
    mem.add_trajectory_context(t, "note:7")
    clock.t += 10
    assert mem.end_trajectory(t, quality=0.3)["successful"] is False
    md = mem.get_memory("trajectory:1")
    assert {k: md[k] for k in ("kind", "trajectory", "route", "quality", "steps", "mean_reward", "contexts",
                               "successful", "signal_steps", "learned")} == \
        {"kind": "trajectory", "trajectory": t, "route": "code", "quality": 0.3, "steps": 2, "mean_reward": 0.75,
         "contexts": ["note:7"], "successful": False, "signal_steps": 1, "learned": []}
    assert "query" not in md and md["created"] == clock.t
    assert np.allclose(mem.store.get("trajectory:1").vector, [DIM ** -0.5] * DIM)   # unit length (cosine)
    assert mem.trajectory_stats()["micro_lora_updates"] == 1
    assert mem.learn_trajectories()["patterns_extracted"] == 0    # nothing successful: a run all the same
    assert mem.trajectory_patterns() == [] and mem.trajectory_patterns("x") == []


def history(mem, seed, n=60, *, leave_open=False):
    """Trajectories interleaved (several open at once), text and embedding queries, steps
    with text, embeddings, activations or nothing, routes and contexts set on the way, and
    learning runs (forced with 3 or the default clusters, and ticks) between them; more
    trajectories ended after the last run."""
    rng = np.random.default_rng(seed)
    c = centres(seed)
    opened, ended, learnt = [], 0, []
    while ended < n:
        if len(opened) < 3 or rng.random() < 0.3:
            j = int(rng.integers(0, 4))
            if rng.random() < 0.3:
                t = mem.begin_trajectory(f"task {j} attempt {len(opened)}", route=ROUTES[j])
            else:
                t = mem.begin_trajectory(embedding=f32(c[j] + 0.05 * rng.standard_normal(DIM)))
            opened.append((t, j))
        t, j = opened[int(rng.integers(0, len(opened)))]
        how = rng.random()
        reward = float(rng.random())
        if how < 0.2:
            mem.add_trajectory_step(t, reward=reward, text=f"step for {ROUTES[j]}")
        elif how < 0.6:
            mem.add_trajectory_step(t, reward=reward, embedding=f32(c[(j + 1) % 4] + rng.standard_normal(DIM)))
        elif how < 0.8:
            mem.add_trajectory_step(t, reward=reward, activations=f32(rng.standard_normal(DIM)))
        else:
            mem.add_trajectory_step(t, reward=reward)
        if rng.random() < 0.1:
            mem.set_trajectory_route(t, ROUTES[(j + 2) % 4])
        if rng.random() < 0.2:
            mem.add_trajectory_context(t, f"doc:{int(rng.integers(0, 9))}")
        if rng.random() < 0.35:
            opened.remove((t, j))
            mem.end_trajectory(t, quality=float(rng.random()))
            ended += 1
            if ended in (5, 20):
                learnt.append(mem.learn_trajectories(clusters=3 if ended == 20 else None))
            elif ended % 7 == 0:
                learnt.append(mem.learn_trajectories(force=False))
    for t, _ in opened if not leave_open else opened[1:]:
        mem.end_trajectory(t, quality=0.8)
    if leave_open and opened:
        mem.add_trajectory_step(opened[0][0], reward=0.4, embedding=f32(c[0]))
    return learnt, [t for t, _ in opened[:1]] if leave_open else []


def answers(mem, seed):
    queries = f32(centres(seed + 1, k=5))
    return {"patterns": mem.trajectory_patterns(),
            "nearest": [[p["id"] for p in mem.trajectory_patterns(embedding=q, k=3)] for q in queries],
            "micro": [bits(f32(mem.apply_micro_lora(embedding=q))).tolist() for q in queries],
            "text": bits(f32(mem.apply_micro_lora("task 1 attempt 0"))).tolist(),
            "stats": mem.trajectory_stats()}


def test_a_reopened_memory_answers_and_learns_exactly_as_before(kernel, tmp_path):
    path = tmp_path / "agent.rvf"
    mem, _ = new_memory(kernel, path=path, dim=DIM)
    learnt, _ = history(mem, SEED)
    # forced at 5 and 20 ended; ticks at 7, 14, 21, ... wait for 32 since the last run, so 56 learns
    assert [r is not None for r in learnt] == [True, False, False, True, False, False, False, False, False, True]
    assert learnt[-1]["trajectories_used"] > 3                      # the tick at 56: 32 since the run at 20
    before, learner = answers(mem, SEED), mem._sona.to_json()
    assert before["stats"]["learn_runs"] >= 3 and before["stats"]["micro_lora_updates"] > 20
    assert len({tuple(m) for m in before["micro"]}) == 5
    mem.close()
    with agentdb.memory.open(path, kernel=kernel, readonly=True) as seen:
        assert answers(seen, SEED) == before
    again = agentdb.memory.open(path, kernel=kernel, embedder=HashEmbedder(dim=DIM, kernel=kernel))
    assert answers(again, SEED) == before
    assert again._sona.to_json() == learner                               # the learner, bit for bit
    twin, _ = new_memory(kernel, dim=DIM)                                  # the same history, never closed
    history(twin, SEED)
    for each in (again, twin):                                             # both carry on the same way
        rng = np.random.default_rng(SEED + 2)
        play(each, rng, centres(SEED), 12, failing=())
        each.learn_trajectories()
    assert answers(again, SEED) == answers(twin, SEED)
    assert again._sona.to_json() == twin._sona.to_json()
    again.close()


def test_open_trajectories_live_in_memory_only(kernel, tmp_path):
    path = tmp_path / "agent.rvf"
    mem, _ = new_memory(kernel, path=path, dim=DIM)
    _, [still_open] = history(mem, SEED, n=20, leave_open=True)
    before = answers(mem, SEED)
    assert before["stats"]["active"] == 1
    mem.close()
    with agentdb.memory.open(path, kernel=kernel) as again:
        after = answers(again, SEED)
        assert after["stats"]["active"] == 0 and after["stats"]["ended"] == before["stats"]["ended"]
        for key in ("patterns", "nearest", "micro", "text"):          # only the open one is gone
            assert after[key] == before[key]
        with pytest.raises((UnknownIdError, ArgumentError)):
            again.end_trajectory(still_open, quality=1.0)


def test_a_forgotten_trajectory_is_forgotten_by_the_learner(kernel, tmp_path):
    path = tmp_path / "agent.rvf"
    mem, _ = new_memory(kernel, path=path, dim=DIM)
    history(mem, SEED, n=30)
    open_one = mem.begin_trajectory(embedding=f32(centres(SEED)[0]))
    before = answers(mem, SEED)
    assert mem.forget_memory("trajectory:5") == 1
    mem.remember("an unrelated note")                           # another write in between: no rebuild of it
    after = answers(mem, SEED)
    assert after["stats"]["ended"] == before["stats"]["ended"] - 1 and after["micro"] != before["micro"]
    mem.add_trajectory_step(open_one, reward=1.0, embedding=f32(centres(SEED)[1]))   # kept through the rebuild
    mem.end_trajectory(open_one, quality=0.9)
    mem.learn_trajectories()
    live = answers(mem, SEED)
    mem.close()
    with agentdb.memory.open(path, kernel=kernel) as again:
        assert answers(again, SEED) == live


def test_a_failed_write_leaves_the_trajectory_open(kernel, monkeypatch):
    mem, _ = new_memory(kernel, dim=DIM)
    t = mem.begin_trajectory("sort a list")
    mem.add_trajectory_step(t, reward=1.0, text="used sorted()")

    def broken(*args, **kwargs):
        raise OSError("disk full")
    with monkeypatch.context() as patch:
        patch.setattr(mem.store, "ingest", broken)
        with pytest.raises(OSError, match="disk full"):
            mem.end_trajectory(t, quality=0.9)
    assert mem.trajectory_stats()["active"] == 1 and mem.trajectory_stats()["micro_lora_updates"] == 0
    assert mem.end_trajectory(t, quality=0.9)["steps"] == 1
    with monkeypatch.context() as patch:
        patch.setattr(mem.store, "update_metadata", broken)
        with pytest.raises(OSError):
            mem.learn_trajectories()
    assert mem.trajectory_stats()["learn_runs"] == 0 and mem.trajectory_patterns() == []   # as its records say
    assert mem.learn_trajectories()["patterns_extracted"] == 1


def test_every_backend_gives_the_same_bits(kernel):
    mem, _ = new_memory(kernel, dim=DIM)
    want, _ = new_memory(load("native"), dim=DIM)
    history(mem, SEED, n=40)
    history(want, SEED, n=40)
    assert answers(mem, SEED) == answers(want, SEED)


def test_the_worker_serves_trajectories_and_rebuilds_them_from_stored_bytes():
    """What db.memory.beginTrajectory({...}) and the rest send (web/agentdb.js: camelCase in,
    snake_case keywords to the worker), with the stored bytes reopened as after a reload."""
    hashing = {"name": HashEmbedder.name, "dim": DIM, "semantic": False}
    stored = b""

    def call(op, buffer=None, **args):
        nonlocal stored
        out = worker_api.handle(op, json.dumps(args), buffer)
        for _, offset, chunk in worker_api.take_commits("traj"):       # what the worker puts in IndexedDB
            stored = stored[:offset] + bytes(chunk)
        return json.loads(out)

    def memory(method, **args):
        return call("memory", name="traj", method=method, args=args)["value"]

    native, _ = new_memory(dim=DIM)
    call("open", name="traj", options={"dim": DIM, "embedder": hashing, "persist": True})
    rng = np.random.default_rng(SEED)
    c = centres(SEED)
    for i in range(12):
        j = i % 3
        q, step = (c[j] + 0.05 * rng.standard_normal(DIM)).tolist(), rng.standard_normal(DIM).tolist()
        t = memory("begin_trajectory", embedding=q, route=ROUTES[j])
        assert t == native.begin_trajectory(embedding=q, route=ROUTES[j]) == i + 1
        memory("add_trajectory_step", trajectory_id=t, reward=i / 12, embedding=step)
        native.add_trajectory_step(t, reward=i / 12, embedding=step)
        memory("add_trajectory_context", trajectory_id=t, context_id=f"doc:{j}")
        native.add_trajectory_context(t, f"doc:{j}")
        assert memory("end_trajectory", trajectory_id=t, quality=0.9)["id"] == \
            native.end_trajectory(t, quality=0.9)["id"] == f"trajectory:{i + 1}"
    assert memory("learn_trajectories", clusters=3) == native.learn_trajectories(clusters=3)
    want = {"patterns": native.trajectory_patterns(), "micro": native.apply_micro_lora(embedding=c[0].tolist()),
            "text": native.apply_micro_lora("task"), "stats": native.trajectory_stats()}
    got = {"patterns": memory("trajectory_patterns"), "micro": memory("apply_micro_lora", embedding=c[0].tolist()),
           "text": memory("apply_micro_lora", query="task"), "stats": memory("trajectory_stats")}
    assert got == json.loads(json.dumps(want)) and len(got["patterns"]) == 3
    open_one = memory("begin_trajectory", query="left open")
    call("close", name="traj")
    call("open", stored, name="traj", options={"persist": True})        # the page reloaded
    assert {"patterns": memory("trajectory_patterns"), "micro": memory("apply_micro_lora", embedding=c[0].tolist()),
            "text": memory("apply_micro_lora", query="task"), "stats": memory("trajectory_stats")} == got
    with pytest.raises(UnknownIdError):                                # open trajectories are not stored
        memory("end_trajectory", trajectory_id=open_one, quality=1.0)
    call("close", name="traj")


@pytest.mark.parametrize("call,cls,message", [
    (lambda m, t: m.add_trajectory_step(99, reward=1), UnknownIdError, "no trajectory with id 99"),
    (lambda m, t: m.end_trajectory("trajectory:1", quality=1), UnknownIdError, "'trajectory:1'"),
    (lambda m, t: (m.end_trajectory(t, quality=1), m.end_trajectory(t, quality=1)), ArgumentError, "ended already"),
    (lambda m, t: (m.end_trajectory(t, quality=1), m.add_trajectory_step(t, reward=1)), ArgumentError,
     "ended already"),
    (lambda m, t: m.set_trajectory_route(42, "x"), UnknownIdError, "42"),
    (lambda m, t: m.add_trajectory_context(42, "x"), UnknownIdError, "42"),
    (lambda m, t: m.add_trajectory_step(t, reward=float("nan")), MemoryInputError, "reward must be a finite"),
    (lambda m, t: m.add_trajectory_step(t, reward=1, embedding=[float("nan")] + [0] * (DIM - 1)), NonFiniteError,
     "element 0 is nan"),
    (lambda m, t: m.add_trajectory_step(t, reward=1, activations=[1, 2]), DimensionError, "activations"),
    (lambda m, t: m.add_trajectory_step(t, reward=1, embedding=[1] * 3), DimensionError, "embedding"),
    (lambda m, t: m.add_trajectory_step(t, reward=1, text="a", embedding=[1] * DIM), MemoryInputError, "not both"),
    (lambda m, t: m.begin_trajectory(embedding=[1, 2, 3]), DimensionError, "3 values"),
    (lambda m, t: m.begin_trajectory(embedding=[float("inf")] * DIM), NonFiniteError, "inf"),
    (lambda m, t: m.begin_trajectory(), MemoryInputError, "query must be a string"),
    (lambda m, t: m.begin_trajectory("q", route=5), MemoryInputError, "route must be a string"),
    (lambda m, t: m.set_trajectory_route(t, ""), MemoryInputError, "route is empty"),
    (lambda m, t: m.add_trajectory_context(t, ""), MemoryInputError, "context_id is empty"),
    (lambda m, t: m.end_trajectory(t, quality=1.5), MemoryInputError, r"quality must be in \[0, 1\]"),
    (lambda m, t: m.end_trajectory(t, quality=float("nan")), MemoryInputError, "quality must be a finite"),
    (lambda m, t: m.learn_trajectories(), MemoryInputError, "at least one ended trajectory"),
    (lambda m, t: (m.end_trajectory(t, quality=1), m.learn_trajectories(clusters=0)), MemoryInputError, "clusters"),
    (lambda m, t: m.learn_trajectories(force="yes"), MemoryInputError, "force must be"),
    (lambda m, t: m.trajectory_patterns("q", k=0), MemoryInputError, "k must be"),
    (lambda m, t: m.apply_micro_lora(embedding=[1] * (DIM + 1)), DimensionError, "18 values"),
])
def test_mistakes_raise_typed_errors(kernel, call, cls, message):
    mem, _ = new_memory(kernel, dim=DIM)
    tid = mem.begin_trajectory("a query")
    with pytest.raises(cls, match=message):
        call(mem, tid)
    assert mem.stats()["memories"].get("trajectory", 0) <= 1


def test_a_read_only_memory_answers_but_records_nothing(kernel, tmp_path):
    path = tmp_path / "agent.rvf"
    mem, _ = new_memory(kernel, path=path, dim=DIM)
    play(mem, np.random.default_rng(SEED), centres(SEED), 5)
    mem.learn_trajectories()
    want = mem.trajectory_patterns()
    mem.close()
    with agentdb.memory.open(path, kernel=kernel, readonly=True) as seen:
        assert seen.trajectory_patterns() == want
        for write in (lambda: seen.begin_trajectory("q"), lambda: seen.learn_trajectories()):
            with pytest.raises(ReadOnlyError):
                write()


def test_the_learner_settings_are_the_documented_ones():
    assert LEARNER["clusters"] == 8 and LEARNER["quality_threshold"] == 0.5 and LEARNER["learn_every"] == 32
