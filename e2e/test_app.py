"""The browser app in real Chromium: the same package in a Pyodide worker answers with the
same bits as natively, and .rvf bytes move both ways between the two homes."""
import json
from pathlib import Path

import numpy as np

import agentdb
import parity_scenario
from agentdb.kernel import load
from e2e_support import run as call

SCENARIO = Path(parity_scenario.__file__).read_text()


def test_the_notebook_searches_by_meaning(page):
    # the kernel check runs once the notebook is usable (it no longer competes with its start)
    page.wait_for_function("document.getElementById('results').innerText.includes('e3069283 (expected')",
                           timeout=30_000)
    assert "wasm simd128" in page.inner_text("#results")
    # each memory is found by a paraphrase sharing no content word with it (e2e/test_walk.py
    # walks the rest of the page)
    paraphrases = {"Water the tomato plants on Monday": "give the vegetables a drink at the start of the week",
                   "The flight to Tokyo was delayed by three hours": "plane trip to japan ran late",
                   "The car would not start this morning": "vehicle engine failure"}
    for text in paraphrases:
        page.evaluate("document.getElementById('store-status').textContent = ''")
        page.fill("#memory-text", text)
        page.click("#remember")
        page.wait_for_function("document.getElementById('store-status').textContent === 'Remembered.'",
                               timeout=30_000)
    for text, paraphrase in paraphrases.items():
        page.fill("#search-text", paraphrase)
        page.click("#search")
        page.wait_for_function("q => document.getElementById('store-status').textContent.endsWith(`for “${q}”.`)",
                               arg=paraphrase, timeout=30_000)
        assert text in page.inner_text("#store-results tr:nth-child(2)"), paraphrase     # row 1: the header


def test_same_bits_in_chromium_as_natively(page):
    code = SCENARIO.replace('if __name__ == "__main__":', "if False:") + "\njson.dumps(run(load()))"
    browser = json.loads(call(page, "return await AgentDB.runPython(args[0]);", code))
    assert browser == json.loads(json.dumps(parity_scenario.run(load("native"))))


def test_js_api_answers_like_the_native_store(page):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((600, 16)).astype(np.float32)
    q = rng.standard_normal(16).astype(np.float32)
    meta = [{"kind": "a" if i % 3 else "b", "n": i} for i in range(600)]
    got = call(page, """
        const [x, q, meta] = args;
        const db = await AgentDB.open("api", { dim: 16, metric: "l2" });
        await db.ingest(meta.map((m) => m.n), new Float32Array(x), meta);
        await db.delete([1, 2, 3]);
        const all = await db.query(new Float32Array(q), { k: 7 });
        const some = await db.query(new Float32Array(q), { k: 7, where: { kind: "b", n: { gt: 100 } } });
        const batch = await db.queryBatch(new Float32Array([...q, ...x.slice(0, 16)]), { k: 7 });
        return { all, some, batch, status: await db.status() };
    """, x.ravel().tolist(), q.tolist(), meta)
    native = agentdb.open(dim=16, metric="l2")
    native.ingest(range(600), x, metadata=meta)
    native.delete([1, 2, 3])
    for res, where in ((got["all"], None), (got["some"], {"kind": "b", "n": {"gt": 100}})):
        want = native.query(q, k=7, where=where)
        assert res["ids"] == want.ids
        assert np.array_equal(np.array(res["scores"], np.float32), np.asarray(want.scores))
        assert res["metadata"] == want.metadata
    assert got["status"]["count"] == 597 and got["status"]["kernel"]["backend"] == "browser"
    assert got["batch"][0] == got["all"] and got["batch"][1]["ids"] == native.query(x[0], k=7).ids


def test_rvf_moves_between_the_homes(page, tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 8)).astype(np.float32)
    q = rng.standard_normal(8).astype(np.float32)
    exported = call(page, """
        const [x] = args;
        const db = await AgentDB.open("export", { dim: 8, metric: "cosine" });
        await db.ingest(Array.from({ length: 300 }, (_, i) => `doc${i}`), new Float32Array(x),
                        Array.from({ length: 300 }, (_, i) => ({ i })));
        const blob = await db.exportRvf();
        return Array.from(new Uint8Array(await blob.arrayBuffer()));
    """, x.ravel().tolist())
    native = agentdb.open_bytes(bytes(exported))
    reference = agentdb.open(dim=8, metric="cosine")
    reference.ingest([f"doc{i}" for i in range(300)], x, metadata=[{"i": i} for i in range(300)])
    want = reference.query(q, k=5)
    assert native.query(q, k=5).ids == want.ids and native.get("doc7").metadata == {"i": 7}
    path = tmp_path / "native.rvf"
    path.write_bytes(reference.to_bytes())
    back = call(page, """
        const [bytes, q] = args;
        const db = await AgentDB.importRvf("imported", new Uint8Array(bytes));
        return await db.query(new Float32Array(q), { k: 5 });
    """, list(path.read_bytes()), q.tolist())
    assert back["ids"] == want.ids
    assert np.array_equal(np.array(back["scores"], np.float32), np.asarray(want.scores))


def test_a_corrupt_import_is_refused_and_changes_nothing(page):
    result = call(page, """
        const db = await AgentDB.open("keep", { dim: 2 });
        await db.ingest([1], new Float32Array([1, 2]));
        let error = null;
        // replace: true, so only the bytes can be refused (a plain import over "keep" is refused anyway)
        try { await AgentDB.importRvf("keep", new Uint8Array([137, 80, 78, 71, 1, 2, 3]), { replace: true }); }
        catch (err) { error = { name: err.name, message: err.message }; }
        return { error, status: await db.status() };
    """)
    assert result["error"]["name"] == "CorruptFileError"
    assert "not an .rvf file" in result["error"]["message"]
    assert result["status"]["count"] == 1


def test_python_errors_keep_their_names_in_js(page):
    result = call(page, """
        const db = await AgentDB.open("errs", { dim: 3 });
        const names = [];
        for (const bad of [() => db.ingest([1], new Float32Array([1, 2])),
                           () => db.query(new Float32Array([1, 2, 3]), { where: { x: { between: 1 } } }),
                           () => db.get(99)]) {
            try { await bad(); names.push(null); } catch (err) { names.push(err.name); }
        }
        return names;
    """)
    assert result == ["DimensionError", "FilterError", "UnknownIdError"]


def test_an_option_error_has_its_python_name_and_message(page):
    result = call(page, """
        try { await AgentDB.open("opts", { dim: 8, M: 16 }); return null; }
        catch (err) { return { name: err.name, message: err.message, isError: err instanceof Error }; }
    """)
    assert result["name"] == "OptionError" and result["isError"]
    assert result["message"].startswith("unknown option 'M': the options are metric, index")   # no traceback
