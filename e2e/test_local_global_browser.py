"""agentdb.nn.local_global in real Chromium (the site's worker: Pyodide over kernel.wasm):
local_global_attention and its backward through AgentDB.nn.localGlobal, LocalGlobalAttention's
compute through localGlobalCompute, and the class itself (forward, backward, a JSON round trip)
through AgentDB.runPython give the native bits."""
import json
import random

from agentdb.nn import local_global as LG
from e2e_support import run

CODE = """
import json
from agentdb.nn.local_global import LocalGlobalAttention
case = json.loads({case!r})
att = LocalGlobalAttention.from_json(case["config"])
y = att.forward(case["x"])
grads = att.backward(case["grad"])
json.dumps({{"y": y.tobytes().hex(), "grads": {{k: v.tobytes().hex() for k, v in grads.items()}}}})
"""


def rows(r, n, dim):
    return [r.uniform(-1, 1) for _ in range(n * dim)]


def test_local_global_in_the_page_gives_the_native_bits(page):
    r = random.Random(23)
    n, d, dv, heads = 150, 16, 8, 2            # 150 keys: more than one tile of 64
    q, k, v, g = rows(r, heads * n, d), rows(r, heads * n, d), rows(r, heads * n, dv), rows(r, heads * n, dv)
    pattern = dict(window=5, global_tokens=2, causal=True)
    got = run(page, """
        const [q, k, v, g, d] = args;
        const lg = AgentDB.nn.localGlobal, hex = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset,
            a.byteLength), (b) => b.toString(16).padStart(2, "0")).join("");
        const kw = { q, k, v, dim: d, heads: 2, window: 5, globalTokens: 2, causal: true };
        const [dq, dk, dv] = await lg.localGlobalBackward({ ...kw, gradOut: g });
        return {
            out: hex(await lg.localGlobalAttention(kw)),
            dq: hex(dq), dk: hex(dk), dv: hex(dv),
            one: hex(await lg.localGlobalCompute({ query: q.slice(0, 2 * d), keys: k, values: v, dim: 2 * d,
                                                   window: 5, globalTokens: 2, heads: 2, position: 70 })),
            middle: hex(await lg.localGlobalCompute({ query: q.slice(0, 2 * d), keys: k, values: v, dim: 2 * d,
                                                      window: 5, globalTokens: 2, heads: 2 })),
        };
    """, q, k, v, g, d)
    kw = dict(dim=d, heads=heads, **pattern)
    assert bytes.fromhex(got["out"]) == LG.local_global_attention(q, k, v, **kw).tobytes()
    for name, want in zip(("dq", "dk", "dv"), LG.local_global_backward(q, k, v, g, **kw)):
        assert bytes.fromhex(got[name]) == want.tobytes(), name
    att = LG.LocalGlobalAttention(2 * d, 5, 2, heads)
    assert bytes.fromhex(got["one"]) == att.compute(q[:2 * d], k, v, position=70).tobytes()
    assert bytes.fromhex(got["middle"]) == att.compute(q[:2 * d], k, v).tobytes()

    module = LG.LocalGlobalAttention(24, 7, 3, 3, causal=False)
    case = {"config": module.to_json(), "x": rows(r, 130, 24), "grad": rows(r, 130, 24)}
    browser = json.loads(run(page, "return await AgentDB.runPython(args[0]);", CODE.format(case=json.dumps(case))))
    assert bytes.fromhex(browser["y"]) == module.forward(case["x"]).tobytes()
    grads = module.backward(case["grad"])
    assert {n: bytes.fromhex(h) for n, h in browser["grads"].items()} == {n: b.tobytes() for n, b in grads.items()}
