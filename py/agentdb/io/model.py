"""A learned model as agentdb exports it: LoRA adapters, the EWC state that protects them,
reasoning patterns, arbitrary named tensors and metadata; and its two halves that every
format writes, a manifest (plain JSON: settings, counts, pattern fields) and a flat map of
named tensors (the float32 weights, bit for bit). SafeTensors, JSON and the binary format
only differ in how they store these two halves (see parts() and from_parts()).

Tensor names (the manifest says which exist; names may hold dots, so they are never parsed):
    adapter.<name>.a           F32 [in_dim, rank]     LoRA A  (delta = alpha/rank * x A B)
    adapter.<name>.b           F32 [rank, out_dim]    LoRA B
    ewc.<name>.fisher.<i>      F32 [lengths[i]]       EWC Fisher diagonal of parameter i
    ewc.<name>.anchor.<i>      F32 [lengths[i]]       EWC anchor weights of parameter i
    pattern.<i>.vector         F32 [dim]              the i-th pattern's vector (when it has one)
    tensor.<name>              any dtype, any shape   a caller's named tensor, as given
"""
import array
import json
import math
import sys
from dataclasses import dataclass, field

from .. import safetensors
from ..errors import AgentDBError, ArgumentError, FormatError
from ..learn.ewc import EWC
from ..learn.lora import LoRA, copy_f32

FORMAT, VERSION = "agentdb.model", 1


@dataclass
class Pattern:
    """A reasoning pattern: an id ("pattern:3" for a memory's pattern record, "sona:1" for a
    SONA trajectory cluster), its fields (JSON values) and its float32 vector (or None).

    >>> Pattern("p", {"approach": "divide and conquer"}).vector is None
    True
    """
    id: str
    fields: dict
    vector: array.array = None


@dataclass
class Model:
    """What agentdb.io exports: adapters (name -> LoRA), ewc (name -> EWC, usually the
    adapter's of the same name), patterns (a list of Pattern), tensors (name -> a
    safetensors.Tensor or a (dtype, shape, bytes) tuple) and metadata (JSON values).

    >>> from agentdb.learn import LoRA
    >>> m = Model(adapters={"query": LoRA(4, 4, rank=2)}, metadata={"name": "demo"})
    >>> sorted(parts(m)[1])
    ['adapter.query.a', 'adapter.query.b']
    """
    adapters: dict = field(default_factory=dict)
    ewc: dict = field(default_factory=dict)
    patterns: list = field(default_factory=list)
    tensors: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def _f32(values):
    """A float32 buffer as a little-endian F32 tensor (no copy on little-endian hosts)."""
    data = copy_f32(values) if sys.byteorder != "little" else values
    if sys.byteorder != "little":
        data.byteswap()
    return safetensors.Tensor("F32", (len(data),), memoryview(data).cast("B"))


def _shaped(values, shape):
    t = _f32(values)
    return safetensors.Tensor("F32", shape, t.data)


