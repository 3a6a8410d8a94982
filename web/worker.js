// The agentdb worker: Pyodide and the stores live here, so the page never blocks.
// Messages: {id, op, args, buffer?} in; {id, ok: true, value} (or json: its JSON text) or
// {id, ok: false, error: {name, message}} out;
// {progress: {stage, done, total}} events carry no id (the last, stage "ready", also says how
// Python came up: python "snapshot" or "started"; a model's loading adds model: its name, with
// stages "download" (bytes), "weights" and later "embed" (texts); a store's learn request posts
// stage "train": steps, with store, epoch, loss, lr, gradNorm and etaS, from Python);
// {event: {type: "graph", store, changes}} events carry no id either: a store's committed graph
// changes, posted once the request's commits are stored, before its reply.
// The operations and what each does to storage come from Python (worker_api.OPERATIONS, read
// once at start); IndexedDB lives in storage.js, the cross-tab lease in lease.js.
import { loadPyodide } from "./pyodide/pyodide.mjs";
import { readStored, storedGeneration, storedSize, writeCommits } from "./storage.js";
import { leases } from "./lease.js";

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
  const py = pythonCalls(pyodide, api);
  py.report_progress_to((event) => postMessage({ progress: JSON.parse(event) }));
  const ops = JSON.parse(py.operations());       // {name: "read" | "write" | "manage"}
  postMessage({ progress: { stage: "ready", done: 3, total: 3, python } });
  return { pyodide, ops, handle: py.handle, takeCommits: py.take_commits, takeEvents: py.take_events,
           loadModel: py.load_model };
})();

// worker_api's functions, each throwing a Python exception as an Error whose pythonName is its
// class and whose message is its own (str(exc), from sys.last_exc), not the traceback text.
// Read at once: the next Python call may replace sys.last_exc.
function pythonCalls(pyodide, api) {
  const names = ["operations", "handle", "take_commits", "take_events", "load_model", "report_progress_to",
                 "last_error"];
  return Object.fromEntries(names.map((name) => [name, (...args) => {
    try {
      return api[name](...args);
    } catch (err) {
      if (!(err instanceof pyodide.ffi.PythonError)) throw err;
      const last = JSON.parse(api.last_error());
      const [type, message] = last && last[0] === err.type ? last : [err.type, err.message];
      throw Object.assign(new Error(message), { pythonName: type });
    }
  }]));
}

// ---- the model (all-MiniLM-L6-v2 and its int8 variant): fetched when text first needs it,
// never on the start path (the service worker keeps its files for offline use). One load per
// model, whoever asks meanwhile waits for the same promise.
const MODELS = "./models/";     // build/build_site.py puts them there (build/build_bundle.py: ../models-<hash>/)
const MODEL_URL = MODELS + "all-MiniLM-L6-v2/";
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
      const name = err.pythonName === "ModelNotLoadedError" && err.message;
      if (!name || tried.has(name)) throw err;
      tried.add(name);
      await loadModel(name);
    }
  }
}

// ---- persisted stores: each request's commits are written to IndexedDB (storage.js) before
// the caller hears back.
const persisted = new Set();
const generations = new Map();    // name -> the stored generation the open store here holds

// The stored bytes of a store (null: none), noting the generation they are.
async function readHeld(name) {
  const stored = await readStored(name);
  generations.set(name, await storedGeneration(name));    // under the store's lease: no commit between
  return stored;
}

async function persist(name, handle, takeCommits) {
  if (!persisted.has(name)) return;
  const proxy = takeCommits(name);
  const chunks = proxy.toJs();
  proxy.destroy();
  if (!chunks.length) return;
  try {
    generations.set(name, await writeCommits(name, chunks));
  } catch (err) {
    // the store in memory is ahead of what was stored: go back to the last stored commit
    const stored = await readHeld(name);
    handle("reload", JSON.stringify({ name }), stored == null ? undefined : stored);   // none: an import's first
    if (stored == null) { persisted.delete(name); generations.delete(name); }
    const quota = err.name === "QuotaExceededError";
    const why = quota ? "the browser's storage quota for this site is full" : `${err.name}: ${err.message}`;
    const now = stored == null ? "nothing of it is kept" : "the store is back at its last commit";
    throw Object.assign(new Error(`the commit was not stored (${why}); ${now}`),
                        { pythonName: quota ? "QuotaExceededError" : "StorageError" });
  }
}

// The reply's error: a Python exception's class name and message (pythonCalls), or ours.
function errorOf(err) {
  if (err && err.pythonName) return { name: err.pythonName, message: err.message };
  return { name: (err && err.name) || "Error", message: String((err && err.message) || err) };
}

// Requests on a persisted store run under its cross-tab lease (lease.js). On taking it, the
// store is reloaded if the stored generation shows that another tab committed meanwhile.
async function fresh(name) {
  const { handle } = await ready;
  if (!generations.has(name)) return;     // not open here yet (open reads IndexedDB itself)
  if (generations.get(name) !== await storedGeneration(name)) {
    handle("reload", JSON.stringify({ name }), await readHeld(name));   // another tab committed
  }
}

const leased = leases({ acquired: fresh, keep: (name) => persisted.has(name) });

function exclusive(name, fn) {
  if (!persisted.has(name) || !navigator.locks) return fn();
  return leased(name, fn);
}

// After writes to a persisted store, once it has been idle a moment: save its graph if the
// stored one is stale (an INDEX commit), so reopening rebuilds little and no user commit pays.
const idleTimers = new Map();
const IDLE_MS = 1500;

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

self.onmessage = async (event) => {
  const { id, op, args, buffer } = event.data;
  try {
    const py = await ready;
    const persisting = (op === "open" && args.options && args.options.persist) || (op === "importRvf" && args.persist);
    const wasPersisted = persisted.has(args && args.name);
    if (persisting) persisted.add(args.name);      // from now on under the store's lease
    try {
      await exclusive(args && args.name, () => serve(id, op, args, buffer, py));
    } catch (err) {
      if (persisting && !wasPersisted) persisted.delete(args.name);   // refused or failed: as it was
      throw err;
    }
    if (py.ops[op] === "write" && persisted.has(args.name)) maintainWhenIdle(args.name);
  } catch (err) {
    postMessage({ id, ok: false, error: errorOf(err) });
  }
};

async function serve(id, op, args, buffer, { pyodide, ops, handle, takeCommits, takeEvents }) {
  if (op === "runPython") {          // the worker's own (tests, the demo's console): run code, return its value
    const value = await pyodide.runPythonAsync(args.code);
    postMessage({ id, ok: true, value: value === undefined ? null : String(value) });
    return;
  }
  let input = buffer;
  if (op === "open" && args.options && args.options.persist) {
    input = await readHeld(args.name);           // the stored commits, or null for a new store
  }
  if (op === "importRvf") args = { ...args, stored: await storedSize(args.name) > 0 };   // never hidden silently
  const out = await handleWithModel(handle, op, JSON.stringify(args), input == null ? undefined : input);   // JS null is not None in Pyodide
  if (ops[op] !== "read") {
    await persist(args.name, handle, takeCommits);   // stored before the caller hears back
    // graph changes only once stored (a refused commit is reloaded away, its changes with it)
    for (const event of JSON.parse(takeEvents())) postMessage({ event });
  }
  if (op === "close") { persisted.delete(args.name); generations.delete(args.name); }   // after its last commit
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
