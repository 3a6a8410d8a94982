"""Model and data I/O in real Chromium (db.io): a store's learned model leaves the page as a
Blob holding the very bytes the native package writes for that store, in every format; a
native PEFT export imported into the page answers adapted queries with the native ids and
score bits; a memory's dataset goes out and back in through Blobs (pre-training text embedded
again by the page's own embedder)."""
import agentdb
from agentdb.io import from_memory, read_dataset
from agentdb.io.transfer import MODEL_FORMATS, model_bytes
from e2e_support import run
from test_learn import HELD, assert_same_answers, flat, native_store
from test_memory import JS_EMBEDDER


def test_model_exports_in_the_page_are_the_native_bytes(page):
    native, _ = native_store()
    got = run(page, """
        const [rvf, formats] = args;
        const db = await AgentDB.importRvf("learned-io", new Uint8Array(rvf));
        const out = {};
        for (const format of formats) {
            const blob = await db.io.exportModel({ format });
            out[format] = { type: blob.type, bytes: Array.from(new Uint8Array(await blob.arrayBuffer())) };
        }
        return out;
    """, list(native.to_bytes()), list(MODEL_FORMATS))
    for fmt in MODEL_FORMATS:
        assert bytes(got[fmt]["bytes"]) == model_bytes(from_memory(native), fmt), fmt
    assert got["json"]["type"] == "application/json"


def test_a_native_peft_adapter_imported_in_the_page_answers_as_natively(page):
    native, _ = native_store()
    plain = agentdb.open_bytes(native.to_bytes())          # the same rows, without the adapter
    plain.remove_adapter("query")
    got = run(page, """
        const [rvf, adapter, held] = args;
        const db = await AgentDB.importRvf("plain-io", new Uint8Array(rvf));
        const imported = await db.io.importModel(new Blob([new Uint8Array(adapter)]));   // format told by the bytes
        let error = null;
        try { await db.io.importModel(new Uint8Array(adapter)); } catch (err) { error = err.name; }
        let foreign = null;
        try { await db.io.importModel(new Uint8Array([80, 75, 3, 4, 0, 0])); } catch (err) { foreign = err.name; }
        return { imported, error, foreign, adapters: await db.learn.adapters(),
                 adapted: await db.queryBatch(new Float32Array(held), { k: 10, adapt: true }) };
    """, list(plain.to_bytes()), list(model_bytes(from_memory(native), "peft")), flat(HELD))
    assert got["imported"] == {"adapters": 1, "patterns": 0} and got["adapters"] == ["query"]
    assert got["error"] == "ArgumentError" and got["foreign"] == "FormatError"
    assert_same_answers(got["adapted"], native.query_batch(HELD, k=10, adapt=True))


def test_a_dataset_goes_out_and_back_in_through_blobs(page):
    got = run(page, JS_EMBEDDER + """
        const db = await AgentDB.open("episodes-io", { dim: 16, embedder });
        for (const [i, task] of ["parse a date", "sort a list", "read a csv file"].entries()) {
            await db.memory.storeEpisode({ session: "s1", task, output: "done " + i, reward: 0.5 + i / 10,
                                           success: i !== 1 });
        }
        const out = {};
        for (const format of ["jsonl", "csv", "pretrain"]) {
            const blob = await db.io.exportDataset({ format });
            const twin = await AgentDB.open("twin-" + format, { dim: 16, embedder });
            out[format] = { text: await blob.text(), imported: await twin.io.importDataset(blob, { format }),
                            episodes: await twin.memory.recentEpisodes({ session: "s1" }) };
        }
        out.original = await db.memory.recentEpisodes({ session: "s1" });
        let error = null;
        try { await (await AgentDB.open("twin-jsonl", { dim: 16, embedder })).io.importDataset(
                  new TextEncoder().encode(out.jsonl.text)); } catch (err) { error = err.name; }
        out.error = error;
        return out;
    """)
    import io

    rows = list(read_dataset(io.StringIO(got["jsonl"]["text"]), format="jsonl"))
    assert [r["metadata"]["task"] for r in rows] == ["parse a date", "sort a list", "read a csv file"]
    for fmt in ("jsonl", "csv"):
        assert got[fmt]["imported"] == {"stored": 3, "skipped": 0}
        assert got[fmt]["episodes"] == got["original"]              # the same records, timestamps and all
    assert got["pretrain"]["imported"] == {"stored": 3, "skipped": 0}    # embedded again by the page's embedder
    assert sorted(e["task"] for e in got["pretrain"]["episodes"]) == sorted(e["task"] for e in got["original"])
    assert got["error"] == "IdError"
