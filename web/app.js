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
const controls = ["remember", "search", "sample", "export", "import", "store-view"].map($);
// the store on view: the notebook, or a .rvf imported beside it (every form acts on it)
/** @type {Map<string, import("./agentdb.js").AgentDB>} */
const stores = new Map();
let db = null;
// cosine similarity under which a hit is not shown: MiniLM gives unrelated sentences ~0-0.15
const MIN_SIMILARITY = 0.2;

const mb = (n) => (n / 1e6).toFixed(1);

const LOADING = new Set(["runtime", "package", "ready"]);     // the runtime's stages; a model's carry its name
AgentDB.onProgress(({ stage, done, total, model }) => {
  if (stage === "embed") return;              // the sample shows its own progress
  if (!model && !LOADING.has(stage)) return;  // training steps, retrieval streams: not loading
  bar.max = total;
  bar.value = done;
  if (!model) say(stage === "ready" ? "Ready." : `Loading the Python runtime (${stage})…`);
  else if (stage === "download") say(`Loading the ${model} model: ${mb(done)} of ${mb(total)} MB…`);
  else say(done < total ? `Preparing the ${model} model…` : `The ${model} model is ready.`);
});

function fail(err) { say(`${err.name}: ${err.message}`); }

/** @param {string} text */
function say(text) { statusLine.textContent = text; }

async function showStats() {
  const st = await db.status();
  showEmbedder(st);
  const storage = st.storage ? ` · storage ${mb(st.storage.usage)} of ${mb(st.storage.quota)} MB` : "";
  $("stats").textContent = `${st.count.toLocaleString()} ${st.count === 1 ? "memory" : "memories"} · vectors ${mb(st.bytes.vectors)} MB · ` +
    `graph ${mb(st.bytes.graph)} MB${storage} · kernel: ${st.kernel.backend}, ${st.kernel.isa}`;
}

function tagsOf(text) { return text.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean); }

// a memory's metadata: its tags as a list (shown) and as boolean fields "tag:<name>" (filterable)
function tagMeta(tags) { return { tags, ...Object.fromEntries(tags.map((t) => [`tag:${t}`, true])) }; }

// what the search box searches by: the store's own embedder (MiniLM when it records none)
function showEmbedder(st) {
  const model = st.embedder || AgentDB.MINILM;
  $("search-label").textContent = model.semantic
    ? `Search by meaning (${model.name})` : `Search by words (${model.name}: word hashing, not meaning)`;
}

function cell(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

/** @param {string} query  @param {{ids: unknown[], scores: number[], metadata: any[]}} hits  @param {string} metric */
function showHits(query, hits, metric) {
  // a cosine score is the similarity: weak ones are noise, not answers
  const shown = hits.ids.map((_, i) => i).filter((i) => metric !== "cosine" || hits.scores[i] >= MIN_SIMILARITY);
  if (!shown.length) {
    table.replaceChildren();
    say(`No matches for “${query}”` + (metric === "cosine" ? ` (none with similarity ≥ ${MIN_SIMILARITY}).` : "."));
    return;
  }
  say(`${shown.length} ${shown.length === 1 ? "match" : "matches"} for “${query}”.`);
  const store = db;                     // the store these hits come from, whatever is shown later
  const head = document.createElement("tr");
  head.append(cell("th", "Memory"), cell("th", "Tags"), cell("th", metric === "cosine" ? "Similarity" : "Score"),
              cell("th", ""));
  table.replaceChildren(head, ...shown.map((i) => {
    const id = hits.ids[i], text = hits.metadata[i]?.text ?? String(id);
    const tr = document.createElement("tr");
    const textCell = document.createElement("td");
    textCell.textContent = text;
    const tags = document.createElement("td");
    for (const tag of hits.metadata[i]?.tags || []) {
      const span = document.createElement("span"); span.className = "tag"; span.textContent = tag; tags.append(span);
    }
    const score = cell("td", hits.scores[i].toFixed(3));
    const action = document.createElement("td");
    const del = document.createElement("button");
    del.textContent = "Delete"; del.setAttribute("aria-label", `Delete “${text}”`);
    del.addEventListener("click", async () => {
      try { await store.delete([id]); } catch (err) { fail(err); return; }
      tr.remove();
      say(`Deleted “${text}”.`);
      await showStats();
    });
    action.append(del);
    tr.append(textCell, tags, score, action);
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
  say("Remembered.");
  await showStats();
});
// Ctrl+Enter (Cmd+Enter on a Mac) in the memory box remembers it, as in most editors
$("memory-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $("remember-form").requestSubmit();
  }
});

$("search-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const tag = $("search-tag").value.trim().toLowerCase(), query = $("search-text").value;
  say(`Searching for “${query}”…`);
  // exact: a notebook is small enough to scan (~1 ms per 10k), and its many near-duplicate
  // memories are where graph search is weakest
  try {
    const hits = await db.queryText(query, { k: 10, exact: true, where: tag ? { [`tag:${tag}`]: true } : undefined });
    showHits(query, hits, db.openStatus.metric);
  } catch (err) {
    table.replaceChildren();
    fail(err);
  }
});