def _name(value, what):
    if not isinstance(value, str) or not value:
        raise ArgumentError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _json_value(value, what):
    """value, checked to be plain JSON (so every format stores it and gives it back equal)."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{what} must be plain JSON (str, finite numbers, bools, None, lists, dicts "
                            f"with str keys): {exc}") from None
    if json.loads(text) != value:
        raise ArgumentError(f"{what} does not survive JSON unchanged (tuples or non-str keys?)")
    return value


def parts(model):
    """(manifest, {tensor name: safetensors.Tensor}) of a Model, every part checked.

    >>> from agentdb.learn import LoRA
    >>> manifest, tensors = parts(Model(adapters={"q": LoRA(3, 2, rank=1)}))
    >>> manifest["adapters"]["q"]["rank"], tensors["adapter.q.a"].shape
    (1, (3, 1))
    """
    if not isinstance(model, Model):
        raise ArgumentError(f"expected an agentdb.io.Model, got {type(model).__name__}")
    tensors, adapters, ewcs, patterns = {}, {}, {}, []
    for name, lora in model.adapters.items():
        _name(name, "an adapter's name")
        if not isinstance(lora, LoRA):
            raise ArgumentError(f"adapter {name!r}: expected an agentdb.learn.LoRA, got {type(lora).__name__}")
        adapters[name] = {"in_dim": lora.in_dim, "out_dim": lora.out_dim, "rank": lora.rank, "alpha": lora.alpha,
                          "seed": lora.seed, "frozen": lora.frozen}
        tensors[f"adapter.{name}.a"] = _shaped(lora.a, (lora.in_dim, lora.rank))
        tensors[f"adapter.{name}.b"] = _shaped(lora.b, (lora.rank, lora.out_dim))
    for name, ewc in model.ewc.items():
        _name(name, "an EWC state's name")
        if not isinstance(ewc, EWC):
            raise ArgumentError(f"ewc {name!r}: expected an agentdb.learn.EWC, got {type(ewc).__name__}")
        ewcs[name] = {"lam": ewc.lam, "decay": ewc.decay, "tasks": ewc.tasks, "samples": ewc.samples,
                      "lengths": [len(f) for f in ewc.fisher]}
        for i, (fisher, anchor) in enumerate(zip(ewc.fisher, ewc.anchor)):
            tensors[f"ewc.{name}.fisher.{i}"] = _f32(fisher)
            tensors[f"ewc.{name}.anchor.{i}"] = _f32(anchor)
    for i, p in enumerate(model.patterns):
        if not isinstance(p, Pattern):
            raise ArgumentError(f"patterns[{i}]: expected an agentdb.io.Pattern, got {type(p).__name__}")
        entry = {"id": _name(p.id, f"patterns[{i}].id"), "fields": _json_value(p.fields, f"patterns[{i}].fields"),
                 "dim": None}
        if p.vector is not None:
            vector = array.array("f", p.vector)
            entry["dim"] = len(vector)
            tensors[f"pattern.{i}.vector"] = _f32(vector)
        patterns.append(entry)
    for name, value in model.tensors.items():
        _name(name, "a tensor's name")
        try:
            dtype, shape, data = safetensors._entry(name, value)
        except AgentDBError as exc:
            raise ArgumentError(f"tensors[{name!r}]: {exc}") from None
        tensors[f"tensor.{name}"] = safetensors.Tensor(dtype, shape, data)
    manifest = {"format": FORMAT, "version": VERSION, "metadata": _json_value(model.metadata, "metadata"),
                "adapters": adapters, "ewc": ewcs, "patterns": patterns, "tensors": list(model.tensors)}
    return manifest, tensors


# ---------------------------------------------------------------- reading

def _need(doc, key, kind, what):
    if not isinstance(doc, dict) or key not in doc:
        raise FormatError(f"{what} lacks the key {key!r}")
    value = doc[key]
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        raise FormatError(f"{what}: {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def check_manifest(manifest):
    """The manifest, checked to be an agentdb.model of a version this code reads.

    >>> check_manifest({"format": "agentdb.model", "version": 2})
    Traceback (most recent call last):
    agentdb.errors.FormatError: agentdb.model version 2 is not one this agentdb reads (it reads 1)
    """
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise FormatError(f"not an agentdb model export (format {got!r}, expected {FORMAT!r})")
    if manifest.get("version") != VERSION:
        raise FormatError(f"{FORMAT} version {manifest.get('version')!r} is not one this agentdb reads "
                          f"(it reads {VERSION})")
    for key, kind in (("metadata", dict), ("adapters", dict), ("ewc", dict), ("patterns", list), ("tensors", list)):
        _need(manifest, key, kind, "the model manifest")
    return manifest


class _Tensors:
    """The tensors of a file, taken one by one by name and checked (dtype, shape)."""

    def __init__(self, tensors):
        self.left = {n: t for n, t in tensors.items() if not n.startswith(safetensors.PAD)}

    def take(self, name, shape=None):
        t = self.left.pop(name, None)
        if t is None:
            raise FormatError(f"the model lacks the tensor {name!r} its manifest lists")
        if shape is None:
            return t
        if t.dtype != "F32" or t.shape != tuple(shape):
            raise FormatError(f"tensor {name!r} is {t.dtype}{list(t.shape)}, expected F32{list(shape)}")
        out = array.array("f")
        out.frombytes(t.data)
        if sys.byteorder != "little":
            out.byteswap()
        return out

    def done(self):
        if self.left:
            raise FormatError(f"the model holds tensors its manifest does not list: {sorted(self.left)[:5]}")


def _lora(name, cfg, tensors, kernel):
    what = f"adapter {name!r}"
    dims = [_need(cfg, key, int, what) for key in ("in_dim", "out_dim", "rank")]
    alpha, seed, frozen = _need(cfg, "alpha", float, what), _need(cfg, "seed", int, what), _need(cfg, "frozen", bool, what)
    try:
        lora = LoRA(*dims[:2], rank=dims[2], alpha=alpha, seed=0, kernel=kernel)
    except AgentDBError as exc:
        raise FormatError(f"{what}: {exc}") from None
    lora.seed, lora.frozen = seed, frozen
    lora.a = tensors.take(f"adapter.{name}.a", (dims[0], dims[2]))
    lora.b = tensors.take(f"adapter.{name}.b", (dims[2], dims[1]))
    return lora


def _ewc(name, cfg, tensors, kernel):
    what = f"ewc {name!r}"
    lam, decay = _need(cfg, "lam", float, what), _need(cfg, "decay", float, what)
    try:
        ewc = EWC(lam=lam, decay=decay, kernel=kernel)
    except AgentDBError as exc:
        raise FormatError(f"{what}: {exc}") from None
    ewc.tasks, ewc.samples = _need(cfg, "tasks", int, what), _need(cfg, "samples", int, what)
    lengths = _need(cfg, "lengths", list, what)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in lengths):
        raise FormatError(f"{what}: lengths must be non-negative integers, got {lengths!r}")
    ewc.fisher = [tensors.take(f"ewc.{name}.fisher.{i}", (n,)) for i, n in enumerate(lengths)]
    ewc.anchor = [tensors.take(f"ewc.{name}.anchor.{i}", (n,)) for i, n in enumerate(lengths)]
    return ewc


def from_parts(manifest, tensors, *, kernel=None):
    """The Model of a manifest and its tensors (FormatError for anything missing, extra or
    of the wrong dtype or shape). Filler tensors of an aligned layout are dropped.

    >>> from agentdb.learn import LoRA
    >>> m = from_parts(*parts(Model(adapters={"q": LoRA(3, 2, rank=1, seed=5)})))
    >>> m.adapters["q"].a == LoRA(3, 2, rank=1, seed=5).a
    True
    """
    check_manifest(manifest)
    pool = _Tensors(tensors)
    model = Model(metadata=manifest["metadata"])
    model.adapters = {n: _lora(n, cfg, pool, kernel) for n, cfg in manifest["adapters"].items()}
    model.ewc = {n: _ewc(n, cfg, pool, kernel) for n, cfg in manifest["ewc"].items()}
    for i, entry in enumerate(manifest["patterns"]):
        what = f"patterns[{i}]"
        ident, fields = _need(entry, "id", str, what), _need(entry, "fields", dict, what)
        dim = entry.get("dim") if isinstance(entry, dict) else None
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 0):
            raise FormatError(f"{what}: dim must be null or a non-negative integer, got {dim!r}")
        vector = None if dim is None else pool.take(f"pattern.{i}.vector", (dim,))
        model.patterns.append(Pattern(ident, fields, vector))
    for name in manifest["tensors"]:
        if not isinstance(name, str):
            raise FormatError(f"tensor names are strings, got {name!r}")
        model.tensors[name] = pool.take(f"tensor.{name}")
    pool.done()
    return model
