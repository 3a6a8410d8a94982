// The agentdb worker: Pyodide and the stores live here, so the page never blocks.
// Messages: {id, op, args, buffer?} in; {id, ok: true, value} (or json: its JSON text) or
// {id, ok: false, error: {name, message}} out;
// {progress: {stage, done, total}} events carry no id (the last, stage "ready", also says how
// Python came up: python "snapshot" or "started"; a model's loading adds model: its name, with
// stages "download" (bytes), "weights" and later "embed" (texts)).
import { loadPyodide } from "./pyodide/pyodide.mjs";

const PACKAGES = "/home/pyodide/pkgs";     // where agentdb.zip is unpacked (build/make_snapshot.mjs too)

// One of the built site's files, as bytes (an HTTP error is an error, not a page of bytes).
async function asset(path) {
  const response = await fetch(new URL(path, import.meta.url));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

// Python comes from the build's memory snapshot (build/make_snapshot.mjs: the package already
// imported), or is started from scratch when the snapshot cannot be used. Says which it did.
async function startPython(indexURL) {
  try {
    return [await loadPyodide({ indexURL, _loadSnapshot: asset("./python.snapshot") }), "snapshot"];
  } catch (err) {
    console.warn("agentdb: the Python snapshot could not be restored; starting Python anew", err);
    return [await loadPyodide({ indexURL }), "started"];
  }
}

const ready = (async () => {
  postMessage({ progress: { stage: "runtime", done: 0, total: 3 } });
  const zip = asset("./agentdb.zip");
  const [pyodide, python] = await startPython(new URL("./pyodide/", import.meta.url).href);
  postMessage({ progress: { stage: "package", done: 1, total: 3 } });
  // the files too: a restored snapshot has the imported modules but not the files of the rest
  pyodide.unpackArchive(new Uint8Array(await zip), "zip", { extractDir: PACKAGES });
  pyodide.runPython(`import random, sys
if ${JSON.stringify(PACKAGES)} not in sys.path: sys.path.insert(0, ${JSON.stringify(PACKAGES)})
random.seed()`);
  const api = pyodide.pyimport("agentdb.worker_api");
  postMessage({ progress: { stage: "ready", done: 3, total: 3, python } });
  return { pyodide, handle: api.handle, takeCommits: api.take_commits, storedSize: api.stored_size,
           loadModel: api.load_model };
})();

// ---- the model (all-MiniLM-L6-v2 and its int8 variant): fetched when text first needs it,
// never on the start path (the service worker keeps its files for offline use). One load per
// model, whoever asks meanwhile waits for the same promise.
const MODEL_URL = "./models/all-MiniLM-L6-v2/";        // build/build_site.py puts it there
const MODEL_DIR = "/home/pyodide/models/all-MiniLM-L6-v2";   // its small files, for MiniLM(model_dir=)
const models = new Map();

function loadModel(name) {
  if (!models.has(name)) {
    const loading = fetchModel(name);
    loading.catch(() => models.delete(name));         // a failed load is tried again next time
    models.set(name, loading);
  }
  return models.get(name);
}

async function fetchModel(name) {
  const { pyodide, loadModel: load } = await ready;
  const report = (stage, done, total) => postMessage({ progress: { stage, done, total, model: name } });
  let files, weights;
  try {
    const manifest = JSON.parse(new TextDecoder().decode(await asset(MODEL_URL + "manifest.json")));
    const weightFiles = Object.values(manifest.weights);
    const small = Object.keys(manifest.files).filter((f) => !weightFiles.includes(f));
    const big = manifest.weights[name];
    if (!big) throw new Error(`the site serves no model named ${name}`);
    const total = [...small, big].reduce((n, f) => n + manifest.files[f], 0);
    let done = 0, shown = 0;
    const arrived = (n) => {             // about a hundred events, not one per chunk
      done += n;
      if (done === total || done - shown >= total / 100) { shown = done; report("download", done, total); }
    };
    report("download", 0, total);
    [files, weights] = await Promise.all([Promise.all(small.map((f) => download(f, manifest.files[f], arrived))),
                                          download(big, manifest.files[big], arrived)]);
    pyodide.FS.mkdirTree(MODEL_DIR);
    small.forEach((f, i) => pyodide.FS.writeFile(`${MODEL_DIR}/${f}`, files[i]));
  } catch (err) {                        // what Python says when the files are missing, with the reason
    throw Object.assign(new Error(`${name} could not be loaded: ${err.message}`), { pythonName: "ModelMissingError" });
  }
  load(name, MODEL_DIR, weights, report);      // one copy into Python; the kernel packs the weights
}

// A model file into one buffer of the size the manifest gives, reporting bytes as they arrive.
async function download(file, size, arrived) {
  const response = await fetch(new URL(MODEL_URL + file, import.meta.url));
  if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
  const bytes = new Uint8Array(size), reader = response.body.getReader();
  let at = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    if (at + chunk.value.length > size) throw new Error(`${file} is longer than the ${size} bytes of its manifest`);
    bytes.set(chunk.value, at);
    at += chunk.value.length;
    arrived(chunk.value.length);
  }
  if (at !== size) throw new Error(`${file} has ${at} bytes, its manifest says ${size}`);
  return bytes;
}

