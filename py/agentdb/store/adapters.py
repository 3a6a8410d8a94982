"""Named query adapters kept in a store: LoRA maps (agentdb.learn.lora) that db.learn() trains
and query(..., adapt=True) applies to the query before the search, q -> q + s * q A B. Each is
a META adapter record (kind 4) in the store's .rvf, so a reopened file, natively or in the
browser, answers the same; the last record for a name wins, a null one removes it."""
import json

from ..errors import DimensionError, OptionError, UnknownIdError
from ..rvf import meta as rvf_meta
from ..rvf import segments as rvf_segments

DEFAULT = "query"           # the name db.learn() trains and adapt=True applies


def _lora():
    from ..learn.lora import LoRA    # the learning layer sits above the store: imported when used

    return LoRA


def load(db, documents):
    """Adopts a file's adapter documents (name -> LoRA to_json object)."""
    LoRA = _lora() if documents else None
    db._adapters = {name: LoRA.from_json(json.dumps(doc), kernel=db.kernel) for name, doc in documents.items()}


def records(db):
    """The META payloads that carry the store's adapters (to_bytes, compact)."""
    return [(rvf_segments.META, rvf_meta.encode_adapter(name, json.loads(lora.to_json())))
            for name, lora in sorted(db._adapters.items())]


def _commit(db, name, document, action):
    if db._log is not None:
        db._log.segments([(rvf_segments.META, rvf_meta.encode_adapter(name, document))], action)


def set_adapter(db, name, lora):
    """VectorStore.set_adapter()."""
    if not isinstance(name, str) or not name:
        raise OptionError(f"an adapter's name is a non-empty string, got {name!r}")
    if not isinstance(lora, _lora()):
        raise OptionError(f"expected an agentdb.learn.LoRA, got {type(lora).__name__}")
    if lora.in_dim != db.dim or lora.out_dim != db.dim:
        raise DimensionError(f"a query adapter maps {db.dim} -> {db.dim} values, this one "
                             f"{lora.in_dim} -> {lora.out_dim}")
    db._writable()
    with db._lock:
        kept = lora.clone()                 # later training of the caller's copy changes nothing here
        _commit(db, name, json.loads(kept.to_json()), f"adapter:set={name}")
        db._adapters[name] = kept


def remove_adapter(db, name):
    """VectorStore.remove_adapter()."""
    db._writable()
    with db._lock:
        if name not in db._adapters:
            raise UnknownIdError(f"this store has no adapter {name!r}")
        _commit(db, name, None, f"adapter:remove={name}")
        del db._adapters[name]


def get(db, name):
    """The adapter called name (UnknownIdError when there is none); adapt=True means DEFAULT."""
    name = DEFAULT if name is True else name
    try:
        return db._adapters[name]
    except (KeyError, TypeError):
        hint = " (db.learn() trains it)" if name == DEFAULT else ""
        raise UnknownIdError(f"this store has no adapter {name!r}{hint}; it has {sorted(db._adapters)}") from None


def adapt(db, vectors, m, name):
    """m query vectors (a flat float32 view) mapped by the adapter: q + s * q A B."""
    return get(db, name).forward_batch(vectors, m, residual=True)
