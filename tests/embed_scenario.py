"""MiniLM's vectors for varied texts, float32 and int8, as digests: run natively (imported by
tests) and inside Pyodide (tests/pyodide/run.mjs, with the model folder mounted), so both
homes are compared bit for bit. Prints JSON when run as a script."""
import hashlib
import json

from agentdb.embed import MiniLM
from agentdb.kernel import load

TEXTS = ["Remember to water the plants", "ÉTÉ à Paris, naïve café", "日本語のテキストです",
         "a [SEP] literal and [MASK] tokens", "x" * 3000, "emoji 👩‍👩‍👧 and \u202ebidi\u202c",
         " ".join(f"word{i}" for i in range(400)), "the car would not start this morning"]


def run(kernel):
    out = {}
    for quantized in (False, True):
        vectors = MiniLM(quantized=quantized, kernel=kernel).embed(TEXTS)
        out["int8" if quantized else "f32"] = hashlib.sha256(bytes(memoryview(vectors).cast("B"))).hexdigest()
    return out


if __name__ == "__main__":
    print(json.dumps(run(load())))
