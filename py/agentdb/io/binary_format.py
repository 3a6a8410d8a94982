"""A Model in agentdb's compact binary format (docs/FORMAT.md, "Model binary"): a 16-byte
header, the manifest as compact UTF-8 JSON with a table of the tensors, zero padding to a
multiple of 8, the tensors' bytes back to back, and a CRC32C (the kernel's) of everything
before it. Smaller than JSON, checked whole before anything is decoded.

    0   8  magic  b"AGDBMODL"
    8   4  u32 LE format version (1)
    12  4  u32 LE M: the manifest's length in bytes
    16  M  manifest JSON: the model manifest plus "layout": [[name, dtype, shape, nbytes], ...]
       P  0..7 zero bytes, so the data starts at a multiple of 8
       D  the tensors' bytes, in layout order, no gaps
    end-4 4 u32 LE CRC32C of bytes [0, end-4)
"""
import json
import struct

from .. import safetensors
from ..errors import AgentDBError, ArgumentError, FormatError
from ..kernel import load as load_kernel
from .model import check_manifest, from_parts, parts

MAGIC, VERSION = b"AGDBMODL", 1
HEADER = struct.Struct("<8sII")
MAX_MANIFEST = 100_000_000


def to_binary(model, *, kernel=None):
    """The binary bytes of a Model (one copy of the tensors' bytes).

    >>> from agentdb.io import Model
    >>> data = to_binary(Model(metadata={"name": "x"})); data[:8], len(data) % 4
    (b'AGDBMODL', 0)
    """
    kernel = kernel if kernel is not None else load_kernel()
    manifest, tensors = parts(model)
    manifest["layout"] = [[name, t.dtype, list(t.shape), t.nbytes] for name, t in tensors.items()]
    text = json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head = HEADER.pack(MAGIC, VERSION, len(text)) + text
    out = bytearray(head + bytes(-len(head) % 8))
    for t in tensors.values():
        out += t.data
    out += struct.pack("<I", kernel.crc32c(out))
    return bytes(out)


def _manifest(view, size):
    if size < HEADER.size + 4:
        raise FormatError(f"{size} bytes are too few for an agentdb binary model (at least {HEADER.size + 4})", 0)
    magic, version, m = HEADER.unpack(view[:HEADER.size])
    if magic != MAGIC:
        raise FormatError(f"not an agentdb binary model: the file starts {bytes(magic)!r}, not {MAGIC!r}", 0)
    if version != VERSION:
        raise FormatError(f"agentdb binary model version {version} is not one this agentdb reads (it reads "
                          f"{VERSION})", 8)
    if m > min(size - HEADER.size - 4, MAX_MANIFEST):
        raise FormatError(f"the manifest length {m} runs past the end of the file ({size} bytes)", 12)
    try:
        manifest = json.loads(bytes(view[HEADER.size:HEADER.size + m]).decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"the manifest is not UTF-8 JSON: {str(exc)[:200]}", HEADER.size) from None
    return manifest, HEADER.size + m


def _layout(manifest):
    layout = manifest.pop("layout", None) if isinstance(manifest, dict) else None
    if not isinstance(layout, list):
        raise FormatError("the manifest lacks the tensor table 'layout'", HEADER.size)
    for i, entry in enumerate(layout):
        if not (isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], str)
                and isinstance(entry[3], int) and not isinstance(entry[3], bool) and entry[3] >= 0):
            raise FormatError(f"layout[{i}] must be [name, dtype, shape, nbytes], got {str(entry)[:80]}", HEADER.size)
    return layout


def from_binary(data, *, kernel=None):
    """The Model of to_binary's bytes (any bytes-like object). FormatError (with the byte
    offset) for foreign, truncated or corrupt bytes and unknown versions.

    >>> from agentdb.io import Model
    >>> from_binary(to_binary(Model(metadata={"n": 1}))).metadata
    {'n': 1}
    >>> from_binary(b"PK\\x03\\x04" + bytes(40))
    Traceback (most recent call last):
    agentdb.errors.FormatError: not an agentdb binary model: the file starts b'PK\\x03\\x04\\x00\\x00\\x00\\x00', not b'AGDBMODL' (at byte 0)
    """
    kernel = kernel if kernel is not None else load_kernel()
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        raise ArgumentError(f"from_binary() takes a bytes-like object, got {type(data).__name__}") from None
    size = view.nbytes
    manifest, end = _manifest(view, size)
    (crc,) = struct.unpack("<I", view[size - 4:])
    if kernel.crc32c(view[:size - 4]) != crc:
        raise FormatError("the CRC32C does not match: the file is corrupt or cut short", size - 4)
    layout = _layout(manifest)
    check_manifest(manifest)
    start = end + (-end % 8)
    if any(view[end:start]):
        raise FormatError("the padding after the manifest is not zero", end)
    offset, tensors = start, {}
    for name, dtype, shape, nbytes in layout:
        if offset + nbytes > size - 4:
            raise FormatError(f"tensor {name!r} runs past the end of the data", offset)
        if name in tensors:
            raise FormatError(f"the layout lists tensor {name!r} twice", HEADER.size)
        try:
            tensors[name] = safetensors.Tensor(dtype, shape, view[offset:offset + nbytes])
        except (AgentDBError, TypeError) as exc:
            raise FormatError(f"tensor {name!r}: {exc}", offset) from None
        offset += nbytes
    if offset != size - 4:
        raise FormatError(f"the tensors cover {offset - start} bytes, the data section holds {size - 4 - start}",
                          offset)
    return from_parts(manifest, tensors, kernel=kernel)
