// agentdb in the browser: the client side of web/worker.js.
//   const db = await AgentDB.open("notes", { dim: 384, metric: "cosine" });
//   await db.ingest(["a", "b"], new Float32Array(768), [{ kind: "note" }, {}]);
//   const hits = await db.query(vector, { k: 5, where: { kind: "note" } });
//   const [a, b] = await AgentDB.embed(["the car would not start", "vehicle engine failure"]);
// Every call is a request {id, op, args}; vectors travel as transferred Float32Arrays.
let worker = null;
let nextId = 1;
const pending = new Map();
const listeners = new Set();

function start() {
  if (worker) return worker;
  worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  worker.onmessage = ({ data }) => {
    if (data.progress) { listeners.forEach((fn) => fn(data.progress)); return; }
    const call = pending.get(data.id);
    if (!call) return;
    pending.delete(data.id);
    if (data.ok) call.resolve(data.json !== undefined ? JSON.parse(data.json) : data.value);
    else call.reject(Object.assign(new Error(data.error.message), { name: data.error.name }));
  };
  worker.onerror = (event) => {
    // a dead worker rejects everything still waiting
    const err = Object.assign(new Error(event.message || "agentdb worker failed"), { name: "WorkerError" });
    pending.forEach((call) => call.reject(err));
    pending.clear();
    worker = null;
  };
  return worker;
}

function request(op, args, buffer, transfer = []) {
  const w = start();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    w.postMessage({ id, op, args, buffer }, transfer);
  });
}

// A query's answer: the worker sends scores as the hex of their little-endian float32 bytes
// (exact, and cheap to make in Python); they become plain numbers here.
function answer({ ids, scoresHex, metadata, exact }) {
  const scores = new Array(scoresHex.length / 8), word = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < scores.length; i++) {
    word.setUint32(0, parseInt(scoresHex.substr(8 * i, 8), 16));   // the bytes in file order...
    scores[i] = word.getFloat32(0, true);                           // ...read as little-endian
  }
  return { ids, scores, metadata, exact };
}

function float32(vectors) {
  return vectors instanceof Float32Array ? vectors : new Float32Array(vectors.flat ? vectors.flat() : vectors);
}

const snake = (key) => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// Keys camelCased all the way down, except inside user metadata (kept as the user wrote it).
function camelize(value) {
  if (Array.isArray(value)) return value.map(camelize);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(
    ([k, v]) => [camel(k), k === "metadata" ? v : camelize(v)]));
}

// Options for a memory method: snake_case keywords; typed arrays (embeddings) as plain arrays
// (a float32 is exactly a double, so JSON carries it unchanged).
function memoryArgs(options) {
  const plain = (v) => (ArrayBuffer.isView(v) ? Array.from(v) : Array.isArray(v) ? v.map(plain) : v);
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [snake(k), plain(v)]));
}

// float32 rows that crossed as bytes (exact) -> n Float32Array views of one buffer
function rowsOf(bytes, n) {
  const rows = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), dim = rows.length / n;
  return Array.from({ length: n }, (_, i) => rows.subarray(i * dim, (i + 1) * dim));
}

// An embedder crosses to the worker as its identity; its function stays on the page.
const identity = (e) => e && { name: e.name, dim: e.dim, semantic: e.semantic !== false };

export class AgentDB {
  /** The identities of the models the worker runs itself (all-MiniLM-L6-v2, float32 and int8):
   *  open(name, { embedder: AgentDB.MINILM }) records it; it is the default of a store that
   *  records no embedder. A hashing store: embedder { name: "agentdb-hash-v1", dim, semantic: false }. */
  static MINILM = Object.freeze({ name: "all-MiniLM-L6-v2", dim: 384, semantic: true });
  static MINILM_INT8 = Object.freeze({ name: "all-MiniLM-L6-v2-int8", dim: 384, semantic: true });

  constructor(name, status, embedder) { this.name = name; this.openStatus = status; this.embedder = embedder; }

  /** Opens (creates) a store in the worker. options: dim, metric, index, compression, m, ...;
   *  persist: true keeps it in IndexedDB (every commit stored before the call resolves), and
   *  reopening by name after a reload or a browser restart finds it again.
   *  embedder: the model text is embedded with (its identity is recorded in the store; opening
   *  with another one raises EmbedderMismatchError): AgentDB.MINILM (the default when the store
   *  records none: run in the worker, loaded on first use), the hashing embedder's identity, or
   *  a page model { name, dim, semantic, embed: async (texts) => vectors (Float32Arrays) }
   *  that db.memory calls. */
  static async open(name, options = {}) {
    if (options.persist && navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(() => {});   // ask the browser not to evict it
    }
    const { embedder, ...rest } = options;
    if (embedder) rest.embedder = identity(embedder);
    return new AgentDB(name, await request("open", { name, options: rest }), embedder);
  }

  /** Opens an exported .rvf (Blob, ArrayBuffer or Uint8Array) as store `name`; embedder as
   *  for open(), when the file's memories were embedded by a model. */
  static async importRvf(name, data, { embedder } = {}) {
    const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : new Uint8Array(data);
    return new AgentDB(name, await request("importRvf", { name }, bytes), embedder);
  }

