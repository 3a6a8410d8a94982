"""How the worker's Python comes up: restored from the build's memory snapshot (the package
already imported), or started from scratch when the snapshot is unusable."""
# records the worker's progress events before the page's own scripts run
WATCH_PROGRESS = """
const Original = window.Worker;
window.progressSeen = [];
window.Worker = function (url, options) {
  const worker = new Original(url, options);
  worker.addEventListener("message", ({ data }) => { if (data.progress) window.progressSeen.push(data.progress); });
  return worker;
};
"""
READY = "window.progressSeen.some((p) => p.stage === 'ready')"
USE_STORE = """async () => {
    const db = await AgentDB.open('start-check', { dim: 4, metric: 'l2' });
    await db.ingest([7, 8], new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]));
    const hit = await db.query(new Float32Array([0, 1, 0, 0]), { k: 1 });
    await db.close();
    return hit.ids;
}"""


def start_page(browser, site_url, corrupt_snapshot=False):
    context = browser.new_context()
    if corrupt_snapshot:
        context.route("**/python.snapshot", lambda route: route.fulfill(status=200, body=b"not a snapshot" * 1000))
    page = context.new_page()
    page.add_init_script(WATCH_PROGRESS)
    warnings = []
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    page.goto(site_url)
    page.wait_for_function(READY, timeout=60_000)
    ready = page.evaluate("window.progressSeen.find((p) => p.stage === 'ready')")
    return context, page, ready, warnings


def python(page, code):
    return page.evaluate("async (code) => await AgentDB.runPython(code)", code)


def test_python_is_restored_from_the_snapshot_and_reseeded(browser, site_url):
    pages = [start_page(browser, site_url) for _ in range(2)]
    try:
        draws = []
        for context, page, ready, warnings in pages:
            assert ready["python"] == "snapshot", warnings
            assert page.evaluate(USE_STORE) == [8]     # the store opens its kernel: a module imported after the restore
            draws.append(python(page, "import random; str(random.getrandbits(64))"))
        assert draws[0] != draws[1]                    # each tab has its own random state, not the build's
    finally:
        for context, *_ in pages:
            context.close()


def test_an_unusable_snapshot_falls_back_to_starting_python(browser, site_url):
    context, page, ready, warnings = start_page(browser, site_url, corrupt_snapshot=True)
    try:
        assert ready["python"] == "started"
        assert any("snapshot could not be restored" in w for w in warnings)
        assert page.evaluate(USE_STORE) == [8]
    finally:
        context.close()
