"""A first-fit allocator over a wasm linear memory, kept in Python.

The kernel keeps no state and has no malloc, so the host decides where buffers live.
Blocks are 64-byte aligned (one cache line, any SIMD width); freed blocks are coalesced
with their neighbours; when nothing fits, memory grows by whole 64 KiB pages.
"""
import bisect

from ..errors import OutOfMemoryError

PAGE = 65536
ALIGN = 64
MAX_BYTES = 1 << 32


def _round_up(n, to):
    return (n + to - 1) // to * to


class WasmHeap:
    def __init__(self, base, size, grow_pages):
        """base: first usable byte (__heap_base); size: current memory size in bytes;
        grow_pages(n): grows the memory by n pages and returns the new size in bytes."""
        start = _round_up(base, ALIGN)
        self._grow_pages = grow_pages
        self._top = size
        self._starts = [start] if size > start else []
        self._sizes = {start: size - start} if size > start else {}
        self._live = {}

    @property
    def live_bytes(self):
        return sum(self._live.values())

    def alloc(self, nbytes):
        need = _round_up(max(nbytes, 1), ALIGN)
        for i, start in enumerate(self._starts):
            size = self._sizes[start]
            if size >= need:
                del self._starts[i], self._sizes[start]
                if size > need:
                    self._insert(start + need, size - need)
                self._live[start] = need
                return start
        self._grow_for(need)
        return self.alloc(nbytes)

    def free(self, addr):
        size = self._live.pop(addr)
        self._insert(addr, size)

    def _insert(self, start, size):
        i = bisect.bisect_left(self._starts, start)
        if i < len(self._starts) and start + size == self._starts[i]:
            size += self._sizes.pop(self._starts.pop(i))
        if i > 0 and self._starts[i - 1] + self._sizes[self._starts[i - 1]] == start:
            self._sizes[self._starts[i - 1]] += size
            return
        self._starts.insert(i, start)
        self._sizes[start] = size

    def _grow_for(self, need):
        tail = self._starts[-1] if self._starts else None
        have = self._sizes[tail] if tail is not None and tail + self._sizes[tail] == self._top else 0
        pages = _round_up(need - have, PAGE) // PAGE
        if self._top + pages * PAGE > MAX_BYTES:
            raise OutOfMemoryError(f"wasm memory would exceed 4 GiB: {self._top} bytes used, {need} more requested")
        old_top = self._top
        self._top = self._grow_pages(pages)
        self._insert(old_top, self._top - old_top)
