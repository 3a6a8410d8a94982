"""Reasoning patterns: found by similarity with filters and a threshold; recorded outcomes move
the success rate as an EMA, which changes what find_patterns returns and what prune removes."""
import pytest

from agentdb.memory import MemoryInputError
from memory_support import new_memory


def test_outcomes_are_an_exponential_moving_average(kernel):
    mem, _ = new_memory(kernel)
    p = mem.store_pattern("sql", "add an index on the join column", success_rate=0.5)
    rate = 0.5
    for ok in (True, True, False, True, False, False):
        rate = 0.9 * rate + 0.1 * ok
        assert mem.record_outcome(p, success=ok, reward=1.0 if ok else 0.0)["success_rate"] == pytest.approx(rate)
    got = mem.get_pattern(p)
    assert got["uses"] == 6 and got["avg_reward"] == pytest.approx(0.5) and got["success_rate"] == pytest.approx(rate)


def test_find_with_filters_threshold_and_learning(kernel):
    mem, _ = new_memory(kernel)
    a = mem.store_pattern("sql", "add an index on the join column", tags=["db"])
    b = mem.store_pattern("sql", "rewrite the subquery as a join column lookup", tags=["db"])
    c = mem.store_pattern("frontend", "memoise the component", tags=["ui"])
    found = mem.find_patterns("slow join on a big table column", k=3)
    assert found[0]["id"] in (a, b) and len(found) == 3
    assert {p["id"] for p in mem.find_patterns("slow join", task_type="sql", k=5)} == {a, b}
    assert [p["id"] for p in mem.find_patterns("slow join", tags=["ui"], k=5)] == [c]
    top = found[0]["similarity"]
    assert [p["id"] for p in mem.find_patterns("slow join on a big table column", threshold=top)] == [found[0]["id"]]
    for _ in range(10):                                  # the better-matching pattern keeps failing
        mem.record_outcome(found[0]["id"], success=False)
        mem.record_outcome(({a, b} - {found[0]["id"]}).pop(), success=True)
    learnt = mem.find_patterns("slow join on a big table column", k=3, min_success_rate=0.55)
    assert [p["id"] for p in learnt] == [({a, b} - {found[0]["id"]}).pop()]
    by_type = mem.patterns_by_type("sql")
    assert by_type[0]["success_rate"] > by_type[1]["success_rate"]
    assert mem.prune_patterns(min_success_rate=0.3, min_uses=5) == 1
    stats = mem.pattern_stats()
    assert stats["patterns"] == 2 and stats["top_task_types"] == [("frontend", 1), ("sql", 1)]


def test_own_embeddings_and_bad_input(kernel):
    mem, _ = new_memory(kernel)
    vec = [0.0] * 96
    vec[3] = 1.0
    p = mem.store_pattern("vision", "crop first", embedding=vec)
    assert mem.find_patterns("anything", embedding=vec)[0]["id"] == p
    with pytest.raises(MemoryInputError, match="approach is empty"):
        mem.store_pattern("vision", "")
    with pytest.raises(MemoryInputError, match=r"success_rate must be in \[0, 1\]"):
        mem.store_pattern("vision", "x", success_rate=2)
    with pytest.raises(MemoryInputError, match="success must be True or False"):
        mem.record_outcome(p, success=1)
    with pytest.raises(KeyError, match="no pattern with id 'episode:1'"):
        mem.record_outcome("episode:1", success=True)
