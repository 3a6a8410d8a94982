"""Causal memory: Welch's t-test against textbook values, experiments that record edges, and
causal recall whose ranking changes with measured uplift, latency and the weights."""
import math

import numpy as np
import pytest

from agentdb import UnknownIdError
from agentdb.memory import MemoryInputError
from agentdb.memory.stats import betainc, t_critical, t_two_sided_p, welch
from memory_support import new_memory


@pytest.mark.parametrize("t, df, p", [(12.706, 1, 0.05), (2.228, 10, 0.05), (2.845, 20, 0.01), (1.96, 1e6, 0.05),
                                      (0.0, 5, 1.0), (3.707, 6, 0.01)])
def test_t_distribution_matches_the_tables(t, df, p):
    assert t_two_sided_p(t, df) == pytest.approx(p, abs=2e-4)


def test_incomplete_beta_and_inverse():
    assert betainc(1, 1, 0.3) == pytest.approx(0.3)                     # uniform
    assert betainc(2, 3, 0.4) == pytest.approx(0.5248)                  # 1 - sum of binomial terms
    assert betainc(0.5, 0.5, 0.5) == pytest.approx(0.5)
    assert t_critical(10) == pytest.approx(2.228, abs=1e-3)
    assert t_critical(30, level=0.99) == pytest.approx(2.750, abs=1e-3)


def test_welch_against_numpy(rng):
    a, b = rng.normal(0.7, 0.1, 15), rng.normal(0.5, 0.2, 9)
    out = welch(list(a), list(b))
    va, vb = a.var(ddof=1) / 15, b.var(ddof=1) / 9
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 14 + vb ** 2 / 8)
    assert out["uplift"] == pytest.approx(a.mean() - b.mean()) and out["df"] == pytest.approx(df)
    assert out["p_value"] == pytest.approx(t_two_sided_p(t, df))
    lo, hi = out["ci95"]
    assert (lo + hi) / 2 == pytest.approx(out["uplift"]) and lo < out["uplift"] < hi
    assert welch([1.0], [0.0])["p_value"] == 1.0                        # too few to tell


def test_an_experiment_raises_a_memory_in_causal_recall(kernel):
    mem, _ = new_memory(kernel)
    probe = mem.create_skill("wait for the server", "poll the health endpoint before the test starts")
    sleep = mem.create_skill("sleep before the test", "sleep five seconds before the test starts")
    outcome = mem.store_episode("s", "integration test run", reward=0.9, success=True)
    query = "make the test wait for the server before it starts"
    plain = [h["id"] for h in mem.causal_recall(query, k=2, kinds=["skill"])]
    assert set(plain) == {probe, sleep}
    exp = mem.create_experiment("probe vs nothing", "polling makes the test pass", treatment=probe, effect=outcome)
    for i in range(10):
        mem.record_observation(exp, treatment=True, outcome=0.8 + 0.02 * (i % 3))
        mem.record_observation(exp, treatment=False, outcome=0.3 + 0.02 * (i % 4))
    result = mem.calculate_uplift(exp)
    assert result["uplift"] == pytest.approx(np.mean([0.8 + 0.02 * (i % 3) for i in range(10)]) -
                                             np.mean([0.3 + 0.02 * (i % 4) for i in range(10)]))
    assert result["confidence"] > 0.999 and result["n_treatment"] == result["n_control"] == 10
    [edge] = mem.causal_effects(probe)
    assert (edge["effect"], edge["uplift"], edge["sample_size"]) == (outcome, result["uplift"], 20)
    ranked = mem.causal_recall(query, k=2, kinds=["skill"])
    assert ranked[0]["id"] == probe and ranked[0]["uplift"] == pytest.approx(result["uplift"])
    assert ranked[0]["utility"] == pytest.approx(0.7 * ranked[0]["similarity"] + 0.2 * ranked[0]["uplift"])
    only_sim = mem.causal_recall(query, k=2, kinds=["skill"], beta=0.0)
    assert [h["id"] for h in only_sim] == plain                          # without uplift: similarity order
    mem.calculate_uplift(exp)                                             # again: the same edge, updated
    assert len(mem.causal_effects(probe)) == 1


def test_latency_penalty_and_weights(kernel):
    mem, _ = new_memory(kernel)
    slow = mem.store_episode("s", "resize the images", output="one by one", reward=0.9, success=True,
                             latency_ms=9000)
    fast = mem.store_episode("s", "resize the images", output="in a batch", reward=0.9, success=True,
                             latency_ms=100)
    ranked = mem.causal_recall("resize the images", k=2, kinds=["episode"])
    assert [h["id"] for h in ranked] == [fast, slow]                    # equal similarity: the faster first
    assert ranked[1]["latency_s"] == 9.0
    mem.causal_weights = (1.0, 0.0, -1.0)                                # configurable (a reward for slowness)
    assert [h["id"] for h in mem.causal_recall("resize the images", k=2, kinds=["episode"])] == [slow, fast]


def test_edges_chains_and_errors(kernel):
    mem, _ = new_memory(kernel)
    a, b, c, d = (mem.remember(t) for t in ("cache the results", "pages load faster", "users stay longer",
                                            "revenue grows"))
    mem.add_causal_edge(a, b, uplift=0.4, confidence=0.9, mechanism="fewer database round trips")
    mem.add_causal_edge(b, c, uplift=0.2, confidence=0.8, mechanism="less waiting")
    mem.add_causal_edge(c, d, uplift=0.1, confidence=0.5)
    mem.add_causal_edge(a, c, uplift=0.05, confidence=0.6)
    chains = mem.causal_chain(a, d)
    assert [ch["memories"] for ch in chains] == [[a, b, c, d], [a, c, d]]      # most confident first
    assert chains[0]["uplift"] == pytest.approx(0.7) and chains[0]["confidence"] == pytest.approx(0.36)
    assert chains[1]["confidence"] == pytest.approx(0.3) and len(chains[1]["edges"]) == 2
    assert mem.causal_chain(a, d, max_depth=2) == chains[1:]
    assert mem.causal_chain(d, a) == []
    assert mem.similar_causal_edges("round trips to the database", k=1)[0]["cause"] == a
    assert [e["effect"] for e in mem.causal_effects(a, min_confidence=0.7)] == [b]
    mem.forget_memory(b)                                                  # its edges go with it
    assert [ch["memories"] for ch in mem.causal_chain(a, d)] == [[a, c, d]]
    with pytest.raises(UnknownIdError, match="effect 'note:99' is not in the store"):
        mem.add_causal_edge(a, "note:99", uplift=0.1, confidence=0.5)
    with pytest.raises(MemoryInputError, match=r"confidence must be in \[0, 1\]"):
        mem.add_causal_edge(a, c, uplift=0.1, confidence=1.5)
    with pytest.raises(MemoryInputError, match="two different memories"):
        mem.add_causal_edge(a, a, uplift=0.1, confidence=0.5)
    exp = mem.create_experiment("x", "caching helps", treatment=a)
    mem.record_observation(exp, treatment=True, outcome=1.0)
    with pytest.raises(MemoryInputError, match="needs observations with and without the treatment"):
        mem.calculate_uplift(exp)