// Runs a request; text for a model not loaded yet raises ModelNotLoadedError (its name, nothing
// written): the model is loaded and the request runs again.
async function handleWithModel(handle, op, argsJson, input) {
  for (const tried = new Set(); ;) {
    try {
      return handle(op, argsJson, input);
    } catch (err) {
      const name = err.type === "ModelNotLoadedError" && errorOf(err).message;
      if (!name || tried.has(name)) throw err;
      tried.add(name);
      await loadModel(name);
    }
  }
}

// ---- IndexedDB: a persisted store is its .rvf bytes as chunks keyed by file offset; each
// commit is one transaction, so a closed tab leaves the previous commit.
const databases = new Map();

function idbRequest(req) {
  return new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });
}

async function idbOpen(name) {
  if (!databases.has(name)) {
    const req = indexedDB.open(`agentdb:${name}`, 1);
    req.onupgradeneeded = () => { req.result.createObjectStore("chunks"); req.result.createObjectStore("head"); };
    databases.set(name, await idbRequest(req));
  }
  return databases.get(name);
}

async function idbRead(name) {
  const db = await idbOpen(name);
  const store = db.transaction("chunks", "readonly").objectStore("chunks");
  const [keys, values] = await Promise.all([idbRequest(store.getAllKeys()), idbRequest(store.getAll())]);
  if (!keys.length) return null;
  const total = values.reduce((n, v) => n + v.byteLength, 0);
  const bytes = new Uint8Array(total);
  keys.forEach((key, i) => bytes.set(values[i], key));   // numeric keys come back in order
  return bytes;
}

async function idbSize(name) {
  const db = await idbOpen(name);
  const size = await idbRequest(db.transaction("head", "readonly").objectStore("head").get("size"));
  return size === undefined ? 0 : size;
}

async function idbCommit(name, chunks) {
  const db = await idbOpen(name);
  const tx = db.transaction(["chunks", "head"], "readwrite", { durability: "strict" });
  const store = tx.objectStore("chunks");
  let size = 0;
  for (const [kind, offset, bytes] of chunks) {
    if (kind === "replace") store.clear();
    store.put(bytes, offset);
    size = offset + bytes.byteLength;
  }
  tx.objectStore("head").put(size, "size");     // in the same transaction: other tabs compare it
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("IndexedDB commit aborted", "AbortError"));
  });
}

const persisted = new Set();

async function persist(name, handle, takeCommits) {
  if (!persisted.has(name)) return;
  const proxy = takeCommits(name);
  const chunks = proxy.toJs();
  proxy.destroy();
  if (!chunks.length) return;
  try {
    await idbCommit(name, chunks);
  } catch (err) {
    // the store in memory is ahead of what was stored: go back to the last stored commit
    const stored = await idbRead(name);
    handle("reload", JSON.stringify({ name }), stored);
    const quota = err.name === "QuotaExceededError";
    const why = quota ? "the browser's storage quota for this site is full" : `${err.name}: ${err.message}`;
    throw Object.assign(new Error(`the commit was not stored (${why}); the store is back at its last commit`),
                        { pythonName: quota ? "QuotaExceededError" : "StorageError" });
  }
}

function errorOf(err) {
  if (err && err.pythonName) return { name: err.pythonName, message: err.message };
  // a Python exception arrives as PythonError whose message ends with "ClassName: text"
  const text = String(err && err.message || err);
  const m = text.match(/\n?(\w+(?:Error|Exception|Warning)): ([^\n]*)\n?$/);
  return m ? { name: m[1], message: m[2] } : { name: err && err.name || "Error", message: text };
}

// One tab at a time works on a persisted store: it holds the store's Web Lock (a lease) across
// its requests until another tab asks for the store (a BroadcastChannel message) or it has been
// idle a moment. On taking the lease it reloads the store if the stored size shows that another
// tab committed meanwhile, so it sees every commit; a run of requests pays for the lock and that
// IndexedDB check once (they cost ~0.8 ms when paid per request).
const leases = new Map();
const channels = new Map();
const LEASE_IDLE_MS = 300;

function channel(name) {
  if (!channels.has(name)) {
    const ch = new BroadcastChannel(`agentdb-lease:${name}`);
    ch.onmessage = () => {                // another tab wants the store: hand it over when done
      const held = leases.get(name);
      if (!held) return;
      held.wanted = true;
      if (held.pending === 0) held.release();
    };
    channels.set(name, ch);
  }
  return channels.get(name);
}

