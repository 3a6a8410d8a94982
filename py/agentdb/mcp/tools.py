"""The MCP tools: one entry per tool, each a method of the Python API (AgentMemory, the store,
its graph) with the JSON schema of its arguments. A tool's description is the first paragraph
of that method's docstring and its schema's defaults are the method's own, so the tools cannot
drift from the library; tests/test_mcp.py checks every schema property is a parameter.

A tool's arguments are checked against its schema first (jsonschema: a wrong type, a missing
or unknown argument; the schemas give types only, never ranges, so value checks are the
library's own and speak its messages), then by the method itself (typed agentdb errors: a reward outside
[0, 1], an unknown id, a Cypher syntax error); both reach the client as tool errors.
"""
import inspect
import os
from dataclasses import dataclass, field

from ..errors import ArgumentError, IdError

# ---- schema pieces -----------------------------------------------------------------------------

S, N, I, B = {"type": "string"}, {"type": "number"}, {"type": "integer"}, {"type": "boolean"}
OBJ = {"type": "object"}
K = I
STRINGS = {"type": "array", "items": S}
VECTOR = {"type": "array", "items": N}
WHERE = {"type": "object", "description": "a filter: {field: value} or {field: {op: value}}, ops eq ne lt le gt "
                                          "ge in range, and / or / not lists; over the memory's own metadata"}
WHERE_RAW = {**WHERE, "description": WHERE["description"].replace("over the memory's own metadata",
                                                                   "over the records' stored fields (kind, reward, ...)")}
TAGS = {**STRINGS, "description": "tags; a search keeps the memories carrying every one"}
# a client with its own embedding model passes its vectors; without one the memory embeds the text
EMBEDDING = {**VECTOR, "description": "the text's vector from the caller's own embedder (the store's dimension), "
                                      "used instead of embedding the text"}
EMBEDDINGS = {"type": "array", "items": VECTOR, "description": "one vector per utterance, used instead of "
                                                               "embedding them"}
E = {"embedding": EMBEDDING}


def _first_paragraph(fn):
    doc = inspect.getdoc(fn) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


@dataclass
class ToolSpec:
    """One tool: its name, the Python callable (method name on its target), the schema of
    its arguments and whether it writes (readonly servers do not list writing tools)."""

    name: str
    target: str                   # "memory", "store" or "graph": what `method` is looked up on
    method: str
    required: dict
    optional: dict = field(default_factory=dict)
    writes: bool = False
    long: bool = False            # runs in a worker thread, reporting progress
    memory_only: bool = True      # False: also served over a plain vector store (integer ids)
    rename: dict = field(default_factory=dict)   # schema name -> Python parameter name
    description: str = ""
    call: object = None           # fn(server, **arguments) instead of target.method(**arguments)

    def function(self, cls):
        return getattr(cls, self.method)

    def schema(self, cls=None):
        """The JSON schema of the arguments, defaults taken from the method's signature."""
        props = {}
        params = inspect.signature(self.function(cls)).parameters if cls is not None else {}
        for name, prop in {**self.required, **self.optional}.items():
            prop = dict(prop)
            param = params.get(self.rename.get(name, name))
            if name in self.optional and param is not None and param.default not in (inspect.Parameter.empty, None) \
                    and not isinstance(param.default, tuple):
                prop.setdefault("default", param.default)
            props[name] = prop
        return {"type": "object", "properties": props, "required": list(self.required), "additionalProperties": False}


