"""SONA trajectories through the JS client in real Chromium: db.memory.beginTrajectory /
addTrajectoryStep / endTrajectory / learnTrajectories in a persisted store give the native
patterns and micro-LoRA bits, a page reload rebuilds the learner from IndexedDB with the same
answers (the open trajectory is gone: open ones live in memory only), and the exported .rvf
answers the same natively."""
import json

import numpy as np

import agentdb.memory
from agentdb.embed import HashEmbedder
from e2e_paths import ARTIFACTS
from e2e_support import camelized, run, wait_ready

DIM = 17
ROUTES = ["search", "code", "math", "chat"]
HASHING = {"name": HashEmbedder.name, "dim": DIM, "semantic": False}


def plan(seed=20261125, n=36):
    """Trajectories around four centres (unit vectors), the last one failing: text or
    embedding queries, steps with an embedding, activations, a text or nothing, contexts, a
    quality; learning runs after 8 (3 clusters) and 30 (the default) ended. Plain floats,
    float32 values, so JSON carries them exactly."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((4, DIM))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    f32 = lambda x: np.asarray(x, np.float32).tolist()       # noqa: E731
    out = []
    for i in range(n):
        j = int(rng.integers(0, 4))
        begin = {"route": ROUTES[j]}
        if i % 5 == 0:
            begin["query"] = f"task {j} number {i}"
        else:
            begin["embedding"] = f32(c[j] + 0.05 * rng.standard_normal(DIM))
        steps = []
        for s in range(int(rng.integers(0, 3))):
            step = {"reward": float(np.float32(rng.random()))}
            kind = (i + s) % 4
            if kind == 0:
                step["embedding"] = f32(c[(j + 1) % 4] + rng.standard_normal(DIM))
            elif kind == 1:
                step["activations"] = f32(rng.standard_normal(DIM))
            elif kind == 2:
                step["text"] = f"did {ROUTES[j]} step {s}"
            steps.append(step)
        quality = float(np.float32(rng.uniform(0.1, 0.4) if j == 3 else rng.uniform(0.6, 1.0)))
        out.append({"begin": begin, "steps": steps, "context": f"doc:{j}", "quality": quality,
                    "learn": {8: {"clusters": 3}, 30: {}}.get(i + 1)})
    probes = [f32(c[j] + 0.02 * rng.standard_normal(DIM)) for j in range(4)]
    return out, probes


ANSWERS = """
    const answers = async (m, probes) => {
        const out = { patterns: await m.trajectoryPatterns(), nearest: [], micro: [],
                      text: await m.applyMicroLora({ query: "task 1 number 5" }), stats: await m.trajectoryStats() };
        for (const p of probes) {
            out.nearest.push((await m.trajectoryPatterns({ embedding: p, k: 2 })).map((x) => x.id));
            out.micro.push(await m.applyMicroLora({ embedding: new Float32Array(p) }));
        }
        return out;
    };
    const [plan, probes, hashing] = args;
    // the open trajectories are the open store's: AgentDB.open of the name again rereads it from IndexedDB
    const db = await AgentDB.open("trajectories", { dim: hashing.dim, persist: true, embedder: hashing });
    const m = db.memory;
"""

PLAY = ANSWERS + """
    const ended = [], learnt = [];
    for (const t of plan) {
        const begin = { ...t.begin };
        if (begin.embedding) begin.embedding = new Float32Array(begin.embedding);   // typed arrays cross too
        const id = await m.beginTrajectory(begin);
        for (const step of t.steps) await m.addTrajectoryStep({ trajectoryId: id, ...step });
        await m.addTrajectoryContext({ trajectoryId: id, contextId: t.context });
        ended.push(await m.endTrajectory({ trajectoryId: id, quality: t.quality }));
        if (t.learn) learnt.push(await m.learnTrajectories(t.learn));
    }
    const open = await m.beginTrajectory({ query: "still open at the reload", route: "search" });
    return { ended, learnt, open, answers: await answers(m, probes) };
"""

AFTER_RELOAD = ANSWERS + """
    const out = await answers(m, probes);
    try { await m.endTrajectory({ trajectoryId: args[3], quality: 1 }); out.error = null; }
    catch (err) { out.error = err.name; }
    return out;
"""


def native_answers(mem, probes):
    return camelized({"patterns": mem.trajectory_patterns(),
                      "nearest": [[p["id"] for p in mem.trajectory_patterns(embedding=q, k=2)] for q in probes],
                      "micro": [mem.apply_micro_lora(embedding=q) for q in probes],
                      "text": mem.apply_micro_lora("task 1 number 5"), "stats": mem.trajectory_stats()})


def play_natively(mem, trajectories):
    ended, learnt = [], []
    for t in trajectories:
        tid = mem.begin_trajectory(**t["begin"])
        for step in t["steps"]:
            mem.add_trajectory_step(tid, **step)
        mem.add_trajectory_context(tid, t["context"])
        ended.append(mem.end_trajectory(tid, quality=t["quality"]))
        if t["learn"] is not None:
            learnt.append(mem.learn_trajectories(**t["learn"]))
    return camelized(ended), camelized(learnt)


def test_js_trajectories_give_the_native_patterns_and_survive_a_reload(page):
    trajectories, probes = plan()
    played = run(page, PLAY, trajectories, probes, HASHING)
    before = played["answers"]
    native = agentdb.memory.open(embedder=HashEmbedder(dim=DIM))
    ended, learnt = play_natively(native, trajectories)
    assert played["ended"] == ended and played["learnt"] == learnt
    assert [e["id"] for e in ended] == [f"trajectory:{i + 1}" for i in range(len(trajectories))]
    assert len(learnt) == 2 and learnt[0]["patternsExtracted"] == 3
    open_id = native.begin_trajectory("still open at the reload", route="search")
    assert played["open"] == open_id
    want = native_answers(native, probes)
    assert before == want                                               # the same bits as natively
    assert before["stats"]["active"] == 1 and len(before["patterns"]) >= 3
    assert len({tuple(m) for m in before["micro"]}) == 4                # the micro-LoRA moved each differently

    page.reload()
    wait_ready(page)
    after = run(page, AFTER_RELOAD, trajectories, probes, HASHING, played["open"])
    assert after.pop("error") == "UnknownIdError"                       # the open trajectory is gone
    assert after["stats"].pop("active") == 0 and before["stats"].pop("active") == 1
    assert after == before                                              # rebuilt from the stored records

    exported = run(page, """
        const db = await AgentDB.open("trajectories", { dim: 17, persist: true, embedder: args[0] });
        return Array.from(new Uint8Array(await (await db.exportRvf()).arrayBuffer()));
    """, HASHING)
    path = ARTIFACTS / "agent-trajectories.rvf"
    ARTIFACTS.mkdir(exist_ok=True)
    path.write_bytes(bytes(exported))
    with agentdb.memory.open(path, readonly=True) as opened:
        got = native_answers(opened, probes)
        got["stats"].pop("active")
        assert got == after
        assert json.loads(json.dumps(opened.stats()["memories"])) == {"trajectory": len(trajectories)}
