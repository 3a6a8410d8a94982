"""Attention and the GNN layer in Chromium: agentdb's SDPA (plain, flash, causal) and
GNNLayer.forward in the site's worker against onnxruntime-web (wasm, one thread) on the same
page, and the same calls natively, one run.

    .venv/bin/python bench/bench_attention_browser.py [--repeat 5] [--lengths 128 256 512 1024]
                     [--gnn-nodes 500 2000] [--gnn-dim 128] [--gnn-heads 4] [--gnn-degree 8]

Ours: the built site in headless Chromium (Playwright, e2e's browser and flags); in its
worker, through AgentDB.runPython, Pyodide's Kernel.sdpa over KBuffers already in
kernel.wasm's memory (agentdb.nn.attention's kernel call, scratch reused: what
bench/bench_attention.py times natively), batch 1, heads 8 x head dim 64, n_q = n_k = L, and
GNNLayer.forward(x, (offsets, targets)) (the adjacency read on every call); each in a Python
loop timed by time.perf_counter inside the worker, so neither the page-to-worker messages nor
the inputs' copy is measured. The native column: the same calls on the native kernel.
The peer: onnxruntime-web's wasm backend (numThreads = 1, its SIMD build, graph optimisation
'all') on the page, session.run() over tensors made once, with graphs built at bench time by
the `onnx` package into bench/.cache/attention/. SDPA in three forms, the peer column the
fastest: the ONNX opset-23 Attention op (is_causal), com.microsoft's MultiHeadAttention
(contrib op, (1, L, 512) layout, unidirectional) and the unfused graph (MatMul, Mul, Softmax,
MatMul; an additive -inf mask for causal). The GNN layer as PyG's GATConv exports it (per-edge
Gather, the softmax's segment max and sum by ScatterND reductions, messages scattered back by
ScatterND add), then the residual and LayerNormalization, with the layer's very weights and
the graph's edges baked in as constants. session.run() copies the inputs into its wasm memory
on each call (its API: no resident inputs on the wasm EP): ~6 MB at L = 1024, ~0.2 ms at the
copy speed seen here (docs: TOOLCHAIN), against its ~90 ms.
Timing: a timed run repeats the call until it has taken ~60 ms (the clock ticks in 100 us
steps there) after one warm-up call; ours in the worker, ours natively and the peer take
turns, run by run, best of --repeat runs (the machine is shared). Checks: every
configuration's worker output is the native bits (sha256), and so is
AgentDB.nn.attention.scaledDotProductAttention called from the page at the smallest L (the
public path); the peer's outputs agree with ours to <= 1e-5 relative (else the run fails).
Needs: build/setup.sh (Pyodide, onnxruntime-web, onnx), chromium, playwright. Takes ~8 minutes.

## SDPA and the GNN layer in Chromium, one thread
Measured 2026-12-07 on the 2-core shared AMD EPYC box (Debian's Chromium headless, kernel.wasm
simd128, onnxruntime-web 1.31.1; native avx512), ms per call, best of 7 runs, the last full
run (load average ~1 during it: other jobs were running; three earlier runs under load 6-8
gave ours 1.5-3.2 ms at L = 128 and ratios 0.57-1.19x plain, 0.44-1.51x causal). ratio =
peer ms / ours ms (> 1: ours is faster); peer = the fastest ONNX form:

    L      sdpa ours  peer    ratio   flash   causal ours  peer   ratio   native sdpa  causal   Chromium/native
    128        1.55      1.4    0.90x    1.71      1.94      1.48   0.77x      0.735    0.582     2.11x
    256        6.06     5.41    0.89x    6.48      5.37      5.67   1.06x       2.66     1.84     2.28x
    512        23.2     21.3    0.92x    25.4      17.2      22.5   1.30x         10     6.59     2.32x
    1024       93.4     87.5    0.94x     102      58.8      93.5   1.59x       41.6       24     2.24x

    onnxruntime-web per ONNX form, ms per call (plain / causal):
    128    attention23 1.4 / 1.6   mha 1.62 / 1.56   unfused 1.56 / 1.48
    256    attention23 5.53 / 5.67   mha 5.85 / 6.27   unfused 5.41 / 5.71
    512    attention23 22.9 / 22.5   mha 21.3 / 22.5   unfused 21.8 / 22.9
    1024   attention23 87.7 / 93.5   mha 89.6 / 93.8   unfused 87.5 / 93.7

GNNLayer.forward, 128 -> 128, 4 heads, 8 neighbours per node (+ itself), re-measured
2026-12-07 23:31 after csrc/gnn.c (the per-node loop moved into one kernel call), GNN part
alone (--lengths with no value), best of 7 runs, load average ~8.5 (other jobs; a best-of-5 run
just before: ours 2.91 / 12.4 ms, peer 5.64 / 21.5 ms, ratios 1.94x / 1.74x):

    nodes   ours    peer    ratio   native   Chromium/native
    500        2.7    5.67    2.11x     1.78     1.51x
    2000      11.6    19.6    1.69x     4.46     2.60x

(before csrc/gnn.c, same peer: ours 44.9 / 179 ms, 0.05x / 0.06x; native 22.6 / 88.7 ms.)

Worker bits == native bits in every configuration (and through AgentDB.nn.attention from the
page); the peer agrees with ours to 3.6e-7 relative at most.
Reading: plain SDPA in Chromium is at parity with onnxruntime-web's best form (0.89-0.94x;
all three ONNX forms run within ~10% of one another), causal is faster from L = 256 (1.06-1.59x:
ours skips the masked key tiles, onnxruntime-web's causal costs what its plain does) and
slower at L = 128; flash costs 5-10% over plain (its scratch is fixed whatever L). Chromium
is ~2.2x native (128-bit wasm SIMD against AVX-512, no FMA either side of ours). The GNN
layer, once a Python loop per node (16-18x slower than its ONNX graph), is now one kernel call
for all nodes (csrc/gnn.c: scores, the per-node softmax and the aggregation) and runs
1.7-2.1x faster than onnxruntime-web's GATConv graph, whose per-edge Gather / ScatterND
reductions cost more than the arithmetic; the Chromium/native ratio (1.5-2.6x) is noisier
than the SDPA one under the load of that run.
"""
import argparse
import base64
import functools
import hashlib
import inspect
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from agentdb.kernel import load

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache" / "attention"
ORT = ROOT / "bench" / "browser" / "node_modules" / "onnxruntime-web" / "dist"
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "e2e"))

