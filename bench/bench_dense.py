"""Dense-layer benchmark: the kernel's GEMMs on MiniLM's Linear shapes against torch and numpy.

    python bench/bench_dense.py [--tokens 1280] [--repeat 7] [--levels] [--no-wasm]

m = 1280 tokens is a batch of 32 sentences x 40 tokens. Peers, in the same run and on one
thread: torch.nn.functional.linear (then gelu for the GELU layer) and numpy `a @ w (+ b)`.
Rows: the installed native kernel (the level this CPU picks), with --levels every x86-64
level this CPU can run (build/isa_kernel.py), and the same kernel.wasm under wasmtime.
Best of --repeat runs (the machine may be shared); GFLOP/s counts 2 m k n.
"""
import argparse
import pathlib
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
            t_torch, t_numpy = times["torch"], times[next(iter(list(runs)[1:]))]
            flop, name = 2 * m * k * n, f"{m}x{k} . {k}x{n}" + (" +GELU" if act else "")
            for backend, t in times.items():
                print(f"{name:<28} {backend:<16} {t * 1e3:8.2f} {flop / t / 1e9:8.1f} "
                      f"{t_torch / t:8.2f}x {t_numpy / t:8.2f}x")
    tmp.cleanup()


if __name__ == "__main__":
    main()
