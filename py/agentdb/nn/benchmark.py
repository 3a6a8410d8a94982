"""benchmark_attention(): how fast this home's kernel runs agentdb.nn's attention, per op and
sequence length, in either home (natively, or in the browser's worker through AgentDB.nn),
with no reference to compare against (bench/bench_attention.py compares with torch).

>>> rows = benchmark_attention(lengths=(16,), heads=1, head_dim=8, repeat=1)
>>> [(r["op"], r["length"]) for r in rows]
[('sdpa', 16), ('flash', 16), ('causal', 16), ('multi_head', 16)]
>>> all(r["ms"] > 0 and r["tokens_per_s"] > 0 for r in rows)
True
"""
import time

from ..errors import ArgumentError
from ..kernel import load
from ..learn.lora import uniform_f32
from .attention import MultiHeadAttention, flash_attention, scaled_dot_product_attention

OPS = ("sdpa", "flash", "causal", "multi_head")


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArgumentError(f"{name} must be a positive integer, got {value!r}")
    return value


def benchmark_attention(lengths=(128, 256, 512, 1024), *, heads=8, head_dim=64, repeat=3, ops=OPS, kernel=None):
    """[{"op", "length", "ms" (best of repeat calls), "tokens_per_s"}] for self-attention over
    one sequence of each length with `heads` heads of head_dim: "sdpa" (plain), "flash" (bounded
    scratch), "causal" and "multi_head" (MultiHeadAttention's projections included). Inputs are
    seeded (agentdb.learn.lora.uniform_f32), so every home times the same work."""
    kernel = kernel or load()
    heads, head_dim, repeat = _positive(heads, "heads"), _positive(head_dim, "head_dim"), _positive(repeat, "repeat")
    unknown = set(ops) - set(OPS)
    if unknown:
        raise ArgumentError(f"ops must be among {', '.join(OPS)}, got {sorted(unknown)}")
    out = []
    for length in lengths:
        n = _positive(length, "length") * heads * head_dim
        q, k, v = (uniform_f32(seed, n, 1.0) for seed in (1, 2, 3))
        shape = dict(dim=head_dim, heads=heads, kernel=kernel)
        mha = MultiHeadAttention(heads * head_dim, heads, kernel=kernel) if "multi_head" in ops else None
        runs = {"sdpa": lambda: scaled_dot_product_attention(q, k, v, **shape),
                "flash": lambda: flash_attention(q, k, v, **shape),
                "causal": lambda: scaled_dot_product_attention(q, k, v, causal=True, **shape),
                "multi_head": lambda: mha.forward(q)}
        for op in ops:
            best = float("inf")
            for _ in range(repeat):
                t = time.perf_counter()
                runs[op]()
                best = min(best, time.perf_counter() - t)
            out.append({"op": op, "length": length, "ms": best * 1000, "tokens_per_s": length / best})
    return out
