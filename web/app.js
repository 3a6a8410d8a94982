// The notebook: the AgentDB client driving the worker; memories persist in IndexedDB.
import { AgentDB } from "./agentdb.js";

window.AgentDB = AgentDB;   // for the console and the e2e tests
if ("serviceWorker" in navigator) {
  // after one visit the whole app (Pyodide included) loads and works offline
  navigator.serviceWorker.register("./sw.js").catch((err) => console.warn("offline support unavailable:", err));
}
const $ = (id) => document.getElementById(id);
const statusLine = $("store-status"), bar = $("store-progress"), table = $("store-results");
const controls = ["remember", "search", "sample", "export", "import"].map($);
let db = null;

AgentDB.onProgress(({ stage, done }) => {
  bar.value = done;
  statusLine.textContent = stage === "ready" ? "Ready." : `Loading the Python runtime (${stage})…`;
});

function fail(err) { statusLine.textContent = `${err.name}: ${err.message}`; }

async function showStats() {
  const st = await db.status();
  const mb = (n) => (n / 1e6).toFixed(1);
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
    await db.remember([`m${counter++}`], [text], [tagMeta(tagsOf($("memory-tags").value))]);
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
  const hits = await db.recall($("search-text").value,
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
  const N = 10000, BATCH = 1000;
  let s = 12345;
  const pick = (list) => { s = (s * 1103515245 + 12345) >>> 0; return list[(s >>> 16) % list.length]; };
  bar.max = N;
  for (let start = 0; start < N; start += BATCH) {
    const ids = [], texts = [], meta = [];
    for (let i = start; i < start + BATCH; i++) {
      ids.push(`sample-${i}`);
      texts.push(`${pick(WORDS.act)} the ${pick(WORDS.topic)} ${pick(WORDS.when)}`);
      meta.push(tagMeta([pick(WORDS.tag)]));
    }
    await db.remember(ids, texts, meta);
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
  db = await AgentDB.open("notebook", {
    dim: 256, metric: "cosine", persist: true,
    embedder: { name: "agentdb-hash-v1", dim: 256, semantic: false },   // recorded in the store
  });
  controls.forEach((c) => { c.disabled = false; });
  window.agentdbReadyMs = performance.now();    // cold start to a usable store (bench/bench_browser.py)
  dispatchEvent(new Event("agentdb:ready"));    // deferred page work may start (kernel-check.js)
  await showStats();
})().catch((err) => { fail(err); dispatchEvent(new Event("agentdb:ready")); });
