"""SafeTensors files (Hugging Face's format for model weights), read and written in pure
Python: standard library only, so the same code runs natively and in Pyodide.

Layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON (an object: each tensor name ->
{"dtype", "shape", "data_offsets": [begin, end]} relative to the byte after the header, plus
an optional "__metadata__" object of str -> str), then the data.

The writer is byte-identical to the real `safetensors` package (checked against 0.8.0):
- tensors sorted by the Rust `Dtype` enum rank descending, then by name (code point order =
  UTF-8 byte order). The rank is not the size (I64 before F64): U64 I64 F64 C64 F32 U32 I32
  BF16 F16 U16 I16 F8_E5M2FNUZ F8_E4M3FNUZ F8_E8M0 F8_E4M3 F8_E5M2 I8 U8 F6_E3M2 F6_E2M3 F4
  BOOL; the data follows in that order, with no gaps;
- compact JSON (separators "," and ":"), non-ASCII unescaped, control characters as \\n
  \\t ... or \\u00XX (lowercase); "__metadata__" first when given (even {}); each entry's
  keys in the order dtype, shape, data_offsets;
- the header padded with spaces (0x20) to a multiple of 8 bytes (never NULs, which ruvllm's
  writer uses and every strict reader refuses: ours names that bug when it meets it);
  save(align=64) also lays every tensor out on a 64-byte boundary (U8 filler tensors).
Except: with 2+ metadata keys the real order is a hash order (ours: the dict's); with no
tensors and metadata={} the real writer emits invalid JSON ('{},"__metadata__":{}}', which
its own reader refuses) where we write '{"__metadata__":{}}'.

The reader follows the spec strictly and raises SafeTensorsError (a CorruptFileError),
also for some things the real package lets through: a header not starting with "{",
duplicate keys at any level (its parser keeps the last), unknown keys in a tensor entry,
"__metadata__": null. Trailing padding may be any JSON whitespace (as serde_json allows).
Headers over 100 MB are refused, as there. Tensors come in data-offset order (the order the
real writer writes). Every dtype above loads; sub-byte F4/F6_* when they fill whole bytes.
"""
import json
import math
import operator
import os
import reprlib
import struct
import sys
from array import array
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import BufferFormatError, SafeTensorsError, SafeTensorsWriteError

try:  # Pyodide may lack a usable mmap; then a file is read once into one buffer
    import mmap as _mmap
except ImportError:  # pragma: no cover
    _mmap = None

PAD = "__pad__."            # the name prefix of the aligned layout's filler tensors (save(align=))
MAX_HEADER = 100_000_000   # the real package's limit: parsing a header never costs more
_U64_MAX = 2 ** 64 - 1

# dtype -> bits per element, listed in the real writer's sort rank (its Rust enum order)
_RANKED = [("BOOL", 8), ("F4", 4), ("F6_E2M3", 6), ("F6_E3M2", 6), ("U8", 8), ("I8", 8),
           ("F8_E5M2", 8), ("F8_E4M3", 8), ("F8_E8M0", 8), ("F8_E4M3FNUZ", 8), ("F8_E5M2FNUZ", 8),
           ("I16", 16), ("U16", 16), ("F16", 16), ("BF16", 16), ("I32", 32), ("U32", 32),
           ("F32", 32), ("C64", 64), ("F64", 64), ("I64", 64), ("U64", 64)]
DTYPE_BITS = dict(_RANKED)
_RANK = {name: i for i, (name, _) in enumerate(_RANKED)}

# numpy (and ml_dtypes) dtype names, mapped as the real package maps them
NUMPY_NAMES = {"bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "uint16": "U16",
               "float16": "F16", "bfloat16": "BF16", "int32": "I32", "uint32": "U32",
               "float32": "F32", "complex64": "C64", "float64": "F64", "int64": "I64",
               "uint64": "U64", "float8_e5m2": "F8_E5M2", "float8_e4m3fn": "F8_E4M3",
               "float8_e8m0fnu": "F8_E8M0", "float8_e4m3fnuz": "F8_E4M3FNUZ",
               "float8_e5m2fnuz": "F8_E5M2FNUZ"}

