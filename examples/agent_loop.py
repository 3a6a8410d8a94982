"""An agent loop over agentdb's memory: recall before acting, act, record the outcome.

The "world" is a toy: each kind of task has a few approaches, one of which usually works.
The agent does not know which. Before each task it recalls the reasoning patterns stored for
that kind of task and picks the one with the best success rate (exploring now and then);
afterwards it records the outcome (the success rate is an EMA) and stores the episode.
Every 50 tasks it consolidates repeated successes into skills. Its success rate climbs from
chance towards the best approaches' rate, and the memory, kept in an .rvf file, carries that
knowledge into the next run.

    python examples/agent_loop.py                 # in memory
    python examples/agent_loop.py agent.rvf       # kept in a file; run it twice
"""
import random
import sys

import agentdb.memory

WORLD = {   # task kind -> {approach: chance that it works}
    "parse the dates in a log file": {"regex per line": 0.35, "dateutil.parser": 0.55,
                                      "strict ISO-8601 with timezone": 0.9},
    "fix a flaky integration test": {"add a sleep": 0.2, "retry the test": 0.4,
                                     "wait for the readiness probe": 0.9},
    "summarise a long email thread": {"first line of each mail": 0.3, "one line per speaker": 0.85,
                                      "the last mail only": 0.25},
    "speed up a slow SQL query": {"add an index on the join column": 0.9, "cache the result": 0.5,
                                  "rewrite in Python": 0.1},
}


def choose(mem, task, kind, rng, explore=0.1):
    """The approach to try: the best-rated stored pattern of this kind, sometimes another."""
    patterns = mem.find_patterns(task, task_type=kind, k=10)
    if not patterns:                     # first time: every approach starts at an even 0.5
        for approach in WORLD[kind]:
            mem.store_pattern(kind, approach)
        patterns = mem.find_patterns(task, task_type=kind, k=10)
    if rng.random() < explore:
        return rng.choice(patterns)
    return max(patterns, key=lambda p: (p["success_rate"], -int(p["id"].split(":")[1])))


def run(mem, *, steps=400, seed=7, report=None):
    """Runs the loop; returns the success rate of every 50 steps."""
    rng = random.Random(seed)
    window, rates = [], []
    kinds = list(WORLD)
    for step in range(steps):
        kind = kinds[step % len(kinds)]
        task = f"{kind} (case {rng.randrange(1000)})"
        pattern = choose(mem, task, kind, rng)
        success = rng.random() < WORLD[kind][pattern["approach"]]
        mem.record_outcome(pattern["id"], success=success, reward=1.0 if success else 0.0)
        mem.store_episode("loop", kind, input=task, output=pattern["approach"] if success else "",
                          critique="" if success else f"{pattern['approach']} did not work",
                          reward=1.0 if success else 0.0, success=success, latency_ms=rng.uniform(50, 500))
        window.append(success)
        if len(window) == 50:
            rates.append(sum(window) / 50)
            mem.consolidate_skills(min_attempts=5, min_reward=0.8)
            if report:
                report(step + 1, rates[-1])
            window = []
    return rates


def main(path=None):
    with agentdb.memory.open(path) as mem:
        print(f"memories at start: {mem.stats()['memories']}")
        rates = run(mem, report=lambda n, r: print(f"after {n:4d} tasks: {r:.0%} of the last 50 succeeded"))
        for kind in WORLD:
            best = mem.patterns_by_type(kind, limit=1)[0]
            print(f"{kind}: best approach {best['approach']!r} ({best['success_rate']:.0%})")
        strategies = mem.success_strategies("fix a flaky integration test", k=3)
        print("what worked for flaky tests:", sorted({s["output"] for s in strategies}))
        print(f"memories at end: {mem.stats()['memories']}")
        return rates


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
