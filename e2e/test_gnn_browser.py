"""agentdb.nn.gnn in real Chromium: GNNLayer's forward and backward run in the site's worker
(Pyodide over kernel.wasm, through AgentDB.runPython, as bench/bench_attention_browser.py
times them) give the native bits, with a residual projection (in_dim != out_dim) and without."""
import json
import random

from agentdb.nn.gnn import GNNLayer
from e2e_support import run

CODE = """
import json
from agentdb.nn.gnn import GNNLayer
out = []
for case in json.loads({cases!r}):
    layer = GNNLayer(case["in_dim"], case["out_dim"], case["heads"], seed=case["seed"])
    y = layer.forward(case["x"], (case["offsets"], case["targets"]))
    grads = layer.backward(case["grad"])
    out.append({{"y": y.tobytes().hex(), "grads": {{k: v.tobytes().hex() for k, v in grads.items()}}}})
json.dumps(out)
"""


def case(r, n, in_dim, out_dim, heads, seed):
    targets, offsets = [], [0]
    for i in range(n):
        targets += r.sample([j for j in range(n) if j != i], r.randint(0, 5))
        offsets.append(len(targets))
    return dict(in_dim=in_dim, out_dim=out_dim, heads=heads, seed=seed, offsets=offsets, targets=targets,
                x=[r.uniform(-1, 1) for _ in range(n * in_dim)], grad=[r.uniform(-1, 1) for _ in range(n * out_dim)])


def test_gnn_layer_in_the_worker_gives_the_native_bits(page):
    r = random.Random(21)
    cases = [case(r, 40, 12, 16, 4, 3), case(r, 25, 16, 16, 2, 7)]
    got = json.loads(run(page, "return await AgentDB.runPython(args[0]);", CODE.format(cases=json.dumps(cases))))
    assert len(got) == len(cases)
    for c, browser in zip(cases, got):
        layer = GNNLayer(c["in_dim"], c["out_dim"], c["heads"], seed=c["seed"])
        assert bytes.fromhex(browser["y"]) == layer.forward(c["x"], (c["offsets"], c["targets"])).tobytes()
        grads = layer.backward(c["grad"])
        assert sorted(browser["grads"]) == sorted(grads)
        assert {k: bytes.fromhex(v) for k, v in browser["grads"].items()} == {k: v.tobytes() for k, v in grads.items()}
