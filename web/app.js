// The demo page's store section: the AgentDB client driving the worker.
import { AgentDB } from "./agentdb.js";

window.AgentDB = AgentDB;   // for the console and the e2e tests
if ("serviceWorker" in navigator) {
  // after one visit the whole app (Pyodide included) loads and works offline
  navigator.serviceWorker.register("./sw.js").catch((err) => console.warn("offline support unavailable:", err));
}
const statusLine = document.getElementById("store-status");
const bar = document.getElementById("store-progress");
const sampleButton = document.getElementById("sample");
const searchButton = document.getElementById("search");
const table = document.getElementById("store-results");
const DIM = 64, N = 10000;
let db = null, sample = null;

AgentDB.onProgress(({ stage, done }) => {
  bar.value = done;
  statusLine.textContent = stage === "ready" ? "Ready." : `Loading the Python runtime (${stage})…`;
});

function rows(pairs) {
  table.replaceChildren(...pairs.map(([a, b]) => {
    const tr = document.createElement("tr");
    for (const text of [a, b]) { const td = document.createElement("td"); td.textContent = text; tr.append(td); }
    return tr;
  }));
}

function randomVectors(n, dim, seed) {
  const out = new Float32Array(n * dim);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

(async () => {
  db = await AgentDB.open("demo", { dim: DIM, metric: "cosine" });
  sampleButton.disabled = false;
})().catch((err) => { statusLine.textContent = `Could not start: ${err.name}: ${err.message}`; });

sampleButton.addEventListener("click", async () => {
  sampleButton.disabled = true;
  sample = randomVectors(N, DIM, 7);
  const ids = Array.from({ length: N }, (_, i) => i);
  const metadata = ids.map((i) => ({ kind: i % 2 ? "odd" : "even" }));
  const t0 = performance.now();
  for (let start = 0; start < N; start += 2000) {       // batches, so progress shows
    await db.ingest(ids.slice(start, start + 2000), sample.subarray(start * DIM, (start + 2000) * DIM),
                    metadata.slice(start, start + 2000));
    statusLine.textContent = `Ingested ${Math.min(start + 2000, N).toLocaleString()} of ${N.toLocaleString()}…`;
  }
  const st = await db.status();
  statusLine.textContent = `${st.count.toLocaleString()} vectors in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
    `(kernel: ${st.kernel.backend}, ${st.kernel.isa}).`;
  searchButton.disabled = false;
});

searchButton.addEventListener("click", async () => {
  const hits = await db.query(sample.subarray(42 * DIM, 43 * DIM), { k: 5 });
  rows(hits.ids.map((id, i) => [`#${id} (${hits.metadata[i].kind})`, hits.scores[i].toFixed(4)]));
});
