// agentdb in the browser: the client side of web/worker.js.
//   const db = await AgentDB.open("notes", { dim: 384, metric: "cosine" });
//   await db.ingest(["a", "b"], new Float32Array(768), [{ kind: "note" }, {}]);
//   const hits = await db.query(vector, { k: 5, where: { kind: "note" } });
//   const [a, b] = await AgentDB.embed(["the car would not start", "vehicle engine failure"]);
//   await db.learn.train(queryVectors, usefulIds);            // a query adapter from feedback
//   const better = await db.query(vector, { k: 5, adapt: true });
//   await db.graph.addNode("ada", { labels: ["Person"] });    // the store's property graph
//   const { columns, rows } = await db.graph.cypher("MATCH (p:Person) RETURN p.name");
//   AgentDB.configure({ baseUrl: "/static/agentdb-web/" });  // before any call: the bundle's files served elsewhere
// Every call is a request {id, op, args}; vectors travel as transferred Float32Arrays. Each
// method's op is one of Python's table (py/agentdb/worker_api.py OPERATIONS; runPython is the
// worker's own). Errors are Errors whose name is the Python exception's class (DimensionError,
// OptionError, ...) and whose message is its message. Types: the JSDoc below (tsc --checkJs).

/** @typedef {number | string} Id  u64 (as a number) or a non-empty string; one kind per store */
/** @typedef {Record<string, unknown>} Metadata  a JSON object kept with a vector */
/** @typedef {Record<string, unknown>} Filter  e.g. { kind: "note", year: { gt: 2020 } }: eq ne lt le gt ge in range and or not */
/** @typedef {Float32Array | ArrayLike<number> | number[][]} Vectors  n x dim values, row after row */
/**
 * An embedder's identity (recorded in the store), with its function when it runs on the page.
 * @typedef {object} Embedder
 * @property {string} name
 * @property {number} dim
 * @property {boolean} [semantic]  false for the hashing embedder
 * @property {(texts: string[]) => Promise<ArrayLike<number>[]> | ArrayLike<number>[]} [embed]  a page model's
 */
/**
 * AgentDB.open's options: Python's store options (keys as Python spells them) plus persist and embedder.
 * @typedef {object} OpenOptions
 * @property {number} [dim]
 * @property {"cosine" | "l2" | "dot"} [metric]
 * @property {"hnsw" | "flat"} [index]
 * @property {"none" | "int8" | "pq"} [compression]
 * @property {number} [m]  HNSW links per node
 * @property {number} [ef_construction]
 * @property {number} [ef_search]
 * @property {number} [seed]
 * @property {boolean} [keep_vectors]
 * @property {number} [pq_m]
 * @property {boolean} [persist]  keep the store in IndexedDB
 * @property {Embedder} [embedder]
 */
/**
 * @typedef {object} QueryOptions
 * @property {number} [k]  hits wanted (10)
 * @property {Filter} [where]
 * @property {number} [ef]  HNSW search breadth
 * @property {boolean} [exact]  brute force through the same call
 * @property {boolean | string} [adapt]  search with the query mapped by the store's query adapter
 *   (true: "query", the one db.learn.train trains; a name: that one); UnknownIdError if it has none
 */
/** @typedef {{k?: number, where?: Filter, exact?: boolean, adapt?: boolean | string}} TextQueryOptions */
/**
 * A query's answer: parallel arrays, best first.
 * @typedef {object} Hits
 * @property {Id[]} ids
 * @property {number[]} scores  float32 values, exact
 * @property {Metadata[]} metadata
 * @property {boolean} exact  whether it was brute force
 */
/** @typedef {{accepted: number, replaced: number, deleted: number}} IngestResult */
/** @typedef {{deleted: number}} DeleteResult */
/** @typedef {{removed: number, bytes_reclaimed: number}} CompactResult */
/** @typedef {{id: Id, vector: number[], metadata: Metadata}} StoredRecord */
/**
 * A store's status (Python's VectorStore.status(); storage only for a persisted store).
 * @typedef {object} Status
 * @property {number} count
 * @property {number} deleted
 * @property {number} rows
 * @property {number} dim
 * @property {string} metric
 * @property {string} compression
 * @property {boolean} keep_vectors
 * @property {{name: string, dim: number, semantic: boolean} | null} embedder
 * @property {string} id_kind
 * @property {{kind: string, m?: number, ef_construction?: number, ef_search?: number, seed?: number, nodes?: number, max_level?: number}} index
 * @property {{vectors: number, codes: number, graph: number, metadata_columns: number}} bytes
 * @property {{backend: string, isa: string}} kernel
 * @property {string | null} signed_by
 * @property {number} profile
 * @property {boolean} frozen
 * @property {Record<string, number | null>} containers
 * @property {{persisted: boolean, usage?: number, quota?: number}} [storage]
 */
/**
 * A progress event: the runtime's start (stages runtime, package, ready: python says
 * "snapshot" or "started"), a model's loading (download: bytes; weights), long embeds (embed:
 * texts), a store's training (train: optimizer steps, about a hundred events and the last) and
 * retrieval streams (rag: each event of a db.rag.stream, for its async iterator).
 * @typedef {object} Progress
 * @property {string} stage
 * @property {number} done
 * @property {number} total
 * @property {"snapshot" | "started"} [python]
 * @property {string} [model]
 * @property {string} [store]  train: the store that learns
 * @property {number} [epoch]  train: the step's epoch (from 0)
 * @property {number} [loss]  train: the step's loss
 * @property {number} [lr]  train: the step's learning rate
 * @property {number} [gradNorm]  train: the step's gradient norm (before clipping)
 * @property {number} [etaS]  train: seconds still to go, estimated
 * @property {string} [token]  rag: the db.rag.stream call the event is of
 * @property {number} [index]  rag: the event's place in its stream
 * @property {any} [event]  rag: the stream's event (its keys as Python gives them; camelCased by db.rag.stream)
 */
/**
 * db.learn.train's options: Python's VectorStore.learn keywords, camelCased (the training
 * preset's fields among them: an option given replaces the preset's).
 * @typedef {object} LearnOptions
 * @property {"quick_finetune" | "deep_training" | "continual_learning" | "federated_average"} [preset]
 *   the training defaults ("quick_finetune": lr 0.01, 3 epochs, batches of 16)
 * @property {string} [adapter]  the adapter trained ("query", the one adapt: true applies); one the
 *   store has is trained further
 * @property {number} [rank]  a new adapter's rank (8)
 * @property {number} [alpha]  a new adapter's scaling numerator (16: scaling alpha / rank)
 * @property {number} [seed]  a new adapter's initial weights (0)
 * @property {number} [hardNegatives]  rows mined per query from the store (4; 0: in-batch negatives only)
 * @property {number} [negativeMargin]  a mined row is a negative only when it scores this much below
 *   the query's best positive (0.05)
 * @property {(Id | Id[])[]} [negatives]  per query the ids known not to be useful (an answer's
 *   other hits), always trained against
 * @property {Filter} [negativesWhere]  which rows negatives are mined from
 * @property {number} [temperature]  InfoNCE's (0.05)
 * @property {number} [lr]
 * @property {number} [epochs]
 * @property {number} [batchSize]
 * @property {"constant" | "linear" | "cosine" | "step"} [schedule]
 * @property {number} [warmupSteps]
 * @property {"sgd" | "adam" | "adamw"} [optimizer]
 * @property {number} [weightDecay]
 * @property {number | null} [gradientClip]  the largest global gradient norm (null: no clipping)
 * @property {number | null} [earlyStoppingPatience]  epochs without a better validation loss before stopping
 * @property {number} [validationSplit]  the share of pairs held out for validation, in [0, 1)
 * @property {number | null} [checkpointInterval]
 * @property {number} [ewcLambda]
 */
/**
 * What the training did (Python's TrainingReport).
 * @typedef {object} TrainingReport
 * @property {number} epochs
 * @property {number} steps
 * @property {number} finalLoss
 * @property {number | null} bestValLoss  null without a validation split
 * @property {number} durationS
 * @property {number[]} lossHistory  per-epoch mean losses
 * @property {number[]} valLossHistory
 * @property {boolean} earlyStopped
 * @property {{step: number, epoch: number, loss: number, gradNorm: number, lr: number}[]} metrics  one per step
 * @property {number} checkpoints
 */
/**
 * What db.learn.train did (Python's FeedbackReport): the adapter trained, the (query,
 * positive) pairs, the hard negatives mined per query and whether the exact path mined them.
 * @typedef {object} FeedbackReport
 * @property {string} adapter
 * @property {number} pairs
 * @property {number} hardNegatives
 * @property {boolean} negativesExact
 * @property {TrainingReport} training
 */
