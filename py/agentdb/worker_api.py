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

A store learns in the worker as natively: "learn" trains its query adapter (VectorStore.learn)
and commits it, reporting its steps as "train" progress events (report_progress_to); queries
with adapt search through it.

The store's graph (VectorStore.graph) is served by "graph" (reads: its GRAPH_READS methods) and
"graphWrite" (its GRAPH_WRITES, which commit), {name, method, args: {keyword: value}}; answers are
plain JSON (graph_json: nodes, edges, paths and Cypher rows as dicts, embeddings as lists).
"transaction" runs ingest / delete / graph steps inside db.transaction(): one commit or none.
Committed graph changes are held per store until the worker has stored the request's commits
(take_events), then posted to the page as events {type: "graph", store, changes}.
"""
import dataclasses
import json
import re
import sys
from collections import namedtuple

from . import open as open_store
from . import open_bytes
from .embed import HashEmbedder, SuppliedEmbedder, minilm
from .errors import (ArgumentError, DimensionError, EmbedderError, EmbedderMismatchError, ModelNotLoadedError,
                     NeedEmbeddings, StoreClosedError, StoreExistsError)
from .memory.agent import REMOTE_METHODS, AgentMemory
from .graph.cypher.executor import CypherResult
from .graph.cypher.functions import CypherPath
from .graph.ids import Ids
from .graph.model import Edge, Hyperedge, HyperedgeHit, Node, NodeHit, Path
from .store.opening import check_reopen
from .store.store import open_log

_stores = {}
_memories = {}    # name -> the AgentMemory over that store (made again when the store is)
_rags = {}        # name -> the RetrievalController over that memory (made again when the memory is)
_sessions = {}    # name -> the SessionManager of that store's conversations (kept across reloads: they are the page's)
_closed = {}      # closed stores whose last commits the host has not taken yet
_report = None    # the worker's progress sink (report_progress_to)
_events = {}      # name -> graph changes committed, not yet handed to the worker (take_events)


def _register(name, db):
    """Makes db the open store `name`, its committed graph changes held for take_events."""
    _stores[name] = db
    db.graph.subscribe(lambda change: _stores.get(name) is db and _events.setdefault(name, []).append(change))


def take_events():
    """The graph changes committed since the last call, as JSON [{type: "graph", store,
    changes: [{op, id, nodes, edges, hyperedges, epoch}, ...]}, ...] (one event per store). The
    worker calls it once the request's commits are stored, so the page hears only of stored
    changes (a commit IndexedDB refused is reloaded away, its changes dropped: _op_reload).

    >>> take_events()
    '[]'
    """
    out = [{"type": "graph", "store": name, "changes": changes} for name, changes in _events.items() if changes]
    _events.clear()
    return json.dumps(out)


def _store(name):
    try:
        return _stores[name]
    except KeyError:
        raise StoreClosedError(f"no open store named {name}: open it first (AgentDB.open)") from None


def _answer(res):
    """A query's answer as the client (web/agentdb.js) reads it: scores as the hex of their
    float32 bytes, exact and ten times cheaper in Pyodide than the shortest repr of each."""
    return json.dumps({"ids": res.ids, "scoresHex": res.scores.tobytes().hex(), "metadata": res.metadata,
                       "exact": res.exact})


def take_commits(name):
    """[kind, offset, bytes] chunks the host must store before it answers (see BufferLog)."""
    db = _stores.get(name)
    if db is None:               # not `or`: an empty store is falsy (len 0) and still has commits
        db = _closed.pop(name, None)
    return [list(chunk) for chunk in db.take_commits()] if db is not None else []


_models = {}      # identity name -> MiniLM, once the worker has handed over its files (load_model)


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
    """The embedder of ingestTexts / queryText (the page's embedder serves db.memory only)."""
    embedder = _embedder(db)
    if isinstance(embedder, SuppliedEmbedder):
        raise EmbedderMismatchError(f"this store's vectors come from {embedder.name!r}, a model the page runs; "
                                    f"ingestTexts and queryText embed in the worker (use db.memory)")
    return embedder


def report_progress_to(fn):
    """Sets where long requests report progress, once at the worker's start: fn(JSON text of
    one event), which the worker posts as {progress: event}; None reports nothing.

    >>> events = []; report_progress_to(events.append); report_progress_to(None)
    """
    global _report
    _report = fn


def _train_progress(name):
    """learn's progress callback for store `name`: {stage: "train", done: steps, total, store,
    epoch, loss, lr, gradNorm, etaS} after about every hundredth step and the last (a message
    per step would cost more than a small step)."""
    if _report is None:
        return None
    shown = 0

    def progress(event):
        nonlocal shown
        step, total = event["step"], event["total_steps"]
        if step == total or step - shown >= total / 100:
            shown = step
            _report(json.dumps({"stage": "train", "done": step, "total": total, "store": name,
                                "epoch": event["epoch"], "loss": event["loss"], "lr": event["lr"],
                                "gradNorm": event["grad_norm"], "etaS": event["eta_s"]}))
    return progress


def _memory(name):
    """The store's AgentMemory, over the embedder of its text (see _embedder)."""
    db = _store(name)
    mem = _memories.get(name)
    if mem is None or mem.store is not db:
        mem = _memories[name] = AgentMemory(db, embedder=_embedder(db))
    return mem


def _memory_call(args):
    """{"value": the method's answer, "recallId": its recall id when it has one} or
    {"needEmbeddings": texts the page must embed first}."""
    method = args["method"]
    if method not in REMOTE_METHODS:
        raise AttributeError(f"agent memory has no method {method!r}")
    mem = _memory(args["name"])
    done = _embedding_first(mem, args, lambda: getattr(mem, method)(**args.get("args", {})))
    if "value" in done:
        recall_id = getattr(done["value"], "recall_id", None)     # a recall-type answer: a list with an id
        if recall_id is not None:
            done["recallId"] = recall_id
    return done


def _embedding_first(mem, args, call):
    """{"value": call()} or {"needEmbeddings": texts the page must embed first} (a memory over
    the page's embedder gets this request's vectors, args["embeddings"], first)."""
    if isinstance(mem.embedder, SuppliedEmbedder):
        mem.embedder.vectors = args.get("embeddings") or {}      # this request's only
    try:
        return {"value": call()}
    except NeedEmbeddings as need:
        mem._next = None          # nothing was written: ids it reserved are free again
        return {"needEmbeddings": need.texts}
    except ModelNotLoadedError:
        mem._next = None          # likewise, and the worker repeats the call once it loaded the model
        raise


# ---- the operations: one table (OPERATIONS, below the handlers) names each, says what it does to
# storage and gives its handler(args, buffer); handle() dispatches through it and the worker
# reads it once at start (operations()), so a new operation is one function and one entry.

def _op_embed(args, buffer):
    """float32 rows as bytes (exact): the store's own embedder, or MiniLM (quantized: int8)."""
    if "name" in args:
        return _text_embedder(_store(args["name"])).embed(args["texts"]).tobytes()
    name = minilm.INT8_NAME if args.get("quantized") else minilm.NAME
    return _WorkerModel(name).embed(args["texts"]).tobytes()


def _persisted(db):
    """Whether the worker keeps this store in IndexedDB (opened or imported with persist)."""
    return db._log is not None          # only open_log() stores have a log here


def _op_open(args, buffer):
    """Opens (creates) store `name`; persist: from the bytes stored for it (buffer), if any.
    A name open already: a persisted store is read again from what is stored; an in-memory
    one is the same store again (dim and metric, given, must match it). Opening one kind under
    the other's name would hide the open store, so it is refused."""
    name, options = args["name"], dict(args.get("options", {}))
    persist = options.pop("persist", False)
    open_now = _stores.get(name)
    if open_now is not None and _persisted(open_now) != bool(persist):
        held = _persisted(open_now)
        kind, how = ("kept in IndexedDB", "with") if held else ("in memory only (not persisted)", "without")
        raise StoreExistsError(f"a store named {name} is open and {kind}: open it {how} persist: true, "
                               f"or close it first")
    if persist:
        _replace(name, open_log(bytes(buffer) if buffer is not None else None, **options))
    elif open_now is not None:
        check_reopen(open_now, f"the open store {name}", options.get("dim"), options.get("metric"))
    else:
        _register(name, open_store(**options))
    return json.dumps(_stores[name].status())


def _op_import_rvf(args, buffer):
    """Opens the .rvf bytes in buffer as store `name`; persist: keeps it in IndexedDB from now on
    (the worker stores the file whole, one commit). An import never hides a store silently: a
    name that is open, or stored in IndexedDB (args["stored"], the worker's), needs replace,
    and a stored one can only be replaced by a persisted import (an in-memory one would be
    gone after a reload, with every write made to it, while the old store came back)."""
    name, persist = args["name"], bool(args.get("persist"))
    stored = bool(args.get("stored"))
    if (name in _stores or stored) and not args.get("replace"):
        where = " and ".join(place for place, there in (("open", name in _stores), ("kept in IndexedDB", stored))
                             if there)
        raise StoreExistsError(f"a store named {name} is {where}: pass replace: true to replace it with the "
                               f"import, or import under another name")
    if stored and not persist:
        raise StoreExistsError(f"a store named {name} is kept in IndexedDB: replacing it needs persist: true "
                               f"(an in-memory import would be lost on reload and the stored store come back)")
    _replace(name, open_log(bytes(buffer), imported=True) if persist else open_bytes(bytes(buffer)))
    return json.dumps(_stores[name].status())


def _replace(name, db):
    """Makes db the store `name`; one it replaces is dropped without a last commit (its bytes,
    if persisted, are the ones being replaced)."""
    _register(name, db)
    _memories.pop(name, None)
    _rags.pop(name, None)


def _op_ingest(args, buffer):
    return json.dumps(_store(args["name"]).ingest(args["ids"], buffer, metadata=args.get("metadata")))


def _op_ingest_texts(args, buffer):
    """Texts under ids, embedded here; each text kept in its metadata as `text`."""
    db, texts = _store(args["name"]), args["texts"]
    vectors = _text_embedder(db).embed(texts)
    metadata = [dict(m or {}, text=t) for m, t in zip(args.get("metadata") or [{}] * len(texts), texts)]
    return json.dumps(db.ingest(args["ids"], vectors, metadata=metadata))


def _op_query_text(args, buffer):
    db = _store(args["name"])
    vector = _text_embedder(db).embed([args["text"]])
    return _answer(db.query(vector, k=args.get("k", 10), where=args.get("where"), exact=args.get("exact", False),
                            adapt=args.get("adapt", False)))


def _op_query(args, buffer):
    return _answer(_store(args["name"]).query(buffer, k=args.get("k", 10), where=args.get("where"),
                                              ef=args.get("ef"), exact=args.get("exact", False),
                                              adapt=args.get("adapt", False)))


def _op_query_batch(args, buffer):
    """Many queries, one message: the round trip paid once."""
    answers = _store(args["name"]).query_batch(buffer, k=args.get("k", 10), where=args.get("where"),
                                               ef=args.get("ef"), exact=args.get("exact", False),
                                               adapt=args.get("adapt", False))
    return "[" + ",".join(map(_answer, answers)) + "]"


def _op_learn(args, buffer):
    """Trains the store's query adapter (VectorStore.learn) on the queries in buffer (m x dim
    float32) and positives (per query an id or a list of ids); options: learn's keywords
    (snake_case). Commits the adapter; the FeedbackReport as JSON."""
    name = args["name"]
    report = _store(name).learn(buffer, args["positives"], progress=_train_progress(name), **args.get("options", {}))
    return json.dumps(dataclasses.asdict(report))


def _op_adapters(args, buffer):
    return json.dumps(_store(args["name"]).adapters())


def _op_remove_adapter(args, buffer):
    _store(args["name"]).remove_adapter(args["adapter"])
    return "null"


def _op_get(args, buffer):
    rec = _store(args["name"]).get(args["id"])
    return json.dumps({"id": rec.id, "vector": list(rec.vector), "metadata": rec.metadata})


def _op_delete(args, buffer):
    return json.dumps({"deleted": _store(args["name"]).delete(args["ids"], missing_ok=args.get("missingOk", False))})


def _op_delete_by_filter(args, buffer):
    return json.dumps({"deleted": _store(args["name"]).delete(where=args["where"])})


def _op_maintain(args, buffer):
    """The worker's, when the store is idle: saves the graph if the stored one is stale."""
    return json.dumps({"saved": _store(args["name"]).maintain()})


def _op_compact(args, buffer):
    return json.dumps(_store(args["name"]).compact())


def _op_status(args, buffer):
    return json.dumps(_store(args["name"]).status())


def _op_memory(args, buffer):
    """The agent-memory layer: {method, args: {keyword: value}}."""
    return json.dumps(_memory_call(args))


def _op_export_rvf(args, buffer):
    return _store(args["name"]).to_bytes()


# ---- agentdb.io: a model or a dataset as bytes (a Blob on the page). Imported when first used:
# most pages never export.

def _learned(name):
    """What from_memory reads: the store's memory when it records an embedder (its SONA
    patterns too), else the store."""
    db = _store(name)
    return _memory(name) if db.embedder else db


# ---- agentdb.rag: {name, method, args: {keyword: value}} on the store's RetrievalController. A
# "stream" posts each event as progress {stage: "rag", token, index, event} while it runs (the
# client's async iterator; a repeat after embedding replays the same events, told by index).

RAG_READS = frozenset({"query", "stream", "decompose", "search_memory", "cache_stats", "get_config"})
RAG_WRITES = frozenset({"index", "index_many", "index_existing", "forget", "update_config", "clear_cache"})


def rag_json(value):
    """A controller's answer as plain JSON values (RagResult and Evidence as their dicts)."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: rag_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rag_json(v) for v in value]
    return value


def _rag(name):
    from .rag import RetrievalController

    mem = _memory(name)
    rag = _rags.get(name)
    if rag is None or rag.memory is not mem:
        rag = _rags[name] = RetrievalController(mem)
    return rag


def _rag_call(args, allowed, op):
    method, name = args["method"], args["name"]
    if method not in allowed:
        other = "ragWrite" if method in RAG_WRITES else "rag" if method in RAG_READS else None
        if other is None:
            raise AttributeError(f"the retrieval controller has no method {method!r}: "
                                 f"{', '.join(sorted(RAG_READS | RAG_WRITES))}")
        raise ArgumentError(f"{method} is a {other} request, not {op}")
    rag, kwargs = _rag(name), args.get("args", {})
    if method != "stream":
        return json.dumps(_embedding_first(rag.memory, args, lambda: rag_json(getattr(rag, method)(**kwargs))))

    def stream():
        last = None
        for i, event in enumerate(rag.stream(**kwargs)):
            last = rag_json(event)
            if _report is not None:
                _report(json.dumps({"stage": "rag", "store": name, "token": args.get("token"), "index": i,
                                    "event": last}))
        return last["result"]
    return json.dumps(_embedding_first(rag.memory, args, stream))


def _op_rag(args, buffer):
    """A retrieval read (RAG_READS): {"value": the answer} or {"needEmbeddings": texts}."""
    return _rag_call(args, RAG_READS, "rag")


def _op_rag_write(args, buffer):
    """A retrieval write (RAG_WRITES: indexing commits; settings and the cache change)."""
    return _rag_call(args, RAG_WRITES, "ragWrite")


SESSION_METHODS = frozenset({"create", "get", "list", "delete", "add_system_message", "add_context", "add_message",
                             "get_history", "messages", "chat", "export", "import_json"})


def _op_rag_session(args, buffer):
    """A SessionManager call (SESSION_METHODS) on the store's sessions, held in the worker
    (exported as JSON to keep): {"value": the answer} or {"needEmbeddings": texts} (chat)."""
    from .rag import SessionManager

    method, name = args["method"], args["name"]
    if method not in SESSION_METHODS:
        raise AttributeError(f"sessions have no method {method!r}: {', '.join(sorted(SESSION_METHODS))}")
    rag = _rag(name)
    sessions = _sessions.get(name)
    if sessions is None:
        sessions = _sessions[name] = SessionManager(rag)
    sessions.controller = rag           # the store's controller now (made again with its memory)
    call = getattr(sessions, method)
    return json.dumps(_embedding_first(rag.memory, args, lambda: rag_json(call(**args.get("args", {})))))


# ---- agentdb.nn: {module, function, args: {keyword: value}} runs a public function of
# agentdb.nn.<module> (no store); float arrays come back as the hex of their float32 bits.

# functions only (graph_attention's classes are reached through graph_rope_attention, edge_featured_attention;
# local_global's LocalGlobalAttention through local_global_compute)
NN_MODULES = ("attention", "benchmark", "compress", "dual_attention", "graph_attention", "hyperbolic",
              "linear_attention", "local_global", "rope", "search")


def nn_json(value):
    """An agentdb.nn answer as JSON: float32 arrays as {"f32": hex of the little-endian bits},
    other int arrays as lists, results (SoftTopK, CompressedTensor, tuples) field by field."""
    import array

    if isinstance(value, array.array):
        if value.typecode == "f":
            data = value.tobytes() if sys.byteorder == "little" else _swapped(value)
            return {"f32": data.hex()}
        return value.tolist()
    if hasattr(value, "buf") and hasattr(value, "read"):            # a KBuffer
        return nn_json(value.read(0, len(value)))
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: nn_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: nn_json(v) for k, v in vars(value).items() if not k.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [nn_json(v) for v in value]
    if isinstance(value, dict):
        return {k: nn_json(v) for k, v in value.items()}
    return value


def _swapped(values):
    import array

    out = array.array("f", values)
    out.byteswap()
    return out.tobytes()


def _op_nn(args, buffer):
    """{module (NN_MODULES, or camelCased), function (a public function of it), args} -> {"value": nn_json(its answer)}."""
    import importlib

    module, function = args["module"], args["function"]
    module = re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), module)   # AgentDB.nn.localGlobal -> local_global
    if module not in NN_MODULES:
        raise AttributeError(f"agentdb.nn has no module {module!r}: {', '.join(NN_MODULES)}")
    fn = getattr(importlib.import_module(f"agentdb.nn.{module}"), function, None)
    if function.startswith("_") or not callable(fn) or isinstance(fn, type):
        raise AttributeError(f"agentdb.nn.{module} has no function {function!r}")
    return json.dumps({"value": nn_json(fn(**args.get("args", {})))})


# ---- a store's HNSW levels (agentdb.store.levels) and the GNN forward over them (agentdb.nn.hierarchy)

HNSW_METHODS = {
    "levels": lambda db, query, a: db.hnsw_levels(),
    "neighbours": lambda db, query, a: db.hnsw_neighbours(a["node"], a.get("level", 0)),
    "descent": lambda db, query, a: db.hnsw_descent(query, a.get("k", 10), ef=a.get("ef")),
    "hierarchical_forward": lambda db, query, a: _hierarchy().hierarchical_forward_store(
        query, db, a["layers"], k=a.get("k", 10), ef=a.get("ef")),
}


def _hierarchy():
    from .nn import hierarchy

    return hierarchy


def _op_hnsw(args, buffer):
    """{name, method (HNSW_METHODS), args} -> {"value": nn_json(its answer)}; descent and
    hierarchical_forward take the query in buffer (dim float32), layers as GNNLayer JSON texts."""
    method = HNSW_METHODS.get(args["method"])
    if method is None:
        raise ArgumentError(f"unknown hnsw method {args['method']!r}: {', '.join(HNSW_METHODS)}")
    return json.dumps({"value": nn_json(method(_store(args["name"]), buffer, args.get("args", {})))})


def _op_export_model(args, buffer):
    """{format, align?, baseModel?, metadata?} -> the model's bytes (a zip for huggingface, peft)."""
    from .io import from_memory
    from .io.transfer import model_bytes

    model = from_memory(_learned(args["name"]), metadata=args.get("metadata"))
    return model_bytes(model, args.get("format", "safetensors"), align=args.get("align"),
                       base_model=args.get("baseModel"))


def _op_import_model(args, buffer):
    """The model in buffer ({format?: told by the bytes, replace?}) put into the store:
    {"adapters": n, "patterns": n}."""
    from .io import to_memory
    from .io.transfer import model_from_bytes

    if buffer is None:
        raise ArgumentError("importModel needs the model's bytes")
    db = _store(args["name"])
    model = model_from_bytes(bytes(buffer), args.get("format"), kernel=db.kernel)
    return json.dumps(to_memory(model, db, replace=bool(args.get("replace", False))))


def _op_export_dataset(args, buffer):
    """{format, kinds?} -> the memory's dataset as UTF-8 bytes."""
    import io

    from .io import export_dataset

    out = io.BytesIO()
    kinds = args.get("kinds")
    export_dataset(_memory(args["name"]), out, format=args.get("format", "jsonl"),
                   **({"kinds": tuple(kinds)} if kinds is not None else {}))
    return out.getvalue()


def _op_import_dataset(args, buffer):
    """The dataset in buffer ({format, replace?}) imported into the memory: {"value": what
    import_dataset answers} or {"needEmbeddings": texts} (pre-training text is embedded again)."""
    import io

    from .io import import_dataset

    if buffer is None:
        raise ArgumentError("importDataset needs the dataset's bytes")
    mem = _memory(args["name"])
    return json.dumps(_embedding_first(mem, args, lambda: import_dataset(
        mem, io.BytesIO(bytes(buffer)), format=args.get("format", "jsonl"), replace=bool(args.get("replace", False)))))


def _op_close(args, buffer):
    _store(args["name"])
    db = _stores.pop(args["name"])
    db.close()
    _closed[args["name"]] = db          # its last commits (the graph) are still to be taken
    return "null"


def _op_reload(args, buffer):
    """The worker's, when it could not store a commit (or another tab committed): the store
    as the stored bytes in buffer say; none stored (a persisted import's first commit failed):
    the store is closed, nothing of it kept."""
    _store(args["name"])
    _stores.pop(args["name"], None)
    _memories.pop(args["name"], None)
    _rags.pop(args["name"], None)
    _events.pop(args["name"], None)       # changes of commits that were not stored: never told
    if buffer is not None:
        _register(args["name"], open_log(bytes(buffer)))
    return "null"


# ---- the graph: {name, method, args: {keyword: value}} -> the method's answer as graph_json gives it.
# Reads and writes are two operations, so the worker knows from the op alone whether commits follow.

GRAPH_READS = frozenset({"get_node", "has_node", "nodes", "get_edge", "edges", "get_hyperedge", "hyperedges",
                         "hyperedges_of", "neighbors", "k_hop", "shortest_path", "search", "search_hyperedges",
                         "stats", "cypher"})
GRAPH_WRITES = frozenset({"add_node", "update_node", "delete_node", "add_edge", "update_edge", "delete_edge",
                          "add_hyperedge", "update_hyperedge", "delete_hyperedge", "batch_insert", "compact",
                          "cypher"})
# Cypher that may change the graph: sent as graphWrite (web/agentdb.js applies the same rule), so a
# "graph" read request never commits. A word that is no clause (n.set) only costs a write request.
CYPHER_UPDATING = re.compile(r"\b(?:CREATE|MERGE|SET|REMOVE|DELETE|DETACH)\b", re.I)


def graph_json(value):
    """A graph answer as plain JSON values, the shape web/agentdb.js documents: Node {id, labels,
    properties, embedded, embedding}, Edge {id, src, dst, type, properties, weight, validFrom,
    validTo}, Hyperedge {id, nodes, type, properties, validFrom, validTo, embedded, embedding},
    Path {nodes, edges, weight}, hits {id, score, node | hyperedge}, a Cypher path {nodes,
    relationships}, a CypherResult {columns, rows}; stats' keys camelCased. Embeddings are
    lists of their float32 values (exact as JSON numbers). User properties stay as written.

    >>> graph_json(Edge(0, "a", "b", "R"))["validTo"] is None
    True
    """
    if isinstance(value, Node):
        return {"id": value.id, "labels": list(value.labels), "properties": value.properties,
                "embedded": value.embedded, "embedding": _plain_vector(value.embedding)}
    if isinstance(value, Edge):
        return {"id": value.id, "src": value.src, "dst": value.dst, "type": value.type,
                "properties": value.properties, "weight": value.weight, "validFrom": value.valid_from,
                "validTo": value.valid_to}
    if isinstance(value, Hyperedge):
        return {"id": value.id, "nodes": list(value.nodes), "type": value.type, "properties": value.properties,
                "validFrom": value.valid_from, "validTo": value.valid_to, "embedded": value.embedded,
                "embedding": _plain_vector(value.embedding)}
    if isinstance(value, Path):
        return {"nodes": list(value.nodes), "edges": list(value.edges), "weight": value.weight}
    if isinstance(value, NodeHit):
        return {"id": value.id, "score": value.score, "node": graph_json(value.node)}
    if isinstance(value, HyperedgeHit):
        return {"id": value.id, "score": value.score, "hyperedge": graph_json(value.hyperedge)}
    if isinstance(value, CypherPath):
        return {"nodes": [graph_json(n) for n in value.nodes],
                "relationships": [graph_json(r) for r in value.relationships]}
    if isinstance(value, CypherResult):
        return {"columns": list(value.columns), "rows": [[graph_json(v) for v in row] for row in value.rows]}
    if isinstance(value, Ids):                 # batch_insert's ids: plain ids already
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [graph_json(v) for v in value]
    if isinstance(value, dict):
        return {k: graph_json(v) for k, v in value.items()}
    return value


def _plain_vector(vector):
    return None if vector is None else [float(x) for x in vector]


def _graph_stats(stats):
    """stats() with its own keys camelCased (label and type names, the inner keys, as they are)."""
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): v for k, v in stats.items()}


