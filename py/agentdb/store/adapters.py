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


def _ewc():
    from ..learn.ewc import EWC

    return EWC


def load(db, found):
    """Adopts a file's adapter records (name -> {lora, ewc?} to_json objects)."""
    db._adapters, db._adapter_ewc = {}, {}
    for name, record in found.items():
        db._adapters[name] = _lora().from_json(json.dumps(record["lora"]), kernel=db.kernel)
        if "ewc" in record:
            db._adapter_ewc[name] = _ewc().from_json(json.dumps(record["ewc"]), kernel=db.kernel)


def _payload(db, name):
    ewc = db._adapter_ewc.get(name)
    return rvf_meta.encode_adapter(name, json.loads(db._adapters[name].to_json()),
                                   json.loads(ewc.to_json()) if ewc is not None else None)


def records(db):
    """The META payloads that carry the store's adapters (to_bytes, compact)."""
    return [(rvf_segments.META, _payload(db, name)) for name in sorted(db._adapters)]


def set_adapter(db, name, lora, ewc=None):
    """VectorStore.set_adapter(); ewc: the EWC that protects what the adapter learned (kept
    with it, for the next continual-learning run: see learned_ewc)."""
    if not isinstance(name, str) or not name:
        raise OptionError(f"an adapter's name is a non-empty string, got {name!r}")
    if not isinstance(lora, _lora()):
        raise OptionError(f"expected an agentdb.learn.LoRA, got {type(lora).__name__}")
    if lora.in_dim != db.dim or lora.out_dim != db.dim:
        raise DimensionError(f"a query adapter maps {db.dim} -> {db.dim} values, this one "
                             f"{lora.in_dim} -> {lora.out_dim}")
    if ewc is not None and not isinstance(ewc, _ewc()):
        raise OptionError(f"ewc must be an agentdb.learn.EWC, got {type(ewc).__name__}")
    db._writable()
    with db._lock:
        before = db._adapters.get(name), db._adapter_ewc.get(name)
        db._adapters[name] = lora.clone()   # later training of the caller's copy changes nothing here
        if ewc is not None:
            db._adapter_ewc[name] = _ewc().from_json(ewc.to_json(), kernel=db.kernel)
        else:
            db._adapter_ewc.pop(name, None)
        try:
            if db._log is not None:
                db._log.segments([(rvf_segments.META, _payload(db, name))], f"adapter:set={name}")
        except BaseException:
            _restore(db, name, *before)
            raise
        db.version += 1                     # answers cached under the old adapter are stale


def _restore(db, name, lora, ewc):
    """Puts an adapter back as it was before a commit that failed."""
    for table, value in ((db._adapters, lora), (db._adapter_ewc, ewc)):
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value


def learned_ewc(db, name):
    """A copy of the EWC kept with adapter `name` (None without one)."""
    ewc = db._adapter_ewc.get(name)
    return None if ewc is None else _ewc().from_json(ewc.to_json(), kernel=db.kernel)


def remove_adapter(db, name):
    """VectorStore.remove_adapter()."""
    db._writable()
    with db._lock:
        if name not in db._adapters:
            raise UnknownIdError(f"this store has no adapter {name!r}")
        if db._log is not None:
            db._log.segments([(rvf_segments.META, rvf_meta.encode_adapter(name, None))], f"adapter:remove={name}")
        del db._adapters[name]
        db._adapter_ewc.pop(name, None)
        db.version += 1


def get(db, name):
    """The adapter called name (UnknownIdError when there is none); adapt=True means DEFAULT."""
    name = DEFAULT if name is True else name
    try:
        return db._adapters[name]
    except (KeyError, TypeError):
        hint = " (db.learn() trains it: db.learn.train() in the browser)" if name == DEFAULT else ""
        raise UnknownIdError(f"this store has no adapter {name!r}{hint}; it has {sorted(db._adapters)}") from None


def adapt(db, vectors, m, name):
    """m query vectors (a flat float32 view) mapped by the adapter: q + s * q A B."""
    return get(db, name).forward_batch(vectors, m, residual=True)