# struct codes, always unpacked little-endian whatever the host; C64 is pairs of "f"
_STRUCT = {"BOOL": "?", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "F16": "e", "I32": "i",
           "U32": "I", "F32": "f", "C64": "f", "F64": "d", "I64": "q", "U64": "Q"}
# array.array codes ("i" and "q" are 4 and 8 bytes on every CPython, wasm32 included)
_ARRAY = {"BOOL": "B", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "I32": "i", "U32": "I",
          "F32": "f", "F64": "d", "I64": "q", "U64": "Q"}

_repr = reprlib.Repr()   # so a shape of a million dims stays one short line in a message
_repr.maxlist, _repr.maxdict, _repr.maxstring, _repr.maxother = 8, 8, 60, 60
_short = _repr.repr


def _as_bytes_view(data):
    """A 1-D unsigned-byte memoryview over `data`, without copying."""
    view = data if isinstance(data, memoryview) else memoryview(data)
    if view.nbytes == 0:
        return memoryview(b"")   # cast() refuses shapes that hold a zero
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def _checked(what, dtype, shape, nbytes):
    """(dtype, shape as a tuple of ints), checked to describe exactly `nbytes` bytes."""
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise SafeTensorsWriteError(f"{what}: unknown dtype {_short(dtype)} (known: {', '.join(DTYPE_BITS)})")
    try:   # numpy ints yes; floats, strings and bools (index() would make True a 1) no
        if any(isinstance(d, bool) for d in shape):
            raise TypeError
        shape = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise SafeTensorsWriteError(f"{what}: shape must be a sequence of ints, got {_short(shape)}") from None
    if not all(0 <= d <= _U64_MAX for d in shape):
        raise SafeTensorsWriteError(f"{what}: shape dims must be ints in [0, 2**64), got {_short(shape)}")
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits != 8 * nbytes:
        need = f"{bits // 8} bytes" if bits % 8 == 0 else f"{bits} bits, not whole bytes"
        raise SafeTensorsWriteError(f"{what}: shape {_short(list(shape))} of {dtype} needs {need}, "
                                    f"the buffer holds {nbytes}")
    return dtype, shape


@dataclass(frozen=True)
class Tensor:
    """One tensor: the spec's dtype string, its shape, and its little-endian bytes (a
    memoryview; zero-copy inside the loaded file's buffer).

    >>> t = Tensor("I16", (2,), b"\\x01\\x00\\xff\\xff")
    >>> t.nbytes, t.values()
    (4, [1, -1])
    """
    dtype: str
    shape: tuple
    data: memoryview

    def __post_init__(self):
        data = _as_bytes_view(self.data)
        dtype, shape = _checked("Tensor", self.dtype, self.shape, data.nbytes)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "data", data)

    @property
    def nbytes(self):
        """Size of the data in bytes.

        >>> Tensor("F64", (3,), bytes(24)).nbytes
        24
        """
        return self.data.nbytes

    def values(self):
        """The elements as a flat list of Python numbers (bool for BOOL, complex for C64);
        F16 and BF16 are widened exactly. Raises BufferFormatError for F8/F6/F4.

        >>> Tensor("BF16", (2,), b"\\x80\\x3f\\x00\\xc0").values()
        [1.0, -2.0]
        """
        count = math.prod(self.shape)
        if self.dtype == "BF16":   # a bf16 is the top half of an f32: put it there, read f32s
            wide, raw = bytearray(4 * count), bytes(self.data)
            wide[2::4], wide[3::4] = raw[0::2], raw[1::2]
            return list(struct.unpack(f"<{count}f", wide))
        code = _STRUCT.get(self.dtype)
        if code is None:
            raise BufferFormatError(f"values() cannot decode {self.dtype}; read the raw bytes from .data")
        if self.dtype == "C64":
            parts = struct.unpack(f"<{2 * count}f", self.data)
            return [complex(re, im) for re, im in zip(parts[0::2], parts[1::2])]
        return list(struct.unpack(f"<{count}{code}", self.data))

    def tolist(self):
        """The elements nested by shape, like numpy's tolist (a bare number for shape ()).

        >>> Tensor("U8", (2, 3), bytes(range(6))).tolist()
        [[0, 1, 2], [3, 4, 5]]
        """
        flat = self.values()
        if not self.shape:
            return flat[0]

        def nest(start, dims):
            if len(dims) == 1:
                return flat[start:start + dims[0]]
            step = math.prod(dims[1:])
            return [nest(start + i * step, dims[1:]) for i in range(dims[0])]
        return nest(0, self.shape)

    def as_array(self):
        """A flat array.array copy in native byte order (BOOL as "B" 0/1). Raises
        BufferFormatError for dtypes array has no code for (F16, BF16, C64, F8, F6, F4).

        >>> Tensor("F32", (2,), b"\\x00\\x00\\x80\\x3f\\x00\\x00\\x00\\x40").as_array()
        array('f', [1.0, 2.0])
        """
        code = _ARRAY.get(self.dtype)
        if code is None:
            raise BufferFormatError(f"array.array has no type for {self.dtype}; use values() or .data")
        out = array(code)
        out.frombytes(self.data)
        if sys.byteorder == "big":
            out.byteswap()
        return out


