"""all-MiniLM-L6-v2 in the browser: the worker loads it on first use (progress events), its
vectors are the native ones bit for bit, memories are found by meaning, and a model that
cannot load is an error, never a fall-back to word hashing."""
import pathlib

import pytest

from agentdb.embed import HashEmbedder
from agentdb.embed.minilm import INT8_WEIGHTS, MiniLM
from e2e_support import wait_ready

TEXTS = ["hello world", "The car would not start this morning.", "Café naïve résumé, 東京 and Zürich 🚗",
         "a " * 300 + "long text past the 256-token limit", "ALL CAPS, punctuation!? (and) [brackets]"]

# the first embed loads the model; the events it posts are kept, and its time
LOAD = """async (texts) => {
    window.modelEvents = [];
    AgentDB.onProgress((p) => { if (p.model) window.modelEvents.push(p); });
    let t = performance.now();
    await AgentDB.embed(["warm up"]);
    const loadMs = performance.now() - t;
    t = performance.now();
    await AgentDB.embed(["one more sentence to embed"]);
    return { loadMs, embedMs: performance.now() - t, events: window.modelEvents };
}"""
BYTES = "async ([texts, quantized]) => (await AgentDB.embed(texts, { quantized })).map((v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)))"


@pytest.fixture(scope="module")
def loaded(browser, site_url):
    """One page whose worker has loaded the float32 model: (page, what LOAD returned)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(site_url)
    wait_ready(page)
    yield page, page.evaluate(LOAD)
    context.close()


def test_progress_events_arrive_while_the_model_loads(loaded):
    _, got = loaded
    events = got["events"]
    download = [e for e in events if e["stage"] == "download"]
    assert len(download) > 10 and download[0]["done"] == 0
    assert [e["done"] for e in download] == sorted(e["done"] for e in download)
    assert download[-1]["done"] == download[-1]["total"] > 90_000_000
    assert [(e["stage"], e["done"], e["total"]) for e in events if e["stage"] == "weights"] == \
        [("weights", 0, 1), ("weights", 1, 1)]
    assert {e["model"] for e in events} == {"all-MiniLM-L6-v2"}
    print(f"\nmodel load + first embed {got['loadMs']:.0f} ms, next embed {got['embedMs']:.0f} ms")


def test_embed_gives_the_native_bits(loaded, site_url):
    page, _ = loaded
    want = MiniLM().embed(TEXTS)
    got = page.evaluate(BYTES, [TEXTS, False])
    assert len(got) == len(TEXTS) and all(len(row) == 384 * 4 for row in got)
    assert b"".join(bytes(row) for row in got) == want.tobytes()


def test_the_int8_model_gives_the_native_bits(loaded):
    page, _ = loaded
    dist = pathlib.Path(__file__).resolve().parent.parent / "web" / "dist" / "models" / "all-MiniLM-L6-v2"
    want = MiniLM(quantized=True, weights=(dist / INT8_WEIGHTS).read_bytes()).embed(TEXTS)
    got = page.evaluate(BYTES, [TEXTS, True])
    assert b"".join(bytes(row) for row in got) == want.tobytes()


MEMORIES = {"the car would not start this morning": "vehicle engine failure",
            "I booked flights to Lisbon for our holiday": "plane tickets for a vacation in Portugal",
            "the soup needs more salt and pepper": "seasoning a dish",
            "my laptop keeps freezing when I open spreadsheets": "computer hangs with Excel"}


def test_a_stores_embed_uses_the_embedder_it_records(loaded):
    page, _ = loaded
    got = page.evaluate("""async (texts) => {
        const bytes = (rows) => rows.map((v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
        const model = await AgentDB.open("embed-model", { dim: 384 });
        const words = await AgentDB.open("embed-words", { dim: 64, embedder: { name: "agentdb-hash-v1", dim: 64,
                                                                                semantic: false } });
        return { model: bytes(await model.embed(texts)), words: bytes(await words.embed(texts)) };
    }""", TEXTS)
    assert b"".join(bytes(row) for row in got["model"]) == bytes(MiniLM().embed(TEXTS))
    assert b"".join(bytes(row) for row in got["words"]) == bytes(HashEmbedder(dim=64).embed(TEXTS))


def test_memories_are_found_by_meaning(loaded):
    page, _ = loaded
    got = page.evaluate("""async (memories) => {
        const db = await AgentDB.open("meaning", { dim: 384 });          // no embedder: all-MiniLM-L6-v2
        for (const text of Object.keys(memories)) await db.memory.remember({ note: text });
        const found = {};
        for (const [text, query] of Object.entries(memories)) {
            found[text] = (await db.memory.recall({ query, k: 1 }))[0].text;
        }
        await db.ingestTexts(["plain"], ["the kettle is broken"]);            // the store's text ops agree
        const recalled = await db.queryText("hot water appliance stopped working", { k: 1 });
        const hashed = await AgentDB.open("words", { dim: 384, embedder: { name: "agentdb-hash-v1", dim: 384,
                                                                           semantic: false } });
        await hashed.memory.remember({ note: "the car would not start this morning" });
        let small = null;
        try { await (await AgentDB.open("small", { dim: 3 })).memory.remember({ note: "x" }); }
        catch (err) { small = { name: err.name, message: err.message }; }
        return { found, recalled: recalled.metadata[0].text, embedder: (await db.status()).embedder,
                 hashed: (await hashed.status()).embedder.name, small };
    }""", MEMORIES)
    assert got["found"] == {text: text for text in MEMORIES}
    assert got["recalled"] == "the kettle is broken"
    assert got["embedder"] == {"name": "all-MiniLM-L6-v2", "dim": 384, "semantic": True}
    assert got["hashed"] == "agentdb-hash-v1"                                # chosen explicitly: kept
    assert got["small"]["name"] == "DimensionError" and "384" in got["small"]["message"]


def test_a_model_that_cannot_load_is_an_error_not_hashing(browser, site_url):
    context = browser.new_context()
    context.route("**/model.safetensors", lambda route: route.fulfill(status=404, body=b"gone"))
    page = context.new_page()
    page.goto(site_url)
    wait_ready(page)
    got = page.evaluate("""async () => {
        const db = await AgentDB.open("nomodel", { dim: 384 });
        const errors = [];
        for (const call of [() => db.memory.remember({ note: "a note" }), () => AgentDB.embed(["text"])]) {
            try { await call(); errors.push(null); } catch (err) { errors.push({ name: err.name, message: err.message }); }
        }
        return { errors, count: (await db.status()).count };
    }""")
    context.close()
    for err in got["errors"]:
        assert err["name"] == "ModelMissingError" and "HTTP 404" in err["message"], err
    assert got["count"] == 0
