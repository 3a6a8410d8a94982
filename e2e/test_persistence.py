"""IndexedDB persistence in real Chromium: every commit is stored before the call resolves,
survives a reload and a browser restart, costs only its own bytes, and the stored chunks are
always a valid .rvf file."""
import numpy as np

import agentdb
from conftest import ARGS, CHROMIUM
from e2e_support import run, wait_ready

DIM = 32


def vectors(n, seed):
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def load_app(page, site_url):
    page.goto(site_url)
    wait_ready(page)


OPEN = 'const db = await AgentDB.open(args[0], { dim: 32, metric: "cosine", persist: true });'

CHUNKS = """
    const req = indexedDB.open("agentdb:" + args[0]);
    const idb = await new Promise((res, rej) => { req.onsuccess = () => res(req.result); req.onerror = rej; });
    const store = idb.transaction("chunks").objectStore("chunks");
    const get = (r) => new Promise((res) => { r.onsuccess = () => res(r.result); });
    const [keys, values] = await Promise.all([get(store.getAllKeys()), get(store.getAll())]);
    idb.close();
    return keys.map((k, i) => [k, Array.from(values[i])]);
"""


KEYS = CHUNKS.replace("return keys.map((k, i) => [k, Array.from(values[i])]);", "return keys;")


def settled_chunks(page, name):
    """The stored chunks once the worker's idle work (saving the graph) is done."""
    keys = run(page, KEYS, name)
    while True:
        page.wait_for_timeout(2500)             # longer than the worker's idle delay (1.5 s)
        again = run(page, KEYS, name)
        if again == keys:
            return run(page, CHUNKS, name)
        keys = again


def test_survives_a_reload_and_stores_each_commit_alone(page, site_url):
    x = vectors(5000, 1)
    q = vectors(1, 2)[0]
    first = run(page, OPEN + """
        await db.ingest(Array.from({ length: 5000 }, (_, i) => i), new Float32Array(args[1]),
                        Array.from({ length: 5000 }, (_, i) => ({ kind: i % 2 ? "odd" : "even" })));
        await db.delete([3, 4]);
        return await db.query(new Float32Array(args[2]), { k: 5, where: { kind: "odd" } });
    """, "reload", x.ravel().tolist(), q.tolist())
    before = settled_chunks(page, "reload")     # with the graph the worker saves once idle
    assert sum(len(v) for _, v in before) > 5000 * 4 * DIM                      # vectors, and the graph
    more = vectors(1000, 3)
    run(page, OPEN + "await db.ingest(Array.from({ length: 1000 }, (_, i) => 9000 + i), new Float32Array(args[1]));",
        "reload", more.ravel().tolist())
    after = run(page, CHUNKS, "reload")
    assert [k for k, _ in after][:len(before)] == [k for k, _ in before]      # earlier chunks untouched
    new_bytes = sum(len(v) for _, v in after[len(before):])
    own = 1000 * (8 + 4 * DIM)
    assert own < new_bytes < 2 * own                                            # a commit costs its own size
    load_app(page, site_url)                                                  # reload the page
    again = run(page, OPEN + """
        const hits = await db.query(new Float32Array(args[1]), { k: 5, where: { kind: "odd" } });
        return { hits, status: await db.status() };
    """, "reload", q.tolist())
    assert again["hits"] == first and again["status"]["count"] == 5998
    assert again["status"]["storage"]["quota"] > again["status"]["storage"]["usage"] > 0
    stored = bytes(b for _, chunk in run(page, CHUNKS, "reload") for b in chunk)
    native = agentdb.open_bytes(stored)                                         # the chunks are an .rvf
    assert native.query(q, k=5, where={"kind": "odd"}).ids == first["ids"] and len(native) == 5998


def test_survives_a_browser_restart(browser, tmp_path, site_url):
    x = vectors(300, 4)
    for round_ in range(2):   # two browser processes on one profile directory
        context = browser.browser_type.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                                 args=ARGS)
        page = context.new_page()
        load_app(page, site_url)
        if round_ == 0:
            run(page, OPEN + "await db.ingest(Array.from({ length: 300 }, (_, i) => `m${i}`), "
                             "new Float32Array(args[1]), Array.from({ length: 300 }, (_, i) => ({ i })));",
                "restart", x.ravel().tolist())
        else:
            got = run(page, OPEN + "return [await db.status(), await db.get('m17')];", "restart")
            assert got[0]["count"] == 300 and got[1]["metadata"] == {"i": 17}
        context.close()


