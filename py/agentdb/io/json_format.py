"""A Model as one human-readable JSON document: the manifest's keys, plus "data", an object
of tensor name -> {"dtype", "shape", "values": [numbers]}. Numbers are exact: a float32
widens to a double exactly and Python writes the shortest text that reads back as that
double. A tensor whose numbers would not give its bytes back (NaN or infinity, F8 and other
dtypes without a number form) is {"dtype", "shape", "base64"} instead, so every bit survives.
"""
import base64
import binascii
import json
import math
import struct

from .. import safetensors
from ..errors import AgentDBError, FormatError
from .model import check_manifest, from_parts, parts

_CODES = {"BOOL": "?", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "I32": "i", "U32": "I", "I64": "q",
          "U64": "Q", "F16": "e", "F32": "f", "F64": "d"}


def _encode(t):
    code = _CODES.get(t.dtype)
    if code is not None:
        values = t.values()
        if all(math.isfinite(v) for v in values) if code in "efd" else True:
            return {"dtype": t.dtype, "shape": list(t.shape), "values": values}
    return {"dtype": t.dtype, "shape": list(t.shape), "base64": base64.b64encode(t.data).decode("ascii")}


def _decode(name, doc):
    what = f"data[{name!r}]"
    if not isinstance(doc, dict) or not {"dtype", "shape"} <= set(doc) or len(doc) != 3:
        raise FormatError(f"{what} must be {{dtype, shape, values or base64}}, got {str(doc)[:80]}")
    dtype, shape = doc["dtype"], doc["shape"]
    try:
        if "base64" in doc:
            data = base64.b64decode(doc["base64"], validate=True)
        elif "values" in doc and dtype in _CODES and isinstance(doc["values"], list):
            values = doc["values"]
            if any(isinstance(v, bool) != (dtype == "BOOL") or not isinstance(v, (int, float)) for v in values):
                raise FormatError(f"{what}: values of a {dtype} tensor must all be {'bools' if dtype == 'BOOL' else 'numbers'}")
            data = struct.pack(f"<{len(values)}{_CODES[dtype]}", *values)
        else:
            raise FormatError(f"{what}: needs 'base64', or 'values' of a numeric dtype")
        return safetensors.Tensor(dtype, shape, data)
    except (binascii.Error, TypeError, ValueError, OverflowError, struct.error) as exc:
        raise FormatError(f"{what}: {exc}") from None
    except AgentDBError as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"{what}: {exc}") from None


def to_json(model, *, indent=None):
    """The JSON text of a Model (indent: as json.dumps; None is one line).

    >>> from agentdb.learn import LoRA
    >>> from agentdb.io import Model
    >>> text = to_json(Model(adapters={"q": LoRA(2, 2, rank=1, seed=3)}))
    >>> from_json(text).adapters["q"].a == LoRA(2, 2, rank=1, seed=3).a
    True
    """
    manifest, tensors = parts(model)
    doc = {**manifest, "data": {name: _encode(t) for name, t in tensors.items()}}
    return json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False)


def from_json(text, *, kernel=None):
    """The Model of to_json's text (str or UTF-8 bytes); FormatError for anything else.

    >>> from_json('{"format": "agentdb.model", "version": 1}')
    Traceback (most recent call last):
    agentdb.errors.FormatError: the model manifest lacks the key 'metadata'
    """
    try:
        doc = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise FormatError(f"not a JSON document: {str(exc)[:200]}") from None
    if not isinstance(doc, dict):
        raise FormatError(f"a model JSON document is an object, got {type(doc).__name__}")
    data = doc.pop("data", {})
    if not isinstance(data, dict):
        raise FormatError("'data' must be an object of tensors")
    check_manifest(doc)
    return from_parts(doc, {name: _decode(name, t) for name, t in data.items()}, kernel=kernel)
