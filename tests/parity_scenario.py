"""One scenario, run natively (imported by tests) and inside Pyodide (tests/pyodide/run.mjs):
kernel ops, a store with filters and HNSW, and its .rvf bytes. Pure Python, no numpy, data
from random.Random, so both homes start from the same bits. Prints JSON when run as a script."""
import array
import hashlib
import json
import random

import agentdb
from agentdb.kernel import load

DIM, N = 48, 3000


def digest(buf):
    return hashlib.sha256(bytes(memoryview(buf).cast("B"))).hexdigest()[:24]


def run(kernel):
    rng = random.Random(42)
    x = array.array("f", (rng.gauss(0, 1) for _ in range(N * DIM)))
    q = array.array("f", (rng.gauss(0, 1) for _ in range(DIM)))
    out = {}
    for metric in ("dot", "l2", "cos"):
        out[f"scan_{metric}"] = digest(kernel.scan(q, x, dim=DIM, metric=metric))
    out["softmax"] = digest(kernel.softmax(q))
    out["gelu"] = digest(kernel.gelu(q))
    lo, step = kernel.sq8_train(x, dim=DIM)
    out["sq8"] = digest(kernel.sq8_encode(x, lo, step, dim=DIM))
    out["crc"] = kernel.crc32c(bytes(memoryview(x).cast("B")))
    out["embed"] = digest(b"".join(bytes(memoryview(kernel.embed_hash(t, dim=DIM)).cast("B")) for t in (
        "Remember to water the plants", "ÉTÉ à Paris, naïve café", "日本語のテキスト", "", "x" * 500)))
    meta = [{"kind": ("note", "todo", "idea")[i % 3], "year": 2000 + i % 25} for i in range(N)]
    db = agentdb.open(dim=DIM, metric="cosine", m=8, ef_construction=64, kernel=kernel)
    db.ingest([f"id{i}" for i in range(N)], x, metadata=meta)
    db.delete([f"id{i}" for i in range(0, N, 11)])
    for where in (None, {"kind": "note"}, {"year": {"gt": 2020}, "not": {"kind": "idea"}}):
        for exact in (False, True):
            res = db.query(q, k=10, where=where, exact=exact)
            out[f"query_{json.dumps(where)}_{exact}"] = [res.ids, digest(res.scores), res.exact]
    db.identity.file_id = bytes(16)        # the only random part of the bytes
    out["rvf"] = digest(db.to_bytes())
    return out


if __name__ == "__main__":
    print(json.dumps(run(load())))
