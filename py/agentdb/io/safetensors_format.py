"""A Model as one SafeTensors file (agentdb.safetensors writes and reads it): the tensors of
agentdb.io.model under their names, and the manifest as the JSON text of the "__metadata__"
key "agentdb.model" (beside "format": "agentdb.model" and "version": "1"), so any SafeTensors
reader sees the weights and agentdb gets the whole model back, bit for bit.
"""
import json

from .. import safetensors
from ..errors import FormatError
from .model import FORMAT, VERSION, from_parts, parts

KEY = "agentdb.model"           # the __metadata__ key that holds the manifest


def _metadata(model):
    manifest, tensors = parts(model)
    return tensors, {"format": FORMAT, "version": str(VERSION), KEY: json.dumps(manifest, ensure_ascii=False,
                                                                                separators=(",", ":"))}


def to_safetensors(model, *, align=None):
    """The SafeTensors bytes of a Model; align=64 starts every tensor on a 64-byte boundary
    (the header padded with spaces, filler tensors between; see agentdb.safetensors.save).

    >>> from agentdb.learn import LoRA
    >>> from agentdb.io import Model
    >>> data = to_safetensors(Model(adapters={"q": LoRA(4, 4, rank=2)}), align=64)
    >>> from agentdb import safetensors
    >>> [n for n in safetensors.load(data) if not n.startswith("__pad__")]
    ['adapter.q.a', 'adapter.q.b']
    """
    tensors, metadata = _metadata(model)
    return safetensors.save(tensors, metadata, align=align)


def save_safetensors(model, path, *, align=None):
    """Writes to_safetensors(model) to `path` (a temporary file renamed into place).

    >>> import os, tempfile
    >>> from agentdb.io import Model
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_safetensors(Model(metadata={"a": 1}), os.path.join(d, "m.safetensors"))
    ...     from_safetensors(os.path.join(d, "m.safetensors")).metadata
    {'a': 1}
    """
    tensors, metadata = _metadata(model)
    safetensors.save_file(tensors, path, metadata, align=align)


def from_safetensors(source, *, kernel=None):
    """The Model in a SafeTensors file (a path or bytes) that to_safetensors wrote.
    SafeTensorsError for bytes that are not SafeTensors (a NUL-padded header included),
    FormatError for a SafeTensors file that is not an agentdb model or does not match its
    manifest.

    >>> from agentdb.io import Model
    >>> from_safetensors(to_safetensors(Model(metadata={"k": [1, 2]}))).metadata
    {'k': [1, 2]}
    """
    st = safetensors.load(source)
    text = st.metadata.get(KEY)
    if st.metadata.get("format") != FORMAT or text is None:
        raise FormatError(f"this SafeTensors file is not an agentdb model (its __metadata__ has no "
                          f"format {FORMAT!r} with a {KEY!r} manifest); agentdb.safetensors.load reads any file")
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise FormatError(f"the {KEY!r} manifest is not JSON: {exc}") from None
    return from_parts(manifest, st, kernel=kernel)