class SafeTensors(Mapping):
    """A loaded file: an ordered mapping name -> Tensor (in data-offset order) plus
    `.metadata` (the "__metadata__" dict, or {}).

    >>> st = load(save({"b": ("U8", [2], b"hi"), "a": ("F32", [], bytes(4))}, {"k": "v"}))
    >>> list(st), st.metadata, st["b"].shape
    (['a', 'b'], {'k': 'v'}, (2,))
    """

    def __init__(self, tensors, metadata):
        self._tensors, self.metadata = tensors, metadata

    def __getitem__(self, name):
        return self._tensors[name]

    def __iter__(self):
        return iter(self._tensors)

    def __len__(self):
        return len(self._tensors)

    def __repr__(self):
        inner = ", ".join(f"{n!r}: {t.dtype}{list(t.shape)}" for n, t in self._tensors.items())
        return f"SafeTensors({{{inner}}}, metadata={self.metadata!r})"


# ---------------------------------------------------------------- reading

def _no_duplicates(pairs):
    # object_pairs_hook: the spec forbids duplicate keys; a plain dict would keep the last one
    out = {}
    for key, value in pairs:
        if key in out:
            raise SafeTensorsError(f"header has the key {_short(key)} twice", 8)
        out[key] = value
    return out


def _no_constant(word):
    raise SafeTensorsError(f"header is not valid JSON: {word} is not a JSON value", 8)


def _check_text(text, what):
    # Python's json accepts lone surrogate escapes ("\ud800"); UTF-8 and serde_json do not
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SafeTensorsError(f"{what} {_short(text)} is not valid Unicode", 8) from None


def _is_u64(x):
    return type(x) is int and 0 <= x <= _U64_MAX   # type(), not isinstance(): true is not a number


