"""LoRA adapters in the PEFT layout (what `peft`'s save_pretrained writes and
PeftModel.from_pretrained loads): adapter_model.safetensors + adapter_config.json.

Our LoRA adds delta(x) = s * x A B with A (in x r), B (r x out), s = alpha / r. PEFT's LoRA on
a torch nn.Linear(in, out) target computes base(x) + s * lora_B(lora_A(x)), where
lora_A = nn.Linear(in, r) (weight r x in) and lora_B = nn.Linear(r, out) (weight out x r),
with s = lora_alpha / r (lora_alpha / sqrt(r) under use_rslora). So
    base_model.model.<module>.lora_A.weight = A^T   (r, in)
    base_model.model.<module>.lora_B.weight = B^T   (out, r)
and lora_alpha = alpha: on a base Linear whose weight is the identity (a store's query
adapter maps q -> q + delta(q)) PEFT's forward is our forward(x, residual=True); on any
other base Linear W, it is x W^T + delta(x). One adapter per target module; ranks and
alphas that differ from the first go in rank_pattern / alpha_pattern, as PEFT writes them.
"""
import array
import json
import math
import os
import re

from .. import safetensors
from ..errors import AgentDBError, ArgumentError, FormatError
from ..learn.lora import LoRA
from .model import Model

WEIGHTS, CONFIG = "adapter_model.safetensors", "adapter_config.json"
PREFIX = "base_model.model."
_KEY = re.compile(r"^base_model\.model\.(.+)\.lora_([AB])\.weight$")


def _transpose(values, rows, cols):
    """The transpose (cols x rows) of a row-major rows x cols float32 buffer: one strided
    slice per output row, no per-element Python."""
    out = array.array("f")
    for j in range(cols):
        out.extend(values[j::cols])
    return out


def _adapters(adapters):
    items = adapters.adapters if isinstance(adapters, Model) else adapters
    if not hasattr(items, "items") or not items:
        raise ArgumentError("to_peft() takes a Model with adapters or a non-empty mapping module -> LoRA")
    for module, lora in items.items():
        if not isinstance(module, str) or not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", module):
            raise ArgumentError(f"a target module is a dotted path of names like 'encoder.query', got {module!r}")
        if not isinstance(lora, LoRA):
            raise ArgumentError(f"{module!r}: expected an agentdb.learn.LoRA, got {type(lora).__name__}")
    return dict(items)


def _layout(adapters, base_model):
    """(tensors, adapter_config.json text) of the adapters."""
    adapters = _adapters(adapters)
    first = next(iter(adapters.values()))
    tensors = {}
    for module, lora in adapters.items():
        tensors[f"{PREFIX}{module}.lora_A.weight"] = ("F32", [lora.rank, lora.in_dim],
                                                     _transpose(lora.a, lora.in_dim, lora.rank))
        tensors[f"{PREFIX}{module}.lora_B.weight"] = ("F32", [lora.out_dim, lora.rank],
                                                     _transpose(lora.b, lora.rank, lora.out_dim))
    config = {"peft_type": "LORA", "task_type": None, "base_model_name_or_path": base_model, "revision": None,
              "r": first.rank, "lora_alpha": first.alpha, "target_modules": sorted(adapters),
              "rank_pattern": {re.escape(m): a.rank for m, a in adapters.items() if a.rank != first.rank},
              "alpha_pattern": {re.escape(m): a.alpha for m, a in adapters.items() if a.alpha != first.alpha},
              "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
              "use_dora": False, "init_lora_weights": True, "inference_mode": True, "modules_to_save": None,
              "layers_to_transform": None, "layers_pattern": None}
    return tensors, json.dumps(config, indent=2, sort_keys=True) + "\n"


def to_peft(adapters, *, base_model=None):
    """{"adapter_model.safetensors": bytes, "adapter_config.json": text} of adapters (a Model's,
    or a mapping target module path -> LoRA) for peft's PeftModel.from_pretrained onto a base
    model with nn.Linear(in_dim, out_dim) modules at those paths. base_model: the config's
    base_model_name_or_path (the model they apply to).

    >>> from agentdb.learn import LoRA
    >>> files = to_peft({"query": LoRA(4, 4, rank=2, alpha=8)})
    >>> cfg = json.loads(files["adapter_config.json"]); cfg["r"], cfg["lora_alpha"], cfg["target_modules"]
    (2, 8.0, ['query'])
    """
    tensors, config = _layout(adapters, base_model)
    return {WEIGHTS: safetensors.save(tensors, {"format": "pt"}), CONFIG: config}


def save_peft(adapters, folder, *, base_model=None):
    """Writes to_peft's two files into `folder` (made if missing); returns its path.

    >>> import tempfile
    >>> from agentdb.learn import LoRA
    >>> with tempfile.TemporaryDirectory() as d:
    ...     sorted(os.listdir(save_peft({"q": LoRA(2, 2, rank=1)}, d)))
    ['adapter_config.json', 'adapter_model.safetensors']
    """
    tensors, config = _layout(adapters, base_model)
    os.makedirs(folder, exist_ok=True)
    safetensors.save_file(tensors, os.path.join(folder, WEIGHTS), {"format": "pt"})
    with open(os.path.join(folder, CONFIG), "w", encoding="utf-8") as fh:
        fh.write(config)
    return folder


