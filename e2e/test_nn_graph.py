"""agentdb.nn's rope and graph attention in real Chromium (AgentDB.nn.rope.*,
AgentDB.nn.graph_attention.*, run in the worker over kernel.wasm): the kernel's own sin/cos
tables, the rotation and its backward, GraphRoPEAttention and EdgeFeaturedAttention give the
native bits."""
import random

from agentdb.nn import graph_attention, rope
from e2e_support import run


def rows(r, n, dim, scale=1.0):
    return [r.uniform(-scale, scale) for _ in range(n * dim)]


def test_rope_and_graph_attention_in_the_page_give_the_native_bits(page):
    r = random.Random(22)
    positions = [0, 1, 7, 1000, 123456, 1e6, 3e7]
    x, g = rows(r, 2 * 7, 18), rows(r, 2 * 7, 18)
    q, k, v = [rows(r, 1, 8) for _ in range(3)], [rows(r, 1, 8) for _ in range(5)], [rows(r, 1, 4) for _ in range(5)]
    gat = graph_attention.EdgeFeaturedAttention(6, 2, 2, seed=5)
    weights = {name: list(buf) for name, buf in gat.parameters().items()}
    nodes, edges, feats = [rows(r, 1, 6) for _ in range(4)], [[1, 2, 3, 0, 2], [0, 0, 1, 3, 3]], \
        [rows(r, 1, 2) for _ in range(5)]
    got = run(page, """
        const [positions, x, g, q, k, v, weights, nodes, edges, feats] = args;
        const nn = AgentDB.nn, hex = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
                                                       (b) => b.toString(16).padStart(2, "0")).join("");
        const [cos, sin] = await nn.rope.ropeTables({ positions, dim: 18 });
        const rot = { cos, sin, dim: 18, batch: 2, interleaved: true };
        return {
            cos: hex(cos), sin: hex(sin),
            apply: hex(await nn.rope.applyRope({ x, ...rot })),
            back: hex(await nn.rope.applyRopeBackward({ gradOut: g, ...rot })),
            rope: hex(await nn.graph_attention.graphRopeAttention({ queries: q, keys: k, values: v, dim: 8, heads: 2,
                queryPositions: [0, 3, 9], keyPositions: [1, 2, 3, 50, 600], maxPosition: 64 })),
            gat: hex(await nn.graph_attention.edgeFeaturedAttention({ x: nodes, edgeIndex: edges, edgeAttr: feats,
                nodeDim: 6, edgeDim: 2, heads: 2, weights })),
        };
    """, positions, x, g, q, k, v, weights, nodes, edges, feats)
    cos, sin = rope.rope_tables(positions, dim=18)
    assert (bytes.fromhex(got["cos"]), bytes.fromhex(got["sin"])) == (cos.tobytes(), sin.tobytes())
    rot = dict(dim=18, batch=2, interleaved=True)
    assert bytes.fromhex(got["apply"]) == rope.apply_rope(x, cos, sin, **rot).tobytes()
    assert bytes.fromhex(got["back"]) == rope.apply_rope_backward(g, cos, sin, **rot).tobytes()
    want = graph_attention.graph_rope_attention(q, k, v, dim=8, heads=2, query_positions=[0, 3, 9],
                                                key_positions=[1, 2, 3, 50, 600], max_position=64)
    assert bytes.fromhex(got["rope"]) == want.tobytes()
    assert bytes.fromhex(got["gat"]) == gat.forward(nodes, edges, feats).tobytes()
