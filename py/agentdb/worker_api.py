"""The requests the browser worker serves: {op, args} in, a JSON-able value out.

The JS client (web/agentdb.js) sends requests to the worker (web/worker.js), which calls
handle() in Pyodide. Structured values cross as JSON text (query scores as the hex of
their float32 bytes, exact); vectors cross as typed arrays and .rvf files as bytes. Errors
keep their Python class name (err.name in JS).
"""
import json

from . import open as open_store
from . import open_bytes
from .embed import EmbedderMismatchError, HashEmbedder, NeedEmbeddings, SuppliedEmbedder
from .memory.agent import REMOTE_METHODS, AgentMemory
from .store.store import open_log

_stores = {}
_memories = {}    # name -> the AgentMemory over that store (made again when the store is)
_closed = {}      # closed stores whose last commits the host has not taken yet


def _store(name):
    try:
        return _stores[name]
    except KeyError:
        raise KeyError(f"no open store named {name!r}") from None


def _answer(res):
    """A query's answer as the client (web/agentdb.js) reads it: scores as the hex of their
    float32 bytes, exact and ten times cheaper in Pyodide than the shortest repr of each."""
    return json.dumps({"ids": res.ids, "scoresHex": res.scores.tobytes().hex(), "metadata": res.metadata,
                       "exact": res.exact})


def stored_size(name):
    """Bytes of the store's .rvf as this worker last stored them (to notice other tabs' commits)."""
    db = _stores.get(name)
    return db._log.writer.offset if db is not None and db._log is not None else -1


def take_commits(name):
    """[kind, offset, bytes] chunks the host must store before it answers (see BufferLog)."""
    db = _stores.get(name)
    if db is None:               # not `or`: an empty store is falsy (len 0) and still has commits
        db = _closed.pop(name, None)
    return [list(chunk) for chunk in db.take_commits()] if db is not None else []


def _text_embedder(db):
    """The offline embedder, if it is the one the store's vectors come from (or none is recorded)."""
    embedder = HashEmbedder(dim=db.dim, kernel=db.kernel)
    if db.embedder is not None and db.embedder != embedder.identity:
        raise EmbedderMismatchError(f"this store's vectors come from {db.embedder['name']!r}; "
                                    f"text operations embed with {embedder.name!r}")
    return embedder


def _memory(name):
    """The store's AgentMemory: the offline embedder, or, when the store records another one,
    vectors the page supplies (its JS embedder function, see web/agentdb.js)."""
    db = _store(name)
    mem = _memories.get(name)
    if mem is None or mem.store is not db:
        foreign = db.embedder is not None and db.embedder["name"] != HashEmbedder.name
        embedder = SuppliedEmbedder(db.embedder, kernel=db.kernel) if foreign else None
        mem = _memories[name] = AgentMemory(db, embedder=embedder)
    return mem


def _memory_call(args):
    """{"value": the method's answer} or {"needEmbeddings": texts the page must embed first}."""
    method = args["method"]
    if method not in REMOTE_METHODS:
        raise AttributeError(f"agent memory has no method {method!r}")
    mem = _memory(args["name"])
    if isinstance(mem.embedder, SuppliedEmbedder):
        mem.embedder.vectors = args.get("embeddings") or {}      # this request's only
    try:
        return {"value": getattr(mem, method)(**args.get("args", {}))}
    except NeedEmbeddings as need:
        mem._next = None          # nothing was written: ids it reserved are free again
        return {"needEmbeddings": need.texts}


def handle(op, args_json, buffer=None):
    """Runs one request; args_json is a JSON object, buffer the request's vectors or bytes
    (a Python buffer), if any. Returns JSON text, or bytes for exportRvf."""
    args = json.loads(args_json)
    if hasattr(buffer, "to_memoryview"):      # a JS typed array (in Pyodide): one copy in
        buffer = buffer.to_memoryview()
    if op == "open":
        options = dict(args.get("options", {}))
        if options.pop("persist", False):       # buffer: the bytes stored for it, if any
            _stores[args["name"]] = open_log(bytes(buffer) if buffer is not None else None, **options)
        else:
            _stores[args["name"]] = open_store(**options)
        return json.dumps(_stores[args["name"]].status())
    if op == "importRvf":
        _stores[args["name"]] = open_bytes(bytes(buffer))
        return json.dumps(_stores[args["name"]].status())
    db = _store(args["name"])
    if op == "ingest":
        return json.dumps(db.ingest(args["ids"], buffer, metadata=args.get("metadata")))
    if op == "remember":                          # texts embedded in the kernel (offline, not semantic)
        texts = args["texts"]
        vectors = _text_embedder(db).embed(texts)
        metadata = [dict(m or {}, text=t) for m, t in zip(args.get("metadata") or [{}] * len(texts), texts)]
        return json.dumps(db.ingest(args["ids"], vectors, metadata=metadata))
    if op == "recall":
        vector = _text_embedder(db).embed([args["text"]])
        return _answer(db.query(vector, k=args.get("k", 10), where=args.get("where"), exact=args.get("exact", False)))
    if op == "query":
        return _answer(db.query(buffer, k=args.get("k", 10), where=args.get("where"), ef=args.get("ef"),
                                exact=args.get("exact", False)))
    if op == "queryBatch":                        # many queries, one message: the round trip paid once
        answers = db.query_batch(buffer, k=args.get("k", 10), where=args.get("where"), ef=args.get("ef"),
                                 exact=args.get("exact", False))
        return "[" + ",".join(map(_answer, answers)) + "]"
    if op == "get":
        rec = db.get(args["id"])
        return json.dumps({"id": rec.id, "vector": list(rec.vector), "metadata": rec.metadata})
    if op == "delete":
        return json.dumps({"deleted": db.delete(args["ids"], missing_ok=args.get("missingOk", False))})
    if op == "deleteByFilter":
        return json.dumps({"deleted": db.delete(where=args["where"])})
    if op == "maintain":                          # the worker, when the store is idle
        return json.dumps({"saved": db.maintain()})
    if op == "compact":
        return json.dumps(db.compact())
    if op == "status":
        return json.dumps(db.status())
    if op == "memory":                            # the agent-memory layer: {method, args: {keyword: value}}
        return json.dumps(_memory_call(args))
    if op == "exportRvf":
        return db.to_bytes()
    if op == "close":
        db = _stores.pop(args["name"])
        db.close()
        _closed[args["name"]] = db
        return "null"
    if op == "reload":                            # the host could not store a commit: back to the last one
        _stores.pop(args["name"], None)
        _stores[args["name"]] = open_log(bytes(buffer))
        return "null"
    raise ValueError(f"unknown operation {op!r}")
