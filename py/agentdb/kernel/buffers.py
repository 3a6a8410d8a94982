"""Turning Python objects into flat, typed, C-contiguous memoryviews for the kernel.

Accepted without numpy: bytes, bytearray, array.array, memoryview, any object with the
buffer protocol (numpy arrays included), and flat lists or tuples of numbers. A byte
buffer (format B/b/c) is reinterpreted when its length is a whole number of elements;
any other element type must match exactly, so a float64 array is never read as float32.
"""
import array
import sys

from ..errors import BufferFormatError, DimensionError

# kernel element types: struct format -> (C type for cffi, item size)
FORMATS = {"f": ("float", 4), "d": ("double", 8), "I": ("uint32_t", 4), "b": ("int8_t", 1), "B": ("uint8_t", 1)}
_NAMES = {"f": "float32", "d": "float64", "I": "uint32", "b": "int8", "B": "uint8"}
_BYTE_FORMATS = {"B", "b", "c"}
_LITTLE = sys.byteorder == "little"


def _plain_format(fmt):
    """'<f' and '=f' are 'f' on a little-endian host; '@' is native."""
    if fmt and fmt[0] in "@=" or (fmt and fmt[0] == "<" and _LITTLE):
        return fmt[1:]
    return fmt


def _same_kind(have, want):
    if have == want:
        return True
    # uint32 also arrives as 'L' where C long is 32 bits, and as 'I' elsewhere
    return want == "I" and have == "L" and array.array("L").itemsize == 4


def as_view(obj, fmt, *, name="buffer", writable=False):
    """A flat memoryview of `obj` with element format `fmt`, or BufferFormatError."""
    if type(obj) is memoryview and obj.format == fmt and obj.ndim == 1 and obj.c_contiguous and \
            not (writable and obj.readonly):
        return obj                     # already what the kernel takes (every query's path)
    if isinstance(obj, (list, tuple)):
        if writable:
            raise BufferFormatError(f"{name}: a list cannot receive output; pass a bytearray or array.array")
        try:
            obj = array.array(fmt, obj)
        except (TypeError, OverflowError) as exc:
            raise BufferFormatError(f"{name}: cannot convert list to {_NAMES[fmt]}: {exc}") from None
    try:
        mv = memoryview(obj)
    except TypeError:
        raise BufferFormatError(
            f"{name}: expected a buffer of {_NAMES[fmt]} (array.array, bytes, numpy array, ...), "
            f"got {type(obj).__name__}") from None
    if writable and mv.readonly:
        raise BufferFormatError(f"{name}: buffer is read-only but the kernel writes into it")
    if not mv.c_contiguous:
        raise BufferFormatError(f"{name}: buffer must be C-contiguous (got strides {mv.strides})")
    have = _plain_format(mv.format)
    size = FORMATS[fmt][1]
    if mv.nbytes == 0 and (_same_kind(have, fmt) or have in _BYTE_FORMATS):
        return memoryview(array.array(fmt))  # an empty n-d view cannot be cast
    if _same_kind(have, fmt):
        flat = mv.cast("B").cast(fmt) if mv.ndim != 1 or have != fmt else mv
        return flat
    if have in _BYTE_FORMATS:
        if mv.nbytes % size:
            raise BufferFormatError(
                f"{name}: {mv.nbytes} bytes is not a whole number of {_NAMES[fmt]} ({size} bytes each)")
        return mv.cast("B").cast(fmt)
    raise BufferFormatError(f"{name}: expected {_NAMES[fmt]} elements, got format {mv.format!r}")


def new_array(fmt, length):
    """A zero-filled array.array: the default output container (numpy can wrap it without copying)."""
    return array.array(fmt, bytes(FORMATS[fmt][1])) * length   # one pass (bytes copied in: two)


U32_MAX = 0xFFFFFFFF


class Ptr:
    """A pointer argument: a KBuffer, a validated memoryview, or None (NULL), plus an element
    offset into it. `out` marks buffers the kernel writes (copied back by wasm backends)."""

    __slots__ = ("obj", "fmt", "out", "offset")

    def __init__(self, obj, fmt, out=False, offset=0):
        self.obj, self.fmt, self.out, self.offset = obj, fmt, out, offset


class KBuffer:
    """Memory owned by a kernel backend (wasm linear memory, or native memory).

    Kernel calls on KBuffers copy nothing in any backend, which is what a store keeps its
    vectors in. `view()` returns a zero-copy typed memoryview; it is fetched anew on each
    call because a wasm memory can move when it grows, so do not keep one across calls
    that allocate.
    """

    __slots__ = ("_backend", "handle", "fmt", "length", "__weakref__")

    def __init__(self, backend, handle, fmt, length):
        self._backend, self.handle, self.fmt, self.length = backend, handle, fmt, length

    @property
    def nbytes(self):
        """Size in bytes."""
        return self.length * FORMATS[self.fmt][1]

    def __len__(self):
        return self.length

    def view(self):
        """A zero-copy typed memoryview of the buffer (fetch it again after any allocation)."""
        return self._backend.view(self.handle, self.nbytes).cast(self.fmt)

    def write(self, data, start=0):
        """Copies `data` (any buffer or list of this element type) in at element `start`."""
        src = as_view(data, self.fmt, name="data")
        if start < 0 or start + len(src) > self.length:
            raise DimensionError(f"writing {len(src)} elements at {start} overflows a buffer of {self.length}")
        size = FORMATS[self.fmt][1]
        self._backend.write(self.handle, start * size, src.cast("B"))

    def head(self, length):
        """The first `length` elements as a KBuffer sharing this memory (no copy): how a store
        passes only its used rows to the kernel."""
        if not 0 <= length <= self.length:
            raise DimensionError(f"head of {length} elements from a buffer of {self.length}")
        return KBuffer(self._backend, self.handle, self.fmt, length)

    def copy_from(self, src, count=None):
        """Copies the first `count` elements (default all) of KBuffer `src` into this one,
        inside the backend's memory (no round trip through Python objects)."""
        count = src.length if count is None else count
        if src.fmt != self.fmt or count > min(src.length, self.length):
            raise DimensionError(f"cannot copy {count} {src.fmt!r} elements into {self.length} {self.fmt!r}")
        self._backend.copy(self.handle, src.handle, count * FORMATS[self.fmt][1])

    def read(self, start=0, stop=None):
        """A copy of elements [start, stop) as an array.array."""
        stop = self.length if stop is None else stop
        if not 0 <= start <= stop <= self.length:
            raise DimensionError(f"range [{start}, {stop}) is outside a buffer of {self.length}")
        out = new_array(self.fmt, stop - start)
        size = FORMATS[self.fmt][1]
        self._backend.read(self.handle, start * size, memoryview(out).cast("B"))
        return out


def u32(value, name):
    if not 0 <= value <= U32_MAX:
        raise DimensionError(f"{name} = {value} does not fit the kernel's 32-bit sizes")
    return value
