"""Indexing without an LLM: a text becomes a note of the memory (mem.remember) and, in the same
store transaction (one commit), a node of mem.graph with a MENTIONS edge to an entity node per
entity the heuristic finds (agentdb.rag.entities). Graph layout:

    (:Memory {id: "note:3"})-[:MENTIONS]->(:Entity {id: "entity:vantex", name: "Vantex"})

A memory node's id is the note's id; an entity node is made by the first memory that names it.
Batches embed their texts in one embedder call and commit once; progress(event) hears
{"stage": "index", "done", "total"} after each batch.

>>> import agentdb.memory
>>> from agentdb.embed import HashEmbedder
>>> mem = agentdb.memory.open(embedder=HashEmbedder(dim=32))
>>> index_texts(mem, ["Alice Moreau works for Vantex.", "Vantex is based in Lyon."])
['note:1', 'note:2']
>>> sorted(mem.graph.neighbors("entity:vantex", types=MENTIONS, direction="in"))
['note:1', 'note:2']
"""
import numbers

from ..errors import ArgumentError
from .entities import ENTITY_PREFIX, entity_id, extract_entities

MEMORY_LABEL, ENTITY_LABEL, MENTIONS = "Memory", "Entity", "MENTIONS"
BATCH = 256


def _texts(texts):
    if isinstance(texts, str):
        raise ArgumentError("texts must be a list of strings, not one string (index() takes one)")
    try:
        texts = list(texts)
    except TypeError:
        raise ArgumentError(f"texts must be a list of strings, got {type(texts).__name__}") from None
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ArgumentError(f"texts[{i}] must be a non-empty string, got {t!r:.40}")
    return texts


def _metadata(metadata, n):
    if metadata is None or isinstance(metadata, dict):
        return [metadata] * n
    if isinstance(metadata, (list, tuple)) and len(metadata) == n and all(m is None or isinstance(m, dict)
                                                                         for m in metadata):
        return list(metadata)
    raise ArgumentError(f"metadata must be a dict (for every text) or a list of {n} dicts or None")


def link(graph, ids, texts, *, extract=extract_entities):
    """Adds memory nodes for `ids` and MENTIONS edges to the entities of their `texts` (entity
    nodes made as needed) in one graph commit; returns how many edges were added."""
    nodes, edges, made = [], [], set()
    for ident, text in zip(ids, texts):
        if not graph.has_node(ident):
            nodes.append({"id": ident, "labels": MEMORY_LABEL})
        for name in extract(text):
            ent = entity_id(name)
            if ent not in made and not graph.has_node(ent):
                made.add(ent)
                nodes.append({"id": ent, "labels": ENTITY_LABEL, "properties": {"name": name}})
            edges.append((ident, ent, MENTIONS))
    if nodes or edges:
        graph.batch_insert(nodes=nodes, edges=edges)
    return len(edges)


def index_texts(memory, texts, *, tags=(), metadata=None, batch=BATCH, progress=None, extract=extract_entities):
    """Remembers each text as a note with its entity links (see the module); returns the note
    ids in order. metadata: one dict for every text or a list of one per text."""
    texts = _texts(texts)
    metas = _metadata(metadata, len(texts))
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise ArgumentError(f"batch must be a positive integer, got {batch!r}")
    if progress is not None and not callable(progress):
        raise ArgumentError(f"progress must be callable, got {type(progress).__name__}")
    dim, graph, ids = memory.store.dim, memory.graph, []
    for start in range(0, len(texts), batch):
        part = texts[start:start + batch]
        flat = memory.embedder.embed(part)
        with memory.store.transaction():
            made = [memory.remember(t, tags=tags, metadata=metas[start + i], embedding=flat[i * dim:(i + 1) * dim])
                    for i, t in enumerate(part)]
            link(graph, made, part, extract=extract)
        ids.extend(made)
        if progress is not None:
            progress({"stage": "index", "done": len(ids), "total": len(texts)})
    return ids


def index_existing(memory, *, batch=BATCH, progress=None, extract=extract_entities):
    """Links the notes that have no memory node yet (remembered without the controller), in
    batches of one graph commit; returns how many it linked."""
    graph = memory.graph
    todo = [(ident, md.get("text", "")) for ident, md in memory.store.find({"kind": "note"})
            if not graph.has_node(ident)]
    for start in range(0, len(todo), batch):
        part = todo[start:start + batch]
        link(graph, [i for i, _ in part], [t for _, t in part], extract=extract)
        if progress is not None:
            progress({"stage": "index", "done": min(start + batch, len(todo)), "total": len(todo)})
    return len(todo)


def unlink(memory, ident):
    """Deletes a note and its memory node (with its edges) in one transaction; entity nodes no
    memory mentions any more go with it. Returns how many records went (see forget_memory)."""
    graph = memory.graph
    with memory.store.transaction():
        gone = memory.forget_memory(ident)
        if graph.has_node(ident):
            entities = graph.neighbors(ident, types=MENTIONS)
            graph.delete_node(ident, detach=True)
            for ent in entities:
                if ent.startswith(ENTITY_PREFIX) and not graph.neighbors(ent, direction="both"):
                    graph.delete_node(ent)
    return gone