def test_a_full_quota_reaches_the_caller_and_keeps_the_last_commit(browser, site_url):
    """A commit IndexedDB refuses for quota (Chromium's quota for the site set to 3 MB through
    the DevTools protocol before the site first stores anything: Chromium applies an override
    only to storage opened after it) rejects the call with QuotaExceededError; the store in
    memory and the stored chunks stay at the last commit, and a reload finds it."""
    context = browser.new_context()
    page = context.new_page()
    origin = site_url.rstrip("/")
    cdp = context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 3_000_000})
    load_app(page, site_url)
    x, q = vectors(2000, 4), vectors(1, 6)[0]
    before = run(page, OPEN + """
        await db.ingest(Array.from({ length: 2000 }, (_, i) => i), new Float32Array(args[1]));
        return await db.query(new Float32Array(args[2]), { k: 5 });
    """, "quota", x.ravel().tolist(), q.tolist())
    stored = settled_chunks(page, "quota")
    big = vectors(20_000, 5)            # 2.7 MB of random floats: no compression fits them in the quota
    refused = run(page, OPEN + """
        try {
            await db.ingest(Array.from({ length: 20000 }, (_, i) => 100000 + i), new Float32Array(args[1]));
            return { stored: true };
        } catch (e) {
            return { name: e.name, message: e.message, count: (await db.status()).count,
                     hits: await db.query(new Float32Array(args[2]), { k: 5 }) };
        }
    """, "quota", big.ravel().tolist(), q.tolist())
    assert refused["name"] == "QuotaExceededError", refused
    assert "storage quota" in refused["message"] and "back at its last commit" in refused["message"]
    assert refused["count"] == 2000 and refused["hits"] == before
    assert run(page, CHUNKS, "quota") == stored
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})          # the quota back to normal
    load_app(page, site_url)
    again = run(page, OPEN + """
        return { count: (await db.status()).count, hits: await db.query(new Float32Array(args[1]), { k: 5 }) };
    """, "quota", q.tolist())
    assert again == {"count": 2000, "hits": before}
    context.close()


RESTORE = OPEN + """
    const [, backupRows, laterRow] = args;
    const ids = Array.from({ length: backupRows.length / 32 }, (_, i) => `b${i}`);
    await db.ingest(ids, new Float32Array(backupRows));
    const backup = await db.exportRvf();                        // a .rvf backup of the store
    await db.ingest(["later"], new Float32Array(laterRow));     // made after the backup: to be undone
    const refused = [];
    for (const options of [{}, { persist: true }, { replace: true }]) {
        try { await AgentDB.importRvf(args[0], backup, options); refused.push(null); }
        catch (e) { refused.push([e.name, e.message]); }
    }
    const restored = await AgentDB.importRvf(args[0], backup, { persist: true, replace: true });
    await db.ingest(["after"], new Float32Array(laterRow));     // the old handle writes to the restore
    const other = await AgentDB.importRvf("copy", backup);      // in memory: not to be persisted by open
    let reopened;
    try { await AgentDB.open("copy", { persist: true }); reopened = null; }
    catch (e) { reopened = [e.name, e.message]; }
    return { refused, restored: restored.openStatus.count, reopened, copy: (await other.status()).count,
             ids: (await db.status()).count, later: await db.get("later").then(() => true, (e) => e.name) };
"""


def test_an_rvf_backup_restores_into_the_browser_across_a_restart(browser, tmp_path, site_url):
    """importRvf refuses to hide a persisted store, and with persist + replace restores a backup
    into IndexedDB as one commit: after a browser restart the store is the backup plus the
    writes made after the restore, not the writes the restore undid."""
    backup, later = vectors(40, 11), vectors(1, 12)[0]
    for round_ in range(2):
        context = browser.browser_type.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                                 args=ARGS)
        page = context.new_page()
        load_app(page, site_url)
        if round_ == 0:
            got = run(page, RESTORE, "restore", backup.ravel().tolist(), later.tolist())
            assert [r[0] for r in got["refused"]] == ["StoreExistsError"] * 3, got["refused"]
            assert "pass replace: true" in got["refused"][0][1] and "needs persist: true" in got["refused"][2][1]
            assert got["restored"] == 40 and got["ids"] == 41 and got["later"] == "UnknownIdError"
            assert got["reopened"][0] == "StoreExistsError" and "in memory only" in got["reopened"][1]
            assert got["copy"] == 40
            stored = agentdb.open_bytes(bytes(b for _, chunk in settled_chunks(page, "restore") for b in chunk))
            assert sorted(stored.ids()) == sorted([f"b{i}" for i in range(40)] + ["after"])
        else:
            got = run(page, OPEN + """
                const ids = [];
                for (const id of ["b0", "b39", "later", "after"]) ids.push(await db.get(id).then(() => id, () => null));
                return { count: (await db.status()).count, ids };
            """, "restore")
            assert got == {"count": 41, "ids": ["b0", "b39", None, "after"]}
        context.close()
