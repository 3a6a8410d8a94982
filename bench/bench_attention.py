"""Attention benchmark: scaled dot-product attention and multi-head self-attention in agentdb's
kernel against torch, natively on one thread, one run.

    .venv/bin/python bench/bench_attention.py [--repeat 7] [--heads 8] [--lengths 128 256 512 1024]

SDPA: batch 1, --heads heads of head dim 64, n_q = n_k = L, no mask: ours is Kernel.sdpa over
KBuffers (agentdb.nn.attention's kernel call, scratch reused) against
torch.nn.functional.scaled_dot_product_attention on (1, heads, L, 64) float32 tensors; also the
flash form (scratch fixed whatever L) and causal. Multi-head: embed 512 = 8 x 64, self-attention
over (1, L, 512): agentdb.nn.attention.MultiHeadAttention.forward (projections by the kernel's
GEMM) against torch.nn.MultiheadAttention(batch_first=True, need_weights=False) in inference
mode, the same weights. torch 2.x CPU, torch.set_num_threads(1).
Timing: ours and torch take turns after a warm-up; each run is 3 calls back to back, best of
--repeat runs (the machine is shared). Checks: outputs agree with torch to ~1e-6 relative.
A Chromium column is not measured yet.

## SDPA and multi-head attention (heads 8 x head dim 64, one thread)
Measured on the 2-core shared AMD EPYC box (native avx512, torch 2.13.0 CPU), ms per call, best
of 7 runs of 3 calls, one full run (ratio = torch ms / ours ms: > 1 means ours is faster):

    L      sdpa ours  torch   ratio   flash   causal ours  torch  ratio   mha ours  torch   ratio
    128      0.635    0.333   0.52x   0.733     0.506    0.345   0.68x     4.23     2.55   0.60x
    256      2.3      1.21    0.53x   2.81      1.61     1.3     0.81x     8.8      4.97   0.57x
    512      8.95     4.41    0.49x   10.7      5.43     4.58    0.84x    24.1     13.1    0.54x
    1024    35.6     16.2     0.45x   43.6     20.3     12.6     0.62x    73.8     35.5    0.48x

The issue's target (>= 1.0x) is NOT met: torch's CPU flash kernel (taken for 4-D inputs; given
3-D (heads, L, d) tensors torch falls back to its math path and is 1.0-1.9x slower than ours)
runs MKL GEMMs with FMA, while ours keeps a multiply and an add apart for bit-identity, which
halves the peak; the per-tile agk_gemm_f32 calls (60 x 64 x 64) and the exp pass cost the rest.
Outputs agree with torch to 7-8e-7 relative.
"""
import argparse
import math
import time

import numpy as np
import torch

from agentdb.kernel import load
from agentdb.nn.attention import MultiHeadAttention

HEAD_DIM = 64


def best(fn, repeat, calls=3):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t) / calls)
    return min(times)


def turns(fns, repeat):
    """Best time of each of fns, taking turns run by run."""
    for fn in fns:
        fn()
    out = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            out[i] = min(out[i], best(fn, 1))
    return out


def rel(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def bench_length(kernel, L, heads, repeat, rng):
    d = HEAD_DIM
    q, k, v = (rng.standard_normal((heads, L, d)).astype(np.float32) for _ in range(3))
    layout = [d, 0, L * d] * 4 + [0, 0, 0]
    qb, kb, vb = kernel.from_buffer(q), kernel.from_buffer(k), kernel.from_buffer(v)
    out = kernel.alloc(heads * L * d)
    plain_scratch = kernel.alloc(kernel.sdpa_scratch_len(L, d, d))
    flash_scratch = kernel.alloc(kernel.sdpa_scratch_len(L, d, d, flash=True))
    args = dict(batch=1, heads=heads, n_q=L, n_k=L, d=d, dv=d, layout=layout, scale=1 / math.sqrt(d), out=out)

    def ours(causal=False, flash=False):
        kernel.sdpa(qb, kb, vb, causal=causal, flash=flash, scratch=flash_scratch if flash else plain_scratch, **args)

    tq, tk, tv = (torch.from_numpy(x).unsqueeze(0) for x in (q, k, v))
    ours()
    err = rel(np.frombuffer(out.view(), np.float32), torch.nn.functional.scaled_dot_product_attention(tq, tk, tv))
    sdpa, t_sdpa, flash, causal, t_causal = turns([
        ours, lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv), lambda: ours(flash=True),
        lambda: ours(causal=True), lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)],
        repeat)
    e = heads * d
    m = torch.nn.MultiheadAttention(e, heads, batch_first=True)
    mha = MultiHeadAttention(e, heads, kernel=kernel)
    mha.load_state_dict({name: t.detach().numpy() for name, t in m.state_dict().items()})
    x = rng.standard_normal((1, L, e)).astype(np.float32)
    xb = kernel.from_buffer(x)
    tx = torch.from_numpy(x)
    with torch.inference_mode():
        err = max(err, rel(mha.forward(xb), m(tx, tx, tx, need_weights=False)[0]))
        t_mha, t_tmha = turns([lambda: mha.forward(xb), lambda: m(tx, tx, tx, need_weights=False)], repeat)
    return sdpa, t_sdpa, flash, causal, t_causal, t_mha, t_tmha, err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024])
    a = ap.parse_args()
    torch.set_num_threads(1)
    kernel = load("native")
    rng = np.random.default_rng(0)
    print(f"native {kernel.isa}, torch {torch.__version__}, heads {a.heads} x head dim {HEAD_DIM}, ms per call")
    print("    L      sdpa ours  torch   ratio   flash   causal ours  torch  ratio   mha ours  torch   ratio   max rel err")
    for L in a.lengths:
        s, ts, f, c, tc, m, tm, err = (x * 1e3 if i < 7 else x
                                      for i, x in enumerate(bench_length(kernel, L, a.heads, a.repeat, rng)))
        print(f"    {L:<6} {s:8.3g} {ts:8.3g} {ts / s:7.2f}x {f:7.3g} {c:9.3g} {tc:9.3g} {tc / c:6.2f}x "
              f"{m:9.3g} {tm:8.3g} {tm / m:6.2f}x   {err:.1e}")


if __name__ == "__main__":
    main()