def _tools():
    mem, store = "memory", "store"
    ep_fields = {"input": S, "output": S, "critique": S, "latency_ms": N, "tokens": I, "tags": TAGS,
                 "metadata": OBJ, **E}
    return [
        # notes
        ToolSpec("remember", mem, "remember", {"note": S}, {"tags": TAGS, "metadata": OBJ, **E}, writes=True),
        ToolSpec("recall", mem, "recall", {"query": S}, {"k": K, "tags": TAGS, "where": WHERE, **E}),
        ToolSpec("get_memory", mem, "get_memory", {"id": S}, rename={"id": "ident"}),
        ToolSpec("forget", mem, "forget_memory", {"id": S}, rename={"id": "ident"}, writes=True),
        ToolSpec("feedback", mem, "feedback", {"recall_id": S, "useful": STRINGS}, writes=True),
        # episodes
        ToolSpec("store_episode", mem, "store_episode",
                 {"session": S, "task": S, "reward": N, "success": B}, ep_fields,
                 writes=True),
        ToolSpec("retrieve_episodes", mem, "retrieve_episodes", {"task": S},
                 {"current_state": S, "k": K, "min_reward": N, "only_success": B, "only_failures": B,
                  "time_window_days": N, "session": S, "tags": TAGS, "where": WHERE, **E}),
        ToolSpec("critique_summary", mem, "critique_summary", {"task": S}, {"k": K}),
        # skills
        ToolSpec("create_skill", mem, "create_skill", {"name": S},
                 {"description": S, "signature": OBJ, "code": S, "success_rate": N, "uses": I, "avg_reward": N,
                  "avg_latency_ms": N, "created_from_episode": S, "tags": TAGS, "metadata": OBJ, **E}, writes=True),
        ToolSpec("search_skills", mem, "search_skills", {"query": S}, {"k": K, "min_success_rate": N, "where": WHERE, **E}),
        ToolSpec("update_skill_stats", mem, "update_skill_stats", {"skill_id": S, "success": B},
                 {"reward": N, "latency_ms": N}, writes=True),
        # reasoning patterns
        ToolSpec("store_pattern", mem, "store_pattern", {"task_type": S, "approach": S},
                 {"success_rate": N, "uses": I, "avg_reward": N, "tags": TAGS, "metadata": OBJ, **E}, writes=True),
        ToolSpec("find_patterns", mem, "find_patterns", {"task": S},
                 {"k": K, "threshold": N, "task_type": S, "min_success_rate": N, "tags": TAGS, "where": WHERE, **E}),
        ToolSpec("record_outcome", mem, "record_outcome", {"pattern_id": S, "success": B}, {"reward": N},
                 writes=True),
        # causal memory
        ToolSpec("add_causal_edge", mem, "add_causal_edge", {"cause": S, "effect": S, "uplift": N, "confidence": N},
                 {"sample_size": I, "mechanism": S, "evidence": STRINGS, **E}, writes=True),
        ToolSpec("causal_effects", mem, "causal_effects", {"cause": S}, {"min_confidence": N, "min_uplift": N}),
        ToolSpec("causal_recall", mem, "causal_recall", {"query": S},
                 {"k": K, "kinds": STRINGS, "where": WHERE_RAW, "alpha": N, "beta": N, "gamma": N, "candidates": I,
                  **E}),
        # semantic router
        ToolSpec("add_intent", mem, "add_intent", {"name": S, "utterances": STRINGS},
                 {"metadata": OBJ, "embeddings": EMBEDDINGS}, writes=True),
        ToolSpec("route", mem, "route", {"query": S}, {"k": K, "threshold": N, **E}),
        # graph, vectors, the file
        ToolSpec("cypher", "graph", "cypher", {"query": S}, {"params": OBJ}, memory_only=False,
                 description="Runs a Cypher query on the store's property graph (MATCH, WHERE, RETURN, ORDER BY, "
                             "aggregates, the vector SEARCH, shortestPath; CREATE / MERGE / SET / DELETE commit "
                             "together or not at all): {columns, rows, updates}. Where an embedding goes, a text "
                             "may stand for it."),
        ToolSpec("vector_ingest", store, "ingest",
                 {"records": {"type": "array", "minItems": 1, "items": {
                     "type": "object", "required": ["id"], "additionalProperties": False,
                     "properties": {"id": {"type": ["string", "integer"]}, "vector": VECTOR, "text": S,
                                    "metadata": OBJ}}}},
                 writes=True, long=True, memory_only=False, call=vector_ingest,
                 description="Adds or replaces vectors in one commit: records [{id, vector or text (embedded by the "
                             "store's embedder), metadata}]. In a memory store the records are kind 'vector' and "
                             "cannot replace a memory. Returns {ingested, count}."),
        ToolSpec("vector_query", store, "query", {}, {"vector": VECTOR, "text": S, "k": K, "where": WHERE_RAW,
                                                      "exact": B},
                 memory_only=False, call=vector_query,
                 description="The k nearest stored vectors to `vector` (or to the embedded `text`) whose metadata "
                             "matches `where` (any store filter on the records' own fields, e.g. "
                             "{\"kind\": \"episode\", \"reward\": {\"gt\": 0.5}}): [{id, score, metadata}]."),
        ToolSpec("status", store, "status", {}, memory_only=False, call=status,
                 description="The store: path, read-only or not, counts, configuration, the embedder, and for a "
                             "memory the number of memories of each kind."),
        ToolSpec("verify", store, "verify", {}, {"public_key": S}, memory_only=False, long=True, call=verify,
                 description="Checks the .rvf file: every segment's checksum, the SHA-256 seal of every commit and "
                             "their chain, with public_key (hex Ed25519) every signature: {ok, problems, ...}."),
        ToolSpec("export", store, "export", {"out": S}, {"format": {"enum": list(EXPORT_FORMATS)}, "overwrite": B},
                 memory_only=False, long=True, call=export,
                 description="Writes the store to the file `out` on the server's machine: format 'records' "
                             "({id, vector, metadata} per line, what `agentdb export` writes; the default), or the "
                             "memory's episodes, feedback and triplets as a 'jsonl', 'csv' or 'pretrain' dataset. "
                             "An existing file is refused unless overwrite is true."),
    ]