HEAD_DIM = 64
TARGET_S = 0.06                       # a timed run lasts about this long
MODES = ("plain", "flash", "causal")  # ours; the peer has no flash form (its plain graph is the same work)
FORMS = ("attention23", "mha", "unfused")


def onnx_model(form, heads, length, causal):
    """The path of an ONNX attention graph (inputs q, k, v; output o) for one shape, built with
    the onnx package and cached: "attention23" the opset-23 Attention op on (1, heads, L, 64),
    "mha" com.microsoft.MultiHeadAttention on (1, L, heads x 64), "unfused" MatMul / Mul /
    Softmax / MatMul on (1, heads, L, 64) (an additive mask for causal)."""
    import onnx
    from onnx import TensorProto, helper

    path = CACHE / f"{form}-h{heads}-d{HEAD_DIM}-L{length}{'-causal' if causal else ''}-onnx{onnx.__version__}.onnx"
    if path.exists():
        return path
    d = HEAD_DIM
    shape = [1, length, heads * d] if form == "mha" else [1, heads, length, d]
    io = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    inits, opset = [], [helper.make_opsetid("", 23 if form == "attention23" else 17)]
    if form == "attention23":
        nodes = [helper.make_node("Attention", ["q", "k", "v"], ["o"], is_causal=int(causal))]
    elif form == "mha":
        nodes = [helper.make_node("MultiHeadAttention", ["q", "k", "v"], ["o"], domain="com.microsoft",
                                  num_heads=heads, unidirectional=int(causal))]
        opset.append(helper.make_opsetid("com.microsoft", 1))
    else:
        inits.append(helper.make_tensor("scale", TensorProto.FLOAT, [], [1 / math.sqrt(d)]))
        nodes = [helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
                 helper.make_node("MatMul", ["q", "kt"], ["s"]),
                 helper.make_node("Mul", ["s", "scale"], ["scaled"])]
        logits = "scaled"
        if causal:
            mask = np.triu(np.full((length, length), -np.inf, np.float32), 1)
            inits.append(helper.make_tensor("mask", TensorProto.FLOAT, [length, length], mask.tobytes(), raw=True))
            nodes.append(helper.make_node("Add", ["scaled", "mask"], ["masked"]))
            logits = "masked"
        nodes += [helper.make_node("Softmax", [logits], ["p"], axis=-1), helper.make_node("MatMul", ["p", "v"], ["o"])]
    graph = helper.make_graph(nodes, f"sdpa_{form}", [io(n) for n in "qkv"], [io("o")], initializer=inits)
    model = helper.make_model(graph, opset_imports=opset, ir_version=10)   # onnxruntime-web 1.31 reads IR <= 11
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    tmp.rename(path)
    return path


