"""A store that learns, in real Chromium: db.learn.train gives the native adapter's bits and
reports its steps as progress events, a store trained natively answers adapted queries with the
same ids and score bits in the browser (and one trained in the browser natively), a persisted
store keeps its adapter in IndexedDB across a reload, and the errors keep their Python names.
The data: the distorted-query corpus of tests/test_learn_feedback.py (dim 32)."""
import base64
import dataclasses
import json

import numpy as np
from test_learn_feedback import DIM, DOCS, TRAIN, corpus

import agentdb
from agentdb.kernel import load
from e2e_support import camelized, run, wait_ready

OPTIONS = {"epochs": 8, "lr": 0.01, "hard_negatives": 4}          # 200 steps of 16 pairs
JS_OPTIONS = {"epochs": 8, "lr": 0.01, "hardNegatives": 4}        # the same, as the JS client spells them
DOCS_X, QUERIES, TARGETS = corpus()
HELD = QUERIES[TRAIN:]

OPEN_AND_INGEST = """
    const [docs, queries, positives, options, held] = args;
    const ingest = (db) => db.ingest(Array.from({ length: docs.length / 32 }, (_, i) => i), new Float32Array(docs));
"""


def flat(x):
    return np.asarray(x, np.float32).ravel().tolist()


def native_store():
    db = agentdb.open(dim=DIM, metric="cosine", kernel=load("native"))
    db.ingest(range(DOCS), DOCS_X)
    return db, db.learn(QUERIES[:TRAIN], TARGETS[:TRAIN], **OPTIONS)


