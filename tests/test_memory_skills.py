"""Skills: unique names, search with a success floor, usage statistics that change what search
returns, links and plans, consolidation from repeated successful episodes, pruning."""
import pytest

from agentdb import UnknownIdError
from agentdb.memory import MemoryInputError
from memory_support import new_memory


def test_stats_move_a_skill_across_the_success_floor(kernel):
    mem, _ = new_memory(kernel)
    good = mem.create_skill("retry with backoff", "retry a failed network call with exponential backoff")
    flaky = mem.create_skill("retry immediately", "retry a failed network call at once")
    assert {s["id"] for s in mem.search_skills("retry a failed network call", k=5)} == {good, flaky}
    for ok in (True, True, False, True):
        mem.update_skill_stats(good, success=ok, reward=0.8 if ok else 0.2, latency_ms=120)
    for ok in (False, False, True):
        mem.update_skill_stats(flaky, success=ok, reward=0.5, latency_ms=30)
    found = mem.search_skills("retry a failed network call", k=5, min_success_rate=0.5)
    assert [s["id"] for s in found] == [good]
    assert found[0]["uses"] == 4 and found[0]["success_rate"] == 0.75
    assert found[0]["avg_reward"] == pytest.approx((0.8 * 3 + 0.2) / 4)
    assert found[0]["avg_latency_ms"] == pytest.approx(120)
    assert mem.get_skill(flaky)["success_rate"] == pytest.approx(1 / 3)


def test_links_and_plans(kernel):
    mem, _ = new_memory(kernel)
    deploy = mem.create_skill("deploy to staging", "ship the build to the staging servers")
    build = mem.create_skill("build the image", "docker build with the release tag")
    test = mem.create_skill("smoke test", "hit the health endpoint")
    canary = mem.create_skill("canary deploy", "ship to one server first")
    mem.link_skills(deploy, build, "prerequisite", weight=0.5)
    mem.link_skills(deploy, test, "prerequisite", weight=0.9)
    mem.link_skills(deploy, canary, "alternative")
    mem.link_skills(deploy, build, "prerequisite", weight=0.7)             # relinking replaces the weight
    plan = mem.skill_plan(deploy)
    assert [(s["id"], s["weight"]) for s in plan["prerequisites"]] == [(test, 0.9), (build, 0.7)]
    assert [s["id"] for s in plan["alternatives"]] == [canary]
    assert plan["refinements"] == plan["compositions"] == []
    mem.forget_memory(canary)
    assert mem.skill_plan(deploy)["alternatives"] == []                     # a deleted skill drops out
    with pytest.raises(MemoryInputError, match="relationship must be one of"):
        mem.link_skills(deploy, build, "cousin")
    with pytest.raises(MemoryInputError, match="cannot be linked to itself"):
        mem.link_skills(deploy, deploy, "refinement")
    with pytest.raises(UnknownIdError, match="no skill with id 'skill:99'"):
        mem.link_skills(deploy, "skill:99", "refinement")


def test_consolidation_turns_repeated_successes_into_skills(kernel):
    mem, clock = new_memory(kernel)
    for i in range(8):
        mem.store_episode("s", "convert the csv export to parquet", output="pyarrow with an explicit schema",
                          reward=0.85 + 0.01 * (i % 3), success=i != 5, latency_ms=200 + i)
        mem.store_episode("s", "translate the error message", output="asked the user", reward=0.4, success=True)
        clock.t += 60
    mem.store_episode("s", "one-off chore", output="done", reward=1.0, success=True)
    assert mem.search_skills("convert csv to parquet") == []
    result = mem.consolidate_skills(min_attempts=3, min_reward=0.7)
    assert len(result["created"]) == 1 and result["updated"] == []         # low reward and one-offs stay episodes
    skill = mem.search_skills("convert csv to parquet", k=1)[0]
    assert skill["id"] == result["created"][0]
    assert skill["name"] == "convert the csv export to parquet"
    assert skill["description"] == "pyarrow with an explicit schema"
    assert skill["uses"] == 8 and skill["success_rate"] == 7 / 8
    assert skill["avg_latency_ms"] == pytest.approx(203.5)
    mem.store_episode("s", "convert the csv export to parquet", output="duckdb copy", reward=0.9, success=True)
    again = mem.consolidate_skills(min_attempts=3, min_reward=0.7)
    assert again == {"created": [], "updated": [skill["id"]]}
    assert mem.get_skill(skill["id"])["uses"] == 9
    assert sum(1 for _ in mem.store.find({"kind": "skill"})) == 1


def test_prune_and_unique_names(kernel):
    mem, clock = new_memory(kernel)
    bad = mem.create_skill("guess the answer", "make something up")
    good = mem.create_skill("look it up", "search the docs")
    fresh = mem.create_skill("brand new", "never tried")
    for _ in range(4):
        mem.update_skill_stats(bad, success=False)
        mem.update_skill_stats(good, success=True)
    with pytest.raises(MemoryInputError, match="a skill named 'look it up' exists already: skill:2"):
        mem.create_skill("look it up")
    assert mem.prune_skills(min_uses=3, min_success_rate=0.3) == 1
    assert bad not in mem.store and good in mem.store and fresh in mem.store
    clock.t += 40 * 86400
    mem.update_skill_stats(good, success=True)
    assert mem.prune_skills(max_age_days=30) == 1 and fresh not in mem.store and good in mem.store