def _check_entry(name, info, data_start, data_size):
    """(dtype, shape, begin, end) of one header entry, checked on its own."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        got = sorted(info) if isinstance(info, dict) else type(info).__name__
        raise SafeTensorsError(f"tensor {name!r}: entry must hold exactly dtype, shape and data_offsets, "
                               f"got {_short(got)}", 8)
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise SafeTensorsError(f"tensor {name!r}: unknown dtype {_short(dtype)}", 8)
    if not isinstance(shape, list) or not all(_is_u64(d) for d in shape):
        raise SafeTensorsError(f"tensor {name!r}: shape must be a list of non-negative ints, got {_short(shape)}", 8)
    count = 1
    for dim in shape:   # left to right, as the real reader's checked_mul fold
        count *= dim
        if count > _U64_MAX:
            raise SafeTensorsError(f"tensor {name!r}: shape {_short(shape)} overflows 64 bits", 8)
    bits = count * DTYPE_BITS[dtype]
    if bits > _U64_MAX or bits % 8:
        raise SafeTensorsError(f"tensor {name!r}: shape {_short(shape)} of {dtype} is {bits} bits, "
                               f"not a whole number of bytes below 2**64", 8)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_u64(o) for o in offsets)):
        raise SafeTensorsError(f"tensor {name!r}: data_offsets must be [begin, end], got {_short(offsets)}", 8)
    begin, end = offsets
    if not begin <= end <= data_size:
        raise SafeTensorsError(f"tensor {name!r}: data_offsets [{begin}, {end}] are out of bounds (the "
                               f"data section holds {data_size} bytes)", data_start + min(begin, data_size))
    if end - begin != bits // 8:
        raise SafeTensorsError(f"tensor {name!r}: shape {_short(shape)} of {dtype} needs {bits // 8} bytes, "
                               f"data_offsets [{begin}, {end}] hold {end - begin}", data_start + begin)
    return dtype, tuple(shape), begin, end


def _parse(size, read):
    """(header length, [(name, dtype, shape, begin, end)] in data order, metadata) of a file
    of `size` bytes, from read(offset, n); reads only the header."""
    if size < 8:
        raise SafeTensorsError(f"file is {size} bytes, shorter than the 8-byte header length", 0)
    (n,) = struct.unpack("<Q", read(0, 8))
    if n > size - 8:   # checked before reading: a claim of 2**63 bytes allocates nothing
        raise SafeTensorsError(f"header length {n} runs past the end of the file ({size} bytes)", 0)
    if n > MAX_HEADER:
        raise SafeTensorsError(f"header length {n} exceeds the limit of {MAX_HEADER} bytes", 0)
    try:
        text = bytes(read(8, n)).decode("utf-8")
    except UnicodeDecodeError as e:
        raise SafeTensorsError(f"header is not UTF-8: {e.reason}", 8 + e.start) from None
    if not text.startswith("{"):
        raise SafeTensorsError(f"header must begin with '{{', got {text[:1]!r}", 8)
    if text.endswith("\x00"):   # ruvllm's SafeTensorsWriter pads so; the real reader refuses it too
        first = len(text.rstrip("\x00").encode())
        raise SafeTensorsError("header is padded with NUL bytes, which the format does not allow (it pads "
                               "with spaces); the file comes from a writer with that bug (ruvllm's "
                               "SafeTensorsWriter): rewrite it with spaces", 8 + first)
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except SafeTensorsError:
        raise
    except json.JSONDecodeError as e:
        raise SafeTensorsError(f"header is not valid JSON: {e.msg}", 8 + len(text[:e.pos].encode())) from None
    except (ValueError, RecursionError) as e:   # an int of over 4300 digits; deep nesting
        raise SafeTensorsError(f"header is not valid JSON: {_short(str(e))}", 8) from None
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafeTensorsError(f"__metadata__ must be an object of strings, got {_short(metadata)}", 8)
    for key, value in metadata.items():
        _check_text(key, "metadata key")
        _check_text(value, "metadata value")
    data_start, data_size = 8 + n, size - 8 - n
    entries = []
    for name, info in header.items():
        _check_text(name, "tensor name")
        entries.append((name, *_check_entry(name, info, data_start, data_size)))
    entries.sort(key=lambda e: (e[3], e[4]))   # stable: empty tensors at one offset keep header order
    covered = 0
    for name, _, _, begin, end in entries:   # contiguous, no overlaps: no room for a polyglot
        if begin != covered:
            what = "leaves a hole" if begin > covered else "overlaps the tensor before it"
            raise SafeTensorsError(f"tensor {name!r} starts at data byte {begin}, expected {covered}: "
                                   f"it {what}", data_start + begin)
        covered = end
    if covered != data_size:
        raise SafeTensorsError(f"tensors cover {covered} bytes but the data section holds {data_size}",
                               data_start + covered)
    return n, entries, metadata


def _assemble(buf, n, entries, metadata):
    view, start = memoryview(buf), 8 + n
    return SafeTensors({name: Tensor(dtype, shape, view[start + begin:start + end])
                        for name, dtype, shape, begin, end in entries}, metadata)


def _load_path(path, use_mmap):
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        seen = []   # the header bytes as validated, to compare the mapped or read copy with

        def read(offset, count):
            fh.seek(offset)
            seen.append(fh.read(count))
            if len(seen[-1]) != count:
                raise SafeTensorsError("file ended while its header was read (cut short meanwhile?)", offset)
            return seen[-1]
        n, entries, metadata = _parse(size, read)
        # only the header has been read: a bad 10 GB file fails without its data being touched
        buf = None
        if use_mmap and _mmap is not None:
            try:
                buf = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
            except (OSError, ValueError):   # no usable mmap in this home: read instead
                pass
        if buf is None:   # one buffer for the whole file (BufferedReader.readinto fills it)
            fh.seek(0)
            buf = bytearray(size)
            if fh.readinto(buf) != size:
                raise SafeTensorsError("file was cut short while being read", 0)
    if len(buf) != size or memoryview(buf)[:8 + n] != b"".join(seen):
        raise SafeTensorsError("file changed while it was being read", 0)
    return _assemble(buf, n, entries, metadata)


def load(source, *, use_mmap=True):
    """Reads and validates a SafeTensors file from a path or a bytes-like object. Tensor data
    is never copied: it stays in `source`, in a read-only mmap of the file (natively), or
    in one bytearray holding the file (when mmap is unavailable or use_mmap=False).

    >>> st = load(save({"w": ("F32", [2], b"\\x00\\x00\\x80\\x3f" * 2)}))
    >>> st["w"].dtype, st["w"].shape, st["w"].values()
    ('F32', (2,), [1.0, 1.0])
    """
    if isinstance(source, (str, os.PathLike)):
        return _load_path(os.fspath(source), use_mmap)
    try:
        view = memoryview(source)
    except TypeError:
        raise BufferFormatError(f"load() takes a path or a bytes-like object, got {type(source).__name__}") from None
    if not view.c_contiguous:
        raise BufferFormatError("load() needs a C-contiguous buffer")
    view = _as_bytes_view(view)
    n, entries, metadata = _parse(view.nbytes, lambda offset, count: view[offset:offset + count])
    return _assemble(view, n, entries, metadata)


# ---------------------------------------------------------------- writing

def _little_endian(name, data):
    """The little-endian bytes of a buffer: zero-copy unless it must be byte-swapped."""
    try:
        view = memoryview(data)
    except (TypeError, ValueError) as e:   # numpy refuses to export some dtypes (ValueError)
        raise SafeTensorsWriteError(f"tensor {name!r}: {type(data).__name__} has no buffer to write ({e})") from None
    if not view.c_contiguous:
        raise SafeTensorsWriteError(f"tensor {name!r}: the buffer is not C-contiguous (copy it first)")
    raw, order = _as_bytes_view(view), view.format[:1]
    if view.itemsize == 1 or not raw.nbytes or order == "<" or (order not in ">!" and sys.byteorder == "little"):
        return raw
    unit = view.itemsize // 2 if "Z" in view.format else view.itemsize   # complex: swap each half
    src, out = bytes(raw), bytearray(raw.nbytes)
    for j in range(unit):
        out[j::unit] = src[unit - 1 - j::unit]
    return memoryview(out)


def _entry(name, value):
    """(dtype, shape, data) of one tensor to write, checked."""
    if not isinstance(name, str) or name == "__metadata__":
        raise SafeTensorsWriteError(f"tensor name must be a str other than '__metadata__', got {_short(name)}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise SafeTensorsWriteError(f"tensor name {name!r} is not valid Unicode") from None
    if isinstance(value, Tensor):
        dtype, shape, data = value.dtype, value.shape, value.data
    elif isinstance(value, tuple) and len(value) == 3:
        dtype, shape, data = value
    elif hasattr(value, "dtype") and hasattr(value, "shape"):   # numpy-like, without importing numpy
        dtype, shape, data = getattr(value.dtype, "name", value.dtype), value.shape, value
    else:
        raise SafeTensorsWriteError(f"tensor {name!r}: expected a Tensor, a (dtype, shape, bytes) tuple "
                                    f"or an array with .dtype and .shape, got {type(value).__name__}")
    dtype = NUMPY_NAMES.get(dtype, dtype) if isinstance(dtype, str) else dtype
    view = _little_endian(name, data)
    dtype, shape = _checked(f"tensor {name!r}", dtype, shape, view.nbytes)
    return dtype, shape, view


def _check_align(align):
    if align is not None and (isinstance(align, bool) or not isinstance(align, int) or align < 8
                              or align > 65536 or align & (align - 1)):
        raise SafeTensorsWriteError(f"align must be None or a power of two from 8 to 65536, got {_short(align)}")


def _aligned(entries, align):
    """entries with a U8 filler tensor PAD<k> after each one whose size is not a multiple of
    `align` (the spec wants the data contiguous, so a gap must be a tensor)."""
    out, k = [], 0
    for entry in entries:
        out.append(entry)
        gap = -entry[3].nbytes % align
        if gap:
            out.append((f"{PAD}{k}", "U8", (gap,), memoryview(bytes(gap))))
            k += 1
    return out


def _prepare(tensors, metadata, align=None):
    """(the 8-byte length and padded header, [data views in file order]), laid out as the
    real writer lays them out (align: see save)."""
    _check_align(align)
    entries, names = [], set()
    for name, value in (tensors.items() if isinstance(tensors, Mapping) else tensors):
        entries.append((name, *_entry(name, value)))   # checks the name is a str first
        if name in names:
            raise SafeTensorsWriteError(f"tensor name {name!r} is given twice")
        names.add(name)
    entries.sort(key=lambda e: (-_RANK[e[1]], e[0]))
    if align is not None:
        entries = _aligned(entries, align)
        clash = names.intersection(e[0] for e in entries if e[0].startswith(PAD))
        if clash:
            raise SafeTensorsWriteError(f"tensor name {min(clash)!r} is the aligned layout's filler name; rename it")
    header = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafeTensorsWriteError(f"metadata must map str to str, got {_short(metadata)}")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, dtype, shape, view in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + view.nbytes]}
        offset += view.nbytes
    try:
        text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        raise SafeTensorsWriteError("metadata holds a string that is not valid Unicode") from None
    text += b" " * (-(8 + len(text)) % (align or 8))   # so the data starts 8- (or align-) aligned
    return struct.pack("<Q", len(text)) + text, [e[3] for e in entries]


def save(tensors, metadata=None, *, align=None):
    """The SafeTensors bytes for `tensors` and an optional str -> str `metadata`,
    byte-identical to the real package's writer. `tensors` is a mapping or a sequence of
    (name, tensor) pairs. Each tensor is a Tensor, a (dtype, shape, bytes-like) tuple (dtype
    as "F32" or "float32"), or a C-contiguous numpy-like array. Makes one copy.

    >>> save({"x": ("U8", [3], b"abc")})
    b'8\\x00\\x00\\x00\\x00\\x00\\x00\\x00{"x":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}   abc'
    >>> load(save({"x": ("uint8", [3], b"abc")}))["x"].tolist()
    [97, 98, 99]

    align=64 (any power of two from 8): the header is padded with spaces so the data starts at
    a multiple of 64 in the file, and a U8 tensor named PAD<k> ("__pad__.0", ...) of zeros
    follows each tensor whose size is not a multiple of 64, so every tensor starts on a 64-byte
    boundary (readers see the fillers as small tensors; agentdb.io drops them).

    >>> st = load(save({"x": ("U8", [3], b"abc")}, align=64)); list(st), st["__pad__.0"].shape
    (['x', '__pad__.0'], (61,))
    """
    head, views = _prepare(tensors, metadata, align)
    return b"".join([head, *views])


def save_file(tensors, path, metadata=None, *, align=None):
    """Writes save(tensors, metadata) to `path` through a temporary file in the same
    directory and os.replace, so a crash leaves the old file or the new one, never half of
    one. The data goes to disk straight from the tensors' buffers, with no whole-file copy.

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_file({"x": ("I8", [2], b"\\x01\\xff")}, os.path.join(folder, "w.safetensors"))
    ...     load(os.path.join(folder, "w.safetensors"))["x"].values()
    [1, -1]
    """
    head, views = _prepare(tensors, metadata, align)   # every check runs before the disk is touched
    folder, base = os.path.split(os.path.abspath(os.fspath(path)))
    tmp = os.path.join(folder, f".{base}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "xb") as fh:   # "x": never clobbers; the mode follows the umask as usual
            fh.write(head)
            for view in views:
                fh.write(view)
            fh.flush()
            try:
                os.fsync(fh.fileno())
            except OSError:   # some homes (Pyodide's in-memory FS) cannot fsync
                pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
