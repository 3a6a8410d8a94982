"""Offline: after one visit the app loads and works with the network off (service worker),
the model included: its float32 files precached with the app, the int8 weights once used."""
from conftest import ARGS, CHROMIUM

EMBED = """async () => {
    const rows = [...await AgentDB.embed(["offline sentence"]),
                  ...await AgentDB.embed(["offline sentence"], { quantized: true })];
    return rows.map((v) => Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
}"""
CACHED = """async () => {
    const cached = async (file) => (await caches.match("./models/all-MiniLM-L6-v2/" + file)) !== undefined;
    return [await cached("model.safetensors"), await cached("model-int8.safetensors")];
}"""
WORKER_MODULES = """async () => [(await caches.match("./storage.js")) !== undefined,
                                (await caches.match("./lease.js")) !== undefined]"""


def test_the_app_works_offline_after_one_visit(browser, tmp_path, site_url):
    context = browser.browser_type.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                             args=ARGS)
    page = context.new_page()
    page.goto(site_url)
    page.wait_for_function("!document.getElementById('sample').disabled", timeout=60_000)
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    assert page.evaluate(CACHED) == [True, False]    # float32 precached (the default), int8 on first use
    assert page.evaluate(WORKER_MODULES) == [True, True]   # the worker's imports are precached with the app
    page.reload()                                   # now controlled by the service worker
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    online = page.evaluate(EMBED)
    for _ in range(100):                            # the service worker stores the int8 file meanwhile
        if page.evaluate(CACHED) == [True, True]:
            break
        page.wait_for_timeout(100)
    assert page.evaluate(CACHED) == [True, True]
    context.set_offline(True)
    page.reload()
    page.wait_for_function("!document.getElementById('sample').disabled", timeout=60_000)
    result = page.evaluate("""async () => {
        const db = await AgentDB.open("offline", { dim: 3 });
        await db.ingest([1, 2], new Float32Array([1, 0, 0, 0, 1, 0]));
        return (await db.query(new Float32Array([1, 0.1, 0]), { k: 1 })).ids;
    }""")
    assert result == [1]
    assert page.evaluate(EMBED) == online
    page.wait_for_function("document.getElementById('results').innerText.includes('e3069283 (expected')",
                           timeout=30_000)                        # kernel.wasm from the cache too
    context.close()