def _graph_call(db, method, kwargs, allowed, op):
    if method not in allowed:
        other = "graphWrite" if method in GRAPH_WRITES else "graph" if method in GRAPH_READS else None
        if other is None:
            raise AttributeError(f"the graph has no method {method!r}: {', '.join(sorted(GRAPH_READS | GRAPH_WRITES))}")
        raise ArgumentError(f"{method} is a {other} request, not {op}")
    if method == "cypher" and op == "graph" and CYPHER_UPDATING.search(str(kwargs.get("query", ""))):
        raise ArgumentError("a Cypher query with CREATE, MERGE, SET, REMOVE or DELETE is a graphWrite request")
    value = getattr(db.graph, method)(**kwargs)
    return _graph_stats(value) if method == "stats" else graph_json(value)


def _op_graph(args, buffer):
    """A graph read: {method (GRAPH_READS), args}."""
    return json.dumps(_graph_call(_store(args["name"]), args["method"], args.get("args", {}), GRAPH_READS, "graph"))


def _op_graph_write(args, buffer):
    """A graph write: {method (GRAPH_WRITES, or cypher), args}; committed before it answers."""
    return json.dumps(_graph_call(_store(args["name"]), args["method"], args.get("args", {}), GRAPH_WRITES,
                                  "graphWrite"))