/** @typedef {Record<string, (options?: Record<string, unknown>) => Promise<any>>} AgentMemory  db.memory */
/** @typedef {string | number} GraphId  a node's, edge's or hyperedge's id: a non-empty string or an int (generated: an int) */
/** @typedef {Record<string, unknown>} Properties  a JSON object kept with a node, edge or hyperedge (no schema) */
/**
 * A node (getNode: with its embedding; listings and Cypher rows: embedding null).
 * @typedef {object} GraphNode
 * @property {GraphId} id
 * @property {string[]} labels  sorted
 * @property {Properties} properties
 * @property {boolean} embedded  whether it has an embedding (then search() finds it)
 * @property {number[] | null} embedding  its float32 values
 */
/**
 * An edge src -> dst, valid in [validFrom, validTo) (null: unbounded).
 * @typedef {object} GraphEdge
 * @property {GraphId} id
 * @property {GraphId} src
 * @property {GraphId} dst
 * @property {string} type
 * @property {Properties} properties
 * @property {number} weight
 * @property {number | null} validFrom
 * @property {number | null} validTo
 */
/**
 * A hyperedge over two or more nodes, in order.
 * @typedef {object} GraphHyperedge
 * @property {GraphId} id
 * @property {GraphId[]} nodes
 * @property {string} type
 * @property {Properties} properties
 * @property {number | null} validFrom
 * @property {number | null} validTo
 * @property {boolean} embedded
 * @property {number[] | null} embedding
 */
/** @typedef {{nodes: GraphId[], edges: GraphId[], weight: number}} GraphPath  a shortest path: nodes, the edges between, their summed weight */
/** @typedef {{id: GraphId, score: number, node: GraphNode}} NodeHit */
/** @typedef {{id: GraphId, score: number, hyperedge: GraphHyperedge}} HyperedgeHit */
/**
 * A Cypher query's answer: the columns as RETURN names them and the rows (arrays in column
 * order); nodes are GraphNode objects, relationships GraphEdge, a variable-length relationship
 * an array of GraphEdge, a named path {nodes, relationships}.
 * @typedef {{columns: string[], rows: any[][]}} CypherResult
 */
/**
 * Graph counts (Python's Graph.stats(), keys camelCased; label and type names as they are).
 * @typedef {object} GraphStats
 * @property {number} nodes
 * @property {number} edges
 * @property {number} hyperedges
 * @property {Record<string, number>} labels
 * @property {Record<string, number>} edgeTypes
 * @property {Record<string, number>} hyperedgeTypes
 * @property {number} embeddedNodes
 * @property {number} avgDegree
 * @property {number} kernelBytes
 */
/**
 * A committed graph change, as db.graph.subscribe hears it: op (the client method that made it:
 * addNode, batchInsert, deleteNode, ...; the same from a transaction's graph step), id (the
 * object the call named, or null), how many nodes, edges and hyperedges it added (negative:
 * deleted), epoch (the store file's commit; null in memory or inside a transaction).
 * @typedef {object} GraphChange
 * @property {string} op
 * @property {GraphId | null} id
 * @property {number} nodes
 * @property {number} edges
 * @property {number} hyperedges
 * @property {number | null} epoch
 */
/**
 * Which edges a walk follows: types (a name or names), direction ("out": along, "in": against,
 * "both"), asOf (only edges valid at t) or during ([t0, t1]: valid at some time in it).
 * @typedef {object} WalkOptions
 * @property {string | string[]} [types]
 * @property {"out" | "in" | "both"} [direction]
 * @property {number} [asOf]
 * @property {[number, number]} [during]
 */
/**
 * Listing filters: where (the store's filter algebra over properties), asOf / during (validity), limit.
 * @typedef {{where?: Filter, asOf?: number, during?: [number, number], limit?: number}} ListOptions
 */
/** @typedef {{labels?: string | string[], properties?: Properties, embedding?: ArrayLike<number>}} NodeOptions */
/**
 * An update's properties: merged into the object's (replace: true: instead of them), removeProperties dropped.
 * @typedef {{properties?: Properties, replace?: boolean, removeProperties?: string | string[]}} PropertyUpdate
 */
/** @typedef {{id?: GraphId, properties?: Properties, weight?: number, validFrom?: number | null, validTo?: number | null}} EdgeOptions */
/** @typedef {{id?: GraphId, properties?: Properties, embedding?: ArrayLike<number>, validFrom?: number | null, validTo?: number | null}} HyperedgeOptions */
/**
 * batchInsert's input: nodes (ids, or {id?, labels?, properties?, embedding?}), edges ({src, dst,
 * type, id?, properties?, weight?, validFrom?, validTo?}, [src, dst, type, properties?], or columns
 * {src: [...], dst: [...], type: name or [...], weight?: [...]}), hyperedges ({nodes, type, id?,
 * properties?, embedding?, validFrom?, validTo?}); edges and hyperedges may join the nodes of the same call.
 * @typedef {object} GraphBatch
 * @property {(GraphId | ({id?: GraphId | null} & NodeOptions))[]} [nodes]
 * @property {({src: GraphId, dst: GraphId, type: string} & EdgeOptions)[] | [GraphId, GraphId, string, Properties?][] | Record<string, unknown>} [edges]
 * @property {({nodes: GraphId[], type: string} & HyperedgeOptions)[]} [hyperedges]
 */
/**
 * One step of db.transaction(steps): an ingest (ids, vectors n x dim, metadata), a delete, or a
 * graph call (method: a db.graph method's name, args: its arguments as that method takes them).
 * @typedef {{op: "ingest", ids: Id[], vectors: Vectors, metadata?: (Metadata | null)[]}
 *   | {op: "delete", ids: Id[], missingOk?: boolean}
 *   | {op: "graph", method: string, args?: unknown[]}} TransactionStep
 */

/** @type {Worker | null} */
let worker = null;
// The worker's script from the base URL: beside this file in the app's site; build/build_bundle.py
// points it into the bundle's content-hashed runtime folder (runtime-<hash>/worker.js).
const WORKER = "./worker.js";
/** where the worker and its assets are served from: this module's folder, or AgentDB.configure's baseUrl  @type {URL} */
let baseUrl = new URL("./", import.meta.url);
let nextId = 1;
/** @type {Map<number, {resolve: (value: any) => void, reject: (err: Error) => void}>} */
const pending = new Map();
/** @type {Set<(progress: Progress) => void>} */
const listeners = new Set();
/** store name -> db.graph.subscribe listeners  @type {Map<string, Set<(change: GraphChange) => void>>} */
const graphListeners = new Map();

/** An Error named as the Python exception (or the worker's own failure) it stands for.
 *  @param {string} name  @param {string} message  @returns {Error} */
function namedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** @returns {Worker} */
function start() {
  if (worker) return worker;
  worker = spawnWorker(new URL(WORKER, baseUrl));
  worker.onmessage = ({ data }) => {
    if (data.progress) {
      listeners.forEach((fn) => {          // one listener's error must not keep the event from the others
        try { fn(data.progress); } catch (err) { console.error("agentdb: an onProgress listener failed", err); }
      });
      return;
    }
    if (data.event) { graphEvent(data.event); return; }
    const call = pending.get(data.id);
    if (!call) return;
    pending.delete(data.id);
    if (data.ok) call.resolve(data.json !== undefined ? JSON.parse(data.json) : data.value);
    else call.reject(namedError(data.error.name, data.error.message));
  };
  worker.onerror = (event) => {
    // a dead worker rejects everything still waiting
    const err = namedError("WorkerError", event.message || "agentdb worker failed");
    pending.forEach((call) => call.reject(err));
    pending.clear();
    worker = null;
  };
  return worker;
}

/** A module worker running url. A worker's script must come from the page's origin: for a bundle
 *  served from another (a CDN, with CORS), a worker script of the page's origin (a blob: URL,
 *  one per page) imports it; the worker's assets are still fetched relative to its import.meta.url.
 *  @param {URL} url  @returns {Worker} */
function spawnWorker(url) {
  if (url.origin === location.origin) return new Worker(url, { type: "module" });
  const shim = new Blob([`import ${JSON.stringify(url.href)};\n`], { type: "text/javascript" });
  return new Worker(URL.createObjectURL(shim), { type: "module" });
}

// The worker's {type: "graph", store, changes} event: each change to the store's listeners, in
// commit order (a listener that throws is reported and does not stop the others, as natively).
/** @param {{type: string, store: string, changes: GraphChange[]}} event */
function graphEvent({ type, store, changes }) {
  const fns = type === "graph" && graphListeners.get(store);
  if (!fns) return;
  for (const change of changes) {
    const seen = { ...change, op: camel(change.op) };
    for (const fn of [...fns]) {
      try { fn(seen); } catch (err) { console.error("agentdb: a db.graph.subscribe listener failed", err); }
    }
  }
}

