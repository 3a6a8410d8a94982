"""The native backend: the cffi build of csrc/kernel.c (agentdb.kernel._native).

Python buffers are passed in place (ffi.from_buffer, zero copies); KBuffers are bytearrays.
"""
from ..errors import BufferFormatError
from .buffers import FORMATS
from .core import KBuffer, Ptr


class Block:
    """Native memory for a KBuffer: a bytearray (never resized, so it never moves) and its
    cffi pointers, made once per element type instead of once per call."""

    __slots__ = ("data", "pointers")

    def __init__(self, nbytes):
        self.data = bytearray(nbytes)
        self.pointers = {}


class NativeBackend:
    name = "native"

    def __init__(self, ffi=None, lib=None):
        """The built extension by default; tests pass a (ffi, lib) of another build."""
        if lib is None:
            from . import _native  # ImportError when the extension was not built

            ffi, lib = _native.ffi, _native.lib
        self._ffi, self._lib = ffi, lib
        self._ctypes = {fmt: (f"{ctype}[]", size) for fmt, (ctype, size) in FORMATS.items()}

    def alloc(self, nbytes):
        return Block(nbytes)

    def view(self, handle, nbytes):
        return memoryview(handle.data)

    def write(self, handle, offset, src):
        memoryview(handle.data)[offset:offset + len(src)] = src

    def read(self, handle, offset, dst):
        dst[:] = memoryview(handle.data)[offset:offset + len(dst)]

    def copy(self, dst, src, nbytes):
        memoryview(dst.data)[:nbytes] = memoryview(src.data)[:nbytes]

    def _pointer(self, p):
        if p.obj is None:
            return self._ffi.NULL
        ctype, size = self._ctypes[p.fmt]
        if isinstance(p.obj, KBuffer):
            block = p.obj.handle
            c = block.pointers.get(p.fmt)
            if c is None:
                c = block.pointers[p.fmt] = self._ffi.from_buffer(ctype, block.data)
            return c + p.offset if p.offset else c
        c = self._ffi.from_buffer(ctype, p.obj, require_writable=p.out)
        # The kernel reads caller buffers in place, so their elements must be aligned.
        if size > 1 and p.obj.nbytes and int(self._ffi.cast("uintptr_t", c)) % size:
            raise BufferFormatError(f"buffer address is not aligned to its {size}-byte elements; "
                                    "pass a copy (e.g. bytes(buffer)) instead of an odd slice")
        return c + p.offset if p.offset else c

    def invoke(self, fname, args):
        return getattr(self._lib, fname)(*[self._pointer(a) if isinstance(a, Ptr) else a for a in args])

    def bind(self, fname, static):
        """A call of fname with its leading arguments converted once (KBuffers and scalars)."""
        fn, pointer = getattr(self._lib, fname), self._pointer
        pre = [pointer(a) if isinstance(a, Ptr) else a for a in static]
        return lambda *args: fn(*pre, *[pointer(a) if isinstance(a, Ptr) else a for a in args])
