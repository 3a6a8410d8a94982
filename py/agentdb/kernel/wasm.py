"""What the two wasm backends share: a Python-side heap over the kernel's linear memory and
the marshalling of arguments into it.

A KBuffer lives in the linear memory and is passed as its address (no copy). Any other
buffer is copied into scratch memory for the call, and copied back if the kernel writes it.
Subclasses provide the memory access and the raw function call for their host.
"""
import weakref

from .core import KBuffer, Ptr
from .buffers import FORMATS
from .heap import WasmHeap

_I32 = 1 << 31


class Block:
    """One heap allocation; freed when the KBuffer that holds it is garbage collected."""

    __slots__ = ("addr", "__weakref__")

    def __init__(self, heap, addr):
        self.addr = addr
        weakref.finalize(self, heap.free, addr)


class WasmBackend:
    @staticmethod
    def lazy(nbytes):           # a wasm memory is backed as it grows
        return False
    def _start_heap(self, heap_base, size):
        self._heap = WasmHeap(heap_base, size, self._grow_pages)

    # subclasses: _grow_pages(n) -> new size, _write_at(addr, src), _read_at(addr, dst),
    # _zero_at(addr, n), view(handle, nbytes), _call_raw(fname, args), _bind_raw(fname, prefix)

    def alloc(self, nbytes, filled_soon=False):    # linear memory is backed already
        block = Block(self._heap, self._heap.alloc(nbytes))
        self._zero_at(block.addr, nbytes)
        return block

    def write(self, handle, offset, src):
        self._write_at(handle.addr + offset, src)

    def read(self, handle, offset, dst):
        self._read_at(handle.addr + offset, dst)

    def bind(self, fname, static, *, scalars_only=False):
        """A call of fname with its leading arguments converted once: KBuffers become their
        addresses (stable while the KBuffer lives), scalars their wasm form. scalars_only: the
        remaining arguments are plain numbers (no buffers to copy in or out)."""
        if any(isinstance(a, Ptr) and a.obj is not None and not isinstance(a.obj, KBuffer) for a in static):
            raise TypeError("only KBuffers and scalars can be bound")  # internal: bind() is called by the package only
        prefix = [self._address(a, None, None) if isinstance(a, Ptr) else self._scalar(a) for a in static]
        if scalars_only:      # numbers below 2**31 (counts), passed as they are
            return self._bind_raw(fname, prefix)
        return lambda *args: self.invoke(fname, args, prefix)

    @staticmethod
    def _scalar(a):
        return a - (1 << 32) if isinstance(a, int) and a >= _I32 else a  # wasm i32 is signed

    def invoke(self, fname, args, prefix=()):
        raw, copy_back, scratch = list(prefix), [], []
        try:
            for a in args:
                raw.append(self._address(a, copy_back, scratch) if isinstance(a, Ptr) else self._scalar(a))
            result = self._call_raw(fname, raw)
            for addr, dst in copy_back:
                self._read_at(addr, dst)
            return result
        finally:
            for addr in scratch:
                self._heap.free(addr)

    def _address(self, p, copy_back, scratch):
        if p.obj is None:
            return 0
        offset = p.offset * FORMATS[p.fmt][1]
        if isinstance(p.obj, KBuffer):
            return p.obj.handle.addr + offset
        data = p.obj.cast("B")
        addr = self._heap.alloc(len(data))
        scratch.append(addr)
        self._write_at(addr, data)  # outputs too: some are read-modify-write (k-means, normalize_rows)
        if p.out:
            copy_back.append((addr, data))
        return addr + offset