EXPORT_FORMATS = ("records", "jsonl", "csv", "pretrain")

# ---- the tools that are more than one method call ---------------------------------------------


def vector_ingest(server, records, progress=None):
    """vector_ingest: one store commit of the records (texts embedded in one embedder call)."""
    db, memory = server.store, server.memory
    texts = [r["text"] for r in records if "vector" not in r and "text" in r]
    flat = server.embed(texts) if texts else None
    ids, rows, metadata, t = [], [], [], 0
    for i, rec in enumerate(records):
        if ("vector" in rec) == ("text" in rec):
            raise ArgumentError(f"records[{i}] needs exactly one of 'vector' and 'text'")
        if "vector" in rec:
            rows.append(rec["vector"])
        else:
            rows.append(flat[t * db.dim:(t + 1) * db.dim])
            t += 1
        md = dict(rec.get("metadata") or {})
        if memory is not None:
            if "kind" in md:
                raise ArgumentError(f"records[{i}]: 'kind' is reserved in a memory store (vector records are "
                                    f"kind 'vector')")
            held = db.get(rec["id"]).metadata.get("kind") if rec["id"] in db else "vector"
            if held != "vector":
                raise IdError(f"records[{i}]: {rec['id']!r} is a {held} memory; vector_ingest does not replace memories")
            md["kind"] = "vector"
        ids.append(rec["id"])
        metadata.append(md)
    db.ingest(ids, rows, metadata)
    if progress is not None:
        progress(len(ids), len(ids))
    return {"ingested": len(ids), "count": len(db)}


def vector_query(server, vector=None, text=None, k=10, where=None, exact=False):
    if (vector is None) == (text is None):
        raise ArgumentError("vector_query needs exactly one of 'vector' and 'text'")
    hits = server.store.query(server.embed([text]) if text is not None else vector, k=k, where=where, exact=exact)
    return [{"id": h.id, "score": h.score, "metadata": h.metadata} for h in hits]


def status(server):
    out = {"path": server.path, "readonly": server.readonly, "store": server.store.status()}
    if server.memory is not None:
        out["memory"] = server.memory.stats()
    return out


def verify(server, public_key=None, progress=None):
    return server.store.verify(public_key=bytes.fromhex(public_key) if public_key else None)


def export(server, out, format="records", overwrite=False, progress=None):
    from ..cli import export_records

    if os.path.exists(out) and not overwrite:
        raise ArgumentError(f"{out} exists; pass overwrite: true to replace it")
    if format == "records":
        return {"out": out, "format": format, "exported": export_records(server.store, out, progress=progress)}
    if server.memory is None:
        raise ArgumentError(f"format {format!r} exports a memory's dataset; this store is not an agent memory")
    from ..io import export_dataset

    return {"out": out, "format": format, **export_dataset(server.memory, out, format=format, progress=progress)}


TOOLS = _tools()