def gnn_graph(n, degree, seed):
    """CSR (offsets, targets): each node aggregates from `degree` distinct other nodes at random."""
    rng = np.random.default_rng(seed)
    targets = []
    for i in range(n):
        pick = rng.choice(n - 1, degree, replace=False)
        targets += [int(j) + int(j >= i) for j in pick]               # never i itself
    return list(range(0, n * degree + 1, degree)), targets


def gnn_onnx(layer, n, hoods):
    """The path of GNNLayer.forward as an ONNX graph for one layer's weights and one graph (the
    edges baked in as constants), x (n, in_dim) -> y (n, out_dim), built with the onnx package
    and cached by its content: PyG GATConv's export pattern (gather per edge, a segment max and
    sum by ScatterND reductions, messages scattered back), then the residual and
    LayerNormalization."""
    from onnx import TensorProto, helper, numpy_helper

    D, H, hd, din = layer.out_dim, layer.heads, layer.head_dim, layer.in_dim
    src = np.array([i for i, hood in enumerate(hoods) for _ in hood], np.int64)
    dst = np.array([j for hood in hoods for j in hood], np.int64)
    blk = np.frombuffer(layer._att_blocks(), np.float32).reshape(D, 2 * H)
    f32 = lambda a: np.frombuffer(a, np.float32)
    consts = {"W": f32(layer.weight).reshape(din, D), "Bs": np.ascontiguousarray(blk[:, :H]),
              "Bt": np.ascontiguousarray(blk[:, H:]), "src": src, "dst": dst, "src2": src[:, None],
              "ninf": np.full((n, H), -np.inf, np.float32), "zeros": np.zeros((n, H), np.float32),
              "zeros3": np.zeros((n, H, hd), np.float32), "shape3": np.array([n, H, hd], np.int64),
              "shape2": np.array([n, D], np.int64), "axis2": np.array([2], np.int64),
              "gamma": f32(layer.gamma), "beta": f32(layer.beta)}
    if layer.proj is not None:
        consts["P"] = f32(layer.proj).reshape(din, D)
    node = helper.make_node
    nodes = [node("MatMul", ["x", "W"], ["z"]), node("MatMul", ["z", "Bs"], ["s"]), node("MatMul", ["z", "Bt"], ["t"]),
             node("Gather", ["s", "src"], ["si"]), node("Gather", ["t", "dst"], ["tj"]),
             node("Add", ["si", "tj"], ["u"]), node("LeakyRelu", ["u"], ["e"], alpha=0.2),
             node("ScatterND", ["ninf", "src2", "e"], ["m"], reduction="max"),
             node("Gather", ["m", "src"], ["mi"]), node("Sub", ["e", "mi"], ["em"]), node("Exp", ["em"], ["ex"]),
             node("ScatterND", ["zeros", "src2", "ex"], ["den"], reduction="add"),
             node("Gather", ["den", "src"], ["di"]), node("Div", ["ex", "di"], ["alpha"]),
             node("Reshape", ["z", "shape3"], ["zh"]), node("Gather", ["zh", "dst"], ["zj"]),
             node("Unsqueeze", ["alpha", "axis2"], ["a3"]), node("Mul", ["zj", "a3"], ["msg"]),
             node("ScatterND", ["zeros3", "src2", "msg"], ["agg"], reduction="add"),
             node("Reshape", ["agg", "shape2"], ["h"])]
    if layer.proj is not None:
        nodes.append(node("MatMul", ["x", "P"], ["r"]))
    nodes += [node("Add", ["h", "x" if layer.proj is None else "r"], ["hr"]),
              node("LayerNormalization", ["hr", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-5)]
    graph = helper.make_graph(nodes, "gnn_layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, din])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, D])],
                              initializer=[numpy_helper.from_array(v, name) for name, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)
    raw = model.SerializeToString()
    path = CACHE / f"gnn-{hashlib.sha256(raw).hexdigest()[:16]}.onnx"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".tmp").write_bytes(raw)
        path.with_suffix(".tmp").rename(path)
    return path


def data(heads, length, seed):
    """q, k, v: (heads, L, 64) float32 standard normals."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((heads, length, HEAD_DIM)).astype(np.float32) for _ in range(3)]


def timed(fn, target=TARGET_S):
    """Seconds per call of fn over one run of about target seconds, after a warm-up call."""
    t = time.perf_counter()
    fn()
    calls = max(1, math.ceil(target / max(time.perf_counter() - t, 1e-6)))
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


# Runs in the worker's Pyodide (AgentDB.runPython: one shared global namespace): the inputs
# fetched once into KBuffers / buffers, each configuration registered as (call, its output
# as bytes) under its key, then _bench_run(key) times one run with timed() (its source).
WORKER_SETUP = """
import array, hashlib, json, math, time
from pyodide.http import pyfetch
from agentdb.kernel import load
from agentdb.nn.gnn import GNNLayer

_K = load()
_CALLS = {}

async def _get(name):
    return await (await pyfetch("ORIGIN/data/" + name)).bytes()

def _sdpa(L, mode, q, k, v, out, scratch):
    def call():
        _K.sdpa(q, k, v, batch=1, heads=HEADS, n_q=L, n_k=L, d=64, dv=64, layout=[64, 0, L * 64] * 4 + [0, 0, 0],
                scale=1 / math.sqrt(64), causal=mode == "causal", flash=mode == "flash", scratch=scratch, out=out)
    return call, lambda: out.read().tobytes()

def _gnn(layer, x, adjacency):
    y = []
    def call():
        y[:] = [layer.forward(x, adjacency)]
    return call, lambda: y[0].tobytes()

for _L in LENGTHS:
    _q, _k, _v = [_K.from_buffer(await _get(f"{_L}.{_n}.f32")) for _n in "qkv"]
    for _mode in MODES:
        _s = _K.alloc(_K.sdpa_scratch_len(_L, 64, 64, flash=_mode == "flash"))
        _CALLS[f"attention/{_L}/{_mode}"] = _sdpa(_L, _mode, _q, _k, _v, _K.alloc(HEADS * _L * 64), _s)
for _n in GNN_NODES:
    _spec = json.loads(await _get(f"gnn{_n}.json"))
    _x = array.array("f")
    _x.frombytes(await _get(f"gnn{_n}.x.f32"))
    _layer = GNNLayer(_spec["in_dim"], _spec["out_dim"], _spec["heads"], seed=_spec["seed"])
    _CALLS[f"gnn/{_n}"] = _gnn(_layer, _x, (_spec["offsets"], _spec["targets"]))

TIMED
def _bench_run(key):
    call, output = _CALLS[key]
    return json.dumps({"s": timed(call), "sha256": hashlib.sha256(output()).hexdigest()})
_K.isa
"""

ORT_LOAD = """async () => {
    window.ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = '/ort/';
    window.sessions = {};
    return ort.env.versions.web;
}"""

# one session per key, its feeds ([name, served file, shape]) made once
ORT_SESSION = """async ([key, model, inputs]) => {
    const feeds = {};
    for (const [name, file, shape] of inputs)
        feeds[name] = new ort.Tensor('float32', new Float32Array(await (await fetch('/data/' + file)).arrayBuffer()), shape);
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'],
                                                                graphOptimizationLevel: 'all' });
    sessions[key] = { session, feeds };
}"""

ORT_RUN = """async ([key, target]) => {
    const { session, feeds } = sessions[key];
    let t = performance.now();
    await session.run(feeds);
    const calls = Math.max(1, Math.ceil(target / Math.max(performance.now() - t, 0.1)));
    t = performance.now();
    for (let i = 0; i < calls; i++) await session.run(feeds);
    return (performance.now() - t) / calls / 1000;
}"""

ORT_OUTPUT = """async (key) => {
    const { session, feeds } = sessions[key];
    const o = Object.values(await session.run(feeds))[0].data, bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
}"""

# the public path: one call from the page (inputs as Float32Arrays, sent to the worker)
PUBLIC = """async ([L, heads]) => {
    const get = async (name) => new Float32Array(await (await fetch(`/data/${L}.${name}.f32`)).arrayBuffer());
    const out = await AgentDB.nn.attention.scaledDotProductAttention(
        { q: await get('q'), k: await get('k'), v: await get('v'), dim: 64, batch: 1, heads });
    const digest = await crypto.subtle.digest('SHA-256', out);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}"""


def rel(a, b):
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def native_calls(kernel, heads, lengths, gnn, folder):
    """{key: (call, its output as bytes)} natively, as WORKER_SETUP registers them in the worker,
    from the files written to folder."""
    from agentdb.nn.gnn import GNNLayer

    calls, d = {}, HEAD_DIM
    for L in lengths:
        qb, kb, vb = (kernel.from_buffer(np.fromfile(folder / f"{L}.{n}.f32", np.float32)) for n in "qkv")
        for mode in MODES:
            out = kernel.alloc(heads * L * d)
            scratch = kernel.alloc(kernel.sdpa_scratch_len(L, d, d, flash=mode == "flash"))
            call = functools.partial(kernel.sdpa, qb, kb, vb, batch=1, heads=heads, n_q=L, n_k=L, d=d, dv=d,
                                     layout=[d, 0, L * d] * 4 + [0, 0, 0], scale=1 / math.sqrt(d),
                                     causal=mode == "causal", flash=mode == "flash", scratch=scratch, out=out)
            calls[f"attention/{L}/{mode}"] = (call, lambda out=out: bytes(out.view()))
    for n, spec in gnn.items():
        layer = GNNLayer(spec["in_dim"], spec["out_dim"], spec["heads"], seed=spec["seed"], kernel=kernel)
        x, y = np.fromfile(folder / f"gnn{n}.x.f32", np.float32), []
        call = functools.partial(lambda layer, x, adj, y: y.__setitem__(slice(None), [layer.forward(x, adj)]),
                                 layer, x, (spec["offsets"], spec["targets"]), y)
        calls[f"gnn/{n}"] = (call, lambda y=y: y[0].tobytes())
    return calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--lengths", type=int, nargs="*", default=[128, 256, 512, 1024])
    ap.add_argument("--gnn-nodes", type=int, nargs="*", default=[500, 2000], help="none: no GNN part")
    ap.add_argument("--gnn-dim", type=int, default=128, help="in_dim = out_dim")
    ap.add_argument("--gnn-heads", type=int, default=4)
    ap.add_argument("--gnn-degree", type=int, default=8, help="neighbours aggregated per node")
    a = ap.parse_args()
    from agentdb.nn.gnn import GNNLayer, neighbourhoods

    import build_site
    from site_server import app_page

    kernel = load("native")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        peer_models, peer_inputs, groups = {}, {}, []   # groups: (our keys, the peer's keys) run by turns
        for L in a.lengths:
            for name, x in zip("qkv", data(a.heads, L, seed=L)):
                x.tofile(tmp / f"{L}.{name}.f32")
                np.ascontiguousarray(x.transpose(1, 0, 2)).tofile(tmp / f"{L}.{name}t.f32")  # (L, heads x 64)
            keys = []
            for form in FORMS:
                for causal in (False, True):
                    key = f"attention/{L}/{form}/{'causal' if causal else 'plain'}"
                    peer_models[key] = onnx_model(form, a.heads, L, causal)
                    shape, suffix = ([1, L, a.heads * HEAD_DIM], "t") if form == "mha" else ([1, a.heads, L, HEAD_DIM], "")
                    peer_inputs[key] = [[n, f"{L}.{n}{suffix}.f32", shape] for n in "qkv"]
                    keys.append(key)
            groups.append(([f"attention/{L}/{m}" for m in MODES], keys))
        gnn = {}
        for n in a.gnn_nodes:
            offsets, targets = gnn_graph(n, a.gnn_degree, seed=n)
            gnn[n] = dict(in_dim=a.gnn_dim, out_dim=a.gnn_dim, heads=a.gnn_heads, seed=n, offsets=offsets, targets=targets)
            (tmp / f"gnn{n}.json").write_text(json.dumps(gnn[n]))
            np.random.default_rng(n).standard_normal((n, a.gnn_dim)).astype(np.float32).tofile(tmp / f"gnn{n}.x.f32")
            layer = GNNLayer(a.gnn_dim, a.gnn_dim, a.gnn_heads, seed=n, kernel=kernel)
            peer_models[f"gnn/{n}"] = gnn_onnx(layer, n, neighbourhoods((offsets, targets), n))
            peer_inputs[f"gnn/{n}"] = [["x", f"gnn{n}.x.f32", [n, a.gnn_dim]]]
            groups.append(([f"gnn/{n}"], [f"gnn/{n}"]))
        native = native_calls(kernel, a.heads, a.lengths, gnn, tmp)
        native_s = dict.fromkeys(native, math.inf)
        for call, _output in native.values():
            call()
        digests = {key: hashlib.sha256(output()).hexdigest() for key, (_call, output) in native.items()}

        with app_page(build_site.build(), {"/ort/": ORT, "/onnx/": CACHE, "/data/": tmp}) as page:
            setup = (WORKER_SETUP.replace("LENGTHS", repr(list(a.lengths))).replace("GNN_NODES", repr(list(a.gnn_nodes)))
                     .replace("HEADS", str(a.heads)).replace("MODES", repr(MODES))
                     .replace("TIMED", f"TARGET_S = {TARGET_S}\n{inspect.getsource(timed)}")
                     .replace("ORIGIN", page.evaluate("location.origin")))
            isa = page.evaluate("(code) => AgentDB.runPython(code)", setup)
            public = page.evaluate(PUBLIC, [min(a.lengths), a.heads]) if a.lengths else None
            version = page.evaluate(ORT_LOAD)
            for key, path in peer_models.items():
                page.evaluate(ORT_SESSION, [key, f"/onnx/{path.name}", peer_inputs[key]])
            ours, peer, same = {}, dict.fromkeys(peer_models, math.inf), {}
            for _ in range(a.repeat):
                for our_keys, peer_keys in groups:
                    for key in our_keys:
                        got = json.loads(page.evaluate("(code) => AgentDB.runPython(code)",
                                                       f"_bench_run({key!r})"))
                        ours[key] = min(ours.get(key, math.inf), got["s"])
                        same[key] = got["sha256"] == digests[key]
                        native_s[key] = min(native_s[key], timed(native[key][0]))   # the browser idle meanwhile
                    for key in peer_keys:
                        peer[key] = min(peer[key], page.evaluate(ORT_RUN, [key, TARGET_S * 1000]))
            errors = {}
            for key in peer_models:
                o = np.frombuffer(base64.b64decode(page.evaluate(ORT_OUTPUT, key)), np.float32)
                if key.startswith("attention/"):
                    _, L, form, mode = key.split("/")
                    if form == "mha":
                        o = o.reshape(int(L), a.heads, HEAD_DIM).transpose(1, 0, 2)
                    key_ours = f"attention/{L}/{mode}"
                else:
                    key_ours = key
                errors[key] = rel(o, np.frombuffer(native[key_ours][1](), np.float32))

    report(a, kernel, isa, version, ours, peer, native_s, errors, same, public, digests)


def report(a, kernel, isa, version, ours, peer, native_s, errors, same, public, digests):
    print(f"Chromium: kernel {isa}, onnxruntime-web {version} (wasm, 1 thread); native {kernel.isa}; "
          f"ms per call, best of {a.repeat} runs")
    if a.lengths:
        print(f"\nSDPA, heads {a.heads} x head dim {HEAD_DIM} (peer = the fastest ONNX form)")
        print("    L      sdpa ours  peer    ratio   flash   causal ours  peer   ratio   native sdpa  causal   "
              "Chromium/native")
    for L in a.lengths:
        best = lambda mode: min(peer[f"attention/{L}/{f}/{mode}"] for f in FORMS) * 1e3
        s, f, c = (ours[f"attention/{L}/{m}"] * 1e3 for m in MODES)
        ns, nc = (native_s[f"attention/{L}/{m}"] * 1e3 for m in ("plain", "causal"))
        print(f"    {L:<6} {s:8.3g} {best('plain'):8.3g} {best('plain') / s:7.2f}x {f:7.3g} {c:9.3g} "
              f"{best('causal'):9.3g} {best('causal') / c:6.2f}x {ns:10.3g} {nc:8.3g}   {s / ns:6.2f}x")
    if a.lengths:
        print("\n    onnxruntime-web per ONNX form, ms per call (plain / causal):")
    for L in a.lengths:
        print(f"    {L:<6} " + "   ".join(f"{form} {peer[f'attention/{L}/{form}/plain'] * 1e3:.3g} / "
                                        f"{peer[f'attention/{L}/{form}/causal'] * 1e3:.3g}" for form in FORMS))
    if a.gnn_nodes:
        print(f"\nGNNLayer.forward, {a.gnn_dim} -> {a.gnn_dim}, {a.gnn_heads} heads, {a.gnn_degree} neighbours "
              f"per node (+ itself)")
        print("    nodes   ours    peer    ratio   native   Chromium/native")
    for n in a.gnn_nodes:
        o, p, nat = ours[f"gnn/{n}"] * 1e3, peer[f"gnn/{n}"] * 1e3, native_s[f"gnn/{n}"] * 1e3
        print(f"    {n:<6} {o:7.3g} {p:7.3g} {p / o:7.2f}x {nat:8.3g}   {o / nat:6.2f}x")
    public_same = public is None or public == digests[f"attention/{min(a.lengths)}/plain"]
    print(f"\nratio = peer ms / ours ms (> 1: ours is faster). Worker bits == native bits: "
          f"{'all' if all(same.values()) else 'NOT ' + str([k for k, v in same.items() if not v])} configurations"
          + (f"; AgentDB.nn.attention from the page at L = {min(a.lengths)}: "
             f"{'native bits' if public_same else 'DIFFERS from native'}" if a.lengths else "")
          + f". Largest relative error of the peer against ours: {max(errors.values()):.1e}")
    if not all(same.values()) or not public_same or max(errors.values()) > 1e-5:
        raise SystemExit("the outputs disagree: the comparison is not like for like")


if __name__ == "__main__":
    main()