def _floats(buffer):
    """The request's float32 values as a 1-d float view (JS's to_memoryview keeps the type; bytes
    from elsewhere are cast)."""
    if buffer is None:
        return None
    view = memoryview(buffer)
    return view if view.format == "f" and view.ndim == 1 else view.cast("B").cast("f")


def _op_transaction(args, buffer):
    """Steps [{op: "ingest" | "delete" | "graph", args, vectors: [start, end)}] run inside
    db.transaction(): one commit, or nothing when a step raises (its error is the request's).
    An ingest step's vectors are floats start..end of the one buffer. A graph step's args are
    {method, args} (any method of GRAPH_READS or GRAPH_WRITES). The steps' answers, in order."""
    db = _store(args["name"])
    floats = _floats(buffer)
    answers = []
    with db.transaction():
        for i, step in enumerate(args["steps"]):
            op, a = step.get("op"), step.get("args", {})
            if op == "ingest":
                start, end = step.get("vectors", (0, 0))
                if floats is None or not 0 <= start <= end <= len(floats):
                    raise ArgumentError(f"step {i}: its vectors [{start}, {end}) are not in the request's "
                                        f"{0 if floats is None else len(floats)} floats")
                answers.append(db.ingest(a["ids"], floats[start:end], metadata=a.get("metadata")))
            elif op == "delete":
                answers.append({"deleted": db.delete(a["ids"], missing_ok=a.get("missingOk", False))})
            elif op == "graph":
                answers.append(_graph_call(db, a["method"], a.get("args", {}), GRAPH_READS | GRAPH_WRITES,
                                           "transaction"))
            else:
                raise ArgumentError(f"step {i}: unknown op {op!r}: a transaction's steps are ingest, delete "
                                    f"and graph")
    return json.dumps(answers)


