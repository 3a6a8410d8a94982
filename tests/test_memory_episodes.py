"""Episodes: stored, retrieved by meaning with filters inside the search, summarised, pruned."""
import numpy as np
import pytest

from agentdb import UnknownIdError
from agentdb.embed import HashEmbedder
from agentdb.memory import MemoryInputError
from memory_support import new_memory

TASKS = ["parse the date in a log line", "fix the flaky integration test", "summarise a long email thread",
         "rename a column in the sales table", "deploy the web app to staging", "write release notes"]


def fill(mem, clock, n=300):
    """n episodes over the tasks, one an hour; returns their fields by id."""
    stored = {}
    for i in range(n):
        ep = dict(session=f"s{i % 7}", task=TASKS[i % len(TASKS)], input=f"case {i % 11}",
                  output=f"answer {i % 13}", critique=f"lesson {i % 5}", reward=round((i * 37 % 101) / 100, 2),
                  success=i % 3 != 0, latency_ms=float(10 * (i % 17)), tags=[f"t{i % 4}"])
        stored[mem.store_episode(**ep)] = dict(ep, created=clock.t)
        clock.t += 3600
    return stored


def reference(mem, stored, query, k, keep):
    """Brute force over the same vectors in numpy: the ids of the k best episodes passing keep()."""
    emb = HashEmbedder(dim=mem.store.dim)
    q = np.frombuffer(emb.embed([query]), dtype=np.float32)
    ids = [i for i, ep in stored.items() if keep(ep)]
    rows = np.array([np.frombuffer(emb.embed([f"{stored[i]['task']}\n{stored[i]['input']}"]), np.float32)
                     for i in ids])
    scores = rows @ q
    order = sorted(range(len(ids)), key=lambda j: -scores[j])
    return [ids[j] for j in order[:k]], sorted(scores[order[:k]], reverse=True)


@pytest.mark.parametrize("filters, keep", [
    ({}, lambda ep: True),
    ({"min_reward": 0.6}, lambda ep: ep["reward"] >= 0.6),
    ({"only_success": True}, lambda ep: ep["success"]),
    ({"only_failures": True, "session": "s3"}, lambda ep: not ep["success"] and ep["session"] == "s3"),
    ({"tags": ["t2"], "min_reward": 0.3}, lambda ep: "t2" in ep["tags"] and ep["reward"] >= 0.3),
    ({"time_window_days": 2}, "window"),
])
def test_retrieve_matches_brute_force_with_every_filter(kernel, filters, keep):
    mem, clock = new_memory(kernel)
    stored = fill(mem, clock)
    if keep == "window":
        keep = lambda ep: ep["created"] >= clock.t - 2 * 86400   # noqa: E731
    got = mem.retrieve_episodes("flaky integration test case 3", k=8, **filters)
    want_ids, want_scores = reference(mem, stored, "flaky integration test case 3", 8, keep)
    assert len(got) == min(8, sum(map(keep, stored.values())))
    assert [ep["similarity"] for ep in got] == pytest.approx(want_scores, abs=1e-5)
    assert set(ep["id"] for ep in got if ep["similarity"] > want_scores[-1] + 1e-5) <= set(want_ids)
    for ep in got:
        assert keep(stored[ep["id"]]) and ep["task"] == stored[ep["id"]]["task"]


def test_summaries_and_stats(kernel):
    mem, clock = new_memory(kernel)
    stored = fill(mem, clock, 120)
    critiques = mem.critique_summary(TASKS[2], k=10).split("\n")
    failures = mem.retrieve_episodes(TASKS[2], k=10, only_failures=True)
    assert critiques == list(dict.fromkeys(ep["critique"] for ep in failures))
    strategies = mem.success_strategies(TASKS[2], k=6)
    assert [s["reward"] for s in strategies] == sorted((s["reward"] for s in strategies), reverse=True)
    assert all(stored[s["id"]]["success"] for s in strategies)
    stats = mem.task_stats(TASKS[1])
    mine = [ep for ep in stored.values() if ep["task"] == TASKS[1]]
    assert stats["attempts"] == len(mine) == 20
    assert stats["successes"] == sum(ep["success"] for ep in mine)
    assert stats["avg_reward"] == pytest.approx(np.mean([ep["reward"] for ep in mine]))
    assert stats["avg_latency_ms"] == pytest.approx(np.mean([ep["latency_ms"] for ep in mine]))
    rewards = [ep["reward"] for ep in mine]
    assert stats["trend"] == pytest.approx(np.mean(rewards[10:]) - np.mean(rewards[:10]))
    assert mem.task_stats(TASKS[1], time_window_days=1)["attempts"] == 4
    assert mem.task_stats("never tried")["attempts"] == 0
    recent = mem.recent_episodes("s2", limit=3)
    assert [ep["created"] for ep in recent] == sorted((ep["created"] for ep in stored.values()
                                                       if ep["session"] == "s2"), reverse=True)[:3]


