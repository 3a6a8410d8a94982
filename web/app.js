// The notebook: the AgentDB client driving the worker; memories persist in IndexedDB.
import { AgentDB } from "./agentdb.js";

window.AgentDB = AgentDB;   // for the console and the e2e tests
addEventListener("agentdb:ready", () => {
  // after one visit the whole app (Pyodide and the model included) loads and works offline;
  // registered once the notebook is usable: its install fetches ~140 MB, not beside the start
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("./sw.js").catch((err) => console.warn("offline support unavailable:", err));
  }
}, { once: true });
const $ = (id) => document.getElementById(id);
const statusLine = $("store-status"), bar = $("store-progress"), table = $("store-results");
const controls = ["remember", "search", "sample", "export", "import"].map($);
let db = null;

const mb = (n) => (n / 1e6).toFixed(1);

AgentDB.onProgress(({ stage, done, total, model }) => {
  if (stage === "embed") return;              // the sample shows its own progress
  bar.max = total;
  bar.value = done;
  if (!model) statusLine.textContent = stage === "ready" ? "Ready." : `Loading the Python runtime (${stage})…`;
  else if (stage === "download") statusLine.textContent = `Loading the ${model} model: ${mb(done)} of ${mb(total)} MB…`;
  else statusLine.textContent = done < total ? `Preparing the ${model} model…` : `The ${model} model is ready.`;
});

function fail(err) { statusLine.textContent = `${err.name}: ${err.message}`; }

async function showStats() {
  const st = await db.status();
  const storage = st.storage ? ` · storage ${mb(st.storage.usage)} of ${mb(st.storage.quota)} MB` : "";
  $("stats").textContent = `${st.count.toLocaleString()} memories · vectors ${mb(st.bytes.vectors)} MB · ` +
    `graph ${mb(st.bytes.graph)} MB${storage} · kernel: ${st.kernel.backend}, ${st.kernel.isa}`;
}

function tagsOf(text) { return text.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean); }

// a memory's metadata: its tags as a list (shown) and as boolean fields "tag:<name>" (filterable)
function tagMeta(tags) { return { tags, ...Object.fromEntries(tags.map((t) => [`tag:${t}`, true])) }; }

function showHits(hits) {
  table.replaceChildren(...hits.ids.map((id, i) => {
    const tr = document.createElement("tr");
    const text = document.createElement("td");
    text.textContent = hits.metadata[i].text;
    const tags = document.createElement("td");
    for (const tag of hits.metadata[i].tags || []) {
      const span = document.createElement("span"); span.className = "tag"; span.textContent = tag; tags.append(span);
    }
    const score = document.createElement("td");
    score.textContent = hits.scores[i].toFixed(3);
    const action = document.createElement("td");
    const del = document.createElement("button");
    del.textContent = "Delete"; del.setAttribute("aria-label", `Delete memory ${id}`);
    del.addEventListener("click", async () => { await db.delete([id]); tr.remove(); await showStats(); });
    action.append(del);
    tr.append(text, tags, score, action);
    return tr;
  }));
}

let counter = Date.now();
$("remember-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("memory-text").value.trim();
  if (!text) return;
  try {
    await db.ingestTexts([`m${counter++}`], [text], [tagMeta(tagsOf($("memory-tags").value))]);
  } catch (err) {
    fail(err);
    return;
  }
  $("memory-text").value = "";
  $("memory-tags").value = "";
  statusLine.textContent = "Remembered.";
  await showStats();
});

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const tag = $("search-tag").value.trim().toLowerCase();
  // exact: a notebook is small enough to scan (~1 ms per 10k), and its many near-duplicate
  // memories are where graph search is weakest
  const hits = await db.queryText($("search-text").value,
                               { k: 10, exact: true, where: tag ? { [`tag:${tag}`]: true } : undefined })
    .catch(fail);
  if (hits) showHits(hits);
});

const WORDS = {
  topic: ["garden", "invoice", "meeting", "recipe", "workout", "flight", "budget", "novel", "server", "birthday"],
  act: ["plan", "review", "book", "cancel", "water", "draft", "pay", "fix", "celebrate", "measure"],
  when: ["monday", "tomorrow", "next week", "tonight", "in march", "after lunch", "soon", "friday"],
  tag: ["home", "work", "health", "money", "travel", "family"],
};

$("sample").addEventListener("click", async () => {
  $("sample").disabled = true;
  const N = 10000, BATCH = 1000, dim = AgentDB.MINILM.dim;
  let s = 12345;
  const pick = (list) => { s = (s * 1103515245 + 12345) >>> 0; return list[(s >>> 16) % list.length]; };
  const texts = [], meta = [];
  for (let i = 0; i < N; i++) {
    texts.push(`${pick(WORDS.act)} the ${pick(WORDS.topic)} ${pick(WORDS.when)}`);
    meta.push({ text: texts[i], ...tagMeta([pick(WORDS.tag)]) });     // as ingestTexts() keeps it
  }
  // the samples repeat 800 phrases: each is embedded once (the model's time goes per text)
  const phrases = [...new Set(texts)], vectors = new Map();
  for (let i = 0; i < phrases.length; i += 100) {
    const chunk = phrases.slice(i, i + 100);
    (await AgentDB.embed(chunk)).forEach((v, j) => vectors.set(chunk[j], v));
    bar.max = phrases.length;
    bar.value = i + chunk.length;
    statusLine.textContent = `Embedded ${i + chunk.length} of ${phrases.length} sample phrases…`;
  }
  bar.max = N;
  for (let start = 0; start < N; start += BATCH) {
    const ids = [], rows = new Float32Array(BATCH * dim);
    for (let i = start; i < start + BATCH; i++) {
      ids.push(`sample-${i}`);
      rows.set(vectors.get(texts[i]), (i - start) * dim);
    }
    await db.ingest(ids, rows, meta.slice(start, start + BATCH));
    bar.value = start + BATCH;
    statusLine.textContent = `Loaded ${(start + BATCH).toLocaleString()} of ${N.toLocaleString()} sample memories…`;
  }
  statusLine.textContent = "Loaded 10,000 sample memories.";
  await showStats();
});

$("export").addEventListener("click", async () => {
  const blob = await db.exportRvf();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "notebook.rvf";
  a.click();
  URL.revokeObjectURL(a.href);
});

$("import").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  try {
    const imported = await AgentDB.importRvf(`import-${Date.now()}`, file);
    statusLine.textContent = `Imported ${file.name}: ${imported.openStatus.count.toLocaleString()} vectors (opened beside the notebook).`;
  } catch (err) {
    fail(err);
  }
  event.target.value = "";
});

(async () => {
  // "notes": the earlier "notebook" store (word hashing, 256 dims) stays as it was in IndexedDB
  db = await AgentDB.open("notes", { dim: 384, metric: "cosine", persist: true, embedder: AgentDB.MINILM });
  controls.forEach((c) => { c.disabled = false; });
  window.agentdbReadyMs = performance.now();    // cold start to a usable store (bench/bench_browser.py)
  dispatchEvent(new Event("agentdb:ready"));    // deferred page work may start (kernel-check.js)
  await showStats();
})().catch((err) => { fail(err); dispatchEvent(new Event("agentdb:ready")); });