const WORDS = {
  topic: ["garden", "invoice", "meeting", "recipe", "workout", "flight", "budget", "novel", "server", "birthday"],
  act: ["plan", "review", "book", "cancel", "water", "draft", "pay", "fix", "celebrate", "measure"],
  when: ["monday", "tomorrow", "next week", "tonight", "in march", "after lunch", "soon", "friday"],
  tag: ["home", "work", "health", "money", "travel", "family"],
};

$("sample").addEventListener("click", async () => {
  $("sample").disabled = true;
  try { await loadSample(); } catch (err) { fail(err); }
  $("sample").disabled = false;
});

async function loadSample() {
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
    say(`Embedded ${i + chunk.length} of ${phrases.length} sample phrases…`);
  }
  bar.max = N;
  let replaced = 0;
  for (let start = 0; start < N; start += BATCH) {
    const ids = [], rows = new Float32Array(BATCH * dim);
    for (let i = start; i < start + BATCH; i++) {
      ids.push(`sample-${i}`);
      rows.set(vectors.get(texts[i]), (i - start) * dim);
    }
    replaced += (await db.ingest(ids, rows, meta.slice(start, start + BATCH))).replaced;
    bar.value = start + BATCH;
    say(`Loaded ${(start + BATCH).toLocaleString()} of ${N.toLocaleString()} sample memories…`);
  }
  // loading it again replaces the same ids: the old rows would stay as tombstones, doubling
  // the bytes in the stats, so they are dropped here (a notebook's own deletes stay cheap)
  let note = "";
  if (replaced > 0) {
    await db.compact();
    note = ` (it replaced ${replaced.toLocaleString()} sample memories loaded before)`;
  }
  await showStats();                    // before the status line, so the stats are never stale beside it
  say(`Loaded 10,000 sample memories${note}.`);
}

$("export").addEventListener("click", async () => {
  const blob = await db.exportRvf();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${db === stores.get("notes") ? "notebook" : db.name}.rvf`;
  a.click();
  URL.revokeObjectURL(a.href);
  say(`Exported ${a.download} (${mb(blob.size)} MB).`);
});

$("import").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  try {
    const imported = await AgentDB.importRvf(`import-${Date.now()}`, file);
    const option = new Option(`${file.name} (imported)`, imported.name);
    $("store-view").append(option);
    stores.set(imported.name, imported);
    await view(imported.name);
    say(`Imported ${file.name}: ${imported.openStatus.count.toLocaleString()} memories, opened beside the ` +
        `notebook and shown now (switch back with “Showing”).`);
  } catch (err) {
    fail(err);
  }
  event.target.value = "";
});

// shows store `name`: the forms, stats, export and results act on it from now on
async function view(name) {
  db = /** @type {import("./agentdb.js").AgentDB} */ (stores.get(name));
  $("store-view").value = name;
  $("sample").disabled = name !== "notes";        // the sample belongs in the notebook
  table.replaceChildren();
  await showStats();
}

$("store-view").addEventListener("change", async (event) => {
  try {
    await view(event.target.value);
    say(`Showing ${event.target.selectedOptions[0].text}.`);
  } catch (err) { fail(err); }
});

(async () => {
  // "notes": the earlier "notebook" store (word hashing, 256 dims) stays as it was in IndexedDB
  db = await AgentDB.open("notes", { dim: 384, metric: "cosine", persist: true, embedder: AgentDB.MINILM });
  stores.set("notes", db);
  controls.forEach((c) => { c.disabled = false; });
  window.agentdbReadyMs = performance.now();    // cold start to a usable store (bench/bench_browser.py)
  dispatchEvent(new Event("agentdb:ready"));    // deferred page work may start (kernel-check.js)
  await showStats();
})().catch((err) => { fail(err); dispatchEvent(new Event("agentdb:ready")); });
