"""The agent-memory layer in real Chromium: the same scenario gives the same bits as natively,
the JS client's db.memory keeps its memories in IndexedDB across a reload, and a memory
.rvf moves between the homes with the same recall."""
import json
import re
from pathlib import Path

import agentdb.memory
import memory_scenario
from agentdb.kernel import load
from e2e_paths import ARTIFACTS
from e2e_support import camelized, run, wait_ready

SCENARIO = Path(memory_scenario.__file__).read_text()


def test_the_memory_scenario_in_chromium_gives_the_native_bits(page):
    code = SCENARIO.replace('if __name__ == "__main__":', "if False:") + "\njson.dumps(run(load()))"
    browser = json.loads(run(page, "return await AgentDB.runPython(args[0]);", code))
    assert browser == json.loads(json.dumps(memory_scenario.run(load("native"))))


EPISODES = """
    const db = await AgentDB.open("agent", { dim: 384, persist: true });
    for (let i = 0; i < 30; i++) {
        await db.memory.storeEpisode({ session: "s" + (i % 3), task: ["water the plants", "pay the rent",
            "book the dentist"][i % 3], output: "done " + i, reward: (i % 10) / 10, success: i % 4 !== 0,
            latencyMs: 10 * i, tags: ["home"] });
    }
    await db.memory.addIntent({ name: "chores", utterances: ["water the garden", "clean the kitchen"] });
    return "ok";
"""

RECALL = """
    const db = await AgentDB.open("agent", { dim: 384, persist: true });
    return {
        episodes: await db.memory.retrieveEpisodes({ task: "plants need water", k: 4, onlySuccess: true,
                                                     tags: ["home"] }),
        stats: await db.memory.taskStats({ task: "pay the rent" }),
        route: await db.memory.route({ query: "the garden needs water" }),
    };
"""


def test_js_memory_survives_a_reload_and_exports_to_native(page, site_url):
    assert run(page, EPISODES) == "ok"
    before = run(page, RECALL)
    assert before["episodes"][0]["task"] == "water the plants" and "latencyMs" in before["episodes"][0]
    assert before["stats"]["attempts"] == 10 and before["route"][0]["intent"] == "chores"
    page.reload()
    wait_ready(page)
    assert run(page, RECALL) == before
    exported = run(page, """
        const db = await AgentDB.open("agent", { dim: 384, persist: true });
        const blob = await db.exportRvf();
        return Array.from(new Uint8Array(await blob.arrayBuffer()));
    """)
    path = ARTIFACTS / "agent-memory.rvf"
    path.write_bytes(bytes(exported))
    with agentdb.memory.open(path, readonly=True) as native:
        assert camelized(native.retrieve_episodes("plants need water", k=4, only_success=True,
                                                  tags=["home"])) == before["episodes"]
        assert camelized(native.task_stats("pay the rent")) == before["stats"]
        assert camelized(native.route("the garden needs water")) == before["route"]


def test_a_native_memory_recalls_the_same_in_the_browser(page, tmp_path):
    path = tmp_path / "native.rvf"
    with agentdb.memory.open(path) as mem:
        for i in range(20):
            mem.create_skill(f"skill {i}", f"how to do chore number {i} around the house")
        mem.update_skill_stats("skill:3", success=True)
        mem.add_causal_edge("skill:3", "skill:4", uplift=0.5, confidence=0.9)
        want = mem.causal_recall("chore number 3 around the house", k=3, kinds=["skill"])
    got = run(page, """
        const db = await AgentDB.importRvf("from-native", new Uint8Array(args[0]));
        return await db.memory.causalRecall({ query: "chore number 3 around the house", k: 3, kinds: ["skill"] });
    """, list(path.read_bytes()))
    assert got == camelized(want) and {h["id"]: h["uplift"] for h in got}["skill:3"] == 0.5
    error = run(page, """
        const db = await AgentDB.open("agent", { dim: 384, persist: true });
        try { await db.memory.storeEpisode({ session: "s", task: "", reward: 2, success: true }); }
        catch (err) { return { name: err.name, message: err.message }; }
    """)
    assert error == {"name": "MemoryInputError", "message": "task is empty"}