/** @param {string} op  @param {object} args  @param {ArrayBufferView} [buffer]  @param {Transferable[]} [transfer]
 *  @returns {Promise<any>} */
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
/** @param {{ids: Id[], scoresHex: string, metadata: Metadata[], exact: boolean}} wire  @returns {Hits} */
function answer({ ids, scoresHex, metadata, exact }) {
  const scores = new Array(scoresHex.length / 8), word = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < scores.length; i++) {
    word.setUint32(0, parseInt(scoresHex.substr(8 * i, 8), 16));   // the bytes in file order...
    scores[i] = word.getFloat32(0, true);                           // ...read as little-endian
  }
  return { ids, scores, metadata, exact };
}

/** @param {Vectors} vectors  @returns {Float32Array} */
function float32(vectors) {
  if (vectors instanceof Float32Array) return vectors;
  return new Float32Array(Array.isArray(vectors) ? vectors.flat() : vectors);
}

/** @param {string} key */
const snake = (key) => key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
/** @param {string} key */
const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

// A recall-type answer (recall, retrieveEpisodes, searchSkills, findPatterns) is the array of
// hits carrying recallId, the id memory.feedback({recallId, useful}) names it by.
/** @param {any} value  @param {string | undefined} recallId  @returns {any} */
function withRecallId(value, recallId) {
  if (recallId !== undefined && Array.isArray(value)) Object.defineProperty(value, "recallId", { value: recallId });
  return value;
}

// Keys camelCased all the way down, except inside user metadata (kept as the user wrote it).
/** @param {any} value  @returns {any} */
function camelize(value) {
  if (Array.isArray(value)) return value.map(camelize);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(
    ([k, v]) => [camel(k), k === "metadata" ? v : camelize(v)]));
}

// Options as Python's keywords: snake_case keys, values changed by `value`.
/** @param {Record<string, unknown>} options  @param {(v: any) => any} [value]  @returns {Record<string, unknown>} */
const keywords = (options, value = (v) => v) =>
  Object.fromEntries(Object.entries(options).map(([k, v]) => [snake(k), value(v)]));

// Typed arrays (embeddings) as plain arrays: a float32 is exactly a double, so JSON carries it unchanged.
/** @type {(v: any) => any} */
const plain = (v) => (ArrayBuffer.isView(v) ? Array.from(/** @type {Float32Array} */ (v)) : Array.isArray(v) ? v.map(plain) : v);

// Options for a memory method: Python's keywords, typed arrays as plain arrays.
/** @param {Record<string, unknown>} options */
const memoryArgs = (options) => keywords(options, plain);

// ---- db.graph: each client method as [Python's Graph method, the op that sends it ("graph": a
// read; "graphWrite": commits), its arguments -> Python's keywords]. Shared by db.graph and the
// graph steps of db.transaction; tests/test_worker_ops.py checks it against worker_api's lists.
/** @param {Record<string, unknown>} [options]  @returns {Record<string, unknown>} */
const kw = (options = {}) => keywords(options, plain);
// batchInsert's nodes / edges / hyperedges: objects get Python's keys (validFrom -> valid_from),
// ids and tuples stay; edge columns ({src: [...], ...}) are one object.
/** @param {any} items  @returns {any} */
const graphItems = (items) => items == null ? undefined : !Array.isArray(items) ? kw(items) :
  items.map((item) => item !== null && typeof item === "object" && !Array.isArray(item) ? kw(item) : item);
// Cypher parameters: names as written (they are $names, not options), typed arrays as plain arrays.
/** @param {any} value  @returns {any} */
const cypherValue = (value) => ArrayBuffer.isView(value) || Array.isArray(value) ? plain(value).map(cypherValue) :
  value !== null && typeof value === "object" ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cypherValue(v)])) : value;
/** Cypher that may change the graph goes as graphWrite (worker_api.CYPHER_UPDATING: the same rule). */
const CYPHER_UPDATING = /\b(?:CREATE|MERGE|SET|REMOVE|DELETE|DETACH)\b/i;
/** @typedef {[string, "graph" | "graphWrite", (...args: any[]) => Record<string, unknown>]} GraphMethod */
/** @type {Record<string, GraphMethod>} */
const GRAPH = {
  addNode: ["add_node", "graphWrite", (id = null, o) => ({ id, ...kw(o) })],
  getNode: ["get_node", "graph", (id) => ({ id })],
  hasNode: ["has_node", "graph", (id) => ({ id })],
  updateNode: ["update_node", "graphWrite", (id, o) => ({ id, ...kw(o) })],
  deleteNode: ["delete_node", "graphWrite", (id, o) => ({ id, ...kw(o) })],
  nodes: ["nodes", "graph", (o) => kw(o)],
  addEdge: ["add_edge", "graphWrite", (src, dst, type, o) => ({ src, dst, type, ...kw(o) })],
  getEdge: ["get_edge", "graph", (id) => ({ id })],
  updateEdge: ["update_edge", "graphWrite", (id, o) => ({ id, ...kw(o) })],
  deleteEdge: ["delete_edge", "graphWrite", (id) => ({ id })],
  edges: ["edges", "graph", (o) => kw(o)],
  addHyperedge: ["add_hyperedge", "graphWrite", (nodes, type, o) => ({ nodes, type, ...kw(o) })],
  getHyperedge: ["get_hyperedge", "graph", (id) => ({ id })],
  updateHyperedge: ["update_hyperedge", "graphWrite", (id, o) => ({ id, ...kw(o) })],
  deleteHyperedge: ["delete_hyperedge", "graphWrite", (id) => ({ id })],
  hyperedges: ["hyperedges", "graph", (o) => kw(o)],
  hyperedgesOf: ["hyperedges_of", "graph", (node, o) => ({ node, ...kw(o) })],
  neighbors: ["neighbors", "graph", (id, o) => ({ id, ...kw(o) })],
  kHop: ["k_hop", "graph", (node, k, o) => ({ node, k, ...kw(o) })],
  shortestPath: ["shortest_path", "graph", (a, b, o) => ({ a, b, ...kw(o) })],
  search: ["search", "graph", (vector, o) => ({ vector: plain(vector), ...kw(o) })],
  searchHyperedges: ["search_hyperedges", "graph", (vector, o) => ({ vector: plain(vector), ...kw(o) })],
  batchInsert: ["batch_insert", "graphWrite", ({ nodes, edges, hyperedges } = {}) =>
    ({ nodes: graphItems(nodes), edges: graphItems(edges), hyperedges: graphItems(hyperedges) })],
  stats: ["stats", "graph", () => ({})],
  cypher: ["cypher", "graph", (query, params, o) => ({ query, params: params == null ? undefined : cypherValue(params), ...kw(o) })],
  compact: ["compact", "graphWrite", () => ({})],
};

/** The request of a db.graph call: {op, args} (Cypher with an updating clause as graphWrite).
 *  @param {string} name  the store's  @param {string} method  a key of GRAPH  @param {any[]} args
 *  @returns {{op: string, args: {method: string, args: Record<string, unknown>}}} */
function graphRequest(name, method, args) {
  if (!Object.hasOwn(GRAPH, method)) {
    throw namedError("AttributeError", `db.graph has no method ${JSON.stringify(method)}: ${Object.keys(GRAPH).join(", ")}`);
  }
  const [py, op, build] = GRAPH[method];
  const writes = op === "graphWrite" || (method === "cypher" && CYPHER_UPDATING.test(String(args[0])));
  return { op: writes ? "graphWrite" : "graph", args: { method: py, args: build(...args) } };
}

// float32 rows that crossed as bytes (exact) -> n Float32Array views of one buffer
/** @param {Uint8Array} bytes  @param {number} n  @returns {Float32Array[]} */
function rowsOf(bytes, n) {
  const rows = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), dim = rows.length / n;
  return Array.from({ length: n }, (_, i) => rows.subarray(i * dim, (i + 1) * dim));
}

// An embedder crosses to the worker as its identity; its function stays on the page.
/** @param {Embedder} e */
const identity = (e) => e && { name: e.name, dim: e.dim, semantic: e.semantic !== false };

/** Repeats send(embeddings) while the worker answers {needEmbeddings: texts}, embedding them
 *  with the store's page embedder in between (memory methods and dataset imports embed before
 *  they write, so a repeat is safe; a call embedding several texts may take a round per text);
 *  the worker's final answer.
 *  @param {Embedder | undefined} embedder  @param {(embeddings: Record<string, number[]>) => Promise<any>} send
 *  @returns {Promise<any>} */
