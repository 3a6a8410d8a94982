"""One agent-memory scenario, run natively on every kernel backend (tests), inside Pyodide
(tests/pyodide/run.mjs) and in Chromium (e2e): every memory kind written, recalled, updated
and pruned under a fixed clock, so each home must give the very same JSON (similarities to
the bit). Pure Python, no numpy. Prints JSON when run as a script."""
import hashlib
import json

import agentdb.memory
from agentdb.embed import HashEmbedder
from agentdb.kernel import load

TASKS = ["parse the date in a log line", "fix the flaky integration test", "summarise a long email thread",
         "rename a column in the sales table", "deploy the web app to staging"]
OUTPUTS = ["used a strict ISO-8601 regex", "waited for the server readiness probe", "kept one line per speaker",
           "ALTER TABLE with a view for old readers", "blue-green switch after smoke tests"]
CRITIQUES = ["timezone offsets were dropped", "sleep(5) only hid the race", "lost who decided what",
             "broke the nightly report", "forgot the database migration"]


class Clock:
    """A clock the scenario moves by hand: time windows and ages are then reproducible."""

    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def run(kernel):
    clock = Clock()
    mem = agentdb.memory.open(dim=128, kernel=kernel, clock=clock, embedder=HashEmbedder(dim=128, kernel=kernel))
    out = {}
    for i in range(60):                       # a history: every task tried a dozen times, learning as it goes
        task = TASKS[i % 5]
        success = (i * 7 + i // 5) % 3 != 0
        mem.store_episode(f"s{i // 10}", task, input=f"attempt {i // 5}", output=OUTPUTS[i % 5] if success else "",
                          critique="" if success else CRITIQUES[i % 5], reward=round(0.3 + 0.6 * success - 0.01 * (i % 4), 2),
                          success=success, latency_ms=100.0 + 37 * (i % 9), tokens=200 + i, tags=[f"area{i % 3}"])
        clock.t += 3600
    out["retrieve"] = mem.retrieve_episodes("flaky test fails in CI", k=5, min_reward=0.5)
    out["failures"] = mem.retrieve_episodes("parse a date", k=3, only_failures=True, time_window_days=1)
    out["critique"] = mem.critique_summary("deploy to staging")
    out["strategies"] = mem.success_strategies("summarise email")
    out["stats"] = mem.task_stats(TASKS[1])
    out["consolidated"] = mem.consolidate_skills(min_attempts=3, min_reward=0.7)
    skill = out["consolidated"]["created"][0]
    helper = mem.create_skill("read the server log", "grep the log for the first error", tags=["debug"])
    mem.link_skills(skill, helper, "prerequisite", weight=0.8)
    for ok in (True, False, True, True):
        mem.update_skill_stats(helper, success=ok, reward=0.9 if ok else 0.1, latency_ms=250)
    out["plan"] = mem.skill_plan(skill)
    out["skills"] = mem.search_skills("server log error", k=3, min_success_rate=0.5)
    patterns = [mem.store_pattern("debugging", a) for a in ("bisect the commits", "add logging around the failure",
                                                            "reproduce with a minimal test")]
    for i, p in enumerate(patterns):
        for j in range(6):
            mem.record_outcome(p, success=(i + j) % (i + 2) != 0, reward=0.5)
    out["patterns"] = mem.find_patterns("find which commit broke the build", k=3, task_type="debugging")
    out["by_type"] = mem.patterns_by_type("debugging")
    out["pruned_patterns"] = mem.prune_patterns(min_success_rate=0.5, min_uses=5)
    exp = mem.create_experiment("probe", "a readiness probe makes the test pass", treatment=helper,
                                effect="episode:2")
    for i in range(12):
        mem.record_observation(exp, treatment=i % 2 == 0, outcome=(0.8 if i % 2 == 0 else 0.4) + 0.01 * (i % 5))
    out["uplift"] = mem.calculate_uplift(exp)
    out["recall"] = mem.causal_recall("flaky test and the server log", k=4)
    out["chain"] = mem.causal_chain(helper, "episode:2")
    mem.add_intent("debug", ["why does the test fail", "find the bug", "the build is broken"])
    mem.add_intent("deploy", ["ship it to staging", "release the web app"])
    mem.add_intent("deploy", ["ship it to staging", "release to production"])     # replaced, one commit
    out["route"] = [mem.route(q, k=2) for q in ("the test keeps failing", "release the app", "xyzzy")]
    out["note"] = mem.remember("the staging database is read-only on Sundays", tags=["ops"])
    out["recall_notes"] = mem.recall("staging database", tags=["ops"])
    out["pruned_episodes"] = mem.prune_episodes(min_reward=0.35, keep_per_task=2)
    out["stats_after"] = {k: v for k, v in mem.stats().items() if k != "cache"}
    del out["stats_after"]["store"]["bytes"]
    mem.store.identity.file_id = bytes(16)          # the only random part of the bytes
    out["rvf"] = hashlib.sha256(mem.store.to_bytes()).hexdigest()[:24]
    return out


if __name__ == "__main__":
    print(json.dumps(run(load())))