JS_EMBEDDER = """
    const embedder = { name: "char-buckets", dim: 16, semantic: false, embed: async (texts) => texts.map((t) => {
        const v = new Float32Array(16);
        for (let i = 0; i < t.length; i++) v[t.charCodeAt(i) % 16] += 1 + (i % 3);
        return v;
    }) };
"""


def char_buckets(texts):
    """The JS embedder above, in Python (floats summed in the same order: the same float32 bits)."""
    out = []
    for t in texts:
        v = [0.0] * 16
        for i, ch in enumerate(t):
            v[ord(ch) % 16] += 1 + i % 3
        out.append(v)
    return out


def test_a_js_embedder_function_embeds_for_the_memory(page):
    got = run(page, JS_EMBEDDER + """
        const db = await AgentDB.open("modelled", { dim: 16, embedder });
        for (const [i, text] of ["apples and pears", "a pear tree", "stock prices fell"].entries()) {
            await db.memory.remember({ note: text, tags: i < 2 ? ["fruit"] : [] });
        }
        const hits = await db.memory.recall({ query: "pears", k: 3 });
        const status = await db.status();
        let error = null;
        const blind = await AgentDB.importRvf("blind", await db.exportRvf());      // no embedder given
        try { await blind.memory.recall({ query: "pears" }); } catch (err) { error = err.name; }
        return { hits, embedder: status.embedder, error };
    """)
    from agentdb.embed import FunctionEmbedder

    native = agentdb.memory.open(embedder=FunctionEmbedder(char_buckets, name="char-buckets", dim=16,
                                                           semantic=False))
    for i, text in enumerate(["apples and pears", "a pear tree", "stock prices fell"]):
        native.remember(text, tags=["fruit"] if i < 2 else [])
    want = [{k: v for k, v in h.items() if k not in ("created", "updated")} for h in native.recall("pears", k=3)]
    assert [{k: v for k, v in h.items() if k not in ("created", "updated")} for h in got["hits"]] == want
    assert got["embedder"] == {"name": "char-buckets", "dim": 16, "semantic": False}
    assert got["error"] == "EmbedderError"


def test_the_demo_agent_loop_learns_and_keeps_its_memory(page):
    page.click("#agent-run")
    page.wait_for_function("document.getElementById('agent-status').textContent.startsWith('Done')",
                           timeout=180_000)
    status = page.inner_text("#agent-status")
    rates = [int(r) for r in re.search(r"per 50 tasks ([\d%, ]+)", status).group(1).replace("%", "").split(", ")]
    assert len(rates) == 4 and sum(rates[2:]) / 2 > rates[0]
    assert "200 episodes, 12 patterns" in status
    best = page.inner_text("#agent-results")
    for approach in ("strict ISO-8601 with timezone", "wait for the readiness probe", "one line per speaker",
                     "add an index on the join column"):
        assert approach in best
    page.screenshot(path=str(ARTIFACTS / "agent-loop.png"), full_page=True)
    page.reload()
    wait_ready(page)
    page.click("#agent-run")                      # the second run starts from the kept memory
    page.wait_for_function("document.getElementById('agent-status').textContent.startsWith('Done')",
                           timeout=180_000)
    assert "400 episodes, 12 patterns" in page.inner_text("#agent-status")


FILTERED = [("apples and pears", {"shop": "market", "unit_price": 3, "origin": {"country": "fr"}}),
            ("a pear tree", {"shop": "garden", "unit_price": 1, "origin": {"country": "es"}}),
            ("pears in syrup", {"shop": "market", "unit_price": 5, "origin": {"country": "it"}}),
            ("stock prices of pears", None)]
