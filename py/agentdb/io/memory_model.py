"""The learned model of an AgentMemory (or a bare VectorStore), gathered for export and put
back: the store's query adapters with the EWC kept beside each, the memory's reasoning
pattern records (fields and stored vectors), and the patterns of its SONA trajectory
learner (derived from the trajectory records, so they export but do not import).
"""
import array

from ..errors import ArgumentError, DimensionError
from ..store import adapters as store_adapters
from .model import Model, Pattern


def _store(source):
    store = getattr(source, "store", source)
    if not hasattr(store, "adapters") or not hasattr(store, "find"):
        raise ArgumentError(f"expected an AgentMemory or a VectorStore, got {type(source).__name__}")
    return store


def from_memory(source, *, metadata=None):
    """A Model of what a memory (or store) has learned: adapters (and their EWC), pattern
    records ("pattern:<n>", with their stored vectors) and, for an AgentMemory, the SONA
    trajectory patterns ("sona:<id>", centroid as the vector).

    >>> import agentdb, agentdb.learn
    >>> db = agentdb.open(dim=4, metric="cosine")
    >>> db.set_adapter("query", agentdb.learn.LoRA(4, 4, rank=1))
    >>> list(from_memory(db, metadata={"name": "demo"}).adapters)
    ['query']
    """
    store = _store(source)
    model = Model(metadata=dict(metadata or {}))
    for name in store.adapters():
        model.adapters[name] = store.adapter(name)
        ewc = store_adapters.learned_ewc(store, name)
        if ewc is not None:
            model.ewc[name] = ewc
    for ident, md in store.find({"kind": "pattern"}):
        model.patterns.append(Pattern(ident, md, array.array("f", store.get(ident).vector)))
    if hasattr(source, "trajectory_patterns"):
        for p in source.trajectory_patterns():
            fields = {"kind": "sona_pattern", "size": p["size"], "avg_quality": p["avg_quality"], "routes": p["routes"]}
            model.patterns.append(Pattern(f"sona:{p['id']}", fields, array.array("f", p["centroid"])))
    return model


def to_memory(model, target, *, replace=False):
    """Puts a Model's adapters (with their EWC) into a memory's (or a store's) store and its
    pattern records ("pattern:<n>" with kind "pattern") back as records, fields and vector
    bits as exported; SONA patterns are skipped (the trajectory records make them). An
    existing adapter or record of the same name is an ArgumentError unless replace=True.
    Returns {"adapters": n, "patterns": n}.

    >>> import agentdb, agentdb.learn
    >>> db = agentdb.open(dim=4, metric="cosine")
    >>> to_memory(Model(adapters={"query": agentdb.learn.LoRA(4, 4, rank=1)}), db)
    {'adapters': 1, 'patterns': 0}
    """
    store = _store(target)
    clash = [n for n in model.adapters if n in store.adapters()]
    records = [p for p in model.patterns if p.fields.get("kind") == "pattern" and p.vector is not None]
    clash += [p.id for p in records if p.id in store]
    if clash and not replace:
        raise ArgumentError(f"already here: {clash[:5]} (pass replace=True to overwrite)")
    for name, lora in model.adapters.items():
        store.set_adapter(name, lora, ewc=model.ewc.get(name))
    if records:
        vectors = array.array("f")
        for p in records:
            if len(p.vector) != store.dim:
                raise DimensionError(f"pattern {p.id!r} has a {len(p.vector)}-value vector, the store's "
                                     f"dimension is {store.dim}")
            vectors.extend(p.vector)
        put = getattr(target, "_put_records", None)
        if put is not None:
            put([(p.id, p.vector, p.fields) for p in records])
        else:
            store.ingest([p.id for p in records], vectors, [p.fields for p in records], normalized=True)
    return {"adapters": len(model.adapters), "patterns": len(records)}
