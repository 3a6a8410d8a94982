"""A model as one byte string in any of the model formats, and back: what the browser's
client hands over as a Blob and the CLI writes to one file. The folder formats (a Hugging
Face bundle, a PEFT adapter) travel as a zip of their files (bundle.zip_bytes: the same bytes
in every home). Reading, the format may be left to the bytes: a zip holding config.json is a
bundle, one holding adapter_config.json a PEFT adapter; AGDBMODL is the binary format; a
SafeTensors header length followed by "{" SafeTensors; else "{" is JSON (and the rest
SafeTensors, whose reader then names what is wrong).

>>> from agentdb.learn import LoRA
>>> model = Model(adapters={"query": LoRA(4, 4, rank=1, seed=3)})
>>> [model_from_bytes(model_bytes(model, f)).adapters["query"].a == model.adapters["query"].a
...  for f in MODEL_FORMATS]
[True, True, True, True, True]
"""
import io
import zipfile

from ..errors import ArgumentError, FormatError
from . import binary_format, bundle, json_format, peft_format, safetensors_format
from .model import Model

MODEL_FORMATS = ("safetensors", "json", "binary", "huggingface", "peft")


def _format(fmt):
    if fmt not in MODEL_FORMATS:
        raise ArgumentError(f"format must be one of {', '.join(MODEL_FORMATS)}, got {fmt!r}")
    return fmt


def model_bytes(model, format="safetensors", *, align=None, base_model=None):
    """The bytes of `model` in `format` (a zip for huggingface and peft). align: 64 for
    64-byte aligned tensors (safetensors; a bundle's weights are aligned unless align=0);
    base_model: a PEFT adapter's base_model_name_or_path.

    >>> model_bytes(Model(metadata={"name": "demo"}), "binary")[:8]
    b'AGDBMODL'
    """
    fmt = _format(format)
    if fmt == "safetensors":
        return safetensors_format.to_safetensors(model, align=align)
    if fmt == "json":
        return json_format.to_json(model).encode("utf-8")
    if fmt == "binary":
        return binary_format.to_binary(model)
    if fmt == "huggingface":
        return bundle.zip_bytes(bundle.to_huggingface(model, align=64 if align is None else align or None))
    return bundle.zip_bytes(peft_format.to_peft(model, base_model=base_model))


def sniff(data):
    """The model format of these bytes (see the module docstring).

    >>> sniff(b'{"format": "agentdb.model"}'), sniff(b"AGDBMODL...")
    ('json', 'binary')
    """
    head = bytes(data[:9])
    if head.startswith(b"PK"):
        names = set(_zip_files(data))
        return "huggingface" if bundle.CONFIG in names else "peft"
    if head[:8] == b"AGDBMODL":
        return "binary"
    # SafeTensors: a u64 header length that fits, then the header's "{" (a length whose low
    # byte is "{" must not pass for JSON)
    if head[8:9] == b"{" and int.from_bytes(head[:8], "little") + 8 <= len(data):
        return "safetensors"
    if head.lstrip()[:1] == b"{":
        return "json"
    return "safetensors"


def _zip_files(data):
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
            return {name: zf.read(name) for name in zf.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(f"not a zip of a bundle or an adapter: {exc}") from None


def model_from_bytes(data, format=None, *, kernel=None):
    """The Model these bytes hold (format None: told by the bytes). A PEFT adapter gives a
    Model holding its adapters. FormatError for bytes that are not the format.

    >>> model_from_bytes(model_bytes(Model(metadata={"n": 1}), "json")).metadata
    {'n': 1}
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentError(f"a model's bytes are bytes, got {type(data).__name__}")
    fmt = sniff(data) if format is None else _format(format)
    if fmt == "safetensors":
        return safetensors_format.from_safetensors(bytes(data), kernel=kernel)
    if fmt == "json":
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"a JSON model is UTF-8 text: {exc}") from None
        return json_format.from_json(text, kernel=kernel)
    if fmt == "binary":
        return binary_format.from_binary(bytes(data), kernel=kernel)
    if fmt == "huggingface":
        return bundle.load_huggingface(bytes(data), kernel=kernel)
    return Model(adapters=peft_format.load_peft(_zip_files(data), kernel=kernel))
