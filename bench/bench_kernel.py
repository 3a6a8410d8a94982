"""Kernel benchmark: prints a table of timings and the ratios the kernel issue targets.

    python bench/bench_kernel.py [--rows 1000000] [--dim 384] [--repeat 5]

Peers, measured in the same run: numpy `X @ q` on one BLAS thread, this machine's
streaming-read bandwidth (numpy summing the same bytes as int64), and the kernel itself
on the wasmhost backend. Everything is single-threaded.
"""
import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

from agentdb.kernel import load

TARGETS = {
    "native f32 scan vs numpy": ">= 1.0x",
    "native f32 scan vs bandwidth": ">= 80%",
    "int8 scan vs f32 scan": ">= 3x",
    "wasmhost vs native": "<= 1.2x time",
}


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    native, wasm = load("native"), load("wasmhost")
    rng = np.random.default_rng(7)
    print(f"native isa: {native.isa}; numpy BLAS threads limited to 1; dim {args.dim}")
    rows_out = []

    def row(name, n, seconds, nbytes, note=""):
        gbs = nbytes / seconds / 1e9 if nbytes else float("nan")
        rows_out.append((name, n, seconds * 1e3, gbs, note))

    ratios = {}
    for n in args.rows:
        x = rng.standard_normal((n, args.dim), dtype=np.float32)
        q = rng.standard_normal(args.dim, dtype=np.float32)
        out = np.empty(n, np.float32)
        nbytes = x.nbytes
        t_bw = best_of(lambda: x.view(np.int64).sum(), args.repeat)
        row("stream read (numpy int64 sum)", n, t_bw, nbytes)
        with threadpool_limits(1):
            t_np = best_of(lambda: np.dot(x, q, out=out), args.repeat)
        row("numpy X @ q (1 thread)", n, t_np, nbytes)
        t_dot = best_of(lambda: native.scan(q, x, dim=args.dim, out=out), args.repeat)
        row("native scan dot f32", n, t_dot, nbytes)
        t_cos = best_of(lambda: native.scan(q, x, dim=args.dim, metric="cos", out=out), args.repeat)
        row("native scan cos f32", n, t_cos, nbytes)
        t_l2 = best_of(lambda: native.scan(q, x, dim=args.dim, metric="l2", out=out), args.repeat)
        row("native scan l2 f32", n, t_l2, nbytes)

        lo, step = native.sq8_train(x, dim=args.dim)
        codes = np.asarray(native.sq8_encode(x, lo, step, dim=args.dim))
        qc = codes[: args.dim].copy()
        w = native.mul(q, step)
        t_i8f = best_of(lambda: native.scan_dot_i8f32(w, 0.0, codes, dim=args.dim, out=out), args.repeat)
        row("native scan f32 query x int8", n, t_i8f, codes.nbytes)
        t_i8 = best_of(lambda: native.scan_dot_i8(qc, codes, dim=args.dim, out=out), args.repeat)
        row("native scan int8 x int8", n, t_i8, codes.nbytes)
        bits = np.asarray(native.b1_encode(x, dim=args.dim))
        qb = bits[: (args.dim + 7) // 8].copy()
        t_b1 = best_of(lambda: native.scan_hamming(qb, bits, n_bytes=(args.dim + 7) // 8, out=out), args.repeat)
        row("native scan binary hamming", n, t_b1, bits.nbytes)
        t_top = best_of(lambda: native.topk(out, 10), args.repeat)
        row("native top-10 of n scores", n, t_top, out.nbytes)

        kx = wasm.from_buffer(x)
        kout = wasm.alloc(n)
        t_wasm = best_of(lambda: wasm.scan(q, kx, dim=args.dim, out=kout), args.repeat)
        row("wasmhost scan dot f32", n, t_wasm, nbytes)
        kc = wasm.from_buffer(codes, "b")
        t_wasm_i8 = best_of(lambda: wasm.scan_dot_i8(qc, kc, dim=args.dim, out=kout), args.repeat)
        row("wasmhost scan int8 x int8", n, t_wasm_i8, codes.nbytes)
        kx = kc = kout = None  # release the wasm copies before the next size

        ratios[n] = {
            "native f32 scan vs numpy": (t_np / t_dot, f"{t_np / t_dot:.2f}x"),
            "native f32 scan vs bandwidth": (t_bw / t_dot, f"{100 * t_bw / t_dot:.0f}%"),
            "int8 scan vs f32 scan": (t_dot / t_i8, f"{t_dot / t_i8:.2f}x (f32 query x int8: {t_dot / t_i8f:.2f}x)"),
            "binary scan vs f32 scan": (t_dot / t_b1, f"{t_dot / t_b1:.2f}x"),
            "wasmhost vs native": (t_wasm / t_dot, f"{t_wasm / t_dot:.2f}x time (int8: {t_wasm_i8 / t_i8:.2f}x)"),
        }
        if n <= 200_000:
            m = args.batch
            qs = rng.standard_normal((m, args.dim), dtype=np.float32)
            bout = np.empty(m * n, np.float32)
            t_batch = best_of(lambda: native.scan_batch(qs, x, dim=args.dim, out=bout), max(1, args.repeat // 2))
            t_singles = best_of(lambda: [native.scan(qs[i], x, dim=args.dim, out=out) for i in range(m)], 1)
            with threadpool_limits(1):
                t_np_batch = best_of(lambda: x @ qs.T, max(1, args.repeat // 2))
            row(f"native batch of {m} queries", n, t_batch, nbytes)
            row(f"native {m} single scans", n, t_singles, nbytes * m)
            row(f"numpy X @ Q.T, {m} queries (1 thread)", n, t_np_batch, nbytes)
            ratios[n][f"batch of {m} vs {m} single scans"] = (t_singles / t_batch, f"{t_singles / t_batch:.2f}x faster")
            ratios[n]["batch vs numpy matmul"] = (t_np_batch / t_batch, f"{t_np_batch / t_batch:.2f}x")
        x = codes = bits = None  # release 1.5 GB before the next size

    print(f"\n{'operation':42} {'rows':>9} {'ms':>9} {'GB/s':>7}")
    for name, n, ms, gbs, _ in rows_out:
        print(f"{name:42} {n:>9} {ms:>9.2f} {gbs:>7.1f}")
    print(f"\n{'ratio':42} {'rows':>9}  {'measured':32} target")
    for n, rs in ratios.items():
        for name, (_, text) in rs.items():
            print(f"{name:42} {n:>9}  {text:32} {TARGETS.get(name, '')}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
