"""The requests the browser worker serves: {op, args} in, a JSON-able value out.

The JS client (web/agentdb.js) sends requests to the worker (web/worker.js), which calls
handle() in Pyodide. Structured values cross as JSON text (query scores as the hex of
their float32 bytes, exact); vectors cross as typed arrays and .rvf files as bytes. Errors
keep their Python class name (err.name in JS).

Text is embedded in the worker by all-MiniLM-L6-v2 (the default: for stores that record it
or no embedder at all), by the hashing embedder (stores that record it) or, for any other
recorded model, by the page (SuppliedEmbedder). The model is loaded lazily: embedding with it
before the worker has fetched its files raises ModelNotLoadedError; the worker then fetches
them, calls load_model() and repeats the request (nothing was written: requests embed first).
"""
import json

from . import open as open_store
from . import open_bytes
from .embed import EmbedderError, EmbedderMismatchError, HashEmbedder, NeedEmbeddings, SuppliedEmbedder, minilm
from .errors import DimensionError
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


_models = {}      # identity name -> MiniLM, once the worker has handed over its files (load_model)


class ModelNotLoadedError(EmbedderError):
    """Raised for text that needs a model the worker has not loaded yet; its message is the
    model's name. The worker catches it, loads the model and repeats the request."""


class _WorkerModel:
    """all-MiniLM-L6-v2 (or its int8 variant) as the worker's embedder: its identity from
    the start, its weights once loaded (so a store opens without them)."""

    dim, semantic = minilm.MiniLM.dim, minilm.MiniLM.semantic

    def __init__(self, name):
        self.name = name

    @property
    def identity(self):
        return {"name": self.name, "dim": self.dim, "semantic": self.semantic}

    def embed(self, texts):
        model = _models.get(self.name)
        if model is None:
            raise ModelNotLoadedError(self.name)
        return model.embed(texts)


def load_model(name, model_dir, weights, progress=None):
    """Loads the model `name` (all-MiniLM-L6-v2 or its -int8 variant) from what the worker
    fetched: its small files in model_dir (Pyodide's file system) and the SafeTensors bytes
    (a JS Uint8Array: one copy into Python, dropped once the kernel holds the packed weights).
    progress(stage, done, total) as for MiniLM; it reports "embed" progress later too."""
    if name not in (minilm.NAME, minilm.INT8_NAME):
        raise EmbedderError(f"unknown model {name!r}: the worker serves {minilm.NAME!r} and {minilm.INT8_NAME!r}")
    if name not in _models:
        _models[name] = minilm.MiniLM(name == minilm.INT8_NAME, model_dir=model_dir, progress=progress,
                                      weights=weights.to_memoryview()).load()


def _embedder(db):
    """The embedder of the store's text: the one it records (the page's, for a model the
    worker does not run), else all-MiniLM-L6-v2."""
    ident = db.embedder
    if ident is None:
        if db.dim != _WorkerModel.dim:
            raise DimensionError(f"text is embedded by {minilm.NAME!r} ({_WorkerModel.dim} dimensions) unless the "
                                 f"store records another embedder; this store has {db.dim} dimensions")
        return _WorkerModel(minilm.NAME)
    if ident["name"] in (minilm.NAME, minilm.INT8_NAME) and ident == _WorkerModel(ident["name"]).identity:
        return _WorkerModel(ident["name"])
    if ident["name"] == HashEmbedder.name:
        return HashEmbedder(dim=db.dim, kernel=db.kernel)
    return SuppliedEmbedder(ident, kernel=db.kernel)       # its JS function, see web/agentdb.js


def _text_embedder(db):
    """The embedder of remember / recall (the page's embedder serves db.memory only)."""
    embedder = _embedder(db)
    if isinstance(embedder, SuppliedEmbedder):
        raise EmbedderMismatchError(f"this store's vectors come from {embedder.name!r}, a model the page runs; "
                                    f"remember and recall embed in the worker (use db.memory)")
    return embedder


def _memory(name):
    """The store's AgentMemory, over the embedder of its text (see _embedder)."""
    db = _store(name)
    mem = _memories.get(name)
    if mem is None or mem.store is not db:
        mem = _memories[name] = AgentMemory(db, embedder=_embedder(db))
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
    except ModelNotLoadedError:
        mem._next = None          # likewise, and the worker repeats the call once it loaded the model
        raise


def handle(op, args_json, buffer=None):
    """Runs one request; args_json is a JSON object, buffer the request's vectors or bytes
    (a Python buffer), if any. Returns JSON text, or bytes for exportRvf and embed."""
    args = json.loads(args_json)
    if hasattr(buffer, "to_memoryview"):      # a JS typed array (in Pyodide): one copy in
        buffer = buffer.to_memoryview()
    if op == "embed":                             # float32 rows as bytes (exact)
        if "name" in args:                        # the store's own embedder
            return _text_embedder(_store(args["name"])).embed(args["texts"]).tobytes()
        name = minilm.INT8_NAME if args.get("quantized") else minilm.NAME
        return _WorkerModel(name).embed(args["texts"]).tobytes()
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
    if op == "remember":
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
