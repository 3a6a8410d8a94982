"""A Model as a Hugging Face style bundle: model.safetensors (agentdb.io's SafeTensors
layout), config.json (what is inside, and how to read it) and README.md (a model card), in a
folder or a zip. The zip stores its members uncompressed with fixed dates, so the same model
gives the same bytes in every home.
"""
import io
import json
import os
import zipfile

from .. import __version__
from ..errors import ArgumentError, FormatError
from .model import FORMAT, VERSION, parts
from .safetensors_format import from_safetensors, to_safetensors

WEIGHTS, CONFIG, CARD = "model.safetensors", "config.json", "README.md"
_STAMP = (1980, 1, 1, 0, 0, 0)


def _config(model):
    manifest, _ = parts(model)
    return {"format": FORMAT, "version": VERSION, "library_name": "agentdb", "agentdb_version": __version__,
            "weights": WEIGHTS,
            "adapters": {n: {k: a[k] for k in ("in_dim", "out_dim", "rank", "alpha")}
                         for n, a in manifest["adapters"].items()},
            "ewc": sorted(manifest["ewc"]), "patterns": len(manifest["patterns"]),
            "tensors": manifest["tensors"], "metadata": manifest["metadata"]}


def _card(config):
    name = config["metadata"].get("name") if isinstance(config["metadata"].get("name"), str) else "agentdb model"
    rows = "".join(f"| adapter `{n}` | LoRA {a['in_dim']} -> {a['out_dim']}, rank {a['rank']}, alpha {a['alpha']} "
                   f"(delta = alpha/rank * x A B) |\n" for n, a in config["adapters"].items())
    rows += "".join(f"| EWC `{n}` | Fisher diagonal and anchor weights (EWC++) |\n" for n in config["ewc"])
    rows += f"| patterns | {config['patterns']} reasoning patterns (fields and vectors) |\n" if config["patterns"] else ""
    rows += "".join(f"| tensor `{n}` | a named tensor (`tensor.{n}`) |\n" for n in config["tensors"])
    return f"""---
library_name: agentdb
tags:
- agentdb
- lora
---

# {name}

A learned model exported by agentdb {config['agentdb_version']} (a vector memory database for AI
agents): what its agent memory learned, as float32 weights in `{WEIGHTS}` and a description
in `{CONFIG}`. It is not a transformers model; it holds:

| part | what |
|---|---|
{rows or "| (empty) | no adapters, EWC state, patterns or tensors |" + chr(10)}
## How to load it

```python
import agentdb.io
model = agentdb.io.load_huggingface("this-folder")       # or the .zip; adapters, ewc, patterns, tensors
```

Any SafeTensors reader sees the weights (`from safetensors import safe_open`): `adapter.<name>.a`
is A (in_dim x rank), `adapter.<name>.b` is B (rank x out_dim); the `__metadata__` key
`agentdb.model` holds the manifest (JSON). For PEFT, export the adapters with
`agentdb.io.save_peft` (adapter_model.safetensors + adapter_config.json).
"""


def to_huggingface(model, *, align=64):
    """{"model.safetensors": bytes, "config.json": text, "README.md": text} of a Model (the
    weights 64-byte aligned unless align=None).

    >>> from agentdb.io import Model
    >>> files = to_huggingface(Model(metadata={"name": "demo"}))
    >>> sorted(files), json.loads(files["config.json"])["format"]
    (['README.md', 'config.json', 'model.safetensors'], 'agentdb.model')
    """
    config = _config(model)
    return {WEIGHTS: to_safetensors(model, align=align), CONFIG: json.dumps(config, indent=2) + "\n",
            CARD: _card(config)}


def save_huggingface(model, path, *, zip=False, align=64):
    """Writes the bundle to the folder `path` (made if missing), or with zip=True to the zip
    file `path`; returns path.

    >>> import tempfile
    >>> from agentdb.io import Model
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_huggingface(Model(metadata={"n": 1}), os.path.join(d, "m.zip"), zip=True)
    ...     load_huggingface(p).metadata
    {'n': 1}
    """
    files = to_huggingface(model, align=align)
    if zip:
        tmp = f"{os.fspath(path)}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(zip_bytes(files))
        os.replace(tmp, path)
        return path
    os.makedirs(path, exist_ok=True)
    for name, content in files.items():
        with open(os.path.join(path, name), "wb") as fh:
            fh.write(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def zip_bytes(files):
    """The bytes of a zip of {name: bytes or text}: members stored, dated 1980-01-01, in the
    given order (the same bytes everywhere).

    >>> zip_bytes({"a.txt": "hi"})[:4]
    b'PK\\x03\\x04'
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, _STAMP)
            info.external_attr = 0o644 << 16
            zf.writestr(info, content.encode("utf-8") if isinstance(content, str) else content)
    return out.getvalue()


def _read_file(path):
    with open(path, "rb") as fh:
        return fh.read()


def _files(source):
    """{name: bytes} of a bundle folder, zip file, zip bytes or mapping."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    elif hasattr(source, "items"):
        return {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in source.items()}
    elif isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        return {n: _read_file(os.path.join(source, n)) for n in (CONFIG, WEIGHTS)
                if os.path.isfile(os.path.join(source, n))}
    elif not isinstance(source, (str, os.PathLike)):
        raise ArgumentError(f"load_huggingface() takes a folder, a zip (path or bytes) or a mapping, "
                            f"got {type(source).__name__}")
    try:
        with zipfile.ZipFile(source) as zf:
            names = set(zf.namelist())
            return {n: zf.read(n) for n in (CONFIG, WEIGHTS) if n in names}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(f"not a bundle folder or zip: {exc}") from None


def load_huggingface(source, *, kernel=None):
    """The Model of a bundle (a folder, a zip file or its bytes, or to_huggingface's
    mapping). FormatError for a missing file or config key, or a config that is not an
    agentdb model's.

    >>> from agentdb.io import Model
    >>> load_huggingface(to_huggingface(Model(metadata={"k": "v"}))).metadata
    {'k': 'v'}
    """
    files = _files(source)
    for name in (CONFIG, WEIGHTS):
        if name not in files:
            raise FormatError(f"the bundle has no {name}")
    try:
        config = json.loads(files[CONFIG])
    except ValueError as exc:
        raise FormatError(f"{CONFIG} is not JSON: {exc}") from None
    missing = [k for k in ("format", "version", "weights") if not isinstance(config, dict) or k not in config]
    if missing:
        raise FormatError(f"{CONFIG} lacks {missing}")
    if config["format"] != FORMAT or config["version"] != VERSION:
        raise FormatError(f"{CONFIG} describes {config['format']!r} version {config['version']!r}, not "
                          f"{FORMAT!r} version {VERSION}")
    if config["weights"] != WEIGHTS:
        raise FormatError(f"{CONFIG} names weights {config['weights']!r}; the bundle's are {WEIGHTS!r}")
    return from_safetensors(files[WEIGHTS], kernel=kernel)
