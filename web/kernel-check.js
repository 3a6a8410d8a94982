// Loads kernel.wasm, checks it, and times a scan: shows that the kernel the browser runs is
// the one the native build runs. It runs once the notebook is usable (the "agentdb:ready"
// event), never beside the worker's start: its 150 MB of rows and ten scans took the CPU
// that loading Pyodide needs.
const results = document.getElementById("results");

function show(rows) {
  results.replaceChildren(...rows.map(([name, value, ok]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    const td = document.createElement("td");
    th.textContent = name;
    td.textContent = value;
    if (ok !== undefined) td.className = ok ? "ok" : "bad";
    tr.append(th, td);
    return tr;
  }));
}

async function check() {
  const bytes = await (await fetch("./kernel.wasm")).arrayBuffer();
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const k = instance.exports;
  const n = 100000, dim = 384;
  // one bump region after __heap_base: query, rows, scores, top-k output
  const need = 4 * (dim + n * dim + n + 20) + 64;
  const base = (k.__heap_base.value + 63) & ~63;
  const grow = Math.ceil((base + need - k.memory.buffer.byteLength) / 65536);
  if (grow > 0) k.memory.grow(grow);
  const q = base, rows = q + 4 * dim, scores = rows + 4 * n * dim, idx = scores + 4 * n, top = idx + 40;
  const mem = k.memory.buffer;
  const f32 = new Float32Array(mem);
  let seed = 12345;  // xorshift32: reproducible data without Math.random
  for (let i = 0; i < n * dim; i++) {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    f32[rows / 4 + i] = (seed >>> 0) / 4294967296 - 0.5;
  }
  f32.copyWithin(q / 4, rows / 4 + 42 * dim, rows / 4 + 43 * dim);  // the query is row 42

  const check = new TextEncoder().encode("123456789");
  new Uint8Array(mem, scores, check.length).set(check);
  const crc = (k.agk_crc32c(0, scores, check.length) >>> 0).toString(16);

  const runs = 10;
  const t0 = performance.now();
  for (let r = 0; r < runs; r++) k.agk_scan_cos_f32(q, rows, n, dim, 0, 0, 0, scores);
  const ms = (performance.now() - t0) / runs;
  const count = k.agk_topk_f32(scores, n, 5, 1, idx, top);
  const best = Array.from(new Uint32Array(mem, idx, count));
  const isa = k.agk_features() & 1 ? "wasm simd128" : "scalar";
  show([
    ["Instruction set", isa, isa === "wasm simd128"],
    ["CRC32C(\"123456789\")", `0x${crc} (expected 0xe3069283)`, crc === "e3069283"],
    [`Cosine scan, ${n.toLocaleString()} × ${dim}`, `${ms.toFixed(2)} ms (${(4 * n * dim / ms / 1e6).toFixed(1)} GB/s)`],
    ["Top-5 rows for row 42", best.join(", "), best[0] === 42],
  ]);
}

document.getElementById("run").addEventListener("click", () => check().catch(fail));
function fail(err) { show([["Error", String(err), false]]); }
addEventListener("agentdb:ready", () => check().catch(fail), { once: true });