class Operation(namedtuple("Operation", "kind handler")):
    """One entry of OPERATIONS. kind says what the request does to storage, which is all the
    worker needs to know of it:
      "read"    never commits (the worker asks for no commits after it: a query pays no extra call);
      "write"   commits rows, adapters or graph changes (the worker stores them, then saves the graph once the
                store is idle);
      "manage"  opens, closes, compacts or maintains a store (the worker stores its commits)."""


OPERATIONS = {
    "open": Operation("manage", _op_open),
    "importRvf": Operation("manage", _op_import_rvf),
    "close": Operation("manage", _op_close),
    "compact": Operation("manage", _op_compact),
    "maintain": Operation("manage", _op_maintain),
    "reload": Operation("manage", _op_reload),
    "ingest": Operation("write", _op_ingest),
    "ingestTexts": Operation("write", _op_ingest_texts),
    "delete": Operation("write", _op_delete),
    "deleteByFilter": Operation("write", _op_delete_by_filter),
    "memory": Operation("write", _op_memory),
    "learn": Operation("write", _op_learn),
    "removeAdapter": Operation("write", _op_remove_adapter),
    "graphWrite": Operation("write", _op_graph_write),
    "transaction": Operation("write", _op_transaction),
    "graph": Operation("read", _op_graph),
    "query": Operation("read", _op_query),
    "queryBatch": Operation("read", _op_query_batch),
    "queryText": Operation("read", _op_query_text),
    "get": Operation("read", _op_get),
    "status": Operation("read", _op_status),
    "adapters": Operation("read", _op_adapters),
    "exportRvf": Operation("read", _op_export_rvf),
    "exportModel": Operation("read", _op_export_model),
    "exportDataset": Operation("read", _op_export_dataset),
    "importModel": Operation("write", _op_import_model),
    "importDataset": Operation("write", _op_import_dataset),
    "rag": Operation("read", _op_rag),
    "ragWrite": Operation("write", _op_rag_write),
    "ragSession": Operation("read", _op_rag_session),
    "nn": Operation("read", _op_nn),
    "hnsw": Operation("read", _op_hnsw),
    "embed": Operation("read", _op_embed),
}


