"""Growable arrays in kernel memory: the store's vectors, codes and graph live in these, so
kernel calls on them copy nothing in any backend."""
from ..kernel.buffers import FORMATS
from ..kernel.buffers import U32_MAX


class GrowableArray:
    """`length` elements of `fmt` in a KBuffer whose capacity grows geometrically."""

    def __init__(self, kernel, fmt, capacity=0):
        self._k = kernel
        self.fmt = fmt
        self.length = 0
        self.buf = kernel.alloc(max(capacity, 1), fmt)

    @property
    def capacity(self):
        return self.buf.length

    @property
    def nbytes(self):
        """Bytes in use (not the reserved capacity)."""
        return self.length * FORMATS[self.fmt][1]

    def reserve(self, capacity):
        """Ensures room for `capacity` elements; a failed allocation leaves the array as it was.
        Growth copies everything so far, so where spare capacity costs no memory (large native
        buffers: address space only) it grows 16x, else 1.5x: 1M rows ingested in batches of
        100k copied 1.7M rows growing 1.5x, 0.1M growing 16x."""
        if capacity <= self.buf.length:
            return
        grown = self.buf.length * 16 if self._k.lazy_memory(self.buf.nbytes) else self.buf.length * 3 // 2
        grown = min(grown, U32_MAX // FORMATS[self.fmt][1])     # the kernel's sizes are 32-bit
        bigger = self._k.alloc(max(capacity, grown), self.fmt)
        bigger.copy_from(self.buf, self.length)
        self.buf = bigger

    def append(self, data, count):
        """Appends `count` elements copied from `data` (any buffer of this element type)."""
        self.reserve(self.length + count)
        self.buf.write(data, start=self.length)
        self.length += count

    def resize(self, length):
        """Sets the length (new elements of a fresh allocation are zero; the kernel fills them)."""
        self.reserve(length)
        self.length = length

    def truncate(self, length):
        self.length = length

    def read(self, start=0, stop=None):
        return self.buf.read(start, self.length if stop is None else stop)

    def replace(self, buf, length):
        """Takes over a new KBuffer (after compaction)."""
        self.buf, self.length = buf, length