async function fresh(name) {
  const { handle, storedSize } = await ready;
  const size = storedSize(name);          // -1: not open here yet (open reads IndexedDB itself)
  if (size >= 0 && size !== await idbSize(name)) {
    handle("reload", JSON.stringify({ name }), await idbRead(name));   // another tab committed
  }
}

function lease(name) {
  if (leases.has(name)) return leases.get(name);
  let granted, release;
  const done = new Promise((resolve) => { release = resolve; });
  const held = { pending: 0, wanted: false, timer: null,
                 release: () => { clearTimeout(held.timer); leases.delete(name); release(); } };
  held.tail = new Promise((resolve) => { granted = resolve; });
  leases.set(name, held);
  channel(name).postMessage("want");
  navigator.locks.request(`agentdb:${name}`, async () => {
    try {
      await fresh(name);
      granted();
    } catch (err) {
      granted(Promise.reject(err));
      held.release();
    }
    await done;
  });
  return held;
}

function exclusive(name, fn) {
  if (!persisted.has(name) || !navigator.locks) return fn();
  const held = lease(name);
  clearTimeout(held.timer);
  held.pending++;
  const result = held.tail.then(fn);
  held.tail = result.catch(() => {});     // requests run one after another, whatever each outcome
  result.catch(() => {}).finally(() => {
    if (--held.pending > 0) return;
    if (held.wanted || !persisted.has(name)) held.release();
    else held.timer = setTimeout(held.release, LEASE_IDLE_MS);
  });
  return result;
}

// After writes to a persisted store, once it has been idle a moment: save its graph if the
// stored one is stale (an INDEX commit), so reopening rebuilds little and no user commit pays.
const WRITES = new Set(["ingest", "remember", "delete", "deleteByFilter", "memory"]);
// ... and requests that never commit (no commits to hand over: a query pays no extra Python call)
const READS = new Set(["query", "queryBatch", "recall", "get", "status", "exportRvf", "embed"]);
const idleTimers = new Map();

function maintainWhenIdle(name) {
  clearTimeout(idleTimers.get(name));
  idleTimers.set(name, setTimeout(async () => {
    idleTimers.delete(name);
    try {
      const { handle, takeCommits } = await ready;
      if (!persisted.has(name)) return;
      await exclusive(name, async () => {
        handle("maintain", JSON.stringify({ name }));
        await persist(name, handle, takeCommits);
      });
    } catch (err) {
      console.warn(`agentdb: saving the graph of ${name} failed; it is rebuilt on reopen:`, err);
    }
  }, IDLE_MS));
}
const IDLE_MS = 1500;

self.onmessage = async (event) => {
  const { id, op, args, buffer } = event.data;
  try {
    const { pyodide, handle, takeCommits } = await ready;
    if (op === "open" && args.options && args.options.persist) persisted.add(args.name);
    await exclusive(args && args.name, () => serve(id, op, args, buffer, { pyodide, handle, takeCommits }));
    if (WRITES.has(op) && persisted.has(args.name)) maintainWhenIdle(args.name);
  } catch (err) {
    postMessage({ id, ok: false, error: errorOf(err) });
  }
};

async function serve(id, op, args, buffer, { pyodide, handle, takeCommits }) {
  if (op === "runPython") {          // tests and the demo's console: run code, return its JSON value
    const value = await pyodide.runPythonAsync(args.code);
    postMessage({ id, ok: true, value: value === undefined ? null : String(value) });
    return;
  }
  let input = buffer;
  if (op === "open" && args.options && args.options.persist) {
    input = await idbRead(args.name);            // the stored commits, or null for a new store
  }
  const out = await handleWithModel(handle, op, JSON.stringify(args), input == null ? undefined : input);   // JS null is not None in Pyodide
  if (op === "importRvf") persisted.delete(args.name);
  if (!READS.has(op)) await persist(args.name, handle, takeCommits);   // stored before the caller hears back
  if (op === "close") persisted.delete(args.name); // after its last commit (the graph) is stored
  if (op === "status" && persisted.has(args.name) && navigator.storage && navigator.storage.estimate) {
    const value = JSON.parse(out);
    const { usage, quota } = await navigator.storage.estimate();
    value.storage = { persisted: true, usage, quota };
    postMessage({ id, ok: true, value });
  } else if (typeof out === "string") {
    postMessage({ id, ok: true, json: out });      // parsed on the page: cheaper than cloning objects
  } else {
    const bytes = out.toJs();    // exportRvf, embed: bytes -> Uint8Array (one copy), transferred
    out.destroy();
    postMessage({ id, ok: true, value: bytes }, [bytes.buffer]);
  }
}