def operations():
    """The table as the worker reads it at start: JSON {name: kind}.

    >>> json.loads(operations())["query"]
    'read'
    """
    return json.dumps({name: op.kind for name, op in OPERATIONS.items()})


def handle(op, args_json, buffer=None):
    """Runs one request; args_json is a JSON object, buffer the request's vectors or bytes
    (a Python buffer), if any. Returns JSON text, or bytes for exportRvf, exportModel,
    exportDataset and embed.

    >>> handle("open", '{"name": "doc", "options": {"dim": 2}}') and handle("status", '{"name": "doc"}')[:12]
    '{"count": 0,'
    """
    try:
        handler = OPERATIONS[op].handler
    except KeyError:
        raise ArgumentError(f"unknown operation {op!r}: the operations are {', '.join(OPERATIONS)}") from None
    args = json.loads(args_json)
    if hasattr(buffer, "to_memoryview"):      # a JS typed array (in Pyodide): one copy in
        buffer = buffer.to_memoryview()
    return handler(args, buffer)


def last_error():
    """The exception that last left Python for JS (Pyodide keeps it as sys.last_exc) as JSON
    [class name, message]: the worker's error names and messages, no traceback text parsed."""
    exc = getattr(sys, "last_exc", None)
    return json.dumps([type(exc).__name__, str(exc)] if exc is not None else None)