  /** Progress events: fn({stage, done, total}) while the runtime loads (runtime, package,
   *  ready), and fn({stage, done, total, model}) while a model loads ("download": bytes,
   *  "weights": 0 then 1 once it is ready) and while it embeds many texts ("embed": texts). */
  static onProgress(fn) { listeners.add(fn); return () => listeners.delete(fn); }

  /** all-MiniLM-L6-v2 sentence embeddings computed in the worker: one unit-length
   *  Float32Array (384 values) per text, the same bits as natively (they cross as bytes).
   *  quantized: the int8 variant (its vectors differ slightly). The first call loads the model
   *  (~90 MB, 59 MB int8; kept by the service worker for offline use; see onProgress). The
   *  arrays are views of one buffer. */
  static async embed(texts, { quantized = false } = {}) {
    return rowsOf(await request("embed", { texts, quantized }), texts.length);
  }

  /** The vectors this store's own embedder gives texts, as its text operations embed them:
   *  the model it records (all-MiniLM-L6-v2 when it records none) or the hashing embedder,
   *  run in the worker; a page model's own embed function. One Float32Array per text. */
  async embed(texts) {
    if (this.embedder && this.embedder.embed) return this.embedder.embed(texts);
    return rowsOf(await request("embed", { name: this.name, texts }), texts.length);
  }

  /** Runs Python in the worker (tests, consoles); resolves to the last expression as a string. */
  static runPython(code) { return request("runPython", { code }); }

  ingest(ids, vectors, metadata) {
    const v = float32(vectors).slice();
    return request("ingest", { name: this.name, ids, metadata }, v, [v.buffer]);
  }

  query(vector, { k = 10, where, ef, exact = false } = {}) {
    const v = float32(vector).slice();
    return request("query", { name: this.name, k, where, ef, exact }, v, [v.buffer]).then(answer);
  }

  /** query() for each of m vectors (an m x dim Float32Array) in one round trip to the worker:
   *  an array of {ids, scores, metadata}. */
  queryBatch(vectors, { k = 10, where, ef, exact = false } = {}) {
    const v = float32(vectors).slice();
    return request("queryBatch", { name: this.name, k, where, ef, exact }, v, [v.buffer]).then((all) => all.map(answer));
  }

  /** Stores texts under ids, embedded in the worker by the store's embedder (all-MiniLM-L6-v2
   *  unless it records the hashing one); each text is kept in its metadata as `text`. */
  remember(ids, texts, metadata) { return request("remember", { name: this.name, ids, texts, metadata }); }

  /** The k memories whose text is closest to `text`, optionally filtered by metadata. */
  recall(text, { k = 10, where, exact = false } = {}) {
    return request("recall", { name: this.name, text, k, where, exact }).then(answer);
  }

  get(id) { return request("get", { name: this.name, id }); }
  delete(ids, { missingOk = false } = {}) { return request("delete", { name: this.name, ids, missingOk }); }
  deleteByFilter(where) { return request("deleteByFilter", { name: this.name, where }); }
  compact() { return request("compact", { name: this.name }); }
  status() { return request("status", { name: this.name }); }

  /** The store as a Blob holding a valid .rvf file. */
  async exportRvf() {
    return new Blob([await request("exportRvf", { name: this.name })], { type: "application/octet-stream" });
  }

  /** The agent-memory layer over this store (Python's agentdb.memory.AgentMemory): every
   *  method camelCased, taking one options object, answering with camelCased keys:
   *    await db.memory.storeEpisode({ session: "s1", task: "parse dates", reward: 0.9, success: true });
   *    const eps = await db.memory.retrieveEpisodes({ task: "parse a date", onlySuccess: true });
   *  Unknown methods reject with an AttributeError. */
  get memory() {
    return new Proxy({}, {
      get: (_, method) => (typeof method !== "string" || method === "then") ? undefined :
        (options = {}) => this.#memoryCall(snake(method), memoryArgs(options)),
    });
  }

  // With a page embedder the worker names the texts it needs; they are embedded here and the
  // call repeats with their vectors (memory methods embed before they write, so this is safe;
  // a call embedding several texts may take a round per text).
  async #memoryCall(method, args) {
    const embeddings = {};
    const fail = (message) => Object.assign(new Error(message), { name: "EmbedderError" });
    for (;;) {
      const out = await request("memory", { name: this.name, method, args, embeddings });
      if (!out.needEmbeddings) return camelize(out.value);
      if (!this.embedder) throw fail("this store's memories come from a model: open it with { embedder }");
      const vectors = await this.embedder.embed(out.needEmbeddings);
      out.needEmbeddings.forEach((text, i) => {
        if (text in embeddings || !vectors || !vectors[i]) throw fail(`the embedder gave no vector for ${JSON.stringify(text)}`);
        embeddings[text] = Array.from(vectors[i]);
      });
    }
  }

  close() { return request("close", { name: this.name }); }
}
