// IndexedDB storage of persisted stores (the worker's; web/worker.js imports it): a store is
// its .rvf bytes as chunks keyed by file offset (database `agentdb:<name>`, object store
// `chunks`), plus in object store `head` the stored size (key "size") and the generation (key
// "generation", one more with every commit of any tab) that tells a tab whether what it holds
// is still what is stored: a size can come back after another tab replaced the file (an
// import), a generation cannot. Each commit is one transaction, so a closed tab leaves the
// previous commit.
const databases = new Map();

function idbRequest(req) {
  return new Promise((resolve, reject) => { req.onsuccess = () => resolve(req.result); req.onerror = () => reject(req.error); });
}

async function database(name) {
  if (!databases.has(name)) {
    const req = indexedDB.open(`agentdb:${name}`, 1);
    req.onupgradeneeded = () => { req.result.createObjectStore("chunks"); req.result.createObjectStore("head"); };
    databases.set(name, await idbRequest(req));
  }
  return databases.get(name);
}

/** The store's stored bytes joined into one Uint8Array, or null when nothing is stored.
 *  @param {string} name
 *  @returns {Promise<Uint8Array | null>} */
export async function readStored(name) {
  const db = await database(name);
  const store = db.transaction("chunks", "readonly").objectStore("chunks");
  const [keys, values] = await Promise.all([idbRequest(store.getAllKeys()), idbRequest(store.getAll())]);
  if (!keys.length) return null;
  const total = values.reduce((n, v) => n + v.byteLength, 0);
  const bytes = new Uint8Array(total);
  keys.forEach((key, i) => bytes.set(values[i], key));   // numeric keys come back in order
  return bytes;
}

/** The stored size in bytes as the last commit (of any tab) wrote it; 0 for none.
 *  @param {string} name
 *  @returns {Promise<number>} */
export async function storedSize(name) {
  const db = await database(name);
  const size = await idbRequest(db.transaction("head", "readonly").objectStore("head").get("size"));
  return size === undefined ? 0 : size;
}

/** The stored generation: how many commits (of any tab) the store has had; 0 for none.
 *  @param {string} name
 *  @returns {Promise<number>} */
export async function storedGeneration(name) {
  const db = await database(name);
  const generation = await idbRequest(db.transaction("head", "readonly").objectStore("head").get("generation"));
  return generation === undefined ? 0 : generation;
}

/** Writes one request's commits, [kind, offset, bytes] chunks (kind "replace" clears the
 *  store first: a rewrite), the new size and the next generation, in one transaction;
 *  resolves with that generation once it is durable.
 *  @param {string} name
 *  @param {Array<[string, number, Uint8Array]>} chunks
 *  @returns {Promise<number>} */
export async function writeCommits(name, chunks) {
  const db = await database(name);
  const tx = db.transaction(["chunks", "head"], "readwrite", { durability: "strict" });
  const store = tx.objectStore("chunks"), head = tx.objectStore("head");
  let size = 0, generation = 0;
  for (const [kind, offset, bytes] of chunks) {
    if (kind === "replace") store.clear();
    store.put(bytes, offset);
    size = offset + bytes.byteLength;
  }
  head.put(size, "size");                        // in the same transaction: other tabs compare them
  const last = head.get("generation");
  last.onsuccess = () => { generation = (last.result || 0) + 1; head.put(generation, "generation"); };
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new DOMException("IndexedDB commit aborted", "AbortError"));
  });
  return generation;
}
