"""A small learned model and memory for the agentdb.io tests, and the scenario the Pyodide
parity test runs in both homes (python tests/io_support.py prints its JSON)."""
import array
import hashlib
import io
import json
import struct

import agentdb.memory
from agentdb import io as aio
from agentdb.embed import HashEmbedder
from agentdb.kernel import load
from agentdb.learn import EWC, LoRA
from agentdb.learn.rng import SplitMix64


def floats(seed, n):
    rng = SplitMix64(seed)
    return array.array("f", [((rng.next() >> 40) / 2.0 ** 23 - 1.0) for _ in range(n)])


def model(kernel=None):
    """Two adapters (one trained-looking, B non-zero), an EWC, patterns, odd tensors."""
    q = LoRA(17, 17, rank=3, alpha=6, seed=1, kernel=kernel)
    q.b = floats(2, len(q.b))
    wide = LoRA(5, 3, rank=2, alpha=1.5, seed=3, kernel=kernel)
    wide.b = floats(4, len(wide.b))
    wide.freeze()
    ewc = EWC(lam=2.0, decay=0.5, kernel=kernel)
    ewc.register_task([q.a, q.b], [[floats(5, len(q.a)), floats(6, len(q.b))]])
    nan = struct.pack("<I", 0x7FC00001)            # a NaN with a payload: bits must survive
    return aio.Model(
        adapters={"query": q, "enc.wide": wide}, ewc={"query": ewc},
        patterns=[aio.Pattern("pattern:1", {"kind": "pattern", "approach": "split, then merge", "uses": 3},
                              floats(7, 17)),
                  aio.Pattern("note", {"text": "no vector"})],
        tensors={"embedding": ("F32", [2, 3], floats(8, 6).tobytes()), "odd": ("F32", [2], nan + b"\x00\x00\x80\x7f"),
                 "ids": ("I64", [3], struct.pack("<3q", -1, 0, 2 ** 62)), "half": ("BF16", [1], b"\x80\x3f")},
        metadata={"name": "io test", "epochs": 3, "nested": {"ok": True, "x": [1.5, None]}})


def memory(kernel=None):
    """An AgentMemory (hashing embedder, fixed clock) with episodes and feedback."""
    clock = iter(range(1_000_000, 2_000_000)).__next__
    mem = agentdb.memory.open(embedder=HashEmbedder(24, kernel=kernel), kernel=kernel, clock=lambda: float(clock()))
    mem.store_episodes([{"session": "s1", "task": f"task {i}", "input": f"input\n### {i}", "output": f"out {i}",
                         "critique": "" if i % 2 else "<|endoftext|> wait", "reward": i / 10, "success": i % 3 == 0,
                         "tags": ["t"] if i % 2 else [], "metadata": {"n": i}} for i in range(8)])
    note = mem.remember("ship on friday")
    for i in range(3):
        hits = mem.retrieve_episodes(f"task {i}", k=3)
        mem.feedback(hits.recall_id, useful=[hits[-1]["id"]])
    mem.feedback(query="when to ship", useful=note)
    return mem


def scenario(kernel):
    m = model(kernel)
    out = {"safetensors": aio.to_safetensors(m), "aligned": aio.to_safetensors(m, align=64),
           "json": aio.to_json(m).encode(), "binary": aio.to_binary(m, kernel=kernel),
           "peft": aio.to_peft({"query": m.adapters["query"]})["adapter_model.safetensors"],
           "bundle": aio.bundle.zip_bytes(aio.to_huggingface(m))}
    mem = memory(kernel)
    for fmt in aio.FORMATS:
        buf = io.StringIO()
        aio.export_dataset(mem, buf, format=fmt)
        out[fmt] = buf.getvalue().encode()
    return {name: hashlib.sha256(data).hexdigest() for name, data in out.items()}


if __name__ == "__main__":
    print(json.dumps(scenario(load())))