def assert_same_answers(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["ids"] == w.ids
        assert np.array(g["scores"], np.float32).tobytes() == np.asarray(w.scores, np.float32).tobytes()


def test_a_store_trained_natively_answers_the_same_adapted_in_the_browser(page):
    native, _ = native_store()
    got = run(page, """
        const [rvf, held] = args;
        const db = await AgentDB.importRvf("trained", new Uint8Array(rvf));
        return { adapters: await db.learn.adapters(),
                 adapted: await db.queryBatch(new Float32Array(held), { k: 10, adapt: true }),
                 one: await db.query(new Float32Array(held.slice(0, 32)), { k: 10, adapt: "query" }),
                 plain: await db.queryBatch(new Float32Array(held), { k: 10 }) };
    """, list(native.to_bytes()), flat(HELD))
    assert got["adapters"] == ["query"]
    assert_same_answers(got["adapted"], native.query_batch(HELD, k=10, adapt=True))
    assert_same_answers([got["one"]], [native.query(HELD[0], k=10, adapt=True)])
    assert_same_answers(got["plain"], native.query_batch(HELD, k=10))
    assert got["adapted"] != got["plain"]             # the adapter changed the answers


def test_training_in_the_browser_gives_the_native_adapter_bits(page):
    native, want = native_store()
    got = run(page, OPEN_AND_INGEST + """
        const events = [];
        const stop = AgentDB.onProgress((p) => { if (p.stage === "train") events.push(p); });
        const db = await AgentDB.open("learned", { dim: 32, metric: "cosine" });
        await ingest(db);
        const report = await db.learn.train(new Float32Array(queries), positives, options);
        stop();
        const blob = await db.exportRvf();
        return { report, events, adapters: await db.learn.adapters(),
                 adapted: await db.queryBatch(new Float32Array(held), { k: 10, adapt: true }),
                 rvf: Array.from(new Uint8Array(await blob.arrayBuffer())) };
    """, flat(DOCS_X), flat(QUERIES[:TRAIN]), TARGETS[:TRAIN], JS_OPTIONS, flat(HELD))
    report = camelized(json.loads(json.dumps(dataclasses.asdict(want))))
    report["training"]["durationS"] = got["report"]["training"]["durationS"]     # the clock's
    assert got["report"] == report                      # every loss, gradient norm and lr, exactly
    assert got["adapters"] == ["query"]
    exported = agentdb.open_bytes(bytes(got["rvf"]))
    assert exported.adapter().to_json() == native.adapter().to_json()
    assert_same_answers(got["adapted"], native.query_batch(HELD, k=10, adapt=True))
    # progress: a "train" event every second step while Python ran, the last step included
    events, metrics = got["events"], {m["step"]: m for m in want.training.metrics}
    assert len(events) == 100 and events[-1]["done"] == events[-1]["total"] == want.training.steps == 200
    assert {e["store"] for e in events} == {"learned"} and all(e["etaS"] >= 0 for e in events)
    assert [e["loss"] for e in events] == [metrics[e["done"]]["loss"] for e in events]


def test_a_persisted_store_keeps_its_adapter_across_a_reload(page):
    trained = run(page, OPEN_AND_INGEST + """
        const db = await AgentDB.open("kept", { dim: 32, metric: "cosine", persist: true });
        await ingest(db);
        await db.learn.train(new Float32Array(queries), positives, options);
        return await db.queryBatch(new Float32Array(held), { k: 10, adapt: true });
    """, flat(DOCS_X), flat(QUERIES[:TRAIN]), TARGETS[:TRAIN], {"epochs": 2, "lr": 0.01}, flat(HELD))
    page.reload()
    wait_ready(page)
    again = run(page, """
        const [held] = args;
        const db = await AgentDB.open("kept", { dim: 32, metric: "cosine", persist: true });
        const adapters = await db.learn.adapters();
        const adapted = await db.queryBatch(new Float32Array(held), { k: 10, adapt: true });
        await db.learn.remove("query");
        return { adapters, adapted };
    """, flat(HELD))
    assert again == {"adapters": ["query"], "adapted": trained}
    page.reload()
    wait_ready(page)
    removed = run(page, """
        const [held] = args;
        const db = await AgentDB.open("kept", { dim: 32, metric: "cosine", persist: true });
        const adapters = await db.learn.adapters();
        try { await db.query(new Float32Array(held.slice(0, 32)), { adapt: true }); return { adapters }; }
        catch (err) { return { adapters, error: err.name }; }
    """, flat(HELD))
    assert removed == {"adapters": [], "error": "UnknownIdError"}       # the removal was stored too


def test_learning_errors_keep_their_python_names_and_query_text_adapts(page):
    result = run(page, """
        const failure = async (call) => {
            try { await call(); return null; } catch (err) { return [err.name, err.message, err instanceof Error]; }
        };
        const hashing = { name: "agentdb-hash-v1", dim: 8, semantic: false };
        const db = await AgentDB.open("plain", { dim: 8, embedder: hashing });
        await db.ingestTexts(["kettle", "boiler", "train"], ["the kettle is broken", "the boiler leaks water",
                                                              "the train was late"]);
        const errors = {
            query: await failure(() => db.query(new Float32Array(8).fill(1), { adapt: true })),
            queryBatch: await failure(() => db.queryBatch(new Float32Array(16).fill(1), { adapt: true })),
            queryText: await failure(() => db.queryText("hot water", { adapt: true })),
            remove: await failure(() => db.learn.remove("query")),
            unknownId: await failure(() => db.learn.train(new Float32Array(8).fill(1), ["nope"])),
            counts: await failure(() => db.learn.train(new Float32Array(16).fill(1), ["kettle"])),
            option: await failure(() => db.learn.train(new Float32Array(8).fill(1), ["kettle"], { epochz: 2 })),
        };
        const adaptersAfterErrors = await db.learn.adapters();
        // "hot water" finds the boiler first; the feedback says the kettle was the useful one
        const [hot, leaks] = await db.embed(["hot water", "water leaks"]);
        await db.learn.train(new Float32Array([...hot, ...leaks]), ["kettle", "boiler"], { epochs: 30 });
        return { errors, adaptersAfterErrors,
                 before: await db.queryText("hot water", { k: 3 }),
                 text: await db.queryText("hot water", { k: 3, adapt: true }),
                 vector: await db.query(hot, { k: 3, adapt: true }) };
    """)
    errors = result["errors"]
    for op in ("query", "queryBatch", "queryText", "remove"):
        assert errors[op][0] == "UnknownIdError" and "no adapter 'query'" in errors[op][1] and errors[op][2], op
    assert errors["unknownId"][0] == "UnknownIdError"
    assert errors["counts"][0] == "ArgumentError" and "2 queries" in errors["counts"][1]
    assert errors["option"][0] == "OptionError" and "epochz" in errors["option"][1]
    assert result["adaptersAfterErrors"] == []           # a refused training keeps nothing
    assert result["before"]["ids"][0] == "boiler"
    assert result["text"] == result["vector"] and result["text"]["ids"][0] == "kettle"


def test_a_store_that_learnt_from_real_text_answers_the_same_in_the_browser(page):
    # tests/learn_text.py: MiniLM vectors of docstring summaries and bodies, trained natively
    import learn_text

    summaries, _, keyword_queries = data = learn_text.corpus()
    native = learn_text.run(0, kernel=load("native"), data=data)["store"]
    asked = np.concatenate([summaries[learn_text.TRAIN:learn_text.TRAIN + 200], keyword_queries[:100]])
    got = run(page, """
        const [rvf, asked] = args;          // 3 MB: as base64, a list of numbers crosses slowly
        const db = await AgentDB.importRvf("learnt-text", Uint8Array.from(atob(rvf), (c) => c.charCodeAt(0)));
        return await db.queryBatch(new Float32Array(asked), { k: 10, adapt: true });
    """, base64.b64encode(native.to_bytes()).decode("ascii"), flat(asked))
    assert_same_answers(got, native.query_batch(asked, k=10, adapt=True))
