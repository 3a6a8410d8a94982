"""Two tabs on one persisted store: one writer at a time (Web Locks), and each tab sees the
other's commits before it answers; nothing is lost or corrupted when both write at once."""
import agentdb
from conftest import ARGS, CHROMIUM

OPEN = 'const db = await AgentDB.open("shared", { dim: 2, metric: "l2", persist: true });'


def run(page, script, *args):
    return page.evaluate(f"async (args) => {{ {OPEN} {script} }}", list(args))


def test_two_tabs_share_one_store(browser, tmp_path, site_url):
    context = browser.browser_type.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                             args=ARGS)
    a, b = context.new_page(), context.new_page()
    for page in (a, b):
        page.goto(site_url)
        page.wait_for_function("!document.getElementById('sample').disabled", timeout=60_000)
    run(a, "await db.ingest([1, 2, 3], new Float32Array([1, 1, 2, 2, 3, 3]));")
    assert run(b, "return (await db.status()).count;") == 3
    run(a, "await db.ingest([4], new Float32Array([4, 4])); await db.delete([1]);")
    assert run(b, "return (await db.query(new Float32Array([0, 0]), { k: 10 })).ids;") == [2, 3, 4]
    # both write at once: every commit survives, in some order
    run(a, "await Promise.all([0, 1, 2, 3, 4].map((i) => db.ingest([100 + i], new Float32Array([i, i]))));")
    writes = [page.evaluate_handle(f"(async () => {{ {OPEN} for (let i = 0; i < 5; i++) await db.ingest([{base} + i], "
                                   f"new Float32Array([i, -i])); }})()") for page, base in ((a, 200), (b, 300))]
    for handle in writes:
        handle.evaluate("p => p")
    ids = run(b, "return (await db.query(new Float32Array([0, 0]), { k: 100 })).ids;")
    assert sorted(ids) == sorted([2, 3, 4] + list(range(100, 105)) + list(range(200, 205)) + list(range(300, 305)))
    exported = run(b, "return Array.from(new Uint8Array(await (await db.exportRvf()).arrayBuffer()));")
    assert len(agentdb.open_bytes(bytes(exported))) == 18
    context.close()