async function embedRounds(embedder, send) {
  /** @type {Record<string, number[]>} */
  const embeddings = {};
  /** @param {string} message */
  const fail = (message) => namedError("EmbedderError", message);
  for (;;) {
    const out = await send(embeddings);
    if (!out.needEmbeddings) return out;
    if (!embedder) throw fail("this store's memories come from a model: open it with { embedder }");
    const vectors = await /** @type {Required<Embedder>} */ (embedder).embed(out.needEmbeddings);
    out.needEmbeddings.forEach((/** @type {string} */ text, /** @type {number} */ i) => {
      if (text in embeddings || !vectors || !vectors[i]) throw fail(`the embedder gave no vector for ${JSON.stringify(text)}`);
      embeddings[text] = Array.from(vectors[i]);
    });
  }
}

let ragStreams = 0;     // a token per db.rag.stream call, to tell its progress events apart

// db.rag: Python's RetrievalController in the worker. Reads are "rag" requests, indexing
// "ragWrite" (a commit, stored before the call resolves for a persisted store).
class Retrieval {
  /** Use db.rag.  @param {AgentDB} db */
  constructor(db) {
    /** @type {AgentDB} */
    this.db = db;
  }

  /** @param {"rag" | "ragWrite"} op  @param {string} method  @param {Record<string, unknown>} args  @param {string} [token] */
  async #call(op, method, args, token) {
    const out = await embedRounds(this.db.embedder, (embeddings) =>
      request(op, { name: this.db.name, method, args, embeddings, ...(token ? { token } : {}) }));
    return camelize(out.value);
  }

  /** Remembers a note and links it to the entities it names (one commit); its id.
   *  @param {string} text  @param {{tags?: string[], metadata?: Record<string, unknown>}} [options]  @returns {Promise<string>} */
  index(text, options = {}) { return this.#call("ragWrite", "index", { text, ...keywords(options) }); }

  /** index() for many notes, a commit per batch (progress: "index" events); their ids.
   *  @param {string[]} texts  @param {{tags?: string[], metadata?: Record<string, unknown>, batch?: number}} [options]
   *  @returns {Promise<string[]>} */
  indexMany(texts, options = {}) { return this.#call("ragWrite", "index_many", { texts, ...keywords(options) }); }

  /** Links the memory's notes not linked yet to their entities.  @param {{batch?: number}} [options]  @returns {Promise<any>} */
  indexExisting(options = {}) { return this.#call("ragWrite", "index_existing", keywords(options)); }

  /** Forgets a note and its entity links.  @param {string} id  @returns {Promise<any>} */
  forget(id) { return this.#call("ragWrite", "forget", { ident: id }); }

  /** The RagResult of a question: subQueries, evidence (id, text, score, hop, query, via,
   *  parent, ppr), context (cited, within tokenBudget), sources, tokens, cached, reflections.
   *  @param {string} question  @param {{k?: number, tags?: string[], where?: Record<string, unknown>, depth?: number, tokenBudget?: number}} [options]
   *  @returns {Promise<any>} */
  query(question, options = {}) { return this.#call("rag", "query", { question, ...keywords(options) }); }

  /** query() as an async iterator of its events: {type: "sub_query", index, query, hits} per
   *  sub-query, {type: "hop", depth, bridges, hits} per follow-up hop, last {type: "result",
   *  result}, each as the worker finishes it.
   *  @param {string} question  @param {{k?: number, tags?: string[], where?: Record<string, unknown>, depth?: number, tokenBudget?: number}} [options]
   *  @returns {AsyncGenerator<any>} */
  async *stream(question, options = {}) {
    const token = `rag-${++ragStreams}`;
    /** @type {any[]} */
    const queue = [];
    let seen = 0, finished = false, failure = null;
    /** @type {(() => void) | null} */
    let wake = null;
    const stop = AgentDB.onProgress((p) => {
      const index = p.index ?? 0;
      if (p.stage !== "rag" || p.token !== token || index < seen) return;   // a repeat after embedding replays
      seen = index + 1;
      queue.push(camelize(p.event));
      if (wake) wake();
    });
    this.#call("rag", "stream", { question, ...keywords(options) }, token).then(
      () => { finished = true; if (wake) wake(); },
      (err) => { failure = err; finished = true; if (wake) wake(); });
    try {
      for (;;) {
        if (queue.length) { yield queue.shift(); continue; }
        if (finished) break;
        await new Promise((resolve) => { wake = () => { wake = null; resolve(undefined); }; });
      }
      if (failure) throw failure;
    } finally { stop(); }
  }

  /** Multi-turn sessions over this retrieval (Python's agentdb.rag.SessionManager, held in the
   *  worker while it runs: export() them to keep them).  @returns {Sessions} */
  get sessions() { return new Sessions(this.db); }

  /** The sub-queries a question is split into.  @param {string} question  @returns {Promise<string[]>} */
  decompose(question) { return this.#call("rag", "decompose", { question }); }

  /** The memory's notes nearest a query (with tags / where), as evidence.
   *  @param {string} query  @param {{k?: number, tags?: string[], where?: Record<string, unknown>}} [options]  @returns {Promise<any[]>} */
  searchMemory(query, options = {}) { return this.#call("rag", "search_memory", { query, ...keywords(options) }); }

  /** {size, maxSize, ttl, hits, misses} of the answer cache.  @returns {Promise<any>} */
  cacheStats() { return this.#call("rag", "cache_stats", {}); }

  /** Empties the answer cache.  @returns {Promise<null>} */
  clearCache() { return this.#call("ragWrite", "clear_cache", {}); }

  /** The settings (k, depth, tokenBudget, ...).  @returns {Promise<any>} */
  getConfig() { return this.#call("rag", "get_config", {}); }

  /** Changes settings (OptionError for a bad one); empties the cache.
   *  @param {Record<string, unknown>} changes  @returns {Promise<null>} */
  updateConfig(changes) { return this.#call("ragWrite", "update_config", keywords(changes)); }
}

// db.rag.sessions: Python's SessionManager in the worker ("ragSession" requests; nothing commits).
class Sessions {
  /** Use db.rag.sessions.  @param {AgentDB} db */
  constructor(db) {
    /** @type {AgentDB} */
    this.db = db;
  }

  /** @param {string} method  @param {Record<string, unknown>} args */
  async #call(method, args) {
    const out = await embedRounds(this.db.embedder, (embeddings) =>
      request("ragSession", { name: this.db.name, method, args, embeddings }));
    return camelize(out.value);
  }

  /** A new session {id, system, context, history, metadata, created} (id "session:<n>" unless given).
   *  @param {{sessionId?: string, system?: string, metadata?: Record<string, unknown>}} [options]  @returns {Promise<any>} */
  create(options = {}) { return this.#call("create", keywords(options)); }

  /** A session by id (UnknownIdError if none).  @param {string} id  @returns {Promise<any>} */
  get(id) { return this.#call("get", { session_id: id }); }

  /** The sessions' ids.  @returns {Promise<string[]>} */
  list() { return this.#call("list", {}); }

  /** Forgets a session.  @param {string} id  @returns {Promise<any>} */
  delete(id) { return this.#call("delete", { session_id: id }); }

  /** Adds a system message.  @param {string} id  @param {string} text  @returns {Promise<any>} */
  addSystemMessage(id, text) { return this.#call("add_system_message", { session_id: id, text }); }

  /** Adds context (a text, with an optional source).  @param {string} id  @param {string} text
   *  @param {{source?: string}} [options]  @returns {Promise<any>} */
  addContext(id, text, options = {}) { return this.#call("add_context", { session_id: id, text, ...keywords(options) }); }

  /** Records a user or assistant message.  @param {string} id  @param {"user" | "assistant"} role  @param {string} content
   *  @param {{sources?: string[]}} [options]  @returns {Promise<any>} */
  addMessage(id, role, content, options = {}) {
    return this.#call("add_message", { session_id: id, role, content, ...keywords(options) });
  }

  /** The session's history, oldest first (limit: the last so many).  @param {string} id
   *  @param {{limit?: number}} [options]  @returns {Promise<any[]>} */
  getHistory(id, options = {}) { return this.#call("get_history", { session_id: id, ...keywords(options) }); }

  /** The prompt messages for a message ({role, content}: system, history, the message).
   *  @param {string} id  @param {string} [message]  @returns {Promise<any[]>} */
  messages(id, message) { return this.#call("messages", { session_id: id, message }); }

  /** One turn: retrieval for the message (options go to db.rag.query), the prompt messages,
   *  the turn recorded: {reply: null (no LLM in the browser), messages, result}.
   *  @param {string} id  @param {string} message  @param {Record<string, unknown>} [options]  @returns {Promise<any>} */
  chat(id, message, options = {}) { return this.#call("chat", { session_id: id, message, ...keywords(options) }); }

  /** JSON text of one session (or all).  @param {string} [id]  @returns {Promise<string>} */
  export(id) { return this.#call("export", id === undefined ? {} : { session_id: id }); }

  /** Adds the sessions of export()'s JSON; their ids.  @param {string} text  @param {{replace?: boolean}} [options]
   *  @returns {Promise<string[]>} */
  import(text, options = {}) { return this.#call("import_json", { text, ...keywords(options) }); }
}

/** An agentdb.nn answer: {f32: hex} -> Float32Array (the little-endian bits), {bytes: hex} ->
 *  Uint8Array, keys camelCased.  @param {any} value  @returns {any} */
function nnValue(value) {
  if (Array.isArray(value)) return value.map(nnValue);
  if (value === null || typeof value !== "object") return value;
  const hex = value.f32 ?? value.bytes;
  if (typeof hex === "string" && Object.keys(value).length === 1) {
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(2 * i, 2), 16);
    return "f32" in value ? new Float32Array(bytes.buffer) : bytes;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/_([a-z0-9])/g, (_m, c) => c.toUpperCase()), nnValue(v)]));
}

/** @typedef {Blob | ArrayBuffer | ArrayBufferView} Bytes  what db.io imports take */

/** @param {Bytes} data  @returns {Promise<Uint8Array>} a copy the request may transfer */
async function bytesOf(data) {
  if (data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  throw namedError("ArgumentError", "db.io imports take a Blob, an ArrayBuffer or a typed array");
}

// db.io: Python's agentdb.io in the worker; exports come back as bytes and leave as Blobs.
class Exchange {
  /** Use db.io.  @param {AgentDB} db */
  constructor(db) {
    /** @type {AgentDB} */
    this.db = db;
  }

  /** What the store learned, as a Blob: format "safetensors" (default; align: 64 for 64-byte
   *  aligned tensors), "json", "binary", "huggingface" (a zip: model.safetensors, config.json,
   *  README.md) or "peft" (a zip: adapter_model.safetensors, adapter_config.json; baseModel
   *  names the model it applies to); metadata is kept with it.
   *  @param {{format?: string, align?: number, baseModel?: string, metadata?: Record<string, unknown>}} [options]
   *  @returns {Promise<Blob>} */
  async exportModel(options = {}) {
    const bytes = await request("exportModel", { name: this.db.name, ...options });
    return new Blob([bytes], { type: options.format === "json" ? "application/json" : "application/octet-stream" });
  }

  /** Puts a model's adapters (with their EWC state) and patterns into the store (one commit);
   *  format: told by the bytes unless given; replace: overwrite adapters and patterns of the same
   *  names (else an ArgumentError). FormatError for bytes that are no model.
   *  @param {Bytes} data  @param {{format?: string, replace?: boolean}} [options]
   *  @returns {Promise<{adapters: number, patterns: number}>} */
  async importModel(data, options = {}) {
    const bytes = await bytesOf(data);
    return request("importModel", { name: this.db.name, ...options }, bytes, [bytes.buffer]);
  }

  /** The memories' episodes, feedback and triplets (kinds: which) as a Blob of format
   *  "jsonl" (default), "csv" (embeddings as a column) or "pretrain" (text documents).
   *  @param {{format?: string, kinds?: string[]}} [options]  @returns {Promise<Blob>} */
  async exportDataset(options = {}) {
    const bytes = await request("exportDataset", { name: this.db.name, ...options });
    return new Blob([bytes], { type: options.format === "csv" ? "text/csv" : "text/plain" });
  }

  /** Imports a dataset into the memories (one commit): JSONL and CSV rows as the same records
   *  and vector bits, pre-training episodes embedded again (by the page's embedder when the
   *  store's model is the page's). IdError for an id already stored unless replace.
   *  @param {Bytes} data  @param {{format?: string, replace?: boolean}} [options]
   *  @returns {Promise<{stored: number, skipped: number}>} */
  async importDataset(data, options = {}) {
    const bytes = await bytesOf(data);
    const out = await embedRounds(this.db.embedder, (embeddings) => {
      const copy = bytes.slice();       // each round sends (and transfers) its own copy
      return request("importDataset", { name: this.db.name, ...options, embeddings }, copy, [copy.buffer]);
    });
    return out.value;
  }
}

export class AgentDB {
  /** The identities of the models the worker runs itself (all-MiniLM-L6-v2, float32 and int8):
   *  open(name, { embedder: AgentDB.MINILM }) records it; it is the default of a store that
   *  records no embedder. A hashing store: embedder { name: "agentdb-hash-v1", dim, semantic: false }. */
  static MINILM = Object.freeze({ name: "all-MiniLM-L6-v2", dim: 384, semantic: true });
  static MINILM_INT8 = Object.freeze({ name: "all-MiniLM-L6-v2-int8", dim: 384, semantic: true });

  /** Use AgentDB.open or AgentDB.importRvf.
   *  @param {string} name  @param {Status} status  @param {Embedder} [embedder] */
  constructor(name, status, embedder) {
    /** @type {string} */
    this.name = name;
    /** the status when it was opened @type {Status} */
    this.openStatus = status;
    /** @type {Embedder | undefined} */
    this.embedder = embedder;
  }

  /** Opens (creates) a store in the worker. options: dim, metric, index, compression, m, ...;
   *  persist: true keeps it in IndexedDB (every commit stored before the call resolves), and
   *  reopening by name after a reload or a browser restart finds it again.
   *  embedder: the model text is embedded with (its identity is recorded in the store; opening
   *  with another one raises EmbedderMismatchError): AgentDB.MINILM (the default when the store
   *  records none: run in the worker, loaded on first use), the hashing embedder's identity, or
   *  a page model { name, dim, semantic, embed: async (texts) => vectors (Float32Arrays) }
   *  that db.memory calls.
   *  @param {string} name  @param {OpenOptions & Record<string, unknown>} [options]  @returns {Promise<AgentDB>} */
  static async open(name, options = {}) {
    if (options.persist && navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(() => {});   // ask the browser not to evict it
    }
    const { embedder, ...rest } = options;
    if (embedder) rest.embedder = identity(/** @type {Embedder} */ (embedder));
    return new AgentDB(name, await request("open", { name, options: rest }), embedder);
  }

  /** Opens an .rvf file (Blob, ArrayBuffer or Uint8Array: an export, a backup, a native
   *  store) as store `name`. persist: true stores it in IndexedDB as one commit, so it is
   *  there after a reload like any persisted store (restoring a backup); without it the
   *  store lives in memory until the page goes. A name that is open or persisted already is
   *  refused with StoreExistsError unless replace: true, and a persisted one can only be
   *  replaced by a persisted import (an in-memory one would vanish on reload, with every
   *  write made to it). embedder as for open(), when the file's memories were embedded by a
   *  model of the page.
   *  @param {string} name  @param {Blob | ArrayBuffer | Uint8Array} data
   *  @param {{embedder?: Embedder, persist?: boolean, replace?: boolean}} [options]
   *  @returns {Promise<AgentDB>} */
  static async importRvf(name, data, { embedder, persist = false, replace = false } = {}) {
    const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : new Uint8Array(data);
    return new AgentDB(name, await request("importRvf", { name, persist, replace }, bytes), embedder);
  }

  /** Where the worker and its assets are served from. baseUrl: the bundle's folder (the one with
   *  its package.json; relative to the page), for when agentdb.js is not loaded from there (a
   *  bundler moved it, the files are served under another path); by default the folder agentdb.js
   *  was loaded from (import.meta.url). Call it before the first call: a started worker cannot
   *  move (OptionError). Returns the base URL in use.
   *    AgentDB.configure({ baseUrl: "/static/agentdb-web/" });
   *  @param {{baseUrl?: string | URL}} [options]  @returns {URL} */
  static configure({ baseUrl: url } = {}) {
    if (url !== undefined) {
      /** @type {URL} */
      let next;
      try {
        next = new URL(String(url).replace(/\/?$/, "/"), document.baseURI);
      } catch {
        throw namedError("OptionError", `baseUrl ${JSON.stringify(String(url))} is not a URL`);
      }
      if (worker && next.href !== baseUrl.href) {
        throw namedError("OptionError", `the worker has started from ${baseUrl.href}: configure({ baseUrl }) ` +
                         `must come before the first call`);
      }
      baseUrl = next;
    }
    return new URL(baseUrl.href);
  }

  /** Progress events: fn({stage, done, total}) while the runtime loads (runtime, package,
   *  ready), fn({stage, done, total, model}) while a model loads ("download": bytes,
   *  "weights": 0 then 1 once it is ready) and while it embeds many texts ("embed": texts), and
   *  fn({stage: "train", done, total, store, epoch, loss, lr, gradNorm, etaS}) while
   *  db.learn.train runs (optimizer steps).
   *  @param {(progress: Progress) => void} fn  @returns {() => boolean} stops the events */
  static onProgress(fn) { listeners.add(fn); return () => listeners.delete(fn); }

  /** agentdb.nn in the worker (no store needed): AgentDB.nn.<module>.<function>(keywords) for
   *  the modules attention, benchmark, compress, dual_attention, hyperbolic, linear_attention, local_global
   *  (or localGlobal: a camelCased module is snake_cased by the worker; LocalGlobalAttention's
   *  compute is localGlobalCompute), search,
   *  graph_attention (graphRopeAttention, edgeFeaturedAttention) and rope,
   *  functions camelCased, one options
   *  object of Python's keywords camelCased (typed arrays welcome); float32 results come back as
   *  Float32Array with the native bits, bytes as Uint8Array:
   *    const z = await AgentDB.nn.hyperbolic.mobiusAdd({ x: [0.5, 0], y: [0.5, 0], dim: 2 });
   *    const out = await AgentDB.nn.attention.scaledDotProductAttention({ q, k, v, dim: 64, heads: 8 });
   *  @type {Record<string, Record<string, (options: Record<string, unknown>) => Promise<any>>>} */
  static get nn() {
    return new Proxy({}, {
      get: (_, module) => typeof module !== "string" || module === "then" ? undefined : new Proxy({}, {
        get: (__, fn) => typeof fn !== "string" || fn === "then" ? undefined :
          async (/** @type {Record<string, unknown>} */ options = {}) => nnValue(
            (await request("nn", { module, function: snake(fn), args: keywords(options, plain) })).value),
      }),
    });
  }

  /** all-MiniLM-L6-v2 sentence embeddings computed in the worker: one unit-length
   *  Float32Array (384 values) per text, the same bits as natively (they cross as bytes).
   *  quantized: the int8 variant (its vectors differ slightly). The first call loads the model
   *  (~90 MB, 59 MB int8; kept by the service worker for offline use; see onProgress). The
   *  arrays are views of one buffer.
   *  @param {string[]} texts  @param {{quantized?: boolean}} [options]  @returns {Promise<Float32Array[]>} */
  static async embed(texts, { quantized = false } = {}) {
    return rowsOf(await request("embed", { texts, quantized }), texts.length);
  }

  /** The vectors this store's own embedder gives texts, as its text operations embed them:
   *  the model it records (all-MiniLM-L6-v2 when it records none) or the hashing embedder,
   *  run in the worker; a page model's own embed function. One Float32Array per text.
   *  @param {string[]} texts  @returns {Promise<ArrayLike<number>[]>} */
  async embed(texts) {
    if (this.embedder && this.embedder.embed) return this.embedder.embed(texts);
    return rowsOf(await request("embed", { name: this.name, texts }), texts.length);
  }

  /** Runs Python in the worker (tests, consoles); resolves to the last expression as a string.
   *  @param {string} code  @returns {Promise<string | null>} */
  static runPython(code) { return request("runPython", { code }); }

  /** Stores vectors (n x dim, row after row) under ids, with optional metadata per row;
   *  an id already stored is replaced.
   *  @param {Id[]} ids  @param {Vectors} vectors  @param {(Metadata | null)[]} [metadata]  @returns {Promise<IngestResult>} */
  ingest(ids, vectors, metadata) {
    const v = float32(vectors).slice();
    return request("ingest", { name: this.name, ids, metadata }, v, [v.buffer]);
  }

  /** The k stored vectors nearest to `vector`, optionally filtered by metadata; adapt: true
   *  searches with the query mapped by the adapter db.learn.train trained.
   *  @param {Vectors} vector  @param {QueryOptions} [options]  @returns {Promise<Hits>} */
  query(vector, { k = 10, where, ef, exact = false, adapt = false } = {}) {
    const v = float32(vector).slice();
    return request("query", { name: this.name, k, where, ef, exact, adapt }, v, [v.buffer]).then(answer);
  }

  /** query() for each of m vectors (an m x dim Float32Array) in one round trip to the worker:
   *  an array of {ids, scores, metadata}.
   *  @param {Vectors} vectors  @param {QueryOptions} [options]  @returns {Promise<Hits[]>} */
  queryBatch(vectors, { k = 10, where, ef, exact = false, adapt = false } = {}) {
    const v = float32(vectors).slice();
    return request("queryBatch", { name: this.name, k, where, ef, exact, adapt }, v, [v.buffer])
      .then((all) => all.map(answer));
  }

  /** Stores texts under ids, embedded in the worker by the store's embedder (all-MiniLM-L6-v2
   *  unless it records the hashing one); each text is kept in its metadata as `text`.
   *  (db.memory.remember is the agent-memory layer's: another method.)
   *  @param {Id[]} ids  @param {string[]} texts  @param {(Metadata | null)[]} [metadata]  @returns {Promise<IngestResult>} */
  ingestTexts(ids, texts, metadata) { return request("ingestTexts", { name: this.name, ids, texts, metadata }); }

  /** The k stored texts (ingestTexts) closest in meaning to `text`, optionally filtered by metadata.
   *  @param {string} text  @param {TextQueryOptions} [options]  @returns {Promise<Hits>} */
  queryText(text, { k = 10, where, exact = false, adapt = false } = {}) {
    return request("queryText", { name: this.name, text, k, where, exact, adapt }).then(answer);
  }

  /** One stored record; UnknownIdError if the id is not stored.
   *  @param {Id} id  @returns {Promise<StoredRecord>} */
  get(id) { return request("get", { name: this.name, id }); }
  /** Deletes ids; UnknownIdError for one not stored unless missingOk.
   *  @param {Id[]} ids  @param {{missingOk?: boolean}} [options]  @returns {Promise<DeleteResult>} */
  delete(ids, { missingOk = false } = {}) { return request("delete", { name: this.name, ids, missingOk }); }
  /** Deletes every record whose metadata matches.  @param {Filter} where  @returns {Promise<DeleteResult>} */
  deleteByFilter(where) { return request("deleteByFilter", { name: this.name, where }); }
  /** Drops deleted rows and rewrites the store.  @returns {Promise<CompactResult>} */
  compact() { return request("compact", { name: this.name }); }
  /** Counts, configuration and memory (and storage use, for a persisted store).  @returns {Promise<Status>} */
  status() { return request("status", { name: this.name }); }

  /** The HNSW graph level by level (Python's db.hnsw_levels()): {entry, maxLevel, m, levels:
   *  [{level, nodes, ids, offsets, targets}]}, level 0 first; node nodes[p]'s neighbours on a
   *  level are targets[offsets[p]..offsets[p + 1]) (node numbers = rows in insertion order).
   *  @returns {Promise<any>} */
  async hnswLevels() {
    return nnValue((await request("hnsw", { name: this.name, method: "levels", args: {} })).value);
  }

  /** A node's neighbour list on a level; ArgumentError for a level the graph lacks or a node
   *  not on it.  @param {number} node  @param {number} [level]  @returns {Promise<number[]>} */
  async hnswNeighbours(node, level = 0) {
    return nnValue((await request("hnsw", { name: this.name, method: "neighbours", args: { node, level } })).value);
  }

  /** The rows a query meets on each level as the graph search walks down, top level first
   *  (Python's db.hnsw_descent): [{level, node, rows, ids, vectors (Float32Array)}].
   *  @param {Vectors} vector  @param {{k?: number, ef?: number}} [options]  @returns {Promise<any[]>} */
  async hnswDescent(vector, { k = 10, ef } = {}) {
    const v = float32(vector).slice();
    return nnValue((await request("hnsw", { name: this.name, method: "descent", args: { k, ef } }, v, [v.buffer])).value);
  }

  /** agentdb.nn.hierarchy.hierarchical_forward_store: the query refined from the top level of
   *  the store's HNSW graph down, one GNNLayer (its to_json() text) per level, top level first;
   *  the native bits as a Float32Array.
   *  @param {Vectors} vector  @param {string[]} layers  @param {{k?: number, ef?: number}} [options]
   *  @returns {Promise<Float32Array>} */
  async hierarchicalForward(vector, layers, { k = 10, ef } = {}) {
    const v = float32(vector).slice();
    const args = { layers, k, ef };
    return nnValue((await request("hnsw", { name: this.name, method: "hierarchical_forward", args }, v, [v.buffer])).value);
  }

  /** The store as a Blob holding a valid .rvf file.  @returns {Promise<Blob>} */
  async exportRvf() {
    return new Blob([await request("exportRvf", { name: this.name })], { type: "application/octet-stream" });
  }

  /** The agent-memory layer over this store (Python's agentdb.memory.AgentMemory): every
   *  method camelCased, taking one options object, answering with camelCased keys:
   *    await db.memory.storeEpisode({ session: "s1", task: "parse dates", reward: 0.9, success: true });
   *    const eps = await db.memory.retrieveEpisodes({ task: "parse a date", onlySuccess: true });
   *  Unknown methods reject with an AttributeError.
   *  @returns {AgentMemory} */
  get memory() {
    return new Proxy({}, {
      get: (_, method) => (typeof method !== "string" || method === "then") ? undefined :
        (/** @type {Record<string, unknown>} */ options = {}) => this.#memoryCall(snake(method), memoryArgs(options)),
    });
  }

  // With a page embedder the worker names the texts it needs (embedRounds).
  /** @param {string} method  @param {Record<string, unknown>} args  @returns {Promise<any>} */
  async #memoryCall(method, args) {
    const out = await embedRounds(this.embedder, (embeddings) => request("memory", { name: this.name, method, args, embeddings }));
    return withRecallId(camelize(out.value), out.recallId);
  }

  /** The store's query adapters, learned from relevance feedback (Python's VectorStore.learn,
   *  adapters, remove_adapter): db.learn.train(queries, positives, options), db.learn.adapters(),
   *  db.learn.remove(name). They are kept in the store (in IndexedDB when it is persisted, in
   *  its .rvf export) and applied by query(..., { adapt: true }).
   *  @returns {Learning} */
  get learn() { return new Learning(this.name); }

  /** Model and data I/O (Python's agentdb.io, run in the worker), as Blobs: what this store
   *  learned (its adapters with their EWC state, its patterns) to SafeTensors, JSON, the compact
   *  binary, a Hugging Face bundle or a PEFT adapter (both zips), and its memories' episodes,
   *  feedback and triplets to JSONL, CSV or pre-training text; and each back in. The bytes are
   *  the ones the native package writes for the same store.
   *    const blob = await db.io.exportModel({ format: "peft" });    // adapter_model.safetensors + adapter_config.json
   *    await other.io.importModel(blob);                           // the format is told by the bytes
   *  @returns {Exchange} */
  get io() { return new Exchange(this); }

  /** Retrieval over this store's agent memory (Python's agentdb.rag.RetrievalController, run
   *  in the worker): notes indexed with their entities in the memory graph, questions split into
   *  sub-queries, followed through the graph for more hops, answered with a cited context within
   *  a token budget, cached until the store changes, and streamed as an async iterator:
   *    await db.rag.indexMany(["Alice Moreau works for Vantex.", "Vantex is based in Lyon."]);
   *    const { context, sources } = await db.rag.query("Where is Alice Moreau's employer based?");
   *    for await (const event of db.rag.stream(question)) console.log(event.type);   // sub_query, hop, result
   *  The same answers as natively for the same store. (No LLM callable in the browser: the
   *  default, deterministic path.)
   *  @returns {Retrieval} */
  get rag() { return new Retrieval(this); }

  /** The store's property graph (Python's db.graph, run in the worker): nodes with labels,
   *  properties and an optional embedding (searched through the store's index), edges with a
   *  type, weight and validity window, hyperedges; walks, shortest paths, search, Cypher, and
   *  subscribe(fn) for its committed changes. Kept in the store (IndexedDB when persisted, its
   *  .rvf export), so a native store's graph answers the same rows here and the other way round.
   *    await db.graph.batchInsert({ nodes: ["ada", "bab"], edges: [["ada", "bab", "KNOWS"]] });
   *    await db.graph.kHop("ada", 2);                       // ["bab"]
   *    await db.graph.cypher("MATCH (a)-[:KNOWS]->(b) RETURN b.name AS name");   // {columns, rows}
   *  Errors keep Python's names: UnknownIdError, IdError, NodeHasEdgesError, CypherSyntaxError, ...
   *  @returns {GraphClient} */
  get graph() { return new GraphClient(this.name); }

  /** Runs steps in one request inside Python's db.transaction(): one commit (stored in IndexedDB
   *  before the call resolves, for a persisted store), or nothing at all when a step fails (its
   *  error rejects the call; vectors and graph stay as they were). Steps: {op: "ingest", ids,
   *  vectors, metadata}, {op: "delete", ids, missingOk}, {op: "graph", method, args} (a db.graph
   *  method and its arguments as it takes them). The vectors of all ingest steps travel as one
   *  transferred Float32Array. Resolves to the steps' answers, in order; graph subscribers hear
   *  of the changes once it has committed.
   *    const [ingested, node, edge] = await db.transaction([
   *      { op: "ingest", ids: ["doc1"], vectors: docVector },
   *      { op: "graph", method: "addNode", args: ["doc1", { labels: ["Doc"] }] },
   *      { op: "graph", method: "addEdge", args: ["ada", "doc1", "WROTE"] },
   *    ]);
   *  @param {TransactionStep[]} steps  @returns {Promise<any[]>} */
  async transaction(steps) {
    /** @type {Float32Array[]} */
    const parts = [];
    let floats = 0;
    const wire = steps.map((step, i) => {
      if (step.op === "ingest") {
        const v = float32(step.vectors);
        parts.push(v);
        floats += v.length;
        return { op: "ingest", args: { ids: step.ids, metadata: step.metadata }, vectors: [floats - v.length, floats] };
      }
      if (step.op === "delete") return { op: "delete", args: { ids: step.ids, missingOk: step.missingOk } };
      if (step.op === "graph") return { op: "graph", args: graphRequest(this.name, step.method, step.args || []).args };
      throw namedError("ArgumentError", `step ${i}: unknown op ${JSON.stringify(/** @type {any} */ (step).op)}: a ` +
                       `transaction's steps are ingest, delete and graph`);
    });
    const buffer = new Float32Array(floats);
    parts.reduce((at, v) => (buffer.set(v, at), at + v.length), 0);
    return request("transaction", { name: this.name, steps: wire }, floats ? buffer : undefined, floats ? [buffer.buffer] : []);
  }

  /** Closes the store (a persisted one stays in IndexedDB).  @returns {Promise<null>} */
  close() { return request("close", { name: this.name }); }
}

// db.learn: the worker trains and keeps the adapter exactly as natively (the same bits).
class Learning {
  /** Use db.learn.  @param {string} name  the store's */
  constructor(name) {
    /** @type {string} */
    this.name = name;
  }

  /** Trains the query adapter (options.adapter, "query" by default; one the store has is
   *  trained further) from relevance feedback: queries (m x dim, row after row) and, per query,
   *  the id (or array of ids) that was useful. Negatives are mined from the store, the loss is
   *  InfoNCE, the stored vectors never change; the adapter is committed (stored before the call
   *  resolves, for a persisted store). Steps are "train" progress events (AgentDB.onProgress).
   *  Same inputs and options, same adapter bits as natively.
   *    const report = await db.learn.train(queries, ["doc7", ["doc2", "doc9"]], { epochs: 8 });
   *    report.training.lossHistory;   // per-epoch mean losses
   *  UnknownIdError for a positive not stored, ArgumentError when positives and queries differ
   *  in number, OptionError for an unknown option.
   *  @param {Vectors} queries  @param {(Id | Id[])[]} positives  @param {LearnOptions} [options]
   *  @returns {Promise<FeedbackReport>} */
  train(queries, positives, options = {}) {
    const v = float32(queries).slice();
    return request("learn", { name: this.name, positives, options: keywords(options) }, v, [v.buffer])
      .then(camelize);
  }

  /** The names of the store's query adapters, sorted.  @returns {Promise<string[]>} */
  adapters() { return request("adapters", { name: this.name }); }

  /** Forgets the query adapter `name` (a commit); UnknownIdError if the store has none of that name.
   *  @param {string} [name]  "query" by default  @returns {Promise<null>} */
  remove(name = "query") { return request("removeAdapter", { name: this.name, adapter: name }); }
}

// db.graph: Python's Graph in the worker. Reads are "graph" requests, writes "graphWrite" (each a
// commit, stored before the call resolves for a persisted store); answers are plain objects.
class GraphClient {
  /** Use db.graph.  @param {string} name  the store's */
  constructor(name) {
    /** @type {string} */
    this.name = name;
  }

  /** Adds a node and resolves to its id (generated, an int, when id is null). labels: a name or
   *  names; properties: a JSON object; embedding: a vector of the store's dimension (the node is
   *  then a row of the store, found by search(); the store needs string ids). IdError for an id
   *  in use.  @param {GraphId | null} [id]  @param {NodeOptions} [options]  @returns {Promise<GraphId>} */
  addNode(id = null, options = {}) { return this.#call("addNode", id, options); }
  /** The node with its embedding; UnknownIdError if absent.  @param {GraphId} id  @returns {Promise<GraphNode>} */
  getNode(id) { return this.#call("getNode", id); }
  /** Whether the graph has this node.  @param {GraphId} id  @returns {Promise<boolean>} */
  hasNode(id) { return this.#call("hasNode", id); }
  /** Changes a node: properties merged (replace: true: replaced), removeProperties dropped, labels
   *  added and removed, embedding set (null removes it). Resolves to the node as it now is.
   *  @param {GraphId} id
   *  @param {PropertyUpdate & {addLabels?: string | string[], removeLabels?: string | string[],
   *    embedding?: ArrayLike<number> | null}} [options]
   *  @returns {Promise<GraphNode>} */
  updateNode(id, options = {}) { return this.#call("updateNode", id, options); }
  /** Deletes a node; one with edges raises NodeHasEdgesError unless detach: true (deleted with it).
   *  @param {GraphId} id  @param {{detach?: boolean}} [options]  @returns {Promise<{nodes: number, edges: number, hyperedges: number}>} */
  deleteNode(id, options = {}) { return this.#call("deleteNode", id, options); }
  /** The nodes (no embeddings), in insertion order: label, where (over properties), limit.
   *  @param {{label?: string, where?: Filter, limit?: number}} [options]  @returns {Promise<GraphNode[]>} */
  nodes(options = {}) { return this.#call("nodes", options); }

  /** Adds an edge src -> dst and resolves to its id; UnknownIdError for a missing node.
   *  @param {GraphId} src  @param {GraphId} dst  @param {string} type  @param {EdgeOptions} [options]  @returns {Promise<GraphId>} */
  addEdge(src, dst, type, options = {}) { return this.#call("addEdge", src, dst, type, options); }
  /** The edge; UnknownIdError if absent.  @param {GraphId} id  @returns {Promise<GraphEdge>} */
  getEdge(id) { return this.#call("getEdge", id); }
  /** Changes an edge's properties, weight or validity window (null: unbounded); resolves to it.
   *  @param {GraphId} id
   *  @param {PropertyUpdate & {weight?: number, validFrom?: number | null, validTo?: number | null}} [options]
   *  @returns {Promise<GraphEdge>} */
  updateEdge(id, options = {}) { return this.#call("updateEdge", id, options); }
  /** Deletes an edge; UnknownIdError if absent.  @param {GraphId} id  @returns {Promise<null>} */
  deleteEdge(id) { return this.#call("deleteEdge", id); }
  /** The edges, in insertion order: type (a name or names), where, asOf / during, limit.
   *  @param {{type?: string | string[]} & ListOptions} [options]  @returns {Promise<GraphEdge[]>} */
  edges(options = {}) { return this.#call("edges", options); }

  /** Adds a hyperedge over two or more nodes (in order); resolves to its id.
   *  @param {GraphId[]} nodes  @param {string} type  @param {HyperedgeOptions} [options]  @returns {Promise<GraphId>} */
  addHyperedge(nodes, type, options = {}) { return this.#call("addHyperedge", nodes, type, options); }
  /** The hyperedge with its embedding; UnknownIdError if absent.  @param {GraphId} id  @returns {Promise<GraphHyperedge>} */
  getHyperedge(id) { return this.#call("getHyperedge", id); }
  /** Changes a hyperedge's properties, validity window or embedding (null removes it).
   *  @param {GraphId} id
   *  @param {PropertyUpdate & {validFrom?: number | null, validTo?: number | null, embedding?: ArrayLike<number> | null}} [options]
   *  @returns {Promise<GraphHyperedge>} */
  updateHyperedge(id, options = {}) { return this.#call("updateHyperedge", id, options); }
  /** Deletes a hyperedge; UnknownIdError if absent.  @param {GraphId} id  @returns {Promise<null>} */
  deleteHyperedge(id) { return this.#call("deleteHyperedge", id); }
  /** The hyperedges, filtered as edges() filters edges.
   *  @param {{type?: string | string[]} & ListOptions} [options]  @returns {Promise<GraphHyperedge[]>} */
  hyperedges(options = {}) { return this.#call("hyperedges", options); }
  /** The hyperedges that hold a node.  @param {GraphId} node  @param {{types?: string | string[], asOf?: number, during?: [number, number]}} [options]
   *  @returns {Promise<GraphHyperedge[]>} */
  hyperedgesOf(node, options = {}) { return this.#call("hyperedgesOf", node, options); }

  /** The distinct nodes one edge away, in the order their edges were added.
   *  @param {GraphId} id  @param {WalkOptions} [options]  @returns {Promise<GraphId[]>} */
  neighbors(id, options = {}) { return this.#call("neighbors", id, options); }
  /** The nodes within k hops (itself excluded), breadth-first, nearest first.
   *  @param {GraphId} node  @param {number} k  @param {WalkOptions} [options]  @returns {Promise<GraphId[]>} */
  kHop(node, k, options = {}) { return this.#call("kHop", node, k, options); }
  /** A shortest path a -> b (fewest hops; weighted: true, least summed weight), or null.
   *  @param {GraphId} a  @param {GraphId} b  @param {WalkOptions & {weighted?: boolean}} [options]  @returns {Promise<GraphPath | null>} */
  shortestPath(a, b, options = {}) { return this.#call("shortestPath", a, b, options); }
  /** The k nodes whose embeddings are nearest `vector`, best first: label, within (node ids,
   *  e.g. a kHop answer), where (over properties), ef, exact as for db.query.
   *  @param {ArrayLike<number>} vector
   *  @param {{k?: number, label?: string, within?: GraphId[], where?: Filter, ef?: number, exact?: boolean}} [options]
   *  @returns {Promise<NodeHit[]>} */
  search(vector, options = {}) { return this.#call("search", vector, options); }
  /** The k hyperedges whose embeddings are nearest `vector` (type: only those).
   *  @param {ArrayLike<number>} vector  @param {{k?: number, type?: string, ef?: number, exact?: boolean}} [options]
   *  @returns {Promise<HyperedgeHit[]>} */
  searchHyperedges(vector, options = {}) { return this.#call("searchHyperedges", vector, options); }

  /** Adds nodes, then edges and hyperedges (which may join those nodes) in one commit, all or
   *  nothing; resolves to the ids, in order.
   *  @param {GraphBatch} batch  @returns {Promise<{nodes: GraphId[], edges: GraphId[], hyperedges: GraphId[]}>} */
  batchInsert(batch) { return this.#call("batchInsert", batch); }
  /** Counts: nodes, edges, hyperedges, per label and type, embedded nodes, avgDegree.  @returns {Promise<GraphStats>} */
  stats() { return this.#call("stats"); }
  /** Runs a query of the Cypher subset (Python's db.graph.cypher) with $parameters; the rows as
   *  natively. CypherSyntaxError (line, column, what was expected) or CypherError.
   *    const { columns, rows } = await db.graph.cypher("MATCH (p:Person) WHERE p.born < $y RETURN p.name", { y: 1900 });
   *  @param {string} query  @param {Record<string, unknown>} [params]  @param {{maxRows?: number, maxSteps?: number}} [limits]
   *  @returns {Promise<CypherResult>} */
  cypher(query, params, limits = {}) { return this.#call("cypher", query, params, limits); }
  /** Drops deleted slots and writes the graph as one snapshot commit; the counts dropped.
   *  @returns {Promise<{nodes: number, edges: number, hyperedges: number}>} */
  compact() { return this.#call("compact"); }

  /** Calls fn(change) for each committed change of this store's graph made through this page
   *  (one call per commit: a batchInsert is one change; a transaction's once it commits, in
   *  order), after it is stored. Changes other tabs commit are not seen. Returns unsubscribe.
   *    const stop = db.graph.subscribe((c) => console.log(c.op, c.id, c.nodes));
   *  @param {(change: GraphChange) => void} fn  @returns {() => void} */
  subscribe(fn) {
    if (typeof fn !== "function") throw namedError("ArgumentError", `subscribe() needs a function, got ${typeof fn}`);
    let fns = graphListeners.get(this.name);
    if (!fns) graphListeners.set(this.name, fns = new Set());
    const mine = fns, listener = (/** @type {GraphChange} */ change) => fn(change);   // one per call
    mine.add(listener);
    return () => { mine.delete(listener); };
  }

  /** @param {string} method  @param {...any} args  @returns {Promise<any>} */
  #call(method, ...args) {
    const { op, args: wire } = graphRequest(this.name, method, args);
    return request(op, { name: this.name, ...wire });
  }
}