WHERES = [{"shop": "market"}, {"unit_price": {"gt": 2}}, {"origin.country": {"in": ["fr", "es"]}},
          {"not": {"shop": "market"}}, {"op": "lt", "fieldId": "unit_price", "value": 4}, {"shop": None}]


def test_js_memory_filters_the_callers_metadata_like_native(page):
    got = run(page, JS_EMBEDDER + """
        const db = await AgentDB.open("filtered", { dim: 16, embedder });
        for (const [note, metadata] of args[0]) {
            await db.memory.remember({ note, metadata });
            await db.memory.storeEpisode({ session: "s", task: note, reward: 0.5, success: true, metadata });
            await db.memory.createSkill({ name: note, metadata });
            await db.memory.storePattern({ taskType: "fruit", approach: note, metadata });
        }
        const out = [];
        for (const where of args[1]) {
            out.push([await db.memory.recall({ query: "pears", k: 3, where }),
                      await db.memory.retrieveEpisodes({ task: "pears", k: 3, where }),
                      await db.memory.searchSkills({ query: "pears", k: 3, where }),
                      await db.memory.findPatterns({ task: "pears", k: 3, where })]);
        }
        let error = null;
        try { await db.memory.recall({ query: "pears", where: { unit_price: { between: [1, 2] } } }); }
        catch (err) { error = { name: err.name, message: err.message }; }
        return { out, error };
    """, FILTERED, WHERES)
    from agentdb.embed import FunctionEmbedder

    native = agentdb.memory.open(embedder=FunctionEmbedder(char_buckets, name="char-buckets", dim=16,
                                                           semantic=False))
    for note, metadata in FILTERED:
        native.remember(note, metadata=metadata)
        native.store_episode("s", note, reward=0.5, success=True, metadata=metadata)
        native.create_skill(note, metadata=metadata)
        native.store_pattern("fruit", note, metadata=metadata)

    def timeless(hits):
        return [{k: v for k, v in h.items() if k not in ("created", "updated")} for h in hits]
    for where, answers in zip(WHERES, got["out"]):
        want = [native.recall("pears", k=3, where=where), native.retrieve_episodes("pears", k=3, where=where),
                native.search_skills("pears", k=3, where=where), native.find_patterns("pears", k=3, where=where)]
        assert [timeless(a) for a in answers] == [timeless(camelized(w)) for w in want], where
    assert [len(a) for a in got["out"][0]] == [2, 2, 2, 2]          # {"shop": "market"}: two of each
    assert got["error"] == {"name": "FilterError", "message": "where.unit_price.between: unknown operator "
                                                              "'between' (expected one of eq ne lt le gt ge in range)"}


def test_js_feedback_names_a_recall_by_its_id_and_learning_changes_the_answer(page):
    got = run(page, JS_EMBEDDER + """
        const db = await AgentDB.open("feedback", { dim: 16, embedder });
        for (const note of ["apples are red", "pears are green", "plums are purple"]) await db.memory.remember({ note });
        const hits = await db.memory.recall({ query: "the green fruit", k: 3 });
        const useful = hits.find((h) => h.text === "plums are purple").id;
        const recordId = await db.memory.feedback({ recallId: hits.recallId, useful: [useful] });
        const report = await db.memory.learn({ epochs: 40, lr: 0.05 });
        const after = await db.memory.recall({ query: "the green fruit", k: 1 });
        let error = null;
        try { await db.memory.feedback({ recallId: "recall:0000000000000000", useful: [useful] }); }
        catch (err) { error = err.name; }
        return { recallId: hits.recallId, isArray: Array.isArray(hits), recordId, pairs: report.pairs,
                 first: after[0].text, error };
    """)
    assert got["recallId"].startswith("recall:") and got["isArray"]
    assert got["recordId"].startswith("feedback:") and got["pairs"] == 1
    assert got["first"] == "plums are purple"                         # what the feedback said was useful
    assert got["error"] == "UnknownIdError"
