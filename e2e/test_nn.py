"""agentdb.nn in real Chromium (AgentDB.nn.<module>.<function>, run in the worker over
kernel.wasm): hyperbolic ops and their gradients, attention (plain, flash, causal, backward),
linear and dual-space attention, differentiable search and tensor compression give the native
bits."""
import random

from agentdb.nn import attention, compress, dual_attention, hyperbolic, linear_attention, search
from e2e_support import run


def rows(r, n, dim, scale=1.0):
    return [r.uniform(-scale, scale) for _ in range(n * dim)]


def f32(hexed):
    return bytes.fromhex(hexed)


def test_nn_ops_in_the_page_give_the_native_bits(page):
    r = random.Random(21)
    x, y, g = rows(r, 32, 17, 0.2), rows(r, 32, 17, 0.2), rows(r, 32, 17)
    q, k, v = rows(r, 2 * 3 * 40 * 16, 1), rows(r, 2 * 3 * 40 * 16, 1), rows(r, 2 * 3 * 40 * 8, 1)
    dout = rows(r, 2 * 3 * 40 * 8, 1)
    keys, values, query = [rows(r, 1, 12) for _ in range(50)], [rows(r, 1, 5) for _ in range(50)], rows(r, 1, 12)
    table = rows(r, 64, 16)
    got = run(page, """
        const [x, y, g, q, k, v, dout, keys, values, query, table] = args;
        const nn = AgentDB.nn, hex = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
                                                       (b) => b.toString(16).padStart(2, "0")).join("");
        const attn = { q, k, v, dim: 16, batch: 2, heads: 3, causal: true };
        const grads = await nn.hyperbolic.expMapBackward({ x, v: y, grad: g, dim: 17, c: 0.7 });
        const soft = await nn.search.differentiableSearch({ query, keys, values, k: 5, temperature: 0.3 });
        const pq = await nn.compress.compress({ tensor: table, level: "pq8", dim: 16, seed: 3 });
        return {
            mobius: hex(await nn.hyperbolic.mobiusAdd({ x, y: new Float32Array(y), dim: 17, c: 0.7 })),
            distance: hex(await nn.hyperbolic.poincareDistance({ x, y, dim: 17, c: 0.7 })),
            grads: grads.map(hex),
            sdpa: hex(await nn.attention.scaledDotProductAttention(attn)),
            flash: hex(await nn.attention.flashAttention(attn)),
            backward: (await nn.attention.attentionBackward({ ...attn, gradOut: dout })).map(hex),
            soft: { indices: soft.indices, weights: hex(soft.weights), output: hex(soft.output) },
            pq: hex(pq.payload), pqError: pq.relL2,
            linear: hex(await nn.linear_attention.linearAttention({ q, k, v: k, dim: 16, batch: 6 })),
            dual: hex(await nn.dual_attention.dualSpaceAttention({ q: x, k: y, v: g, dim: 17, c: 0.7, weight: 0.3 })),
        };
    """, x, y, g, q, k, v, dout, keys, values, query, table)
    assert f32(got["mobius"]) == hyperbolic.mobius_add(x, y, dim=17, c=0.7).tobytes()
    assert f32(got["distance"]) == hyperbolic.poincare_distance(x, y, dim=17, c=0.7).tobytes()
    assert [f32(h) for h in got["grads"]] == [a.tobytes() for a in hyperbolic.exp_map_backward(x, y, g, dim=17, c=0.7)]
    plain = attention.scaled_dot_product_attention(q, k, v, dim=16, batch=2, heads=3, causal=True).tobytes()
    assert f32(got["sdpa"]) == plain == f32(got["flash"])
    want = attention.attention_backward(q, k, v, dout, dim=16, batch=2, heads=3, causal=True)
    assert [f32(h) for h in got["backward"]] == [a.tobytes() for a in want]
    soft = search.differentiable_search(query, keys, values=values, k=5, temperature=0.3)
    assert got["soft"]["indices"] == soft.indices.tolist()
    assert (f32(got["soft"]["weights"]), f32(got["soft"]["output"])) == (soft.weights.tobytes(), soft.output.tobytes())
    pq = compress.compress(table, "pq8", dim=16, seed=3)
    assert f32(got["pq"]) == pq.payload and got["pqError"] == pq.rel_l2
    assert f32(got["linear"]) == linear_attention.linear_attention(q, k, k, dim=16, batch=6).tobytes()
    assert f32(got["dual"]) == dual_attention.dual_space_attention(x, y, g, dim=17, c=0.7, weight=0.3).tobytes()
