// The dense GEMMs of kernel.wasm under V8 (Node 20: the engine and tiering Chromium uses).
//
//   node bench/dense_wasm.mjs [--tokens 1280] [--repeat 15] [--wasm PATH] [--json]
//
// The same shapes and data distribution as bench/bench_dense.py (which runs this when node is
// on PATH and merges the rows): MiniLM's four Linear layers at m tokens, f32 and int8 weights.
// Memory: the heap starts at __heap_base and grows by memory.grow, as the Python hosts do.
// Best of --repeat after a warm-up (so TurboFan code, not the Liftoff baseline, is timed).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i < 0 ? dflt : args[i + 1]; };
const m = Number(opt("--tokens", 1280)), repeat = Number(opt("--repeat", 15));
const path = opt("--wasm", fileURLToPath(new URL("../py/agentdb/kernel/kernel.wasm", import.meta.url)));
const SHAPES = [[384, 1152, 0], [384, 1536, 1], [1536, 384, 0], [384, 384, 0]];  // k, n, act (1: GELU)

const { instance } = await WebAssembly.instantiate(readFileSync(path), {});
const ex = instance.exports, mem = ex.memory;
let top = ex.__heap_base.value;
function alloc(nbytes) {  // bump allocator, 64-byte aligned, growing memory as needed
  const addr = (top + 63) & ~63;
  top = addr + nbytes;
  if (top > mem.buffer.byteLength) mem.grow(Math.ceil((top - mem.buffer.byteLength) / 65536));
  return addr;
}

let seed = 0x9e3779b9;  // xorshift32 + Box-Muller: reproducible normals, no clock
const uniform = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296; };
const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
function fillF32(addr, count, f) { const v = new Float32Array(mem.buffer, addr, count); for (let i = 0; i < count; i++) v[i] = f(i); }

function best(fn) {
  for (let i = 0; i < 3; i++) fn();
  let t = Infinity;
  for (let r = 0; r < repeat; r++) { const t0 = performance.now(); fn(); t = Math.min(t, performance.now() - t0); }
  return t;
}

const rows = [];
for (const [k, n, act] of SHAPES) {
  const a = alloc(m * k * 4), w = alloc(k * n * 4), wq = alloc(k * n), bias = alloc(n * 4), scale = alloc(n * 4);
  const packedLen = Math.ceil(n / 16) * 16 * k;  // panels of 16 columns (csrc/gemm.c)
  const packed = alloc(packedLen * 4), packedQ = alloc(packedLen), out = alloc(m * n * 4);
  fillF32(a, m * k, normal);
  fillF32(w, k * n, () => normal() / Math.sqrt(k));
  fillF32(bias, n, normal);
  fillF32(scale, n, () => uniform() / 127);
  const q = new Int8Array(mem.buffer, wq, k * n);
  for (let i = 0; i < k * n; i++) q[i] = Math.floor(uniform() * 255) - 127;
  ex.agk_pack_gemm_f32(w, k, n, 0, packed);
  ex.agk_pack_gemm_i8(wq, k, n, 0, packedQ);
  const flop = 2 * m * k * n, name = `${m}x${k} . ${k}x${n}` + (act ? " +GELU" : "");
  const tf = best(() => ex.agk_gemm_f32(a, packed, bias, out, m, k, n, act));
  const ti = best(() => ex.agk_gemm_i8f32(a, packedQ, scale, bias, out, m, k, n, act));
  rows.push({ k, n, act, name, f32_ms: tf, i8_ms: ti, f32_gflops: flop / tf / 1e6, i8_gflops: flop / ti / 1e6 });
}

if (args.includes("--json")) console.log(JSON.stringify({ node: process.version, m, rows }));
else {
  console.log(`V8 ${process.versions.v8} (Node ${process.version}), m = ${m}, best of ${repeat}`);
  for (const r of rows)
    console.log(`${r.name.padEnd(28)} f32 ${r.f32_ms.toFixed(2).padStart(8)} ms ${r.f32_gflops.toFixed(1).padStart(6)} GFLOP/s` +
                `   i8 ${r.i8_ms.toFixed(2).padStart(8)} ms ${r.i8_gflops.toFixed(1).padStart(6)} GFLOP/s`);
}
