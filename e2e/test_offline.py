"""Offline: after one visit the app loads and works with the network off (service worker)."""
from conftest import ARGS, CHROMIUM


def test_the_app_works_offline_after_one_visit(browser, tmp_path, site_url):
    context = browser.browser_type.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                             args=ARGS)
    page = context.new_page()
    page.goto(site_url)
    page.wait_for_function("!document.getElementById('sample').disabled", timeout=60_000)
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.reload()                                   # now controlled by the service worker
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    context.set_offline(True)
    page.reload()
    page.wait_for_function("!document.getElementById('sample').disabled", timeout=60_000)
    result = page.evaluate("""async () => {
        const db = await AgentDB.open("offline", { dim: 3 });
        await db.ingest([1, 2], new Float32Array([1, 0, 0, 0, 1, 0]));
        return (await db.query(new Float32Array([1, 0.1, 0]), { k: 1 })).ids;
    }""")
    assert result == [1]
    page.wait_for_function("document.getElementById('results').innerText.includes('e3069283 (expected')",
                           timeout=30_000)                        # kernel.wasm from the cache too
    context.close()
