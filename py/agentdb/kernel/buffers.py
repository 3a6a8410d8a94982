"""Turning Python objects into flat, typed, C-contiguous memoryviews for the kernel.

Accepted without numpy: bytes, bytearray, array.array, memoryview, any object with the
buffer protocol (numpy arrays included), and flat lists or tuples of numbers. A byte
buffer (format B/b/c) is reinterpreted when its length is a whole number of elements;
any other element type must match exactly, so a float64 array is never read as float32.
"""
import array
import sys

from ..errors import BufferFormatError

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
    return array.array(fmt, bytes(length * FORMATS[fmt][1]))