def _read(source):
    """(config dict, SafeTensors) of a PEFT folder or a mapping file name -> bytes / text."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        for name in (CONFIG, WEIGHTS):
            if not os.path.isfile(os.path.join(path, name)):
                raise FormatError(f"{path} is not a PEFT adapter folder: it has no {name}")
        with open(os.path.join(path, CONFIG), "rb") as fh:
            text = fh.read()
        weights = safetensors.load(os.path.join(path, WEIGHTS))
    elif hasattr(source, "get"):
        text, data = source.get(CONFIG), source.get(WEIGHTS)
        if text is None or data is None:
            raise FormatError(f"a PEFT adapter needs both {CONFIG} and {WEIGHTS}")
        weights = safetensors.load(data)
    else:
        raise ArgumentError(f"load_peft() takes a folder or a mapping of its files, got {type(source).__name__}")
    try:
        config = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{CONFIG} is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise FormatError(f"{CONFIG} must hold a JSON object")
    return config, weights


def _check_config(config):
    missing = [k for k in ("peft_type", "r", "lora_alpha", "target_modules") if k not in config]
    if missing:
        raise FormatError(f"{CONFIG} lacks {missing}")
    if config["peft_type"] != "LORA":
        raise FormatError(f"{CONFIG}: peft_type {config['peft_type']!r} is not LORA (only LoRA adapters import)")
    for key, bad in (("use_dora", True), ("lora_bias", True)):
        if config.get(key) is bad:
            raise FormatError(f"{CONFIG}: {key} adapters have weights agentdb's LoRA has no place for")
    if config.get("bias", "none") != "none":
        raise FormatError(f"{CONFIG}: bias {config['bias']!r} trains biases agentdb's LoRA has no place for")
    for key in ("r", "lora_alpha"):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise FormatError(f"{CONFIG}: {key} must be a positive number, got {value!r}")


def _pattern(patterns, module, default, key):
    if not isinstance(patterns, dict):
        raise FormatError(f"{CONFIG}: {key} must be an object, got {patterns!r}")
    for pattern, value in patterns.items():   # as peft's get_pattern_key matches them
        try:
            if re.match(rf"(.*\.)?({pattern})$", module):
                return value
        except re.error:
            raise FormatError(f"{CONFIG}: {key} key {pattern!r} is not a regular expression") from None
    return default


def _targeted(module, targets):
    """Whether peft would put an adapter on `module` (its check_target_module_exists: a str is
    a regular expression matched whole, a list names modules or their last parts)."""
    if isinstance(targets, str):
        try:
            return re.fullmatch(targets, module) is not None
        except re.error:
            raise FormatError(f"{CONFIG}: target_modules {targets!r} is not a regular expression") from None
    if not isinstance(targets, list):
        raise FormatError(f"{CONFIG}: target_modules must be a list or a string, got {targets!r}")
    return any(module == t or module.endswith(f".{t}") for t in targets if isinstance(t, str))


def _f32(name, t):
    """A PEFT tensor's values as float32 (F16 and BF16 widen exactly)."""
    if t.dtype == "F32":
        return t.as_array()
    if t.dtype in ("F16", "BF16"):
        return array.array("f", t.values())
    raise FormatError(f"tensor {name!r} is {t.dtype}; LoRA weights import from F32, F16 or BF16")


def load_peft(source, *, kernel=None):
    """{target module path: LoRA} of a PEFT LoRA adapter: a folder peft's save_pretrained
    wrote (or to_peft's files as a mapping). FormatError names what does not fit: a missing
    file or config key, another adapter type (DoRA, trained biases), a key that is not a
    lora_A / lora_B weight, or shapes that disagree.

    >>> from agentdb.learn import LoRA
    >>> lora = LoRA(3, 2, rank=1, seed=4)
    >>> load_peft(to_peft({"dense": lora}))["dense"].a == lora.a
    True
    """
    config, weights = _read(source)
    _check_config(config)
    found = {}
    for name, t in weights.items():
        match = _KEY.match(name)
        if match is None:
            raise FormatError(f"{WEIGHTS}: {name!r} is not a {PREFIX}<module>.lora_A/lora_B.weight tensor "
                              f"(modules_to_save, embeddings and other adapter types do not import)")
        if len(t.shape) != 2:
            raise FormatError(f"{WEIGHTS}: {name!r} has shape {list(t.shape)}, a matrix expected")
        found.setdefault(match.group(1), {})[match.group(2)] = (name, t)
    targets = config["target_modules"]
    out = {}
    for module, pair in sorted(found.items()):
        if not _targeted(module, targets):
            raise FormatError(f"{WEIGHTS}: module {module!r} is not among the config's target_modules {targets!r}")
        if set(pair) != {"A", "B"}:
            raise FormatError(f"{WEIGHTS}: module {module!r} has lora_{''.join(pair)} but not both lora_A and lora_B")
        (name_a, ta), (name_b, tb) = pair["A"], pair["B"]
        (rank, in_dim), (out_dim, rank_b) = ta.shape, tb.shape
        r = _pattern(config.get("rank_pattern") or {}, module, config["r"], "rank_pattern")
        if rank != rank_b or rank != r:
            raise FormatError(f"{WEIGHTS}: module {module!r}: lora_A is {list(ta.shape)} and lora_B "
                              f"{list(tb.shape)}, the config's rank is {r}")
        alpha = _pattern(config.get("alpha_pattern") or {}, module, config["lora_alpha"], "alpha_pattern")
        if config.get("use_rslora"):
            alpha = alpha * rank / math.sqrt(rank)   # our scaling is alpha / rank
        try:
            lora = LoRA(in_dim, out_dim, rank=rank, alpha=alpha, kernel=kernel)
        except AgentDBError as exc:
            raise FormatError(f"module {module!r}: {exc}") from None
        lora.a = _transpose(_f32(name_a, ta), rank, in_dim)
        lora.b = _transpose(_f32(name_b, tb), out_dim, rank)
        out[module] = lora
    if not out:
        raise FormatError(f"{WEIGHTS} holds no LoRA weights")
    return out