def test_prune_keeps_the_best_per_task_and_cascades(kernel):
    mem, clock = new_memory(kernel)
    stored = fill(mem, clock, 60)
    victim = min((i for i in stored if stored[i]["reward"] < 0.3), key=lambda i: stored[i]["reward"])
    skill = mem.create_skill("tidy logs", "drop noise from logs")
    edge = mem.add_causal_edge(skill, victim, uplift=0.1, confidence=0.5)
    deleted = mem.prune_episodes(min_reward=0.3, keep_per_task=1)
    left = {ep_id for ep_id, _ in mem.store.find({"kind": "episode"})}
    low = {i for i, ep in stored.items() if ep["reward"] < 0.3}
    assert deleted == len(low & (set(stored) - left)) + 1            # + the edge to a pruned episode
    for task in TASKS:                                                # every task keeps its best
        best = max((i for i in stored if stored[i]["task"] == task), key=lambda i: stored[i]["reward"])
        assert best in left
    assert all(i in left for i in stored if stored[i]["reward"] >= 0.3)
    assert victim not in left and edge not in mem.store
    recent = {i for i in left if stored[i]["created"] >= clock.t - 86400}
    assert mem.prune_episodes(max_age_days=1) == len(left - recent)
    assert {ep_id for ep_id, _ in mem.store.find({"kind": "episode"})} == recent
    with pytest.raises(ValueError, match="needs max_age_days=, min_reward= or max_count="):
        mem.prune_episodes()
    for i in range(10):
        mem.store_episode("s", TASKS[i % 2], reward=0.5, success=True)
        clock.t += 1
    newest = [ep_id for ep_id, _ in mem.store.find({"kind": "episode"})][-3:]
    mem.prune_episodes(max_count=3)
    assert [ep_id for ep_id, _ in mem.store.find({"kind": "episode"})] == newest


def test_delete_episode(kernel):
    mem, _ = new_memory(kernel)
    ep = mem.store_episode("s", "task one", reward=0.5, success=True)
    mem.delete_episode(ep)
    assert mem.retrieve_episodes("task one") == []
    with pytest.raises(UnknownIdError, match="no episode with id 'episode:1'"):
        mem.get_episode(ep)


@pytest.mark.parametrize("bad, message", [
    ({"task": ""}, "task is empty"),
    ({"task": "   "}, "task is empty"),
    ({"reward": 1.5}, r"reward must be in \[0, 1\], got 1.5"),
    ({"reward": float("nan")}, "reward must be a finite number"),
    ({"success": "yes"}, "success must be True or False"),
    ({"tags": "urgent"}, "tags must be a list of strings"),
    ({"tokens": -3}, "tokens must be a non-negative integer"),
    ({"embedding": [0.1] * 5}, "embedding has 5 values, the store's dimension is 96"),
])
def test_bad_episodes_are_refused_and_change_nothing(bad, message):
    mem, _ = new_memory()
    args = {"session": "s", "task": "a task", "reward": 0.5, "success": True, **bad}
    with pytest.raises((MemoryInputError, ValueError), match=message):
        mem.store_episode(**args)
    assert len(mem.store) == 0
    with pytest.raises(ValueError, match="exclude each other"):
        mem.retrieve_episodes("x", only_success=True, only_failures=True)


def test_store_episodes_is_one_commit_and_names_a_bad_one(kernel):
    mem, _ = new_memory(kernel)
    batch = [{"session": "s", "task": f"task {i}", "reward": 0.5, "success": True} for i in range(50)]
    version = mem.store.version
    ids = mem.store_episodes(batch)
    assert ids == [f"episode:{i}" for i in range(1, 51)] and mem.store.version == version + 1
    assert mem.get_episode("episode:7")["task"] == "task 6"
    bad = batch[:3] + [{"session": "s", "task": "x", "reward": -1, "success": True}]
    with pytest.raises(MemoryInputError, match=r"episodes\[3\]: reward must be in \[0, 1\]"):
        mem.store_episodes(bad)
    with pytest.raises(TypeError, match=r"episodes\[0\]: .*unexpected keyword argument 'colour'"):
        mem.store_episodes([{"session": "s", "task": "x", "reward": 1, "success": True, "colour": "red"}])
    assert len(mem.store) == 50 and mem.store_episode("s", "next", reward=1, success=True) == "episode:51"
