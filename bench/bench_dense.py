"""Dense-layer benchmark: the kernel's GEMMs on MiniLM's Linear shapes against torch and numpy.

    python bench/bench_dense.py [--tokens 1280] [--repeat 7] [--levels] [--no-wasm]

m = 1280 tokens is a batch of 32 sentences x 40 tokens. Peers, in the same run and on one
thread: torch.nn.functional.linear (then gelu for the GELU layer) and numpy `a @ w (+ b)`.
Rows: the installed native kernel (the level this CPU picks), with --levels every x86-64
level this CPU can run (build/isa_kernel.py), the same kernel.wasm under wasmtime, and, when
`node` is on PATH, under V8 (bench/dense_wasm.mjs: Node 20's V8, the engine and tiering Chromium
runs; its own data of the same shapes and distribution, timed in the same way).
Best of --repeat runs (the machine may be shared); GFLOP/s counts 2 m k n.

Seen on AMD EPYC (Zen 4), 2 vCPUs shared with other jobs (so +-15%), GFLOP/s f32 (int8):

    layer                     native avx512  torch  wasmtime     V8 Node 20   V8 Chromium 156
    1280x384 . 384x1152         96 (93)        80   24.2 (20.5)  42.5 (32.6)  44.1
    1280x384 . 384x1536 +GELU   81 (71)        81   21.8 (17.7)  34.9 (27.0)  28.5
    1280x1536 . 1536x384        87 (85)        74   17.5 (15.5)  37.7 (29.7)  36.2
    1280x384 . 384x384          94 (82)        82   18-22 (15)   40.7 (31.4)  39.7

The V8 columns were timed interleaved with the previous kernel (5 x 4 tiles), which gave 33.9
(25.8), 29.1 (22.4), 30.8 (25.2), 33.4 (25.6) in Node and 37.5, 30.1, 30.0, 35.3 in Chromium;
wasmtime was within noise of before. wasm has no FMA, so one v128 multiply and one add per 4
products: ~50 GFLOP/s is this CPU's ceiling for it.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from agentdb.kernel import load

ROOT = pathlib.Path(__file__).resolve().parent.parent
# (k, n, act): QKV, the FFN's up projection with GELU, its down projection, the attention output
SHAPES = ((384, 1152, None), (384, 1536, "gelu"), (1536, 384, None), (384, 384, None))


def best_of(fns, repeat):
    """Best time of each function, the runs interleaved so a busy spell hits them all alike."""
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def kernel_runs(kernel, a, w, bias, wq, scale, k, n, act):
    """gemm and gemm_i8 with every operand in kernel memory (no copies per call)."""
    def buf(x, fmt="f"):
        b = kernel.alloc(x.size, fmt)
        b.write(x.ravel())
        return b
    ab, bb, sb = buf(a), buf(bias), buf(scale)
    packed = kernel.pack_gemm(buf(w), k=k, n=n, out=kernel.alloc(kernel.gemm_packed_len(k, n)))
    packed_q = kernel.pack_gemm(buf(wq, "b"), k=k, n=n, out=kernel.alloc(kernel.gemm_packed_len(k, n), "b"))
    out = kernel.alloc(a.shape[0] * n)
    return (lambda: kernel.gemm(ab, packed, k=k, n=n, bias=bb, act=act, out=out),
            lambda: kernel.gemm_i8(ab, packed_q, sb, k=k, n=n, bias=bb, act=act, out=out))


def v8_times(tokens, repeat):
    """{(k, n): (f32 seconds, i8 seconds)} from bench/dense_wasm.mjs under node, or {} without node."""
    node = shutil.which("node")
    if not node:
        return {}
    out = subprocess.run([node, str(ROOT / "bench" / "dense_wasm.mjs"), "--tokens", str(tokens),
                          "--repeat", str(repeat), "--json"], check=True, capture_output=True, text=True).stdout
    return {(r["k"], r["n"]): (r["f32_ms"] / 1e3, r["i8_ms"] / 1e3) for r in json.loads(out)["rows"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=1280)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--levels", action="store_true", help="also every native ISA level this CPU runs")
    ap.add_argument("--no-wasm", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    kernels = [("native", load("native"))]
    tmp = tempfile.TemporaryDirectory()
    if args.levels:
        sys.path.insert(0, str(ROOT / "build"))
        from isa_kernel import LEVELS, cpu_has, load_level
        kernels += [(f"native-{lv}", load_level(lv, tmp.name)) for lv in LEVELS if cpu_has(lv)]
    if not args.no_wasm:
        kernels.append(("wasmhost", load("wasmhost")))
    v8 = {} if args.no_wasm else v8_times(args.tokens, args.repeat)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    m, rng = args.tokens, np.random.default_rng(0)
    print(f"m = {m}, one thread, best of {args.repeat}; CPU: {cpu}; native level: {kernels[0][1].isa}")
    print(f"{'layer (m x k . k x n)':<28} {'backend':<16} {'ms':>8} {'GFLOP/s':>8} {'vs torch':>9} {'vs numpy':>9}")
    with threadpool_limits(limits=1):
        for k, n, act in SHAPES:
            a = rng.standard_normal((m, k), dtype=np.float32)
            w = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float32)
            bias = rng.standard_normal(n, dtype=np.float32)
            wq = rng.integers(-127, 128, (k, n)).astype(np.int8)
            scale = (rng.random(n, dtype=np.float32) / 127).astype(np.float32)
            ta, tw, tb = torch.from_numpy(a), torch.from_numpy(np.ascontiguousarray(w.T)), torch.from_numpy(bias)
            gelu = torch.nn.functional.gelu if act else (lambda y: y)
            runs = {"torch": lambda: gelu(torch.nn.functional.linear(ta, tw, tb)),
                    "numpy" + (" (no GELU)" if act else ""): lambda: a @ w + bias}
            for label, kernel in kernels:
                runs[label], runs[label + " i8"] = kernel_runs(kernel, a, w, bias, wq, scale, k, n, act)
            times = dict(zip(runs, best_of(list(runs.values()), args.repeat)))
            if (k, n) in v8:
                times["wasm V8 (node)"], times["wasm V8 (node) i8"] = v8[(k, n)]
            t_torch, t_numpy = times["torch"], times[next(iter(list(runs)[1:]))]
            flop, name = 2 * m * k * n, f"{m}x{k} . {k}x{n}" + (" +GELU" if act else "")
            for backend, t in times.items():
                print(f"{name:<28} {backend:<16} {t * 1e3:8.2f} {flop / t / 1e9:8.1f} "
                      f"{t_torch / t:8.2f}x {t_numpy / t:8.2f}x")
    tmp.cleanup()


if __name__ == "__main__":
    main()
